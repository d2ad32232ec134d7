"""A plain-JSON summary of a trial or session file (what ``kinetics inspect`` shows)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from kinetics.io import _schema as S
from kinetics.io._load import as_text, open_kinetics_file
from kinetics.io.reader import read_trial
from kinetics.io.session import read_session
from kinetics.trial import Trial


def _json_number(x: float | int | str | bool) -> float | int | str | bool | None:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def summarize_trial(trial: Trial) -> dict[str, Any]:
    """Summary of an in-memory trial: metadata, duration (s), devices (channels, rate, samples, gaps), events."""
    m = trial.meta
    return {
        "trial_id": m.trial_id,
        "protocol": m.protocol,
        "side": m.side,
        "start_utc": m.start_utc.isoformat(),
        "patient_id": m.patient_id,
        "extra": {k: _json_number(v) for k, v in m.extra.items()},
        "complete": trial.complete,
        "duration": trial.duration,
        "devices": [
            {
                "name": rec.info.name,
                "kind": rec.info.kind,
                "model": rec.info.model,
                "address": rec.info.address,
                "firmware": rec.info.firmware,
                "rate": rec.info.rate,
                "samples": rec.n_samples,
                "duration": rec.duration,
                "channels": [{"name": c.name, "unit": c.unit} for c in rec.info.channels],
                "gaps": [
                    {
                        "start": g.start,
                        "end": g.end,
                        "first_missing": g.first_missing,
                        "last_missing": g.last_missing,
                        "missing_samples": g.missing_samples,
                    }
                    for g in rec.gaps
                ],
            }
            for rec in trial.devices.values()
        ],
        "events": [{"time": e.time, "kind": e.kind, "label": e.label, "device": e.device} for e in trial.events],
    }


def summarize_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """JSON-ready summary of the trial or session file at ``path``.

    A trial file gives ``format``, ``format_version``, ``path`` and the keys of :func:`summarize_trial`
    (``duration`` in s, ``devices`` with ``name``, ``kind``, ``rate`` in Hz, ``samples``, ``channels``
    [{name, unit}], ``gaps`` [{start, end (s), missing_samples, ...}], and ``events``). A session file gives
    ``session`` (its metadata), ``trials`` (one such summary each), ``duration`` (sum over trials, s),
    ``results`` (row count) and ``documents`` (names). Raises :class:`TrialFileError` for a bad file.
    """
    p = Path(path)
    with open_kinetics_file(p, None) as f:
        fmt = as_text(f.attrs["format"])
        version = int(f.attrs["format_version"])
    if fmt == S.TRIAL_FORMAT:
        trial = read_trial(p)
        return {"path": str(p), "format": S.TRIAL_FORMAT, "format_version": version, **summarize_trial(trial)}
    session = read_session(p)
    m = session.meta
    trials = [summarize_trial(t) for t in session.trials]
    return {
        "path": str(p),
        "format": S.SESSION_FORMAT,
        "format_version": version,
        "session": {
            "session_id": m.session_id,
            "patient_id": m.patient_id,
            "start_utc": m.start_utc.isoformat(),
            "notes": m.notes,
            "extra": {k: _json_number(v) for k, v in m.extra.items()},
        },
        "duration": sum(t["duration"] for t in trials),
        "trials": trials,
        "results": len(session.results),
        "documents": list(session.documents),
    }
