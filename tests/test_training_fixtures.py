"""Hand-made garment scenes for the training/eval/export tests (no renderer needed): filled skirt trapezoids
whose 8 DF2 skirt landmarks sit on the outline, written as a COCO DF2-294 file when a test needs one."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from app.datasets.coco import build_document, encode_garment
from inference.annotation import Garment, Keypoint

SKIRT = 9


def skirt_garment(cx: float, top: float, waist: float, hem: float, height: float) -> Garment:
    """Landmarks: left waist, waist centre, right waist, left hip, left hem, hem centre, right hem, right hip
    ("left" = image left, as in the DF2 figure)."""
    hip_y = top + 0.3 * height
    hip_half = waist / 2 + 0.3 * (hem - waist) / 2
    bottom = top + height
    pts = [
        (cx - waist / 2, top), (cx, top), (cx + waist / 2, top), (cx - hip_half, hip_y),
        (cx - hem / 2, bottom), (cx, bottom), (cx + hem / 2, bottom), (cx + hip_half, hip_y),
    ]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return Garment(SKIRT, (min(xs), min(ys), max(xs), max(ys)), tuple(Keypoint(float(x), float(y)) for x, y in pts))


def skirt_scene(seed: int, size: tuple[int, int] = (160, 128)) -> tuple[np.ndarray, list[Garment]]:
    rng = np.random.default_rng(seed)
    w, h = size
    image = np.full((h, w, 3), rng.integers(150, 255), np.uint8)
    height = rng.uniform(0.45, 0.75) * h
    hem = rng.uniform(0.35, 0.6) * w
    garment = skirt_garment(rng.uniform(0.35, 0.65) * w, rng.uniform(0.08, 0.2) * h, hem * rng.uniform(0.5, 0.8),
                            hem, height)
    outline = np.array([[k.x, k.y] for k in garment.keypoints])[[0, 1, 2, 7, 6, 5, 4, 3]]
    cv2.fillPoly(image, [np.round(outline * 16).astype(np.int32)], tuple(int(v) for v in rng.integers(0, 120, 3)),
                 lineType=cv2.LINE_AA, shift=4)
    return image, [garment]


class SkirtSource:
    """In-memory source with the same interface as app.training.sources (len, load)."""

    def __init__(self, count: int, seed: int = 0):
        self.scenes = [skirt_scene(seed + i) for i in range(count)]

    def __len__(self) -> int:
        return len(self.scenes)

    def load(self, i: int):
        image, garments = self.scenes[i]
        return image, garments, {"id": i + 1, "file_name": f"skirt_{i}.png", "width": image.shape[1],
                                 "height": image.shape[0]}


def write_coco(folder: Path, count: int, seed: int = 0) -> Path:
    images, anns = [], []
    for i in range(count):
        image, garments = skirt_scene(seed + i)
        name = f"skirt_{i}.png"
        cv2.imwrite(str(folder / name), image)
        images.append({"id": i + 1, "file_name": name, "width": image.shape[1], "height": image.shape[0]})
        anns += [encode_garment(g, i + 1, len(anns) + 1) for g in garments]
    path = folder / "skirts.json"
    path.write_text(json.dumps(build_document(images, anns)), encoding="utf-8")
    return path


def test_skirt_scene_puts_the_landmarks_on_the_dark_garment():
    image, (garment,) = skirt_scene(3)
    inner = np.array([garment.keypoints[1].x, garment.keypoints[1].y + 5]).round().astype(int)
    assert image[inner[1], inner[0]].max() < 130 < image[0, 0].min()
