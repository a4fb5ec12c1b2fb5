"""Measurement error against ground truth: mean absolute error per POM, in mm.

Ground truth is a COCO DF2-294 file of workstation renders whose image records carry
``table_mm_from_image`` (image px -> table mm, as written by the synthetic renderer) or ``mm_per_px``.
Predictions come from a COCO results file (``--pred``) or from running the model (``--model``), by
default as the desktop app and ``measure`` run it: flip test and orientation check on (``--no-flip-test``,
``--no-orientation-check``). ``--qc-mode`` gives the model each photo's true category, as a spec sheet
does at the measuring table (``measure --category``). The truth is every POM on the ground-truth keypoints
through the true plane; a prediction is measured through the true plane too, or through a ChArUco
calibration of the photo (``--charuco``), which then includes the calibration error.

    python -m measure.evaluate DATASET/annotations.json --pred predictions.json [--json]
    python -m measure.evaluate DATASET/annotations.json --model resources/models/bootstrap/model_card.json --qc-mode
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from inference.boxes import box_iou
from inference.schema import NUM_DF2_KEYPOINTS, deepfashion2
from measure.calibration import Calibration, CalibrationError
from measure.detect import calibrate_charuco
from measure.measurements import measure_keypoints
from measure.poms import load_catalog

MIN_IOU = 0.3


class EvaluationError(ValueError):
    """Inputs are missing or inconsistent; the message names the file and record."""


def _local_keypoints(ann: dict, source: str) -> tuple[int, np.ndarray]:
    try:
        cat = deepfashion2().category(int(ann["category_id"]))
        flat = np.asarray(ann["keypoints"], dtype=np.float64)
    except (KeyError, TypeError, ValueError) as exc:
        raise EvaluationError(f"{source} annotation {ann.get('id')!r}: {exc}") from None
    if flat.size == NUM_DF2_KEYPOINTS * 3:
        local = flat.reshape(-1, 3)[cat.slice294]
    elif flat.size == cat.num_keypoints * 3:
        local = flat.reshape(-1, 3)
    else:
        raise EvaluationError(f"{source} annotation {ann.get('id')!r}: {flat.size} keypoint values")
    return cat.id, local.copy()


def _box(ann: dict) -> np.ndarray:
    x, y, w, h = (float(v) for v in ann.get("bbox", (0, 0, 0, 0)))
    return np.array([x, y, x + w, y + h])


def true_calibration(image: dict, source: str) -> Calibration:
    size = (int(image["width"]), int(image["height"])) if "width" in image else None
    if image.get("table_mm_from_image") is not None:
        return Calibration("ground-truth", np.asarray(image["table_mm_from_image"]), image_size=size)
    if image.get("mm_per_px"):
        return Calibration.from_scale(float(image["mm_per_px"]), method="ground-truth", image_size=size)
    raise EvaluationError(f"{source} image {image.get('id')!r} has no table_mm_from_image or mm_per_px")


def _model_predictions(
    gt: dict,
    image_dir: Path,
    card: str | None,
    flip_test: bool = True,
    orientation_check: bool = True,
    qc_mode: bool = False,
    progress=None,
) -> list[dict]:
    from inference.annotation import Visibility
    from inference.pipeline import GarmentPipeline  # only needed when the model runs

    pipeline = GarmentPipeline.from_card(card, provider="auto", flip_test=flip_test,
                                         orientation_check=orientation_check)
    styles: dict[int, list[int]] = defaultdict(list)  # image → its garments' true categories, for QC mode
    for ann in gt.get("annotations", []):
        styles[int(ann["image_id"])].append(int(ann["category_id"]))
    results = []
    for n, image in enumerate(gt["images"], 1):
        photo = cv2.imread(str(image_dir / image["file_name"]))
        if photo is None:
            raise EvaluationError(f"cannot read image {image_dir / image['file_name']}")
        if qc_mode:
            categories = dict.fromkeys(styles[int(image["id"])])  # each style on the photo, once
            garments = [g for c in categories for g in pipeline.predict_known_category(photo, c)]
        else:
            garments = pipeline(photo)
        if progress is not None:
            progress(n, len(gt["images"]))
        for garment in garments:
            kps = [[kp.x, kp.y, 0 if kp.visibility == Visibility.ABSENT else int(kp.visibility)]
                   for kp in garment.keypoints]  # fmt: skip
            x1, y1, x2, y2 = garment.bbox
            results.append({
                "image_id": image["id"], "category_id": garment.category_id, "score": garment.score or 0.0,
                "bbox": [x1, y1, x2 - x1, y2 - y1], "keypoints": np.ravel(kps).tolist(),
            })  # fmt: skip
    return results


def evaluate(
    gt: dict,
    predictions: list[dict],
    image_dir: Path | None = None,
    charuco: str | None = None,
    gt_source: str = "ground truth",
) -> dict:
    """Per category and POM: count, mean/median/max absolute error (mm), plus unmatched/unmeasured counts."""
    catalog = load_catalog()
    by_image: dict[int, list[dict]] = defaultdict(list)
    for pred in predictions:
        by_image[int(pred["image_id"])].append(pred)
    gts: dict[int, list[dict]] = defaultdict(list)
    for ann in gt.get("annotations", []):
        gts[int(ann["image_id"])].append(ann)
    errors: dict[tuple[str, str], list[float]] = defaultdict(list)
    not_measured: dict[tuple[str, str], int] = defaultdict(int)
    unmatched = 0
    calibration_failures = 0
    for image in gt.get("images", []):
        truth_plane = true_calibration(image, gt_source)
        plane = truth_plane
        if charuco:
            photo = cv2.imread(str(Path(image_dir or ".") / image["file_name"]))
            try:
                plane = calibrate_charuco(photo, charuco)
            except CalibrationError:
                calibration_failures += 1
                continue
        free = sorted(by_image.get(int(image["id"]), []), key=lambda p: -float(p.get("score", 0.0)))
        for ann in gts.get(int(image["id"]), []):
            cat_id, true_kps = _local_keypoints(ann, gt_source)
            candidates = [p for p in free if int(p["category_id"]) == cat_id]
            best = max(candidates, key=lambda p: box_iou(_box(p), _box(ann)), default=None)
            if best is None or box_iou(_box(best), _box(ann)) < MIN_IOU:
                unmatched += 1
                continue
            free.remove(best)
            _, pred_kps = _local_keypoints(best, "predictions")
            truth = measure_keypoints(cat_id, true_kps, truth_plane, catalog)
            measured = measure_keypoints(cat_id, pred_kps, plane, catalog)
            name = deepfashion2().category(cat_id).name
            for pom, true in truth.items():
                if not true.measurable:
                    continue
                if not measured[pom].measurable:
                    not_measured[(name, pom)] += 1
                    continue
                errors[(name, pom)].append(abs(measured[pom].mm - true.mm))
    rows = []
    for (category, pom), values in sorted(errors.items()):
        arr = np.asarray(values)
        rows.append({
            "category": category, "pom": pom, "n": int(arr.size), "mae_mm": float(arr.mean()),
            "median_mm": float(np.median(arr)), "max_mm": float(arr.max()),
            "not_measured": not_measured.get((category, pom), 0),
        })  # fmt: skip
    pooled = np.concatenate([np.asarray(v) for v in errors.values()]) if errors else np.zeros(0)
    return {
        "images": len(gt.get("images", [])),
        "unmatched_garments": unmatched,
        "calibration_failures": calibration_failures,
        "measurements": int(pooled.size),  # every POM of every matched garment, pooled
        "mae_mm": float(pooled.mean()) if pooled.size else None,
        "median_mm": float(np.median(pooled)) if pooled.size else None,
        "poms": rows,
    }


def _load_json(path: Path, what: str):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise EvaluationError(f"cannot read {what} {path}: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m measure.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("gt", type=Path, help="COCO DF2-294 ground truth with table_mm_from_image per image")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--pred", type=Path, help="COCO keypoint results (a list, or a document with annotations)"
    )
    source.add_argument(
        "--model", nargs="?", const="", help="run this model card (bundled bootstrap if empty)"
    )
    parser.add_argument("--images", type=Path, help="image folder (default: GT_DIR/images)")
    parser.add_argument(
        "--charuco", metavar="SPEC", help="calibrate each photo from its board instead of the truth"
    )
    parser.add_argument("--qc-mode", action="store_true",
                        help="with --model: give the model each photo's true category (the style under test)")
    parser.add_argument("--no-flip-test", dest="flip_test", action="store_false",
                        help="with --model: read each crop once, not also mirrored")
    parser.add_argument("--no-orientation-check", dest="orientation_check", action="store_false",
                        help="with --model: do not also read crops turned over")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.pred and args.qc_mode:
        parser.error("--qc-mode needs --model (a predictions file already has its categories)")
    try:
        gt = _load_json(args.gt, "ground truth")
        image_dir = args.images or args.gt.parent / "images"
        if args.pred:
            pred = _load_json(args.pred, "predictions")
            predictions = pred["annotations"] if isinstance(pred, dict) else pred
        else:
            def progress(n: int, total: int) -> None:
                if not args.json and (n % 20 == 0 or n == total):
                    print(f"model: {n}/{total} images", file=sys.stderr, flush=True)

            predictions = _model_predictions(gt, image_dir, args.model or None, args.flip_test,
                                             args.orientation_check, args.qc_mode, progress)
        report = evaluate(gt, predictions, image_dir, args.charuco, str(args.gt))
    except (EvaluationError, CalibrationError, KeyError, ImportError, OSError, ValueError) as exc:
        print(f"measure.evaluate: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{report['images']} images, {report['unmatched_garments']} unmatched garments, "
          f"{report['calibration_failures']} calibration failures")  # fmt: skip
    if report["measurements"]:
        print(f"all {report['measurements']} measurements: MAE {report['mae_mm']:.2f} mm, "
              f"median {report['median_mm']:.2f} mm")
    print(f"{'category':22s} {'pom':26s} {'n':>5s} {'MAE mm':>8s} {'median':>8s} {'max':>8s} {'n/m':>4s}")
    for r in report["poms"]:
        print(f"{r['category']:22s} {r['pom']:26s} {r['n']:5d} {r['mae_mm']:8.2f} {r['median_mm']:8.2f} "
              f"{r['max_mm']:8.2f} {r['not_measured']:4d}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
