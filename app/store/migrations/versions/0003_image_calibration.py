"""Images remember the calibration they are measured with (a board in the photo, or a camera profile).

Revision ID: 0003_image_calibration
Revises: 0002_measure_models_specs
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_image_calibration"
down_revision = "0002_measure_models_specs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.add_column(sa.Column("calibration_id", sa.Integer, nullable=True))
        batch.create_foreign_key(
            "fk_images_calibration_id", "calibrations", ["calibration_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.drop_constraint("fk_images_calibration_id", type_="foreignkey")
        batch.drop_column("calibration_id")
