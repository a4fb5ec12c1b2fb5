"""Scene items for one garment: its box (with corner handles to resize it), skeleton edges and draggable keypoints.

Items only draw and report gestures; they never write anything. The canvas turns a finished
drag into an undo command, the command writes the store, and the item is rebuilt from the store.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsSceneContextMenuEvent,
    QGraphicsSceneHoverEvent,
    QGraphicsSceneMouseEvent,
    QGraphicsSimpleTextItem,
)

from app.gui.style import POINT_RADIUS_PX, VISIBILITY_COLOURS, VISIBILITY_LABELS, category_colour
from inference.annotation import Garment, Visibility
from inference.schema import deepfashion2

Z_GARMENT = 10.0
Z_SELECTED = 100.0


class GestureListener(Protocol):
    """What the canvas offers to its items (kept as a protocol so items do not import the view)."""

    def point_pressed(self, garment_id: int, index: int) -> None: ...
    def point_dragging(self, garment_id: int, index: int, pos: QPointF) -> None: ...
    def point_released(self, garment_id: int, index: int, old: QPointF, new: QPointF) -> None: ...
    def image_rect(self) -> QRectF: ...
    def point_hovered(self, garment_id: int, index: int | None) -> None: ...
    def point_context_menu(self, garment_id: int, index: int, screen_pos) -> None: ...
    def garment_pressed(self, garment_id: int) -> None: ...
    def box_resized(self, garment_id: int, old: QRectF, new: QRectF) -> None: ...
    def handle_pressed(self, handle) -> None: ...
    def handle_released(self) -> None: ...


def clamp_to(rect: QRectF, pos: QPointF) -> QPointF:
    """``pos`` moved to the nearest point of ``rect`` (edges included; fractions kept). An empty rect (no photo
    shown) leaves it as it is."""
    if rect.isEmpty():
        return QPointF(pos)
    return QPointF(min(max(pos.x(), rect.left()), rect.right()), min(max(pos.y(), rect.top()), rect.bottom()))


class KeypointItem(QGraphicsEllipseItem):
    def __init__(self, garment: GarmentItem, index: int, name: str):
        r = POINT_RADIUS_PX
        super().__init__(QRectF(-r, -r, 2 * r, 2 * r))
        self.garment_item = garment
        self.index = index
        self.name = name
        self.visibility = Visibility.ABSENT
        self._press_pos: QPointF | None = None
        self._grab_offset = QPointF()
        # Constant on-screen size at any zoom; position stays in float scene (= image) pixels.
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)

    def set_keypoint(self, x: float, y: float, visibility: Visibility, score: float | None) -> None:
        self.visibility = Visibility(visibility)
        self.setPos(QPointF(float(x), float(y)))
        self.setVisible(self.visibility != Visibility.ABSENT)
        colour = VISIBILITY_COLOURS[self.visibility]
        if self.visibility == Visibility.OCCLUDED:
            self.setBrush(QBrush(QColor(0, 0, 0, 90)))  # hollow ring reads as "hidden" at a glance
            self.setPen(QPen(colour, 2.5))
        else:
            self.setBrush(QBrush(colour))
            self.setPen(QPen(QColor(0, 0, 0), 1.2))
        score_text = "" if score is None else f"  score {score:.2f}"
        self.setToolTip(
            f"{self.index + 1}. {self.name}\n{VISIBILITY_LABELS[self.visibility]}"
            f"  ({x:.2f}, {y:.2f}){score_text}"
        )

    # Mouse gestures -------------------------------------------------------------------------
    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            event.ignore()
            return
        self._press_pos = QPointF(self.pos())
        self._grab_offset = self.pos() - event.scenePos()
        self.garment_item.listener.point_pressed(self.garment_item.garment_id, self.index)
        event.accept()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._press_pos is None:
            return
        # A point stays on the photo: dragged onto the margin around it, it stops at the edge ([0, width] x
        # [0, height] image pixels), as a box corner does.
        new_pos = clamp_to(self.garment_item.listener.image_rect(), event.scenePos() + self._grab_offset)
        self.setPos(new_pos)
        self.garment_item.refresh_edges()
        self.garment_item.listener.point_dragging(self.garment_item.garment_id, self.index, new_pos)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._press_pos is None:
            return  # not dragged by this press, or the drag was cancelled (Esc)
        old, new = self._press_pos, QPointF(self.pos())
        self._press_pos = None
        # Told even when the point did not move, so the listener knows the drag is over.
        self.garment_item.listener.point_released(self.garment_item.garment_id, self.index, old, new)

    @property
    def dragging(self) -> bool:
        return self._press_pos is not None

    def cancel_drag(self) -> bool:
        """Put a point being dragged back where the drag started; the rest of the drag (and its release)
        does nothing. False when it was not being dragged."""
        if self._press_pos is None:
            return False
        old, self._press_pos = self._press_pos, None
        self.setPos(old)
        self.garment_item.refresh_edges()
        self.garment_item.listener.point_dragging(self.garment_item.garment_id, self.index, old)
        return True

    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.setScale(1.4)
        self.garment_item.listener.point_hovered(self.garment_item.garment_id, self.index)

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.setScale(1.0)
        self.garment_item.listener.point_hovered(self.garment_item.garment_id, None)

    def contextMenuEvent(self, event: QGraphicsSceneContextMenuEvent) -> None:
        self.garment_item.listener.point_context_menu(
            self.garment_item.garment_id, self.index, event.screenPos()
        )
        event.accept()


HANDLE_PX = 7.0  # corner handle side on screen
CORNERS = ("top_left", "top_right", "bottom_right", "bottom_left")


class BoxHandleItem(QGraphicsRectItem):
    """A corner of the selected garment's box; dragging it moves that corner, the opposite one stays."""

    def __init__(self, garment: GarmentItem, corner: str):
        h = HANDLE_PX / 2
        super().__init__(QRectF(-h, -h, 2 * h, 2 * h), garment)
        self.garment_item = garment
        self.corner = corner
        self._press_rect: QRectF | None = None
        self._grab_offset = QPointF()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setBrush(QBrush(QColor(255, 255, 255)))
        self.setPen(QPen(QColor(0, 0, 0), 1.0))
        diagonal = corner in ("top_left", "bottom_right")
        self.setCursor(Qt.CursorShape.SizeFDiagCursor if diagonal else Qt.CursorShape.SizeBDiagCursor)
        self.setZValue(1.0)  # above the skeleton, below nothing the user needs at a corner

    def corner_of(self, rect: QRectF) -> QPointF:
        return getattr(rect, {"top_left": "topLeft", "top_right": "topRight", "bottom_right": "bottomRight",
                              "bottom_left": "bottomLeft"}[self.corner])()

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            event.ignore()
            return
        self._press_rect = QRectF(self.garment_item.rect())
        self._grab_offset = self.pos() - event.scenePos()
        self.garment_item.listener.handle_pressed(self)
        event.accept()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._press_rect is None:
            return
        p = event.scenePos() + self._grab_offset
        r = QRectF(self._press_rect)
        if self.corner in ("top_left", "bottom_left"):
            r.setLeft(p.x())
        else:
            r.setRight(p.x())
        if self.corner in ("top_left", "top_right"):
            r.setTop(p.y())
        else:
            r.setBottom(p.y())
        self.garment_item.show_box(r.normalized())

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._press_rect is None:
            return  # not pressed here, or the drag was cancelled (Esc)
        old, new = self._press_rect, QRectF(self.garment_item.rect())
        self._press_rect = None
        self.garment_item.listener.handle_released()
        if old != new:
            self.garment_item.listener.box_resized(self.garment_item.garment_id, old, new)

    @property
    def dragging(self) -> bool:
        return self._press_rect is not None

    def cancel_drag(self) -> bool:
        """Put the box back as it was when this corner was pressed; the rest of the drag does nothing."""
        if self._press_rect is None:
            return False
        old, self._press_rect = self._press_rect, None
        self.garment_item.show_box(old)
        return True


class GarmentItem(QGraphicsRectItem):
    """The box is the parent; skeleton and points are children placed in scene coordinates."""

    def __init__(self, garment_id: int, garment: Garment, listener: GestureListener):
        super().__init__()
        self.garment_id = garment_id
        self.listener = listener
        self.garment = garment
        self.selected = False
        self.edges = QGraphicsPathItem(self)
        self.label = QGraphicsSimpleTextItem(self)
        self.label.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        # A dark plate under the text: the category-coloured words read over the box edge, the skeleton and
        # any photo (on the bare photo a red label over a red box line was hard to make out).
        self.label_plate = QGraphicsRectItem(self.label)
        self.label_plate.setFlag(QGraphicsItem.GraphicsItemFlag.ItemStacksBehindParent, True)
        self.label_plate.setBrush(QBrush(QColor(20, 22, 26, 190)))
        self.label_plate.setPen(QPen(Qt.PenStyle.NoPen))
        self.points: list[KeypointItem] = []
        self.handles = [BoxHandleItem(self, corner) for corner in CORNERS]
        self.set_garment(garment)

    def set_garment(self, garment: Garment) -> None:
        """Rebuild from a fresh copy read back from the store."""
        category = deepfashion2().category(garment.category_id)
        if len(self.points) != category.num_keypoints or self.garment.category_id != garment.category_id:
            for item in self.points:
                item.setParentItem(None)
                if item.scene() is not None:
                    item.scene().removeItem(item)
            self.points = [KeypointItem(self, i, name) for i, name in enumerate(category.landmarks)]
            for item in self.points:
                item.setParentItem(self)
        self.garment = garment
        self._skeleton = category.skeleton
        for item, kp in zip(self.points, garment.keypoints, strict=False):
            item.set_keypoint(kp.x, kp.y, kp.visibility, kp.score)
        x1, y1, x2, y2 = garment.bbox
        self.show_box(QRectF(QPointF(x1, y1), QPointF(x2, y2)))
        score = "" if garment.score is None else f" {garment.score:.2f}"
        self.label.setText(f"{category.name}{score} · {garment.status}")
        self.label_plate.setRect(self.label.boundingRect().adjusted(-3, -1, 3, 1))
        self._apply_style()
        self.refresh_edges()

    def show_box(self, rect: QRectF) -> None:
        """Draw the box at ``rect`` (scene = image pixels), e.g. live while a corner is dragged."""
        self.setRect(rect)
        self.label.setPos(rect.topLeft())
        for handle in self.handles:
            handle.setPos(handle.corner_of(rect))

    def set_selected(self, selected: bool) -> None:
        self.selected = selected
        self._apply_style()

    def _apply_style(self) -> None:
        colour = category_colour(self.garment.category_id)
        pen = QPen(colour, 2.5 if self.selected else 1.5)
        pen.setCosmetic(True)  # line width in screen pixels whatever the zoom
        if not self.selected:
            pen.setStyle(Qt.PenStyle.DashLine)
        self.setPen(pen)
        edge_pen = QPen(colour, 2.0 if self.selected else 1.2)
        edge_pen.setCosmetic(True)
        self.edges.setPen(edge_pen)
        self.label.setBrush(QBrush(colour))
        self.setZValue(Z_SELECTED if self.selected else Z_GARMENT)
        for item in self.points:
            item.setOpacity(1.0 if self.selected else 0.75)
        for handle in self.handles:
            handle.setVisible(self.selected)  # only the garment being edited can be resized

    def refresh_edges(self) -> None:
        path = QPainterPath()
        for a, b in self._skeleton:
            pa, pb = self.points[a], self.points[b]
            if pa.isVisible() and pb.isVisible():
                path.moveTo(pa.pos())
                path.lineTo(pb.pos())
        self.edges.setPath(path)

    def point_positions(self) -> list[tuple[float, float, Visibility]]:
        """Current on-screen positions (including an unfinished drag), for live measurements."""
        return [(p.pos().x(), p.pos().y(), p.visibility) for p in self.points]

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.listener.garment_pressed(self.garment_id)
        event.ignore()  # let the view pan from inside a box too

    def shape(self) -> QPainterPath:
        # Only the outline (not the filled box) takes clicks, so the image under it still pans.
        path = QPainterPath()
        path.addRect(self.rect())
        stroker_path = QPainterPath()
        stroker_path.addRect(self.rect().adjusted(6, 6, -6, -6))
        return path.subtracted(stroker_path)
