"""Garment ids are never reused (AUTOINCREMENT).

Without it SQLite gives a new garment the id of the deleted top garment, and the edit history, which
names garments by id and outlives them, then reads (and reverts) the deleted garment's edits as the new
one's. The table is rebuilt with every id kept; the sequence starts after every garment id the project
has ever used: the live ones and the ones only the history still names.

Images are left as they are: the store never deletes an image, so their ids cannot be reused.

Revision ID: 0005_garment_ids_never_reused
Revises: 0004_oriented_image_size
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0005_garment_ids_never_reused"
down_revision = "0004_oriented_image_size"
branch_labels = None
depends_on = None

# History values that list garment ids (store_predictions, import) besides the garment_id column
ID_LISTS = ("added", "replaced")


def _ids_in(value) -> list[int]:
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, dict):
        return []
    return [int(v) for key in ID_LISTS for v in value.get(key) or () if isinstance(v, int)]


def _highest_garment_id(bind) -> int:
    highest = bind.execute(sa.text("SELECT max(id) FROM garments")).scalar() or 0
    named = bind.execute(sa.text("SELECT max(garment_id) FROM edit_history")).scalar() or 0
    highest = max(highest, named)
    rows = bind.execute(sa.text(
        "SELECT old_value, new_value FROM edit_history WHERE action IN ('store_predictions', 'import')"
    ))
    for old, new in rows:
        highest = max([highest, *_ids_in(old), *_ids_in(new)])
    return highest


def upgrade() -> None:
    bind = op.get_bind()
    highest = _highest_garment_id(bind)
    # batch mode copies the rows (ids included), drops the old table and renames the copy; database.upgrade
    # runs it with foreign keys off, so keypoints and measurements keep pointing at their garments
    with op.batch_alter_table("garments", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
        pass
    bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'garments'"))
    bind.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('garments', :seq)"), {"seq": highest})


def downgrade() -> None:
    with op.batch_alter_table("garments", recreate="always", table_kwargs={"sqlite_autoincrement": False}):
        pass
