"""The Measurements side of the window through real clicks and keys: what the panel applies after another
project is opened, the keys after a panel button, measurements stored on verification, the reference line,
and a window without a project."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton
from test_gui import SKIRT, build_project, drag, open_window, project, skirt_garment, window, write_scene  # noqa: F401

from app.gui.main_window import MainWindow
from app.gui.measuring import UNSTORED
from app.store.repository import ProjectStore
from inference.annotation import Visibility
from measure.calibration import Calibration
from measure.measurements import measure_garment

pytest.importorskip("pytestqt")

PHOTO = (360, 320)  # write_scene's frame (width, height)
SPEC = "pom,size,target_cm,tolerance_cm,category\nwaist_width,M,1,0.5,skirt\n"  # fails any real skirt


def with_profile(path, mm_per_px=0.5, size=PHOTO, name="bench") -> int:
    with ProjectStore.open(path) as store:
        cal = Calibration.from_scale(mm_per_px, image_size=size)
        return store.save_calibration(name, cal.method, cal.to_dict())


def open_active_window(qtbot, path) -> MainWindow:
    win = open_window(qtbot, path)
    qtbot.waitUntil(win.isActiveWindow, timeout=2000)  # shortcuts act in the active window
    return win


def button(panel, text: str) -> QPushButton:
    (found,) = [b for b in panel.findChildren(QPushButton) if b.text() == text]
    return found


def load_spec(win, monkeypatch, tmp_path, size="M"):
    csv = tmp_path / "style-42.csv"
    csv.write_text(SPEC)
    monkeypatch.setattr("app.gui.measure_panel.QFileDialog.getOpenFileName", lambda *a, **k: (str(csv), ""))
    panel = win.measurements
    QTest.mouseClick(button(panel, "Load CSV…"), Qt.MouseButton.LeftButton)
    panel.size.setCurrentIndex(panel.size.findText(size))
    panel.size.activated.emit(panel.size.currentIndex())


def the_panel_applies_what_it_shows(panel) -> None:
    assert panel.calibration_name == (panel.profile.currentData() or "none")
    assert panel.calibration is (panel._profiles.get(panel.profile.currentData()))
    assert (panel.spec is None) == (panel.spec_combo.currentData() is None)
    if panel.spec is None:
        assert panel.size.count() == 0 and "Size" not in panel.result_label.text()


# ---- 1. another project's calibration and spec sheet -----------------------------------------------------------


def test_another_project_gets_none_of_the_last_ones_calibration_or_spec_sheet(qtbot, project, tmp_path, monkeypatch):  # noqa: F811
    with_profile(project)
    win = open_active_window(qtbot, project)
    panel = win.measurements
    assert panel.profile.currentData() == "bench" and panel.calibration is not None
    load_spec(win, monkeypatch, tmp_path)
    assert "Size M: FAIL" in panel.result_label.text() and panel.table.item(0, 1).text().endswith(" cm")

    other = tmp_path / "new" / "other.db"
    other.parent.mkdir()
    with ProjectStore.create(other) as store:
        (image_id,) = [r.image_id for r in store.add_images([write_scene(other.parent / "n.png")]).results]
        store.store_predictions(image_id, [skirt_garment()], "test@1")
    win.open_project(other)
    assert panel.profile.currentData() is None and panel.spec_combo.currentData() is None
    assert panel.calibration is None and panel.spec is None and panel.size.count() == 0
    assert panel.calibration_label.text() == "No calibration: values in pixels"
    assert panel.table.item(0, 1).text().endswith(" px") and panel.result_label.text() == ""
    the_panel_applies_what_it_shows(panel)

    win.open_project(project)  # the sheet is offered again, not applied unseen
    assert panel.profile.currentData() == "bench" and "bench" in panel.calibration_label.text()
    assert panel.spec_combo.findData("style-42.csv") > 0
    assert panel.spec is None and "Size" not in panel.result_label.text()
    the_panel_applies_what_it_shows(panel)
    win.close_project()
    assert panel.calibration is None and panel.spec is None and panel.profile.count() == 1
    assert panel.spec_combo.count() == 1


# ---- 2. the keys after a click in a dock ---------------------------------------------------------------------


def test_space_after_a_panel_button_verifies_instead_of_clicking_it_again(window, project, monkeypatch):  # noqa: F811
    opened = []
    monkeypatch.setattr("app.gui.measure_panel.QFileDialog.getOpenFileName",
                        lambda *a, **k: opened.append(1) or ("", ""))  # cancelled
    load = button(window.measurements, "Load CSV…")
    assert load.focusPolicy() == Qt.FocusPolicy.TabFocus
    QTest.mouseClick(load, Qt.MouseButton.LeftButton)
    assert opened == [1]
    assert QApplication.focusWidget() is window.canvas  # the keys went back to the photo
    first = window.image_id
    QTest.mouseMove(window.canvas.viewport(), window.canvas.viewport().rect().center())
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert opened == [1] and window.image_id != first
    assert str(window.store.image(first).status) == "verified"


def test_the_inspectors_buttons_and_the_panels_choices_leave_the_keys_with_the_photo(window, project):  # noqa: F811
    gid = window.canvas.selected_id
    revert = button(window.inspector, "Revert to prediction")
    assert revert.focusPolicy() == Qt.FocusPolicy.TabFocus
    window.session.move_point(window.image_id, gid, 2, 101.5, 102.5)
    QTest.mouseClick(revert, Qt.MouseButton.LeftButton)
    assert window.store.garment(gid).keypoints == skirt_garment().keypoints
    assert QApplication.focusWidget() is window.canvas
    point = window.canvas.mapFromScene(window.canvas.garment_item(gid).points[4].pos())
    QTest.mouseMove(window.canvas.viewport(), point)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_V)  # a single-key shortcut still reaches the point
    assert window.store.garment(gid).keypoints[4].visibility == Visibility.OCCLUDED
    combo = window.measurements.profile
    combo.setFocus()
    combo.activated.emit(0)  # chosen from the popup
    assert QApplication.focusWidget() is window.canvas


# ---- 3. measurements stored on verification -----------------------------------------------------------------


def test_verifying_stores_the_measurements_for_the_csv_report(window, project, tmp_path):  # noqa: F811
    from app.datasets.formats import export_project

    project_path = project
    cal_id = with_profile(project_path)
    window.open_project(project_path)
    first = window.image_id
    (gid,) = window.canvas.garment_ids()
    QTest.keyClick(window.canvas.viewport(), Qt.Key.Key_Space)
    with ProjectStore.open(project_path) as store:
        rows = store.measurements(image_id=first)
        cal = Calibration.from_dict(store.calibration(cal_id).payload)
        expected = {m.name: m.mm for m in measure_garment(store.garment(gid), cal).values() if m.measurable}
        assert rows and {m.pom: m.value_mm for m in rows} == pytest.approx(expected)
        assert {m.calibration_id for m in rows} == {cal_id} and {m.garment_id for m in rows} == {gid}
        report = export_project(store, tmp_path / "qc", "csv")
    assert (report.images, report.garments) == (1, 1)
    assert "bench" in (tmp_path / "qc" / "measurements.csv").read_text()


def test_without_a_saved_calibration_nothing_is_stored_and_the_status_bar_says_why_once(qtbot, tmp_path):
    path = build_project(tmp_path, skirt_garment())
    with ProjectStore.open(path) as store:
        second = store.list_images()[1].id
        store.store_predictions(second, [skirt_garment()], "test@1")
    win = open_active_window(qtbot, path)
    said = []
    win.statusBar().messageChanged.connect(said.append)
    QTest.keyClick(win.canvas.viewport(), Qt.Key.Key_Space)  # pixels: nothing to store
    qtbot.waitUntil(lambda: win.statusBar().currentMessage() == UNSTORED, timeout=2000)  # after the next photo's
    QTest.keyClick(win.canvas.viewport(), Qt.Key.Key_Space)
    qtbot.wait(50)
    assert said.count(UNSTORED) == 1
    assert win.store.measurements() == []
    # a profile made on another frame size measures this photo in pixels: not stored either
    with_profile(path, size=(800, 600), name="other camera")
    win.open_project(path)
    assert win.measurements.calibration is not None
    with ProjectStore.open(path) as store:
        third = store.list_images()[2].id
        store.store_predictions(third, [skirt_garment()], "test@1")
    win.images.select_image(third)
    QTest.keyClick(win.canvas.viewport(), Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: said.count(UNSTORED) == 2, timeout=2000)  # once more: the project was opened again
    assert win.store.measurements() == [] and str(win.store.image(third).status) == "verified"


def test_an_empty_measurements_csv_export_says_why(qtbot, project, tmp_path):  # noqa: F811
    from app.gui.export_dialog import ExportDialog, export_job

    class Ctx:
        def progress(self, *_):
            pass

    dialog = ExportDialog(project)
    qtbot.addWidget(dialog)
    dialog.format.setCurrentIndex(dialog.format.findData("csv"))
    report = export_job(Ctx(), str(project), str(tmp_path / "qc"), "csv", "verified", None)
    dialog._on_done("Export", report)
    text = dialog.result.text()
    assert "No measurements are stored in this project" in text and "verify" in text
    assert "0 images" not in text


# ---- 4. the reference line ----------------------------------------------------------------------------------


def draw_reference_line(qtbot, win, monkeypatch, mm=300.0, end=None):
    start, end = QPoint(300, 300), end or QPoint(560, 300)
    monkeypatch.setattr("PySide6.QtWidgets.QInputDialog.getDouble", lambda *a, **k: (mm, True))
    said = []
    win.statusBar().messageChanged.connect(said.append)
    QTest.keyClick(win.canvas.viewport(), Qt.Key.Key_R)
    assert win.canvas.draw_mode == "line"
    assert any("Drag along a known length" in text for text in said)
    drag(win, start, end)
    return said


def test_a_reference_line_becomes_a_profile_chosen_and_tied_to_the_photo(qtbot, window, project, monkeypatch):  # noqa: F811
    draw_reference_line(qtbot, window, monkeypatch)
    panel = window.measurements
    name = panel.profile.currentData()
    assert name is not None and "reference line" in name and name == panel.calibration_name
    the_panel_applies_what_it_shows(panel)
    with ProjectStore.open(project) as store:
        record = store.calibration(name)
        assert record.method == "reference-line" and store.image(window.image_id).calibration_id == record.id
        saved = Calibration.from_dict(record.payload)
    assert saved.image_size == PHOTO and saved.mm_per_px == pytest.approx(panel.calibration.mm_per_px)
    assert panel.table.item(0, 1).text().endswith(" cm")
    window.open_project(project)  # kept: the photo is measured with it again
    assert panel.profile.currentData() == name


def test_a_click_instead_of_a_drag_says_so(qtbot, window, monkeypatch):  # noqa: F811
    said = draw_reference_line(qtbot, window, monkeypatch, end=QPoint(301, 300))
    qtbot.waitUntil(lambda: any("a click is not a line" in text for text in said), timeout=2000)
    assert window.canvas.draw_mode is None and window.measurements.calibration is None


def test_a_read_only_projects_reference_line_is_used_unsaved_and_says_so(qtbot, project, monkeypatch):  # noqa: F811
    monkeypatch.setattr("app.store.database._writable", lambda path: False)
    win = open_active_window(qtbot, project)
    warned = []
    monkeypatch.setattr("PySide6.QtWidgets.QMessageBox.warning", lambda *a, **k: warned.append(a[2]))
    draw_reference_line(qtbot, win, monkeypatch)
    assert len(warned) == 1 and "used but not saved" in warned[0]
    panel = win.measurements
    assert panel.calibration.method == "reference-line" and panel.saved_profile() is None
    assert panel.profile.currentText().endswith("(not saved)")
    the_panel_applies_what_it_shows(panel)
    with ProjectStore.open(project) as store:
        assert store.list_calibrations() == []


# ---- 5. a window without a project --------------------------------------------------------------------------


def test_without_a_project_undo_redo_and_the_inspector_buttons_are_off(qtbot, project, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr("app.gui.main_window.QMessageBox.critical", lambda *a, **k: None)
    win = MainWindow(load_model=False)
    qtbot.addWidget(win)
    bad = tmp_path / "not-a-project.db"
    bad.write_text("hello")
    win.open_project(bad)  # refused
    assert win.store is None
    buttons = [b for b in win.inspector.findChildren(QPushButton)]
    assert not win.actions.undo.isEnabled() and not win.actions.redo.isEnabled()
    assert buttons and not any(b.isEnabled() for b in buttons)
    win.open_project(project)
    assert all(b.isEnabled() for b in buttons) and not win.actions.undo.isEnabled()
    gid = win.canvas.selected_id
    win.session.move_point(win.image_id, gid, 2, 101.5, 102.5)
    assert win.actions.undo.isEnabled() and win.actions.undo.text() != "&Undo"
    win.close_project()
    assert not win.actions.undo.isEnabled() and win.actions.undo.text() == "&Undo"
    assert not any(b.isEnabled() for b in buttons)
