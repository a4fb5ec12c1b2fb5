"""Choose a model's ``category_detector_weight`` on held-out data (torch-free, ONNX Runtime).

    python -m app.training.category_tuning --model CARD [--scenes 150 | --data COCO_JSON [--images DIR]]
        [--weights 0,0.1,0.2,0.35,0.5,1.5] [--write]

For each weight, the whole pipeline runs over the tuning images and keypoint AP (DF2 OKS) is computed; the
best weight is printed and, with ``--write``, stored in the card (the ONNX files and their hashes are
untouched). Synthetic tuning scenes come from their own seed range (``TUNE_SEED``), disjoint from training
scenes and from the validation scenes the card's metrics are measured on, so tuning does not flatter them.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from app.training.seeds import TUNE_SEED

DEFAULT_WEIGHTS = (0.0, 0.1, 0.2, 0.35, 0.5, 1.5)  # 1.5 > any probability: the detector's class always wins


def tune(pipeline, source, weights=DEFAULT_WEIGHTS, progress=None) -> dict:
    """{weight: metrics} for every weight, and the best weight by keypoint AP (ties: the smaller weight)."""
    from app.training.evaluation import Accumulator

    if pipeline.card.pose.category_output is None:
        raise ValueError(f"{pipeline.card.path}: the pose graph has no category head; there is nothing to tune")
    images = [source.load(i) for i in range(len(source))]
    original = pipeline.card
    results = {}
    try:
        for w in weights:
            pipeline.card = replace(original, pose=replace(original.pose, category_detector_weight=float(w)))
            acc = Accumulator(original.score_alpha)
            for image, gt, info in images:
                info = {**info, "height": image.shape[0], "width": image.shape[1]}
                acc.add(info, gt, list(pipeline(image)))
            summary = acc.summary()
            results[float(w)] = {"keypoint_AP": summary["keypoint_AP"], "box_AP": summary["box_AP"]}
            if progress:
                progress(f"weight {w}: keypoint AP {summary['keypoint_AP']:.4f}, box AP {summary['box_AP']:.4f}")
    finally:
        pipeline.card = original
    best = max(sorted(results), key=lambda w: (round(results[w]["keypoint_AP"], 6), -w))
    return {"weights": results, "best": best, "images": len(images)}


def main(argv: list[str] | None = None) -> int:
    from app.training.evaluation import open_pipeline
    from app.training.sources import CocoSource, DataSourceError, SynthSource
    from inference.model_card import ModelCardError

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="model card (or its folder)")
    parser.add_argument("--scenes", type=int, default=150, help="synthetic tuning scenes (default 150)")
    parser.add_argument("--data", type=Path, help="tune on this COCO DF2-294 file instead of renders")
    parser.add_argument("--images", type=Path, help="image folder for --data (default: beside it or in images/ there)")
    parser.add_argument("--weights", default=",".join(str(w) for w in DEFAULT_WEIGHTS))
    parser.add_argument("--write", action="store_true", help="store the best weight in the card")
    args = parser.parse_args(argv)
    try:
        weights = tuple(float(w) for w in args.weights.split(",") if w.strip())
        if not weights or min(weights) < 0:
            raise ValueError
    except ValueError:
        print(f"error: --weights needs non-negative numbers like 0,0.2,0.5, got {args.weights!r}", file=sys.stderr)
        return 2
    try:
        pipeline = open_pipeline(args.model)
        if args.data is not None:
            source, described = CocoSource(args.data, args.images), f"{args.data}"
        else:
            source = SynthSource(args.scenes, base_seed=TUNE_SEED)
            described = f"synthetic tuning scenes {TUNE_SEED}..+{args.scenes - 1}"
        result = tune(pipeline, source, weights, progress=lambda m: print(m, flush=True))
    except (ModelCardError, DataSourceError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=1))
    if args.write:
        from inference.model_card import load_card

        card = load_card(args.model)  # the file as it is: open_pipeline lowered the threshold in memory only
        training = {**card.training, "category_detector_weight_tuning": {
            "data": described, "images": result["images"], "keypoint_AP_by_weight": result["weights"]}}
        replace(card, pose=replace(card.pose, category_detector_weight=result["best"]), training=training).save()
        print(f"wrote category_detector_weight {result['best']} to {card.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
