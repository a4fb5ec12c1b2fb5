"""`garment-studio predict IMAGE_OR_DIR`: garment landmarks for images, as JSON."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

from app.cli.pipeline_options import add_pipeline_options, pipeline_options

HELP = "Detect garments and their landmarks in images; write one JSON per image."

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", type=Path, metavar="IMAGE_OR_DIR",
                        help="image files and/or folders of images (not recursive)")
    parser.add_argument("--model", type=Path, default=None, metavar="CARD",
                        help="model_card.json or its folder (default: the bundled model)")
    parser.add_argument("--project", type=Path, default=None, metavar="PROJECT_DB",
                        help="use this project's active model version (default without --model)")
    parser.add_argument("--provider", choices=("auto", "cpu", "cuda", "tensorrt"), default="auto",
                        help="ONNX Runtime execution provider (default: best installed)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="write <stem>.json per image here; images of one run that share a stem (shirt.jpg, "
                        "shirt.png) get <name>.json (shirt.jpg.json, shirt.png.json), and a name that is still "
                        "shared a number (shirt.jpg.2.json); each JSON names its image "
                        "(default: one JSON document per line on stdout)")
    add_pipeline_options(parser, default_on=True)  # the landmarks the app would place (and `measure` measures)


def collect_images(inputs: list[Path]) -> list[Path]:
    from app.cli.errors import CliError

    images: list[Path] = []
    for path in inputs:
        if path.is_dir():
            images += sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.exists():
            images.append(path)
        else:
            raise CliError(f"{path}: no such file or folder", 2)
    if not images:
        raise CliError(f"no images found in {', '.join(map(str, inputs))}", 2)
    return images


def output_names(images: list[Path]) -> dict[Path, str]:
    """The JSON file name of each image: <stem>.json as before, unless another image of the run shares the
    stem, which would overwrite one result with the other (compared case-blind, as on Windows and macOS)."""
    stems = Counter(p.stem.casefold() for p in dict.fromkeys(images))  # a file given twice is one image
    names: dict[Path, str] = {}
    taken: set[str] = set()
    for path in images:
        if path in names:
            continue
        base = path.stem if stems[path.stem.casefold()] == 1 else path.name
        name, n = f"{base}.json", 1
        while name.casefold() in taken:  # the same file name in two folders
            n += 1
            name = f"{base}.{n}.json"
        taken.add(name.casefold())
        names[path] = name
    return names


def prepare_out(out: Path) -> None:
    """The output folder, made and checked before any model runs: a failure later would lose the work."""
    from app.cli.errors import CliError

    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise CliError(f"--out {out} is a file, not a folder", 2) from None
    except OSError as exc:
        raise CliError(f"cannot create output folder {out}: {exc.strerror or exc}", 2) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise CliError(f"output folder {out} is not writable", 2)


def garment_json(garment) -> dict:
    from inference.schema import deepfashion2

    return {
        "category_id": garment.category_id,
        "category": deepfashion2().category(garment.category_id).name,
        "score": garment.score,
        "bbox": list(garment.bbox),
        "keypoints": [[k.x, k.y, k.score] for k in garment.keypoints],
        "visibility": [int(k.visibility) for k in garment.keypoints],  # 2 seen, 1 occluded, 0 absent
    }


def project_card(project: Path | None) -> Path | None:
    """The project's active model card; None (the bundled model) when no version is active."""
    from app.cli.errors import CliError
    from app.store import ProjectStore, StoreError

    if project is None:
        return None
    if not project.is_file():
        raise CliError(f"project not found: {project}", 2)
    try:
        with ProjectStore.open(project) as store:
            return store.active_card_path()
    except StoreError as exc:
        raise CliError(str(exc), 2) from exc


def run(args: argparse.Namespace) -> int:
    import cv2

    from app.cli.errors import CliError
    from inference.model_card import ModelCardError
    from inference.pipeline import GarmentPipeline
    from inference.runtime import ProviderError

    images = collect_images(args.inputs)
    if args.out is not None:
        prepare_out(args.out)
        names = output_names(images)
    card = args.model if args.model is not None else project_card(args.project)
    try:
        pipeline = GarmentPipeline.from_card(card, provider=args.provider, **pipeline_options(args))
    except (ModelCardError, ProviderError) as exc:
        raise CliError(str(exc), 2) from exc
    failed = 0
    for path in images:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            failed += 1
            print(f"garment-studio: error: {path}: cannot read image (missing, unsupported or corrupt)",
                  file=sys.stderr)
            continue
        result = pipeline(image)
        doc = {
            "image": str(path),
            "provider": pipeline.provider,
            "model": pipeline.model_version,
            "garments": [garment_json(g) for g in result],
        }
        if args.out is None:
            print(json.dumps(doc), flush=True)
        else:
            target = args.out / names[path]
            try:
                target.write_text(json.dumps(doc, indent=2), encoding="utf-8")
            except OSError as exc:
                raise CliError(f"cannot write {target}: {exc.strerror or exc}") from None
            print(f"{path}: {len(result)} garment(s) → {target}", file=sys.stderr)
    if failed:
        raise CliError(f"{failed} of {len(images)} image(s) could not be read", 1)
    return 0
