"""`garment-studio synth`: render synthetic garment photos with exact DeepFashion2 landmarks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.errors import CliError

HELP = "Render synthetic garment photos with exact DeepFashion2 landmarks as a COCO (DF2-294) dataset."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="output folder (images/ and annotations.json)")
    parser.add_argument("--n", type=int, default=100, help="number of images (image ids 1..N)")
    parser.add_argument("--seed", type=int, default=0, help="seed of image 1; image i uses seed+i-1")
    parser.add_argument("--categories", default=None,
                        help="comma-separated DF2 category ids or names (default: all 13)")
    parser.add_argument("--mode", default="mixed", choices=("flatlay", "workstation", "mixed"))
    parser.add_argument("--size", default="640x480", help="image size WxH, or 'random' for mixed aspects")
    parser.add_argument("--max-garments", type=int, default=3)
    parser.add_argument("--board", choices=("auto", "always", "never"), default="auto",
                        help="ChArUco board in workstation scenes")
    parser.add_argument("--no-occluders", action="store_true", help="no hands, objects or hangers")
    parser.add_argument("--no-camera-effects", action="store_true", help="clean images (no blur/noise/JPEG)")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a folder that is not empty: first delete an earlier synth output there "
                        "(annotations.json, images/NNNNNN.jpg); other files stay. Without it such --out is refused")


def _parse_categories(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    from inference.schema import SchemaError, deepfashion2

    ids = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        try:
            ids.append(deepfashion2().category(int(item) if item.isdigit() else item).id)
        except SchemaError as exc:
            raise CliError(f"--categories: {exc}", 2) from None
    if not ids:
        raise CliError("--categories: no category given", 2)
    return tuple(dict.fromkeys(ids))


def _parse_size(text: str) -> tuple[tuple[int, int], bool]:
    if text == "random":
        return (640, 480), True
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise CliError(f"--size: expected WxH like 640x480 or 'random', got {text!r}", 2) from None
    if w < 32 or h < 32 or w > 8192 or h > 8192:
        raise CliError(f"--size: {w}x{h} is out of range (32..8192)", 2)
    return (w, h), False


def run(args: argparse.Namespace) -> int:
    import cv2

    from app.training.synth import SceneConfig
    from app.training.synth.dataset import clear_previous, write_dataset

    cv2.setNumThreads(1)  # small images: OpenCV's thread pool costs more than it gains on a busy machine

    if args.n < 1:
        raise CliError("--n must be at least 1", 2)
    if args.max_garments < 1:
        raise CliError("--max-garments must be at least 1", 2)
    size, random_aspect = _parse_size(args.size)
    config = SceneConfig(
        categories=_parse_categories(args.categories),
        image_size=size,
        random_aspect=random_aspect,
        mode=args.mode,
        max_garments=args.max_garments,
        board={"auto": None, "always": True, "never": False}[args.board],
        occluders=not args.no_occluders,
        camera_effects=not args.no_camera_effects,
    )
    if args.board == "always" and args.mode != "flatlay" and min(size) < 960:
        # measured on 20 workstation scenes per size (session 14): boards found by `calibrate` 9/20 at
        # 640x480, 15/20 at 800x600, 16/20 at 960x720, 19/20 at 1280x960, 20/20 at 1600x1200
        print(f"synth: warning: at {size[0]}x{size[1]} the board's squares are drawn about "
              f"about {17 * min(size) // 480} px wide: `calibrate` finds the board in fewer than 4 scenes in 5; "
              "use --size 1280x960 or larger for scenes to calibrate from", file=sys.stderr)
    if args.out.exists() and not args.out.is_dir():
        raise CliError(f"--out {args.out} exists and is not a folder", 2)
    if args.out.is_dir() and next(args.out.iterdir(), None) is not None:
        if not args.overwrite:
            raise CliError(f"--out {args.out} is not empty: choose an empty folder, or --overwrite to replace "
                           "an earlier synth output there", 2)
        clear_previous(args.out)

    def progress(i: int, n: int, elapsed: float) -> None:
        if i == n or i % 25 == 0:
            rate = i / max(elapsed, 1e-9)
            print(f"\rsynth: {i}/{n} images, {rate:.1f} images/s", end="\n" if i == n else "", file=sys.stderr,
                  flush=True)

    try:
        doc = write_dataset(args.out, args.n, args.seed, config, progress)
    except OSError as exc:
        raise CliError(f"cannot write dataset to {args.out}: {exc}") from exc
    print(f"wrote {len(doc['images'])} images, {len(doc['annotations'])} garments to {args.out}")
    return 0
