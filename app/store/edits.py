"""Human edits of garments, each in its own transaction with an edit-history row (mixed into ProjectStore).

History values are JSON: point edits store ``{"index", "keypoint", "status"}``, box edits ``{"bbox",
"status"}``, whole-garment edits ``{"garment"}`` (plus ``"prediction"`` for deletes), verify
``{"status"}``. ``revert_edit`` applies an entry's old value, which is also how a delete is undone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from inference.annotation import Garment, GarmentStatus, Keypoint, PointSource, Visibility

from .convert import (
    BOX_BY_HAND_KEY,
    garment_from_dict,
    garment_from_row,
    garment_to_dict,
    keypoint_from_dict,
    keypoint_from_row,
    keypoint_to_dict,
    merge_reading,
    remap_category,
    validate_garment,
    write_garment,
    write_keypoint,
)
from .database import StoreError
from .models import LAYOUT_DF2, EditRow, GarmentRow, utcnow


@dataclass(frozen=True)
class EditRecord:
    id: int
    image_id: int
    garment_id: int | None
    action: str
    old_value: dict | list | None
    new_value: dict | list | None
    created_at: datetime


POINT_ACTIONS = {"move_point", "set_visibility", "add_point", "remove_point", "set_keypoint"}
GARMENT_ACTIONS = {"change_category", "set_garment", "revert_to_prediction", "revert_edit", "reread_landmarks"}


class EditsMixin:
    # Provided by ProjectStore: _write(), _read(), _garment_row(), _image_row(), path.

    def _record(self, s: Session, image_id: int, garment_id: int | None, action: str, old, new) -> None:
        s.add(EditRow(image_id=image_id, garment_id=garment_id, action=action, old_value=old, new_value=new))

    @staticmethod
    def _touch(row: GarmentRow) -> None:
        """A human changed the garment: it is corrected now (a verified one needs verifying again)."""
        row.status = GarmentStatus.CORRECTED
        row.updated_at = utcnow()
        row.image.verified_at = None

    # ---- points -------------------------------------------------------------------------------------

    def _edit_point(self, action: str, garment_id: int, index: int, change) -> Keypoint:
        with self._write() as s:
            row = self._garment_row(s, garment_id)
            if not 0 <= index < len(row.keypoints):
                raise StoreError(f"garment {garment_id} has no keypoint {index} (0..{len(row.keypoints) - 1})")
            krow = row.keypoints[index]
            old = keypoint_from_row(krow)
            new = change(old)
            old_status = row.status
            write_keypoint(krow, new)
            self._touch(row)
            self._record(
                s, row.image_id, garment_id, action,
                {"index": index, "keypoint": keypoint_to_dict(old), "status": old_status},
                {"index": index, "keypoint": keypoint_to_dict(new), "status": row.status},
            )
            return old

    def move_point(self, garment_id: int, index: int, x: float, y: float) -> Keypoint:
        return self._edit_point("move_point", garment_id, index, lambda kp: kp.moved(x, y))

    def set_visibility(self, garment_id: int, index: int, visibility: Visibility | int) -> Keypoint:
        vis = Visibility(int(visibility))
        return self._edit_point(
            "set_visibility", garment_id, index, lambda kp: replace(kp, visibility=vis, source=PointSource.HUMAN)
        )

    def add_point(
        self, garment_id: int, index: int, x: float, y: float, visibility: Visibility = Visibility.VISIBLE
    ) -> Keypoint:
        new = Keypoint(float(x), float(y), Visibility(int(visibility)), None, PointSource.HUMAN)
        return self._edit_point("add_point", garment_id, index, lambda _kp: new)

    def remove_point(self, garment_id: int, index: int) -> Keypoint:
        """Removing a point marks it absent (visibility 0); the old point is returned for undo."""
        return self._edit_point(
            "remove_point", garment_id, index, lambda _kp: replace(Keypoint.absent(), source=PointSource.HUMAN)
        )

    def set_keypoint(self, garment_id: int, index: int, keypoint: Keypoint) -> Keypoint:
        """Write a whole keypoint (the GUI's undo of a point edit)."""
        return self._edit_point("set_keypoint", garment_id, index, lambda _kp: keypoint)

    # ---- whole garments -----------------------------------------------------------------------------

    def set_box(self, garment_id: int, bbox: tuple[float, float, float, float]) -> tuple[float, ...]:
        x1, y1, x2, y2 = (float(v) for v in bbox)
        with self._write() as s:
            row = self._garment_row(s, garment_id)
            old, old_status, old_attributes = (row.x1, row.y1, row.x2, row.y2), row.status, dict(row.attributes or {})
            row.x1, row.y1, row.x2, row.y2 = min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)
            row.attributes = {**old_attributes, BOX_BY_HAND_KEY: True}  # a new reading keeps this box
            self._touch(row)
            self._record(
                s, row.image_id, garment_id, "set_box",
                {"bbox": list(old), "status": old_status, "attributes": old_attributes},
                {"bbox": [row.x1, row.y1, row.x2, row.y2], "status": row.status, "attributes": row.attributes},
            )
            return old

    def _replace_garment(self, action: str, garment_id: int, make_new, touch: bool = True) -> Garment:
        with self._write() as s:
            row = self._garment_row(s, garment_id)
            old = garment_from_row(row)
            new = make_new(old, row)
            validate_garment(new)
            write_garment(row, new)
            if touch:
                self._touch(row)
            else:
                row.updated_at = utcnow()
            self._record(
                s, row.image_id, garment_id, action,
                {"garment": garment_to_dict(old)}, {"garment": garment_to_dict(garment_from_row(row))},
            )
            return old

    def change_category(self, garment_id: int, category_id: int) -> Garment:
        """New DF2 category; points move by landmark name, then by the shared 81-slot aggregate."""

        def make(old: Garment, row: GarmentRow) -> Garment:
            if row.layout != LAYOUT_DF2:
                raise StoreError(f"garment {garment_id} holds {row.layout} landmarks, which have no DF2 category")
            return replace(
                old, category_id=int(category_id),
                keypoints=remap_category(old.keypoints, old.category_id, int(category_id)),
            )

        return self._replace_garment("change_category", garment_id, make)

    def reread_landmarks(self, garment_id: int, reading: Garment, width: float, height: float) -> Garment:
        """The model's new reading of this garment in its current category (``convert.merge_reading``): the
        model's points are replaced, a person's are kept. A verified garment needs verifying again; a
        predicted or corrected one keeps its status. Returns the garment as it was."""

        def make(old: Garment, row: GarmentRow) -> Garment:
            if row.layout != LAYOUT_DF2:
                raise StoreError(f"garment {garment_id} holds {row.layout} landmarks, which the DF2 model cannot read")
            new = merge_reading(old, reading, width, height)
            if old.status == GarmentStatus.VERIFIED:
                row.image.verified_at = None
                new = replace(new, status=GarmentStatus.CORRECTED)
            return new

        return self._replace_garment("reread_landmarks", garment_id, make, touch=False)

    def set_garment(self, garment_id: int, garment: Garment) -> Garment:
        """Overwrite a garment as given, status included (the GUI's undo of a garment-wide edit)."""
        return self._replace_garment("set_garment", garment_id, lambda _old, _row: garment, touch=False)

    def revert_to_prediction(self, garment_id: int) -> Garment:
        def make(_old: Garment, row: GarmentRow) -> Garment:
            if row.prediction is None:
                raise StoreError(f"garment {garment_id} was added by hand; there is no prediction to revert to")
            return garment_from_dict(row.prediction)

        return self._replace_garment("revert_to_prediction", garment_id, make, touch=False)

    def add_garment(self, image_id: int, garment: Garment, prediction: Garment | None = None) -> int:
        """A garment drawn by a person (its status is kept as given when it is not predicted)."""
        validate_garment(garment)
        if garment.status == GarmentStatus.PREDICTED:
            garment = replace(garment, status=GarmentStatus.CORRECTED)
        with self._write() as s:
            image = self._image_row(s, image_id)
            row = GarmentRow(image_id=image_id, prediction=None if prediction is None else garment_to_dict(prediction))
            write_garment(row, garment)
            s.add(row)
            image.verified_at = None
            s.flush()
            self._record(s, image_id, row.id, "add_garment", None, {"garment": garment_to_dict(garment)})
            return row.id

    def delete_garment(self, garment_id: int) -> Garment:
        with self._write() as s:
            row = self._garment_row(s, garment_id)
            old = garment_from_row(row)
            self._record(
                s, row.image_id, garment_id, "delete_garment",
                {"garment": garment_to_dict(old), "prediction": row.prediction}, None,
            )
            s.delete(row)
            return old

    def verify(self, garment_id: int) -> GarmentStatus:
        with self._write() as s:
            row = self._garment_row(s, garment_id)
            old = GarmentStatus(row.status)
            row.status = GarmentStatus.VERIFIED
            row.updated_at = utcnow()
            self._record(s, row.image_id, garment_id, "verify", {"status": old}, {"status": row.status})
            return old

    def verify_image(self, image_id: int) -> dict[int, GarmentStatus]:
        """Verify every garment of an image (an image with none is marked verified as empty)."""
        with self._write() as s:
            image = self._image_row(s, image_id)
            old = {}
            for row in image.garments:
                old[row.id] = GarmentStatus(row.status)
                row.status = GarmentStatus.VERIFIED
                row.updated_at = utcnow()
                self._record(s, image_id, row.id, "verify", {"status": old[row.id]}, {"status": row.status})
            image.verified_at = utcnow()
            return old

    # ---- history ------------------------------------------------------------------------------------

    def history(self, image_id: int | None = None, garment_id: int | None = None) -> list[EditRecord]:
        q = select(EditRow).order_by(EditRow.id)
        if image_id is not None:
            q = q.where(EditRow.image_id == image_id)
        if garment_id is not None:
            q = q.where(EditRow.garment_id == garment_id)
        with self._read() as s:
            return [
                EditRecord(r.id, r.image_id, r.garment_id, r.action, r.old_value, r.new_value, r.created_at)
                for r in s.scalars(q)
            ]

    def revert_edit(self, edit_id: int) -> int | None:
        """Put back the value an edit replaced; returns the garment id it applies to (new id for a delete)."""
        with self._write() as s:
            edit = s.get(EditRow, edit_id)
            if edit is None:
                raise StoreError(f"no edit with id {edit_id} in {self.path}")
            old = edit.old_value or {}
            if edit.action == "delete_garment":
                restored = garment_from_dict(old["garment"])
                row = GarmentRow(image_id=edit.image_id, prediction=old.get("prediction"))
                if edit.garment_id is not None and s.get(GarmentRow, edit.garment_id) is None:
                    # back under its own id: SQLite hands a freed top id to the next garment, and undo steps
                    # that name this garment (or that one) must not be sent to the other
                    row.id = edit.garment_id
                write_garment(row, restored)
                s.add(row)
                s.flush()
                self._record(s, edit.image_id, row.id, "revert_edit", {"edit_id": edit_id}, {"garment": garment_to_dict(restored)})
                return row.id
            if edit.action not in POINT_ACTIONS | GARMENT_ACTIONS | {"set_box", "verify", "add_garment"}:
                raise StoreError(f"edit {edit_id} ({edit.action}) cannot be reverted")
            row = self._garment_row(s, edit.garment_id)
            before = garment_to_dict(garment_from_row(row))
            if edit.action == "add_garment":
                s.delete(row)
                self._record(s, edit.image_id, edit.garment_id, "revert_edit", {"edit_id": edit_id, "garment": before}, None)
                return edit.garment_id
            if edit.action in POINT_ACTIONS:
                write_keypoint(row.keypoints[old["index"]], keypoint_from_dict(old["keypoint"]))
                row.status = old["status"]
            elif edit.action == "set_box":
                row.x1, row.y1, row.x2, row.y2 = old["bbox"]
                row.status = old["status"]
                if "attributes" in old:  # older entries did not keep them
                    row.attributes = old["attributes"]
            elif edit.action == "verify":
                row.status = old["status"]
            else:
                write_garment(row, garment_from_dict(old["garment"]))
            row.updated_at = utcnow()
            after = garment_to_dict(garment_from_row(row))
            self._record(s, edit.image_id, edit.garment_id, "revert_edit", {"edit_id": edit_id, "garment": before}, {"garment": after})
            return edit.garment_id
