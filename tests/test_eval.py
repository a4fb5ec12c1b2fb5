"""Evaluation against pycocotools on hand-made cases, and the eval command end to end."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from test_training_fixtures import skirt_garment, write_coco

from app.cli.main import main
from app.training.evaluation import Accumulator
from inference.annotation import Keypoint
from inference.schema import deepfashion2

INFO = {"file_name": "a.png", "width": 400, "height": 300}


def _with_extra(garment, det=0.9, kp=0.5):
    return replace(garment, score=det, extra={"detection_score": det, "keypoint_score": kp})


def _shift(garment, dx, dy):
    return garment.with_keypoints(tuple(Keypoint(k.x + dx, k.y + dy) for k in garment.keypoints))


def test_perfect_predictions_score_ap_one_and_full_pck():
    acc = Accumulator(alpha=0.8)
    for i in range(3):
        gt = skirt_garment(100 + 60 * i, 30, 40, 70, 150)
        acc.add(INFO, [gt], [_with_extra(gt)], [gt])
    m = acc.summary()
    assert m["keypoint_AP"] == pytest.approx(1.0) and m["box_AP"] == pytest.approx(1.0)
    assert m["keypoint_AP_on_gt_boxes"] == pytest.approx(1.0)
    assert m["PCK@0.2"] == 1.0 and m["NE"] == 0.0 and m["per_category"]["skirt"]["keypoint_AP"] == pytest.approx(1.0)


def test_shifted_prediction_gives_the_hand_computed_oks():
    gt = skirt_garment(200, 40, 60, 100, 160)
    x1, y1, x2, y2 = gt.bbox
    area = (x2 - x1) * (y2 - y1)
    sigmas = np.asarray(deepfashion2().category(9).sigmas)
    d = 7.0
    oks = float(np.mean(np.exp(-(d**2) / (2 * area * (2 * sigmas) ** 2))))
    assert 0.52 < oks < 0.93  # the case is only informative strictly between the thresholds
    thresholds = np.linspace(0.5, 0.95, 10)
    assert np.min(np.abs(thresholds - oks)) > 0.01
    acc = Accumulator(alpha=0.8)
    acc.add(INFO, [gt], [_with_extra(_shift(gt, d, 0.0))], [_shift(gt, 0.0, d)])
    m = acc.summary()
    assert m["keypoint_AP"] == pytest.approx(float((thresholds <= oks).mean()))
    assert m["keypoint_AP_on_gt_boxes"] == pytest.approx(float((thresholds <= oks).mean()))  # same shift, in y
    longer = max(x2 - x1, y2 - y1)
    assert m["PCK@0.2"] == (1.0 if d / longer < 0.2 else 0.0)
    assert m["NE"] == pytest.approx(d / INFO["height"])


def test_box_ap_scores_the_output_box_and_box_ap_detector_the_detectors_own_box():
    acc = Accumulator(alpha=0.8)
    gt = skirt_garment(100, 30, 40, 70, 150)
    x1, y1, x2, y2 = gt.bbox
    loose = (x1 - 0.6 * (x2 - x1), y1, x2, y2)  # IoU 1/1.6 < 0.75: right at AP50, wrong at stricter IoUs
    pred = _with_extra(gt)
    pred = replace(pred, extra={**pred.extra, "detector_box": list(loose)})
    acc.add(INFO, [gt], [pred], None)
    m = acc.summary()
    assert m["box_AP"] == pytest.approx(1.0)
    assert m["box_AP_detector"] == pytest.approx(0.3)  # 3 of the 10 IoU thresholds (0.5, 0.55, 0.6)


def test_eval_command_runs_the_onnx_models_and_writes_json(tmp_path, capsys):
    from test_export import _tiny_models

    from app.training.export import export_detector, export_pose, write_card

    detector, pose = _tiny_models()
    export_detector(detector, tmp_path / "detector.onnx")
    export_pose(pose, tmp_path / "pose.onnx")
    card = write_card(tmp_path, "tiny", "0.0.1", (64, 64), (64, 64), 2.0, 1.25, {}, {})
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    dataset = write_coco(data_dir, 3)
    out = tmp_path / "metrics.json"
    assert main(["eval", "--model", str(card), "--dataset", str(dataset), "--json", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["images"] == 3 and metrics["garments"] == 3
    assert 0.0 <= metrics["PCK@0.2"] <= 1.0 and "skirt" in metrics["per_category"]
    d = metrics["oks_on_gt_boxes"]
    assert d["garments_overlapping"] == 0 and d["mean_oks_overlapping"] is None  # one skirt per image
    printed = capsys.readouterr().out
    assert f"mean OKS {d['mean_oks']:.3f}" in printed and "overlapping another garment" not in printed


def test_eval_command_names_a_missing_dataset(tmp_path, capsys):
    assert main(["eval", "--model", str(tmp_path), "--dataset", str(tmp_path / "nope.json")]) != 0
    assert "nope.json" in capsys.readouterr().err


def test_a_well_placed_box_with_the_wrong_category_is_told_apart_from_a_missed_garment():
    acc = Accumulator(alpha=0.8)
    right = skirt_garment(100, 30, 40, 70, 150)
    wrong = skirt_garment(220, 30, 40, 70, 150)
    missed = skirt_garment(100, 200, 40, 70, 150)
    # Shorts over a skirt: the box is right, the class is wrong.
    relabelled = replace(_with_extra(wrong), category_id=7, keypoints=wrong.keypoints + wrong.keypoints[:2])
    acc.add(INFO, [right, wrong, missed], [_with_extra(right), relabelled], None)
    m = acc.summary()
    assert m["category_accuracy"] == 0.5 and m["detection_recall"] == pytest.approx(2 / 3)
    assert m["per_category"]["skirt"]["category_accuracy"] == 0.5
    assert m["box_AP_class_agnostic"] > m["box_AP"]  # the relabelled box counts once its class is ignored
    assert m["keypoint_AP_on_gt_boxes"] == 0.0 and m["PCK@0.2"] == 0.0  # no pose-on-GT-boxes input given


def test_oks_diagnosis_counts_gross_landmarks_and_splits_overlapping_garments():
    from inference.annotation import Visibility

    alone = skirt_garment(40, 40, 60, 100, 160)  # its box touches neither of the other two
    left = skirt_garment(250, 40, 60, 100, 160)
    right = skirt_garment(300, 60, 60, 100, 160)  # overlaps `left`
    # `right`'s first landmark is occluded and predicted 80 px off: a gross error (OKS ≈ 0)
    right = right.with_keypoints(
        (replace(right.keypoints[0], visibility=Visibility.OCCLUDED), *right.keypoints[1:]))
    moved = right.with_keypoints(
        (Keypoint(right.keypoints[0].x + 80, right.keypoints[0].y), *right.keypoints[1:]))
    acc = Accumulator(alpha=0.8)
    acc.add({**INFO, "width": 500}, [alone, left, right], [], [alone, left, moved])
    d = acc.summary()["oks_on_gt_boxes"]
    labelled = sum(k.visibility != Visibility.ABSENT for k in right.keypoints)
    assert d["gross_error_rate"] == pytest.approx(1 / (3 * labelled))
    assert d["gross_error_rate_occluded"] == 1.0 and d["occluded_landmarks"] == 1
    assert d["garments_overlapping"] == 2 and d["mean_oks_alone"] == pytest.approx(1.0)
    right_oks = (labelled - 1) / labelled  # the far landmark adds ~0 to the mean
    assert d["mean_oks_overlapping"] == pytest.approx((1.0 + right_oks) / 2, abs=1e-6)
    assert d["mean_oks"] == pytest.approx((2.0 + right_oks) / 3, abs=1e-6)


def test_a_dataset_with_its_images_in_an_images_folder_needs_no_images_flag(tmp_path):
    # The synth command (and the exporters) put images in images/ beside annotations.json; eval, train and
    # category tuning find them there, as the importer does.
    from app.training.sources import CocoSource
    from app.training.synth import SceneConfig
    from app.training.synth.dataset import write_dataset

    write_dataset(tmp_path, 2, 5, SceneConfig(mode="flatlay"))
    source = CocoSource(tmp_path / "annotations.json")
    image, garments, info = source.load(1)
    assert source.image_path(1) == tmp_path / "images" / info["file_name"]
    assert image.shape[:2] == (info["height"], info["width"]) and garments
    explicit = CocoSource(tmp_path / "annotations.json", tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="elsewhere"):  # a given folder is used as given, and named
        explicit.load(0)
