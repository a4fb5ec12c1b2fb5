"""Data-safety guarantees of the project store: ids never reused, reverts that cannot land on the wrong
garment or undo human work, imports that cannot leave an image without its labels, projects that can be
moved, backups that are whole or absent, refused files left untouched, and failures told as StoreError."""

import hashlib
import json
import shutil
import sqlite3
from dataclasses import replace
from types import SimpleNamespace

import pytest
from test_store_fixtures import make_garment, write_jpeg, write_png

from app.store import ImageStatus, ProjectStore, StoreError, StoreVersionError
from app.store.database import head_revision, make_engine, upgrade
from inference.annotation import GarmentStatus, PointSource


def _edit(store, garment_id, action):
    return [e for e in store.history(garment_id=garment_id) if e.action == action][-1]


def _sql(path, statement, params=()):
    conn = sqlite3.connect(path)
    try:
        with conn:
            return conn.execute(statement, params).fetchall()
    finally:
        conn.close()


# -- 1. garment ids are never reused -------------------------------------------------------------------


def test_a_new_garment_never_gets_the_id_of_a_deleted_one(store, image_id):
    kept, top = store.store_predictions(image_id, [make_garment(1), make_garment(9, box=(44, 2, 62, 40))]).added
    store.move_point(top, 0, 3.5, 4.5)
    move = _edit(store, top, "move_point")
    store.delete_garment(top)
    new = store.add_garment(image_id, make_garment(9))
    assert new not in (kept, top)
    assert [e.action for e in store.history(garment_id=new)] == ["add_garment"]  # not the deleted one's edits
    with pytest.raises(StoreError, match=f"garment {top} is no longer in the project"):
        store.revert_edit(move.id)
    assert store.garment(new) == replace(make_garment(9), status=GarmentStatus.CORRECTED)


def test_migration_0005_keeps_every_id_and_starts_after_every_id_ever_used(tmp_path):
    path = tmp_path / "old.db"
    engine = make_engine(path)
    upgrade(engine, "0004_oriented_image_size")
    engine.dispose()
    now = "2026-01-01 00:00:00"
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO images (id, path, sha256, width, height, attributes, added_at) "
                     f"VALUES (1, 'a.png', 'h', 64, 48, '{{}}', '{now}')")
        for gid in (3, 7):
            conn.execute("INSERT INTO garments (id, image_id, category_id, layout, x1, y1, x2, y2, status, "
                         f"attributes, created_at, updated_at) VALUES ({gid}, 1, 9, 'df2', 1.5, 2.5, 40.25, 44.0, "
                         f"'corrected', '{{}}', '{now}', '{now}')")
            conn.executemany("INSERT INTO keypoints (garment_id, idx, x, y, visibility, source) "
                             "VALUES (?, ?, ?, 1.25, 2, 'human')", [(gid, i, gid + i / 8) for i in range(8)])
        conn.execute(f"INSERT INTO measurements (garment_id, pom, value_mm, points, created_at) "
                     f"VALUES (7, 'waist_width', 321.5, '[]', '{now}')")
        # garment 9 was deleted (only the history names it); 12 was predicted and replaced since
        conn.execute("INSERT INTO edit_history (image_id, garment_id, action, old_value, new_value, created_at) "
                     f"VALUES (1, 9, 'delete_garment', '{{}}', NULL, '{now}')")
        conn.execute("INSERT INTO edit_history (image_id, garment_id, action, old_value, new_value, created_at) "
                     f"VALUES (1, NULL, 'store_predictions', '{{\"replaced\": []}}', '{{\"added\": [12]}}', '{now}')")
    with ProjectStore.open(path) as store:
        assert store.backup_path is not None
        assert [gid for gid, _ in store.garments(1)] == [3, 7]
        assert [k.x for k in store.garment(7).keypoints] == [7 + i / 8 for i in range(8)]
        assert [(m.garment_id, m.value_mm) for m in store.measurements()] == [(7, 321.5)]
        assert store.add_garment(1, make_garment(9)) == 13
    assert _sql(path, "PRAGMA foreign_key_check") == []
    (table_sql,) = _sql(path, "SELECT sql FROM sqlite_master WHERE name = 'garments'")[0]
    assert "AUTOINCREMENT" in table_sql and "REFERENCES images" in table_sql
    indexes = {r[0] for r in _sql(path, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'garments'")}
    assert {"ix_garments_image_id", "ix_garments_category_id", "ix_garments_status"} <= indexes


def test_an_edit_of_an_older_garment_under_a_reused_id_is_refused(store, image_id, tmp_path):
    """History written before 0005 may name an id that SQLite gave to a later garment."""
    (gid,) = store.store_predictions(image_id, [make_garment(1)]).added
    store.move_point(gid, 4, 1.5, 2.5)
    move = _edit(store, gid, "move_point")
    store.delete_garment(gid)
    later = "2999-01-01 00:00:00"  # as an older version would have: same id, same image, made after the edit
    with sqlite3.connect(store.path) as conn:
        conn.execute("INSERT INTO garments (id, image_id, category_id, layout, x1, y1, x2, y2, status, attributes, "
                     "created_at, updated_at) VALUES (?, ?, 1, 'df2', 0, 0, 9, 9, 'corrected', '{}', ?, ?)",
                     (gid, image_id, later, later))
        conn.executemany("INSERT INTO keypoints (garment_id, idx, x, y, visibility, source) VALUES (?, ?, 7.0, 7.0, 2, 'human')",
                         [(gid, i) for i in range(25)])
    other = store.garment(gid)
    with pytest.raises(StoreError, match="was made after the edit"):
        store.revert_edit(move.id)
    assert store.garment(gid) == other
    other_image = store.add_image(write_png(tmp_path / "img" / "b.png", seed=5)).image_id
    _sql(store.path, "UPDATE garments SET image_id = ?, created_at = '2000-01-01' WHERE id = ?", (other_image, gid))
    with pytest.raises(StoreError, match=f"now belongs to image {other_image}"):
        store.revert_edit(move.id)


def test_an_older_point_edit_naming_a_point_the_garment_does_not_have_is_refused(store, image_id):
    from inference.annotation import Garment, Keypoint, Visibility

    points = tuple(Keypoint(1.0 + i, 2.0, Visibility.VISIBLE, None, PointSource.HUMAN) for i in range(6))
    fld = Garment(0, (0.0, 0.0, 9.0, 9.0), points, status=GarmentStatus.VERIFIED, extra={"layout": "fld-upper"})
    (gid,) = store.import_garments(image_id, [fld])
    before = store.garment(gid)
    # an entry as an older version wrote it (no category), for the 8-point garment that had this id
    old = {"index": 7, "keypoint": {"x": 5.0, "y": 5.0, "v": 2, "score": None, "source": "model"}, "status": "predicted"}
    _sql(store.path, "INSERT INTO edit_history (image_id, garment_id, action, old_value, new_value, created_at) "
                     "VALUES (?, ?, 'move_point', ?, ?, '2999-01-01 00:00:00')", (image_id, gid, json.dumps(old), json.dumps(old)))
    (entry,) = [e for e in store.history(garment_id=gid) if e.action == "move_point"]
    with pytest.raises(StoreError, match=f"garment {gid} has no keypoint 7"):
        store.revert_edit(entry.id)
    assert store.garment(gid) == before


# -- 2. revert_edit ------------------------------------------------------------------------------------


def test_the_revert_of_a_restored_delete_deletes_it_again_and_can_itself_be_reverted(store, image_id):
    (gid,) = store.store_predictions(image_id, [make_garment(9)]).added
    store.delete_garment(gid)
    restored = store.revert_edit(_edit(store, gid, "delete_garment").id)
    assert restored == gid
    garment = store.garment(gid)
    store.revert_edit(store.history(garment_id=gid)[-1].id)  # the restore taken back: gone again
    assert store.garments(image_id) == []
    store.revert_edit(store.history(garment_id=gid)[-1].id)  # and back once more
    assert store.garments(image_id) == [(gid, garment)]


def test_a_point_edit_made_in_another_category_is_refused(store, image_id):
    (gid,) = store.store_predictions(image_id, [make_garment(1)]).added
    store.move_point(gid, 20, 1.5, 2.5)  # a landmark short sleeve tops have and vests (10) do not
    move = _edit(store, gid, "move_point")
    store.change_category(gid, 10)
    now = store.garment(gid)
    with pytest.raises(StoreError, match="category 10 now, the edit was made when it was category 1"):
        store.revert_edit(move.id)
    assert store.garment(gid) == now


def test_an_older_point_edit_without_its_category_is_refused_after_a_category_change(store, image_id):
    (gid,) = store.store_predictions(image_id, [make_garment(1)]).added
    store.move_point(gid, 0, 1.5, 2.5)
    move = _edit(store, gid, "move_point")
    legacy = {k: v for k, v in move.old_value.items() if k not in ("category_id", "layout")}  # as older versions wrote
    _sql(store.path, "UPDATE edit_history SET old_value = ? WHERE id = ?", (json.dumps(legacy), move.id))
    store.change_category(gid, 2)
    with pytest.raises(StoreError, match="category 2 now"):
        store.revert_edit(move.id)


def test_reverting_an_early_point_edit_keeps_later_corrections_from_the_next_prediction(store, image_id):
    (gid,) = store.store_predictions(image_id, [make_garment(1)]).added
    store.move_point(gid, 0, 1.5, 2.5)
    first = _edit(store, gid, "move_point")
    store.move_point(gid, 5, 30.25, 30.5)
    store.revert_edit(first.id)
    assert store.garment(gid).status == GarmentStatus.CORRECTED
    store.store_predictions(image_id, [make_garment(1, shift=20)])
    kp = store.garment(gid).keypoints[5]
    assert (kp.x, kp.y, kp.source) == (30.25, 30.5, PointSource.HUMAN)


def test_reverting_a_lone_point_edit_makes_the_garment_predicted_again(store, image_id):
    (gid,) = store.store_predictions(image_id, [make_garment(1)]).added
    predicted = store.garment(gid)
    store.move_point(gid, 0, 1.5, 2.5)
    store.revert_edit(_edit(store, gid, "move_point").id)
    assert store.garment(gid) == predicted


def test_a_delete_is_restored_once(store, image_id):
    (gid,) = store.store_predictions(image_id, [make_garment(9)]).added
    store.delete_garment(gid)
    delete = _edit(store, gid, "delete_garment")
    store.revert_edit(delete.id)
    with pytest.raises(StoreError, match=f"reverted already: garment {gid} is in the project"):
        store.revert_edit(delete.id)
    assert [g for g, _ in store.garments(image_id)] == [gid]


def test_a_restored_garment_gets_its_measurements_back(store, image_id):
    (gid,) = store.store_predictions(image_id, [make_garment(9)]).added
    board = store.save_calibration("board", "charuco", {"mm_per_px": 0.5})
    store.replace_measurements(gid, [("waist_width", 412.25, [[1.5, 2.5], [30.0, 2.5]], board),
                                     ("outseam", 980.5, [[3.0, 4.0]], None)])
    before = [(m.pom, m.value_mm, m.points, m.calibration_id) for m in store.measurements(garment_id=gid)]
    store.delete_garment(gid)
    assert store.measurements() == []
    store.revert_edit(_edit(store, gid, "delete_garment").id)
    assert [(m.pom, m.value_mm, m.points, m.calibration_id) for m in store.measurements(garment_id=gid)] == before


# -- 3. an import adds an image and its labels at once -------------------------------------------------


def test_a_failed_import_leaves_no_image_without_its_labels(store, tmp_path, monkeypatch):
    from app.datasets.common import ImportReport, ingest
    from app.store import repository

    photo = write_png(tmp_path / "ds" / "a.png", seed=3)
    truth = replace(make_garment(1), status=GarmentStatus.VERIFIED)

    def killed(*_args):
        raise KeyboardInterrupt  # the process stopped between the image and its garments

    monkeypatch.setattr(repository, "write_garment", killed)
    with pytest.raises(KeyboardInterrupt):
        ingest(store, photo, [truth], ImportReport(), "ds")
    assert store.list_images() == []
    monkeypatch.undo()
    report = ImportReport()
    ingest(store, photo, [truth], report, "ds")
    (info,) = store.list_images()
    assert (report.images_added, report.garments_added, info.status) == (1, 1, ImageStatus.VERIFIED)


def test_an_image_an_older_import_left_bare_and_predicted_gets_its_labels(store, tmp_path):
    from app.datasets.common import ImportReport, ingest

    photo = write_png(tmp_path / "ds" / "a.png", seed=3)
    image = store.add_image(photo).image_id  # the older version's first transaction, then killed
    store.store_predictions(image, [make_garment(3)])
    truth = replace(make_garment(1), status=GarmentStatus.VERIFIED)
    ingest(store, photo, [truth], ImportReport(), "ds")
    assert [g.status for _, g in store.garments(image)] == [GarmentStatus.VERIFIED]
    again = ImportReport()
    ingest(store, photo, [truth], again, "ds")  # idempotent from then on
    assert (again.images_duplicate, again.garments_added, len(store.garments(image))) == (1, 0, 1)


# -- 4. a project folder can be moved ------------------------------------------------------------------


def test_images_inside_the_project_folder_are_stored_relative_and_others_absolute(tmp_path):
    inside = write_png(tmp_path / "proj" / "photos" / "sub" / "a.png", seed=1)
    outside = write_png(tmp_path / "elsewhere" / "b.png", seed=2)
    c = write_png(tmp_path / "elsewhere" / "c.png", seed=4)
    (tmp_path / "proj" / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "proj" / "photos" / "x").mkdir()
    with ProjectStore.create(tmp_path / "proj" / "p.db") as store:
        stored = [store.image(store.add_image(p).image_id).path
                  for p in (inside, tmp_path / "proj" / "linked" / c.name, outside)]
        # a file reached through a link inside the folder stays the link's: it moves with the project
        assert stored == ["photos/sub/a.png", "linked/c.png", str(outside)]
        same = store.add_image(tmp_path / "proj" / "photos" / "x" / ".." / "sub" / "a.png")
        assert not same.added and store.stored_path(tmp_path / "proj" / "x" / ".." / "a.png") == "a.png"


def test_a_moved_project_folder_still_finds_its_images(tmp_path):
    from app.datasets.common import ImportReport, ingest
    from app.gui.model_service import import_job

    old = tmp_path / "old"
    old.mkdir()
    with ProjectStore.create(old / "p.db") as store:
        ingest(store, write_png(old / "dataset" / "a.png", seed=1), [replace(make_garment(1), status=GarmentStatus.VERIFIED)],
               ImportReport(), "ds")
    ctx = SimpleNamespace(cancelled=False, item_done=lambda _id: None, progress=lambda *_a: None)
    assert import_job(ctx, str(old / "p.db"), [str(write_png(old / "photos" / "b.png", seed=2))])["added"] == 1
    shutil.move(old, tmp_path / "new")
    with ProjectStore.open(tmp_path / "new" / "p.db") as store:
        infos = store.list_images()
        assert [i.path for i in infos] == ["dataset/a.png", "photos/b.png"]
        for info in infos:
            assert hashlib.sha256(store.resolve_path(info.path).read_bytes()).hexdigest() == info.sha256


# -- 5. the backup before an upgrade is whole or absent ------------------------------------------------


def _old_project(tmp_path, revision="0004_oriented_image_size"):
    path = tmp_path / "old.db"
    engine = make_engine(path)
    upgrade(engine, revision)
    engine.dispose()
    return path


def test_a_backup_that_fails_leaves_nothing_under_its_name_and_the_project_unchanged(tmp_path, monkeypatch):
    import errno

    from app.store import database

    path = _old_project(tmp_path)

    def full_disk(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(database.os, "fsync", full_disk)
    with pytest.raises(StoreError, match="cannot write the backup .*No space left on device.*not changed"):
        ProjectStore.open(path)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("old.db-")) == ["old.db"]
    assert _sql(path, "SELECT version_num FROM alembic_version") == [("0004_oriented_image_size",)]


def test_an_sqlite_error_while_backing_up_is_a_store_error(tmp_path, monkeypatch):
    from app.store import database

    path = _old_project(tmp_path)
    real_connect = sqlite3.connect

    class FullDisk:
        def __init__(self, conn):
            self.conn = conn

        def backup(self, _target):
            raise sqlite3.OperationalError("database or disk is full")

        def close(self):
            self.conn.close()

    monkeypatch.setattr(database.sqlite3, "connect", lambda *a, **k: FullDisk(real_connect(*a, **k)))
    with pytest.raises(StoreError, match="cannot write the backup .*disk is full"):
        database.backup_copy(path, "0004_oriented_image_size")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.db"]


# -- 6. refused files are left as they were ------------------------------------------------------------


def _rollback_journal(path):
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()


@pytest.mark.parametrize("kind", ["newer", "other"])
def test_a_refused_file_is_not_switched_to_wal_or_written(tmp_path, kind):
    path = tmp_path / f"{kind}.db"
    if kind == "newer":
        ProjectStore.create(path).close()
        _rollback_journal(path)
        _sql(path, "UPDATE alembic_version SET version_num = '0099_from_the_future'")
    else:
        _sql(path, "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    before = path.read_bytes()
    with pytest.raises(StoreVersionError if kind == "newer" else StoreError):
        ProjectStore.open(path)
    assert path.read_bytes() == before  # journal mode bytes included: not WAL now
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_a_refused_wal_project_leaves_no_wal_files(tmp_path):
    path = tmp_path / "newer.db"
    ProjectStore.create(path).close()
    _sql(path, "UPDATE alembic_version SET version_num = '0099_from_the_future'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["newer.db"]
    with pytest.raises(StoreVersionError):
        ProjectStore.open(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["newer.db"]


# -- 7. the image's own verification ------------------------------------------------------------------


def test_verifying_an_empty_image_is_history_and_can_be_reverted(store, image_id):
    store.verify_image(image_id)
    (entry,) = store.history(image_id=image_id)
    assert entry.action == "verify_image" and entry.old_value == {"verified_at": None}
    assert store.image(image_id).status == ImageStatus.VERIFIED
    assert store.revert_edit(entry.id) is None
    assert store.image(image_id).status == ImageStatus.NEW


def test_deleting_every_garment_of_a_verified_image_leaves_it_unverified(store, image_id):
    gids = store.store_predictions(image_id, [make_garment(1), make_garment(8, box=(45, 2, 62, 40))]).added
    store.verify_image(image_id)
    for gid in gids:
        store.delete_garment(gid)
    assert store.image(image_id).status == ImageStatus.CORRECTED  # unverified, and a person's work


def test_reverting_a_garment_added_to_a_verified_empty_image_leaves_it_verified(store, image_id):
    store.verify_image(image_id)
    gid = store.add_garment(image_id, make_garment(1))
    assert store.image(image_id).status == ImageStatus.CORRECTED
    store.revert_edit(_edit(store, gid, "add_garment").id)
    assert store.image(image_id).status == ImageStatus.VERIFIED


# -- 8. failures are StoreErrors -----------------------------------------------------------------------


def test_a_project_another_program_holds_is_busy_not_a_raw_sqlite_error(tmp_path, monkeypatch):
    from app.store import database

    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "p.db"
    store = ProjectStore.create(path)
    try:
        image = store.add_image(write_png(tmp_path / "a.png")).image_id
        (gid,) = store.store_predictions(image, [make_garment(1)]).added
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError, match=r"project .*p\.db is busy: another program holds it; try again"):
            store.move_point(gid, 0, 1.5, 2.5)
        other.execute("ROLLBACK")
        store._engine.dispose()  # an exclusive lock needs the store's pooled connections gone
        other.execute("PRAGMA locking_mode = EXCLUSIVE")
        other.execute("BEGIN EXCLUSIVE")
        other.execute("DELETE FROM edit_history WHERE id < 0")
        with pytest.raises(StoreError, match="is busy"):
            store.garments(image)
        other.execute("ROLLBACK")
        other.close()
        store.move_point(gid, 0, 1.5, 2.5)  # usable again once the other program lets go
        assert store.garment(gid).keypoints[0].x == 1.5
    finally:
        store.close()


def test_a_migration_that_fails_is_rolled_back_and_names_the_backup(tmp_path, monkeypatch):
    from app.store import images

    path = _old_project(tmp_path, "0003_image_calibration")
    write_jpeg(tmp_path / "phone.jpg", 100, 40, orientation=6)
    _sql(path, "INSERT INTO images (path, sha256, width, height, attributes, added_at) "
               "VALUES ('phone.jpg', 'h', 100, 40, '{}', '2026-01-01 00:00:00')")

    def unreadable(_data):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(images, "exif_orientation", unreadable)  # 0004 reads every JPEG's header
    with pytest.raises(StoreError, match=r"upgrade of project file .* stopped .*Input/output error.* rolled back") as err:
        ProjectStore.open(path)
    (backup,) = tmp_path.glob("*.bak")
    assert str(backup) in str(err.value)
    assert _sql(path, "SELECT version_num FROM alembic_version") == [("0003_image_calibration",)]
    assert _sql(backup, "SELECT version_num FROM alembic_version") == [("0003_image_calibration",)]
    monkeypatch.undo()
    with ProjectStore.open(path) as store:  # a later open upgrades it
        assert (store.image(1).width, store.image(1).height) == (40, 100)
    assert _sql(path, "SELECT version_num FROM alembic_version") == [(head_revision(),)]



def test_a_point_off_the_photo_is_refused_by_the_store(store, image_id):
    (gid,) = store.store_predictions(image_id, [make_garment(1)]).added
    width, height = store.image(image_id).width, store.image(image_id).height
    for x, y in ((-0.5, 3.0), (width + 0.25, 3.0), (3.0, height + 1), (float("nan"), 3.0)):
        with pytest.raises(StoreError, match="not on the"):
            store.move_point(gid, 0, x, y)
        with pytest.raises(StoreError, match="not on the"):
            store.add_point(gid, 1, x, y)
    store.move_point(gid, 0, float(width), 0.0)  # the edges are on the photo
    assert (store.garment(gid).keypoints[0].x, store.garment(gid).keypoints[0].y) == (width, 0.0)


def test_a_persons_edit_drops_the_measurements_stored_from_the_old_points(store, image_id):
    edited, untouched = store.store_predictions(
        image_id, [make_garment(1), make_garment(9, box=(50, 5, 60, 40))]).added
    for g in (edited, untouched):
        store.replace_measurements(g, [("hem_width", 431.5, [[1.0, 2.0], [3.0, 4.0]], None)])
    store.move_point(edited, 0, 5.5, 6.5)
    assert store.measurements(garment_id=edited) == []  # a QC report shows no length the garment lost
    assert [m.value_mm for m in store.measurements(garment_id=untouched)] == [431.5]


def test_a_revert_or_an_undo_that_moves_the_points_drops_their_measurements_too(store, image_id):
    (gid,) = store.store_predictions(image_id, [make_garment(1)]).added
    store.move_point(gid, 0, 5.5, 6.5)
    corrected = store.garment(gid)
    store.replace_measurements(gid, [("hem_width", 431.5, [[1.0, 2.0], [3.0, 4.0]], None)])
    store.revert_to_prediction(gid)  # the model's points again: the lengths were the corrected ones'
    assert store.measurements(garment_id=gid) == []
    store.set_garment(gid, corrected)
    store.replace_measurements(gid, [("hem_width", 431.5, [[1.0, 2.0], [3.0, 4.0]], None)])
    store.set_garment(gid, replace(corrected, status=GarmentStatus.VERIFIED))  # points unchanged: kept
    assert [m.value_mm for m in store.measurements(garment_id=gid)] == [431.5]
