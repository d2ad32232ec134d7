"""The clinic's own protocols: TOML files in ``<data dir>/protocols/``, one per protocol, named ``<id>.toml``.

A :class:`CustomProtocolStore` loads them all (a file that cannot be used is listed with its error, never
raised), saves one (the same TOML as the built-in library, via :func:`protocols.loader.dump_protocol`, written
atomically: a temporary file in the same folder, fsync, rename) and deletes one. Custom ids never clash with the
built-in ids, so a protocol id always names one protocol.

Pure Python (no Qt): the app's protocol screen and the command line use the same store.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kinetics.io import fsync_dir
from protocols.library import builtin_protocols
from protocols.loader import dump_protocol, load_protocol, parse_protocol
from protocols.schema import Protocol, ProtocolError

__all__ = ["CUSTOM_DIR", "CustomProtocolError", "CustomProtocolStore", "InvalidProtocolFile", "LoadedProtocols"]

#: Folder of the custom protocols inside the data directory.
CUSTOM_DIR = "protocols"
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_COPY_SUFFIX = re.compile(r"-copy(?:-\d+)?$")


class CustomProtocolError(ValueError):
    """A custom protocol that cannot be saved or deleted (id clash, unknown id, disk error), saying what to do."""


@dataclass(frozen=True)
class InvalidProtocolFile:
    """A file in the custom folder that could not be used, with the reason (``error`` names the field path)."""

    path: Path
    error: str


@dataclass(frozen=True)
class LoadedProtocols:
    """Result of :meth:`CustomProtocolStore.load_all`: the usable protocols (sorted by id) and the rejected files."""

    protocols: tuple[Protocol, ...]
    invalid: tuple[InvalidProtocolFile, ...]


class CustomProtocolStore:
    """Custom protocols kept as ``<folder>/<id>.toml``.

    Parameters
    ----------
    folder : path
        The folder holding the files (created on the first save). :meth:`for_data_dir` gives the usual
        ``<data dir>/protocols``.
    builtin_ids : iterable of str, optional
        Ids reserved by the built-in library (default: every id of :func:`protocols.library.builtin_protocols`).
    """

    def __init__(self, folder: str | os.PathLike[str], *, builtin_ids: Iterable[str] | None = None) -> None:
        self.folder = Path(folder)
        if builtin_ids is None:
            builtin_ids = (p.id for p in builtin_protocols())
        self.builtin_ids = frozenset(builtin_ids)

    @classmethod
    def for_data_dir(cls, data_dir: str | os.PathLike[str], *, builtin_ids: Iterable[str] | None = None
                     ) -> CustomProtocolStore:
        """The store of a clinic data directory: ``<data_dir>/protocols``."""
        return cls(Path(data_dir) / CUSTOM_DIR, builtin_ids=builtin_ids)

    # -- reading ------------------------------------------------------------------------------------------------
    def path_for(self, protocol_id: str) -> Path:
        """File of the custom protocol ``protocol_id`` (whether or not it exists)."""
        if not _ID.match(protocol_id):
            raise CustomProtocolError(
                f"{protocol_id!r} is not a protocol id; expected lower-case words joined by hyphens"
            )
        return self.folder / f"{protocol_id}.toml"

    def load_all(self) -> LoadedProtocols:
        """Every ``*.toml`` file of the folder, validated; a missing folder is an empty store.

        A file is rejected (listed in ``invalid``, never raised) when it cannot be read, is not valid TOML, fails
        the protocol validation, holds an id that differs from its file name, or reuses a built-in id.
        """
        try:
            paths = sorted(p for p in self.folder.iterdir() if p.suffix == ".toml" and not p.name.startswith("."))
        except FileNotFoundError:
            return LoadedProtocols((), ())
        except OSError as err:
            problem = f"the folder cannot be read ({err.strerror}); check its permissions"
            return LoadedProtocols((), (InvalidProtocolFile(self.folder, problem),))
        good: list[Protocol] = []
        bad: list[InvalidProtocolFile] = []
        for path in paths:
            if path.is_dir():
                continue
            try:
                protocol = load_protocol(path)
            except ProtocolError as err:
                bad.append(InvalidProtocolFile(path, str(err)))
                continue
            if protocol.id != path.stem:
                bad.append(InvalidProtocolFile(
                    path, f"{path}: id: {protocol.id!r} does not match the file name; rename the file or the id"))
            elif protocol.id in self.builtin_ids:
                bad.append(InvalidProtocolFile(
                    path, f"{path}: id: {protocol.id!r} is the id of a built-in protocol; choose another id"))
            else:
                good.append(protocol)
        return LoadedProtocols(tuple(good), tuple(bad))

    def protocols(self) -> list[Protocol]:
        """The usable custom protocols, sorted by id."""
        return list(self.load_all().protocols)

    def get(self, protocol_id: str) -> Protocol:
        """The custom protocol ``protocol_id``; :class:`CustomProtocolError` if there is none."""
        path = self.path_for(protocol_id)
        if not path.is_file():
            raise CustomProtocolError(f"no custom protocol {protocol_id!r} in {self.folder}")
        try:
            return load_protocol(path)
        except ProtocolError as err:
            raise CustomProtocolError(str(err)) from None

    def exists(self, protocol_id: str) -> bool:
        """Whether a file for ``protocol_id`` exists in the folder (valid or not)."""
        return _ID.match(protocol_id) is not None and self.path_for(protocol_id).is_file()

    def id_problem(self, protocol_id: str, *, replacing: str | None = None) -> str | None:
        """Why ``protocol_id`` cannot be saved (None when it can).

        ``replacing`` is the id of the custom protocol being edited: saving under its own id overwrites it.
        """
        if not _ID.match(protocol_id):
            return None  # the protocol validation names the id's shape
        if protocol_id in self.builtin_ids:
            return f"{protocol_id!r} is the id of a built-in protocol; choose another id"
        if protocol_id != replacing and self.exists(protocol_id):
            return f"a custom protocol {protocol_id!r} exists already; choose another id"
        return None

    def free_id(self, base: str) -> str:
        """An id not used by a built-in or custom protocol: ``<base>-copy``, then ``<base>-copy-2``..."""
        stem = _COPY_SUFFIX.sub("", base) if _ID.match(base) else "protocol"
        candidate, n = f"{stem}-copy", 1
        while candidate in self.builtin_ids or self.exists(candidate):
            n += 1
            candidate = f"{stem}-copy-{n}"
        return candidate

    def duplicate(self, protocol: Protocol) -> Protocol:
        """A copy of ``protocol`` under a free id, named ``"<name> (copy)"`` (not saved)."""
        return dataclasses.replace(protocol, id=self.free_id(protocol.id), name=f"{protocol.name} (copy)")

    # -- writing ------------------------------------------------------------------------------------------------
    def save(self, protocol: Protocol, *, replacing: str | None = None) -> Path:
        """Write ``protocol`` to ``<folder>/<id>.toml`` atomically and return the path.

        ``replacing`` is the id of the custom protocol being edited; when the id changed, the old file is removed
        after the new one is in place. Refuses (:class:`CustomProtocolError`) a built-in id, an id taken by
        another custom protocol, and text that would not read back as the same protocol.
        """
        problem = self.id_problem(protocol.id, replacing=replacing)
        if problem is not None:
            raise CustomProtocolError(problem)
        text = dump_protocol(protocol)
        path = self.path_for(protocol.id)
        if parse_protocol(text, source=str(path)) != protocol:
            raise CustomProtocolError(f"{protocol.id!r} does not read back unchanged from TOML; it was not saved")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _atomic_write(path, text)
        except OSError as err:
            raise CustomProtocolError(
                f"cannot write {path} ({err.strerror}); check the data directory and free space"
            ) from None
        if replacing is not None and replacing != protocol.id and self.exists(replacing):
            self.delete(replacing)
        return path

    def delete(self, protocol_id: str) -> None:
        """Remove the custom protocol ``protocol_id`` (built-in protocols cannot be deleted)."""
        if protocol_id in self.builtin_ids:
            raise CustomProtocolError(f"{protocol_id!r} is a built-in protocol; only custom protocols can be deleted")
        path = self.path_for(protocol_id)
        try:
            path.unlink()
        except FileNotFoundError:
            raise CustomProtocolError(f"no custom protocol {protocol_id!r} in {self.folder}") from None
        except OSError as err:
            raise CustomProtocolError(f"cannot delete {path} ({err.strerror}); check its permissions") from None
        fsync_dir(self.folder)


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a crash leaves the old file or the new one, never half of either."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


