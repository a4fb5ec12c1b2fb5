"""The desktop application through real mouse and key events on a real project file (offscreen Qt)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from app.gui.main_window import MainWindow
from app.store.repository import ProjectStore
from inference.annotation import Garment, GarmentStatus, Keypoint, Visibility
from inference.contract_models import MARKER_BGR, garment_colour
from inference.schema import deepfashion2

pytest.importorskip("pytestqt")

SKIRT = 9  # 8 landmarks: few, well separated points


def write_scene(path, category=SKIRT, box=(60, 40, 260, 280), marker=(150, 200)):
    """A dark frame with one garment in the contract detector's colour and a red marker dot."""
    img = np.full((320, 360, 3), 20, np.uint8)
    x1, y1, x2, y2 = box
    img[y1:y2, x1:x2] = garment_colour(category)
    img[marker[1], marker[0]] = MARKER_BGR
    cv2.imwrite(str(path), img)
    return path


def skirt_garment(status=GarmentStatus.PREDICTED) -> Garment:
    n = deepfashion2().category(SKIRT).num_keypoints
    points = tuple(Keypoint(80.0 + 22.5 * i, 60.25 + 17.5 * (i % 3), Visibility.VISIBLE, 0.9) for i in range(n))
    return Garment(SKIRT, (60.0, 40.0, 260.0, 280.0), points, 0.95, status, "test@1")


def build_project(tmp_path, garment: Garment, photos: int = 3):
    """A project of ``photos`` scenes, the first with ``garment`` as the model's prediction."""
    path = tmp_path / "project.db"
    images = [write_scene(tmp_path / f"img{i}.png", marker=(150 + i, 200)) for i in range(photos)]
    with ProjectStore.create(path) as store:
        ids = [r.image_id for r in store.add_images(images).results]
        store.store_predictions(ids[0], [garment], "test@1")
    return path


@pytest.fixture
def project(tmp_path):
    return build_project(tmp_path, skirt_garment())


def open_window(qtbot, path) -> MainWindow:
    """A shown 1200×800 window (no model) on the project at ``path``."""
    win = MainWindow(load_model=False)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.open_project(path)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    return win


@pytest.fixture
def window(qtbot, project):
    return open_window(qtbot, project)


@pytest.fixture
def other(qtbot, project):
    """A second window on the same project, as a second person would open it."""
    win = MainWindow(load_model=False)
    qtbot.addWidget(win)
    win.open_project(project)
    return win


def view_point(win: MainWindow, garment_id: int, index: int) -> QPoint:
    item = win.canvas.garment_item(garment_id).points[index]
    return win.canvas.mapFromScene(item.pos())


def drag(win: MainWindow, start: QPoint, end: QPoint) -> None:
    viewport = win.canvas.viewport()
    QTest.mouseMove(viewport, start)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    mid = QPoint((start.x() + end.x()) // 2, (start.y() + end.y()) // 2)
    for p in (mid, end):
        QTest.mouseMove(viewport, p)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)


def stored(project, garment_id) -> Garment:
    store = ProjectStore.open(project)
    try:
        return store.garment(garment_id)
    finally:
        store.close()


def test_drag_moves_point_subpixel_and_undo_redo_restore_the_store(window, project):
    gid = window.canvas.selected_id
    before = stored(project, gid)
    start = view_point(window, gid, 2)
    end = start + QPoint(37, -23)
    drag(window, start, end)
    # The point moves by the scene distance of the drag: fractional at this zoom, never rounded.
    delta = window.canvas.mapToScene(end) - window.canvas.mapToScene(start)
    expected = (before.keypoints[2].x + delta.x(), before.keypoints[2].y + delta.y())
    moved = stored(project, gid)
    assert moved.keypoints[2].x == pytest.approx(expected[0], abs=1e-6)
    assert moved.keypoints[2].y == pytest.approx(expected[1], abs=1e-6)
    assert moved.keypoints[2].x != round(moved.keypoints[2].x)
    assert moved.status == GarmentStatus.CORRECTED
    assert window.session.stack.count() == 1  # one drag = one undo step

    QTest.keyClick(window.canvas.viewport(), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert stored(project, gid) == before  # points and status restored exactly
    item_pos = window.canvas.garment_item(gid).points[2].pos()
    assert (item_pos.x(), item_pos.y()) == (before.keypoints[2].x, before.keypoints[2].y)

    QTest.keyClick(window.canvas.viewport(), Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert stored(project, gid) == moved


def test_visibility_keys_act_on_the_hovered_point_and_undo(window, project):
    gid = window.canvas.selected_id
    viewport = window.canvas.viewport()
    QTest.mouseMove(viewport, view_point(window, gid, 4))
    assert window.canvas.hovered == (gid, 4)
    QTest.keyClick(viewport, Qt.Key.Key_V)  # visible -> occluded
    assert stored(project, gid).keypoints[4].visibility == Visibility.OCCLUDED
    QTest.keyClick(viewport, Qt.Key.Key_0)  # removed
    assert stored(project, gid).keypoints[4].visibility == Visibility.ABSENT
    assert not window.canvas.garment_item(gid).points[4].isVisible()
    window.session.stack.undo()
    window.session.stack.undo()
    assert stored(project, gid).keypoints[4].visibility == Visibility.VISIBLE


def test_place_missing_point_category_change_and_delete_undo(window, project):
    gid = window.canvas.selected_id
    window.session.set_visibility(window.image_id, gid, 0, Visibility.ABSENT)
    window.editor.place_next_missing(QPointF(123.375, 99.625))
    kp = stored(project, gid).keypoints[0]
    assert (kp.x, kp.y, kp.visibility) == (123.375, 99.625, Visibility.VISIBLE)

    window.inspector.categoryChosen.emit(gid, 8)  # skirt -> trousers: the store re-maps the points
    assert stored(project, gid).category_id == 8
    assert len(window.canvas.garment_item(gid).points) == deepfashion2().category(8).num_keypoints

    window.actions.delete_garment.trigger()
    assert window.canvas.garment_ids() == []
    window.session.stack.undo()  # delete undone: restored (new id) with its prediction
    (new_id,) = window.canvas.garment_ids()
    assert stored(project, new_id).category_id == 8
    window.session.stack.undo()  # category change undone on the restored garment
    assert stored(project, new_id).category_id == SKIRT
    window.actions.revert_garment.trigger()  # back to the model's prediction
    reverted = stored(project, new_id)
    assert reverted.status == GarmentStatus.PREDICTED and reverted.keypoints == skirt_garment().keypoints


def test_deleting_a_predicted_garment_marks_the_row_corrected_and_undo_marks_it_predicted(window):
    row = window.images.list.currentItem()
    assert row.text().endswith("predicted")
    window.actions.delete_garment.trigger()
    assert row.text().endswith("corrected")  # a person's work now: auto-annotate skips it as not new
    window.session.stack.undo()
    assert row.text().endswith("predicted")


def test_verify_and_next_marks_image_verified_and_moves_on(window, project):
    first = window.image_id
    QTest.keyClick(window.canvas.viewport(), Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    store = ProjectStore.open(project)
    assert store.image(first).status == "verified"
    store.close()
    assert window.image_id != first
    assert window.images.list.currentItem().text().endswith("new")


def test_edits_survive_closing_and_reopening(qtbot, window, project):
    gid = window.canvas.selected_id
    start = view_point(window, gid, 1)
    drag(window, start, start + QPoint(15, 9))
    shown = window.canvas.garment_item(gid).points[1].pos()
    window.close()
    again = MainWindow(load_model=False)
    qtbot.addWidget(again)
    again.open_project(project)
    pos = again.canvas.garment_item(gid).points[1].pos()
    assert (pos.x(), pos.y()) == (shown.x(), shown.y())


def test_second_window_sees_first_windows_edit(qtbot, window, project, other):
    gid = window.canvas.selected_id
    window.session.move_point(window.image_id, gid, 3, 111.5, 122.25)
    other.session.set_visibility(other.image_id, gid, 5, Visibility.OCCLUDED)
    final = stored(project, gid)
    assert (final.keypoints[3].x, final.keypoints[3].y) == (111.5, 122.25)  # not overwritten by stale state
    assert final.keypoints[5].visibility == Visibility.OCCLUDED


def test_dragging_a_box_corner_resizes_it_with_undo_and_redo(window, project):
    gid = window.canvas.selected_id
    before = stored(project, gid)
    item = window.canvas.garment_item(gid)
    handle = next(h for h in item.handles if h.corner == "bottom_right")
    assert handle.isVisible() and all(h.isVisible() for h in item.handles)  # the selected garment shows them
    start = window.canvas.mapFromScene(handle.pos())
    end = start + QPoint(-31, -17)
    drag(window, start, end)
    delta = window.canvas.mapToScene(end) - window.canvas.mapToScene(start)
    resized = stored(project, gid)
    x1, y1, x2, y2 = before.bbox
    assert resized.bbox == pytest.approx((x1, y1, x2 + delta.x(), y2 + delta.y()), abs=1e-6)
    assert resized.bbox[2] != round(resized.bbox[2])  # float image pixels, not rounded
    assert resized.keypoints == before.keypoints and resized.status == GarmentStatus.CORRECTED
    assert window.session.stack.count() == 1 and window.session.stack.undoText() == "Resize box"

    QTest.keyClick(window.canvas.viewport(), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert stored(project, gid) == before
    assert window.canvas.garment_item(gid).rect().bottomRight() == QPointF(x2, y2)
    QTest.keyClick(window.canvas.viewport(), Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert stored(project, gid).bbox == resized.bbox


def test_box_corner_dragged_past_the_image_is_clamped_and_a_collapsed_box_is_refused(window, project):
    gid = window.canvas.selected_id
    before = stored(project, gid)
    item = window.canvas.garment_item(gid)
    top_left = next(h for h in item.handles if h.corner == "top_left")
    start = window.canvas.mapFromScene(top_left.pos())
    drag(window, start, window.canvas.mapFromScene(QPointF(-50.0, -50.0)))
    clamped = stored(project, gid)
    assert clamped.bbox[:2] == (0.0, 0.0) and clamped.bbox[2:] == before.bbox[2:]
    # Dragging the corner onto the opposite one would leave no box: nothing is stored or stacked.
    count = window.session.stack.count()
    start = window.canvas.mapFromScene(top_left.pos())
    drag(window, start, window.canvas.mapFromScene(QPointF(before.bbox[2] - 1.0, before.bbox[3] - 1.0)))
    assert stored(project, gid).bbox == clamped.bbox and window.session.stack.count() == count
    assert window.canvas.garment_item(gid).rect().topLeft() == QPointF(0.0, 0.0)
    # Another garment's handles stay hidden: only the selected one can be resized.
    window.canvas.select_garment(None)
    assert not any(h.isVisible() for h in item.handles)


def test_inspector_says_how_sure_the_model_was_of_a_predicted_category(window, project):
    from dataclasses import replace

    from app.gui.inspector import category_note

    sure = replace(skirt_garment(), extra={"category_probability": 0.93, "category_detector_id": SKIRT})
    unsure = replace(skirt_garment(), extra={"category_probability": 0.41, "category_detector_id": 7})
    assert category_note(sure) == "model 93% sure"
    assert "41% sure; the detector said shorts" in category_note(unsure) and "check the category" in category_note(unsure)
    assert category_note(replace(unsure, status=GarmentStatus.CORRECTED)) == ""  # a person has decided
    assert category_note(skirt_garment()) == ""  # an older model without a category head
    weak = replace(skirt_garment(), extra={"weak_detection": True})  # QC mode's fallback box: no category head
    assert "best guess" in category_note(weak) and "check it is a garment" in category_note(weak)
    both = category_note(replace(sure, extra={**sure.extra, "weak_detection": True}))
    assert both.index("best guess") < both.index("model 93% sure")
    turned = replace(skirt_garment(), extra={**sure.extra, "orientation": 180})
    assert category_note(turned) == "model 93% sure; read upside down"
    assert category_note(replace(turned, extra={**sure.extra, "orientation": 90})) == "model 93% sure; read sideways"
    # The note reaches the panel through the store (extra is kept with the garment).
    store = ProjectStore.open(project)
    try:
        image_id = store.list_images()[1].id
        (gid,) = store.store_predictions(image_id, [unsure], "test@1").added
    finally:
        store.close()
    window.show_image(image_id)
    window.canvas.select_garment(gid)
    assert "check the category" in window.inspector.category_note.text()


def test_a_photo_deleted_since_it_was_added_says_so_and_keeps_its_annotations(window, project):
    store = ProjectStore.open(project)
    first = store.list_images()[0]
    path = store.resolve_path(first.path)
    store.close()
    path.unlink()
    window.show_image(first.id)
    message = window.statusBar().currentMessage()
    assert message.startswith(f"Cannot read {path}")
    (gid,) = [g for g, _ in window.store.garments(first.id)]
    assert window.canvas.garment_item(gid) is not None  # the points can still be seen and corrected


def test_the_next_photo_is_decoded_ahead_and_a_changed_file_is_read_again(qtbot, window, project):
    photos = window.photos
    ids = window.images.image_ids()
    window.images.select_image(ids[0])
    photos.wait()
    qtbot.waitUntil(lambda: not photos._pending, timeout=5000)
    hits, misses = photos.hits, photos.misses
    window.step_image(1)  # decoded while the first photo was shown
    assert window.image_id == ids[1] and (photos.hits, photos.misses) == (hits + 1, misses)
    assert window.canvas._pixmap.pixmap().size().toTuple() == (360, 320)
    photos.wait()
    qtbot.waitUntil(lambda: not photos._pending, timeout=5000)
    store = ProjectStore.open(project)
    third = store.resolve_path(store.image(ids[2]).path)
    store.close()
    cv2.imwrite(str(third), np.zeros((100, 150, 3), np.uint8))  # replaced after it was decoded ahead
    os.utime(third, ns=(1, 1))  # a different stamp even on a coarse clock
    window.step_image(1)
    assert photos.misses == misses + 1
    assert window.canvas._pixmap.pixmap().size().toTuple() == (150, 100)


def test_measurements_need_a_calibration_made_on_this_photo_size_and_show_its_warnings(qtbot):
    from app.gui.measure_panel import MeasurementsPanel
    from measure.calibration import Calibration

    panel = MeasurementsPanel()
    qtbot.addWidget(panel)
    board_too_small = "the board covers 2 % of the image"
    cal = Calibration.from_scale(0.5, image_size=(1600, 1200), warnings=[board_too_small])
    panel.set_calibration(cal, "bench")
    points = np.array([(x, 60.0 + 7 * x % 50, 2) for x in np.linspace(100, 600, 8)])
    measured = panel.show_keypoints(SKIRT, points, (1600, 1200))
    assert panel.measuring_with is cal and panel.table.item(0, 1).text().endswith(" cm")
    assert not panel.warning_label.isHidden() and board_too_small in panel.warning_label.text()
    in_cm = {name: m.mm for name, m in measured.items()}

    measured = panel.show_keypoints(SKIRT, points, (800, 600))  # a frame of another size: not this mapping
    assert panel.measuring_with is None and panel.table.item(0, 1).text().endswith(" px")
    assert "1600x1200" in panel.warning_label.text() and "800x600" in panel.warning_label.text()
    assert {name: m.mm for name, m in measured.items()} == {k: v / 0.5 for k, v in in_cm.items()}


def test_the_canvas_keeps_fractions_of_a_view_pixel(window):
    window.canvas.zoom(0.25)
    origin = window.canvas.to_scene(QPointF(100.0, 100.0))
    half = window.canvas.to_scene(QPointF(100.5, 100.25))
    assert (half.x() - origin.x(), half.y() - origin.y()) == pytest.approx((0.5 / window.canvas.zoom_level(),
                                                                          0.25 / window.canvas.zoom_level()))


def test_a_read_only_project_opens_says_so_and_refuses_edits_without_losing_anything(qtbot, project, monkeypatch):
    # as if file and folder were not writable (chmod does not stop root, who may run the tests)
    monkeypatch.setattr("app.store.database._writable", lambda path: False)
    win = MainWindow(load_model=False)
    qtbot.addWidget(win)
    win.open_project(project)
    win.show()
    assert "(read-only)" in win.windowTitle()
    gid = win.canvas.selected_id
    before = stored(project, gid)
    with qtbot.waitSignal(win.session.failed, timeout=5000) as refused:
        win.session.move_point(win.image_id, gid, 2, 10.5, 20.5)
    assert "read-only" in refused.args[0]
    assert stored(project, gid) == before and win.session.stack.count() == 0


def test_deleting_two_garments_and_undoing_redoing_keeps_both(window, project):
    """Restoring a deleted garment under a fresh id once sent later undo steps to the wrong garment
    (SQLite reuses the freed top id): undo, redo, undo again must give back exactly what was there."""
    image_id = window.image_id
    (first,) = window.canvas.garment_ids()
    other_image = next(i.id for i in window.store.list_images() if i.id != image_id)
    window.store.store_predictions(other_image, [skirt_garment()], "test@1")  # holds the id after ours
    drawn = skirt_garment(GarmentStatus.CORRECTED)
    second = window.session.add_garment(image_id, drawn)
    before = {gid: stored(project, gid) for gid in (first, second)}
    stack = window.session.stack
    for gid in (second, first):  # the newest first: its id is the top one SQLite hands out again
        window.canvas.select_garment(gid)
        window.actions.delete_garment.trigger()
    assert window.canvas.garment_ids() == []
    stack.undo()
    stack.undo()
    assert sorted(window.canvas.garment_ids()) == sorted(before)
    stack.redo()
    stack.redo()
    assert window.canvas.garment_ids() == []
    stack.undo()
    stack.undo()
    assert {gid: stored(project, gid) for gid in window.canvas.garment_ids()} == before
    assert stack.canUndo()  # the add is still there to undo


def test_opening_another_project_shows_its_own_photo_and_edits_go_to_its_garments(qtbot, window, project, tmp_path):
    other = tmp_path / "other.db"
    with ProjectStore.create(other) as store:
        (image_id,) = [r.image_id for r in store.add_images([write_scene(tmp_path / "o.png", marker=(90, 90))]).results]
        store.store_predictions(image_id, [skirt_garment()], "test@1")  # garment 1 there too, same id as here
    mine_before = stored(project, window.canvas.selected_id)
    window.images.wait_for_thumbnails()
    window.open_project(other)
    assert window.image_id == image_id and window.images.current_image_id() == image_id
    gid = window.canvas.selected_id
    window.session.move_point(window.image_id, gid, 2, 33.5, 44.25)
    with ProjectStore.open(other) as store:
        assert (store.garment(gid).keypoints[2].x, store.garment(gid).keypoints[2].y) == (33.5, 44.25)
    assert stored(project, gid) == mine_before  # the first project is untouched
    window.close_project()
    assert window.canvas.garment_ids() == [] and window.images.image_ids() == []


def test_undo_of_an_edit_on_another_photo_shows_that_photo_and_its_status(window, project):
    first = window.image_id
    QTest.keyClick(window.canvas.viewport(), Qt.Key.Key_Space)  # verify, and on to the next photo
    assert window.image_id != first
    row = window.images._items[first]
    assert row.text().endswith("verified")
    QTest.keyClick(window.canvas.viewport(), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.image_id == first and window.images.current_image_id() == first
    assert row.text().endswith("predicted")
    store = ProjectStore.open(project)
    assert str(store.image(first).status) == "predicted"
    store.close()


def test_a_spec_sheet_loaded_from_csv_is_kept_in_its_project_only(qtbot, window, project, tmp_path, monkeypatch):
    csv = tmp_path / "style-42.csv"
    csv.write_text("pom,size,target_cm,tolerance_cm,category\nwaist_width,M,40.25,0.635,skirt\n")
    monkeypatch.setattr("app.gui.measure_panel.QFileDialog.getOpenFileName", lambda *a, **k: (str(csv), ""))
    panel = window.measurements
    panel._load_spec_file()
    assert panel.spec_combo.currentData() == "style-42.csv"
    other = tmp_path / "other.db"
    ProjectStore.create(other).close()
    window.open_project(other)
    assert [panel.spec_combo.itemData(i) for i in range(panel.spec_combo.count())] == [None]
    window.open_project(project)
    (sheet,) = [panel._specs[n] for n in panel._specs]
    assert [(e.pom, e.size, e.target_cm, e.tolerance_cm, e.category_id) for e in sheet.entries] == [
        ("waist_width", "M", pytest.approx(40.25), pytest.approx(0.635), SKIRT)]


def test_after_choosing_a_category_keys_go_back_to_the_photo(qtbot, window, project):
    from PySide6.QtWidgets import QApplication

    gid = window.canvas.selected_id
    combo = window.inspector.category
    combo.setFocus()
    index = combo.findData(8)
    combo.setCurrentIndex(index)
    combo.activated.emit(index)  # chosen from the popup
    assert stored(project, gid).category_id == 8
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not combo, timeout=2000)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Down)
    assert stored(project, gid).category_id == 8  # the arrow did not pick the next category


def checked_skirt_panel(qtbot, sheet_rows):
    """A Measurements panel showing a skirt at 1 mm/px checked against the sheet ``sheet_rows(measured)``
    writes (a CSV with its header) for the skirt's measurements."""
    from app.gui.measure_panel import MeasurementsPanel
    from measure.calibration import Calibration
    from measure.spec import SpecSheet

    panel = MeasurementsPanel()
    qtbot.addWidget(panel)
    panel.set_calibration(Calibration.from_scale(1.0), "bench")
    points = np.array([(x, 60.0 + 7 * x % 50, 2) for x in np.linspace(100, 600, 8)])
    measured = panel.show_keypoints(SKIRT, points)
    panel.set_spec_sheets({"s": SpecSheet.from_csv_text(sheet_rows(measured))})
    panel.spec_combo.setCurrentIndex(panel.spec_combo.findData("s"))
    panel._on_spec(panel.spec_combo.currentIndex())
    panel.show_keypoints(SKIRT, points)
    return panel, measured


def test_the_measurements_table_lists_failing_poms_first_under_a_coloured_verdict(qtbot):
    from app.gui.style import FAIL_COLOUR

    def one_failing(measured):
        last = list(measured)[-1]  # the POM listed last: make it the one that fails
        rows = "".join(f"{n},M,{m.cm + (5 if n == last else 0)},0.5,skirt\n" for n, m in measured.items())
        return "pom,size,target_cm,tolerance_cm,category\n" + rows

    panel, measured = checked_skirt_panel(qtbot, one_failing)
    assert panel.table.item(0, 0).text() == list(measured)[-1] and panel.table.item(0, 3).text().startswith("fail")
    assert "FAIL" in panel.result_label.text() and FAIL_COLOUR.name() in panel.result_label.text()


def test_the_verdict_names_the_sheets_poms_a_garment_of_this_category_lacks(qtbot):
    def with_sleeves(measured):
        rows = "".join(f"{n},M,{m.cm},0.5\n" for n, m in measured.items()) + "sleeve_length,M,60,1\n"
        return "pom,size,target_cm,tolerance_cm\n" + rows

    panel, _ = checked_skirt_panel(qtbot, with_sleeves)
    text = panel.result_label.text()
    assert "PASS" in text and "1 spec POM does not apply to skirt: sleeve_length" in text


def test_undo_in_one_window_keeps_what_another_window_changed_since(qtbot, window, project, other):
    gid = window.canvas.selected_id
    original = stored(project, gid)
    window.session.move_point(window.image_id, gid, 0, 101.5, 102.25)
    other.session.move_point(other.image_id, gid, 5, 150.75, 160.5)
    window.session.stack.undo()  # takes back its own point only
    now = stored(project, gid)
    assert now.keypoints[0] == original.keypoints[0]
    assert (now.keypoints[5].x, now.keypoints[5].y) == (150.75, 160.5)

    window.session.change_category(window.image_id, gid, 8)  # a garment-wide edit...
    other.session.move_point(other.image_id, gid, 2, 50.5, 60.5)  # ...then another window's point
    with qtbot.waitSignal(window.session.failed, timeout=2000) as refused:
        window.session.stack.undo()
    assert "changed since" in refused.args[0]
    kept = stored(project, gid)
    assert kept.category_id == 8 and (kept.keypoints[2].x, kept.keypoints[2].y) == (50.5, 60.5)


def test_undo_leaves_a_point_another_window_moved_again(qtbot, window, project, other):
    gid = window.canvas.selected_id
    window.session.move_point(window.image_id, gid, 0, 101.5, 102.25)
    other.session.move_point(other.image_id, gid, 0, 140.5, 150.25)  # the same point, later
    with qtbot.waitSignal(window.session.failed, timeout=2000):
        window.session.stack.undo()
    assert (stored(project, gid).keypoints[0].x, stored(project, gid).keypoints[0].y) == (140.5, 150.25)


def test_export_dialog_refuses_an_empty_folder_field(qtbot, project):
    from app.gui.export_dialog import ExportDialog

    dialog = ExportDialog(project)
    qtbot.addWidget(dialog)
    dialog.out_dir.setText("  ")
    assert dialog.start() is False and "Choose a folder" in dialog.result.text()


def test_project_actions_are_greyed_out_without_a_project(qtbot, window, project):
    from app.gui.main_window import NEEDS_PROJECT

    assert all(window.actions.by_key[k].isEnabled() for k in NEEDS_PROJECT)
    window.close_project()
    assert not any(window.actions.by_key[k].isEnabled() for k in NEEDS_PROJECT)
    assert window.actions.open_project.isEnabled() and window.actions.new_project.isEnabled()
    fresh = MainWindow(load_model=False)
    qtbot.addWidget(fresh)
    assert not fresh.actions.verify_next.isEnabled()
    fresh.open_project(project)
    assert fresh.actions.verify_next.isEnabled()
