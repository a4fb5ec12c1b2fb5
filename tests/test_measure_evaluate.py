"""`python -m measure.evaluate`: per-POM error of predictions against ground truth with a known table plane."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from inference.schema import NUM_DF2_KEYPOINTS, deepfashion2
from measure.boards import CharucoSpec
from measure.evaluate import main
from measure.scene import render_table_scene

BOARD = CharucoSpec.parse("12x9:40:30:DICT_5X5_100")


def _annotation(ann_id, image_id, px, score=None):
    flat = np.zeros((NUM_DF2_KEYPOINTS, 3))
    flat[: len(px), :2] = px  # short sleeve top occupies slots 0..24
    flat[: len(px), 2] = 2
    (x1, y1), (x2, y2) = px.min(axis=0), px.max(axis=0)
    ann = {"id": ann_id, "image_id": image_id, "category_id": 1, "bbox": [x1, y1, x2 - x1, y2 - y1]}
    ann["keypoints"] = flat.ravel().tolist()
    if score is not None:
        ann["score"] = score
    return ann


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Two tilted renders; predictions move the right armpit 10 mm outwards on the table."""
    root = tmp_path_factory.mktemp("evalset")
    (root / "images").mkdir()
    images, gt, pred = [], [], []
    for image_id, tilt in ((1, (12, 0)), (2, (-8, 15))):
        scene = render_table_scene(*tilt, board=BOARD, garment_origin_mm=(BOARD.size_mm[0] + 40, 0))
        name = f"{image_id:06d}.png"
        cv2.imwrite(str(root / "images" / name), scene.image)
        images.append({
            "id": image_id, "file_name": name, "width": 1600, "height": 1200,
            "table_mm_from_image": scene.image_to_table.tolist(),
        })  # fmt: skip
        gt.append(_annotation(image_id, image_id, scene.garment_px))
        moved_mm = scene.garment_mm.copy()
        moved_mm[19, 0] += 10.0  # landmark 20, right armpit: chest 10 mm wider
        pred.append(_annotation(image_id, image_id, scene.table_to_image(moved_mm), score=0.9))
    (root / "annotations.json").write_text(
        json.dumps({"images": images, "annotations": gt, "categories": []})
    )
    (root / "pred.json").write_text(json.dumps(pred))
    return root


def _report(capsys, argv):
    assert main([*argv, "--json"]) == 0
    return {r["pom"]: r for r in json.loads(capsys.readouterr().out)["poms"]}


def test_error_per_pom_with_the_true_plane(dataset, capsys):
    rows = _report(capsys, [str(dataset / "annotations.json"), "--pred", str(dataset / "pred.json")])
    assert rows["chest_width"]["n"] == 2
    assert rows["chest_width"]["mae_mm"] == pytest.approx(10.0, abs=1e-6)
    assert rows["hem_width"]["mae_mm"] == pytest.approx(0.0, abs=1e-6)
    assert rows["sleeve_length"]["max_mm"] == pytest.approx(0.0, abs=1e-6)


def test_error_per_pom_with_the_board_calibration(dataset, capsys):
    rows = _report(
        capsys,
        [str(dataset / "annotations.json"), "--pred", str(dataset / "pred.json"), "--charuco", str(BOARD)],
    )
    assert rows["chest_width"]["mae_mm"] == pytest.approx(10.0, abs=0.5)
    assert rows["hem_width"]["mae_mm"] < 0.5


def test_bad_inputs_fail_clearly(dataset, tmp_path, capsys):
    assert main([str(tmp_path / "missing.json"), "--pred", str(dataset / "pred.json")]) == 1
    assert "cannot read ground truth" in capsys.readouterr().err
    doc = json.loads((dataset / "annotations.json").read_text())
    del doc["images"][0]["table_mm_from_image"]
    broken = tmp_path / "gt.json"
    broken.write_text(json.dumps(doc))
    assert main([str(broken), "--pred", str(dataset / "pred.json")]) == 1
    assert "no table_mm_from_image" in capsys.readouterr().err


def test_the_report_pools_every_measurement(dataset, capsys):
    assert main([str(dataset / "annotations.json"), "--pred", str(dataset / "pred.json"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    counts = sum(r["n"] for r in report["poms"])
    assert report["measurements"] == counts
    assert report["mae_mm"] == pytest.approx(sum(r["mae_mm"] * r["n"] for r in report["poms"]) / counts)
    assert report["median_mm"] == pytest.approx(0.0, abs=1e-6)  # only the POMs through the armpit moved


def test_qc_mode_gives_the_model_the_true_category(tmp_path, capsys):
    """The contract model's detector calls every garment by its colour; QC mode overrides that with the
    style under test, so a garment drawn in another category's colour is still measured as the true one."""
    from inference.contract_models import draw_marker, garment_colour, write_contract_model

    card = write_contract_model(tmp_path / "model")
    (tmp_path / "images").mkdir()
    img = np.full((320, 360, 3), 20, np.uint8)
    img[40:280, 60:260] = garment_colour(9)  # painted as a skirt
    draw_marker(img, 150, 200)
    cv2.imwrite(str(tmp_path / "images" / "a.png"), img)
    px = np.array([[60.0 + 8 * i, 40.0 + 9 * i] for i in range(7)])  # trousers (category 8): 14 landmarks
    px = np.vstack([px, px[::-1] + [100.0, 0.0]])
    flat = np.zeros((NUM_DF2_KEYPOINTS, 3))
    trousers = deepfashion2().category(8)
    flat[trousers.slice294, :2], flat[trousers.slice294, 2] = px, 2
    doc = {"images": [{"id": 1, "file_name": "a.png", "width": 360, "height": 320, "mm_per_px": 1.0}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 8, "bbox": [60, 40, 200, 240],
                            "keypoints": flat.ravel().tolist()}], "categories": []}
    (tmp_path / "annotations.json").write_text(json.dumps(doc))
    gt = str(tmp_path / "annotations.json")
    assert main([gt, "--model", str(card), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["unmatched_garments"] == 1  # read as a skirt: no trousers
    assert main([gt, "--model", str(card), "--qc-mode", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["unmatched_garments"] == 0 and report["measurements"] > 0
    assert {r["category"] for r in report["poms"]} == {"trousers"}
    with pytest.raises(SystemExit):  # a predictions file already has its categories
        main([gt, "--pred", str(tmp_path / "x.json"), "--qc-mode"])
