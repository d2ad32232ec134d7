"""``ClinicStore.update_patient``: corrections of the identity and involved side, validated and audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from clinic import db
from clinic.errors import ClinicError, NotFoundError
from clinic.models import PatientIdentity
from clinic.store import ClinicStore


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ClinicStore]:
    monkeypatch.setenv(db.ENV_KEY, "update-key")
    monkeypatch.setenv("KINETICS_ACTOR", "tester")
    s = ClinicStore.open(tmp_path / "data")
    yield s
    s.close()


def test_update_changes_only_the_given_fields_and_audits_their_names(store: ClinicStore) -> None:
    pid = store.add_patient("Ada Lovelace", "1815-12-10", "female", involved_side="left")
    info = store.update_patient(pid, name="  Ada King  ", involved_side="right")
    assert (info.name, info.birth_date, info.sex, info.involved_side) == ("Ada King", date(1815, 12, 10), "female",
                                                                          "right")
    again = store.get_patient(pid)
    assert (again.name, again.involved_side) == ("Ada King", "right")
    update = [e for e in store.audit_entries(pid) if e["action"] == "update"]
    assert len(update) == 1 and update[0]["actor"] == "tester"
    assert "Ada" not in update[0]["details"]  # field names only, never the values
    assert '"involved_side"' in update[0]["details"] and '"name"' in update[0]["details"]
    assert store.verify_audit().ok


def test_clear_birth_date_and_sex_with_empty_strings(store: ClinicStore) -> None:
    pid = store.add_patient("Bo Chen", "1990-01-02", "m")
    info = store.update_patient(pid, birth_date="", sex="")
    assert info.birth_date is None and info.sex == "" and info.name == "Bo Chen"
    info = store.update_patient(pid, birth_date=date(1991, 3, 4), sex="o")
    assert info.birth_date == date(1991, 3, 4) and info.sex == "other"


def test_no_change_writes_no_audit_entry(store: ClinicStore) -> None:
    pid = store.add_patient("Cy Dee", "1980-05-05")
    before = len(store.audit_entries(pid))
    info = store.update_patient(pid, name="Cy Dee", birth_date="1980-05-05", involved_side="none")
    assert info.name == "Cy Dee"
    assert [e["action"] for e in store.audit_entries(pid)[before:]] == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "   "}, "name is empty"),
        ({"name": "x" * 201}, "over 200 characters"),
        ({"birth_date": "12/05/1980"}, "YYYY-MM-DD"),
        ({"birth_date": (datetime.now(UTC) + timedelta(days=400)).date().isoformat()}, "in the future"),
        ({"sex": "unknown"}, "female, male, other"),
        ({"involved_side": "both"}, "none, left, right"),
    ],
)
def test_invalid_values_are_refused_and_nothing_changes(store: ClinicStore, kwargs: dict[str, str],
                                                        message: str) -> None:
    pid = store.add_patient("Di Eve", "1970-07-07", "f")
    with pytest.raises(ClinicError, match=message):
        store.update_patient(pid, **kwargs)
    info = store.get_patient(pid)
    assert (info.name, info.birth_date, info.sex, info.involved_side) == ("Di Eve", date(1970, 7, 7), "female", "none")


def test_unknown_patient(store: ClinicStore) -> None:
    with pytest.raises(NotFoundError, match="no patient P-000000"):
        store.update_patient("P-000000", name="Nobody")
    with pytest.raises(NotFoundError, match="not a patient id"):
        store.update_patient("someone", name="Nobody")


def test_a_patient_without_identity_gets_one_only_with_a_name(store: ClinicStore) -> None:
    pid = store.add_patient("To Be Removed")
    with store.transaction() as s:  # as after importing a pseudonymised bundle: no identity row
        ident = s.get(PatientIdentity, pid)
        assert ident is not None
        s.delete(ident)
    assert store.get_patient(pid).name is None
    with pytest.raises(ClinicError, match="no identity on record"):
        store.update_patient(pid, sex="f")
    info = store.update_patient(pid, name="Found Again", sex="f")
    assert (info.name, info.sex) == ("Found Again", "female")
