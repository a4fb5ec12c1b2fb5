"""Measurements, calibration profiles, model versions and spec sheets (mixed into ProjectStore).

Payloads are JSON written by their owners (``measure/`` for calibrations, the training code for model
metrics); the store keeps them as given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .database import StoreError
from .models import CalibrationRow, GarmentRow, MeasurementRow, ModelVersionRow, SpecSheetRow


@dataclass(frozen=True)
class Calibration:
    id: int
    name: str
    method: str
    payload: dict
    created_at: datetime


@dataclass(frozen=True)
class Measurement:
    id: int
    garment_id: int
    image_id: int
    category_id: int
    pom: str
    value_mm: float
    points: list
    calibration_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class ModelVersion:
    id: int
    name: str
    version: str
    card_path: str
    parent_id: int | None
    metrics: dict
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class SpecSheet:
    id: int
    name: str
    rows: list  # [{"pom", "size", "target_mm", "tolerance_mm"}]


class ModelVersionExists(StoreError):
    """The project already has a model version of this name and version label."""


def _calibration(r: CalibrationRow) -> Calibration:
    return Calibration(r.id, r.name, r.method, dict(r.payload), r.created_at)


def _model(r: ModelVersionRow) -> ModelVersion:
    return ModelVersion(r.id, r.name, r.version, r.card_path, r.parent_id, dict(r.metrics), r.active, r.created_at)


class RecordsMixin:
    # ---- calibrations -------------------------------------------------------------------------------

    def save_calibration(self, name: str, method: str, payload: dict) -> int:
        """Create or replace the named calibration profile; returns its id."""
        with self._write() as s:
            row = s.scalar(select(CalibrationRow).where(CalibrationRow.name == name))
            if row is None:
                row = CalibrationRow(name=name, method=method, payload=payload)
                s.add(row)
            else:
                row.method, row.payload = method, payload
            s.flush()
            return row.id

    def calibration(self, key: int | str) -> Calibration:
        col = CalibrationRow.id if isinstance(key, int) else CalibrationRow.name
        with self._read() as s:
            row = s.scalar(select(CalibrationRow).where(col == key))
            if row is None:
                raise StoreError(f"no calibration {key!r} in {self.path}")
            return _calibration(row)

    def set_image_calibration(self, image_id: int, calibration_id: int | None) -> int | None:
        """Tie a photo to the calibration it is measured with (None: the project's current profile).

        Returns the previous calibration id, for undo.
        """
        with self._write() as s:
            row = self._image_row(s, image_id)
            if calibration_id is not None and s.get(CalibrationRow, calibration_id) is None:
                raise StoreError(f"no calibration {calibration_id} in {self.path}")
            old, row.calibration_id = row.calibration_id, calibration_id
            return old

    def list_calibrations(self) -> list[Calibration]:
        with self._read() as s:
            return [_calibration(r) for r in s.scalars(select(CalibrationRow).order_by(CalibrationRow.name))]

    # ---- measurements -------------------------------------------------------------------------------

    def add_measurement(
        self, garment_id: int, pom: str, value_mm: float, points: list, calibration_id: int | None = None
    ) -> int:
        with self._write() as s:
            self._garment_row(s, garment_id)
            row = MeasurementRow(
                garment_id=garment_id, pom=pom, value_mm=float(value_mm), points=points, calibration_id=calibration_id
            )
            s.add(row)
            s.flush()
            return row.id

    def replace_measurements(self, garment_id: int, rows: list[tuple[str, float, list, int | None]]) -> list[int]:
        """Swap a garment's measurements for a fresh set (pom, value_mm, points, calibration_id) at once."""
        with self._write() as s:
            self._garment_row(s, garment_id)
            for old in s.scalars(select(MeasurementRow).where(MeasurementRow.garment_id == garment_id)):
                s.delete(old)
            new = [
                MeasurementRow(garment_id=garment_id, pom=p, value_mm=float(v), points=pts, calibration_id=c)
                for p, v, pts, c in rows
            ]
            s.add_all(new)
            s.flush()
            return [r.id for r in new]

    def measurements(self, image_id: int | None = None, garment_id: int | None = None) -> list[Measurement]:
        q = (
            select(MeasurementRow, GarmentRow.image_id, GarmentRow.category_id)
            .join(GarmentRow, GarmentRow.id == MeasurementRow.garment_id)
            .order_by(MeasurementRow.id)
        )
        if image_id is not None:
            q = q.where(GarmentRow.image_id == image_id)
        if garment_id is not None:
            q = q.where(MeasurementRow.garment_id == garment_id)
        with self._read() as s:
            return [
                Measurement(m.id, m.garment_id, img, cat, m.pom, m.value_mm, list(m.points), m.calibration_id, m.created_at)
                for m, img, cat in s.execute(q)
            ]

    # ---- model versions -----------------------------------------------------------------------------

    def register_model(
        self, name: str, version: str, card_path: str, *, parent_id: int | None = None,
        metrics: dict | None = None, active: bool = False,
    ) -> int:
        """Returns the new id; raises ModelVersionExists when ``name`` ``version`` is taken."""
        try:
            with self._write() as s:
                row = ModelVersionRow(
                    name=name, version=version, card_path=str(card_path), parent_id=parent_id,
                    metrics=dict(metrics or {}), active=False,
                )
                s.add(row)
                s.flush()
                if active:
                    s.execute(update(ModelVersionRow).values(active=False))
                    row.active = True
                return row.id
        except IntegrityError as exc:
            taken = self.find_model(name, version)
            if taken is not None:
                raise ModelVersionExists(f"{self.path} already has model {name} {version} (version id {taken.id}, "
                                         f"card {taken.card_path})") from None
            raise StoreError(f"cannot register model {name} {version} in {self.path}: {exc.orig}") from None

    def find_model(self, name: str, version: str) -> ModelVersion | None:
        with self._read() as s:
            row = s.scalar(select(ModelVersionRow).where(ModelVersionRow.name == name,
                                                         ModelVersionRow.version == version))
            return None if row is None else _model(row)

    def model_problem(self, version: ModelVersion) -> str | None:
        """Why a version cannot be used (card missing or invalid, a graph missing or not the file its card's
        sha256 names), or None when its card loads with every hash checked."""
        from inference.model_card import ModelCardError, load_card

        try:
            load_card(self.resolve_path(version.card_path))
        except ModelCardError as exc:
            return str(exc)
        return None

    def set_active_model(self, model_id: int) -> int | None:
        """Make one model version active; returns the previously active id."""
        with self._write() as s:
            if s.get(ModelVersionRow, model_id) is None:
                raise StoreError(f"no model version with id {model_id} in {self.path}")
            previous = s.scalar(select(ModelVersionRow.id).where(ModelVersionRow.active.is_(True)))
            s.execute(update(ModelVersionRow).values(active=ModelVersionRow.id == model_id))
            return previous

    def list_models(self) -> list[ModelVersion]:
        with self._read() as s:
            return [_model(r) for r in s.scalars(select(ModelVersionRow).order_by(ModelVersionRow.id))]

    def active_model(self) -> ModelVersion | None:
        with self._read() as s:
            row = s.scalar(select(ModelVersionRow).where(ModelVersionRow.active.is_(True)))
            return None if row is None else _model(row)

    def model_version(self, model_id: int) -> ModelVersion:
        with self._read() as s:
            row = s.get(ModelVersionRow, model_id)
            if row is None:
                raise StoreError(f"no model version with id {model_id} in {self.path}")
            return _model(row)

    def clear_active_model(self) -> int | None:
        """No active version (the app falls back to the bundled model); returns the previously active id."""
        with self._write() as s:
            previous = s.scalar(select(ModelVersionRow.id).where(ModelVersionRow.active.is_(True)))
            s.execute(update(ModelVersionRow).values(active=False))
            return previous

    def active_card_path(self):
        """The active version's model card as a path (relative ones resolve against the project folder)."""
        active = self.active_model()
        return None if active is None else self.resolve_path(active.card_path)

    # ---- spec sheets --------------------------------------------------------------------------------

    def save_spec_sheet(self, name: str, rows: list[dict]) -> int:
        with self._write() as s:
            row = s.scalar(select(SpecSheetRow).where(SpecSheetRow.name == name))
            if row is None:
                row = SpecSheetRow(name=name, rows=rows)
                s.add(row)
            else:
                row.rows = rows
            s.flush()
            return row.id

    def spec_sheet(self, name: str) -> SpecSheet:
        with self._read() as s:
            row = s.scalar(select(SpecSheetRow).where(SpecSheetRow.name == name))
            if row is None:
                raise StoreError(f"no spec sheet {name!r} in {self.path}")
            return SpecSheet(row.id, row.name, list(row.rows))

    def list_spec_sheets(self) -> list[SpecSheet]:
        with self._read() as s:
            return [SpecSheet(r.id, r.name, list(r.rows)) for r in s.scalars(select(SpecSheetRow).order_by(SpecSheetRow.name))]
