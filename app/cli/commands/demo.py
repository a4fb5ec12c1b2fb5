"""`garment-studio demo`: the headless main job on the bundled sample with the bundled model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from app.cli.pipeline_options import add_pipeline_options, pipeline_options

HELP = "Annotate and measure the bundled sample photos with the bundled model; print the results."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project",
        type=Path,
        default=Path("runs/demo/sample.db"),
        help="project file to create or refresh (default runs/demo/sample.db)",
    )
    parser.add_argument("--model", metavar="MODEL_CARD.json", help="model card (default: the bundled model)")
    parser.add_argument("--provider", default="auto", help="ONNX Runtime provider: auto|cpu|cuda|tensorrt")
    parser.add_argument(
        "--auto-category",
        action="store_true",
        help="let the detector choose each garment's category (default: QC mode, the sample's style fixes it)",
    )
    add_pipeline_options(parser, default_on=True)
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="also write the full report as JSON")


def run(args: argparse.Namespace) -> int:
    from app.cli.errors import CliError
    from app.sample_project import build_sample_project
    from inference.model_card import ModelCardError
    from inference.schema import deepfashion2

    args.project.parent.mkdir(parents=True, exist_ok=True)
    try:
        reports = build_sample_project(
            args.project,
            model_card=args.model,
            provider=args.provider,
            known_category=not args.auto_category,
            **pipeline_options(args),
            progress=lambda n, total, name: print(f"[{n}/{total}] {name}", flush=True),
        )
    except ModelCardError as exc:
        raise CliError(str(exc)) from exc
    mode = "detector's category" if args.auto_category else "QC mode: category from the style under test"
    print(f"categories: {mode}")
    options = [name for name, on in (("flip test", args.flip_test), ("orientation check", args.orientation_check)) if on]
    print(f"test-time options: {', '.join(options) or 'none'}")
    all_errors: list[float] = []
    for report in reports:
        cal = report.calibration
        print(
            f"\n{report.name}: board {cal['method']}, {cal['mm_per_px']:.3f} mm/px, "
            f"reprojection {cal['reprojection_error_px']:.3f} px, model {report.latency_ms:.0f} ms"
        )
        if not report.garments:
            print("  no garment detected")
        for g in report.garments:
            score = "" if g.score is None else f" score {g.score:.2f}"
            print(f"  {deepfashion2().category(g.category_id).name}{score}")
            for name, value in g.measured_cm.items():
                true = g.true_cm.get(name)
                shown = "not measurable" if value is None else f"{value:6.1f} cm"
                truth = "" if true is None else f"   (true {true:6.1f} cm"
                if value is not None and true is not None:
                    truth += f", error {abs(value - true):4.1f} cm)"
                    all_errors.append(abs(value - true))
                elif truth:
                    truth += ")"
                print(f"    {name:<16} {shown}{truth}")
    if all_errors:
        print(
            f"\nmean absolute error over {len(all_errors)} measurements: {sum(all_errors) / len(all_errors):.2f} cm"
        )
    print(f"project: {args.project}  (open it with: garment-studio gui {args.project})")
    if args.json:
        args.json.write_text(
            json.dumps([r.__dict__ | {"garments": [g.__dict__ for g in r.garments]} for r in reports], indent=1)
        )
    return 0
