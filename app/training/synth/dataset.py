"""Write rendered scenes as a COCO DF2-294 dataset folder: DIR/images/NNNNNN.jpg + DIR/annotations.json."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import cv2

from app.datasets.coco import build_document, encode_garment
from app.training.synth.scene import SceneConfig, render_scene

IMAGE_NAME = re.compile(r"^\d{6}\.jpg$")  # what write_dataset names its images


def clear_previous(out_dir: Path) -> None:
    """Delete what an earlier write_dataset left in out_dir (annotations.json, images/NNNNNN.jpg), so a smaller
    run leaves no orphaned images; other files stay."""
    out_dir = Path(out_dir)
    (out_dir / "annotations.json").unlink(missing_ok=True)
    img_dir = out_dir / "images"
    if img_dir.is_dir():
        for path in img_dir.iterdir():
            if IMAGE_NAME.match(path.name) and path.is_file():
                path.unlink()


def write_dataset(
    out_dir: Path,
    count: int,
    seed: int,
    config: SceneConfig,
    progress: Callable[[int, int, float], None] | None = None,
    jpeg_quality: int = 95,
) -> dict:
    """Render `count` scenes with seeds seed..seed+count-1 (image ids 1..count); returns the COCO document."""
    out_dir = Path(out_dir)
    img_dir = out_dir / "images"
    img_dir.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    start = time.perf_counter()
    for i in range(1, count + 1):
        scene = render_scene(seed + i - 1, config)
        name = f"{i:06d}.jpg"
        path = img_dir / name
        if not cv2.imwrite(str(path), scene.image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]):
            raise OSError(f"could not write {path}")
        h, w = scene.image.shape[:2]
        record = {"id": i, "file_name": name, "width": w, "height": h, "synth_seed": seed + i - 1,
                  "synth_mode": scene.mode}
        if scene.homography is not None:
            record["table_mm_from_image"] = scene.homography.tolist()
            record["mm_per_px"] = scene.mm_per_px
        images.append(record)
        for g in scene.garments:
            annotations.append(encode_garment(g, i, len(annotations) + 1))
        if progress is not None:
            progress(i, count, time.perf_counter() - start)
    info = {
        "description": "Garment Keypoint Studio synthetic garments",
        "version": "1",
        "generator": "app.training.synth",
        "seed": seed,
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(config).items()},
    }
    doc = build_document(images, annotations, info)
    tmp = out_dir / "annotations.json.tmp"
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    tmp.replace(out_dir / "annotations.json")
    return doc
