"""YOLO-pose export: ``images/``, ``labels/<stem>.txt`` and ``data.yaml`` (Ultralytics layout).

One class per DF2 category (class = category_id - 1) and every garment's keypoints in the shared DF2
294-slot layout (``kpt_shape: [294, 3]``), so one dataset and one model cover all 13 categories; slots
of other categories are 0 0 0. ``flip_idx`` is each category's flip permutation from
``inference.schema`` placed at its slice: a permutation of 0..293 that maps each slot into its own
category (ADR 0003). A label line is ``class cx cy w h`` then ``x y v`` per slot, normalised by the
image size and written with full float precision (Python's shortest exact repr).

Every value is in [0, 1], as Ultralytics' label check demands (it drops an image with one value outside as
corrupt): the box is clipped to the image, and a keypoint outside the image is written ``0 0 0``, unlabelled,
the way YOLO-pose marks a point it has no position for. A garment with nothing inside the image is skipped.

``train.txt`` and ``val.txt`` list the images (``./images/<name>``, which Ultralytics reads relative to the
list's folder). An image is in val when a hash of its file name falls below the validation fraction
(default 10 %), so a re-export splits the same way and a new image does not move the others; with too few
images for the hash to reach both sides, the extreme hash crosses over. Fraction 0 (or a single image):
val is the training set, and data.yaml says so. The format has no status field: predictions exported here
train as labels (``formats.status_warning``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from inference.annotation import Garment, Visibility
from inference.schema import NUM_DF2_KEYPOINTS, deepfashion2

from .common import (
    DatasetError,
    ExportReport,
    Selection,
    atomic_write_text,
    count_predicted,
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


def label_line(garment: Garment, width: int, height: int) -> str | None:
    """The garment's label line, every value in [0, 1]; None when no part of its box lies in the image."""
    cat = deepfashion2().category(garment.category_id)
    x1, y1, x2, y2 = garment.bbox
    x1, x2 = (min(max(float(v), 0.0), float(width)) for v in (x1, x2))
    y1, y2 = (min(max(float(v), 0.0), float(height)) for v in (y1, y2))
    if x2 <= x1 or y2 <= y1:
        return None
    values = [(x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height]
    slots = [(0.0, 0.0, 0)] * NUM_DF2_KEYPOINTS
    for i, kp in enumerate(garment.keypoints):
        if kp.visibility != Visibility.ABSENT and 0 <= kp.x <= width and 0 <= kp.y <= height:
            slots[cat.start + i] = (kp.x / width, kp.y / height, int(kp.visibility))
    parts = [str(cat.id - 1)] + [repr(float(v)) for v in values]
    for x, y, v in slots:
        parts += [repr(float(x)), repr(float(y)), str(v)]
    return " ".join(parts)


DEFAULT_VAL_FRACTION = 0.1


def check_val_fraction(value: float) -> float:
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise DatasetError(f"the validation fraction must be at least 0 and below 1, not {value:g}")
    return value


def hash_fraction(name: str) -> float:
    """A stable number in [0, 1) from a file name (the same on every machine and run, unlike ``hash``)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") / 2**64


def split_names(names: list[str], val_fraction: float) -> tuple[list[str], list[str]]:
    """(train, val) file names; val is empty when there is no split (fraction 0 or fewer than two images)."""
    if val_fraction <= 0 or len(names) < 2:
        return list(names), []
    val = {n for n in names if hash_fraction(n) < val_fraction}
    ranked = sorted(names, key=lambda n: (hash_fraction(n), n))
    if not val:
        val = {ranked[0]}
    if len(val) == len(names):
        val.discard(ranked[-1])
    return [n for n in names if n not in val], [n for n in names if n in val]


def _yaml_string(text: str) -> str:
    """A double-quoted scalar: a JSON string is one in YAML too, so '#', ': ' or quotes in a folder name
    cannot end or reinterpret the value."""
    return json.dumps(text, ensure_ascii=False)


def data_yaml(out_dir: Path, train: int, val: int, val_fraction: float) -> str:
    names = "\n".join(f"  {c.id - 1}: {c.coco_name}" for c in deepfashion2().categories)
    if val:
        split = (f"train: train.txt  # {train} images\n"
                 f"val: val.txt  # {val} images, chosen by a hash of the file name (--val-fraction {val_fraction:g})\n")
    else:
        why = "--val-fraction 0" if val_fraction <= 0 else "too few images to split"
        split = (f"# no validation split ({why}): val is the training set, so validation metrics are "
                 "training-set metrics\n"
                 f"train: train.txt  # {train} images\n"
                 "val: train.txt\n")
    return (
        "# Garment Keypoint Studio export: DF2 categories, keypoints in the DF2 294-slot layout\n"
        f"path: {_yaml_string(out_dir.resolve().as_posix())}\n"
        f"{split}"
        f"kpt_shape: [{NUM_DF2_KEYPOINTS}, 3]\n"
        f"flip_idx: [{', '.join(str(i) for i in flip_index_294())}]\n"
        f"names:\n{names}\n"
    )


def export_yolo_pose(store, out_dir: Path, selection: Selection, copy_images: bool = True,
                     val_fraction: float | None = None) -> ExportReport:
    val_fraction = check_val_fraction(DEFAULT_VAL_FRACTION if val_fraction is None else val_fraction)
    report = ExportReport()
    chosen = list(selected_images(store, selection, report))
    stems = unique_stems(info for info, _ in chosen)
    listed: list[str] = []
    for info, garments in chosen:
        lines, exported = [], []
        for _, g in garments:
            line = None if is_fld(g) else label_line(g, info.width, info.height)
            if line is not None:
                lines.append(line)
                exported.append(g)
        report.skipped += len(garments) - len(lines)
        report.predicted += count_predicted(exported)
        stem = stems[info.id]
        if copy_images:
            stem = export_image(store.resolve_path(info.path), out_dir / "images", stem, report)
        report.files.append(atomic_write_text(out_dir / "labels" / f"{stem}.txt", "".join(f"{ln}\n" for ln in lines)))
        listed.append(f"{stem}{Path(info.path).suffix.lower()}")
        report.images += 1
        report.garments += len(lines)
    train, val = split_names(listed, val_fraction)
    report.files.append(atomic_write_text(out_dir / "train.txt", "".join(f"./images/{n}\n" for n in train)))
    if val:
        report.files.append(atomic_write_text(out_dir / "val.txt", "".join(f"./images/{n}\n" for n in val)))
    report.files.append(atomic_write_text(out_dir / "data.yaml", data_yaml(out_dir, len(train), len(val), val_fraction)))
    return report
