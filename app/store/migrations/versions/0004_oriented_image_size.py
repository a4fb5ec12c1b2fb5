"""Image sizes as the photo is shown: turned upright by its EXIF orientation.

Earlier versions stored a phone photo's size as its pixels are stored (IMREAD_UNCHANGED ignores the EXIF
orientation), while the model, the canvas and every keypoint use the upright photo. For JPEGs whose
orientation turns them by a quarter turn, width and height are swapped back into the upright frame, so
exports (YOLO-pose divides by them, COCO and DeepFashion2 record them) match the keypoints. Only the files'
headers are read; a file that is missing or unreadable keeps its row as it was.

Revision ID: 0004_oriented_image_size
Revises: 0003_image_calibration
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op

from app.store.images import EXIF_HEADER_BYTES, SWAPPING_ORIENTATIONS, exif_orientation

revision = "0004_oriented_image_size"
down_revision = "0003_image_calibration"
branch_labels = None
depends_on = None


def _header(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(EXIF_HEADER_BYTES)
    except OSError:
        return b""


def upgrade() -> None:
    bind = op.get_bind()
    database = bind.engine.url.database
    folder = Path(database).resolve().parent if database and database != ":memory:" else Path.cwd()
    rows = bind.execute(sa.text("SELECT id, path, width, height FROM images")).fetchall()
    for image_id, stored, width, height in rows:
        path = Path(stored) if Path(stored).is_absolute() else folder / stored
        if exif_orientation(_header(path)) in SWAPPING_ORIENTATIONS:
            bind.execute(sa.text("UPDATE images SET width = :w, height = :h WHERE id = :id"),
                         {"w": height, "h": width, "id": image_id})


def downgrade() -> None:
    pass  # the older versions' sizes were wrong for these photos; nothing to restore
