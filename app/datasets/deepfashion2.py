"""DeepFashion2 per-image JSON (``annos/000001.json`` with ``item1..itemN``): read into and write from a project.

An item has ``category_id`` (1-13), ``category_name``, ``bounding_box`` [x1,y1,x2,y2] and ``landmarks``
[x,y,v]*n with exactly the category's n landmarks (v: 2 visible, 1 occluded, 0 not labelled as 0,0,0).
Item attributes (style, scale, occlusion, zoom_in, viewpoint, segmentation) and the image-level
``source``/``pair_id`` are kept in the store and written back. The image is found beside the JSON or in
a sibling ``image/`` folder with the same stem. Coordinates stay floats. Our exports add each garment's
``status`` (and a model's ``score``), so an exported prediction re-imports as a prediction, not as a label.

The official ``deepfashion2_to_coco.py`` reads the file's ``pair_id`` and each item's ``style`` and
``segmentation`` unconditionally, so an export always writes them (and ``source``): the stored values when
the garment or image came from DF2, else neutral defaults (``DEFAULT_SOURCE``, the image's project id as
its own pair, style 0 = in no shop/consumer pair, segmentation ``[]`` = no mask known; ADR 0003).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from inference.annotation import Garment, GarmentStatus, Keypoint, PointSource, Visibility
from inference.schema import SchemaError, deepfashion2

from .common import (
    DatasetError,
    ExportReport,
    ImportReport,
    Selection,
    atomic_write_json,
    count_predicted,
    export_image,
    find_image,
    finite_score,
    ingest,
    is_fld,
    read_json,
    recorded_status,
    selected_images,
    unique_stems,
)

ITEM_KEY = re.compile(r"^item(\d+)$")
ITEM_ATTRIBUTES = ("style", "scale", "occlusion", "zoom_in", "viewpoint", "segmentation")
IMAGE_ATTRIBUTES = ("source", "pair_id")
DEFAULT_SOURCE = "user"  # DF2's word for a photo not from a shop catalogue
DEFAULT_STYLE = 0  # DF2: the item takes part in no shop/consumer pair


def _number_list(value, what: str, length: int | None = None) -> list[float]:
    if not isinstance(value, list) or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        raise DatasetError(f"{what} must be a list of numbers")
    bad = [v for v in value if not math.isfinite(v)]
    if bad:
        raise DatasetError(f"{what} holds a value that is not a finite number ({bad[0]})")
    if length is not None and len(value) != length:
        raise DatasetError(f"{what} has {len(value)} values, expected {length}")
    return [float(v) for v in value]


def decode_item(item: dict, status: GarmentStatus = GarmentStatus.VERIFIED) -> Garment:
    """One ``itemN`` object as a Garment; raises DatasetError saying what is wrong. ``status`` is for items
    that carry neither a status nor a score (labels from an outside dataset)."""
    if not isinstance(item, dict):
        raise DatasetError("is not an object")
    try:
        cat = deepfashion2().category(int(item["category_id"]))
    except KeyError:
        raise DatasetError("has no category_id") from None
    except (SchemaError, TypeError, ValueError) as exc:
        raise DatasetError(str(exc)) from None
    name = item.get("category_name")
    if name is not None and name not in (cat.name, cat.coco_name):
        raise DatasetError(f"category_name {name!r} does not match category_id {cat.id} ({cat.name!r})")
    box = _number_list(item.get("bounding_box"), "bounding_box", 4)
    if box[2] < box[0] or box[3] < box[1]:
        raise DatasetError(f"bounding_box {box} is not [x1, y1, x2, y2] with x1 <= x2 and y1 <= y2")
    score = finite_score(item.get("score"))
    status = recorded_status(item, status)
    source = PointSource.MODEL if status == GarmentStatus.PREDICTED else PointSource.HUMAN
    flat = _number_list(item.get("landmarks"), "landmarks")
    if len(flat) != 3 * cat.num_keypoints:
        raise DatasetError(
            f"{cat.name!r} needs {cat.num_keypoints} landmarks ({3 * cat.num_keypoints} values), got {len(flat)} values"
        )
    kps = []
    for i in range(cat.num_keypoints):
        x, y, v = flat[3 * i : 3 * i + 3]
        if v not in (0, 1, 2):
            raise DatasetError(f"landmark {i + 1} has visibility {v:g}, expected 0, 1 or 2")
        kps.append(Keypoint.absent() if v == 0 else Keypoint(x, y, Visibility(int(v)), None, source))
    extra = {k: item[k] for k in ITEM_ATTRIBUTES if k in item}
    return Garment(cat.id, tuple(box), tuple(kps), score, status, extra=extra)


def encode_item(garment: Garment) -> dict:
    cat = deepfashion2().category(garment.category_id)
    flat: list[float] = []
    for kp in garment.keypoints:
        flat += [0.0, 0.0, 0] if kp.visibility == Visibility.ABSENT else [float(kp.x), float(kp.y), int(kp.visibility)]
    item = {
        "category_id": cat.id,
        "category_name": cat.name,
        "bounding_box": [float(v) for v in garment.bbox],
        "landmarks": flat,
    }
    item.update({k: garment.extra[k] for k in ITEM_ATTRIBUTES if k in garment.extra})
    # fields the official DF2 -> COCO conversion reads from every item: neutral values when none is stored
    item.setdefault("style", DEFAULT_STYLE)
    item.setdefault("segmentation", [])
    if garment.score is not None:
        item["score"] = float(garment.score)
    item["status"] = str(garment.status)
    return item


def decode_file(path: Path, errors: list[str], status: GarmentStatus = GarmentStatus.VERIFIED) -> tuple[list[Garment], dict]:
    """Garments of one annotation file; bad items are reported in ``errors`` and skipped."""
    doc = read_json(path)
    if not isinstance(doc, dict):
        raise DatasetError(f"{path}: expected a JSON object with item1..itemN")
    keys = sorted((k for k in doc if ITEM_KEY.match(k)), key=lambda k: int(ITEM_KEY.match(k).group(1)))
    garments = []
    for key in keys:
        try:
            garments.append(decode_item(doc[key], status))
        except DatasetError as exc:
            errors.append(f"{path} {key}: {exc}")
    return garments, {k: doc[k] for k in IMAGE_ATTRIBUTES if k in doc}


def annotation_files(source: Path) -> list[Path]:
    """The JSON files of a DF2 split folder, an ``annos`` folder, or one file."""
    if source.is_file():
        return [source]
    annos = source / "annos" if (source / "annos").is_dir() else source
    return sorted(annos.glob("*.json"))


def image_for(annotation: Path) -> Path | None:
    folder = annotation.parent
    return find_image(annotation.stem, [folder, folder.parent / "image", folder.parent / "images"])


def import_deepfashion2(store, source: Path, status: GarmentStatus = GarmentStatus.VERIFIED) -> ImportReport:
    report = ImportReport()
    files = annotation_files(source)
    if not files:
        report.errors.append(f"{source}: no DeepFashion2 annotation files (*.json) found")
    for path in files:
        errors_before = len(report.errors)
        try:
            garments, attributes = decode_file(path, report.errors, status)
        except DatasetError as exc:
            report.errors.append(str(exc))
            continue
        if not garments and len(report.errors) > errors_before:
            continue  # every item failed: an image without its garments would read as unlabelled
        image = image_for(path)
        if image is None:
            report.errors.append(f"{path}: no image named {path.stem}.* beside it or in ../image/")
            continue
        ingest(store, image, garments, report, str(path), attributes)
    report.sources_ok, report.sources_failed = (1, 0) if report.imported_anything else (0, 1)
    return report


def image_fields(info) -> dict:
    """The file's ``source`` and ``pair_id``: as stored, else ``DEFAULT_SOURCE`` and the image's own id (a
    pair of one: no other image shares it unless it came from DF2 with that pair id)."""
    stored = {k: info.attributes[k] for k in IMAGE_ATTRIBUTES if k in info.attributes}
    return {"source": stored.get("source", DEFAULT_SOURCE), "pair_id": stored.get("pair_id", info.id)}


def export_deepfashion2(store, out_dir: Path, selection: Selection, copy_images: bool = True) -> ExportReport:
    """``OUT/annos/<stem>.json`` per image (and the image in ``OUT/image/`` so the folder re-imports)."""
    report = ExportReport()
    chosen = list(selected_images(store, selection, report))
    stems = unique_stems(info for info, _ in chosen)
    for info, garments in chosen:
        items = [g for _, g in garments if not is_fld(g)]
        report.skipped += len(garments) - len(items)
        report.predicted += count_predicted(items)
        doc = image_fields(info)
        doc.update({f"item{i}": encode_item(g) for i, g in enumerate(items, start=1)})
        stem = stems[info.id]
        if copy_images:
            stem = export_image(store.resolve_path(info.path), out_dir / "image", stem, report)
        report.files.append(atomic_write_json(out_dir / "annos" / f"{stem}.json", doc))
        report.images += 1
        report.garments += len(items)
    return report
