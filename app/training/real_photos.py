"""Check a model on a folder of real photos sorted into class folders (torch-free, ONNX Runtime).

    python -m app.training.real_photos --model CARD --photos DIR [--sheet OUT.jpg] [--json OUT.json] [--flip-test] [--orientation-check]

Category accuracy: the top-scoring detection's category (no score threshold) against the folder name, with
the folder → DeepFashion2 mapping below; folders without a mapping are skipped. Optionally draws a contact
sheet of full pipeline predictions. The photos themselves are never copied anywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from app.cli.pipeline_options import add_pipeline_options, pipeline_options
from inference.pose_decode import DEFAULT_VISIBLE_THRESHOLD
from inference.schema import deepfashion2

# Folder names of the "clothing dataset" subset → the DF2 categories that count as correct.
FOLDER_TO_DF2 = {
    "t-shirt": (1,),
    "longsleeve": (2,),
    "shirt": (1, 2),  # short- or long-sleeved shirts
    "outwear": (3, 4),
    "shorts": (7,),
    "pants": (8,),
    "skirt": (9,),
    "dress": (10, 11, 12, 13),
}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def top_category(pipeline, image: np.ndarray) -> tuple[int | None, float]:
    """The highest-scoring detection (the card's threshold ignored) and its category as the app would show
    it: the detector's class, or, for a pose graph with a category head, the fused decision (None: no box)."""
    detections = pipeline.detect(image, score_threshold=0.0)[:1]
    if not detections:
        return None, 0.0
    best = detections[0]
    if pipeline.card.pose.category_output is None:
        return best.category_id, best.score
    (garment,) = pipeline.estimate(image, [best])
    return garment.category_id, best.score


def category_accuracy(pipeline, photos: Path) -> dict:
    per_folder: dict[str, dict] = {}
    confusion: dict[str, dict[str, int]] = {}
    names = {c.id: c.name for c in deepfashion2().categories}
    for folder in sorted(p for p in photos.iterdir() if p.is_dir()):
        accepted = FOLDER_TO_DF2.get(folder.name.lower())
        if accepted is None:
            continue
        hits = total = 0
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                print(f"skipping unreadable image {path}", file=sys.stderr)
                continue
            cat, _ = top_category(pipeline, image)
            total += 1
            hits += cat in accepted
            name = names[cat] if cat is not None else "no box"
            confusion.setdefault(folder.name, {}).setdefault(name, 0)
            confusion[folder.name][name] += 1
        per_folder[folder.name] = {"images": total, "accuracy": hits / total if total else 0.0,
                                   "accepted": [names[c] for c in accepted]}
    images = sum(v["images"] for v in per_folder.values())
    correct = sum(v["accuracy"] * v["images"] for v in per_folder.values())
    return {
        "images": images,
        "category_accuracy": correct / images if images else 0.0,
        "per_folder": per_folder,
        "confusion": confusion,
        "rule": "top-1 detection (no threshold; category as the runtime decides it) vs folder; " + ", ".join(
            f"{k}→{'/'.join(str(c) for c in v)}" for k, v in FOLDER_TO_DF2.items()),
    }


def draw(image: np.ndarray, garments, tile: int = 256) -> np.ndarray:
    scale = tile / max(image.shape[:2])
    out = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)))
    canvas = np.full((tile, tile, 3), 40, np.uint8)
    canvas[: out.shape[0], : out.shape[1]] = out
    schema = deepfashion2()
    for g in garments[:3]:
        cat = schema.category(g.category_id)
        x1, y1, x2, y2 = (int(round(v * scale)) for v in g.bbox)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), (0, 255, 255), 1)
        pts = [(k.x * scale, k.y * scale, k.score or 0.0) for k in g.keypoints]
        for a, b in cat.skeleton:
            pa, pb = pts[a], pts[b]
            cv2.line(canvas, (int(pa[0]), int(pa[1])), (int(pb[0]), int(pb[1])), (255, 160, 0), 1, cv2.LINE_AA)
        for x, y, s in pts:
            cv2.circle(canvas, (int(x), int(y)), 2, (0, 255, 0) if s >= DEFAULT_VISIBLE_THRESHOLD else (0, 0, 255), -1)
        cv2.putText(canvas, f"{cat.name} {g.score or 0:.2f}", (max(x1, 2), max(y1 + 12, 12)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return canvas


def contact_sheet(pipeline, photos: Path, out: Path, per_folder: int = 4, tile: int = 256) -> Path:
    tiles = []
    for folder in sorted(p for p in photos.iterdir() if p.is_dir()):
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:per_folder]
        for path in files:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                continue
            t = draw(image, list(pipeline(image)), tile)
            cv2.putText(t, folder.name, (4, tile - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 200, 255), 1, cv2.LINE_AA)
            tiles.append(t)
    cols = per_folder
    rows = [np.hstack(tiles[i : i + cols] + [np.zeros_like(tiles[0])] * (cols - len(tiles[i : i + cols])))
            for i in range(0, len(tiles), cols)]
    cv2.imwrite(str(out), np.vstack(rows))
    return out


def record_in_card(card, result: dict, photos: Path, note: str) -> None:
    from dataclasses import replace

    metrics = dict(card.metrics)
    metrics["real_photos"] = {
        "folder": photos.name,  # the photos are never copied; only the numbers are kept
        "images": result["images"],
        "category_accuracy": result["category_accuracy"],
        "per_folder": {k: round(v["accuracy"], 4) for k, v in result["per_folder"].items()},
        "rule": result["rule"],
        "flip_test": bool(result.get("flip_test", False)),
        "orientation_check": bool(result.get("orientation_check", False)),
        "contact_sheet_notes": note,
    }
    replace(card, metrics=metrics).save()


def main(argv: list[str] | None = None) -> int:
    from inference.pipeline import GarmentPipeline

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--photos", type=Path, required=True)
    parser.add_argument("--sheet", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--record", metavar="NOTE", help="store the accuracy (and NOTE, e.g. what the contact "
                        "sheet showed) in the card's metrics.real_photos; the ONNX files are untouched")
    add_pipeline_options(parser, default_on=False)
    parser.add_argument("--sheet-threshold", type=float,
                        help="detector threshold for the contact sheet (default: the card's)")
    args = parser.parse_args(argv)
    if not args.photos.is_dir():
        print(f"error: photo folder not found: {args.photos}", file=sys.stderr)
        return 2
    options = pipeline_options(args)
    pipeline = GarmentPipeline.from_card(args.model, provider="cpu", threads=2, **options)
    result = {**category_accuracy(pipeline, args.photos), **options}
    print(json.dumps({k: v for k, v in result.items() if k != "confusion"}, indent=1))
    print(json.dumps(result["confusion"]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    if args.record is not None:
        record_in_card(pipeline.card, result, args.photos, args.record)
    if args.sheet:
        if args.sheet_threshold is not None:
            from app.training.evaluation import open_pipeline

            pipeline = open_pipeline(args.model, score_threshold=args.sheet_threshold, **options)
        print(f"contact sheet: {contact_sheet(pipeline, args.photos, args.sheet)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
