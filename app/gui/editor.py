"""Canvas editing: turns gestures and shortcuts into undo commands on the current image.

After each command the session reports the garment it touched, and the editor reloads exactly
that garment from the store, so the canvas never shows state the database does not hold.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QPoint, QPointF, QRectF, Signal
from PySide6.QtWidgets import QMenu

from app.gui.backend import garment_or_none
from app.gui.canvas import CanvasView
from app.gui.commands import EditSession
from app.gui.items import clamp_to
from inference.annotation import Garment, GarmentStatus, Keypoint, PointSource, Visibility
from inference.schema import deepfashion2

# V toggles visible <-> occluded. Absent is not in the cycle: an absent point is not drawn, so once V had
# made it absent no key could reach it again (0 / Del remove a point, A places it again).
CYCLE = {Visibility.VISIBLE: Visibility.OCCLUDED, Visibility.OCCLUDED: Visibility.VISIBLE}


class Editor(QObject):
    garmentReloaded = Signal(int, object)  # garment id, Garment or None
    message = Signal(str)

    def __init__(self, canvas: CanvasView, parent=None):
        super().__init__(parent)
        self.canvas = canvas
        self.session: EditSession | None = None
        self.image_id: int | None = None
        self.new_garment_category = 1
        self._cursor = QPointF()
        canvas.pointMoved.connect(self._on_point_moved)
        canvas.boxResized.connect(self._on_box_resized)
        canvas.pointContextMenu.connect(self._on_context_menu)
        canvas.cursorMoved.connect(self._on_cursor)

    def attach(self, session: EditSession | None) -> None:
        if self.session is not None:
            self.session.garmentChanged.disconnect(self._on_changed)
            self.session.failed.disconnect(self.message)
        self.session = session
        if session is not None:
            session.garmentChanged.connect(self._on_changed)
            session.failed.connect(self.message)

    def show_image(self, image_id: int | None) -> None:
        self.image_id = image_id

    @property
    def selected(self) -> int | None:
        return self.canvas.selected_id

    def selected_garment(self) -> Garment | None:
        if self.session is None or self.selected is None:
            return None
        return garment_or_none(self.session.backend, self.selected)

    def _landmark(self, garment_id: int, index: int) -> str:
        item = self.canvas.garment_item(garment_id)
        return "" if item is None else item.points[index].name

    # Store → canvas ---------------------------------------------------------------------------------
    def _on_changed(self, image_id: int, garment_id: int) -> None:
        if image_id != self.image_id or self.session is None:
            return
        garment = garment_or_none(self.session.backend, garment_id)
        self.canvas.update_garment(garment_id, garment)
        self.garmentReloaded.emit(garment_id, garment)

    # Gestures -------------------------------------------------------------------------------------------
    def _on_point_moved(self, garment_id: int, index: int, _old: QPointF, new: QPointF) -> None:
        if self.session is None or self.image_id is None:
            return
        new = clamp_to(self.canvas.image_rect(), new)  # points stay on the photo
        self.session.move_point(self.image_id, garment_id, index, new.x(), new.y(), self._landmark(garment_id, index))

    def _on_box_resized(self, garment_id: int, box: QRectF) -> None:
        if self.session is None or self.image_id is None:
            return
        self.session.set_box(self.image_id, garment_id, (box.left(), box.top(), box.right(), box.bottom()))

    def _on_cursor(self, pos: QPointF) -> None:
        self._cursor = pos

    def _on_context_menu(self, garment_id: int, index: int, screen_pos: QPoint) -> None:
        menu = QMenu(self.canvas)
        menu.setTitle(self._landmark(garment_id, index))
        header = menu.addAction(f"{index + 1}. {self._landmark(garment_id, index)}")
        header.setEnabled(False)
        for label, vis in (("Visible (2)", Visibility.VISIBLE), ("Occluded (1)", Visibility.OCCLUDED), ("Remove (0)", Visibility.ABSENT)):
            action = menu.addAction(label)
            action.triggered.connect(lambda _=False, v=vis: self.set_visibility(v, (garment_id, index)))
        menu.popup(screen_pos)

    # Shortcut handlers ------------------------------------------------------------------------------------
    def set_visibility(self, visibility: Visibility | None, target: tuple[int, int] | None = None) -> bool:
        """Set (or with None, cycle) the visibility of the point under the cursor."""
        target = target or self.canvas.target_point()
        if self.session is None or self.image_id is None or target is None:
            self.message.emit("Point at a keypoint first (hover it), then press V / 2 / 1 / 0 / Del")
            return False
        gid, index = target
        item = self.canvas.garment_item(gid)
        if item is None:
            return False
        if visibility is None:
            visibility = CYCLE.get(item.points[index].visibility, Visibility.VISIBLE)
        if visibility == item.points[index].visibility:
            return False
        self.session.set_visibility(self.image_id, gid, index, visibility, self._landmark(gid, index))
        if visibility == Visibility.ABSENT:
            self.canvas.hovered = None  # hidden now: nothing to hover
        return True

    def place_next_missing(self, at: QPointF | None = None) -> bool:
        """Put the selected garment's first absent landmark at the cursor (or ``at``)."""
        garment = self.selected_garment()
        if garment is None or self.session is None or self.image_id is None:
            self.message.emit("Select a garment first")
            return False
        missing = [i for i, kp in enumerate(garment.keypoints) if kp.visibility == Visibility.ABSENT]
        if not missing:
            self.message.emit("Every landmark of this garment is placed")
            return False
        # the cursor may be on the margin around the photo: the point goes to the nearest place on the photo
        pos = clamp_to(self.canvas.image_rect(), at if at is not None else self._cursor)
        gid, index = self.selected, missing[0]
        self.session.place_point(self.image_id, gid, index, pos.x(), pos.y(), self._landmark(gid, index))
        remaining = len(missing) - 1
        self.message.emit(f"Placed {self._landmark(gid, index)}; {remaining} landmarks still missing")
        return True

    def delete_selected(self) -> None:
        if self.session is not None and self.image_id is not None and self.selected is not None:
            self.session.delete_garment(self.image_id, self.selected)

    def revert_selected(self) -> None:
        if self.session is None or self.image_id is None or self.selected is None:
            return
        self.session.revert(self.image_id, self.selected)

    def change_category(self, garment_id: int, category_id: int) -> None:
        if self.session is not None and self.image_id is not None:
            garment = garment_or_none(self.session.backend, garment_id)
            if garment is not None and garment.category_id != category_id:
                self.session.change_category(self.image_id, garment_id, category_id)
                self.new_garment_category = category_id

    def next_garment(self) -> None:
        ids = self.canvas.garment_ids()
        if ids:
            current = self.selected
            pos = ids.index(current) + 1 if current in ids else 0
            self.canvas.select_garment(ids[pos % len(ids)])

    def add_garment_from_box(self, rect: QRectF, predicted: Garment | None) -> int | None:
        """A drawn box: the model's landmarks inside it when there are some, else an empty garment."""
        if self.session is None or self.image_id is None:
            return None
        category = deepfashion2().category(self.new_garment_category)
        box = (rect.left(), rect.top(), rect.right(), rect.bottom())
        if predicted is not None:
            garment = Garment(
                predicted.category_id, box, predicted.keypoints, predicted.score,
                GarmentStatus.CORRECTED, predicted.model_version,
            )
            prediction = predicted
        else:
            absent = Keypoint(0.0, 0.0, Visibility.ABSENT, None, PointSource.HUMAN)
            garment = Garment(category.id, box, (absent,) * category.num_keypoints, None, GarmentStatus.CORRECTED)
            prediction = None
        gid = self.session.add_garment(self.image_id, garment, prediction)
        self.canvas.select_garment(gid)
        return gid
