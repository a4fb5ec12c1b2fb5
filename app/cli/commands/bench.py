"""`garment-studio bench`: per-stage latency, end-to-end FPS and batched pose throughput of a model."""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from app.cli.pipeline_options import add_pipeline_options, pipeline_options

HELP = "Measure per-stage latency, end-to-end FPS (640×480, 1 and 5 garments) and batched crops/s."

FRAME_SIZE = (640, 480)
CONTRACT_NAME = "contract-test"  # inference.contract_models' card name


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=None, metavar="CARD",
                        help="model_card.json or its folder (default: the bundled model; if there is none, "
                             "the hand-built contract test graphs)")
    parser.add_argument("--provider", choices=("auto", "cpu", "cuda", "tensorrt"), default="auto")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT", help="also write the numbers here")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement (default 3)")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: cores, max 4)")
    add_pipeline_options(parser, default_on=False)
    parser.add_argument("--frames", choices=("auto", "scene", "simple"), default="auto",
                        help="scene: the synthetic renderer; simple: flat silhouettes the contract test graphs "
                             "detect; auto: simple for contract-test models, else scene")


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu or platform.machine(), "cores": os.cpu_count(), "system": platform.platform()}


def render_frame(rng, garments: int):
    """A 640×480 frame with ``garments`` T-shirt/trouser silhouettes side by side on a dark table.

    Colours and a red landmark dot follow the contract test models, so those detect them too.
    """
    import cv2
    import numpy as np

    from inference.contract_models import draw_marker, garment_colour

    w, h = FRAME_SIZE
    img = (rng.normal(35, 6, (h, w, 3))).clip(0, 255).astype(np.uint8)
    band = w // 5  # five garments side by side; a single one in the middle band
    truth = []
    for i in range(garments):
        cat = int(rng.choice([1, 2, 7, 8, 9]))
        x0 = (i if garments > 1 else 2) * band + int(band * 0.1)
        gw = int(band * 0.8)
        gh = int(h * rng.uniform(0.55, 0.8))
        y0 = int(rng.uniform(10, h - gh - 10))
        cx = x0 + gw / 2
        if cat in (7, 8, 9):  # bottoms: a trapezoid
            poly = [(x0 + gw * 0.15, y0), (x0 + gw * 0.85, y0), (x0 + gw, y0 + gh), (x0, y0 + gh)]
        else:  # tops: body with short sleeves
            poly = [(cx - gw * 0.2, y0), (cx + gw * 0.2, y0), (x0 + gw, y0 + gh * 0.2), (x0 + gw * 0.8, y0 + gh * 0.35),
                    (x0 + gw * 0.78, y0 + gh), (x0 + gw * 0.22, y0 + gh), (x0 + gw * 0.2, y0 + gh * 0.35),
                    (x0, y0 + gh * 0.2)]
        cv2.fillPoly(img, [np.round(poly).astype(np.int32)], garment_colour(cat), lineType=cv2.LINE_AA)
        draw_marker(img, int(cx), int(y0 + gh * 0.5))
        xs, ys = zip(*poly, strict=True)
        truth.append(((min(xs), min(ys), max(xs), max(ys)), cat))
    return img, truth


def scene_frames(garments: int, count: int):
    """Frames from the synthetic renderer with exactly ``garments`` garments, or None if it is unavailable."""
    try:
        from app.training.synth import SceneConfig, render_scene
    except ImportError:
        return None
    config = SceneConfig(image_size=FRAME_SIZE, mode="flatlay", max_garments=garments)
    frames = []
    for seed in range(200):
        scene = render_scene(seed, config)
        if len(scene.garments) == garments:
            frames.append((scene.image, [(g.bbox, g.category_id) for g in scene.garments]))
            if len(frames) == count:
                return frames
    return frames or None


def _stats(values) -> dict:
    import numpy as np

    arr = np.asarray(values, dtype=np.float64)
    return {"mean": float(arr.mean()), "p90": float(np.percentile(arr, 90))} if len(arr) else {}


def bench_frames(pipeline, frames, seconds: float) -> dict:
    """Detector on every frame, then pose on its boxes (or on the drawn boxes if it finds a different count)."""
    from inference.pose_decode import Detection
    from inference.timing import STAGES, StageTimings

    per_stage = {s: [] for s in (*STAGES, "total")}
    found = []
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or n < 5:
        image, truth = frames[n % len(frames)]
        timings = StageTimings()
        detections = pipeline.detect(image, timings)
        found.append(len(detections))
        if len(detections) != len(truth):
            detections = [Detection(tuple(map(float, box)), 1.0, cat) for box, cat in truth]
        pipeline.estimate(image, detections, timings)
        for s in STAGES:
            per_stage[s].append(getattr(timings, s))
        per_stage["total"].append(timings.total)
        n += 1
    elapsed = time.perf_counter() - start
    return {
        "frames": n,
        "fps": n / elapsed,
        "ms": {s: _stats(v) for s, v in per_stage.items()},
        "detector_found_expected_fraction": sum(
            f == len(frames[i % len(frames)][1]) for i, f in enumerate(found)) / n,
    }


def bench_live(pipeline, frame, seconds: float, detect_every: int = 5) -> dict:
    """The live path: tracker + One-Euro smoothing on a static scene, detector every ``detect_every`` frames."""
    from inference.realtime import LiveEstimator

    estimator = LiveEstimator(pipeline, detect_every=detect_every, smooth=True)
    image = frame[0]
    totals, detections = [], 0
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or n < 5:
        _, _, detected, timings = estimator.process(image, time.monotonic())
        totals.append(timings.total)
        detections += detected
        n += 1
    elapsed = time.perf_counter() - start
    return {"frames": n, "fps": n / elapsed, "ms": {"total": _stats(totals)}, "detect_every": detect_every,
            "detector_ran_fraction": detections / n}


def bench_pose_batch(pipeline, frames, batch: int, seconds: float) -> dict:
    from inference.pose_decode import Detection
    from inference.timing import StageTimings

    image, truth = frames[0]
    detections = [Detection(tuple(map(float, box)), 1.0, cat) for box, cat in truth]
    detections = (detections * (batch // len(detections) + 1))[:batch]
    pipeline.estimate(image, detections, batch=batch)  # warm-up at this batch size
    n, start = 0, time.perf_counter()
    timings = StageTimings()
    while time.perf_counter() - start < seconds or n < 2:
        pipeline.estimate(image, detections, timings, batch=batch)
        n += 1
    elapsed = time.perf_counter() - start
    return {"batch": batch, "crops_per_s": n * batch / elapsed,
            "ms_per_batch": {"pre": timings.pre / n, "pose": timings.pose / n, "post": timings.post / n}}


def _print_frames(label: str, r: dict) -> None:
    ms = r["ms"]
    stages = "  ".join(f"{s} {ms[s]['mean']:6.2f}/{ms[s]['p90']:6.2f}" for s in ("pre", "detect", "pose", "post"))
    print(f"{label:<12} {r['fps']:7.1f} FPS  total {ms['total']['mean']:6.2f}/{ms['total']['p90']:6.2f} ms  "
          f"[{stages}] (mean/p90 ms; detector found the drawn garments in "
          f"{100 * r['detector_found_expected_fraction']:.0f}% of frames)")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import onnxruntime as ort

    from app.cli.errors import CliError
    from inference.model_card import ModelCardError
    from inference.pipeline import GarmentPipeline, bundled_card_path
    from inference.runtime import ProviderError

    card_path, note = args.model, ""
    with tempfile.TemporaryDirectory(prefix="garment-bench-") as tmp:
        if card_path is None and not bundled_card_path().is_file():
            try:
                from inference.contract_models import write_contract_model

                card_path = write_contract_model(tmp)
            except ImportError as exc:
                raise CliError(f"no bundled model and cannot build the contract test models ({exc}); "
                               "pass --model CARD", 2) from exc
            note = "no bundled model: measuring the hand-built contract test graphs (pipeline overhead only)"
        try:
            pipeline = GarmentPipeline.from_card(card_path, provider=args.provider, threads=args.threads,
                                                 max_pose_batch=64, **pipeline_options(args))
        except (ModelCardError, ProviderError) as exc:
            raise CliError(str(exc), 2) from exc
        rng = np.random.default_rng(0)
        use_scene = args.frames == "scene" or (
            args.frames == "auto" and not pipeline.card.name.startswith(CONTRACT_NAME))
        report = {
            "model": pipeline.model_version,
            "card": str(pipeline.card.path),
            "note": note,
            "provider": pipeline.provider,
            "onnxruntime": ort.__version__,
            "machine": machine(),
            "frame_size": list(FRAME_SIZE),
            **pipeline_options(args),
        }
        print(f"model {report['model']}  ({report['card']})")
        if note:
            print(f"note: {note}")
        print(f"provider {report['provider']}  onnxruntime {ort.__version__}  "
              f"machine: {report['machine']['cpu']}, {report['machine']['cores']} cores")
        for garments in (1, 5):
            frames = scene_frames(garments, 8) if use_scene else None
            report[f"frames_{garments}"] = "synthetic renderer" if frames else "simple silhouettes"
            frames = frames or [render_frame(rng, garments) for _ in range(8)]
            result = bench_frames(pipeline, frames, args.seconds)
            report[f"batch1_{garments}_garment"] = result
            _print_frames(f"{garments} garment(s)", result)
            if garments == 1:
                live = bench_live(pipeline, frames[0], args.seconds)
                report["live_1_garment_tracked"] = live
                print(f"{'1, tracked':<12} {live['fps']:7.1f} FPS  total {live['ms']['total']['mean']:6.2f}/"
                      f"{live['ms']['total']['p90']:6.2f} ms  (detector every {live['detect_every']} frames "
                      f"or when lost: ran on {100 * live['detector_ran_fraction']:.0f}% of frames; smoothing on)")
        frames = (scene_frames(5, 1) if use_scene else None) or [render_frame(rng, 5)]
        for batch in (16, 64):
            result = bench_pose_batch(pipeline, frames, batch, args.seconds)
            report[f"pose_batch_{batch}"] = result
            per = result["ms_per_batch"]
            print(f"pose batch {batch:<3} {result['crops_per_s']:8.1f} crops/s  "
                  f"(per batch: pre {per['pre']:.1f} ms, pose {per['pose']:.1f} ms, post {per['post']:.1f} ms)")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0
