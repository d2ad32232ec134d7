"""The result of running a protocol: every trial's scores and flags, per-side best and mean, side comparison.

A :class:`SessionResult` is what :class:`protocols.runner.ProtocolRunner` returns and what the app and the
clinic store keep. It holds one :class:`TrialResult` per recorded trial (with its trial file), and computes from
them, for each condition and side, the best and the mean of every metric over the trials that count (not
rejected, not discarded, not replaced by a redo), the headline as the protocol aggregates it, the left/right
comparison of the headline (``kinetics.strength`` definitions) and the ratios between conditions (Romberg
quotient). :meth:`SessionResult.to_session` and :meth:`SessionResult.save` turn it into a
:class:`kinetics.io.Session` bundle with a results table.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from kinetics import strength
from kinetics.io import ResultRow, Session, SessionMeta, read_trial, write_session
from protocols.loader import dump_protocol
from protocols.schema import Protocol

__all__ = ["TRIAL_STATUSES", "SessionResult", "SideSummary", "TrialResult"]

#: ``accepted``: counts; ``rejected``: broke a reject rule; ``discarded``: the clinician threw it away;
#: ``redone``: replaced by a later attempt; ``aborted``: could not be completed (a device never came back).
TRIAL_STATUSES = ("accepted", "rejected", "discarded", "redone", "aborted")


@dataclass(frozen=True)
class TrialResult:
    """One recorded trial: where it sits in the protocol, its file, its scores and flags, and its status.

    ``index`` is the slot in ``protocol.trial_plan()``; ``attempt`` counts redos of that slot (1 first).
    ``values``/``units``/``methods`` map metric keys to the score (NaN when not scored), SI unit and method.
    """

    index: int
    condition: str
    side: str
    repetition: int
    trial_id: str
    path: Path | None
    values: Mapping[str, float]
    units: Mapping[str, str]
    methods: Mapping[str, str] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    status: str = "accepted"
    attempt: int = 1
    start: float = math.nan
    end: float = math.nan

    @property
    def counts(self) -> bool:
        """Whether it enters best, mean and the comparisons."""
        return self.status == "accepted"

    def with_status(self, status: str) -> TrialResult:
        if status not in TRIAL_STATUSES:
            raise ValueError(f"unknown trial status {status!r}; expected one of {', '.join(TRIAL_STATUSES)}")
        return replace(self, status=status)

    def with_flags(self, *flags: str, note: str = "") -> TrialResult:
        new = tuple(dict.fromkeys(self.flags + tuple(flags)))
        return replace(self, flags=new, notes=self.notes + ((note,) if note else ()))


@dataclass(frozen=True)
class SideSummary:
    """Best and mean of each metric over the counted trials of one condition and side."""

    condition: str
    side: str
    n_trials: int
    best: Mapping[str, float]
    mean: Mapping[str, float]
    headline: float
    cv: Mapping[str, float]


def _finite(values: Iterable[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


@dataclass
class SessionResult:
    """Every trial of a protocol run and the summaries computed from them (see the module docstring)."""

    protocol: Protocol
    trials: list[TrialResult] = field(default_factory=list)
    patient_id: str = ""
    involved_side: str | None = None
    events: list[tuple[float, str]] = field(default_factory=list)
    completed: bool = False

    # -- trials -------------------------------------------------------------------------------------------
    def add(self, trial: TrialResult) -> None:
        self.trials.append(trial)

    def latest(self, index: int) -> TrialResult:
        """The latest attempt at trial slot ``index``."""
        for t in reversed(self.trials):
            if t.index == index:
                return t
        raise KeyError(f"no trial {index} recorded yet")

    def replace_latest(self, index: int, new: TrialResult) -> None:
        for i in range(len(self.trials) - 1, -1, -1):
            if self.trials[i].index == index:
                self.trials[i] = new
                return
        raise KeyError(f"no trial {index} recorded yet")

    def counted(self, condition: str | None = None, side: str | None = None) -> list[TrialResult]:
        return [
            t
            for t in self.trials
            if t.counts and (condition is None or t.condition == condition) and (side is None or t.side == side)
        ]

    @property
    def metric_keys(self) -> tuple[str, ...]:
        return self.protocol.scoring.metric_keys

    def units(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for t in self.trials:
            for k, u in t.units.items():
                if u and k not in out:
                    out[k] = u
        return out

    # -- summaries -------------------------------------------------------------------------------------------
    def _better(self, key: str) -> str:
        return self.protocol.scoring.better if key == self.protocol.scoring.headline else "higher"

    def summaries(self) -> list[SideSummary]:
        """One summary per (condition, side) that has trials, in the order they ran."""
        out = []
        pairs = list(dict.fromkeys((t.condition, t.side) for t in self.trials))
        sc = self.protocol.scoring
        for cond, side in pairs:
            trials = self.counted(cond, side)
            best: dict[str, float] = {}
            mean: dict[str, float] = {}
            cv: dict[str, float] = {}
            for key in self.metric_keys:
                vals = _finite(t.values.get(key, math.nan) for t in trials)
                if not vals:
                    best[key] = mean[key] = cv[key] = math.nan
                    continue
                best[key] = min(vals) if self._better(key) == "lower" else max(vals)
                mean[key] = statistics.fmean(vals)
                sd = statistics.stdev(vals) if len(vals) > 1 else math.nan
                cv[key] = 100.0 * sd / abs(mean[key]) if mean[key] != 0 and math.isfinite(sd) else math.nan
            hvals = _finite(t.values.get(sc.headline, math.nan) for t in trials)
            if not hvals:
                headline = math.nan
            elif sc.aggregate == "best":
                headline = best[sc.headline]
            elif sc.aggregate == "mean":
                headline = mean[sc.headline]
            else:
                headline = statistics.median(hvals)
            out.append(SideSummary(cond, side, len(trials), best, mean, headline, cv))
        return out

    def summary(self, side: str, condition: str | None = None) -> SideSummary:
        for s in self.summaries():
            if s.side == side and (condition is None or s.condition == condition):
                return s
        raise KeyError(f"no trials on side {side!r}" + (f" under condition {condition!r}" if condition else ""))

    def comparison_method(self) -> str:
        method = self.protocol.scoring.side_comparison
        if method == "auto":
            return "lsi" if self.protocol.sides in ("both", "alternating") else "none"
        return method

    def symmetry(self) -> dict[str, dict[str, Any]]:
        """Left/right comparison of the headline per condition: ``{condition: {method, value, unit, left, right,
        involved}}`` (value in %; empty when the protocol compares no sides or a side has no counted trial).

        ``lsi`` = involved / uninvolved × 100 with the involved side given to the runner, or else the weaker
        side (by the protocol's ``better``); ``symmetry_index`` = (R − L)/(½(R + L)) × 100;
        ``bishop_asymmetry`` = (strong − weak)/strong × 100 (see docs/metrics/strength.md).
        """
        method = self.comparison_method()
        if method == "none":
            return {}
        out: dict[str, dict[str, Any]] = {}
        sums = self.summaries()
        for cond in dict.fromkeys(s.condition for s in sums):
            by_side = {s.side: s.headline for s in sums if s.condition == cond}
            left, right = by_side.get("left", math.nan), by_side.get("right", math.nan)
            if not (math.isfinite(left) and math.isfinite(right)):
                continue
            involved = self.involved_side
            if method == "lsi":
                if involved not in ("left", "right"):
                    lower_is_better = self.protocol.scoring.better == "lower"
                    involved = "left" if (left > right) == lower_is_better else "right"
                inv, uninv = (left, right) if involved == "left" else (right, left)
                value = float(strength.limb_symmetry_index(inv, uninv))
            elif method == "symmetry_index":
                value = float(strength.symmetry_index(right, left))
            else:
                value = float(strength.bishop_asymmetry(right, left))
            out[cond] = {"method": method, "value": value, "unit": "%", "left": left, "right": right}
            if method == "lsi":
                out[cond]["involved"] = involved
        return out

    def ratios(self) -> dict[str, float]:
        """The protocol's ratios between conditions, on the headline aggregate of each (all sides pooled)."""
        out: dict[str, float] = {}
        sums = self.summaries()
        for ratio in self.protocol.scoring.ratios:

            def value(cond: str, key: str = ratio.metric) -> float:
                vals = [
                    s.best[key] if self.protocol.scoring.aggregate == "best" else s.mean[key]
                    for s in sums
                    if s.condition == cond
                ]
                vals = _finite(vals)
                return statistics.fmean(vals) if vals else math.nan

            num, den = value(ratio.numerator), value(ratio.denominator)
            out[ratio.key] = num / den if math.isfinite(num) and math.isfinite(den) and den != 0 else math.nan
        return out

    def effort_cv_flags(self) -> None:
        """Apply the ``effort_cv`` rules: flag (or reject) every counted trial of a condition and side whose
        metric's CV across repetitions exceeds ``max_cv`` % (flag ``inconsistent_effort``)."""
        for rule in self.protocol.acceptance:
            if rule.rule != "effort_cv":
                continue
            key = rule.metric or self.protocol.scoring.headline
            for s in self.summaries():
                cv = s.cv.get(key, math.nan)
                assert rule.max_cv is not None
                if not (math.isfinite(cv) and cv > rule.max_cv):
                    continue
                for t in self.counted(s.condition, s.side):
                    note = f"CV of {key} across repetitions {cv:.1f} % > {rule.max_cv:g} %"
                    new = t.with_flags("inconsistent_effort", note=note)
                    if rule.action == "reject":
                        new = new.with_status("rejected")
                    self.trials[self.trials.index(t)] = new

    def maxima(self, metric: str = "peak_force") -> dict[str, float]:
        """Best ``metric`` per side (what a ``percent_max`` target of a later exercise refers to)."""
        out: dict[str, float] = {}
        for s in self.summaries():
            v = s.best.get(metric, math.nan)
            if math.isfinite(v):
                out[s.side] = max(v, out.get(s.side, -math.inf))
        return out

    # -- saving -------------------------------------------------------------------------------------------
    def result_rows(self) -> list[ResultRow]:
        """Rows of the results table: every metric of every counted trial (``trial_id`` set), then per condition
        and side the ``best_<key>`` and ``mean_<key>`` and the ``headline`` (session-level, ``trial_id = ""``),
        the side comparison ``<method>`` and the ratios. Keys of session rows carry the condition as a prefix
        ``<condition>.`` when the protocol has conditions.

        Redone, discarded, rejected and aborted attempts keep their trial files (they can be re-scored from
        them) but give no rows: progress and MDC statistics read the rows and must see only what counted."""
        pid = self.protocol.id
        units = self.units()
        rows: list[ResultRow] = []
        for t in self.trials:
            if not t.counts:
                continue
            for key in self.metric_keys:
                rows.append(
                    ResultRow(
                        t.trial_id,
                        key,
                        t.values.get(key, math.nan),
                        t.units.get(key, "") or units.get(key, ""),
                        t.side,
                        pid,
                        t.methods.get(key, ""),
                    )
                )
        prefix = bool(self.protocol.conditions)
        for s in self.summaries():
            pre = f"{s.condition}." if prefix else ""
            side = s.side
            for key in self.metric_keys:
                rows.append(ResultRow("", f"{pre}best_{key}", s.best[key], units.get(key, ""), side, pid, "best"))
                rows.append(ResultRow("", f"{pre}mean_{key}", s.mean[key], units.get(key, ""), side, pid, "mean"))
            head = self.protocol.scoring.headline
            rows.append(
                ResultRow(
                    "",
                    f"{pre}headline_{head}",
                    s.headline,
                    units.get(head, ""),
                    side,
                    pid,
                    self.protocol.scoring.aggregate,
                )
            )
        for cond, sym in self.symmetry().items():
            pre = f"{cond}." if prefix else ""
            rows.append(ResultRow("", f"{pre}{sym['method']}", sym["value"], "%", "both", pid, sym["method"]))
        for key, value in self.ratios().items():
            rows.append(ResultRow("", key, value, "1", "none", pid, "ratio"))
        return rows

    def to_session(self, meta: SessionMeta | None = None, *, include_all: bool = True) -> Session:
        """A :class:`kinetics.io.Session` with the trial files read back (every trial with a file when
        ``include_all``, else only the counted ones), the results table and the protocol as a document."""
        meta = meta or SessionMeta(
            patient_id=self.patient_id,
            extra={"protocol": self.protocol.id, "completed": self.completed},
        )
        keep = [t for t in self.trials if t.path is not None and (include_all or t.counts)]
        trials = [read_trial(t.path) for t in keep if t.path is not None]
        ids = {t.meta.trial_id for t in trials}
        rows = [r for r in self.result_rows() if not r.trial_id or r.trial_id in ids]
        return Session(meta, trials, rows, {"protocol.toml": dump_protocol(self.protocol)})

    def save(self, path: str | os.PathLike[str], meta: SessionMeta | None = None, *, overwrite: bool = False) -> Path:
        """Write the session bundle (trials, results table, protocol) to ``path``; returns it."""
        write_session(path, self.to_session(meta), overwrite=overwrite)
        return Path(path)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready; NaN becomes None)."""

        def clean(v: Any) -> Any:
            if isinstance(v, float):
                return v if math.isfinite(v) else None
            if isinstance(v, Mapping):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            if isinstance(v, Path):
                return str(v)
            if isinstance(v, np.generic):
                return clean(v.item())
            return v

        return clean(
            {
                "protocol": self.protocol.id,
                "patient_id": self.patient_id,
                "completed": self.completed,
                "headline": self.protocol.scoring.headline,
                "trials": [
                    {
                        "index": t.index,
                        "condition": t.condition,
                        "side": t.side,
                        "repetition": t.repetition,
                        "attempt": t.attempt,
                        "status": t.status,
                        "trial_id": t.trial_id,
                        "path": t.path,
                        "flags": list(t.flags),
                        "notes": list(t.notes),
                        "values": dict(t.values),
                    }
                    for t in self.trials
                ],
                "summaries": [
                    {
                        "condition": s.condition,
                        "side": s.side,
                        "n_trials": s.n_trials,
                        "headline": s.headline,
                        "best": dict(s.best),
                        "mean": dict(s.mean),
                    }
                    for s in self.summaries()
                ],
                "symmetry": self.symmetry(),
                "ratios": self.ratios(),
                "units": self.units(),
            }
        )
