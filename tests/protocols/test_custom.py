"""The custom protocol store: save/load round trip, atomic writes, rejected files listed (never raised), id rules."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from protocols.custom import CUSTOM_DIR, CustomProtocolError, CustomProtocolStore
from protocols.library import get_protocol
from protocols.loader import dump_protocol, load_protocol
from protocols.schema import Protocol


@pytest.fixture
def store(tmp_path: Path) -> CustomProtocolStore:
    return CustomProtocolStore.for_data_dir(tmp_path / "data")


@pytest.fixture
def grip_copy(store: CustomProtocolStore) -> Protocol:
    return store.duplicate(get_protocol("grip-asht"))


def test_missing_folder_is_an_empty_store(store: CustomProtocolStore) -> None:
    loaded = store.load_all()
    assert loaded.protocols == () and loaded.invalid == ()
    assert not store.folder.exists()  # loading never creates it
    assert store.folder == store.folder.parent / CUSTOM_DIR


def test_duplicate_gets_a_free_id_and_a_copy_name(store: CustomProtocolStore, grip_copy: Protocol) -> None:
    assert grip_copy.id == "grip-asht-copy" and grip_copy.name == "Grip strength (ASHT) (copy)"
    assert dataclasses.replace(grip_copy, id="grip-asht", name="Grip strength (ASHT)") == get_protocol("grip-asht")
    store.save(grip_copy)
    assert store.free_id("grip-asht") == "grip-asht-copy-2"
    assert store.free_id("grip-asht-copy") == "grip-asht-copy-2"  # a copy of a copy does not pile up suffixes
    assert store.duplicate(grip_copy).id == "grip-asht-copy-2"


def test_save_round_trips_and_writes_the_library_format(store: CustomProtocolStore, grip_copy: Protocol) -> None:
    path = store.save(grip_copy)
    assert path == store.folder / "grip-asht-copy.toml"
    assert path.read_text(encoding="utf-8") == dump_protocol(grip_copy)
    assert load_protocol(path) == grip_copy
    assert store.get("grip-asht-copy") == grip_copy
    assert store.protocols() == [grip_copy]
    assert [p.name for p in store.folder.iterdir()] == ["grip-asht-copy.toml"]  # no temporary file left


def test_save_overwrites_atomically(store: CustomProtocolStore, grip_copy: Protocol,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    store.save(grip_copy)
    renamed = dataclasses.replace(grip_copy, name="Grip, renamed")
    with pytest.raises(CustomProtocolError, match="exists already"):
        store.save(renamed)  # a new protocol may not take an existing custom id
    store.save(renamed, replacing=grip_copy.id)
    assert store.get(grip_copy.id).name == "Grip, renamed"

    def crash(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(CustomProtocolError, match="No space left on device"):
        store.save(dataclasses.replace(grip_copy, name="Never written"), replacing=grip_copy.id)
    monkeypatch.undo()
    assert store.get(grip_copy.id).name == "Grip, renamed"  # the old file is intact
    assert [p.name for p in store.folder.iterdir()] == ["grip-asht-copy.toml"]  # temporary file removed


def test_changing_the_id_moves_the_file(store: CustomProtocolStore, grip_copy: Protocol) -> None:
    store.save(grip_copy)
    moved = dataclasses.replace(grip_copy, id="my-grip")
    store.save(moved, replacing=grip_copy.id)
    assert sorted(p.name for p in store.folder.iterdir()) == ["my-grip.toml"]
    assert [p.id for p in store.protocols()] == ["my-grip"]


def test_ids_never_clash_with_built_ins(store: CustomProtocolStore) -> None:
    builtin = get_protocol("jump-cmj")
    assert store.id_problem("jump-cmj") == "'jump-cmj' is the id of a built-in protocol; choose another id"
    with pytest.raises(CustomProtocolError, match="built-in"):
        store.save(builtin)
    with pytest.raises(CustomProtocolError, match="built-in"):
        store.save(builtin, replacing="jump-cmj")
    with pytest.raises(CustomProtocolError, match="only custom protocols can be deleted"):
        store.delete("jump-cmj")
    assert store.id_problem("my-cmj") is None
    assert not store.folder.exists()


def test_delete(store: CustomProtocolStore, grip_copy: Protocol) -> None:
    store.save(grip_copy)
    store.delete(grip_copy.id)
    assert store.protocols() == [] and not store.exists(grip_copy.id)
    with pytest.raises(CustomProtocolError, match="no custom protocol 'grip-asht-copy'"):
        store.delete(grip_copy.id)
    with pytest.raises(CustomProtocolError, match="not a protocol id"):
        store.delete("../kinetics")  # never a path outside the folder


def test_bad_files_are_listed_with_their_error(store: CustomProtocolStore, grip_copy: Protocol) -> None:
    store.save(grip_copy)
    folder = store.folder
    good_text = dump_protocol(grip_copy)
    (folder / "broken-toml.toml").write_text('id = "broken-toml"\nname = [\n', encoding="utf-8")
    (folder / "bad-duration.toml").write_text(
        good_text.replace('id = "grip-asht-copy"', 'id = "bad-duration"').replace("duration = 5.0", "duration = -5.0"),
        encoding="utf-8")
    (folder / "other-name.toml").write_text(good_text, encoding="utf-8")  # its id is grip-asht-copy
    (folder / "grip-asht.toml").write_text(good_text.replace('id = "grip-asht-copy"', 'id = "grip-asht"'),
                                           encoding="utf-8")
    (folder / "binary.toml").write_bytes(b"\xff\xfe\x00garbage")
    (folder / "notes.txt").write_text("not a protocol", encoding="utf-8")
    loaded = store.load_all()
    assert [p.id for p in loaded.protocols] == ["grip-asht-copy"]
    errors = {f.path.name: f.error for f in loaded.invalid}
    assert sorted(errors) == ["bad-duration.toml", "binary.toml", "broken-toml.toml", "grip-asht.toml",
                              "other-name.toml"]
    assert "phases[2].duration: must be > 0 s, got -5.0" in errors["bad-duration.toml"]
    assert "not valid TOML" in errors["broken-toml.toml"]
    assert "not a UTF-8 text file" in errors["binary.toml"]
    assert "does not match the file name" in errors["other-name.toml"]
    assert "id of a built-in protocol" in errors["grip-asht.toml"]
    for entry in loaded.invalid:
        assert str(entry.path) in entry.error  # every message names its file


def test_injected_builtin_ids(tmp_path: Path) -> None:
    store = CustomProtocolStore(tmp_path, builtin_ids=["reserved"])
    assert store.id_problem("reserved") is not None and store.id_problem("jump-cmj") is None
    assert store.free_id("reserved") == "reserved-copy"
    assert store.free_id("Not An Id") == "protocol-copy"
