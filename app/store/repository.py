"""The project store: the repository API the GUI and the CLI use. Qt-free; one SQLite file per project.

Open or create::

    store = ProjectStore.open(path, create=True)   # checks, backs up and migrates; see app.store.database
    with ProjectStore.open(path) as store: ...      # closes the engine on exit

Images (a file inside the project folder is stored relative to it, with "/", so the folder can be moved or
copied; one outside is stored absolute; a relative path given or stored means the project folder's)::

    add_image(path, source=None, camera=None, attributes=None) -> AddImageResult(image_id, added)
    import_image(path, garments, source=None, attributes=None) -> ImportImageResult(image_id, added, garment_ids)
        the image and its dataset labels in one transaction (a killed import leaves both or neither)
    add_images(paths, ...) -> AddImagesReport(results, errors)   # duplicates (same sha256) are skipped
    image(image_id) -> ImageInfo;  resolve_path(stored_path) -> Path
    list_images(status=None, category=None) -> [ImageInfo]  # status new/predicted/corrected/verified
    next_unverified_image(after_image_id=None) -> ImageInfo | None   # wraps around

Garments (``inference.annotation.Garment``; FLD garments carry ``extra["layout"]``, category 0)::

    garments(image_id) -> [(garment_id, Garment)];  garment(garment_id) -> Garment
    store_predictions(image_id, garments, model_version=None) -> PredictionResult
        predicted garments are replaced; corrected/verified ones are never touched; a prediction of the
        same category overlapping a kept garment (IoU > 0.5) is dropped, and so is one overlapping a garment
        a person deleted (a rejected false positive does not come back with the next run).

A write that waits longer than the busy timeout for another program's lock, or that the disk refuses,
raises StoreError (as every failure of this API does).

Edits: each runs in its own transaction, writes an ``edit_history`` row and returns the old value the
GUI's undo needs. The first human change turns a predicted (or verified) garment into corrected::

    move_point(gid, index, x, y) -> Keypoint          set_visibility(gid, index, visibility) -> Keypoint
    add_point(gid, index, x, y, visibility=VISIBLE) -> Keypoint
    remove_point(gid, index) -> Keypoint              set_keypoint(gid, index, keypoint) -> Keypoint
    set_box(gid, bbox) -> bbox                        change_category(gid, category) -> Garment
    add_garment(image_id, garment) -> garment_id      delete_garment(gid) -> Garment
    set_garment(gid, garment) -> Garment              verify(gid) -> GarmentStatus
    verify_image(image_id) -> {gid: GarmentStatus}    revert_to_prediction(gid) -> Garment
    history(image_id=None, garment_id=None) -> [EditRecord];  revert_edit(edit_id) -> garment id | None
    reread_landmarks(gid, reading, width, height) -> Garment   (the model's points replaced, a person's kept)

Measurements, calibrations (and ``set_image_calibration(image_id, calibration_id)``, the photo's own
calibration), model versions and spec sheets: see ``app.store.records.RecordsMixin``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import DatabaseError, IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from inference.annotation import Garment, GarmentStatus
from inference.boxes import box_iou

from .convert import garment_from_dict, garment_from_row, garment_to_dict, validate_garment, write_garment
from .database import IMMEDIATE, StoreError, open_database
from .edits import EditsMixin
from .images import ImageReadError, probe_image
from .models import EditRow, GarmentRow, ImageRow, ProjectChangeRow, utcnow
from .records import RecordsMixin


class ImageStatus(StrEnum):
    NEW = "new"  # no prediction yet
    PREDICTED = "predicted"
    CORRECTED = "corrected"  # a person changed or confirmed some garments, not all verified
    VERIFIED = "verified"


@dataclass(frozen=True)
class ImageInfo:
    id: int
    path: str
    sha256: str
    width: int
    height: int
    status: ImageStatus
    categories: tuple[int, ...]
    num_garments: int
    source: str | None
    camera: str | None
    attributes: dict
    calibration_id: int | None = None  # the calibration this photo is measured with, if it has its own


@dataclass(frozen=True)
class AddImageResult:
    image_id: int
    added: bool  # False: an image with the same content was already in the project


@dataclass(frozen=True)
class ImportImageResult:
    image_id: int
    added: bool  # False: the image was already in the project
    garment_ids: tuple[int, ...]  # the garments this import added (none when the image already had its own)


@dataclass
class AddImagesReport:
    results: list[AddImageResult]
    errors: list[str]


@dataclass(frozen=True)
class PredictionResult:
    added: tuple[int, ...]
    replaced: tuple[int, ...]  # ids of the earlier predicted garments now gone
    kept: tuple[int, ...]  # human-corrected or verified garments left untouched
    dropped: int  # predictions skipped: they duplicate a kept garment, or one a person deleted


PREDICTION_OVERLAP_IOU = 0.5


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def image_status(counts: dict[str, int], predicted: bool, verified: bool, deleted: bool = False) -> ImageStatus:
    """``deleted``: a person deleted a garment of this image (and it is still gone): a correction, so the
    image is no longer the model's untouched output even when every garment left is."""
    total = sum(counts.values())
    if total == 0:
        if verified:
            return ImageStatus.VERIFIED
        return ImageStatus.CORRECTED if deleted else ImageStatus.PREDICTED if predicted else ImageStatus.NEW
    if counts.get(GarmentStatus.VERIFIED, 0) == total:
        return ImageStatus.VERIFIED
    if deleted or counts.get(GarmentStatus.CORRECTED, 0) or counts.get(GarmentStatus.VERIFIED, 0):
        return ImageStatus.CORRECTED
    return ImageStatus.PREDICTED


def _still_deleted(s: Session, image_ids: Sequence[int] | None = None) -> dict[int, list[Garment]]:
    """Per image, the garments a person deleted and nobody put back, as they were when deleted. A delete an
    undo reverted stays lifted even once its garment is gone again (say, replaced by the next prediction);
    ids are never reused (AUTOINCREMENT), so a garment id missing from the table means the garment is gone."""
    deletes = select(EditRow.id, EditRow.image_id, EditRow.old_value).where(
        EditRow.action == "delete_garment", EditRow.garment_id.not_in(select(GarmentRow.id))
    )
    if image_ids is not None:
        deletes = deletes.where(EditRow.image_id.in_(image_ids))
    rows = s.execute(deletes).all()
    if not rows:
        return {}
    # only the reverts of these deletes (both reads use the (action, image_id) index of migration 0006)
    reverts = select(EditRow.old_value).where(
        EditRow.action == "revert_edit", EditRow.image_id.in_({image_id for _, image_id, _ in rows})
    )
    undone = {(old or {}).get("edit_id") for (old,) in s.execute(reverts)}
    found: dict[int, list[Garment]] = {}
    for edit_id, image_id, old in rows:
        snapshot = (old or {}).get("garment")
        if snapshot and edit_id not in undone:
            found.setdefault(image_id, []).append(garment_from_dict(snapshot))
    return found


class ProjectStore(EditsMixin, RecordsMixin):
    def __init__(self, path: Path, create: bool = True):
        self.path = Path(path)
        self._engine, self.backup_path = open_database(self.path, create=create)
        self._read_sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            self._engine.execution_options(**{IMMEDIATE: True}), expire_on_commit=False
        )

    @classmethod
    def open(cls, path: Path | str, create: bool = False) -> ProjectStore:
        return cls(Path(path), create=create)

    @classmethod
    def create(cls, path: Path | str) -> ProjectStore:
        return cls(Path(path), create=True)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> ProjectStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def folder(self) -> Path:
        return self.path.resolve().parent

    @contextmanager
    def _read(self):
        try:
            with self._read_sessions() as session, session.begin():
                yield session
        except IntegrityError:
            raise
        except DatabaseError as exc:
            raise self._database_error(exc, "read") from exc

    @contextmanager
    def _write(self):
        """One short write transaction (BEGIN IMMEDIATE): committed on exit, rolled back on error."""
        try:
            with self._write_sessions() as session, session.begin():
                yield session
        except IntegrityError:
            raise  # a constraint: the caller that can break one handles it (register_model)
        except DatabaseError as exc:
            raise self._database_error(exc, "save to") from exc

    def _database_error(self, exc: DatabaseError, doing: str) -> StoreError:
        """SQLite's failures as StoreError, which the GUI and the CLI catch: a lock held past the busy
        timeout, a full disk, an I/O error."""
        name = str(getattr(exc.orig, "sqlite_errorname", "") or "")
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return StoreError(f"project {self.path} is busy: another program holds it; try again")
        if name.startswith("SQLITE_FULL"):
            return StoreError(f"cannot {doing} project {self.path}: the disk is full")
        return StoreError(f"cannot {doing} project {self.path}: {exc.orig}")

    # ---- images -------------------------------------------------------------------------------------

    def resolve_path(self, stored: str) -> Path:
        p = Path(stored)
        return p if p.is_absolute() else self.folder / p

    def stored_path(self, path: Path | str) -> str:
        """How a file is written into the project: relative to the project folder (with "/") when it lies
        inside it, so a moved or copied project folder still finds its images; absolute otherwise.

        The inside test is on the path as given, made absolute without following symlinks: a link inside
        the folder (``images`` pointing at a shared drive) stays ``images/…`` and moves with the project.
        A caller that already resolved the link still lands inside when the project folder's own real
        path holds the file."""
        given = self.resolve_path(str(path)).absolute()
        full = Path(os.path.normpath(given))  # folds "..", keeps links
        if full != given and not _same_file(full, given):
            full = given.resolve()  # a ".." after a link leaves it: only the real path names that file
        for folder in (Path(os.path.abspath(self.path)).parent, self.folder):
            try:
                return full.relative_to(folder).as_posix()
            except ValueError:
                continue
        return str(full)

    def add_image(
        self,
        path: Path | str,
        *,
        source: str | None = None,
        camera: str | None = None,
        attributes: dict | None = None,
    ) -> AddImageResult:
        """Register one image; raises ImageReadError when the file is missing or not an image."""
        result = self.import_image(path, (), source=source, camera=camera, attributes=attributes)
        return AddImageResult(result.image_id, result.added)

    def import_image(
        self,
        path: Path | str,
        garments: Sequence[Garment],
        *,
        source: str | None = None,
        camera: str | None = None,
        attributes: dict | None = None,
    ) -> ImportImageResult:
        """Add an image with its dataset labels (statuses as given) in one transaction, so an import that
        is killed leaves no image without its ground truth (which a later prediction would then fill).

        An image already in the project (same content) keeps the garments it has: importing a dataset
        twice adds nothing twice. An image with no garments gets the labels; so does one holding nothing
        but predictions and never imported into (one an older version's killed import left bare, predicted
        since), in place of the predictions, which no person has touched. Raises ImageReadError when the file is missing or not an image."""
        for g in garments:
            validate_garment(g)
        probe = probe_image(self.resolve_path(str(path)))
        with self._write() as s:
            row = s.scalar(select(ImageRow).where(ImageRow.sha256 == probe.sha256))
            added = row is None
            replaced: list[int] = []
            if added:
                row = ImageRow(
                    path=self.stored_path(path), sha256=probe.sha256, width=probe.width, height=probe.height,
                    source=source, camera=camera, attributes=dict(attributes or {}),
                )
                s.add(row)
                s.flush()
            elif garments:
                existing = s.scalars(select(GarmentRow).where(GarmentRow.image_id == row.id)).all()
                imported = existing and s.scalar(
                    select(EditRow.id).where(EditRow.image_id == row.id, EditRow.action == "import").limit(1)
                )
                if imported or any(r.status != GarmentStatus.PREDICTED for r in existing):
                    return ImportImageResult(row.id, False, ())
                for r in existing:
                    replaced.append(r.id)
                    s.delete(r)
            if not garments:
                return ImportImageResult(row.id, added, ())
            ids = self._add_garments(s, row, garments)
            value = {"added": ids, "source": source}
            self._record(s, row.id, None, "import", {"replaced": replaced} if replaced else None, value)
            return ImportImageResult(row.id, added, tuple(ids))

    def _add_garments(self, s: Session, image: ImageRow, garments: Sequence[Garment]) -> list[int]:
        rows = []
        for g in garments:
            row = GarmentRow(image_id=image.id, prediction=None)
            write_garment(row, g)
            s.add(row)
            rows.append(row)
        image.verified_at = None  # no longer an image confirmed empty
        s.flush()
        return [r.id for r in rows]

    def add_images(self, paths: Iterable[Path | str], **kwargs) -> AddImagesReport:
        report = AddImagesReport([], [])
        for p in paths:
            try:
                report.results.append(self.add_image(p, **kwargs))
            except ImageReadError as exc:
                report.errors.append(str(exc))
        return report

    def _image_infos(self, s: Session, image_ids: Sequence[int] | None = None) -> list[ImageInfo]:
        q = select(ImageRow).order_by(ImageRow.id)
        if image_ids is not None:
            q = q.where(ImageRow.id.in_(image_ids))
        rows = s.scalars(q).all()
        counts: dict[int, dict[str, int]] = {}
        cats: dict[int, set[int]] = {}
        gq = select(GarmentRow.image_id, GarmentRow.status, GarmentRow.category_id, func.count()).group_by(
            GarmentRow.image_id, GarmentRow.status, GarmentRow.category_id
        )
        if image_ids is not None:
            gq = gq.where(GarmentRow.image_id.in_(image_ids))
        for image_id, status, cat, n in s.execute(gq):
            c = counts.setdefault(image_id, {})
            c[status] = c.get(status, 0) + n
            cats.setdefault(image_id, set()).add(cat)
        deleted = _still_deleted(s, image_ids)
        return [
            ImageInfo(
                id=r.id, path=r.path, sha256=r.sha256, width=r.width, height=r.height,
                status=image_status(counts.get(r.id, {}), r.predicted_at is not None, r.verified_at is not None,
                                    r.id in deleted),
                categories=tuple(sorted(cats.get(r.id, ()))), num_garments=sum(counts.get(r.id, {}).values()),
                source=r.source, camera=r.camera, attributes=dict(r.attributes or {}),
                calibration_id=r.calibration_id,
            )
            for r in rows
        ]

    def image(self, image_id: int) -> ImageInfo:
        with self._read() as s:
            found = self._image_infos(s, [image_id])
        if not found:
            raise StoreError(f"no image with id {image_id} in {self.path}")
        return found[0]

    def change_mark(self) -> int:
        """A number that grows with every write to the project, by any program (triggers, migration 0006): a
        window compares it with the one it saw to know whether the project changed under it."""
        with self._read() as s:
            return int(s.scalar(select(ProjectChangeRow.counter).where(ProjectChangeRow.id == 1)) or 0)

    def has_reviewed_garments(self) -> bool:
        """Whether a person corrected or verified any garment: what retraining learns from."""
        with self._read() as s:
            reviewed = (GarmentStatus.CORRECTED, GarmentStatus.VERIFIED)
            return s.scalar(select(GarmentRow.id).where(GarmentRow.status.in_(reviewed)).limit(1)) is not None

    def list_images(
        self, status: str | Iterable[str] | None = None, category: int | Iterable[int] | None = None
    ) -> list[ImageInfo]:
        statuses = None if status is None else {ImageStatus(v) for v in ([status] if isinstance(status, str) else status)}
        cats = None if category is None else set([category] if isinstance(category, int) else category)
        with self._read() as s:
            infos = self._image_infos(s)
        return [
            i for i in infos
            if (statuses is None or i.status in statuses) and (cats is None or cats.intersection(i.categories))
        ]

    def next_unverified_image(self, after_image_id: int | None = None) -> ImageInfo | None:
        pending = [i for i in self.list_images() if i.status != ImageStatus.VERIFIED]
        if not pending:
            return None
        if after_image_id is not None:
            later = [i for i in pending if i.id > after_image_id]
            if later:
                return later[0]
        return pending[0]

    # ---- garments -----------------------------------------------------------------------------------

    def garments(self, image_id: int) -> list[tuple[int, Garment]]:
        with self._read() as s:
            rows = s.scalars(
                select(GarmentRow)
                .where(GarmentRow.image_id == image_id)
                .options(selectinload(GarmentRow.keypoints))
                .order_by(GarmentRow.id)
            )
            return [(r.id, garment_from_row(r)) for r in rows]

    def garment(self, garment_id: int) -> Garment:
        with self._read() as s:
            return garment_from_row(self._garment_row(s, garment_id))

    def garment_image_id(self, garment_id: int) -> int:
        with self._read() as s:
            return self._garment_row(s, garment_id).image_id

    def _garment_row(self, s: Session, garment_id: int) -> GarmentRow:
        row = s.get(GarmentRow, garment_id)
        if row is None:
            raise StoreError(f"no garment with id {garment_id} in {self.path}")
        return row

    def _image_row(self, s: Session, image_id: int) -> ImageRow:
        row = s.get(ImageRow, image_id)
        if row is None:
            raise StoreError(f"no image with id {image_id} in {self.path}")
        return row

    def store_predictions(
        self, image_id: int, garments: Sequence[Garment], model_version: str | None = None
    ) -> PredictionResult:
        for g in garments:
            validate_garment(g)
        with self._write() as s:
            image = self._image_row(s, image_id)
            existing = s.scalars(select(GarmentRow).where(GarmentRow.image_id == image_id)).all()
            # read before the replaced rows go: a restored garment about to be replaced is not a deleted one
            rejected = _still_deleted(s, [image_id]).get(image_id, [])
            kept = [r for r in existing if r.status != GarmentStatus.PREDICTED]
            replaced = [r for r in existing if r.status == GarmentStatus.PREDICTED]
            for r in replaced:
                s.delete(r)
            taken = [(k.category_id, (k.x1, k.y1, k.x2, k.y2)) for k in kept]
            taken += [(d.category_id, d.bbox) for d in rejected]
            added, dropped = [], 0
            for g in garments:
                g = replace(g, status=GarmentStatus.PREDICTED, model_version=model_version or g.model_version)
                if any(cat == g.category_id and box_iou(box, g.bbox) > PREDICTION_OVERLAP_IOU for cat, box in taken):
                    dropped += 1
                    continue
                row = GarmentRow(image_id=image_id, prediction=garment_to_dict(g))
                write_garment(row, g)
                s.add(row)
                added.append(row)
            image.predicted_at = utcnow()
            s.flush()
            result = PredictionResult(
                tuple(r.id for r in added), tuple(r.id for r in replaced), tuple(r.id for r in kept), dropped
            )
            self._record(
                s, image_id, None, "store_predictions",
                {"replaced": list(result.replaced)}, {"added": list(result.added), "model_version": model_version},
            )
            return result

    def import_garments(self, image_id: int, garments: Sequence[Garment], source: str | None = None) -> list[int]:
        """Add dataset annotations to an image in one transaction (one history row), statuses as given."""
        for g in garments:
            validate_garment(g)
        with self._write() as s:
            ids = self._add_garments(s, self._image_row(s, image_id), garments)
            self._record(s, image_id, None, "import", None, {"added": ids, "source": source})
            return ids
