"""YOLO-pose export: ``images/``, ``labels/<stem>.txt`` and ``data.yaml`` (Ultralytics layout).

One class per DF2 category (class = category_id - 1) and every garment's keypoints in the shared DF2
294-slot layout (``kpt_shape: [294, 3]``), so one dataset and one model cover all 13 categories; slots
of other categories are 0 0 0. ``flip_idx`` is each category's flip permutation from
``inference.schema`` placed at its slice: a permutation of 0..293 that maps each slot into its own
category (ADR 0003). A label line is ``class cx cy w h`` then ``x y v`` per slot, normalised by the
image size and written with full float precision (Python's shortest exact repr).
"""

from __future__ import annotations

import json
from pathlib import Path

from inference.annotation import Garment, Visibility
from inference.schema import NUM_DF2_KEYPOINTS, deepfashion2

from .common import (
    ExportReport,
    Selection,
    atomic_write_text,
    export_image,
    is_fld,
    selected_images,
    unique_stems,
)


def flip_index_294() -> list[int]:
    perm = list(range(NUM_DF2_KEYPOINTS))
    for cat in deepfashion2().categories:
        for i, j in enumerate(cat.flip_index):
            perm[cat.start + i] = cat.start + j
    return perm


def label_line(garment: Garment, width: int, height: int) -> str:
    cat = deepfashion2().category(garment.category_id)
    x1, y1, x2, y2 = garment.bbox
    values = [(x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height]
    slots = [(0.0, 0.0, 0)] * NUM_DF2_KEYPOINTS
    for i, kp in enumerate(garment.keypoints):
        if kp.visibility != Visibility.ABSENT:
            slots[cat.start + i] = (kp.x / width, kp.y / height, int(kp.visibility))
    parts = [str(cat.id - 1)] + [repr(float(v)) for v in values]
    for x, y, v in slots:
        parts += [repr(float(x)), repr(float(y)), str(v)]
    return " ".join(parts)


def _yaml_string(text: str) -> str:
    """A double-quoted scalar: a JSON string is one in YAML too, so '#', ': ' or quotes in a folder name
    cannot end or reinterpret the value."""
    return json.dumps(text, ensure_ascii=False)


def data_yaml(out_dir: Path) -> str:
    names = "\n".join(f"  {c.id - 1}: {c.coco_name}" for c in deepfashion2().categories)
    return (
        "# Garment Keypoint Studio export: DF2 categories, keypoints in the DF2 294-slot layout\n"
        f"path: {_yaml_string(out_dir.resolve().as_posix())}\n"
        "train: images\n"
        "val: images\n"
        f"kpt_shape: [{NUM_DF2_KEYPOINTS}, 3]\n"
        f"flip_idx: [{', '.join(str(i) for i in flip_index_294())}]\n"
        f"names:\n{names}\n"
    )


def export_yolo_pose(store, out_dir: Path, selection: Selection, copy_images: bool = True) -> ExportReport:
    report = ExportReport()
    chosen = list(selected_images(store, selection))
    stems = unique_stems(info for info, _ in chosen)
    for info, garments in chosen:
        lines = [label_line(g, info.width, info.height) for _, g in garments if not is_fld(g)]
        report.skipped += len(garments) - len(lines)
        stem = stems[info.id]
        if copy_images:
            stem = export_image(store.resolve_path(info.path), out_dir / "images", stem, report)
        report.files.append(atomic_write_text(out_dir / "labels" / f"{stem}.txt", "".join(f"{ln}\n" for ln in lines)))
        report.images += 1
        report.garments += len(lines)
    report.files.append(atomic_write_text(out_dir / "data.yaml", data_yaml(out_dir)))
    return report
