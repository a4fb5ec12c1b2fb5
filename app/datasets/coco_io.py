"""COCO keypoint files in the DF2 294 layout: import into and export from a project (codec in ``coco.py``).

Export writes ``OUT/annotations.json``; ``file_name`` is the image path relative to OUT when the image
lies below it, else absolute, so the file re-imports from where it was written. Image ids are the
project's image ids and annotation ids its garment ids. Each annotation also carries the garment's
``status`` (COCO allows extra fields; ``encode_garment`` leaves it out because synthetic truth and evaluation
use it too). Import keeps a written status, reads a ``score`` without one as a model's prediction, and takes
anything else as an outside dataset's labels (verified). Import looks for ``file_name`` beside the JSON and
in ``images/`` or ``image/`` next to it or one level up. DF2's item fields (style, segmentation, occlusion…)
and the image's ``pair_id`` are written per annotation, as the official DF2 → COCO conversion does, and read
back the same way.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from inference.annotation import GarmentStatus, Keypoint, PointSource, Visibility

from .coco import CocoFormatError, build_document, decode_annotation, encode_garment
from .common import (
    DatasetError,
    ExportReport,
    ImportReport,
    Selection,
    atomic_write_json,
    count_predicted,
    ingest,
    is_fld,
    read_json,
    recorded_status,
    selected_images,
)
from .deepfashion2 import ITEM_ATTRIBUTES


def find_listed_image(json_path: Path, file_name: str) -> Path | None:
    """An image a COCO file lists: beside the file, or in an images/ (image/) folder beside it or its folder."""
    name = Path(file_name)
    if name.is_absolute():
        return name if name.is_file() else None
    base = json_path.parent
    for folder in (base, base / "images", base / "image", base.parent / "images", base.parent / "image"):
        for candidate in (folder / name, folder / name.name):
            if candidate.is_file():
                return candidate
    return None


def _with_status(garment, status: GarmentStatus):
    """A prediction keeps the model as its points' source; a person's status makes them human points."""
    if status == GarmentStatus.PREDICTED:
        return replace(garment, status=status)
    kps = tuple(
        k if k.visibility == Visibility.ABSENT else Keypoint(k.x, k.y, k.visibility, None, PointSource.HUMAN)
        for k in garment.keypoints
    )
    return replace(garment, keypoints=kps, status=status)


def import_coco(store, path: Path, status: GarmentStatus = GarmentStatus.VERIFIED) -> ImportReport:
    """``status``: for annotations that carry neither a status nor a score."""
    report = ImportReport()
    try:
        doc = read_json(path)
        if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
            raise DatasetError(f"{path}: not a COCO file (no 'images' list)")
        if not isinstance(doc.get("annotations", []), list):
            raise DatasetError(f"{path}: 'annotations' is not a list")
        _check_categories(path, doc.get("categories") or [])
    except DatasetError as exc:
        report.errors.append(str(exc))
        report.sources_failed = 1
        return report
    by_image: dict = {}
    failed: set = set()  # image ids with an annotation that could not be read
    pair_ids: dict = {}  # DF2's image-level pair id, which the official COCO conversion repeats per annotation
    for index, ann in enumerate(doc.get("annotations") or []):
        if not isinstance(ann, dict):
            report.errors.append(f"{path}: annotations[{index}] is {ann!r}, not an object")
            continue
        image_id = ann.get("image_id")
        try:
            if not isinstance(image_id, int | str) or isinstance(image_id, bool):
                raise CocoFormatError(f"annotation {ann.get('id')!r}: image_id {image_id!r} is not an id")
            garment = _with_status(decode_annotation(ann), recorded_status(ann, status))
            garment = replace(garment, extra={**garment.extra, **{k: ann[k] for k in ITEM_ATTRIBUTES if k in ann}})
            if "pair_id" in ann:
                pair_ids.setdefault(image_id, ann["pair_id"])
        except (CocoFormatError, DatasetError) as exc:
            report.errors.append(f"{path} annotations[{index}]: {exc}")
            if isinstance(image_id, int | str):
                failed.add(image_id)
            continue
        by_image.setdefault(image_id, []).append(garment)
    for index, image in enumerate(doc["images"]):
        if not isinstance(image, dict):
            report.errors.append(f"{path}: images[{index}] is {image!r}, not an object")
            continue
        image_id = image.get("id")
        if "file_name" not in image:
            report.errors.append(f"{path}: images[{index}] (id {image_id!r}) has no file_name")
            continue
        if not isinstance(image_id, int | str) or isinstance(image_id, bool):
            report.errors.append(f"{path}: images[{index}] has id {image_id!r}, which is not an id")
            continue
        garments = by_image.pop(image_id, [])
        if not garments and image_id in failed:
            continue  # every annotation failed: an image without its garments would read as unlabelled
        found = find_listed_image(path, str(image["file_name"]))
        if found is None:
            report.errors.append(f"{path} image {image_id!r}: {image['file_name']} not found")
            continue
        ingest(store, found, garments, report, str(path),
               {"pair_id": pair_ids[image_id]} if image_id in pair_ids else None)
    for image_id in by_image:
        report.errors.append(f"{path}: annotations refer to image_id {image_id!r}, which is not in 'images'")
    report.sources_ok, report.sources_failed = (1, 0) if report.imported_anything else (0, 1)
    return report


def _check_categories(path: Path, categories: list) -> None:
    """The DF2 conversion gives every category 294 keypoint names; anything else is another layout."""
    from inference.schema import NUM_DF2_KEYPOINTS, deepfashion2

    for c in categories:
        if not isinstance(c, dict):
            raise DatasetError(f"{path}: category entry {c!r} is not an object")
        kps = c.get("keypoints")
        if kps is not None and (not isinstance(kps, list) or len(kps) != NUM_DF2_KEYPOINTS):
            listed = len(kps) if isinstance(kps, list) else repr(kps)
            raise DatasetError(
                f"{path}: category {c.get('id')!r} lists {listed} keypoints; expected the DF2 294 layout"
            )
        try:
            cat = deepfashion2().category(int(c["id"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"{path}: category {c.get('id')!r} is not a DeepFashion2 category ({exc})") from None
        name = c.get("name")
        if name is not None and name not in (cat.name, cat.coco_name):
            raise DatasetError(f"{path}: category id {cat.id} is named {name!r}, expected {cat.coco_name!r}")


def export_coco(store, out_dir: Path, selection: Selection) -> ExportReport:
    report = ExportReport()
    out_dir = out_dir.resolve()
    images, annotations = [], []
    for info, garments in selected_images(store, selection, report):
        src = store.resolve_path(info.path).resolve()
        try:
            file_name = src.relative_to(out_dir).as_posix()
        except ValueError:
            file_name = os.fspath(src)
        images.append({"id": info.id, "file_name": file_name, "width": info.width, "height": info.height})
        for gid, g in garments:
            if is_fld(g):
                report.skipped += 1
                continue
            ann = {**encode_garment(g, info.id, gid), "status": str(g.status)}
            # DF2's own fields, where the official DF2 → COCO conversion puts them
            ann.update({k: g.extra[k] for k in ITEM_ATTRIBUTES if k in g.extra})
            if "pair_id" in info.attributes:
                ann["pair_id"] = info.attributes["pair_id"]
            annotations.append(ann)
            report.predicted += count_predicted([g])
        report.images += 1
    report.garments = len(annotations)
    report.files.append(atomic_write_json(out_dir / "annotations.json", build_document(images, annotations)))
    return report
