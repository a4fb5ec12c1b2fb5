"""Images, garments, keypoints and the edit history.

Revision ID: 0001_annotations
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_annotations"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("path", sa.String, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("source", sa.String),
        sa.Column("camera", sa.String),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("added_at", TS, nullable=False),
        sa.Column("predicted_at", TS),
        sa.Column("verified_at", TS),
    )
    op.create_table(
        "garments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("image_id", sa.Integer, sa.ForeignKey("images.id", ondelete="CASCADE"), nullable=False),
        sa.Column("category_id", sa.Integer, nullable=False),
        sa.Column("layout", sa.String, nullable=False),
        sa.Column("x1", sa.Float, nullable=False),
        sa.Column("y1", sa.Float, nullable=False),
        sa.Column("x2", sa.Float, nullable=False),
        sa.Column("y2", sa.Float, nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("model_version", sa.String),
        sa.Column("prediction", sa.JSON),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_garments_image_id", "garments", ["image_id"])
    op.create_index("ix_garments_category_id", "garments", ["category_id"])
    op.create_index("ix_garments_status", "garments", ["status"])
    op.create_table(
        "keypoints",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("garment_id", sa.Integer, sa.ForeignKey("garments.id", ondelete="CASCADE"), nullable=False),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("x", sa.Float, nullable=False),
        sa.Column("y", sa.Float, nullable=False),
        sa.Column("visibility", sa.Integer, nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("source", sa.String, nullable=False),
        sa.UniqueConstraint("garment_id", "idx"),
    )
    op.create_table(
        "edit_history",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("image_id", sa.Integer, nullable=False),
        sa.Column("garment_id", sa.Integer),
        sa.Column("action", sa.String, nullable=False),
        sa.Column("old_value", sa.JSON),
        sa.Column("new_value", sa.JSON),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_edit_history_image_id", "edit_history", ["image_id"])
    op.create_index("ix_edit_history_garment_id", "edit_history", ["garment_id"])


def downgrade() -> None:
    for table in ("edit_history", "keypoints", "garments", "images"):
        op.drop_table(table)
