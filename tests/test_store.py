"""Repository API invariants on a real SQLite project file."""

from dataclasses import replace

import pytest
from test_store_fixtures import make_garment, write_jpeg, write_png

from app.store import ImageReadError, ImageStatus, ProjectStore, StoreError
from inference.annotation import GarmentStatus, Keypoint, PointSource, Visibility
from inference.schema import deepfashion2


def test_add_images_hashes_sizes_and_skips_duplicates(store, tmp_path):
    a = write_png(tmp_path / "a.png", 64, 48, seed=1)
    b = write_png(tmp_path / "b.png", 32, 16, seed=2)
    same_as_a = tmp_path / "copy.png"
    same_as_a.write_bytes(a.read_bytes())
    (tmp_path / "broken.png").write_bytes(b"not an image")
    report = store.add_images([a, b, same_as_a, tmp_path / "broken.png", tmp_path / "missing.png"])
    assert [r.added for r in report.results] == [True, True, False]
    assert report.results[2].image_id == report.results[0].image_id
    assert len(report.errors) == 2 and "broken.png" in report.errors[0] and "missing.png" in report.errors[1]
    infos = store.list_images()
    assert [(i.width, i.height, i.status) for i in infos] == [(64, 48, ImageStatus.NEW), (32, 16, ImageStatus.NEW)]
    with pytest.raises(ImageReadError, match="broken.png"):
        store.add_image(tmp_path / "broken.png")


@pytest.mark.parametrize("little_endian", [False, True])
def test_exif_orientation_is_read_from_the_jpeg_header(tmp_path, little_endian):
    from app.store.images import exif_orientation

    for value in range(1, 9):
        path = write_jpeg(tmp_path / f"o{value}.jpg", 20, 10, value, little_endian=little_endian)
        assert exif_orientation(path.read_bytes()) == value
    assert exif_orientation(write_jpeg(tmp_path / "plain.jpg", 20, 10).read_bytes()) == 1
    assert exif_orientation(write_png(tmp_path / "p.png").read_bytes()) == 1
    tagged = (tmp_path / "o6.jpg").read_bytes()
    assert exif_orientation(tagged[:40]) == 1  # cut inside the EXIF block: unreadable, taken as upright


def test_a_sideways_phone_photo_is_stored_with_its_upright_size(store, tmp_path):
    """Stored 100×40 with orientation 6 (turn 90° clockwise to view): the model, the canvas and the stored
    size all see it 40 wide and 100 tall, so exports divide upright keypoints by the upright size."""
    import cv2
    from PySide6.QtGui import QImageReader

    from app.datasets.formats import export_project

    path = write_jpeg(tmp_path / "phone.jpg", 100, 40, orientation=6)
    info = store.image(store.add_image(path).image_id)
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    shown = reader.read()
    assert (info.width, info.height) == (40, 100) == (shown.width(), shown.height())
    assert cv2.imread(str(path)).shape[:2] == (100, 40)
    garment = replace(make_garment(box=(4.25, 60.5, 36.75, 97.25)), status=GarmentStatus.CORRECTED)
    store.import_garments(info.id, [garment])
    export_project(store, tmp_path / "yolo", "yolo-pose")
    (label,) = (tmp_path / "yolo" / "labels").glob("*.txt")
    numbers = [float(v) for v in label.read_text().split()[1:]]
    box, points = numbers[:4], numbers[4:]
    assert box == pytest.approx([20.5 / 40, 78.875 / 100, 32.5 / 40, 36.75 / 100])
    xs, ys = points[0::3], points[1::3]
    assert max(xs) <= 1.0 and max(ys) <= 1.0 and max(ys) > 0.6  # upright frame: the points lie low down


def test_relative_paths_resolve_against_the_project_folder(store, tmp_path):
    write_png(tmp_path / "rel" / "x.png")
    result = store.add_image("rel/x.png")
    info = store.image(result.image_id)
    assert info.path == "rel/x.png"
    assert store.resolve_path(info.path) == tmp_path / "rel" / "x.png"


def test_predictions_never_overwrite_corrections(store, image_id):
    first = store.store_predictions(image_id, [make_garment(1), make_garment(8, box=(50, 5, 60, 40))], "m1")
    corrected_id, replaced_id = first.added
    store.move_point(corrected_id, 0, 11.5, 12.25)
    human = store.garment(corrected_id)
    assert human.status == GarmentStatus.CORRECTED

    again = store.store_predictions(
        image_id,
        [make_garment(1, shift=0.5), make_garment(8, box=(51, 5, 61, 40)), make_garment(1, box=(44, 2, 63, 30))],
        "m2",
    )
    assert again.kept == (corrected_id,) and again.replaced == (replaced_id,)
    assert again.dropped == 1  # the new short sleeve top overlaps the corrected one
    garments = dict(store.garments(image_id))
    assert garments[corrected_id] == human  # untouched, field by field
    assert replaced_id not in garments
    assert len(garments) == 3
    assert {g.model_version for gid, g in garments.items() if gid != corrected_id} == {"m2"}


def test_a_garment_a_person_deleted_stays_deleted_when_the_model_runs_again(store, image_id):
    """Deleting a false positive is a correction: the image is no longer "predicted", and the next
    prediction run (auto-annotate over every photo) does not bring the garment back; undoing the delete
    lifts both."""
    false_positive, real = store.store_predictions(
        image_id, [make_garment(8, box=(50, 5, 60, 40)), make_garment(1)], "m1"
    ).added
    assert store.image(image_id).status == ImageStatus.PREDICTED
    store.delete_garment(false_positive)
    assert store.image(image_id).status == ImageStatus.CORRECTED
    assert [i.id for i in store.list_images(status="corrected")] == [image_id]

    again = store.store_predictions(
        image_id, [make_garment(8, box=(51, 5, 61, 40)), make_garment(1, shift=0.5), make_garment(9, box=(50, 5, 60, 40))],
        "m2",
    )
    assert again.replaced == (real,) and again.dropped == 1  # the trousers in another category are a new claim
    assert sorted(g.category_id for _, g in store.garments(image_id)) == [1, 9]

    store.delete_garment(again.added[0])  # the re-predicted top as well: nothing left
    assert store.image(image_id).status == ImageStatus.CORRECTED
    store.verify_image(image_id)
    assert store.image(image_id).status == ImageStatus.VERIFIED

    (delete_edit,) = [e for e in store.history(garment_id=false_positive) if e.action == "delete_garment"]
    store.revert_edit(delete_edit.id)  # undo: the garment is back, so it no longer blocks a prediction
    third = store.store_predictions(image_id, [make_garment(8, box=(51, 5, 61, 40))], "m3")
    assert third.replaced == (false_positive,) and third.dropped == 0 and len(third.added) == 1
    # replaced by the model, not deleted by a person: the undone delete stays undone
    fourth = store.store_predictions(image_id, [make_garment(8, box=(50, 5, 60, 40))], "m4")
    assert fourth.dropped == 0 and len(fourth.added) == 1


def test_point_edits_return_old_values_and_mark_corrected(store, image_id):
    (gid,) = store.store_predictions(image_id, [make_garment(7)]).added
    before = store.garment(gid)
    old = store.move_point(gid, 0, 5.125, 6.375)
    assert old == before.keypoints[0]
    moved = store.garment(gid).keypoints[0]
    assert (moved.x, moved.y, moved.source) == (5.125, 6.375, PointSource.HUMAN)
    assert store.garment(gid).status == GarmentStatus.CORRECTED

    assert store.set_visibility(gid, 0, Visibility.OCCLUDED) == moved
    assert store.remove_point(gid, 3) == before.keypoints[3]
    assert store.garment(gid).keypoints[3].visibility == Visibility.ABSENT
    assert store.add_point(gid, 2, 9.5, 8.5).visibility == Visibility.ABSENT
    assert store.garment(gid).keypoints[2] == Keypoint(9.5, 8.5, Visibility.VISIBLE, None, PointSource.HUMAN)
    with pytest.raises(StoreError, match="no keypoint 99"):
        store.move_point(gid, 99, 1, 1)
    assert [e.action for e in store.history(garment_id=gid)] == [
        "move_point", "set_visibility", "remove_point", "add_point"
    ]


def test_history_reverts_every_kind_of_edit(store, image_id):
    (gid,) = store.store_predictions(image_id, [make_garment(1)]).added
    original = store.garment(gid)
    store.move_point(gid, 4, 1.5, 2.5)
    store.set_box(gid, (1.0, 2.0, 30.5, 40.25))
    store.change_category(gid, 10)
    store.verify(gid)
    for edit in reversed(store.history(garment_id=gid)):
        store.revert_edit(edit.id)
    assert store.garment(gid) == original


def test_delete_is_reverted_from_history_with_its_prediction(store, image_id):
    (gid,) = store.store_predictions(image_id, [make_garment(9)]).added
    store.move_point(gid, 0, 3.0, 4.0)
    deleted = store.delete_garment(gid)
    assert store.garments(image_id) == []
    delete_edit = store.history(garment_id=gid)[-1]
    assert delete_edit.action == "delete_garment"
    new_id = store.revert_edit(delete_edit.id)
    assert store.garment(new_id) == deleted
    store.revert_to_prediction(new_id)
    assert store.garment(new_id).keypoints == make_garment(9).keypoints


def test_revert_to_prediction_restores_the_model_output(store, image_id):
    (gid,) = store.store_predictions(image_id, [make_garment(2)], model_version="df2-v3").added
    predicted = store.garment(gid)
    store.move_point(gid, 0, 1.0, 1.0)
    store.set_box(gid, (0, 0, 10, 10))
    old = store.revert_to_prediction(gid)
    assert old.status == GarmentStatus.CORRECTED and old.bbox == (0.0, 0.0, 10.0, 10.0)
    assert store.garment(gid) == predicted
    assert store.garment(gid).model_version == "df2-v3"
    human = store.add_garment(image_id, make_garment(5))
    with pytest.raises(StoreError, match="no prediction"):
        store.revert_to_prediction(human)


def test_change_category_keeps_points_by_landmark_name(store, image_id):
    (gid,) = store.store_predictions(image_id, [make_garment(1)]).added
    old = store.garment(gid)
    store.change_category(gid, 10)  # short sleeve top -> short sleeve dress
    new = store.garment(gid)
    top, dress = deepfashion2().category(1), deepfashion2().category(10)
    assert new.category_id == 10 and len(new.keypoints) == dress.num_keypoints
    for j, name in enumerate(dress.landmarks):
        if name in top.landmarks:
            assert new.keypoints[j] == old.keypoints[top.landmarks.index(name)]
    # shorts -> trousers: names differ in part; the 81-slot aggregate carries the shared slots
    (sid,) = store.store_predictions(image_id, [make_garment(7, box=(45, 2, 62, 40))]).added
    shorts = store.garment(sid)
    store.change_category(sid, 8)
    trousers = store.garment(sid)
    carried = {(k.x, k.y) for k in trousers.keypoints if k.visibility}
    assert carried and carried <= {(k.x, k.y) for k in shorts.keypoints}


def test_reread_replaces_the_models_points_and_keeps_a_persons(store, image_id):
    (gid,) = store.store_predictions(image_id, [make_garment(9)]).added
    store.move_point(gid, 3, 10.125, 20.375)  # a person's point
    store.set_visibility(gid, 5, Visibility.OCCLUDED)  # a person's judgement about a model point
    before = store.garment(gid)
    reading = make_garment(9, shift=1.5, score=0.5)  # the model's new reading, every point moved
    old = store.reread_landmarks(gid, reading, 64, 48)
    assert old == before
    after = store.garment(gid)
    for i, (was, now, read) in enumerate(zip(before.keypoints, after.keypoints, reading.keypoints, strict=True)):
        assert now == (was if i in (3, 5) else read), i
    moved = after.keypoints[3]
    assert (moved.x, moved.y, moved.source) == (10.125, 20.375, PointSource.HUMAN)
    assert after.status == GarmentStatus.CORRECTED and after.score == 0.5
    assert after.bbox == before.bbox  # a box the model did not draw round the landmarks stays
    (edit,) = [e for e in store.history(garment_id=gid) if e.action == "reread_landmarks"]
    store.revert_edit(edit.id)
    assert store.garment(gid) == before


def test_reread_redraws_the_models_landmark_box_unless_a_person_set_it(store, image_id):
    drawn_round_landmarks = make_garment(1)
    extra = {"detector_box": [1.0, 1.0, 50.0, 47.0]}
    (gid,) = store.store_predictions(image_id, [replace(drawn_round_landmarks, extra=extra)]).added
    assert store.garment(gid).status == GarmentStatus.PREDICTED
    reading = make_garment(1, shift=4.0)
    store.reread_landmarks(gid, reading, 64, 48)
    g = store.garment(gid)
    placed = [(k.x, k.y) for k in g.keypoints if k.visibility != Visibility.ABSENT]
    assert g.bbox == (min(x for x, _ in placed), min(y for _, y in placed), max(x for x, _ in placed),
                      min(48.0, max(y for _, y in placed)))  # clipped to the photo
    assert g.status == GarmentStatus.PREDICTED  # all the model's: nothing for a person to re-check
    from app.store.convert import reading_box

    assert reading_box(g) == (1.0, 1.0, 50.0, 47.0)  # read again in the detector's box

    store.set_box(gid, (5.0, 6.0, 40.0, 41.0))
    assert reading_box(store.garment(gid)) == (5.0, 6.0, 40.0, 41.0)  # the person's box is read in...
    store.reread_landmarks(gid, make_garment(1, shift=2.0), 64, 48)
    assert store.garment(gid).bbox == (5.0, 6.0, 40.0, 41.0)  # ...and kept
    set_box = [e for e in store.history(garment_id=gid) if e.action == "set_box"][-1]
    store.revert_edit(set_box.id)
    assert "box_by_hand" not in store.garment(gid).extra


def test_reread_of_a_verified_garment_asks_for_verifying_again_and_refuses_another_category(store, image_id):
    (gid,) = store.store_predictions(image_id, [make_garment(1)]).added
    store.verify(gid)
    store.reread_landmarks(gid, make_garment(1, shift=1.0), 64, 48)
    assert store.garment(gid).status == GarmentStatus.CORRECTED
    assert store.image(image_id).status == ImageStatus.CORRECTED
    with pytest.raises(ValueError, match="category 10"):
        store.reread_landmarks(gid, make_garment(10), 64, 48)


def test_image_status_filters_and_next_unverified(store, tmp_path):
    ids = [store.add_image(write_png(tmp_path / f"{i}.png", seed=i)).image_id for i in range(4)]
    store.store_predictions(ids[1], [make_garment(1)])
    (g2,) = store.store_predictions(ids[2], [make_garment(8)]).added
    store.set_box(g2, (1, 1, 20, 20))
    (g3,) = store.store_predictions(ids[3], [make_garment(9)]).added
    store.verify(g3)
    status = {i.id: i.status for i in store.list_images()}
    assert [status[i] for i in ids] == ["new", "predicted", "corrected", "verified"]
    assert [i.id for i in store.list_images(status="corrected")] == [ids[2]]
    assert [i.id for i in store.list_images(category=8)] == [ids[2]]
    assert [i.id for i in store.list_images(status=["new", "verified"], category=[9])] == [ids[3]]
    assert store.next_unverified_image().id == ids[0]
    assert store.next_unverified_image(after_image_id=ids[2]).id == ids[0]  # wraps past the verified one
    store.verify_image(ids[0])
    assert store.image(ids[0]).status == ImageStatus.VERIFIED  # confirmed empty


def test_bad_garments_are_refused_before_anything_is_written(store, image_id):
    good = make_garment(1)
    short = replace(good, keypoints=good.keypoints[:-1])
    with pytest.raises(ValueError, match="needs 25 keypoints"):
        store.store_predictions(image_id, [good, short])
    with pytest.raises(ValueError, match="unknown DeepFashion2 category"):
        store.add_garment(image_id, replace(good, category_id=42))
    assert store.garments(image_id) == []


def test_records_calibrations_measurements_models_specs(store, image_id):
    gid = store.add_garment(image_id, make_garment(8))
    cal = store.save_calibration("bench-cam", "checkerboard", {"mm_per_px": 0.5})
    assert store.save_calibration("bench-cam", "checkerboard", {"mm_per_px": 0.25}) == cal
    assert store.calibration("bench-cam").payload == {"mm_per_px": 0.25}
    store.add_measurement(gid, "waist width", 401.25, [[1.5, 2.5], [3.5, 4.5]], cal)
    (m,) = store.measurements(image_id=image_id)
    assert (m.pom, m.value_mm, m.category_id, m.calibration_id) == ("waist width", 401.25, 8, cal)
    a = store.register_model("df2", "1", "models/a/model_card.json", active=True)
    b = store.register_model("df2", "2", "models/b/model_card.json", parent_id=a, metrics={"ap": 0.5})
    assert store.active_model().id == a
    assert store.set_active_model(b) == a and store.active_model().metrics == {"ap": 0.5}
    store.save_spec_sheet("tee M", [{"pom": "chest width", "size": "M", "target_mm": 520.0, "tolerance_mm": 10.0}])
    assert store.spec_sheet("tee M").rows[0]["target_mm"] == 520.0
    store.delete_garment(gid)
    assert store.measurements() == []  # measurements go with their garment


def test_a_photo_keeps_its_own_calibration_until_the_profile_is_deleted(store, image_id, tmp_path):
    assert store.image(image_id).calibration_id is None
    board = store.save_calibration("board in photo 1", "charuco", {"homography": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]})
    assert store.set_image_calibration(image_id, board) is None
    assert store.image(image_id).calibration_id == board
    reopened = ProjectStore.open(store.path)
    try:
        assert reopened.image(image_id).calibration_id == board
    finally:
        reopened.close()
    with pytest.raises(StoreError, match="no calibration 999"):
        store.set_image_calibration(image_id, 999)
    assert store.set_image_calibration(image_id, None) == board  # undo gets the old id back


# -- opening: permissions, read-only projects, files that are not projects -----------------------------
# Tests may run as root, for whom chmod blocks nothing: they simulate "not writable" through the one
# place database.py asks the operating system (_writable), and SQLite's own read-only mode does the rest.


def _not_writable(monkeypatch, *paths):
    from app.store import database

    blocked = {p.resolve() for p in paths}
    monkeypatch.setattr(database, "_writable", lambda path: path.resolve() not in blocked)


def _project_with_an_image(tmp_path):
    path = tmp_path / "p.db"
    with ProjectStore.create(path) as s:
        s.add_image(write_png(tmp_path / "img" / "a.png"))
    return path


def test_a_read_only_project_file_opens_for_reading_and_refuses_writes(tmp_path, monkeypatch):
    path = _project_with_an_image(tmp_path)
    before = path.read_bytes()
    _not_writable(monkeypatch, path)
    with ProjectStore.open(path) as s:
        assert [i.path for i in s.list_images()] == ["img/a.png"]  # inside the project folder: relative
        with pytest.raises(StoreError, match=r"cannot save to project file .*p\.db: the file is read-only"):
            s.add_image(write_png(tmp_path / "img" / "b.png", seed=1))
        assert len(s.list_images()) == 1  # the refused write left the session usable
    assert path.read_bytes() == before
    with pytest.raises(StoreError, match=r"cannot save to project file .*p\.db: the file is read-only"):
        ProjectStore.open(path, create=True)  # creating callers are about to write: refused at once


def test_a_project_in_a_read_only_folder_is_read_without_wal_files(tmp_path, monkeypatch):
    path = _project_with_an_image(tmp_path)
    _not_writable(monkeypatch, tmp_path)
    with ProjectStore.open(path) as s:
        assert len(s.list_images()) == 1
        with pytest.raises(StoreError, match=f"its folder {tmp_path} is not writable"):
            s.add_image(write_png(tmp_path / "img" / "b.png", seed=1))
    assert sorted(p.name for p in tmp_path.glob("p.db*")) == ["p.db"]  # immutable: no -wal/-shm made


def test_no_project_is_created_in_a_read_only_folder(tmp_path, monkeypatch):
    _not_writable(monkeypatch, tmp_path)
    with pytest.raises(StoreError, match=f"cannot create project .*new.db: folder {tmp_path} is not writable"):
        ProjectStore.create(tmp_path / "new.db")
    assert not (tmp_path / "new.db").exists()


def test_a_read_only_project_that_needs_a_migration_says_so(tmp_path, monkeypatch):
    from app.store.database import known_revisions, make_engine, upgrade

    path = tmp_path / "old.db"
    engine = make_engine(path)
    upgrade(engine, known_revisions()[-1])
    engine.dispose()
    before = path.read_bytes()
    _not_writable(monkeypatch, path)
    with pytest.raises(StoreError, match="must be upgraded .* cannot be done read-only .*the file is read-only"):
        ProjectStore.open(path)
    assert path.read_bytes() == before and not list(tmp_path.glob("*.bak"))


def test_read_only_can_be_asked_for_on_a_writable_project(tmp_path):
    from app.store.database import IMMEDIATE, open_database

    path = _project_with_an_image(tmp_path)
    engine, backup = open_database(path, create=False, read_only=True)
    try:
        assert backup is None
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM images").scalar() == 1
        with pytest.raises(StoreError, match="opened read-only"), engine.execution_options(
            **{IMMEDIATE: True}
        ).begin() as conn:
            conn.exec_driver_sql("DELETE FROM images")
    finally:
        engine.dispose()


def test_an_empty_file_or_empty_database_is_not_turned_into_a_project(tmp_path):
    import sqlite3

    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"")
    with pytest.raises(StoreError, match="notes.txt is an empty file, not a Garment Keypoint Studio project"):
        ProjectStore.open(notes)
    assert notes.read_bytes() == b""
    blank = tmp_path / "blank.db"
    conn = sqlite3.connect(blank)
    conn.execute("PRAGMA user_version = 1")  # a valid SQLite file without any table
    conn.close()
    with pytest.raises(StoreError, match="empty SQLite database"):
        ProjectStore.open(blank)
    ProjectStore.open(notes, create=True).close()  # asked to create: an empty file becomes the project


def test_sqlite_errors_on_open_are_told_apart(tmp_path):
    """Permission problems are not reported as corruption (the classification itself, with real SQLite errors)."""
    import sqlite3

    from sqlalchemy.exc import DatabaseError

    from app.store.database import _open_error

    def sqlite_error(connect, sql):
        try:
            sqlite3.connect(connect, uri=True).execute(sql)
        except sqlite3.Error as exc:
            return DatabaseError(sql, None, exc)
        raise AssertionError("no error")

    path = _project_with_an_image(tmp_path)
    readonly = sqlite_error(f"{path.as_uri()}?mode=ro", "DELETE FROM images")
    message = str(_open_error(path, readonly, False, "the file is read-only"))
    assert message.startswith(f"project file {path} is read-only (the file is read-only)") and "corrupt" not in message
    cantopen = sqlite_error(str(tmp_path / "missing" / "p.db"), "SELECT 1")
    message = str(_open_error(tmp_path / "missing" / "p.db", cantopen, True, None))
    assert message.startswith("cannot create project") and "writable" in message and "corrupt" not in message
    assert "check the permissions" in str(_open_error(path, cantopen, False, None))
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"SQLite format 3\x00" + b"\xa5" * 4000)
    notadb = sqlite_error(str(garbage), "SELECT * FROM sqlite_master")
    assert "is corrupt or not a database" in str(_open_error(garbage, notadb, False, None))


def test_a_project_path_with_a_question_mark_is_that_path(tmp_path):
    folder = tmp_path / "what?"
    folder.mkdir()
    path = folder / "proj?v2.db"
    with ProjectStore.create(path) as store:
        store.add_image(write_png(tmp_path / "a.png", 8, 8))
    assert path.is_file() and not (tmp_path / "what").exists()
    with ProjectStore.open(path) as store:
        assert len(store.list_images()) == 1


def test_reviewed_garments_are_what_a_person_corrected_or_verified(store, image_id, tmp_path):
    empty = store.add_image(write_png(tmp_path / "e.png", 8, 8, seed=9)).image_id
    store.verify_image(empty)  # an image confirmed empty: verified, but no garment to learn from
    (gid,) = store.store_predictions(image_id, [make_garment(1)]).added
    assert not store.has_reviewed_garments()
    store.move_point(gid, 0, 1.5, 2.5)
    assert store.has_reviewed_garments()
