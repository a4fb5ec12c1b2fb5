"""A project-wide change counter, and an index for reading the history by action.

``project_changes`` holds one counter that triggers raise on every insert, update or delete of images,
garments, history, calibrations, model versions and spec sheets, whichever program writes them: a window
compares it with the value it last saw to know whether the project changed under it (another window, the
CLI). Point edits always touch their garment row and write history, so keypoints need no trigger.

The store reads the history by action on every image listing (which garments a person deleted); without
an index that is a scan of the whole history.

Revision ID: 0006_change_counter_and_history_index
Revises: 0005_garment_ids_never_reused
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_change_counter_and_history_index"
down_revision = "0005_garment_ids_never_reused"
branch_labels = None
depends_on = None

COUNTED_TABLES = ("images", "garments", "edit_history", "calibrations", "model_versions", "spec_sheets")
OPERATIONS = ("INSERT", "UPDATE", "DELETE")


def upgrade() -> None:
    op.create_index("ix_edit_history_action_image", "edit_history", ["action", "image_id"])
    op.create_table(
        "project_changes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("counter", sa.Integer, nullable=False),
        sa.CheckConstraint("id = 1", name="one_row"),
    )
    op.execute("INSERT INTO project_changes (id, counter) VALUES (1, 0)")
    for table in COUNTED_TABLES:
        for operation in OPERATIONS:
            op.execute(
                f"CREATE TRIGGER count_{table}_{operation.lower()} AFTER {operation} ON {table} "
                "BEGIN UPDATE project_changes SET counter = counter + 1 WHERE id = 1; END"
            )


def downgrade() -> None:
    for table in COUNTED_TABLES:
        for operation in OPERATIONS:
            op.execute(f"DROP TRIGGER IF EXISTS count_{table}_{operation.lower()}")
    op.drop_table("project_changes")
    op.drop_index("ix_edit_history_action_image", "edit_history")
