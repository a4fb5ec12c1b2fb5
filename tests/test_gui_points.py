"""Editing single points on the canvas through real mouse and key events: points stay on the photo, keys act
only on the point under the cursor, V toggles visible / occluded, moving a model-occluded point makes it
visible, and Esc cancels a drag."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from dataclasses import replace

import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtTest import QTest
from test_gui import build_project, drag, skirt_garment, stored, view_point, write_scene
from test_gui import window as window  # noqa: F401 (the fixture, used by name)

from app.store.repository import ProjectStore
from inference.annotation import GarmentStatus, Keypoint, PointSource, Visibility

pytest.importorskip("pytestqt")

WIDTH, HEIGHT = 360, 320  # the photos test_gui.write_scene writes
ORANGE = 2  # the point the model marked occluded (unsure of it) in this module's project


def orange_skirt():
    """test_gui's skirt with one point the model was unsure of: stored occluded, drawn as an orange ring."""
    garment = skirt_garment()
    points = list(garment.keypoints)
    points[ORANGE] = replace(points[ORANGE], visibility=Visibility.OCCLUDED, score=0.15)
    return garment.with_keypoints(tuple(points))


@pytest.fixture
def project(tmp_path):
    return build_project(tmp_path, orange_skirt(), photos=2)


def view_of(win, x: float, y: float) -> QPoint:
    return win.canvas.mapFromScene(QPointF(x, y))


def zoom_out(win) -> None:
    """Zoomed out (View → Zoom out, twice) the photo has dark margin on every side."""
    for _ in range(2):
        win.actions.zoom_out.trigger()
    win.canvas.centerOn(QPointF(WIDTH / 2, HEIGHT / 2))


def status_text(win) -> str:
    return win.statusBar().currentMessage()


# 1. Points stay on the photo --------------------------------------------------------------------------------

def test_a_point_dragged_onto_the_margin_stops_at_the_photos_edge(window, project):
    gid = window.canvas.selected_id
    viewport = window.canvas.viewport()
    zoom_out(window)
    start = view_point(window, gid, 1)
    end = view_of(window, -40.0, 150.0)
    assert viewport.rect().contains(end) and window.canvas.to_scene(QPointF(end)).x() < 0  # on the dark margin
    drag(window, start, end)
    kp = stored(project, gid).keypoints[1]
    before = skirt_garment().keypoints[1]
    expected_y = before.y + (window.canvas.to_scene(QPointF(end)) - window.canvas.to_scene(QPointF(start))).y()
    assert kp.x == 0.0 and kp.y == pytest.approx(expected_y, abs=1e-6)  # x clamped, y kept (fractions too)
    shown = window.canvas.garment_item(gid).points[1].pos()
    assert (shown.x(), shown.y()) == (kp.x, kp.y)

    # Past the far corner: both coordinates stop at the edge, [0, width] x [0, height].
    drag(window, view_point(window, gid, 3), view_of(window, WIDTH + 80.0, HEIGHT + 80.0))
    kp = stored(project, gid).keypoints[3]
    assert (kp.x, kp.y) == (float(WIDTH), float(HEIGHT))


def test_a_pressed_with_the_cursor_on_the_margin_places_the_point_on_the_photos_edge(window, project):
    gid = window.canvas.selected_id
    window.session.set_visibility(window.image_id, gid, 0, Visibility.ABSENT)
    viewport = window.canvas.viewport()
    zoom_out(window)
    where = view_of(window, -30.0, 100.3)
    assert viewport.rect().contains(where)
    QTest.mouseMove(viewport, where)
    QTest.keyClick(viewport, Qt.Key.Key_A)
    kp = stored(project, gid).keypoints[0]
    assert kp.visibility == Visibility.VISIBLE
    assert kp.x == 0.0 and kp.y == pytest.approx(window.canvas.to_scene(QPointF(where)).y(), abs=1e-6)
    # Also when a position is given (the same path the key takes)
    window.session.set_visibility(window.image_id, gid, 0, Visibility.ABSENT)
    window.editor.place_next_missing(QPointF(WIDTH + 12.5, 40.25))
    kp = stored(project, gid).keypoints[0]
    assert (kp.x, kp.y) == (float(WIDTH), 40.25)


# 2. Keys act on the point under the cursor only ---------------------------------------------------------------

@pytest.mark.parametrize("key", [Qt.Key.Key_V, Qt.Key.Key_0, Qt.Key.Key_Delete, Qt.Key.Key_1])
def test_keys_with_the_cursor_on_empty_background_do_nothing_to_a_point_clicked_before(window, project, key):
    gid = window.canvas.selected_id
    before = stored(project, gid)
    viewport = window.canvas.viewport()
    clicked = view_point(window, gid, 4)
    QTest.mouseMove(viewport, clicked)
    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, clicked)
    QTest.mouseMove(viewport, view_of(window, 200.0, 250.0))  # empty photo, far from every point
    QTest.keyClick(viewport, key)
    assert stored(project, gid) == before and window.session.stack.count() == 0
    assert "Point at a keypoint first" in status_text(window)
    # Off the canvas altogether (the pointer over the inspector) a clicked point is not the target either
    QTest.mouseMove(window.inspector, QPoint(10, 10))
    assert window.canvas.target_point() is None


def test_keys_act_on_a_point_a_few_pixels_from_the_cursor(window, project):
    gid = window.canvas.selected_id
    viewport = window.canvas.viewport()
    QTest.mouseMove(viewport, view_point(window, gid, 4) + QPoint(4, -3))  # a shaky hand: next to the dot
    QTest.keyClick(viewport, Qt.Key.Key_1)
    assert stored(project, gid).keypoints[4].visibility == Visibility.OCCLUDED
    QTest.keyClick(viewport, Qt.Key.Key_Delete)
    assert stored(project, gid).keypoints[4].visibility == Visibility.ABSENT


def test_a_point_chosen_without_the_mouse_is_the_target_only_while_the_pointer_is_off_the_canvas(window, project):
    gid = window.canvas.selected_id
    viewport = window.canvas.viewport()
    QTest.mouseMove(viewport, view_of(window, 200.0, 250.0))
    QTest.mouseMove(window.inspector, QPoint(10, 10))  # the pointer leaves the canvas
    window.canvas.choose_point(gid, 5)  # e.g. the landmark's row picked in the inspector
    QTest.keyClick(viewport, Qt.Key.Key_V)
    assert stored(project, gid).keypoints[5].visibility == Visibility.OCCLUDED
    QTest.mouseMove(viewport, view_of(window, 200.0, 250.0))  # back on the canvas, on no point
    QTest.keyClick(viewport, Qt.Key.Key_V)
    assert stored(project, gid).keypoints[5].visibility == Visibility.OCCLUDED
    assert window.session.stack.count() == 1


# 3. V toggles visible / occluded -------------------------------------------------------------------------------

def test_v_toggles_visible_and_occluded_and_never_hides_the_point(window, project):
    gid = window.canvas.selected_id
    viewport = window.canvas.viewport()
    QTest.mouseMove(viewport, view_point(window, gid, 6))
    seen = []
    for _ in range(3):
        QTest.keyClick(viewport, Qt.Key.Key_V)
        seen.append(stored(project, gid).keypoints[6].visibility)
        assert window.canvas.garment_item(gid).points[6].isVisible()
    assert seen == [Visibility.OCCLUDED, Visibility.VISIBLE, Visibility.OCCLUDED]
    QTest.keyClick(viewport, Qt.Key.Key_0)  # removing is 0 / Del
    assert stored(project, gid).keypoints[6].visibility == Visibility.ABSENT


# 4. Moving a point the model marked occluded makes it visible ------------------------------------------------------

def test_dragging_a_model_occluded_point_makes_it_visible_and_undo_restores_it_exactly(window, project):
    gid = window.canvas.selected_id
    before = stored(project, gid)
    assert before.keypoints[ORANGE].visibility == Visibility.OCCLUDED
    assert before.keypoints[ORANGE].source == PointSource.MODEL
    start = view_point(window, gid, ORANGE)
    drag(window, start, start + QPoint(21, 13))
    kp = stored(project, gid).keypoints[ORANGE]
    assert kp.visibility == Visibility.VISIBLE and kp.source == PointSource.HUMAN
    assert window.canvas.garment_item(gid).points[ORANGE].visibility == Visibility.VISIBLE
    QTest.keyClick(window.canvas.viewport(), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert stored(project, gid) == before and stored(project, gid).keypoints[ORANGE] == before.keypoints[ORANGE]


def test_dragging_a_point_a_person_marked_occluded_keeps_it_occluded(window, project):
    gid = window.canvas.selected_id
    viewport = window.canvas.viewport()
    QTest.mouseMove(viewport, view_point(window, gid, 5))
    QTest.keyClick(viewport, Qt.Key.Key_1)
    assert stored(project, gid).keypoints[5].visibility == Visibility.OCCLUDED
    start = view_point(window, gid, 5)
    drag(window, start, start + QPoint(-17, 11))
    kp = stored(project, gid).keypoints[5]
    assert kp.visibility == Visibility.OCCLUDED and kp.source == PointSource.HUMAN


def test_store_move_point_makes_only_a_model_occluded_point_visible_and_returns_the_whole_old_point(tmp_path):
    store = ProjectStore.create(tmp_path / "p.db")
    try:
        (image_id,) = [r.image_id for r in store.add_images([write_scene(tmp_path / "a.png")]).results]
        store.store_predictions(image_id, [orange_skirt()], "test@1")
        (gid,) = [g for g, _ in store.garments(image_id)]
        before = store.garment(gid).keypoints[ORANGE]
        old = store.move_point(gid, ORANGE, 101.25, 77.5)
        assert old == before == Keypoint(before.x, before.y, Visibility.OCCLUDED, 0.15, PointSource.MODEL)
        assert store.garment(gid).keypoints[ORANGE] == Keypoint(101.25, 77.5, Visibility.VISIBLE, 0.15, PointSource.HUMAN)
        (move,) = [e for e in store.history(garment_id=gid) if e.action == "move_point"]
        store.revert_edit(move.id)
        assert store.garment(gid).keypoints[ORANGE] == before  # the history entry holds the whole old point
        store.set_visibility(gid, 1, Visibility.OCCLUDED)  # a person says it is hidden
        store.move_point(gid, 1, 90.5, 70.25)
        assert store.garment(gid).keypoints[1].visibility == Visibility.OCCLUDED
        assert store.garment(gid).status == GarmentStatus.CORRECTED
    finally:
        store.close()


def press_and_move(viewport, start: QPoint, end: QPoint) -> None:
    """Press at ``start`` and move to ``end`` by way of the middle, without letting go."""
    QTest.mouseMove(viewport, start)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(viewport, (start + end) / 2)
    QTest.mouseMove(viewport, end)


# 5. Esc cancels a drag -----------------------------------------------------------------------------------------------

def test_esc_during_a_drag_puts_the_point_back_and_stores_nothing(window, project):
    gid = window.canvas.selected_id
    before = stored(project, gid)
    viewport = window.canvas.viewport()
    item = window.canvas.garment_item(gid).points[1]
    home = QPointF(item.pos())
    start = view_point(window, gid, 1)
    end = start + QPoint(40, 25)
    press_and_move(viewport, start, end)
    assert item.pos() != home  # it follows the mouse while dragged
    QTest.keyClick(viewport, Qt.Key.Key_Escape)
    assert item.pos() == home
    QTest.mouseMove(viewport, end + QPoint(5, 5))  # the rest of the drag does nothing
    assert item.pos() == home
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end + QPoint(5, 5))
    assert item.pos() == home
    assert stored(project, gid) == before and window.session.stack.count() == 0

    # Esc is the window's own shortcut again afterwards (it leaves box drawing), and dragging still works.
    QTest.keyClick(viewport, Qt.Key.Key_B)
    assert window.canvas.draw_mode == "box"
    QTest.keyClick(viewport, Qt.Key.Key_Escape)
    assert window.canvas.draw_mode is None
    drag(window, start, end)
    assert stored(project, gid).keypoints[1] != before.keypoints[1] and window.session.stack.count() == 1


def test_esc_during_a_box_corner_drag_puts_the_box_back_and_stores_nothing(window, project):
    gid = window.canvas.selected_id
    before = stored(project, gid)
    item = window.canvas.garment_item(gid)
    handle = next(h for h in item.handles if h.corner == "bottom_right")
    box = QRectF(item.rect())
    viewport = window.canvas.viewport()
    start = window.canvas.mapFromScene(handle.pos())
    press_and_move(viewport, start, start + QPoint(-31, -17))
    assert item.rect() != box  # the box follows the corner
    QTest.keyClick(viewport, Qt.Key.Key_Escape)
    assert item.rect() == box
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start + QPoint(-40, -20))
    assert item.rect() == box and stored(project, gid) == before and window.session.stack.count() == 0


def test_other_keys_wait_while_a_point_is_dragged(window, project):
    """PgDown (next photo) in the middle of a drag threw the drag away without a word."""
    gid = window.canvas.selected_id
    photo = window.image_id
    viewport = window.canvas.viewport()
    start = view_point(window, gid, 2)
    end = start + QPoint(22, 14)
    press_and_move(viewport, start, end)
    QTest.keyClick(viewport, Qt.Key.Key_PageDown)
    assert window.image_id == photo  # still on this photo, the drag going on
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    assert window.session.stack.count() == 1  # the drag was stored
    QTest.keyClick(viewport, Qt.Key.Key_PageDown)
    assert window.image_id != photo  # and the key works again once the mouse is let go
