"""File-system helpers: durable (fsync'd) and atomic (temp file + rename) writes."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import h5py

from kinetics._checks import input_error
from kinetics.io import _schema as S


def check_new_path(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise input_error("path", f"{path} already exists", "choose a new file name or pass overwrite=True")
    if not path.parent.is_dir():
        raise input_error("path", f"folder {path.parent} does not exist", "create it first")


def fsync_file(f: h5py.File) -> None:
    """Flush HDF5's caches to the OS and the OS's to the disk (HDF5 itself never fsyncs)."""
    f.flush()
    os.fsync(f.id.get_vfd_handle())


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomically(path: Path, overwrite: bool, fill: Callable[[h5py.File], None]) -> None:
    """Create ``path`` with ``fill(file)`` so that it either appears complete or not at all."""
    check_new_path(path, overwrite)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with h5py.File(tmp, "w", libver=S.LIBVER) as f:
            fill(f)
            fsync_file(f)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
