"""Calibrations, measurements, model versions and spec sheets.

Revision ID: 0002_measure_models_specs
Revises: 0001_annotations
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_measure_models_specs"
down_revision = "0001_annotations"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "calibrations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String, nullable=False, unique=True),
        sa.Column("method", sa.String, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "measurements",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("garment_id", sa.Integer, sa.ForeignKey("garments.id", ondelete="CASCADE"), nullable=False),
        sa.Column("pom", sa.String, nullable=False),
        sa.Column("value_mm", sa.Float, nullable=False),
        sa.Column("points", sa.JSON, nullable=False),
        sa.Column("calibration_id", sa.Integer, sa.ForeignKey("calibrations.id", ondelete="SET NULL")),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_measurements_garment_id", "measurements", ["garment_id"])
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("version", sa.String, nullable=False),
        sa.Column("card_path", sa.String, nullable=False),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("model_versions.id", ondelete="SET NULL")),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("name", "version"),
    )
    op.create_table(
        "spec_sheets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String, nullable=False, unique=True),
        sa.Column("rows", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in ("spec_sheets", "model_versions", "measurements", "calibrations"):
        op.drop_table(table)
