"""How the 180° orientation check does on garments lying upright and upside down (torch-free, ONNX Runtime).

    python -m app.training.orientation_eval --model CARD [--scenes 150] [--flip-test]

Each synthetic validation scene is measured twice: as rendered (garments roughly upright, within ±46°) and
turned by 180° as a whole (exact: pixel (x, y) → (W-1-x, H-1-y), landmarks and boxes with it). The pose
network runs on the true boxes with the true category (QC mode), with the check off and on. Printed: mean
OKS (DF2 sigmas), the share of gross errors (OKS < 0.1), and how often the turned reading was chosen —
on upright scenes every "turned" choice is a mistake, on turned scenes every "upright" one is.
Also printed: the margin (mean-score difference) that would have decided each garment best.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import numpy as np

from app.training.evaluation import GROSS_OKS, keypoint_distances, landmark_oks
from inference.annotation import Garment


def turn_image_and_garments(image: np.ndarray, garments: list[Garment]) -> tuple[np.ndarray, list[Garment]]:
    """The whole scene turned by 180°: pixel (x, y) → (W-1-x, H-1-y) for landmarks and boxes."""
    h, w = image.shape[:2]
    turned = np.ascontiguousarray(image[::-1, ::-1])
    out = []
    for g in garments:
        x1, y1, x2, y2 = g.bbox
        keypoints = tuple(replace(k, x=w - 1 - k.x, y=h - 1 - k.y) for k in g.keypoints)
        out.append(replace(g, bbox=(w - 1 - x2, h - 1 - y2, w - 1 - x1, h - 1 - y1), keypoints=keypoints))
    return turned, out


def _measure(pipeline, image, garments) -> list[dict]:
    result = pipeline.predict_boxes(image, [(g.bbox, g.category_id) for g in garments])
    rows = []
    for gt, pred in zip(garments, result, strict=True):
        dist, _ = keypoint_distances(gt, pred)
        oks, _ = landmark_oks(gt, dist)
        scores = pred.extra.get("orientation_scores")
        rows.append({"oks": oks, "orientation": pred.extra.get("orientation", "upright"),
                     "score_gain": None if scores is None else scores[1] - scores[0]})
    return rows


def evaluate(card, scenes: int, flip_test: bool) -> dict:
    from app.training.evaluation import open_pipeline
    from app.training.recipe import VAL_SEED
    from app.training.synth.scene import render_scene

    plain = open_pipeline(card, flip_test=flip_test)
    checked = open_pipeline(card, flip_test=flip_test, orientation_check=True)
    rows: dict[str, list[dict]] = {f"{way}/{check}": [] for way in ("upright", "turned") for check in ("off", "on")}
    for i in range(scenes):
        scene = render_scene(VAL_SEED + i)
        upright = (scene.image, [g for g in scene.garments if g.keypoints])
        for way, (image, garments) in (("upright", upright), ("turned", turn_image_and_garments(*upright))):
            if not garments:
                continue
            rows[f"{way}/off"] += _measure(plain, image, garments)
            rows[f"{way}/on"] += _measure(checked, image, garments)
    summary = {}
    for key, items in rows.items():
        oks = np.concatenate([r["oks"] for r in items])
        summary[key] = {
            "garments": len(items),
            "mean_oks": float(np.mean([r["oks"].mean() for r in items])),
            "gross_error_rate": float((oks < GROSS_OKS).mean()),
            "turned_chosen": float(np.mean([r["orientation"] == "turned" for r in items])),
        }
    # Score gains of the turned reading: negative on upright garments, positive on turned ones, if the check
    # separates them; the best margin is the threshold between the two groups.
    gains_upright = np.array([r["score_gain"] for r in rows["upright/on"]])
    gains_turned = np.array([r["score_gain"] for r in rows["turned/on"]])
    candidates = np.linspace(-0.1, 0.2, 31)
    right = [((gains_upright <= m).sum() + (gains_turned > m).sum()) / (len(gains_upright) + len(gains_turned))
             for m in candidates]
    best = int(np.argmax(right))
    summary["margin"] = {"best": round(float(candidates[best]), 3), "right_at_best": float(right[best]),
                         "right_at_0": float(right[int(np.argmin(np.abs(candidates)))]),
                         "gain_quantiles_upright": np.quantile(gains_upright, [0.5, 0.9, 0.99]).round(3).tolist(),
                         "gain_quantiles_turned": np.quantile(gains_turned, [0.01, 0.1, 0.5]).round(3).tolist()}
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="model card or its folder")
    parser.add_argument("--scenes", type=int, default=150, help="synthetic validation scenes (default 150)")
    parser.add_argument("--flip-test", action="store_true", help="flip test on in both runs, as the app runs")
    args = parser.parse_args(argv)
    summary = evaluate(args.model, args.scenes, args.flip_test)
    for key, s in summary.items():
        if key != "margin":
            print(f"{key:<12} garments {s['garments']:4d}  mean OKS {s['mean_oks']:.3f}  gross errors "
                  f"{s['gross_error_rate']:.1%}  turned reading chosen {s['turned_chosen']:.1%}")
    print("margin", json.dumps(summary["margin"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
