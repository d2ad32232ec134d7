"""The Protocols screen, offscreen: the library narrows by category and search, details read right, and custom
protocols go through the editor (same validation as the file format, errors by field, Save blocked) to TOML files
in the data directory, and are deleted with an inline second tap."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QPoint, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QCheckBox, QComboBox, QLineEdit, QPushButton, QWidget
from pytestqt.qtbot import QtBot

from gui.screens.protocol_editor import (
    ProtocolEditor,
    format_duration,
    human_path,
    metric_label,
    parse_number,
    table_to_toml,
)
from gui.screens.protocols import FILTERS, ProtocolsScreen
from gui.theme import apply_theme, current_metrics, current_palette
from protocols.custom import CustomProtocolStore
from protocols.library import builtin_protocols, get_protocol
from protocols.loader import dump_protocol, load_protocol
from protocols.schema import protocol_from_dict

NBSP = "\u00a0"


@pytest.fixture
def store(tmp_path: Path) -> CustomProtocolStore:
    return CustomProtocolStore.for_data_dir(tmp_path / "data")


@pytest.fixture
def screen(qtbot: QtBot, qapp: QApplication, store: CustomProtocolStore) -> Iterator[ProtocolsScreen]:
    apply_theme(qapp, "light")
    widget = ProtocolsScreen(store)
    qtbot.addWidget(widget)
    widget.resize(1080, 760)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    delete_now(widget)


def delete_now(widget: QWidget) -> None:
    """Close and delete ``widget`` now: left to pytest-qt's deleteLater, screens pile up (with their combo
    popups) and every later ``apply_theme`` restyles them all."""
    widget.close()
    widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def click(qtbot: QtBot, button: QPushButton) -> None:
    assert button.isVisible(), f"{button.objectName() or button.text()} is not visible"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def field(editor: ProtocolEditor, name: str) -> QLineEdit:
    edit = editor.form.findChild(QLineEdit, name)
    assert edit is not None, f"no field {name!r} on the form"
    return edit


def type_into(qtbot: QtBot, edit: QLineEdit, text: str) -> None:
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    qtbot.keyClicks(edit, text)


def haystack(protocol_id: str) -> str:
    p = get_protocol(protocol_id)
    return " ".join((p.id, p.name, p.summary, p.region, *p.tags)).lower().replace("_", " ")


# -- library ----------------------------------------------------------------------------------------------------


def test_screen_builds_with_every_protocol_and_touch_sizes(screen: ProtocolsScreen) -> None:
    builtin = builtin_protocols()
    assert screen.list_widget.count() == len(builtin) >= 50
    assert sorted(screen.visible_ids()) == sorted(p.id for p in builtin)
    assert screen.count_label.text() == f"{len(builtin)} of {len(builtin)} protocols"
    assert [screen.chips[f].text() for f in FILTERS] == ["All", "Strength", "Range of motion", "Balance", "Jumps",
                                                        "Training", "My protocols"]
    touch = current_metrics().touch
    for widget in [*screen.chips.values(), screen.search_edit, screen.new_button, screen.use_button,
                   screen.duplicate_button]:
        assert widget.height() >= touch and widget.width() >= touch, widget.objectName()
    first = screen.list_widget.visualItemRect(screen.list_widget.item(0))
    assert first.height() >= touch
    # the first row is selected and described
    assert screen.selected() is not None and screen.detail_title.text() == screen.selected().name  # type: ignore[union-attr]
    item = screen.list_widget.item(0)
    p = screen.protocol(str(item.data(Qt.ItemDataRole.UserRole)))
    subtitle = str(item.data(Qt.ItemDataRole.UserRole + 1))
    assert subtitle.startswith(p.region.replace("_", " ").capitalize() + " · ")
    assert subtitle.endswith(format_duration(p.estimated_duration()))


def test_category_chips_and_search_narrow_the_list(qtbot: QtBot, screen: ProtocolsScreen) -> None:
    builtin = builtin_protocols()
    for category in ("strength", "rom", "balance", "jump", "training"):
        click(qtbot, screen.chips[category])
        expected = {p.id for p in builtin if p.category == category}
        assert screen.category == category and screen.chips[category].isChecked()
        assert screen.list_widget.count() == len(expected) > 0
        assert set(screen.visible_ids()) == expected
    click(qtbot, screen.chips["balance"])
    qtbot.keyClicks(screen.search_edit, "romberg")
    rombergs = [p.id for p in sorted(builtin, key=lambda p: p.name.lower())
                if p.category == "balance" and "romberg" in haystack(p.id)]
    assert {"balance-romberg", "balance-romberg-foam"} <= set(rombergs) and len(rombergs) < 8
    assert screen.visible_ids() == rombergs  # sorted by name
    assert screen.count_label.text() == f"{len(rombergs)} of {len(builtin)} protocols"
    click(qtbot, screen.chips["all"])
    screen.set_search("grip hold")  # every word must match
    visible = set(screen.visible_ids())
    assert visible and all("grip" in haystack(i) and "hold" in haystack(i) for i in visible)
    assert all(not ("grip" in haystack(p.id) and "hold" in haystack(p.id)) for p in builtin if p.id not in visible)
    screen.set_search("zzz-no-such")
    assert screen.list_widget.count() == 0 and screen.list_widget.isHidden()
    assert screen.empty_label.isVisible() and screen.empty_label.text() == "No protocol matches “zzz-no-such” in All."
    assert screen.selected() is None and screen.detail_empty.isVisible() and not screen.use_button.isVisible()
    screen.set_search("")
    click(qtbot, screen.chips["custom"])
    assert screen.list_widget.count() == 0
    assert screen.empty_label.text().startswith("No protocol of your own yet.")
    with pytest.raises(ValueError, match="unknown filter"):
        screen.set_category("cardio")


def test_selecting_a_row_shows_its_details(qtbot: QtBot, screen: ProtocolsScreen) -> None:
    click(qtbot, screen.chips["strength"])
    row = screen.visible_ids().index("grip-asht")
    rect = screen.list_widget.visualItemRect(screen.list_widget.item(row))
    screen.list_widget.scrollToItem(screen.list_widget.item(row))
    rect = screen.list_widget.visualItemRect(screen.list_widget.item(row))
    qtbot.mouseClick(screen.list_widget.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert screen.selected() == get_protocol("grip-asht")
    assert screen.detail_title.text() == "Grip strength (ASHT)"
    assert screen.detail_meta.text() == "Strength · Hand · built-in · id grip-asht"
    s = screen.sections
    assert s["sensors"].text() == ("Grip dynamometer — In the hand tested, handle at the second position, dial "
                                   "facing the examiner.")
    assert s["instructions"].text().startswith("ASHT standard position: seated")
    schedule = s["schedule"].text().split("\n")
    assert schedule[0] == ("3 trials per side, alternating, right first — 6 trials in all; about "
                           f"2{NBSP}min{NBSP}23{NBSP}s")
    assert schedule[1] == "1. Prepare 10 s, before each side's first trial — Seat the patient in the ASHT position."
    assert schedule[3] == ("3. Effort 5 s, starts when the effort is detected (waits up to 10 s), recorded — "
                           "“Squeeze as hard as you can!”")
    assert schedule[4] == "4. Rest 15 s, between trials"
    assert schedule[5] == "5. Switch side 15 s, between sides — “Other hand”"
    assert s["targets"].text() == "No live target: a maximal or free test."
    assert screen.detail_headline.text() == ("Headline: Peak force (peak_force), the mean of the trials; higher is "
                                             "better; left and right compared (auto)")
    assert s["metrics"].text() == "Computed: Peak force, Time to peak, RFD 0–100 ms, Mean force, Impulse"
    assert s["acceptance"].text() == ("Flag a side whose peak force varies by more than 15 % (CV) across trials\n"
                                      "Flag a trial missing more than 0.1 s of data")
    assert s["normative"].text().startswith("Mathiowetz V, Kashman N, Volland G, Weber K, Dowe M, Rogers S. Grip")
    assert "Population: adults aged 20 to 94 years" in s["normative"].text()
    assert s["references"].text().count("• ") == 4
    # built-ins are read-only
    assert not screen.edit_button.isVisibleTo(screen) and not screen.delete_button.isVisibleTo(screen)
    assert screen.readonly_hint.isVisible()
    with qtbot.waitSignal(screen.protocol_chosen, timeout=1000) as chosen:
        click(qtbot, screen.use_button)
    assert chosen.args == ["grip-asht"]


def test_targets_in_words(screen: ProtocolsScreen) -> None:
    assert screen.select("train-grip-ramp")
    assert screen.sections["targets"].text() == (
        "Effort (phase 3): 80 % of the maximum peak force (from grip-asht) ± 5 % points, rising from 0 % over 5 s")
    assert screen.detail_headline.text().startswith("Headline: Absolute error (absolute_error), the mean of the "
                                                    "trials; lower is better")
    assert screen.select("train-knee-rom-target")
    assert "between " in screen.sections["targets"].text() and "°" in screen.sections["targets"].text()
    assert screen.select("balance-romberg")
    assert screen.sections["sensors"].text().startswith("2 × force plate (plate_left, plate_right) — ")
    assert "in each of 2 conditions (Eyes open, Eyes closed)" in screen.sections["schedule"].text()


# -- editor -----------------------------------------------------------------------------------------------------


def test_duplicate_edit_and_save(qtbot: QtBot, screen: ProtocolsScreen, store: CustomProtocolStore) -> None:
    assert screen.select("grip-asht")
    click(qtbot, screen.duplicate_button)
    editor = screen.editor
    assert screen.stack.currentWidget() is editor and editor.mode == "duplicate"
    assert editor.title.text() == "Copy of “Grip strength (ASHT)”"
    assert editor.name_edit.text() == "Grip strength (ASHT) (copy)" and editor.id_edit.text() == "grip-asht-copy"
    assert editor.summary_edit.text() == get_protocol("grip-asht").summary
    assert editor.sides_combo.currentData() == "alternating" and editor.repetitions_edit.text() == "3"
    assert len(editor.phase_rows) == 5 and len(editor.sensor_rows) == 1 and len(editor.scorer_rows) == 1
    assert field(editor, "phases[2].duration").text() == "5"
    assert editor.headline_combo.currentData() == "peak_force"
    assert editor.save_button.isEnabled() and editor.status.text().startswith("Ready to save")
    type_into(qtbot, editor.name_edit, "Grip, clinic version")
    type_into(qtbot, field(editor, "phases[0].duration"), "20")
    assert editor.table()["name"] == "Grip, clinic version" and editor.table()["phases"][0]["duration"] == 20
    assert not store.folder.exists()  # nothing written before Save
    click(qtbot, editor.save_button)
    path = store.folder / "grip-asht-copy.toml"
    assert path.is_file()
    saved = load_protocol(path)  # the file validates as a library file does
    assert saved.name == "Grip, clinic version" and saved.phases[0].duration == 20.0
    assert saved.scoring == get_protocol("grip-asht").scoring and saved.normative == get_protocol("grip-asht").normative
    # back in the library, under My protocols, selected
    assert screen.stack.currentWidget() is screen.library
    assert screen.category == "custom" and screen.chips["custom"].isChecked()
    assert screen.visible_ids() == ["grip-asht-copy"]
    assert screen.detail_title.text() == "Grip, clinic version"
    assert screen.message.text() == f"Saved “Grip, clinic version” to {path}."
    assert str(screen.list_widget.item(0).data(Qt.ItemDataRole.UserRole + 1)).endswith(" · custom")
    assert screen.edit_button.isVisible() and screen.delete_button.isVisible()
    click(qtbot, screen.chips["strength"])
    assert "grip-asht-copy" in screen.visible_ids() and "grip-asht" in screen.visible_ids()
    # edit it: renaming the id moves the file
    assert screen.select("grip-asht-copy")
    click(qtbot, screen.edit_button)
    assert editor.mode == "edit" and editor.original_id == "grip-asht-copy"
    type_into(qtbot, editor.id_edit, "grip-clinic")
    assert editor.save_button.isEnabled(), editor.status.text()
    click(qtbot, editor.save_button)
    assert sorted(p.name for p in store.folder.iterdir()) == ["grip-clinic.toml"]
    assert screen.visible_ids() == ["grip-clinic"]


def test_invalid_values_show_the_field_error_and_block_save(qtbot: QtBot, screen: ProtocolsScreen,
                                                            store: CustomProtocolStore) -> None:
    assert screen.select("grip-asht")
    click(qtbot, screen.duplicate_button)
    editor = screen.editor
    duration = field(editor, "phases[2].duration")
    type_into(qtbot, duration, "0")
    message = "Duration (s): must be > 0 s, got 0.0 (length in seconds)"
    assert editor.field_error("phases[2].duration") == message
    assert editor.error_label("phases[2].duration").isVisible()
    assert not editor.save_button.isEnabled()
    assert editor.status.text() == "Fix phase 3 › duration: must be > 0 s, got 0.0 (length in seconds)"
    assert editor.field_error("phases[1].duration") == "" and editor.field_error("name") == ""
    qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)  # disabled: nothing happens
    assert not store.folder.exists() and screen.stack.currentWidget() is editor
    type_into(qtbot, duration, "abc")
    assert editor.field_error("phases[2].duration") == "Duration (s): expected a number, got string 'abc'"
    type_into(qtbot, duration, "5")
    assert editor.field_error("phases[2].duration") == "" and editor.save_button.isEnabled()
    # the rules of the format, not of the form: a countdown longer than 10 s
    type_into(qtbot, field(editor, "phases[1].duration"), "12")
    assert editor.field_error("phases[1].duration").startswith("Duration (s): a countdown of 12 s is too long")
    type_into(qtbot, field(editor, "phases[1].duration"), "3")
    # ids: the format's shape, then the store's rule against built-in ids
    type_into(qtbot, editor.id_edit, "Bad Id")
    assert editor.field_error("id").endswith(": 'Bad Id' is not a valid name; expected lower-case words joined by "
                                            "hyphens")
    type_into(qtbot, editor.id_edit, "grip-asht")
    assert editor.field_error("id").endswith(": 'grip-asht' is the id of a built-in protocol; choose another id")
    assert not editor.save_button.isEnabled()
    type_into(qtbot, editor.id_edit, "grip-mine")
    assert editor.save_button.isEnabled()
    # a metric unticked so that none is left: the scorer row says so
    for box in editor.form.findChildren(QCheckBox):
        if box.isChecked():
            box.setChecked(False)
    assert editor.field_error("scoring.scorers[0]").startswith("scoring.scorers[0].metrics: is empty")
    assert not editor.save_button.isEnabled()
    # leaving without saving takes a second tap, and writes nothing
    click(qtbot, editor.cancel_button)
    assert editor.cancel_button.text() == "Discard changes?" and screen.stack.currentWidget() is editor
    click(qtbot, editor.cancel_button)
    assert screen.stack.currentWidget() is screen.library and not store.folder.exists()


def test_toml_tab_uses_the_same_validation(qtbot: QtBot, screen: ProtocolsScreen, store: CustomProtocolStore
                                           ) -> None:
    assert screen.select("grip-asht")
    click(qtbot, screen.duplicate_button)
    editor = screen.editor
    editor.tabs.setCurrentIndex(1)
    text = editor.toml_edit.toPlainText()
    assert text == dump_protocol(protocol_from_dict(editor.table()))
    editor.set_toml(text.replace("max_cv = 15.0", "max_cv = -1.0"))
    assert editor.toml_error.isVisible()
    assert editor.toml_error.text() == "acceptance[0].max_cv: must be > 0, got -1.0 (effort_cv: highest CV in %)"
    assert editor.field_error("").startswith("acceptance[0].max_cv: must be > 0")  # not on the form: top of form
    assert not editor.save_button.isEnabled()
    editor.set_toml(text.replace('name = "Grip strength (ASHT) (copy)"', 'name = "Grip'))
    assert editor.toml_error.text().startswith("file: not valid TOML")
    assert not editor.save_button.isEnabled()
    editor.set_toml(text.replace("max_cv = 15.0", "max_cv = 12.5"))
    assert editor.toml_error.isHidden() and editor.save_button.isEnabled()
    editor.tabs.setCurrentIndex(0)  # the form follows the text
    assert editor.table()["acceptance"][0]["max_cv"] == 12.5 and editor.name_edit.text().endswith("(copy)")
    click(qtbot, editor.save_button)
    assert load_protocol(store.folder / "grip-asht-copy.toml").acceptance[0].max_cv == 12.5


def test_new_protocol_through_the_form(qtbot: QtBot, screen: ProtocolsScreen, store: CustomProtocolStore) -> None:
    click(qtbot, screen.new_button)
    editor = screen.editor
    assert editor.mode == "new" and editor.id_edit.text() == "my-protocol"
    assert editor.field_error("summary") == ("Summary (one line: what it measures): is empty; expected one line: "
                                            "what it measures")
    assert not editor.save_button.isEnabled()
    qtbot.keyClicks(editor.summary_edit, "Maximal pinch force.")
    assert editor.field_error("instructions").startswith("Instructions for the clinician and the patient: is empty")
    qtbot.keyClicks(editor.instructions_edit, "Squeeze the pinch gauge between thumb and index.")
    assert editor.field_error("sensors[0].placement").startswith("Placement (where and how): is empty")
    qtbot.keyClicks(field(editor, "sensors[0].placement"), "Between thumb and index finger.")
    assert editor.save_button.isEnabled(), editor.status.text()
    # two sides: the switch-side phase the format requires is added at the end
    sides = editor.sides_combo
    sides.setCurrentIndex(sides.findData("both"))
    qtbot.waitUntil(lambda: len(editor.phase_rows) == 4)
    assert editor.table()["phases"][-1]["kind"] == "switch_side" and editor.first_side_combo.isEnabled()
    # a live target on the effort phase: fixed level in the sensor's unit
    target = editor.form.findChild(QComboBox, "phases[1].target.kind")
    assert target is not None
    target.setCurrentIndex(target.findData("absolute"))
    qtbot.waitUntil(lambda: editor.form.findChild(QLineEdit, "phases[1].target.value") is not None)
    assert editor.field_error("phases[1].target.value") == "Level (N): missing; kind = 'absolute' needs it"
    qtbot.keyClicks(field(editor, "phases[1].target.value"), "150")
    qtbot.keyClicks(field(editor, "phases[1].target.tolerance"), "15")
    assert editor.table()["phases"][1]["target"] == {"kind": "absolute", "value": 150, "unit": "N",
                                                     "tolerance": 15}
    # a second metric, made the headline
    check = editor.form.findChild(QCheckBox, "scoring.scorers[0].metric.rfd_0_100")
    assert check is not None
    check.setChecked(True)
    editor.headline_combo.setCurrentIndex(editor.headline_combo.findData("rfd_0_100"))
    add = editor.form.findChild(QPushButton, "addPhase")
    assert add is not None
    click(qtbot, add)
    qtbot.waitUntil(lambda: len(editor.phase_rows) == 5)
    assert editor.table()["phases"][-2] == {"kind": "rest", "duration": 10.0}  # before the switch_side phase
    assert editor.save_button.isEnabled(), editor.status.text()
    click(qtbot, editor.save_button)
    saved = load_protocol(store.folder / "my-protocol.toml")
    assert saved.sides == "both" and saved.phases[1].target is not None and saved.phases[1].target.value == 150.0
    assert saved.scoring.headline == "rfd_0_100" and saved.scoring.metric_keys == ("peak_force", "rfd_0_100")
    assert screen.visible_ids() == ["my-protocol"]


def test_delete_takes_a_second_tap(qtbot: QtBot, screen: ProtocolsScreen, store: CustomProtocolStore) -> None:
    path = store.save(store.duplicate(get_protocol("jump-cmj")))
    screen.reload()
    screen.set_category("custom")
    assert screen.visible_ids() == ["jump-cmj-copy"]
    click(qtbot, screen.delete_button)
    assert screen.delete_button.text() == "Confirm delete" and screen.delete_button.armed
    assert path.exists()
    screen.select("jump-cmj-copy")  # re-selecting (or the timeout) disarms
    screen.set_category("all")
    assert screen.select("jump-cmj-copy")
    assert not screen.delete_button.armed and screen.delete_button.text() == "Delete"
    click(qtbot, screen.delete_button)
    click(qtbot, screen.delete_button)
    assert not path.exists()
    assert "jump-cmj-copy" not in screen.visible_ids()
    assert screen.message.text() == f"Deleted “{get_protocol('jump-cmj').name} (copy)”."
    screen.set_category("custom")
    assert screen.list_widget.count() == 0


def test_unreadable_custom_files_are_listed(screen: ProtocolsScreen, store: CustomProtocolStore) -> None:
    store.folder.mkdir(parents=True)
    good = store.duplicate(get_protocol("rom-knee-flexion"))
    store.save(good)
    (store.folder / "broken.toml").write_text(dump_protocol(good).replace(good.id, "broken").replace(
        "kind = \"goniometer\"", "kind = \"goniometr\""), encoding="utf-8")
    screen.reload()
    assert screen.notice.isVisible()
    lines = screen.notice.text().split("\n")
    assert lines[0] == "1 custom protocol file could not be read:"
    assert lines[1] == ("• broken.toml: sensors[0].kind: unknown value 'goniometr' (did you mean 'goniometer'?); "
                        "expected one of: push, grip, pull, pneumatic, goniometer, plate, force, scale")
    assert good.id in screen.visible_ids() and "broken" not in screen.visible_ids()
    screen.set_category("balance")
    assert not screen.notice.isVisible()


# -- look -------------------------------------------------------------------------------------------------------


def _colours(image: QImage, step: int = 7) -> set[str]:
    return {image.pixelColor(x, y).name() for x in range(0, image.width(), step)
            for y in range(0, image.height(), step)}


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots_show_the_library_and_the_editor(qtbot: QtBot, qapp: QApplication, store: CustomProtocolStore,
                                                      theme: str) -> None:
    apply_theme(qapp, theme)  # type: ignore[arg-type]
    try:
        widget = ProtocolsScreen(store)
        qtbot.addWidget(widget)
        widget.resize(1080, 760)
        widget.show()
        qtbot.waitExposed(widget)
        palette = current_palette()
        image = widget.grab().toImage()
        assert image.width() >= 1080 and len(_colours(image)) > 20  # text, chips, list, card: not blank
        accent = QColor(palette.accent).name()

        def at(w: QPushButton | QLineEdit, image: QImage = image, dx: int = 4) -> str:
            point = w.mapTo(widget, QPoint(dx, w.height() // 2))
            return image.pixelColor(point).name()

        assert at(widget.chips["all"], dx=widget.chips["all"].width() // 2 - 20) == accent  # the checked chip
        assert at(widget.chips["balance"], dx=widget.chips["balance"].width() // 2) != accent
        assert at(widget.use_button, dx=6) == accent  # the primary action stands out
        row = widget.list_widget.visualItemRect(widget.list_widget.item(0))
        point = widget.list_widget.viewport().mapTo(widget, QPoint(row.right() - 4, row.center().y()))
        assert image.pixelColor(point).name() == accent  # the selected row
        background = image.pixelColor(5, widget.height() - 5).lightness()
        assert (background > 200) if theme == "light" else (background < 60)
        # the editor with an error in red under its field
        widget.select("grip-asht")
        widget.duplicate_selected()
        field(widget.editor, "phases[2].duration").setText("0")
        qtbot.wait(10)
        editor_image = widget.grab().toImage()
        assert len(_colours(editor_image)) > 20
        label = widget.editor.error_label("phases[2].duration")
        widget.editor.form_scroll.ensureWidgetVisible(label)
        editor_image = widget.grab().toImage()
        box = label.contentsRect()
        reds = 0
        for x in range(box.left(), min(box.right(), box.left() + 200)):
            for y in range(box.top(), box.bottom()):
                colour = editor_image.pixelColor(label.mapTo(widget, QPoint(x, y)))
                if colour.red() > colour.green() + 60 and colour.red() > colour.blue() + 60:
                    reds += 1
        assert reds > 20  # the error text is drawn, in red
        delete_now(widget)
    finally:
        apply_theme(qapp, "light")


# -- helpers and the app -----------------------------------------------------------------------------------------


def test_form_helpers() -> None:
    assert parse_number("") is None and parse_number(" 3 ") == 3 and parse_number("2,5") == 2.5
    assert parse_number("1e3") == 1000.0 and parse_number("ten") == "ten"
    assert format_duration(45) == f"45{NBSP}s" and format_duration(130) == f"2{NBSP}min{NBSP}10{NBSP}s"
    assert format_duration(3720) == f"1{NBSP}h{NBSP}2{NBSP}min" and format_duration(120) == f"2{NBSP}min"
    assert metric_label("rfd_0_100") == "RFD 0–100 ms" and metric_label("peak_rfd_20ms") == "Peak RFD 20 ms"
    assert metric_label("ellipse_area_95") == "Ellipse area 95"
    assert human_path("phases[1].target.ramp_time") == "phase 2 › target › ramp time"
    assert human_path("scoring.scorers[0].metrics[3]") == "scorer 1 › metric 4"
    assert human_path("acceptance[0].max_cv") == "acceptance rule 1 › max cv" and human_path("") == "file"
    import tomllib

    table = {"id": "x", "n": 1, "f": 2.5, "b": True, "s": 'a "quoted"\nline\x7f', "inf": float("inf"),
             "list": [1, 2], "t": {"k": "v", "params": {"method": "m"}}, "rows": [{"a": 1}, {"a": 2, "u": {"w": 1}}]}
    assert tomllib.loads(table_to_toml(table)) == table
    for p in builtin_protocols()[:10]:  # the invalid-table writer also round-trips real protocols
        data = tomllib.loads(dump_protocol(p))
        assert tomllib.loads(table_to_toml(data)) == data


def test_the_app_registers_the_protocols_page(qtbot: QtBot, qapp: QApplication, tmp_path: Path) -> None:
    from gui.app import build_window, parse_args, start_mode

    apply_theme(qapp, "light")
    args = parse_args(["--simulated", "--data-dir", str(tmp_path / "clinic")])
    window = build_window(args, start_mode(True))
    qtbot.addWidget(window)
    page = window.page("protocols")
    assert isinstance(page, ProtocolsScreen)
    assert page.store.folder == (tmp_path / "clinic" / "protocols").absolute()
    assert window.nav_button("protocols").text() == "Protocols"
    window.show_page("protocols")
    assert window.current_page() == "protocols"
    window.set_theme("dark")  # the main window restyles the page and its editor
    assert page.palette_.name == "dark" and page.editor.palette_.name == "dark"
    assert "#ff8a80" in page.styleSheet()  # the dark theme's error colour
    window.set_theme("light")
    assert page.palette_.name == "light" and "#b42318" in page.styleSheet()
    delete_now(window)
