"""Does retraining from corrections fix a domain the model does badly on? Before/after numbers.

    python -m app.training.retrain_benchmark [--out runs/retrain_benchmark] [--images 240] [--epochs 6]

1. Renders scenes the bootstrap synthetic set never shows: colour negatives of the renderer's scenes
   (dark backgrounds, light inverted fabrics; the geometry and so the landmarks are unchanged and exact).
2. Imports them into a fresh project with the renderer's ground truth as *verified* garments, as if a person
   had corrected every prediction.
3. Runs the project retrain (``garment-studio train --project``): held-out split by image hash, fine-tune
   the base model (default: the bundled one), evaluate before/after on the held-out images, register.
4. Also evaluates parent and child on ordinary (non-negative) synthetic validation renders, to show what
   the fine-tune costs on the original domain (forgetting).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

DOMAIN_SEED = 800_000_000  # benchmark scenes: apart from the bootstrap pool (0..), replay (7e8..), val (1e9..)
DOMAINS = ("negative",)


def negative(image: np.ndarray) -> np.ndarray:
    return 255 - image


def build_project(folder: Path, count: int, seed: int = DOMAIN_SEED) -> Path:
    """Rendered negative scenes with their ground truth imported as verified garments."""
    from app.store import ProjectStore
    from app.training.synth import SceneConfig, render_scene
    from inference.annotation import GarmentStatus

    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    project = folder / "benchmark.db"
    config = SceneConfig(random_aspect=True, max_garments=2)
    with ProjectStore.create(project) as store:
        for i in range(count):
            scene = render_scene(seed + i, config)
            path = images / f"negative_{seed + i}.jpg"
            cv2.imwrite(str(path), negative(scene.image), [cv2.IMWRITE_JPEG_QUALITY, 95])
            image_id = store.add_image(path.relative_to(folder)).image_id
            verified = [replace(g, status=GarmentStatus.VERIFIED) for g in scene.garments]
            store.import_garments(image_id, verified, source="renderer ground truth (negative domain)")
    return project


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Retraining benchmark on a domain the bootstrap model lacks")
    parser.add_argument("--out", type=Path, default=Path("runs/retrain_benchmark"))
    parser.add_argument("--images", type=int, default=240, help="rendered images in the project")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--replay", type=float, default=0.2)
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--base", type=Path, help="model card to fine-tune (default: the bundled model)")
    parser.add_argument("--val-original", type=int, default=60,
                        help="ordinary synthetic val renders to measure forgetting on (0: skip)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: no oversubscription on a busy 2-core machine)")
    args = parser.parse_args(argv)

    from app.training.recipe import VAL_SEED, evaluate_card, set_torch_threads
    from app.training.retrain import RetrainOptions, run_retrain
    from app.training.sources import SynthSource

    set_torch_threads(args.threads)
    started = time.perf_counter()
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    project = build_project(args.out, args.images)
    print(f"project {project}: {args.images} negative-domain renders imported as verified", flush=True)
    result = run_retrain(RetrainOptions(
        project=project, base=args.base, epochs=args.epochs, replay=args.replay, holdout=args.holdout,
        activate_if_better=True, log=lambda m: print(m, flush=True),
    ))
    report = {"command": "python -m app.training.retrain_benchmark " + shlex.join(sys.argv[1:] if argv is None else argv),
              "domain": "colour negatives of synthetic scenes (SceneConfig(random_aspect=True, max_garments=2))",
              "images": args.images, "held_out_images": result["held_out_images"],
              "train_images": result["train_images"], "epochs": args.epochs, "replay": args.replay,
              "held_out": {"before": result["before"], "after": result["after"]}, "activated": result["active"]}
    if args.val_original > 0:
        from inference.pipeline import bundled_card_path

        val = SynthSource(args.val_original, base_seed=VAL_SEED)
        base_card = args.base or bundled_card_path()
        quiet = lambda _m: None  # noqa: E731
        report["original_domain_val"] = {
            "images": args.val_original,
            "before": _compact(evaluate_card(base_card, val, quiet)),
            "after": _compact(evaluate_card(Path(result["card"]), val, quiet)),
        }
    report["seconds"] = round(time.perf_counter() - started, 1)
    (args.out / "benchmark.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(format_report(report))
    return 0


def _compact(metrics: dict) -> dict:
    from app.training.retrain import compact_metrics

    return compact_metrics(metrics)


def format_report(report: dict) -> str:
    rows = [("negative domain, held-out", report["held_out"])]
    if "original_domain_val" in report:
        rows.append(("original domain, synthetic val", report["original_domain_val"]))
    lines = [f"{'':<34}{'kpAP before':>12}{'after':>8}{'kpAP@GT box':>13}{'after':>8}{'PCK@0.2':>9}{'after':>8}"]
    for label, block in rows:
        b, a = block["before"], block["after"]
        lines.append(f"{label:<34}{b['keypoint_AP']:>12.3f}{a['keypoint_AP']:>8.3f}"
                     f"{b['keypoint_AP_on_gt_boxes']:>13.3f}{a['keypoint_AP_on_gt_boxes']:>8.3f}"
                     f"{b['PCK@0.2']:>9.3f}{a['PCK@0.2']:>8.3f}")
    lines.append(f"{report['train_images']} training / {report['held_out_images']} held-out images, "
                 f"{report['epochs']} epochs, replay {report['replay']}, {report['seconds']} s; "
                 f"activated: {report['activated']}")
    lines.append(f"rerun: {report['command']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
