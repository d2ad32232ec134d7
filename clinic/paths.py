"""Where the clinic keeps its data: one directory holding the encrypted database and the trial files.

Resolution order: an explicit ``--data-dir`` (or ``data_dir=`` argument), then ``$KINETICS_DATA_DIR``, then the
user data directory of the platform (platformdirs: ``~/.local/share/kinetics`` on Linux,
``%LOCALAPPDATA%\\kinetics`` on Windows, ``~/Library/Application Support/kinetics`` on macOS).

Layout::

    <data dir>/kinetics.db            the SQLCipher database (+ kinetics.db-wal, kinetics.db-shm while open)
    <data dir>/audit-head.json        the last audit entry's number and hash (tail-truncation anchor)
    <data dir>/trials/<patient>/<session>/NNN-<trial>.h5   one HDF5 file per trial
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

#: Environment variable that overrides the platform's user data directory.
ENV_DATA_DIR = "KINETICS_DATA_DIR"
DB_NAME = "kinetics.db"
AUDIT_HEAD_NAME = "audit-head.json"
TRIALS_DIR = "trials"


def resolve_data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``override``, else ``$KINETICS_DATA_DIR``, else the platform's user data directory."""
    if override is not None and str(override) != "":
        return Path(override).expanduser().absolute()
    env = os.environ.get(ENV_DATA_DIR, "")
    if env:
        return Path(env).expanduser().absolute()
    import platformdirs

    return Path(platformdirs.user_data_path("kinetics", appauthor=False)).absolute()


def db_path(data_dir: Path) -> Path:
    """The database file inside ``data_dir``."""
    return data_dir / DB_NAME


def audit_head_path(data_dir: Path) -> Path:
    return data_dir / AUDIT_HEAD_NAME


def patient_dir(data_dir: Path, patient_id: str) -> Path:
    """Folder of every trial file of one patient (erasing the patient removes it whole)."""
    return data_dir / TRIALS_DIR / patient_id


def session_dir_relative(patient_id: str, session_id: str) -> PurePosixPath:
    """Folder of one session's trial files, relative to the data directory (stored with '/' separators)."""
    return PurePosixPath(TRIALS_DIR, patient_id, session_id)


def absolute(data_dir: Path, relative: str) -> Path:
    """A stored relative path (``trials/P-…/…/001-t.h5``) as a path on this machine; refuses escapes."""
    rel = PurePosixPath(relative)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts or rel.parts[0] != TRIALS_DIR:
        raise ValueError(f"stored trial path {relative!r} is not inside the data directory's trials folder")
    return data_dir.joinpath(*rel.parts)


def relative_to_data_dir(data_dir: Path, path: Path) -> str | None:
    """``path`` relative to ``data_dir`` with '/' separators, or None when it lies outside its trials folder."""
    try:
        rel = path.resolve().relative_to((data_dir / TRIALS_DIR).resolve())
    except ValueError:
        return None
    return str(PurePosixPath(TRIALS_DIR, *rel.parts))
