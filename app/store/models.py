"""SQLAlchemy 2 ORM tables of a project file.

The schema itself is created and evolved by the Alembic scripts in ``app/store/migrations``; these
classes must describe the head revision (``tests/test_store_migrations.py`` checks that they agree).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Layout of a garment's keypoints: "df2" (the category's DeepFashion2 landmarks) or one of the FLD
# layouts, which have no DF2 category (category_id 0). See docs/adr/0003-annotation-store-and-formats.md.
LAYOUT_DF2 = "df2"
FLD_LAYOUTS = {"fld-upper": 1, "fld-lower": 2, "fld-full": 3}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class ImageRow(Base):
    __tablename__ = "images"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    source: Mapped[str | None] = mapped_column(String)  # the file or dataset it came from
    camera: Mapped[str | None] = mapped_column(String)
    attributes: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)  # e.g. DF2 pair_id
    # The calibration this photo is measured with (its own board, or the camera's profile); None = project default
    calibration_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("calibrations.id", name="fk_images_calibration_id", ondelete="SET NULL")
    )
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    predicted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    garments: Mapped[list[GarmentRow]] = relationship(
        back_populates="image", cascade="all, delete-orphan", passive_deletes=True, order_by="GarmentRow.id"
    )


class GarmentRow(Base):
    __tablename__ = "garments"
    # AUTOINCREMENT: a deleted garment's id is never handed to a new one, so the edit history (which names
    # garments by id and outlives them) cannot be read as, or reverted into, another garment (migration 0005)
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), nullable=False, index=True)
    category_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    layout: Mapped[str] = mapped_column(String, nullable=False, default=LAYOUT_DF2)
    x1: Mapped[float] = mapped_column(Float, nullable=False)
    y1: Mapped[float] = mapped_column(Float, nullable=False)
    x2: Mapped[float] = mapped_column(Float, nullable=False)
    y2: Mapped[float] = mapped_column(Float, nullable=False)
    score: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String, nullable=False, index=True)
    model_version: Mapped[str | None] = mapped_column(String)
    # The model's original garment (JSON of garment_to_dict) so a person can revert to it.
    prediction: Mapped[dict | None] = mapped_column(JSON)
    attributes: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)  # e.g. DF2 style
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    image: Mapped[ImageRow] = relationship(back_populates="garments")
    keypoints: Mapped[list[KeypointRow]] = relationship(
        back_populates="garment", cascade="all, delete-orphan", passive_deletes=True, order_by="KeypointRow.idx"
    )


class KeypointRow(Base):
    __tablename__ = "keypoints"
    __table_args__ = (UniqueConstraint("garment_id", "idx"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    garment_id: Mapped[int] = mapped_column(ForeignKey("garments.id", ondelete="CASCADE"), nullable=False)
    idx: Mapped[int] = mapped_column(Integer, nullable=False)  # local index in the category's DF2 order
    x: Mapped[float] = mapped_column(Float, nullable=False)
    y: Mapped[float] = mapped_column(Float, nullable=False)
    visibility: Mapped[int] = mapped_column(Integer, nullable=False)
    score: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String, nullable=False)

    garment: Mapped[GarmentRow] = relationship(back_populates="keypoints")


class EditRow(Base):
    """One user edit. No foreign keys: the history outlives deleted garments so a delete can be reverted."""

    __tablename__ = "edit_history"
    # the store lists what a person deleted by action on every image listing (migration 0006)
    __table_args__ = (Index("ix_edit_history_action_image", "action", "image_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    garment_id: Mapped[int | None] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String, nullable=False)
    old_value: Mapped[dict | list | None] = mapped_column(JSON)
    new_value: Mapped[dict | list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)


class ProjectChangeRow(Base):
    """One counter that triggers raise on every write to the project's main tables (migration 0006)."""

    __tablename__ = "project_changes"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counter: Mapped[int] = mapped_column(Integer, nullable=False)


class CalibrationRow(Base):
    __tablename__ = "calibrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String, nullable=False, unique=True)
    method: Mapped[str] = mapped_column(String, nullable=False)
    payload: Mapped[dict] = mapped_column(JSON, nullable=False)  # written by measure/
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)


class MeasurementRow(Base):
    __tablename__ = "measurements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    garment_id: Mapped[int] = mapped_column(ForeignKey("garments.id", ondelete="CASCADE"), nullable=False, index=True)
    pom: Mapped[str] = mapped_column(String, nullable=False)
    value_mm: Mapped[float] = mapped_column(Float, nullable=False)
    points: Mapped[list] = mapped_column(JSON, nullable=False)
    calibration_id: Mapped[int | None] = mapped_column(ForeignKey("calibrations.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String, nullable=False)
    version: Mapped[str] = mapped_column(String, nullable=False)
    card_path: Mapped[str] = mapped_column(String, nullable=False)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id", ondelete="SET NULL"))
    metrics: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)


class SpecSheetRow(Base):
    __tablename__ = "spec_sheets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String, nullable=False, unique=True)
    rows: Mapped[list] = mapped_column(JSON, nullable=False)  # [{pom, size, target_mm, tolerance_mm}]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
