"""`garment-studio measure`: which landmarks and which calibration get measured, and refusals of inputs that
would measure the wrong thing (a QC review, session 14)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from app.cli.main import main
from measure.calibration import Calibration
from measure.scene import SHORT_SLEEVE_TOP_MM

SCALES = (0.5, 0.25)


def _photo(path, width=600, height=700):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((height, width, 3), 200, np.uint8))
    return path


def _df2(path, shift=0.0):
    kps = np.hstack([SHORT_SLEEVE_TOP_MM + shift, np.full((25, 1), 2.0)])
    doc = {"item1": {"category_id": 1, "bounding_box": [0, 10, 500, 610], "landmarks": kps.ravel().tolist()}}
    path.write_text(json.dumps(doc))
    return path


def _measure(capsys, argv):
    code = main(["measure", *argv, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def test_photos_sharing_a_name_keep_their_own_calibration_in_a_project(tmp_path, capsys):
    from app.store.repository import ProjectStore

    project = tmp_path / "qc.db"
    first, second = _photo(tmp_path / "a" / "shirt.png"), _photo(tmp_path / "b" / "shirt.png", 640)
    keypoints = _df2(tmp_path / "kp.json")
    for photo, scale in zip((first, second), SCALES, strict=True):
        _measure(capsys, [str(photo), "--mm-per-px", str(scale), "--keypoints", str(keypoints), "--project", str(project)])
    with ProjectStore.open(project) as store:
        infos = store.list_images()
        profiles = [Calibration.from_dict(store.calibration(info.calibration_id).payload) for info in infos]
        assert len({info.calibration_id for info in infos}) == 2
    assert [p.mm_per_px for p in profiles] == pytest.approx(SCALES)  # the second photo's profile did not replace the first one's


def test_a_keypoints_file_unlike_the_projects_landmarks_is_refused_not_ignored(tmp_path, capsys):
    project, photo = tmp_path / "qc.db", _photo(tmp_path / "shirt.png")
    base = ["--mm-per-px", "0.5", "--project", str(project)]
    _measure(capsys, [str(photo), "--keypoints", str(_df2(tmp_path / "kp.json")), *base])
    moved = _df2(tmp_path / "moved.json", shift=7.5)
    assert main(["measure", str(photo), "--keypoints", str(moved), *base]) == 2
    err = capsys.readouterr().err
    assert "from elsewhere" in err and "moved.json" in err
    alone = _measure(capsys, [str(photo), "--mm-per-px", "0.5", "--keypoints", str(moved)])
    assert alone["garments"][0]["keypoints"][0][0] == pytest.approx(SHORT_SLEEVE_TOP_MM[0][0] + 7.5)


def test_landmarks_off_the_photo_are_refused(tmp_path, capsys):
    small = _photo(tmp_path / "small.png", 300, 350)  # the file was made for a 600x700 photo
    assert main(["measure", str(small), "--mm-per-px", "0.5", "--keypoints", str(_df2(tmp_path / "kp.json"))]) == 2
    assert "outside the 300x350 photo" in capsys.readouterr().err


def test_predicts_json_is_measured_like_the_same_points_as_deepfashion2(tmp_path, capsys):
    from app.cli.commands.predict import garment_json
    from inference.annotation import Garment, Keypoint, Visibility

    photo = _photo(tmp_path / "shirt.png")
    points = [Keypoint(float(x), float(y), Visibility.VISIBLE, 0.9) for x, y in SHORT_SLEEVE_TOP_MM]
    points[11] = Keypoint(points[11].x, points[11].y, Visibility.OCCLUDED, 0.2)
    predicted = Garment(1, (0.0, 10.0, 500.0, 610.0), tuple(points), 0.8)
    (tmp_path / "pred.json").write_text(json.dumps({"image": str(photo), "garments": [garment_json(predicted)]}))
    kps = np.hstack([SHORT_SLEEVE_TOP_MM, np.full((25, 1), 2.0)])
    kps[11, 2] = 1
    doc = {"item1": {"category_id": 1, "bounding_box": [0, 10, 500, 610], "landmarks": kps.ravel().tolist()}}
    (tmp_path / "df2.json").write_text(json.dumps(doc))
    from_predict, from_df2 = (
        _measure(capsys, [str(photo), "--mm-per-px", "0.5", "--keypoints", str(tmp_path / name)])["garments"][0]
        for name in ("pred.json", "df2.json")
    )
    assert from_predict["measurements"] == from_df2["measurements"]  # occluded landmark 12 included
    assert from_predict["keypoints"][11][2] == 1 and from_predict["score"] == pytest.approx(0.8)


def test_only_a_pom_the_category_lacks_says_so(tmp_path, capsys):
    photo = _photo(tmp_path / "shirt.png")
    report = _measure(capsys, [str(photo), "--mm-per-px", "0.5", "--keypoints", str(_df2(tmp_path / "kp.json")),
                               "--only", "inseam,chest_width"])
    garment = report["garments"][0]
    assert set(garment["measurements"]) == {"chest_width"}
    assert any("inseam: not a point of measure of a short sleeve top" in w for w in garment["warnings"])


def test_the_verdict_names_the_sheets_poms_the_category_lacks_and_ignored_columns(tmp_path, capsys):
    photo = _photo(tmp_path / "shirt.png")
    argv = [str(photo), "--mm-per-px", "0.5", "--keypoints", str(_df2(tmp_path / "kp.json"))]
    report = _measure(capsys, argv)
    chest = report["garments"][0]["measurements"]["chest_width"]["cm"]
    spec = tmp_path / "spec.csv"
    spec.write_text(f"pom,size,target_cm,tolerance_cm,notes\nchest_width,M,{chest},0.5,ok\ninseam,M,80,1,\n")
    assert main(["measure", *argv, "--spec", str(spec), "--size", "M"]) == 0
    out = capsys.readouterr()
    assert "spec size M: PASS — 1 spec POM does not apply to short sleeve top: inseam" in out.out
    assert "'notes'" in out.err and "ignored" in out.err


def test_measure_into_a_project_runs_the_projects_active_model_version(tmp_path, capsys):
    """The project's active version is what measure runs (as predict and the app do): here one whose graph
    files are placeholders, so the run names it when it cannot load it instead of using the bundled model."""
    from retrain_fixtures import fake_card

    from app.store.repository import ProjectStore

    project = tmp_path / "shop.db"
    card = fake_card(tmp_path / "retrained", version="0.3.0")
    with ProjectStore.create(project) as store:
        store.register_model("bootstrap", "0.3.0", str(card), active=True)
    photo = _photo(tmp_path / "new.png")
    assert main(["measure", str(photo), "--mm-per-px", "1", "--project", str(project)]) != 0
    assert f"cannot load {card}" in capsys.readouterr().err


def test_the_table_shows_a_value_rounded_as_the_verdict_rounds_it(capsys):
    from app.cli.commands.measure import _print_table

    assert f"{64.505:.2f}" == "64.50"  # Python's own rounding of this float: it would show 64.50 beside a fail
    payload = {"image": "p.jpg", "calibration": {"method": "scale", "mm_per_px": 0.5, "reprojection_error_px": None},
               "garments": [{"category": "skirt", "measurements": {"hem_width": {"cm": 64.505, "reason": None}},
                             "spec": None, "warnings": []}]}
    _print_table(payload)
    assert "64.51 cm" in capsys.readouterr().out


def test_a_project_imported_by_an_earlier_version_is_measured_with_its_corrections(tmp_path, capsys):
    from app.store.models import EditRow
    from app.store.repository import ProjectStore

    project, photo = tmp_path / "qc.db", _photo(tmp_path / "shirt.png")
    keypoints = _df2(tmp_path / "kp.json")
    _measure(capsys, [str(photo), "--mm-per-px", "0.5", "--keypoints", str(keypoints), "--project", str(project)])
    with ProjectStore.open(project) as store:  # as the earlier version recorded the import: the bare path
        (info,) = store.list_images()
        (gid, _), = store.garments(info.id)
        with store._write() as s:
            for edit in s.query(EditRow).filter(EditRow.action == "import"):
                edit.new_value = {**edit.new_value, "source": str(keypoints)}
        store.move_point(gid, 0, 40.5, 60.25)
    report = _measure(capsys, [str(photo), "--mm-per-px", "0.5", "--keypoints", str(keypoints), "--project",
                               str(project)])
    assert report["garments"][0]["keypoints"][0][:2] == [40.5, 60.25]  # the correction, measured


def test_an_earlier_versions_import_of_a_file_changed_since_is_refused(tmp_path, capsys):
    import os
    import time

    from app.store.models import EditRow
    from app.store.repository import ProjectStore

    project, photo = tmp_path / "qc.db", _photo(tmp_path / "shirt.png")
    keypoints = _df2(tmp_path / "kp.json")
    argv = [str(photo), "--mm-per-px", "0.5", "--keypoints", str(keypoints), "--project", str(project)]
    _measure(capsys, argv)
    with ProjectStore.open(project) as store, store._write() as s:  # as the earlier version recorded it
        for edit in s.query(EditRow).filter(EditRow.action == "import"):
            edit.new_value = {**edit.new_value, "source": str(keypoints)}
    _df2(keypoints, shift=25.0)  # the file is rewritten afterwards
    later = time.time() + 5
    os.utime(keypoints, (later, later))
    assert main(["measure", *argv]) == 2
    assert "from elsewhere" in capsys.readouterr().err
