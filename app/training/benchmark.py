"""Latency of a model's ONNX graphs with ONNX Runtime on this CPU (torch-free); prints milliseconds.

    python -m app.training.benchmark --model CARD [--threads 2] [--runs 100] [--json OUT]

The sessions get the runtime's own options (``inference.runtime.session_options``: no spinning thread pool,
one inter-op thread), so the numbers are what the app and the CLI get, not a best case of ORT's defaults.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from inference.model_card import ModelCardError, load_card
from inference.runtime import session_options


def time_session(session: ort.InferenceSession, feed: dict, runs: int) -> tuple[float, float]:
    """(median, 10th percentile) milliseconds per run after a short warm-up."""
    for _ in range(5):
        session.run(None, feed)
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        session.run(None, feed)
        samples.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(samples), float(np.percentile(samples, 10))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ONNX Runtime CPU latency of a model card's graphs")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.threads < 1:
        parser.error("--runs and --threads must be at least 1")
    try:
        card = load_card(args.model)
    except ModelCardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    opts = session_options(args.threads)
    providers = ["CPUExecutionProvider"]
    results: dict = {"threads": args.threads, "runs": args.runs, "onnxruntime": ort.__version__}
    pw, ph = card.pose.preprocess.input_size
    pose = ort.InferenceSession(str(card.file_path(card.pose.file)), opts, providers=providers)
    rng = np.random.default_rng(0)
    for batch in (1, 4):
        crops = rng.normal(size=(batch, 3, ph, pw)).astype(np.float32)
        med, p10 = time_session(pose, {"crops": crops}, args.runs)
        print(f"pose  batch {batch}: {med:.2f} ms median ({p10:.2f} ms p10) = {med / batch:.2f} ms per crop")
        results[f"pose_batch{batch}_ms"] = {"median": med, "p10": p10, "per_crop": med / batch}
    dw, dh = card.detector.preprocess.input_size
    det = ort.InferenceSession(str(card.file_path(card.detector.file)), opts, providers=providers)
    image = rng.normal(size=(1, 3, dh, dw)).astype(np.float32)
    med, p10 = time_session(det, {"image": image}, args.runs)
    print(f"detector {dw}x{dh}: {med:.2f} ms median ({p10:.2f} ms p10)")
    results["detector_ms"] = {"median": med, "p10": p10}
    print(f"threads {args.threads}, onnxruntime {ort.__version__}, CPU cores visible {len(__import__('os').sched_getaffinity(0))}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
