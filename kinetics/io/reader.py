"""Read trial files back into :class:`~kinetics.trial.Trial`, validating everything on the way."""

from __future__ import annotations

import os
from pathlib import Path

from kinetics.io import _schema as S
from kinetics.io._load import open_kinetics_file, read_trial_group
from kinetics.trial import Trial


def read_trial(path: str | os.PathLike[str]) -> Trial:
    """Read the trial file at ``path``.

    A recording whose writer died (crash, power loss, kill) opens too: it holds every sample up to its last
    checkpoint and has ``complete == False``.

    Raises
    ------
    TrialFileError
        The file is missing, empty, not HDF5, from another program, a session bundle, of a newer format version,
        truncated, corrupted or lacks a dataset; the message says which and what to do.
    """
    p = Path(path)
    with open_kinetics_file(p, S.TRIAL_FORMAT) as f:
        return read_trial_group(p, f, "/", p.stat().st_size)
