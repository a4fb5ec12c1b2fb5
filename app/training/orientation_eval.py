"""How the orientation check does on garments lying upright, sideways and upside down (ONNX Runtime).

    python -m app.training.orientation_eval --model CARD [--scenes 150] [--flip-test]
    python -m app.training.orientation_eval --model CARD --tune [--scenes 200] [--record]
    python -m app.training.orientation_eval --model CARD --tune-margin [--scenes 150] [--record]

Each synthetic validation scene is measured as rendered (garments roughly upright, within ±46°) and turned
as a whole by 90°, 180° and 270° clockwise (exact: the pixels and every landmark and box move together).
The pose network runs on the true boxes with the true category (QC mode), with the check off and on.
Printed per turn: mean OKS (DF2 sigmas), the share of gross errors (OKS < 0.1), and how often the check
read the garment the right way up (a scene turned by t is read right by turning its crops back by -t).

``--tune`` decides which categories may be read sideways (90°/270°; upside down is always allowed), on
tuning scenes disjoint from training and validation: a category is allowed when sideways readings raise
its mean OKS on sideways scenes and cost its upright garments at most ``UPRIGHT_TOLERANCE`` (garments lie
roughly upright most of the time; the check must not make the usual case worse). ``--record`` writes the
list into the card (``pose.sideways_categories``) and re-measures ``metrics.synthetic_val_app``.

``--tune-margin`` picks the card's ``pose.turned_category_margin``: how much surer than the plain reading a
turned reading must be when it names another category. Each candidate runs the whole pipeline (detector,
category decided by the crop classifier, flip test, orientation check) on tuning scenes, and the one with
the best keypoint AP wins; a tie goes to the smaller margin. ``--record`` writes it into the card and
re-measures ``metrics.synthetic_val_app``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import numpy as np

from app.training.evaluation import GROSS_OKS, keypoint_distances, landmark_oks
from inference.annotation import Garment


def turn_image_and_garments(
    image: np.ndarray, garments: list[Garment], quarter_turns: int = 2
) -> tuple[np.ndarray, list[Garment]]:
    """The whole scene turned clockwise by ``quarter_turns`` × 90°: pixel (x, y) → (H-1-y, x) per turn."""
    for _ in range(quarter_turns % 4):
        h = image.shape[0]
        image = np.ascontiguousarray(np.rot90(image, k=-1))
        turned = []
        for g in garments:
            x1, y1, x2, y2 = g.bbox
            keypoints = tuple(replace(k, x=h - 1 - k.y, y=k.x) for k in g.keypoints)
            turned.append(replace(g, bbox=(h - 1 - y2, x1, h - 1 - y1, x2), keypoints=keypoints))
        garments = turned
    return image, list(garments)


def _measure(pipeline, image, garments, **settings) -> list[dict]:
    """Pose on the true boxes with the true categories, with pipeline attributes set as given first."""
    for name, value in settings.items():
        setattr(pipeline, name, value)
    result = pipeline.predict_boxes(image, [(g.bbox, g.category_id) for g in garments])
    rows = []
    for gt, pred in zip(garments, result, strict=True):
        dist, _ = keypoint_distances(gt, pred)
        oks, _ = landmark_oks(gt, dist)
        rows.append({"oks": oks, "orientation": int(pred.extra.get("orientation", 0))})
    return rows


def evaluate(card, scenes: int, flip_test: bool) -> dict:
    from app.training.evaluation import open_pipeline
    from app.training.seeds import VAL_SEED
    from app.training.synth.scene import render_scene

    pipeline = open_pipeline(card, flip_test=flip_test)
    rows: dict[tuple[int, str], list[dict]] = {(t, c): [] for t in range(4) for c in ("off", "on")}
    for i in range(scenes):
        scene = render_scene(VAL_SEED + i)
        garments = [g for g in scene.garments if g.keypoints]
        if not garments:
            continue
        for t in range(4):
            image, turned = turn_image_and_garments(scene.image, garments, t)
            rows[(t, "off")] += _measure(pipeline, image, turned, orientation_check=False)
            rows[(t, "on")] += _measure(pipeline, image, turned, orientation_check=True)
    summary = {}
    for (t, check), items in rows.items():
        oks = np.concatenate([r["oks"] for r in items])
        summary[f"{90 * t}/{check}"] = {
            "scene_turned_deg": 90 * t,
            "check": check == "on",
            "garments": len(items),
            "mean_oks": float(np.mean([r["oks"].mean() for r in items])),
            "gross_error_rate": float((oks < GROSS_OKS).mean()),
            "read_right_way_up": float(np.mean([r["orientation"] == (360 - 90 * t) % 360 for r in items])),
        }
    return summary


UPRIGHT_TOLERANCE = 0.005  # mean OKS a category's upright garments may lose to sideways readings
ALL_CATEGORIES = tuple(range(1, 14))


def tune_sideways(card_path, scenes: int, progress=print) -> dict:
    """Per category: mean OKS gain of allowing sideways readings, on upright and on sideways scenes."""
    from app.training.evaluation import open_pipeline
    from app.training.seeds import TUNE_SEED
    from app.training.synth.scene import render_scene
    from inference.model_card import load_card

    pipeline = open_pipeline(card_path, flip_test=True, orientation_check=True)
    card = load_card(card_path)
    w, h = card.pose.preprocess.input_size
    if w != h:
        raise ValueError(f"{card_path}: pose crops are {w}×{h}; only square crops can be read sideways")
    # The pipeline reads the sideways list from its card on every call: swapping the card switches it.
    with_turns = replace(card, pose=replace(card.pose, sideways_categories=ALL_CATEGORIES))
    without = replace(card, pose=replace(card.pose, sideways_categories=()))
    gains: dict[int, dict[str, list[float]]] = {}
    for i in range(scenes):
        scene = render_scene(TUNE_SEED + i)
        garments = [g for g in scene.garments if g.keypoints]
        for t in range(4) if garments else ():
            image, turned = turn_image_and_garments(scene.image, garments, t)
            on = _measure(pipeline, image, turned, card=with_turns)
            off = _measure(pipeline, image, turned, card=without)
            for gt, a, b in zip(turned, on, off, strict=True):
                way = "sideways" if t % 2 else "upright"
                gains.setdefault(gt.category_id, {"upright": [], "sideways": []})[way].append(
                    float(a["oks"].mean() - b["oks"].mean()))
        if progress and (i + 1) % 25 == 0:
            progress(f"{i + 1}/{scenes} tuning scenes")
    return {"scenes": scenes, "seed": TUNE_SEED, **decide_sideways(gains)}


def decide_sideways(gains: dict[int, dict[str, list[float]]], tolerance: float = UPRIGHT_TOLERANCE) -> dict:
    """{category: {"upright": [OKS gain per garment], "sideways": [...]}} → the categories allowed sideways.

    Allowed: sideways readings help garments that lie sideways, and cost upright ones at most ``tolerance``.
    """
    per_category = {}
    for cat, g in sorted(gains.items()):
        upright = float(np.mean(g["upright"])) if g["upright"] else 0.0
        sideways = float(np.mean(g["sideways"])) if g["sideways"] else 0.0
        per_category[cat] = {"garments": len(g["upright"]) // 2, "upright_gain": round(upright, 4),
                             "sideways_gain": round(sideways, 4),
                             "allowed": upright >= -tolerance and sideways > 0.0}
    allowed = [c for c, v in per_category.items() if v["allowed"]]
    return {"upright_tolerance": tolerance, "per_category": per_category, "sideways_categories": allowed}


MARGINS = (0.0, 0.025, 0.05, 0.1, 0.15, 0.2)


def choose_margin(per_margin: dict[float, dict]) -> float:
    """The margin with the best keypoint AP; ties go to the smaller margin (the plainer rule)."""
    return max(sorted(per_margin), key=lambda m: (round(per_margin[m]["keypoint_AP"], 6), -m))


def tune_margin(card_path, scenes: int, margins=MARGINS, progress=print) -> dict:
    """Keypoint AP and category accuracy of the full pipeline, as the app runs it, per candidate margin."""
    from app.training.evaluation import evaluate_source, open_pipeline
    from app.training.seeds import TUNE_SEED
    from app.training.sources import SynthSource

    pipeline = open_pipeline(card_path, flip_test=True, orientation_check=True)
    card = pipeline.card
    source = SynthSource(scenes, base_seed=TUNE_SEED)
    per_margin = {}
    for margin in margins:
        pipeline.card = replace(card, pose=replace(card.pose, turned_category_margin=float(margin)))
        m = evaluate_source(pipeline, source, card.score_alpha)
        per_margin[float(margin)] = {"keypoint_AP": m["keypoint_AP"], "category_accuracy": m["category_accuracy"]}
        if progress:
            progress(f"margin {margin}: keypoint AP {m['keypoint_AP']:.4f}, category accuracy "
                     f"{m['category_accuracy']:.1%}")
    return {"scenes": scenes, "seed": TUNE_SEED, "per_margin": per_margin, "best": choose_margin(per_margin)}


def record_margin(card_path, tuned: dict, val_scenes: int = 150, progress=print) -> dict:
    from inference.model_card import load_card

    card = load_card(card_path)
    card = replace(card, pose=replace(card.pose, turned_category_margin=float(tuned["best"])))
    return _remeasure_app(card, "turned_category_margin_tuning", tuned, val_scenes, progress)


def record_sideways(card_path, tuned: dict, val_scenes: int = 150, progress=print) -> dict:
    """Write the tuned list into the card, then re-measure the app's way of running it on validation."""
    from inference.model_card import load_card

    card = load_card(card_path)
    card = replace(card, pose=replace(card.pose, sideways_categories=tuple(tuned["sideways_categories"])))
    return _remeasure_app(card, "orientation_tuning", {k: v for k, v in tuned.items() if k != "per_category"},
                          val_scenes, progress)


def _remeasure_app(card, training_key: str, tuned: dict, val_scenes: int, progress) -> dict:
    """Save the card, re-measure ``metrics.synthetic_val_app`` with it and record the tuning beside it."""
    from app.training.evaluation import evaluate_source, open_pipeline
    from app.training.seeds import VAL_SEED
    from app.training.sources import SynthSource

    card.save()
    pipeline = open_pipeline(card.path, flip_test=True, orientation_check=True)
    metrics = evaluate_source(pipeline, SynthSource(val_scenes, base_seed=VAL_SEED), card.score_alpha,
                              progress=progress)
    metrics["dataset"] = card.metrics.get("synthetic_val_app", {}).get("dataset", f"{val_scenes} synthetic val scenes")
    training = {**card.training, training_key: tuned}
    replace(card, metrics={**card.metrics, "synthetic_val_app": metrics}, training=training).save()
    return metrics


def _save_tuning(args, tuned: dict, record) -> int:
    """--json writes the tuning; --record writes the decision into the card and re-measures the app's way."""
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(tuned, f, indent=1)
    if args.record:
        metrics = record(args.model, tuned)
        print("synthetic_val_app", json.dumps({k: round(metrics[k], 4) for k in (
            "keypoint_AP", "keypoint_AP_on_gt_boxes", "category_accuracy", "PCK@0.2")}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="model card or its folder")
    parser.add_argument("--scenes", type=int, default=150, help="synthetic validation scenes (default 150)")
    parser.add_argument("--flip-test", action="store_true", help="flip test on in both runs, as the app runs")
    parser.add_argument("--json", help="also write the summary here")
    parser.add_argument("--tune", action="store_true", help="decide which categories may be read sideways")
    parser.add_argument("--tune-margin", action="store_true",
                        help="pick the card's turned_category_margin on tuning scenes (whole pipeline)")
    parser.add_argument("--record", action="store_true", help="with --tune or --tune-margin: write the decision "
                        "into the card and re-measure metrics.synthetic_val_app")
    args = parser.parse_args(argv)
    if args.tune_margin:
        tuned = tune_margin(args.model, args.scenes)
        print("turned_category_margin", tuned["best"])
        return _save_tuning(args, tuned, record_margin)
    if args.tune:
        tuned = tune_sideways(args.model, args.scenes)
        for cat, v in tuned["per_category"].items():
            print(f"category {cat:2d}: {v['garments']:3d} garments, mean OKS gain upright {v['upright_gain']:+.4f}, "
                  f"sideways {v['sideways_gain']:+.4f} → {'allowed' if v['allowed'] else 'not allowed'}")
        print("sideways_categories", tuned["sideways_categories"])
        return _save_tuning(args, tuned, record_sideways)
    summary = evaluate(args.model, args.scenes, args.flip_test)
    for s in summary.values():
        print(f"scene turned {s['scene_turned_deg']:3d}°, check {'on ' if s['check'] else 'off'}: garments "
              f"{s['garments']:4d}  mean OKS {s['mean_oks']:.3f}  gross errors {s['gross_error_rate']:.1%}  "
              f"read the right way up {s['read_right_way_up']:.1%}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
