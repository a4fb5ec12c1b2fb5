"""Opening project files: migrations with a backup, newer schemas refused, corrupt files refused."""

import sqlite3

import pytest
from sqlalchemy import inspect
from test_store_fixtures import make_garment, write_png

from app.store import ProjectStore, StoreError, StoreVersionError
from app.store.database import current_revision, head_revision, known_revisions, make_engine, upgrade
from app.store.models import Base


def _tables(path):
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_new_project_is_at_head_with_wal_and_foreign_keys(tmp_path):
    path = tmp_path / "p.db"
    with ProjectStore.create(path) as store:
        assert store.backup_path is None
        with store._engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
        engine = make_engine(path)
        assert current_revision(engine) == head_revision()
        engine.dispose()


def test_migrations_build_the_same_tables_as_the_models(tmp_path):
    path = tmp_path / "p.db"
    ProjectStore.create(path).close()
    engine = make_engine(path)
    insp = inspect(engine)
    for table in Base.metadata.sorted_tables:
        db_cols = {c["name"] for c in insp.get_columns(table.name)}
        assert db_cols == {c.name for c in table.columns}, table.name
    engine.dispose()


def test_older_project_is_backed_up_then_migrated(tmp_path):
    path = tmp_path / "old.db"
    oldest = known_revisions()[-1]
    engine = make_engine(path)
    upgrade(engine, oldest)
    engine.dispose()
    assert "measurements" not in _tables(path)
    with sqlite3.connect(path) as conn:  # data written by the old version must survive
        conn.execute(
            "INSERT INTO images (path, sha256, width, height, attributes, added_at) "
            "VALUES ('a.png', 'abc', 10, 20, '{}', '2026-01-01 00:00:00')"
        )

    with ProjectStore.open(path) as store:
        assert store.backup_path is not None and store.backup_path.exists()
        assert oldest in store.backup_path.name
        assert [(i.path, i.width, i.height) for i in store.list_images()] == [("a.png", 10, 20)]
    assert "measurements" in _tables(path)
    assert "measurements" not in _tables(store.backup_path)
    backup = make_engine(store.backup_path)
    assert current_revision(backup) == oldest
    backup.dispose()


def test_newer_schema_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "future.db"
    ProjectStore.create(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    before = path.read_bytes()
    with pytest.raises(StoreVersionError, match="newer Garment Keypoint Studio"):
        ProjectStore.open(path)
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.bak"))


def test_non_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("this is a text file, not a project\n")
    with pytest.raises(StoreError, match="not an SQLite database"):
        ProjectStore.open(path)


def test_other_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE things (id INTEGER)")
    with pytest.raises(StoreError, match="not a Garment Keypoint Studio project"):
        ProjectStore.open(path)


def test_corrupt_pages_are_refused(tmp_path):
    path = tmp_path / "bad.db"
    with ProjectStore.create(path) as store:
        image_id = store.add_image(write_png(tmp_path / "a.png")).image_id
        store.store_predictions(image_id, [make_garment(11) for _ in range(30)])
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    data[2 * page + 8 : 3 * page] = b"\xa5" * (page - 8)  # smash a b-tree page, keep the file header
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="corrupt"):
        ProjectStore.open(path)


def test_missing_project_is_not_created_unless_asked(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        ProjectStore.open(tmp_path / "nope.db")
    assert not (tmp_path / "nope.db").exists()


def test_an_older_project_gets_upright_sizes_for_sideways_phone_photos(tmp_path):
    """Versions before 0004 stored a tagged JPEG's size as its pixels lie; the migration turns it upright,
    reading only the file headers, and leaves untagged, other and missing files as they were."""
    from test_store_fixtures import write_jpeg

    path = tmp_path / "old.db"
    engine = make_engine(path)
    upgrade(engine, "0003_image_calibration")
    engine.dispose()
    write_jpeg(tmp_path / "photos" / "phone.jpg", 100, 40, orientation=6)  # relative to the project
    write_jpeg(tmp_path / "photos" / "mirror.jpg", 30, 20, orientation=2)  # mirrored: no swap
    write_jpeg(tmp_path / "photos" / "plain.jpg", 64, 48)
    absolute = write_jpeg(tmp_path / "elsewhere" / "phone8.jpg", 50, 10, orientation=8, little_endian=True)
    rows = [("photos/phone.jpg", 100, 40), ("photos/mirror.jpg", 30, 20), ("photos/plain.jpg", 64, 48),
            (str(absolute), 50, 10), ("photos/gone.jpg", 70, 20)]
    with sqlite3.connect(path) as conn:
        for n, (p, w, h) in enumerate(rows):
            conn.execute("INSERT INTO images (path, sha256, width, height, attributes, added_at) "
                         "VALUES (?, ?, ?, ?, '{}', '2026-01-01 00:00:00')", (p, f"h{n}", w, h))
    with ProjectStore.open(path) as store:
        assert store.backup_path is not None
        sizes = [(i.width, i.height) for i in store.list_images()]
    assert sizes == [(40, 100), (30, 20), (64, 48), (10, 50), (70, 20)]


@pytest.mark.parametrize("revision", ["0001_annotations", "0002_measure_models_specs"])
def test_an_upgrade_keeps_every_garment_keypoint_and_measurement(tmp_path, revision):
    """0003 rebuilds the images table (SQLite's ALTER is copy, drop, rename). With foreign keys on, dropping
    it deleted every garment, keypoint and measurement through ON DELETE CASCADE."""
    path = tmp_path / "old.db"
    engine = make_engine(path)
    upgrade(engine, revision)
    engine.dispose()
    now = "2026-01-01 00:00:00"
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO images (id, path, sha256, width, height, attributes, added_at) "
                     f"VALUES (1, 'a.png', 'abc', 64, 48, '{{}}', '{now}')")
        conn.execute("INSERT INTO garments (id, image_id, category_id, layout, x1, y1, x2, y2, score, status, "
                     f"attributes, created_at, updated_at) VALUES (7, 1, 9, 'df2', 1.5, 2.5, 40.25, 44.0, 0.9, "
                     f"'corrected', '{{}}', '{now}', '{now}')")
        for i in range(8):
            conn.execute("INSERT INTO keypoints (garment_id, idx, x, y, visibility, score, source) "
                         "VALUES (7, ?, ?, ?, 2, NULL, 'human')", (i, 3.25 + i, 4.5 + i))
        if revision != "0001_annotations":
            conn.execute("INSERT INTO measurements (garment_id, pom, value_mm, points, created_at) "
                         f"VALUES (7, 'waist_width', 123.4, '[]', '{now}')")
    with ProjectStore.open(path) as store:
        assert store.backup_path is not None
        (gid, garment), = store.garments(1)
        assert gid == 7 and garment.bbox == (1.5, 2.5, 40.25, 44.0)
        assert [(k.x, k.y) for k in garment.keypoints] == [(3.25 + i, 4.5 + i) for i in range(8)]
        assert str(store.image(1).status) == "corrected"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        if revision != "0001_annotations":
            assert conn.execute("SELECT pom, value_mm FROM measurements").fetchall() == [("waist_width", 123.4)]


def test_the_change_mark_grows_with_every_write_by_any_program(tmp_path):
    """Another window's (or the CLI's) new photo, calibration, photo calibration, spec sheet and edits all move
    the mark a window compares against (0006's triggers); reading does not."""
    from test_store_fixtures import make_garment, write_png

    path = tmp_path / "p.db"
    with ProjectStore.create(path) as window, ProjectStore.open(path) as other:
        seen = window.change_mark()
        image_id = other.add_image(write_png(tmp_path / "a.png")).image_id
        steps = [
            lambda: other.save_calibration("bench", "scale", {"mm_per_px": 0.5}),
            lambda: other.set_image_calibration(image_id, other.calibration("bench").id),
            lambda: other.save_spec_sheet("s.csv", [{"pom": "chest_width", "size": "M", "target_cm": 50.0,
                                                     "tolerance_cm": 1.0, "category": None}]),
            lambda: other.store_predictions(image_id, [make_garment(1)]),
            lambda: other.move_point(other.garments(image_id)[0][0], 0, 3.5, 4.5),
        ]
        for step in [lambda: None, *steps]:  # the first: the add_image above
            step()
            now = window.change_mark()
            assert now > seen
            seen = now
        window.list_images()
        window.garments(image_id)
        assert window.change_mark() == seen


def test_what_a_person_deleted_is_read_through_the_history_index(tmp_path):
    """The deleted-garment lookup runs on every image listing: it must not scan the whole history."""
    path = tmp_path / "p.db"
    ProjectStore.create(path).close()
    with sqlite3.connect(path) as conn:
        plan = " ".join(str(row) for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT id, image_id, old_value FROM edit_history "
            "WHERE action = 'delete_garment' AND garment_id NOT IN (SELECT id FROM garments)"))
    assert "ix_edit_history_action_image" in plan and "SCAN edit_history" not in plan
