"""The image canvas: zoom to cursor, pan, fit, garments with editable keypoints, overlays.

The view keeps no annotation state of its own beyond what it draws: the window reloads a
garment from the store after every command and hands it back through ``update_garment``.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsItemGroup,
    QGraphicsLineItem,
    QGraphicsPixmapItem,
    QGraphicsPolygonItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
)

from app.gui.items import GarmentItem, clamp_to
from app.gui.style import MEASURE_COLOUR, POINT_RADIUS_PX
from inference.annotation import Garment

ZOOM_STEP = 1.25
MIN_BOX_PX = 4.0
# How far (screen pixels) the cursor may be from a point's centre for V / 0 / 1 / 2 / Del to act on it: the
# point's hover-enlarged radius and a little slack, so a shaky hand still hits it.
PICK_PX = POINT_RADIUS_PX * 1.4 + 3.0


class CanvasView(QGraphicsView):
    pointMoved = Signal(int, int, QPointF, QPointF)  # garment id, index, old, new (float image px)
    pointDragging = Signal(int, int, QPointF)
    garmentSelected = Signal(int)  # -1 for none
    pointContextMenu = Signal(int, int, QPoint)
    boxDrawn = Signal(QRectF)
    boxResized = Signal(int, QRectF)  # garment id, new box (float image px, inside the image)
    lineDrawn = Signal(QPointF, QPointF)
    cursorMoved = Signal(QPointF)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.BoundingRectViewportUpdate)
        self.setBackgroundBrush(QBrush(QColor(38, 40, 44)))
        self.setMouseTracking(True)
        # Panning is by dragging; scroll bars would only steal space from the image.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._pixmap = QGraphicsPixmapItem()
        self._pixmap.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._pixmap.setZValue(-100)
        self.scene().addItem(self._pixmap)
        self._garments: dict[int, GarmentItem] = {}
        self._overlay = QGraphicsItemGroup()
        self._overlay.setZValue(200)
        self.scene().addItem(self._overlay)
        self.selected_id: int | None = None
        self.hovered: tuple[int, int] | None = None  # (garment id, point index) under the cursor
        # A point chosen without the mouse (``choose_point``): what V / 0 / 1 / 2 / Del act on while the pointer
        # is off the canvas. Never a point merely clicked earlier (see ``target_point``).
        self.chosen_point: tuple[int, int] | None = None
        self._pointer: QPointF | None = None  # last pointer position over the viewport (view px); None off it
        self._drag = None  # the KeypointItem or BoxHandleItem being dragged (Esc puts it back)
        self._draw_mode: str | None = None
        self._draw_start: QPointF | None = None
        self._draw_item: QGraphicsRectItem | QGraphicsLineItem | None = None
        self._pan_from: QPoint | None = None
        self._auto_fit = True

    # Content ---------------------------------------------------------------------------------
    def set_image(self, image: QImage | QPixmap | None, garments: list[tuple[int, Garment]]) -> None:
        pixmap = QPixmap() if image is None else (image if isinstance(image, QPixmap) else QPixmap.fromImage(image))
        self._pixmap.setPixmap(pixmap)
        self.scene().setSceneRect(QRectF(pixmap.rect()).adjusted(-200, -200, 200, 200))
        self.set_garments(garments)
        self.clear_overlay()
        self.fit()

    def set_garments(self, garments: list[tuple[int, Garment]]) -> None:
        keep = self.selected_id
        for item in self._garments.values():
            self.scene().removeItem(item)
        self._garments.clear()
        self._end_drag()
        self.hovered = self.chosen_point = None
        for gid, garment in garments:
            self._garments[gid] = GarmentItem(gid, garment, self)
            self.scene().addItem(self._garments[gid])
        self.select_garment(keep if keep in self._garments else (garments[0][0] if garments else None))

    def update_garment(self, garment_id: int, garment: Garment | None) -> None:
        """Redraw one garment from its stored state (None: it no longer exists)."""
        item = self._garments.get(garment_id)
        if garment is None:
            if item is not None:
                self.scene().removeItem(item)
                del self._garments[garment_id]
            if self.selected_id == garment_id:
                self.select_garment(next(iter(self._garments), None))
            return
        if item is None:
            item = self._garments[garment_id] = GarmentItem(garment_id, garment, self)
            self.scene().addItem(item)
            if self.selected_id is None:
                self.select_garment(garment_id)  # a garment that (re)appears under an empty selection
        else:
            item.set_garment(garment)
        item.set_selected(garment_id == self.selected_id)

    def garment_ids(self) -> list[int]:
        return list(self._garments)

    def garment_item(self, garment_id: int) -> GarmentItem | None:
        return self._garments.get(garment_id)

    def image_rect(self) -> QRectF:
        return QRectF(self._pixmap.pixmap().rect())

    def select_garment(self, garment_id: int | None) -> None:
        changed = garment_id != self.selected_id
        self.selected_id = garment_id
        for gid, item in self._garments.items():
            item.set_selected(gid == garment_id)
        if changed:
            self.garmentSelected.emit(-1 if garment_id is None else garment_id)

    # Overlays (measurements, calibration board, reference line) -------------------------------
    def clear_overlay(self) -> None:
        for child in self._overlay.childItems():
            self._overlay.removeFromGroup(child)
            self.scene().removeItem(child)

    def add_overlay_line(self, p1: QPointF, p2: QPointF, label: str = "", colour: QColor = MEASURE_COLOUR) -> None:
        pen = QPen(colour, 2.0, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        line = QGraphicsLineItem(p1.x(), p1.y(), p2.x(), p2.y())
        line.setPen(pen)
        self._overlay.addToGroup(line)
        if label:
            text = QGraphicsSimpleTextItem(label)
            text.setBrush(QBrush(colour))
            text.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
            text.setPos((p1 + p2) / 2)
            self._overlay.addToGroup(text)

    def add_overlay_polygon(self, points: list[QPointF], colour: QColor) -> None:
        pen = QPen(colour, 2.0)
        pen.setCosmetic(True)
        poly = QGraphicsPolygonItem(QPolygonF(points))
        poly.setPen(pen)
        colour_fill = QColor(colour)
        colour_fill.setAlpha(40)
        poly.setBrush(QBrush(colour_fill))
        self._overlay.addToGroup(poly)

    # View control ------------------------------------------------------------------------------
    def fit(self) -> None:
        rect = self.image_rect()
        if not rect.isEmpty():
            self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self._auto_fit = True

    def zoom(self, factor: float, anchor: QPoint | None = None) -> None:
        self._auto_fit = False
        if anchor is None:
            self.scale(factor, factor)
            return
        # Keep the scene point under the cursor fixed while scaling.
        before = self.mapToScene(anchor)
        self.scale(factor, factor)
        delta = self.mapFromScene(before) - anchor
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + delta.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + delta.y())

    def zoom_level(self) -> float:
        return self.transform().m11()

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom(ZOOM_STEP**steps, event.position().toPoint())
        event.accept()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._auto_fit:
            self.fit()

    # Drawing a new garment box or a reference line ----------------------------------------------------
    def set_draw_mode(self, mode: str | None) -> None:
        """None (edit and pan), "box" (a new garment) or "line" (a reference length)."""
        self._draw_mode = mode
        self.setDragMode(QGraphicsView.DragMode.NoDrag if mode else QGraphicsView.DragMode.ScrollHandDrag)
        self.viewport().setCursor(Qt.CursorShape.CrossCursor if mode else Qt.CursorShape.OpenHandCursor)

    def to_scene(self, view_pos: QPointF) -> QPointF:
        """A view position in image pixels, fractions kept (``mapToScene`` takes whole view pixels, and a
        high-DPI screen's pointer lies between them)."""
        inverse, _ok = self.viewportTransform().inverted()
        return inverse.map(QPointF(view_pos))

    @property
    def draw_mode(self) -> str | None:
        return self._draw_mode

    def viewportEvent(self, event) -> bool:
        if event.type() == QEvent.Type.Leave:
            self._pointer = None  # the pointer went to another widget: no point is "under the cursor" now
        return super().viewportEvent(event)

    def mousePressEvent(self, event) -> None:
        self._pointer = QPointF(event.position())
        if self._draw_mode and event.button() == Qt.MouseButton.LeftButton:
            self._draw_start = self.to_scene(event.position())
            pen = QPen(QColor(255, 255, 255), 1.5, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            if self._draw_mode == "box":
                self._draw_item = QGraphicsRectItem(QRectF(self._draw_start, self._draw_start))
            else:
                self._draw_item = QGraphicsLineItem(self._draw_start.x(), self._draw_start.y(), self._draw_start.x(), self._draw_start.y())
            self._draw_item.setPen(pen)
            self._draw_item.setZValue(300)
            self.scene().addItem(self._draw_item)
            return
        if event.button() == Qt.MouseButton.MiddleButton:
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        self._pointer = QPointF(event.position())
        self.chosen_point = None  # the mouse is pointing now: it, not an earlier choice, says which point
        scene_pos = self.to_scene(event.position())
        self.cursorMoved.emit(scene_pos)
        if self._draw_item is not None and self._draw_start is not None:
            if self._draw_mode == "box":
                self._draw_item.setRect(QRectF(self._draw_start, scene_pos).normalized())
            else:
                self._draw_item.setLine(self._draw_start.x(), self._draw_start.y(), scene_pos.x(), scene_pos.y())
            return
        if self._pan_from is not None:
            delta = event.position().toPoint() - self._pan_from
            self._pan_from = event.position().toPoint()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._draw_item is not None and self._draw_start is not None:
            item, mode = self._draw_item, self._draw_mode
            self.scene().removeItem(item)
            self._draw_item = self._draw_start = None
            self.set_draw_mode(None)
            if mode == "box":
                rect = item.rect().intersected(self.image_rect())
                if rect.width() >= MIN_BOX_PX and rect.height() >= MIN_BOX_PX:
                    self.boxDrawn.emit(rect)
            else:
                line = item.line()
                if line.length() >= MIN_BOX_PX:
                    self.lineDrawn.emit(line.p1(), line.p2())
            return
        if self._pan_from is not None and event.button() == Qt.MouseButton.MiddleButton:
            self._pan_from = None
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        super().mouseReleaseEvent(event)

    # GestureListener for the items ---------------------------------------------------------------
    def point_pressed(self, garment_id: int, index: int) -> None:
        self.select_garment(garment_id)
        self._end_drag()
        item = self._garments.get(garment_id)
        if item is not None and 0 <= index < len(item.points):
            self._start_drag(item.points[index])

    def handle_pressed(self, handle) -> None:
        """A box corner pressed: Esc puts the box back until it is let go."""
        self._end_drag()
        self._start_drag(handle)

    def handle_released(self) -> None:
        self._end_drag()

    def _start_drag(self, item) -> None:
        self._drag = item
        # Esc is the window's "cancel job" shortcut; during a drag it cancels the drag instead, whichever
        # widget has the keyboard focus, so an application-wide filter watches for it until the release.
        QCoreApplication.instance().installEventFilter(self)

    def point_dragging(self, garment_id: int, index: int, pos: QPointF) -> None:
        self.pointDragging.emit(garment_id, index, pos)

    def point_released(self, garment_id: int, index: int, old: QPointF, new: QPointF) -> None:
        self._end_drag()
        new = clamp_to(self.image_rect(), new)
        if new != old:
            self.pointMoved.emit(garment_id, index, old, new)

    def _dragged_item(self):
        """The point or box corner being dragged; None when no drag is on (or its garment was redrawn with new
        items)."""
        item = self._drag
        if item is None or item.scene() is not self.scene() or not item.dragging:
            return None
        return item

    def cancel_drag(self) -> bool:
        """Esc during a drag: the point (or the box) goes back where it was and nothing is stored."""
        item = self._dragged_item()
        self._end_drag()
        return item is not None and item.cancel_drag()

    def _end_drag(self) -> None:
        if self._drag is not None:
            self._drag = None
            QCoreApplication.instance().removeEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self._drag is not None and event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            if self._dragged_item() is None:  # the drag ended without a release (its garment was redrawn)
                self._end_drag()
                return super().eventFilter(watched, event)
            # While the mouse holds a point or a corner, keys wait: Esc puts it back; any other shortcut (the
            # next photo, verify, delete) would pull the garment from under the drag and lose it silently.
            event.accept()  # an accepted ShortcutOverride keeps the window's shortcut from firing
            if event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Escape:
                self.cancel_drag()
            return True
        return super().eventFilter(watched, event)

    def point_hovered(self, garment_id: int, index: int | None) -> None:
        self.hovered = None if index is None else (garment_id, index)

    def point_context_menu(self, garment_id: int, index: int, screen_pos) -> None:
        self.select_garment(garment_id)
        self.pointContextMenu.emit(garment_id, index, screen_pos)

    def garment_pressed(self, garment_id: int) -> None:
        self.select_garment(garment_id)

    def box_resized(self, garment_id: int, old: QRectF, new: QRectF) -> None:
        box = new.normalized().intersected(self.image_rect()) if not self.image_rect().isEmpty() else new
        if box.width() < MIN_BOX_PX or box.height() < MIN_BOX_PX or box == old:
            item = self._garments.get(garment_id)
            if item is not None:
                item.show_box(old)  # too small or unchanged: nothing to store, put the box back
            return
        self.boxResized.emit(garment_id, box)

    def point_at(self, view_pos: QPointF) -> tuple[int, int] | None:
        """The shown point nearest ``view_pos`` (view pixels) within ``PICK_PX``; the selected garment's first."""
        best, best_d = None, PICK_PX
        order = sorted(self._garments.items(), key=lambda kv: kv[0] != self.selected_id)
        transform = self.viewportTransform()
        for gid, item in order:
            for point in item.points:
                if not point.isVisible():
                    continue  # absent: not drawn, nothing to point at
                p = transform.map(point.pos())
                d = math.hypot(p.x() - view_pos.x(), p.y() - view_pos.y())
                if d < best_d:
                    best, best_d = (gid, point.index), d
        return best

    def choose_point(self, garment_id: int, index: int) -> None:
        """Make a point the keys' target without the mouse (e.g. its row picked in the inspector's table)."""
        self.select_garment(garment_id)
        self.chosen_point = (garment_id, index)

    def target_point(self) -> tuple[int, int] | None:
        """The point V / 0 / 1 / 2 / Del act on: the one under the cursor, as the user guide says, or None.

        This used to fall back to the last pressed point, so a key pressed with the cursor over empty
        background changed a point clicked long before (and out of sight). A point clicked earlier is never
        the target now. The one fallback left is for keyboard use: a point chosen with ``choose_point`` (not
        with the mouse) while the pointer is off the canvas; any mouse move over the canvas drops it.
        """
        if self._pointer is not None:
            return self.point_at(self._pointer)
        chosen = self.chosen_point
        if chosen is not None:
            item = self._garments.get(chosen[0])
            if item is not None and 0 <= chosen[1] < len(item.points) and item.points[chosen[1]].isVisible():
                return chosen
        return None
