"""`garment-studio calibrate` and `measure` through app.cli.main.main, on rendered scenes and DF2 files."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from app.cli.main import main
from measure.boards import CharucoSpec
from measure.calibration import Calibration
from measure.measurements import measure_keypoints
from measure.scene import SHORT_SLEEVE_TOP_MM, render_table_scene

BOARD = "12x9:40:30:DICT_5X5_100"


@pytest.fixture(scope="module")
def scene_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scene")
    board = CharucoSpec.parse(BOARD)
    scene = render_table_scene(16, -6, board=board, garment_origin_mm=(board.size_mm[0] + 40, 0))
    image = folder / "table photo.png"
    cv2.imwrite(str(image), scene.image)
    px = scene.garment_px
    landmarks = np.hstack([px, np.full((len(px), 1), 2.0)])
    landmarks[3, 2] = 0  # front neck centre not labelled: no POM uses it
    item = {
        "category_id": 1,
        "category_name": "short sleeve top",
        "bounding_box": [*px.min(axis=0).tolist(), *px.max(axis=0).tolist()],
        "landmarks": landmarks.ravel().tolist(),
    }
    keypoints = folder / "df2.json"
    keypoints.write_text(json.dumps({"source": "user", "pair_id": 1, "item1": item}))
    return scene, image, keypoints


def _run_json(capsys, argv):
    code = main(argv)
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def test_measure_with_mm_per_px_and_keypoints(tmp_path, capsys):
    image = tmp_path / "flat.png"
    cv2.imwrite(str(image), np.full((700, 600, 3), 200, np.uint8))
    kps = np.hstack([SHORT_SLEEVE_TOP_MM, np.full((25, 1), 2.0)])
    kps[11, 2] = 0  # left armpit absent
    doc = {"item1": {"category_id": 1, "bounding_box": [0, 10, 500, 610], "landmarks": kps.ravel().tolist()}}
    df2 = tmp_path / "flat.json"
    df2.write_text(json.dumps(doc))
    result = _run_json(
        capsys, ["measure", str(image), "--mm-per-px", "0.5", "--keypoints", str(df2), "--json"]
    )
    assert result["image"] == str(image)
    assert result["calibration"]["method"] == "scale" and result["calibration"]["mm_per_px"] == pytest.approx(
        0.5
    )
    (garment,) = result["garments"]
    assert garment["category"] == "short sleeve top" and garment["bbox"] == [0, 10, 500, 610]
    assert garment["keypoints"][11] == [0.0, 0.0, 0]
    m = garment["measurements"]
    assert m["hem_width"]["cm"] == pytest.approx(240 * 0.5 / 10)  # (130,600)-(370,600)
    assert m["hem_width"]["points"] == [[130.0, 600.0], [370.0, 600.0]]
    assert m["body_length"]["cm"] == pytest.approx(590 * 0.5 / 10)
    assert m["chest_width"]["cm"] is None and "left armpit" in m["chest_width"]["reason"]
    assert garment["spec"] is None


def test_measure_with_charuco_in_the_photo_matches_the_truth(scene_files, tmp_path, capsys):
    scene, image, keypoints = scene_files
    truth = measure_keypoints(
        1, np.hstack([scene.garment_mm, np.full((25, 1), 2.0)]), Calibration.from_scale(1.0)
    )
    spec = tmp_path / "spec.csv"
    spec.write_text(
        "pom,size,target_cm,tolerance_cm\n"
        f"chest_width,M,{truth['chest_width'].cm + 0.3},0.5\n"
        f"hem_width,M,{truth['hem_width'].cm + 2.0},0.5\n"
    )
    argv = ["measure", str(image), "--charuco", BOARD, "--keypoints", str(keypoints)]
    result = _run_json(capsys, [*argv, "--spec", str(spec), "--size", "M", "--json"])
    assert result["calibration"]["method"] == "charuco"
    assert result["calibration"]["reprojection_error_px"] < 0.2
    measured = result["garments"][0]["measurements"]
    for name, true in truth.items():
        assert measured[name]["cm"] == pytest.approx(true.cm, abs=0.05), name  # 0.5 mm
    checks = result["garments"][0]["spec"]
    assert checks["poms"]["chest_width"]["status"] == "pass"
    assert checks["poms"]["hem_width"]["status"] == "fail"
    assert checks["passed"] is False

    assert main(argv) == 0  # the human-readable table
    table = capsys.readouterr().out
    assert "chest_width" in table and "cm" in table

    trousers_only = tmp_path / "trousers.csv"
    trousers_only.write_text("pom,size,target_cm,tolerance_cm,category\nwaist_width,M,40,1,trousers\n")
    assert main([*argv, "--spec", str(trousers_only), "--size", "M"]) == 0
    assert "spec size M: no POM of the sheet applies to a short sleeve top" in capsys.readouterr().out


def test_calibrate_then_measure_with_the_file(scene_files, tmp_path, capsys):
    scene, image, keypoints = scene_files
    calib_file = tmp_path / "calib.json"
    assert main(["calibrate", str(image), "--charuco", BOARD, "-o", str(calib_file)]) == 0
    out = capsys.readouterr().out
    assert "reprojection error" in out and "mm/px" in out
    stored = json.loads(calib_file.read_text())
    assert stored["method"] == "charuco" and stored["num_points"] == 88
    result = _run_json(
        capsys,
        ["measure", str(image), "--calibration", str(calib_file), "--keypoints", str(keypoints), "--json",
         "--only", "chest_width,hem_width"],
    )  # fmt: skip
    assert set(result["garments"][0]["measurements"]) == {"chest_width", "hem_width"}
    assert result["calibration"]["reprojection_error_px"] == pytest.approx(stored["reprojection_error_px"])


def test_printable_board_commands(tmp_path, capsys):
    pdf = tmp_path / "board.pdf"
    assert main(["calibrate", "--print-board", str(pdf)]) == 0
    assert pdf.read_bytes().startswith(b"%PDF")
    png = tmp_path / "board.png"
    assert main(["calibrate", "--print-board", str(png), "--checkerboard", "9x6:25", "--dpi", "100"]) == 0
    height, width = cv2.imread(str(png)).shape[:2]
    assert height == pytest.approx((150 + 20) / 25.4 * 100, abs=1.5)
    assert width == pytest.approx((225 + 20) / 25.4 * 100, abs=1.5)
    capsys.readouterr()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--charuco", BOARD], "not found"),
        (["--mm-per-px", "0.5", "--only", "chestt"], "unknown POM 'chestt'"),
        (["--mm-per-px", "0.5", "--model", "/nonexistent/model_card.json"], "cannot load"),
        (["--charuco", "7x5:40"], "ChArUco spec"),
    ],
)
def test_measure_failures_are_one_clear_line(tmp_path, capsys, extra, message):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((480, 640, 3), 128, np.uint8))
    code = main(["measure", str(blank), *extra])
    err = capsys.readouterr().err
    assert code != 0
    assert message in err and err.count("\n") == 1


def test_unreadable_inputs(tmp_path, capsys):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    assert main(["measure", str(broken), "--mm-per-px", "1"]) != 0
    assert "cannot read image" in capsys.readouterr().err
    assert main(["calibrate", str(tmp_path / "missing.png"), "--charuco", BOARD, "-o", "x.json"]) != 0
    assert "cannot read image" in capsys.readouterr().err
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((480, 640, 3), 128, np.uint8))
    assert main(["calibrate", str(blank), "--aruco", "3:80", "-o", str(tmp_path / "c.json")]) != 0
    assert "ArUco marker 3" in capsys.readouterr().err

    image = tmp_path / "ok.png"
    cv2.imwrite(str(image), np.full((100, 100, 3), 128, np.uint8))
    bad_df2 = tmp_path / "bad.json"
    bad_df2.write_text(
        json.dumps({"item1": {"category_id": 1, "bounding_box": [0, 0, 1, 1], "landmarks": [1, 2, 2]}})
    )
    assert main(["measure", str(image), "--mm-per-px", "1", "--keypoints", str(bad_df2)]) != 0
    assert "item1" in capsys.readouterr().err
    spec = tmp_path / "spec.csv"
    spec.write_text("pom,size,target_cm,tolerance_cm\nchestt,M,50,1\n")
    assert main(["measure", str(image), "--mm-per-px", "1", "--spec", str(spec), "--size", "M"]) != 0
    assert "unknown POM 'chestt'" in capsys.readouterr().err


def test_qc_mode_measures_the_bundled_sample_with_the_bundled_model_as_the_given_category(capsys):
    from resources import resource_path

    image = resource_path("sample", "images", "03_trousers.jpg")
    code = main(["measure", str(image), "--charuco", "7x5:40:30:DICT_5X5_100", "--category", "trousers", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["calibration"]["method"] == "charuco"
    assert report["garments"], "QC mode always measures the best box"
    garment = report["garments"][0]
    assert garment["category_id"] == 8
    assert {"waist_width", "outseam", "inseam", "leg_opening", "front_rise", "hip_width"} <= set(
        garment["measurements"]
    )
    assert main(["measure", str(image), "--mm-per-px", "1", "--category", "poncho"]) != 0
    assert "unknown DeepFashion2 category" in capsys.readouterr().err


def test_measure_keeps_photo_labels_calibration_and_measurements_in_a_project(
    scene_files, tmp_path, capsys, monkeypatch
):
    from app.store.repository import ProjectStore

    _scene, image, keypoints = scene_files
    project = tmp_path / "qc.db"
    argv = ["measure", str(image), "--charuco", BOARD, "--keypoints", str(keypoints), "--project", str(project)]
    monkeypatch.chdir(image.parent)  # a photo named relative to the working folder, not to the project's
    result = _run_json(capsys, ["measure", image.name, *argv[2:], "--json"])
    assert result["project"]["garments"] == 1 and result["project"]["measurements"] > 3
    with ProjectStore.open(project) as store:
        (info,) = store.list_images()
        (gid, garment), = store.garments(info.id)
        stored = {m.pom: m.value_mm for m in store.measurements(garment_id=gid)}
        calibration = store.calibration(result["project"]["calibration"])
        assert calibration.method == "charuco"
    printed = result["garments"][0]["measurements"]
    for pom, mm in stored.items():
        assert mm / 10 == pytest.approx(printed[pom]["cm"], abs=1e-9), pom  # the same float, not rounded
    assert garment.keypoints[0].x == pytest.approx(result["garments"][0]["keypoints"][0][0])
    # Running it again adds no second photo or garment; the measurements are replaced, not doubled.
    assert _run_json(capsys, [*argv, "--json"])["project"] == result["project"]
    with ProjectStore.open(project) as store:
        assert len(store.list_images()) == 1 and len(store.measurements()) == len(stored)
    assert main([*argv[:-1], str(tmp_path)]) == 2  # a folder is not a project file
    assert str(tmp_path) in capsys.readouterr().err


def test_measurements_of_a_weak_best_guess_carry_a_warning():
    from app.cli.commands.measure import _garment_report
    from inference.annotation import Garment, Keypoint
    from measure.poms import load_catalog

    keypoints = tuple(Keypoint(float(x), float(y)) for x, y in SHORT_SLEEVE_TOP_MM)
    garment = Garment(1, (0.0, 10.0, 500.0, 610.0), keypoints, 0.1)
    args = (Calibration.from_scale(0.5), load_catalog(), None, None, None)
    assert _garment_report(garment, *args)["warnings"] == []
    weak = Garment(1, garment.bbox, keypoints, 0.1, extra={"weak_detection": True})
    report = _garment_report(weak, *args)
    assert "best guess" in report["warnings"][0]
    assert report["measurements"]["hem_width"]["cm"] == pytest.approx(12.0)  # measured all the same


def _flat_photo_and_keypoints(tmp_path, category_id=1):
    image = tmp_path / "flat.png"
    cv2.imwrite(str(image), np.full((700, 600, 3), 200, np.uint8))
    kps = np.hstack([SHORT_SLEEVE_TOP_MM, np.full((25, 1), 2.0)])
    doc = {"item1": {"category_id": category_id, "bounding_box": [0, 10, 500, 610], "landmarks": kps.ravel().tolist()}}
    df2 = tmp_path / "flat.json"
    df2.write_text(json.dumps(doc))
    return image, df2


def test_measure_with_a_project_reports_the_corrected_garment_it_stores(tmp_path, capsys):
    from app.store.repository import ProjectStore

    image, df2 = _flat_photo_and_keypoints(tmp_path)
    project = tmp_path / "qc.db"
    argv = ["measure", str(image), "--mm-per-px", "0.5", "--keypoints", str(df2), "--project", str(project), "--json"]
    first = _run_json(capsys, argv)
    assert first["garments"][0]["measurements"]["hem_width"]["cm"] == pytest.approx(12.0)
    with ProjectStore.open(project) as store:
        (info,) = store.list_images()
        ((gid, _),) = store.garments(info.id)
        store.move_point(gid, 14, 100.0, 600.0)  # left hem corner moved 30 px out: hem 270 px
    again = _run_json(capsys, argv)
    with ProjectStore.open(project) as store:
        stored = {m.pom: m.value_mm for m in store.measurements(garment_id=gid)}
    printed = again["garments"][0]["measurements"]
    assert printed["hem_width"]["cm"] == pytest.approx(13.5)  # the correction, not the file's 12.0
    assert stored["hem_width"] / 10 == pytest.approx(13.5)
    assert again["garments"][0]["keypoints"][14][:2] == [100.0, 600.0]
    for pom, mm in stored.items():
        assert printed[pom]["cm"] == pytest.approx(mm / 10, abs=1e-9), pom
    assert main(argv[:-1]) == 0  # the table shows the same numbers
    assert "hem_width                      13.50 cm" in capsys.readouterr().out


def test_measure_refuses_a_category_that_contradicts_the_keypoints(tmp_path, capsys):
    image, df2 = _flat_photo_and_keypoints(tmp_path)  # a short sleeve top
    code = main(["measure", str(image), "--mm-per-px", "0.5", "--keypoints", str(df2), "--category", "trousers"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "--category trousers contradicts" in err and "item1 is a short sleeve top" in err
    agreeing = _run_json(capsys, ["measure", str(image), "--mm-per-px", "0.5", "--keypoints", str(df2),
                                  "--category", "1", "--json"])
    assert agreeing["garments"][0]["category"] == "short sleeve top"
    assert main(["measure", str(image), "--mm-per-px", "1", "--keypoints", str(df2), "--category", "poncho"]) != 0
    assert "unknown DeepFashion2 category" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"image_size": ["x", 480]}, "image_size"),
        ({"num_points": "many"}, "num_points must be a number"),
        ({"reprojection_error_px": "bad"}, "reprojection_error_px must be a number"),
        ({"warnings": 5}, "warnings must be a list"),
        ({"homography": [[1, 0], [0, 1]]}, "homography must be a finite (3, 3) array"),
        ({"homography": [[1, 0, 0], [0, 1]]}, "homography must be a finite (3, 3) array"),
        ({"board_region_mm": [1, 2, 3]}, "board_region_mm"),
        ({"camera_matrix": [[1000, 0, 320], [0, 1000, 240], [0, 0, 1]], "dist_coeffs": ["a"]}, "dist_coeffs"),
    ],
)
def test_a_malformed_calibration_file_is_one_clear_line(tmp_path, capsys, change, message):
    image, df2 = _flat_photo_and_keypoints(tmp_path)
    calib = tmp_path / "calib.json"
    calib.write_text(json.dumps({**Calibration.from_scale(0.5).to_dict(), **change}))
    code = main(["measure", str(image), "--calibration", str(calib), "--keypoints", str(df2)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert str(calib) in err and message in err


def test_a_photo_given_as_calibration_or_intrinsics_is_one_clear_line(tmp_path, capsys):
    image, df2 = _flat_photo_and_keypoints(tmp_path)
    code = main(["measure", str(image), "--calibration", str(image), "--keypoints", str(df2)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and f"cannot read calibration file {image}" in err
    code = main(["calibrate", str(image), "--two-point", "0,0,100,0:50", "--intrinsics", str(image),
                 "-o", str(tmp_path / "c.json")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and f"cannot read calibration file {image}" in err
