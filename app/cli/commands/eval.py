"""`garment-studio eval`: keypoint AP (DF2 OKS), box AP, PCK@0.2/AUC and NE of a model on a COCO dataset."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from app.cli.errors import CliError
from app.cli.pipeline_options import add_pipeline_options, pipeline_options

HELP = "Evaluate a model card on a COCO DF2-294 file or a DeepFashion2 folder: keypoint AP, box AP, PCK@0.2, AUC, NE per category."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="CARD", type=Path, required=True, help="model_card.json or its folder")
    parser.add_argument("--dataset", metavar="COCO_JSON_OR_DF2_DIR", type=Path, required=True,
                        help="a COCO DF2-294 file, or a DeepFashion2 folder (annos/*.json + image/)")
    parser.add_argument("--images", metavar="DIR", type=Path, help="image folder (default: beside the JSON or in images/ there)")
    add_pipeline_options(parser, default_on=False)
    parser.add_argument("--score-threshold", type=float, default=0.05,
                        help="detector score threshold for AP (default 0.05; the card's is for display)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N images")
    parser.add_argument("--include-predicted", action="store_true",
                        help="also score against images holding garments whose status is \"predicted\" (a model's "
                        "output, as the app's COCO/DeepFashion2 exports mark it); by default they are left out")
    parser.add_argument("--json", metavar="OUT", type=Path, help="write all metrics to this JSON file")


def _table(metrics: dict) -> str:
    lines = [f"{'category':<24}{'kpAP':>8}{'boxAP':>8}{'PCK@0.2':>9}{'AUC':>8}{'NE':>8}"]
    for name, m in metrics["per_category"].items():
        lines.append(f"{name:<24}{m['keypoint_AP']:>8.3f}{m['box_AP']:>8.3f}{m['PCK@0.2']:>9.3f}"
                     f"{m['AUC']:>8.3f}{m['NE']:>8.4f}")
    lines.append(f"{'all':<24}{metrics['keypoint_AP']:>8.3f}{metrics['box_AP']:>8.3f}{metrics['PCK@0.2']:>9.3f}"
                 f"{metrics['AUC']:>8.3f}{metrics['NE']:>8.4f}")
    return "\n".join(lines)


def _diagnosis(metrics: dict) -> str:
    """Where the AP is lost: categories, detection, or the pose network itself (pose on the true boxes)."""
    d = metrics.get("oks_on_gt_boxes") or {}
    lines = [f"category accuracy {metrics['category_accuracy']:.1%}, detection recall {metrics['detection_recall']:.1%}, "
             f"class-agnostic box AP {metrics['box_AP_class_agnostic']:.3f}, "
             f"box AP of the detector's own boxes {metrics['box_AP_detector']:.3f} (boxes redrawn around the "
             f"landmarks: {metrics['box_AP']:.3f})"]
    if d:
        split = ""
        if d["mean_oks_overlapping"] is not None and d["mean_oks_alone"] is not None:
            split = f"; mean OKS {d['mean_oks_overlapping']:.3f} overlapping another garment, {d['mean_oks_alone']:.3f} alone"
        occluded = "" if d["gross_error_rate_occluded"] is None else f" ({d['gross_error_rate_occluded']:.1%} of occluded)"
        lines.append(f"pose on true boxes: keypoint AP {metrics['keypoint_AP_on_gt_boxes']:.3f}, mean OKS "
                     f"{d['mean_oks']:.3f}, gross errors (OKS < {d['gross_threshold']}) {d['gross_error_rate']:.1%} of "
                     f"landmarks{occluded}{split}")
    return "\n".join(lines)


def _check_output(path: Path) -> None:
    """--json must be writable before the evaluation starts: finding out afterwards loses the whole run."""
    folder = path.parent
    if path.is_dir():
        raise CliError(f"--json {path} is a folder; give a file name", 2)
    if not folder.is_dir():
        raise CliError(f"cannot write {path}: folder {folder} does not exist", 2)
    if not os.access(path if path.exists() else folder, os.W_OK):
        raise CliError(f"cannot write {path}: permission denied", 2)


def run(args: argparse.Namespace) -> int:
    from app.training.evaluation import evaluate_source, open_pipeline
    from app.training.export import SCORE_ALPHA
    from app.training.sources import DataSourceError, open_labelled_dataset
    from inference.model_card import ModelCardError

    if args.limit is not None and args.limit < 1:
        raise CliError(f"--limit must be at least 1, got {args.limit}", 2)
    if not 0.0 <= args.score_threshold <= 1.0:  # NaN too
        raise CliError(f"--score-threshold must be between 0 and 1, got {args.score_threshold:g}", 2)
    if args.json:
        _check_output(args.json)
    try:
        # A COCO file or a DeepFashion2 folder. Images with predicted garments are left out (a model's output is
        # no ground truth), and data with no garments is refused: AP -1 and 0 % read like a model's failure.
        source = open_labelled_dataset(args.dataset, args.images, include_predicted=args.include_predicted,
                                       purpose="evaluate against", limit=args.limit, log=print)
    except DataSourceError as exc:
        raise CliError(str(exc), 2) from exc
    try:
        pipeline = open_pipeline(args.model, score_threshold=args.score_threshold, **pipeline_options(args))
    except (DataSourceError, ModelCardError) as exc:
        raise CliError(str(exc), 2) from exc
    except Exception as exc:  # ONNX Runtime refuses the graph: say which file
        raise CliError(f"cannot load model {args.model}: {exc}", 2) from exc
    alpha = float(pipeline.card.training.get("score_alpha", SCORE_ALPHA))
    try:
        metrics = evaluate_source(pipeline, source, alpha, limit=args.limit, progress=print)
    except DataSourceError as exc:
        raise CliError(str(exc), 2) from exc
    metrics["model"] = str(args.model)
    metrics["dataset"] = str(args.dataset)
    metrics["images_with_predicted_garments_left_out"] = source.left_out
    metrics.update(pipeline_options(args))
    metrics["score_threshold"] = float(args.score_threshold)
    print(_table(metrics))
    print(_diagnosis(metrics))
    print(f"{metrics['images']} images, {metrics['garments']} garments; PCK normalised by the GT box's longer side")
    if args.json:
        try:
            args.json.write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        except OSError as exc:  # removed or filled up during the run; the table above is still printed
            raise CliError(f"cannot write {args.json}: {exc.strerror or exc}") from None
        print(f"wrote {args.json}")
    return 0
