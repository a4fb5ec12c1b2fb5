"""Human edits of garments, each in its own transaction with an edit-history row (mixed into ProjectStore).

History values are JSON: point edits store ``{"index", "keypoint", "status", "category_id", "layout"}``,
box edits ``{"bbox", "status"}``, whole-garment edits ``{"garment"}``, deletes ``{"garment",
"prediction", "measurements", "created_at"}``, verify ``{"status"}``, verify_image and add_garment the
image's ``{"verified_at"}``. ``revert_edit`` applies an entry's old value, which is also how a delete is
undone; it refuses an entry whose garment is not the one it was written for any more (another image, a
later garment under a reused id, another category or number of points), and a delete already undone.
Garment ids are never reused (AUTOINCREMENT, migration 0005); older projects may hold history written
before that, which these checks keep from landing on the wrong garment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, object_session

from inference.annotation import Garment, GarmentStatus, Keypoint, PointSource, Visibility

from .convert import (
    BOX_BY_HAND_KEY,
    LAYOUT_KEY,
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
from .models import LAYOUT_DF2, CalibrationRow, EditRow, GarmentRow, ImageRow, MeasurementRow, utcnow


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


def _naive_utc(value: datetime) -> datetime:
    """SQLite gives timestamps back without a zone; rows not yet read back still carry UTC."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else _naive_utc(value).isoformat()


def _unstamp(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _removes_garment(edit: EditRow) -> bool:
    """A delete, or the revert of an add (or of a restore): the entry holds the whole garment it removed."""
    return edit.action == "delete_garment" or (
        edit.action == "revert_edit" and edit.new_value is None and "garment" in (edit.old_value or {})
    )


def _creates_garment(edit: EditRow) -> bool:
    """An add, or the revert of a delete (it put the garment back): reverting it removes the garment."""
    return edit.action == "add_garment" or (
        edit.action == "revert_edit" and edit.garment_id is not None and "garment" not in (edit.old_value or {})
    )


def _drop_measurements(row: GarmentRow) -> None:
    """The measurements stored from a garment's points, gone with the points they came from (stored again when
    its photo is verified, or by `measure --project`)."""
    session = object_session(row)
    if session is not None and row.id is not None:
        session.execute(delete(MeasurementRow).where(MeasurementRow.garment_id == row.id))


def _check_on_photo(point: Keypoint, width: int, height: int) -> None:
    """A person's point is on the photo (the canvas keeps it there): one off it, or not a number, is another
    program's mistake and is refused rather than stored and exported."""
    if not (math.isfinite(point.x) and math.isfinite(point.y)
            and 0.0 <= point.x <= width and 0.0 <= point.y <= height):
        raise StoreError(f"point ({point.x:g}, {point.y:g}) is not on the {width}x{height} photo")


def _has_human_work(row: GarmentRow) -> bool:
    """Points a person placed, a box a person set, or a category other than the model's: a garment like this
    must not read "predicted", or the next prediction run would replace it."""
    if any(k.source == PointSource.HUMAN for k in row.keypoints) or (row.attributes or {}).get(BOX_BY_HAND_KEY):
        return True
    return row.prediction is not None and int(row.prediction.get("category_id", row.category_id)) != row.category_id


class EditsMixin:
    # Provided by ProjectStore: _write(), _read(), _garment_row(), _image_row(), path.

    def _record(self, s: Session, image_id: int, garment_id: int | None, action: str, old, new) -> None:
        s.add(EditRow(image_id=image_id, garment_id=garment_id, action=action, old_value=old, new_value=new))

    @staticmethod
    def _touch(row: GarmentRow, points_moved: bool = True) -> None:
        """A human changed the garment: it is corrected now (a verified one needs verifying again), and the
        measurements stored from its old points go: a QC report must not show lengths the garment no longer
        has (they are stored again when the photo is verified, or by `measure --project`)."""
        row.status = GarmentStatus.CORRECTED
        row.updated_at = utcnow()
        row.image.verified_at = None
        if points_moved:
            _drop_measurements(row)

    # ---- points -------------------------------------------------------------------------------------

    def _edit_point(self, action: str, garment_id: int, index: int, change) -> Keypoint:
        with self._write() as s:
            row = self._garment_row(s, garment_id)
            if not 0 <= index < len(row.keypoints):
                raise StoreError(f"garment {garment_id} has no keypoint {index} (0..{len(row.keypoints) - 1})")
            krow = row.keypoints[index]
            old = keypoint_from_row(krow)
            new = change(old)
            if action in ("move_point", "add_point"):
                _check_on_photo(new, row.image.width, row.image.height)
            old_status = row.status
            write_keypoint(krow, new)
            self._touch(row)
            # the category and layout say which landmark slot ``index`` is: a revert after a category change
            # must not write this point into another landmark's slot
            slot = {"category_id": row.category_id, "layout": row.layout}
            self._record(
                s, row.image_id, garment_id, action,
                {"index": index, "keypoint": keypoint_to_dict(old), "status": old_status, **slot},
                {"index": index, "keypoint": keypoint_to_dict(new), "status": row.status, **slot},
            )
            return old

    def move_point(self, garment_id: int, index: int, x: float, y: float) -> Keypoint:
        """Move a point; it becomes a person's point. A point the model marked occluded (it was unsure of it)
        becomes visible: the person put it where they see it. One a person marked occluded stays occluded.
        Returns the whole old keypoint (position, visibility, score, source) for undo."""

        def change(kp: Keypoint) -> Keypoint:
            moved = kp.moved(x, y)
            if kp.source == PointSource.MODEL and kp.visibility == Visibility.OCCLUDED:
                moved = replace(moved, visibility=Visibility.VISIBLE)
            return moved

        return self._edit_point("move_point", garment_id, index, change)

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
            self._touch(row, points_moved=False)  # lengths come from the points: a box leaves them true
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
                if (new.category_id, new.keypoints) != (old.category_id, old.keypoints):
                    _drop_measurements(row)  # an undo or a revert moved the points the lengths came from
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
            was_verified = _stamp(image.verified_at)  # an image confirmed empty: reverting the add says so again
            image.verified_at = None
            s.flush()
            self._record(s, image_id, row.id, "add_garment", {"verified_at": was_verified},
                         {"garment": garment_to_dict(garment)})
            return row.id

    def delete_garment(self, garment_id: int) -> Garment:
        with self._write() as s:
            row = self._garment_row(s, garment_id)
            old = garment_from_row(row)
            self._record(s, row.image_id, garment_id, "delete_garment", self._removal(s, row), None)
            # a verification covered the garments as they were; with one gone (maybe the last) it says
            # nothing about an image now empty
            row.image.verified_at = None
            s.delete(row)
            return old

    @staticmethod
    def _removal(s: Session, row: GarmentRow) -> dict:
        """All a removed garment needs to come back as it was: itself, the model's snapshot, its
        measurements (restored rather than left for the next measuring run) and when it was made."""
        measurements = s.scalars(
            select(MeasurementRow).where(MeasurementRow.garment_id == row.id).order_by(MeasurementRow.id)
        )
        return {
            "garment": garment_to_dict(garment_from_row(row)),
            "prediction": row.prediction,
            "measurements": [
                {"pom": m.pom, "value_mm": m.value_mm, "points": m.points, "calibration_id": m.calibration_id,
                 "created_at": _stamp(m.created_at)}
                for m in measurements
            ],
            "created_at": _stamp(row.created_at),
        }

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
            was = _stamp(image.verified_at)
            image.verified_at = utcnow()
            # the image's own mark (all an empty image has) is history too, and can be reverted
            self._record(s, image_id, None, "verify_image", {"verified_at": was}, {"verified_at": _stamp(image.verified_at)})
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
        """Put back the value an edit replaced; returns the garment id it applies to (None for an image's
        own verification). Raises StoreError when the edit cannot be applied to the project as it is now."""
        with self._write() as s:
            edit = s.get(EditRow, edit_id)
            if edit is None:
                raise StoreError(f"no edit with id {edit_id} in {self.path}")
            old = edit.old_value or {}
            if _removes_garment(edit):
                return self._restore_garment(s, edit)
            if edit.garment_id is None and "verified_at" in old:  # verify_image, or the revert of one
                image = self._image_row(s, edit.image_id)
                before = _stamp(image.verified_at)
                image.verified_at = _unstamp(old["verified_at"])
                self._record(s, edit.image_id, None, "revert_edit", {"edit_id": edit_id, "verified_at": before},
                             {"verified_at": old["verified_at"]})
                return None
            if edit.garment_id is None or (
                edit.action not in POINT_ACTIONS | GARMENT_ACTIONS | {"set_box", "verify", "add_garment"}
            ):
                raise StoreError(f"edit {edit_id} ({edit.action}) cannot be reverted")
            row = s.get(GarmentRow, edit.garment_id)
            if row is None:
                raise StoreError(f"edit {edit_id} ({edit.action}) cannot be reverted: garment {edit.garment_id} "
                                 "is no longer in the project")
            self._check_same_garment(s, edit, row)
            if _creates_garment(edit):
                removal = self._removal(s, row)
                image = row.image
                s.delete(row)
                s.flush()
                if old.get("verified_at") and not s.scalar(select(GarmentRow.id).where(GarmentRow.image_id == image.id)):
                    image.verified_at = _unstamp(old["verified_at"])  # an empty image verified before the add
                self._record(s, edit.image_id, edit.garment_id, "revert_edit", {"edit_id": edit_id, **removal}, None)
                return edit.garment_id
            before = garment_to_dict(garment_from_row(row))
            if edit.action in POINT_ACTIONS:
                write_keypoint(row.keypoints[old["index"]], keypoint_from_dict(old["keypoint"]))
                row.status = old["status"]
                _drop_measurements(row)  # the point the lengths came from moved back
            elif edit.action == "set_box":
                row.x1, row.y1, row.x2, row.y2 = old["bbox"]
                row.status = old["status"]
                if "attributes" in old:  # older entries did not keep them
                    row.attributes = old["attributes"]
            elif edit.action == "verify":
                row.status = old["status"]
            else:
                write_garment(row, garment_from_dict(old["garment"]))
            if self._changed_since(s, edit) or (row.status == GarmentStatus.PREDICTED and _has_human_work(row)):
                # the edit's old status described the garment before it; later edits (or points a person
                # placed) are still there, and "predicted" would let the next prediction run replace them
                row.status = GarmentStatus.CORRECTED
            row.updated_at = utcnow()
            after = garment_to_dict(garment_from_row(row))
            self._record(s, edit.image_id, edit.garment_id, "revert_edit", {"edit_id": edit_id, "garment": before}, {"garment": after})
            return edit.garment_id

    def _check_same_garment(self, s: Session, edit: EditRow, row: GarmentRow) -> None:
        """Refuse an edit written for another garment than the one holding its garment id now, or for this
        garment when it had another category (its point index would name another landmark)."""
        why = None
        if row.image_id != edit.image_id:
            why = f"garment {row.id} now belongs to image {row.image_id}, the edit was made on image {edit.image_id}"
        elif _naive_utc(row.created_at) > _naive_utc(edit.created_at):
            why = f"garment {row.id} was made after the edit (a deleted garment's id was given to it)"
        elif edit.action in POINT_ACTIONS:
            index = int(edit.old_value["index"])
            category, layout = self._category_at(s, edit, row)
            if (category, layout) != (row.category_id, row.layout):
                now = row.category_id if row.layout == LAYOUT_DF2 else row.layout
                then = category if layout == LAYOUT_DF2 else layout
                why = (f"garment {row.id} is category {now} now, the edit was made when it was category {then} "
                       f"(point {index} is another landmark now)")
            elif not 0 <= index < len(row.keypoints):
                why = f"garment {row.id} has no keypoint {index} now"
        if why:
            raise StoreError(f"edit {edit.id} ({edit.action}) cannot be reverted: {why}")

    @staticmethod
    def _category_at(s: Session, edit: EditRow, row: GarmentRow) -> tuple[int, str]:
        """The garment's category and layout when a point edit was made: recorded in the entry, or (entries
        written before that) the one the next whole-garment snapshot in the history started from."""
        old = edit.old_value
        if "category_id" in old:
            return int(old["category_id"]), str(old.get("layout", LAYOUT_DF2))
        later = s.scalars(
            select(EditRow).where(EditRow.garment_id == edit.garment_id, EditRow.id > edit.id).order_by(EditRow.id)
        )
        for e in later:
            snapshot = (e.old_value or {}).get("garment")
            if isinstance(snapshot, dict):
                return int(snapshot["category_id"]), str((snapshot.get("extra") or {}).get(LAYOUT_KEY, LAYOUT_DF2))
        return row.category_id, row.layout

    @staticmethod
    def _changed_since(s: Session, edit: EditRow) -> bool:
        """Has the garment been changed since this edit by anything not reverted since? Reverts of later edits
        only take those back; a revert of an earlier edit (or of this one) changed it again."""
        later = s.scalars(
            select(EditRow).where(EditRow.garment_id == edit.garment_id, EditRow.id > edit.id).order_by(EditRow.id)
        ).all()
        reverts: dict[int, list[EditRow]] = {}
        for e in later:
            if e.action == "revert_edit" and "edit_id" in (e.old_value or {}):
                reverts.setdefault(int(e.old_value["edit_id"]), []).append(e)

        def undone(e: EditRow) -> bool:  # reverted by a revert that was not itself reverted
            return any(not undone(r) for r in reverts.get(e.id, ()))

        for e in later:
            target = (e.old_value or {}).get("edit_id") if e.action == "revert_edit" else None
            if target is not None and int(target) > edit.id:
                continue  # takes back a later edit: no change of its own
            if not undone(e):
                return True
        return False

    def _restore_garment(self, s: Session, edit: EditRow) -> int:
        """Put a removed garment back, with its model snapshot and measurements, under its own id when that
        is free (undo steps name it by that id); refused when this removal was undone already."""
        old = edit.old_value
        restores = s.scalars(select(EditRow).where(EditRow.image_id == edit.image_id, EditRow.action == "revert_edit"))
        for r in restores:
            if (r.old_value or {}).get("edit_id") == edit.id and r.garment_id is not None \
                    and s.get(GarmentRow, r.garment_id) is not None:
                raise StoreError(f"edit {edit.id} ({edit.action}) was reverted already: garment {r.garment_id} "
                                 "is in the project")
        image = s.get(ImageRow, edit.image_id)
        if image is None:
            raise StoreError(f"edit {edit.id} ({edit.action}) cannot be reverted: image {edit.image_id} is gone")
        restored = garment_from_dict(old["garment"])
        validate_garment(restored)
        row = GarmentRow(image_id=edit.image_id, prediction=old.get("prediction"))
        if edit.garment_id is not None and s.get(GarmentRow, edit.garment_id) is None:
            row.id = edit.garment_id  # ids are never reused (0005); an older project's id may be taken
        row.created_at = _unstamp(old.get("created_at")) or self._first_seen(s, edit)
        write_garment(row, restored)
        s.add(row)
        image.verified_at = None
        s.flush()
        calibrations = {c for (c,) in s.execute(select(CalibrationRow.id))}
        for m in old.get("measurements") or ():
            s.add(MeasurementRow(
                garment_id=row.id, pom=m["pom"], value_mm=float(m["value_mm"]), points=m["points"],
                calibration_id=m.get("calibration_id") if m.get("calibration_id") in calibrations else None,
                created_at=_unstamp(m.get("created_at")) or utcnow(),
            ))
        self._record(s, edit.image_id, row.id, "revert_edit", {"edit_id": edit.id}, {"garment": garment_to_dict(restored)})
        return row.id

    @staticmethod
    def _first_seen(s: Session, edit: EditRow) -> datetime:
        """When a garment removed by an entry written before removals kept it came to be: its first history
        entry since its id was last freed, so its own earlier edits can still be reverted."""
        rows = s.scalars(
            select(EditRow).where(EditRow.garment_id == edit.garment_id, EditRow.image_id == edit.image_id,
                                  EditRow.id < edit.id).order_by(EditRow.id)
        ).all()
        first = edit.created_at
        for e in reversed(rows):
            if _removes_garment(e):
                break
            first = e.created_at
        return first
