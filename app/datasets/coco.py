"""COCO keypoints in the DeepFashion2 294-slot layout (as DF2's official `deepfashion2_to_coco.py`).

Every category lists keypoints '1'..'294'; an annotation fills only its category's slice. Boxes are
[x, y, w, h]; coordinates stay floats. This module builds and parses documents; file I/O and the
store-facing import/export live beside it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from inference.annotation import Garment, Keypoint, Visibility
from inference.schema import NUM_DF2_KEYPOINTS, deepfashion2


class CocoFormatError(ValueError):
    """A COCO document or annotation does not fit the DF2 294 layout."""


def categories_block() -> list[dict]:
    names = [str(i) for i in range(1, NUM_DF2_KEYPOINTS + 1)]
    return [
        {"id": c.id, "name": c.coco_name, "supercategory": "clothes", "keypoints": names, "skeleton": []}
        for c in deepfashion2().categories
    ]


def encode_garment(garment: Garment, image_id: int, annotation_id: int) -> dict:
    """One COCO annotation; absent keypoints are written as 0,0,0 (the DF2 convention)."""
    cat = deepfashion2().category(garment.category_id)
    if len(garment.keypoints) != cat.num_keypoints:
        raise CocoFormatError(
            f"{cat.name!r} needs {cat.num_keypoints} keypoints, garment has {len(garment.keypoints)}"
        )
    flat = [0.0] * (NUM_DF2_KEYPOINTS * 3)
    for i, kp in enumerate(garment.keypoints):
        if kp.visibility == Visibility.ABSENT:
            continue
        j = (cat.start + i) * 3
        flat[j : j + 3] = [float(kp.x), float(kp.y), int(kp.visibility)]
    x1, y1, x2, y2 = (float(v) for v in garment.bbox)
    w, h = x2 - x1, y2 - y1
    ann = {
        "id": int(annotation_id),
        "image_id": int(image_id),
        "category_id": cat.id,
        "bbox": [x1, y1, w, h],
        "area": w * h,  # box area, as the official conversion
        "iscrowd": 0,
        "num_keypoints": sum(1 for kp in garment.keypoints if kp.visibility != Visibility.ABSENT),
        "keypoints": flat,
    }
    if garment.score is not None:
        ann["score"] = float(garment.score)
    return ann


def decode_annotation(ann: dict) -> Garment:
    """Inverse of encode_garment; raises CocoFormatError naming what is wrong."""
    if not isinstance(ann, dict):
        raise CocoFormatError(f"annotation {ann!r} is not an object")
    try:
        cat = deepfashion2().category(int(ann["category_id"]))
        flat = [float(v) for v in ann["keypoints"]]
        x, y, w, h = (float(v) for v in ann["bbox"])
        score = ann.get("score")
        score = None if score is None else float(score)
    except (KeyError, TypeError, ValueError) as exc:
        raise CocoFormatError(f"annotation {ann.get('id')!r}: {exc}") from exc
    if not all(math.isfinite(v) for v in (*flat, x, y, x + w, y + h, 0.0 if score is None else score)):
        raise CocoFormatError(f"annotation {ann.get('id')!r}: bbox, keypoints and score must be finite numbers")
    if w < 0 or h < 0:
        raise CocoFormatError(f"annotation {ann.get('id')!r}: bbox {ann['bbox']} has a negative width or height")
    if len(flat) != NUM_DF2_KEYPOINTS * 3:
        raise CocoFormatError(
            f"annotation {ann.get('id')!r}: expected {NUM_DF2_KEYPOINTS * 3} keypoint values, got {len(flat)}"
        )
    kps = []
    for i in range(cat.num_keypoints):
        j = (cat.start + i) * 3
        vx, vy, vv = flat[j : j + 3]
        vis = int(round(vv))
        if vis not in (0, 1, 2):
            raise CocoFormatError(f"annotation {ann.get('id')!r}: visibility {vv} is not 0, 1 or 2")
        kps.append(Keypoint.absent() if vis == 0 else Keypoint(vx, vy, Visibility(vis)))
    return Garment(category_id=cat.id, bbox=(x, y, x + w, y + h), keypoints=tuple(kps), score=score)


def build_document(images: Iterable[dict], annotations: Iterable[dict], info: dict | None = None) -> dict:
    """images: dicts with id, file_name, width, height."""
    return {
        "info": info or {"description": "Garment Keypoint Studio export", "version": "1"},
        "licenses": [],
        "images": list(images),
        "annotations": list(annotations),
        "categories": categories_block(),
    }
