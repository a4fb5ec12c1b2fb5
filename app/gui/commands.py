"""Undoable edits. Every command writes the store at once (redo) and restores it exactly (undo).

Undo puts back the garment snapshot taken just before the edit (points, status, category, box)
with ``set_garment``, so side effects such as "predicted" becoming "corrected" are undone too; when the
garment was changed since by someone else (a second window), only the command's own point is put back, or
the undo is refused, so another person's work is never overwritten.
Undoing a delete restores the garment through the store's edit history (keeping its model
prediction) under its own id; ``EditSession.resolve`` follows a rename for the rare case where that id
is taken (a project from before garment ids were made unique).
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from app.gui.backend import AnnotationBackend, garment_or_none
from app.store.database import StoreError
from inference.annotation import Garment, GarmentStatus, Visibility
from inference.schema import deepfashion2


class EditSession(QObject):
    """The undo stack plus the store it edits; tells the window which garment to reload."""

    garmentChanged = Signal(int, int)  # image id, garment id (the garment may be gone)
    wrote = Signal(int)  # after this session wrote: the project's change mark just before it (see catch_up)
    failed = Signal(str)  # an edit the store refused; it is dropped from the stack

    def __init__(self, backend: AnnotationBackend, parent=None):
        super().__init__(parent)
        self.backend = backend
        self.stack = QUndoStack(self)
        self._renamed: dict[int, int] = {}

    def resolve(self, garment_id: int) -> int:
        while garment_id in self._renamed:
            garment_id = self._renamed[garment_id]
        return garment_id

    def rename(self, old_id: int, new_id: int) -> None:
        if old_id != new_id:
            self._renamed[old_id] = new_id

    def changed(self, image_id: int, garment_id: int) -> None:
        self.garmentChanged.emit(image_id, garment_id)

    def _mark(self) -> int:
        mark = getattr(self.backend, "change_mark", None)
        return mark() if mark is not None else 0

    def step(self, do) -> None:
        """Run an undo or redo (``stack.undo``/``stack.redo``) and say that this session wrote."""
        before = self._mark()
        do()
        self.wrote.emit(before)

    def push(self, command: QUndoCommand) -> bool:
        before = self._mark()
        self.stack.push(command)
        self.wrote.emit(before)
        error = getattr(command, "error", None)
        if error:
            self.failed.emit(error)
        return not error

    # The window calls these; each pushes one command, and push() runs its redo().
    def move_point(self, image_id: int, garment_id: int, index: int, x: float, y: float, name: str = "") -> None:
        self.push(PointEdit(self, image_id, garment_id, index, "move", (float(x), float(y)), name))

    def place_point(self, image_id: int, garment_id: int, index: int, x: float, y: float, name: str = "") -> None:
        self.push(PointEdit(self, image_id, garment_id, index, "add", (float(x), float(y)), name))

    def set_visibility(self, image_id: int, garment_id: int, index: int, visibility: Visibility, name: str = "") -> None:
        kind = "remove" if Visibility(visibility) == Visibility.ABSENT else "visibility"
        self.push(PointEdit(self, image_id, garment_id, index, kind, Visibility(visibility), name))

    def change_category(self, image_id: int, garment_id: int, category_id: int) -> None:
        self.push(GarmentEdit(self, image_id, garment_id, "Change category", "change_category", category_id))

    def set_box(self, image_id: int, garment_id: int, bbox: tuple[float, float, float, float]) -> None:
        self.push(GarmentEdit(self, image_id, garment_id, "Resize box", "set_box", tuple(float(v) for v in bbox)))

    def reread(self, image_id: int, garment_id: int, reading: Garment, width: float, height: float) -> None:
        name = deepfashion2().category(reading.category_id).name
        self.push(GarmentEdit(self, image_id, garment_id, f"Re-read as {name}", "reread_landmarks", reading,
                              float(width), float(height)))

    def revert(self, image_id: int, garment_id: int) -> None:
        self.push(GarmentEdit(self, image_id, garment_id, "Revert to prediction", "revert_to_prediction"))

    def verify_image(self, image_id: int) -> None:
        self.push(VerifyImage(self, image_id))

    def delete_garment(self, image_id: int, garment_id: int) -> None:
        self.push(DeleteGarment(self, image_id, garment_id))

    def add_garment(self, image_id: int, garment: Garment, prediction: Garment | None = None) -> int:
        command = AddGarment(self, image_id, garment, prediction)
        self.push(command)
        return command.garment_id


class _SnapshotEdit(QUndoCommand):
    """An edit of one existing garment, undone by writing back the snapshot taken before it.

    Subclasses define ``apply(backend, garment_id)``: the one store call that makes their edit. When the
    garment changed after the edit (another window, a re-read), the snapshot would wipe that change: a point
    edit then puts back only its own point (``undo_alone``); a garment-wide edit is not undone, and says so.
    """

    def __init__(self, session: EditSession, image_id: int, garment_id: int, text: str):
        super().__init__(text)
        self.session, self.image_id, self._garment_id = session, image_id, garment_id
        self._before: Garment | None = None
        self._after: Garment | None = None
        self._lengths: list[tuple] = []  # the garment's stored measurements before the edit (it may drop them)
        self._done = False  # redone once already (by push): later redos come from the undo stack
        self.error = ""

    @property
    def garment_id(self) -> int:
        return self.session.resolve(self._garment_id)

    def redo(self) -> None:
        gid = self.garment_id
        try:
            self._before = self.session.backend.garment(gid)
            self._lengths = [(m.pom, m.value_mm, m.points, m.calibration_id)
                             for m in self.session.backend.measurements(garment_id=gid)]
            self.apply(self.session.backend, gid)
            self._after = garment_or_none(self.session.backend, gid)  # None after a delete
        except (StoreError, ValueError) as exc:
            # e.g. the garment was deleted in another window, or has no prediction to revert to:
            # nothing was written, so the command leaves the stack instead of undoing a non-edit.
            gone = isinstance(exc, StoreError) and garment_or_none(self.session.backend, gid) is None
            self.error = (f"“{self.text()}” not done: the garment is no longer in the project (replaced by a "
                          "new model run, or deleted in another window)" if gone else str(exc))
            self._before = None
            self.setObsolete(True)
            if self._done:  # a redo from the stack: push() is not there to report it
                self.session.failed.emit(self.error)
        self._done = True
        self.session.changed(self.image_id, gid)

    def undo(self) -> None:
        gid = self.garment_id
        if self._before is not None:
            current = garment_or_none(self.session.backend, gid)
            if current is None:
                self.session.failed.emit(f"Cannot undo “{self.text()}”: the garment is gone (deleted elsewhere)")
                self.setObsolete(True)
            elif current == self._after:
                self.session.backend.set_garment(gid, self._before)
                if self._lengths:  # the points are the ones they were measured from again: so are the lengths
                    self.session.backend.replace_measurements(gid, self._lengths)
            elif not self.undo_alone(self.session.backend, gid):
                self.session.failed.emit(f"Not undone: “{self.text()}” — the garment was changed since "
                                         "(in another window?); undoing would lose that change")
                self.setObsolete(True)
        self.session.changed(self.image_id, gid)

    def undo_alone(self, backend, garment_id: int) -> bool:
        """Undo this edit only, leaving later changes by others; False when that cannot be done."""
        return False


class PointEdit(_SnapshotEdit):
    _TEXT = {"move": "Move", "add": "Place", "remove": "Remove", "visibility": "Set visibility of"}

    def __init__(self, session, image_id, garment_id, index: int, kind: str, value, name: str = ""):
        super().__init__(session, image_id, garment_id, f"{self._TEXT[kind]} {name or f'point {index + 1}'}")
        self.index, self.kind, self.value = index, kind, value

    def apply(self, backend, garment_id):
        if self.kind == "move":
            backend.move_point(garment_id, self.index, *self.value)
        elif self.kind == "add":
            backend.add_point(garment_id, self.index, *self.value)
        elif self.kind == "remove":
            backend.remove_point(garment_id, self.index)
        else:
            backend.set_visibility(garment_id, self.index, self.value)

    def undo_alone(self, backend, garment_id: int) -> bool:
        current = backend.garment(garment_id)
        if len(current.keypoints) != len(self._before.keypoints):  # the category changed since
            return False
        if current.keypoints[self.index] != self._after.keypoints[self.index]:  # this very point moved since
            return False
        backend.set_keypoint(garment_id, self.index, self._before.keypoints[self.index])
        return True


class GarmentEdit(_SnapshotEdit):
    """A garment-wide store call such as ``change_category(gid, 3)`` or ``revert_to_prediction(gid)``."""

    def __init__(self, session, image_id, garment_id, text: str, method: str, *args):
        super().__init__(session, image_id, garment_id, text)
        self.method, self.args = method, args

    def apply(self, backend, garment_id):
        getattr(backend, self.method)(garment_id, *self.args)


class VerifyImage(QUndoCommand):
    def __init__(self, session: EditSession, image_id: int):
        super().__init__("Verify image")
        self.session, self.image_id = session, image_id
        self._before: dict[int, Garment] = {}

    def redo(self) -> None:
        backend = self.session.backend
        self._before = dict(backend.garments(self.image_id))
        backend.verify_image(self.image_id)
        for gid in self._before:
            self.session.changed(self.image_id, gid)

    def undo(self) -> None:
        for gid, garment in self._before.items():
            gid = self.session.resolve(gid)
            current = garment_or_none(self.session.backend, gid)
            if current is None:
                continue
            if current.status == GarmentStatus.VERIFIED and replace(current, status=garment.status) == garment:
                self.session.backend.set_garment(gid, garment)  # only the verification to take back
            elif current != garment:
                self.session.failed.emit(f"Garment {gid} was changed since it was verified: left as it is now")
            self.session.changed(self.image_id, gid)


class DeleteGarment(_SnapshotEdit):
    def __init__(self, session, image_id, garment_id):
        super().__init__(session, image_id, garment_id, "Delete garment")

    def apply(self, backend, garment_id):
        backend.delete_garment(garment_id)

    def undo(self) -> None:
        old_id = self.garment_id
        deletes = [e for e in self.session.backend.history(garment_id=old_id) if e.action == "delete_garment"]
        if deletes:
            new_id = self.session.backend.revert_edit(deletes[-1].id)
            self.session.rename(old_id, int(new_id))
        self.session.changed(self.image_id, self.garment_id)


class AddGarment(QUndoCommand):
    def __init__(self, session: EditSession, image_id: int, garment: Garment, prediction: Garment | None):
        super().__init__("Add garment")
        self.session, self.image_id = session, image_id
        self.garment, self.prediction = garment, prediction
        self._first_id: int | None = None

    @property
    def garment_id(self) -> int:
        return -1 if self._first_id is None else self.session.resolve(self._first_id)

    def redo(self) -> None:
        current = self.garment_id
        if self._first_id is not None and garment_or_none(self.session.backend, current) is not None:
            return
        new_id = self.session.backend.add_garment(self.image_id, self.garment, self.prediction)
        if self._first_id is None:
            self._first_id = new_id
        else:
            self.session.rename(current, new_id)
        self.session.changed(self.image_id, new_id)

    def undo(self) -> None:
        # Taking back an add through the history (revert_edit), not delete_garment: a delete is a person's
        # judgement that nothing is there, which keeps the model from placing a garment there again.
        gid = self.garment_id
        adds = [e for e in self.session.backend.history(garment_id=gid) if e.action == "add_garment"]
        try:
            self.session.backend.revert_edit(adds[-1].id)
        except (IndexError, StoreError):  # no add in its history, or changed since elsewhere: removed as before
            self.session.backend.delete_garment(gid)
        self.session.changed(self.image_id, gid)
