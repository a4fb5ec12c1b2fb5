"""The main window says what it did not do, and does not do what nobody asked for (annotator review,
session 14): the wheel over the category box, a stray Space on an unread photo, a second job while one
runs, a model result arriving while a box is drawn, a landmark row double-clicked."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication
from test_gui import SKIRT, other, project, skirt_garment, stored, window  # noqa: F401  (fixtures)

from app.store.repository import ImageStatus, ProjectStore
from inference.annotation import GarmentStatus


def test_the_wheel_over_the_category_box_does_not_change_the_garment(window, project):  # noqa: F811
    gid = window.canvas.selected_id
    combo = window.inspector.category
    before = combo.currentIndex()
    for delta in (-120, 120, -120):
        event = QWheelEvent(QPointF(5, 5), QPointF(combo.mapToGlobal(QPoint(5, 5))), QPoint(0, 0), QPoint(0, delta),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(combo, event)
    assert combo.currentIndex() == before and stored(project, gid).category_id == SKIRT


def test_a_first_space_on_an_unread_empty_photo_asks_and_a_second_one_verifies_it(window, project):  # noqa: F811
    ids = window.images.image_ids()
    window.images.select_image(ids[1])  # never read by the model, no garments
    assert window.image_id == ids[1]
    window.actions.verify_next.trigger()
    assert window.image_id == ids[1] and "press again" in window.statusBar().currentMessage()
    with ProjectStore.open(project) as store:
        assert store.image(ids[1]).status == ImageStatus.NEW
    window.actions.verify_next.trigger()
    with ProjectStore.open(project) as store:
        assert store.image(ids[1]).status == ImageStatus.VERIFIED
    assert window.image_id != ids[1]


def test_a_job_asked_for_while_one_runs_says_why_it_did_not_start(qtbot, window):  # noqa: F811
    release = threading.Event()

    def waits(ctx):
        release.wait(10)
        return {}

    assert window.jobs.start("First job", waits)
    try:
        assert window.jobs.start("Second job", waits) is False
        message = window.statusBar().currentMessage()
        assert "Second job" in message and "First job is still running" in message
    finally:
        release.set()
        qtbot.waitUntil(lambda: not window.jobs.busy, timeout=5000)


def test_a_model_result_while_a_box_is_drawn_still_reaches_the_canvas(window, project):  # noqa: F811
    old = window.canvas.selected_id
    window.actions.draw_box.trigger()
    with ProjectStore.open(project) as store:  # what an annotate job does for this photo
        (new,) = store.store_predictions(window.image_id, [skirt_garment()], "test@2").added
    window._on_job_item(window.image_id)
    assert window.canvas.garment_ids() == [new] and new != old
    window.cancel()
    assert window.canvas.garment_ids() == [new]


def test_double_clicking_a_landmark_row_brings_the_point_into_view(window):  # noqa: F811
    gid = window.canvas.selected_id
    window.canvas.zoom(8.0)
    point = window.canvas.garment_item(gid).points[7]
    window.inspector.points.cellDoubleClicked.emit(7, 0)
    centre = window.canvas.mapToScene(window.canvas.viewport().rect().center())
    assert abs(centre.x() - point.pos().x()) < 2 and abs(centre.y() - point.pos().y()) < 2
    assert "Landmark 8" in window.statusBar().currentMessage()


def test_a_missing_landmarks_row_says_it_is_not_placed(window):  # noqa: F811
    from inference.annotation import Visibility

    gid, index = window.canvas.selected_id, 0
    window.session.set_visibility(window.image_id, gid, index, Visibility.ABSENT)
    window.inspector.points.cellDoubleClicked.emit(index, 0)
    assert "is not placed" in window.statusBar().currentMessage()


def test_a_redo_the_project_no_longer_allows_says_so(window, project):  # noqa: F811
    gid = window.canvas.selected_id
    window.session.move_point(window.image_id, gid, 0, 101.5, 102.25)
    window.session.stack.undo()  # the garment is the model's again...
    with ProjectStore.open(project) as store:  # ...so a model run replaces it
        store.store_predictions(window.image_id, [skirt_garment()], "test@2")
    window.session.stack.redo()
    message = window.statusBar().currentMessage()
    assert "Move" in message and "no longer in the project" in message


def test_the_toolbars_undo_button_keeps_its_word_while_the_menu_names_the_step(window):  # noqa: F811
    from PySide6.QtWidgets import QToolBar

    gid = window.canvas.selected_id
    toolbar = window.findChild(QToolBar, "main-toolbar")
    button = toolbar.widgetForAction(window.actions.undo)
    width = button.sizeHint().width()
    window.session.move_point(window.image_id, gid, 0, 101.5, 102.25, "left waistband")
    assert window.actions.undo.text() == "&Undo Move left waistband"
    assert button.text() == "Undo" and button.sizeHint().width() == width
    assert "Move left waistband" in window.actions.undo.toolTip()


def test_the_shortcuts_dialog_fits_its_width_and_wraps_the_help(qtbot):
    from app.gui.actions import ShortcutsDialog

    dialog = ShortcutsDialog()
    qtbot.addWidget(dialog)
    dialog.resize(700, 600)
    dialog.show()
    qtbot.waitExposed(dialog)
    table = dialog.table
    columns = sum(table.columnWidth(c) for c in range(3))
    assert columns <= table.viewport().width() + 1  # the "What it does" header is in view
    def heights():
        return [table.rowHeight(r) for r in range(table.rowCount())]

    qtbot.waitUntil(lambda: max(heights()) > min(heights()), timeout=2000)  # a long help line wrapped


def test_back_in_a_window_it_shows_what_another_window_changed(window, project, other):  # noqa: F811
    gid = window.canvas.selected_id
    other.session.move_point(other.image_id, gid, 2, 150.75, 160.5)
    other.verify_and_next()
    assert window.canvas.garment_item(gid).points[2].pos() != QPointF(150.75, 160.5)
    window.catch_up()  # what activating the window does
    assert window.canvas.garment_item(gid).points[2].pos() == QPointF(150.75, 160.5)
    assert window.images.list.currentItem().text().endswith("verified")


def test_the_landmark_table_shows_every_column_in_the_dock(window):  # noqa: F811
    table = window.inspector.points
    assert table.rowCount() > 0
    widths = [table.columnWidth(c) for c in range(table.columnCount())]
    assert sum(widths) <= table.viewport().width() + 1 and min(widths) > 20  # y and visibility in view
    assert table.item(1, 0).toolTip() == table.item(1, 0).text()  # an elided name is there in full


def test_keys_act_on_the_point_whose_row_was_double_clicked(window, project):  # noqa: F811
    from PySide6.QtTest import QTest

    from inference.annotation import Visibility

    gid = window.canvas.selected_id
    window.inspector.points.cellDoubleClicked.emit(6, 0)
    QTest.keyClick(window.canvas.viewport(), Qt.Key.Key_V)
    assert stored(project, gid).keypoints[6].visibility == Visibility.OCCLUDED


def test_undoing_an_added_garment_is_not_a_deletion_that_blocks_the_model(window, project):  # noqa: F811
    ids = window.images.image_ids()
    window.images.select_image(ids[2])  # a photo nobody has touched
    window.session.add_garment(ids[2], skirt_garment(status=GarmentStatus.CORRECTED))
    window.session.stack.undo()
    with ProjectStore.open(project) as store:
        assert store.image(ids[2]).status == ImageStatus.NEW  # still new: auto-annotate takes it
        result = store.store_predictions(ids[2], [skirt_garment()], "test@2")
    assert result.dropped == 0 and len(result.added) == 1


def test_a_photo_added_elsewhere_appears_and_the_windows_own_edits_need_no_catching_up(window, project, tmp_path):  # noqa: F811
    from test_gui import write_scene

    gid = window.canvas.selected_id
    window.session.move_point(window.image_id, gid, 1, 120.5, 130.25)
    assert window._seen_mark == window.store.change_mark()  # its own edit: nothing to catch up on
    with ProjectStore.open(project) as store:
        store.add_image(write_scene(tmp_path / "late.png", marker=(170, 210)))
    window.catch_up()
    assert len(window.images.image_ids()) == 4


def test_undoing_an_edit_brings_back_the_measurements_it_dropped(window, project):  # noqa: F811
    gid = window.canvas.selected_id
    rows = [("hem_width", 431.5, [[1.0, 2.0], [3.0, 4.0]], None)]
    window.store.replace_measurements(gid, rows)
    window.session.set_box(window.image_id, gid, (55.0, 35.0, 265.0, 285.0))
    assert [m.value_mm for m in window.store.measurements(garment_id=gid)] == [431.5]  # a box leaves lengths true
    window.session.move_point(window.image_id, gid, 0, 101.5, 102.25)
    assert window.store.measurements(garment_id=gid) == []  # measured from a point that moved
    window.session.stack.undo()
    assert [m.value_mm for m in window.store.measurements(garment_id=gid)] == [431.5]


def test_the_windows_own_edit_does_not_hide_what_was_written_elsewhere_before_it(window, project, tmp_path):  # noqa: F811
    from test_gui import write_scene

    with ProjectStore.open(project) as store:  # another program adds a photo while this window is active...
        store.add_image(write_scene(tmp_path / "elsewhere.png", marker=(171, 211)))
    gid = window.canvas.selected_id
    window.session.move_point(window.image_id, gid, 1, 120.5, 130.25)  # ...then this window writes
    window.catch_up()
    assert len(window.images.image_ids()) == 4
