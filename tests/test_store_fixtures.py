"""Helpers (not tests) shared by the store, dataset and data-CLI tests: real PNG files and DF2 garments."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

from inference.annotation import Garment, GarmentStatus, Keypoint, Visibility
from inference.schema import deepfashion2


def write_png(path: Path, width: int = 64, height: int = 48, seed: int = 0) -> Path:
    """A small PNG whose content (and hash) depends on seed."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
    return path


def write_jpeg(
    path: Path, width: int, height: int, orientation: int | None = None, seed: int = 0, little_endian: bool = False
) -> Path:
    """A JPEG of width × height stored pixels, optionally with an EXIF orientation tag (as phones write)."""
    rng = np.random.default_rng(seed)
    ok, encoded = cv2.imencode(".jpg", rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
    assert ok
    data = encoded.tobytes()
    if orientation is not None:
        o = "<" if little_endian else ">"
        tiff = (b"II*\x00" if little_endian else b"MM\x00*") + struct.pack(o + "I", 8) + struct.pack(o + "H", 2)
        tiff += struct.pack(o + "HHIHH", 0x010F, 2, 4, 0x4142, 0)  # a Make tag first, as cameras write
        tiff += struct.pack(o + "HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(o + "I", 0)
        app1 = b"Exif\x00\x00" + tiff
        data = data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def make_garment(
    category_id: int = 1,
    box: tuple[float, float, float, float] = (2.25, 3.5, 40.75, 44.125),
    shift: float = 0.0,
    status: GarmentStatus = GarmentStatus.PREDICTED,
    score: float | None = 0.875,
) -> Garment:
    """Sub-pixel points inside the box; point 1 occluded, point 2 absent."""
    cat = deepfashion2().category(category_id)
    x1, y1, x2, y2 = (v + shift for v in box)
    n = cat.num_keypoints
    kps = [
        Keypoint(x1 + (x2 - x1) * (i + 0.5) / n, y1 + (y2 - y1) * ((i * 7) % n + 0.25) / n, Visibility.VISIBLE, 0.5)
        for i in range(n)
    ]
    kps[1] = Keypoint(kps[1].x, kps[1].y, Visibility.OCCLUDED, 0.25)
    kps[2] = Keypoint.absent()
    return Garment(category_id, (x1, y1, x2, y2), tuple(kps), score=score, status=status)


def df2_item(garment: Garment, **fields) -> dict:
    """A DeepFashion2 ``itemN`` object for this garment (absent landmarks as 0, 0, 0), plus ``fields``."""
    landmarks = [v for k in garment.keypoints
                 for v in ((k.x, k.y, int(k.visibility)) if k.visibility else (0.0, 0.0, 0))]
    category = deepfashion2().category(garment.category_id)
    return {"category_id": category.id, "category_name": category.name, "bounding_box": list(garment.bbox),
            "landmarks": landmarks, **fields}
