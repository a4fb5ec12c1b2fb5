"""Two app windows on one project: two stores (and two processes) editing the same file."""

import subprocess
import sys
from pathlib import Path

from test_store_fixtures import make_garment, write_png

from app.store import ProjectStore
from inference.annotation import GarmentStatus

ROOT = Path(__file__).resolve().parents[1]


def test_two_stores_interleave_edits_without_losing_any(tmp_path):
    path = tmp_path / "shared.db"
    a, b = ProjectStore.create(path), ProjectStore.open(path)
    try:
        image_id = a.add_image(write_png(tmp_path / "x.png")).image_id
        ga, gb = a.store_predictions(image_id, [make_garment(1), make_garment(8, box=(45, 2, 62, 40))]).added
        for step in range(20):
            a.move_point(ga, step % 25, 1.0 + step / 8, 2.0)
            b.move_point(gb, step % 14, 3.0, 4.0 + step / 16)
        b.verify(ga)  # b sees a's edits and changes a garment a edited
        assert a.garment(ga).status == GarmentStatus.VERIFIED
        assert b.garment(ga).keypoints[19] == a.garment(ga).keypoints[19]
        assert len(a.history(image_id=image_id)) == 1 + 40 + 1
        with a._engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    finally:
        a.close()
        b.close()


WRITER = """
import sys
from app.store import ProjectStore
store = ProjectStore.open(sys.argv[1])
gid, n = int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    store.move_point(gid, i % 8, float(i), float(i) + 0.5)
store.close()
"""


def test_two_processes_edit_one_project(tmp_path):
    path = tmp_path / "shared.db"
    with ProjectStore.create(path) as store:
        image_id = store.add_image(write_png(tmp_path / "x.png")).image_id
        gids = store.store_predictions(image_id, [make_garment(9), make_garment(9, box=(45, 2, 62, 40))]).added
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(gid), "30"], cwd=ROOT, stderr=subprocess.PIPE)
        for gid in gids
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    with ProjectStore.open(path) as store:
        history = store.history(image_id=image_id)
        assert sum(e.action == "move_point" for e in history) == 60
        for gid in gids:
            kp = store.garment(gid).keypoints[29 % 8]
            assert (kp.x, kp.y) == (29.0, 29.5)
