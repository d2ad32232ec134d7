"""The one error of :mod:`kinetics.io`: a file that cannot be read as a Kinetics trial or session file."""

from __future__ import annotations

from pathlib import Path

from kinetics._checks import KineticsInputError


class TrialFileError(KineticsInputError):
    """A trial or session file that is missing, empty, not HDF5, not ours, too new, truncated or corrupted.

    It is a :class:`~kinetics.KineticsInputError` (hence a ``ValueError``): the file is input the library cannot
    use. The message names the file, says what is wrong and what to do. ``path`` holds the file's path.
    """

    def __init__(self, path: str | Path, problem: str, remedy: str) -> None:
        self.path = str(path)
        self.problem = problem
        self.remedy = remedy
        super().__init__(f"{self.path}: {problem}; {remedy}")
