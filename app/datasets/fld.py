"""DeepFashion FLD landmark lists (``list_landmarks.txt``): ``<img> <clothes_type> <variation_type>
[<vis> <x> <y>]*n``, with n = 6 (upper), 4 (lower) or 8 (full). The Category & Attribute benchmark's
variant without the variation column is read too (the token count tells them apart).

FLD visibility is 0 visible, 1 occluded, 2 truncated: the reverse of COCO. Points become
Keypoint visibility 2, 1 and 0; a truncated point keeps its coordinates so an FLD export writes it back.
FLD points have no DF2 category: a garment gets category_id 0 and ``extra["layout"]`` fld-upper /
fld-lower / fld-full (docs/adr/0003-annotation-store-and-formats.md); its box is the box of its labelled points.
DF2-layout formats (COCO, DF2, YOLO-pose) skip these garments; the FLD writer carries them.
An image may have several lines (an upper and a lower garment): they are its garments, imported together.
"""

from __future__ import annotations

import math
from pathlib import Path

from inference.annotation import Garment, GarmentStatus, Keypoint, PointSource, Visibility
from inference.schema import SchemaError, fld

from .common import (
    LAYOUT_KEY,
    DatasetError,
    ExportReport,
    ImportReport,
    Selection,
    atomic_write_text,
    count_predicted,
    ingest,
    selected_images,
)

LAYOUT_BY_TYPE = {1: "fld-upper", 2: "fld-lower", 3: "fld-full"}
TYPE_BY_LAYOUT = {v: k for k, v in LAYOUT_BY_TYPE.items()}
FLD_TO_COCO_VIS = {0: Visibility.VISIBLE, 1: Visibility.OCCLUDED, 2: Visibility.ABSENT}
COCO_TO_FLD_VIS = {v: k for k, v in FLD_TO_COCO_VIS.items()}


def parse_line(line: str, status: GarmentStatus = GarmentStatus.VERIFIED) -> tuple[str, Garment]:
    tokens = line.split()
    if len(tokens) < 2:
        raise DatasetError("expected '<image> <clothes_type> [<variation_type>] [<vis> <x> <y>]*n'")
    try:
        ctype = fld().clothes_type(int(tokens[1]))
    except (SchemaError, ValueError) as exc:
        raise DatasetError(f"clothes_type {tokens[1]!r}: {exc}") from None
    n = len(ctype.landmarks)
    rest = tokens[2:]
    variation = None
    if len(rest) == 3 * n + 1:
        variation, rest = rest[0], rest[1:]
    elif len(rest) != 3 * n:
        raise DatasetError(f"{ctype.name} garments have {n} landmarks ({3 * n} values), got {len(rest)} values")
    try:
        values = [float(v) for v in rest]
    except ValueError as exc:
        raise DatasetError(str(exc)) from None
    if not all(math.isfinite(v) for v in values):
        raise DatasetError("landmark values must be finite numbers")
    kps = []
    for i in range(n):
        v, x, y = values[3 * i : 3 * i + 3]
        if v not in FLD_TO_COCO_VIS:
            raise DatasetError(f"landmark {i + 1} has visibility {v:g}, expected 0, 1 or 2 (FLD)")
        kps.append(Keypoint(x, y, FLD_TO_COCO_VIS[int(v)], None, PointSource.HUMAN))
    labelled = [k for k in kps if k.visibility != Visibility.ABSENT] or kps
    box = (min(k.x for k in labelled), min(k.y for k in labelled), max(k.x for k in labelled), max(k.y for k in labelled))
    extra = {LAYOUT_KEY: LAYOUT_BY_TYPE[ctype.id]}
    if variation is not None:
        extra["variation_type"] = int(float(variation))
    return tokens[0], Garment(0, box, tuple(kps), None, status, extra=extra)


def _data_lines(path: Path) -> list[tuple[int, str]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from exc
    out = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        # The official files start with a count line and a header line ("image_name clothes_type ...").
        if not stripped or (number <= 2 and (stripped.isdigit() or stripped.startswith("image_name"))):
            continue
        out.append((number, stripped))
    return out


def import_fld(store, path: Path, status: GarmentStatus = GarmentStatus.VERIFIED) -> ImportReport:
    report = ImportReport()
    if path.is_dir():
        path = path / "list_landmarks.txt"
    try:
        if path.suffix.lower() == ".json":
            raise DatasetError(f"{path}: FLD landmark lists are text files (list_landmarks.txt); for COCO "
                               "or DeepFashion2 JSON use --format coco, deepfashion2 or auto")
        lines = _data_lines(path)
    except DatasetError as exc:
        report.errors.append(str(exc))
        report.sources_failed = 1
        return report
    by_image: dict[Path, tuple[str, list[Garment]]] = {}  # in file order
    for number, line in lines:
        try:
            name, garment = parse_line(line, status)
        except DatasetError as exc:
            report.errors.append(f"{path} line {number}: {exc}")
            continue
        image = next((p for p in (path.parent / name, path.parent.parent / name) if p.is_file()), None)
        if image is None:
            report.errors.append(f"{path} line {number}: image {name} not found")
            continue
        by_image.setdefault(image.resolve(), (name, []))[1].append(garment)
    for image, (name, garments) in by_image.items():
        ingest(store, image, garments, report, f"{path}", {"fld_name": name})
    report.sources_ok, report.sources_failed = (1, 0) if report.imported_anything else (0, 1)
    return report


def format_line(name: str, garment: Garment) -> str:
    layout = garment.extra.get(LAYOUT_KEY)
    if layout not in TYPE_BY_LAYOUT:
        raise DatasetError(f"garment layout {layout!r} is not an FLD layout")
    parts = [name, str(TYPE_BY_LAYOUT[layout])]
    if "variation_type" in garment.extra:
        parts.append(str(garment.extra["variation_type"]))
    for k in garment.keypoints:
        parts += [str(COCO_TO_FLD_VIS[Visibility(k.visibility)]), repr(float(k.x)), repr(float(k.y))]
    return " ".join(parts)


def export_fld(store, out_dir: Path, selection: Selection) -> ExportReport:
    """``OUT/list_landmarks.txt`` with image paths as stored (resolved when relative); DF2 garments skipped."""
    report = ExportReport()
    rows = []
    for info, garments in selected_images(store, selection, report):
        fld_garments = [g for _, g in garments if g.extra.get(LAYOUT_KEY) in TYPE_BY_LAYOUT]
        report.skipped += len(garments) - len(fld_garments)
        report.predicted += count_predicted(fld_garments)
        image = store.resolve_path(info.path).resolve().as_posix()
        rows += [format_line(image, g) for g in fld_garments]
        report.images += bool(fld_garments)
        report.garments += len(fld_garments)
    header = ["image_name clothes_type variation_type [landmark_visibility landmark_location_x landmark_location_y]*n"]
    text = "\n".join([str(len(rows)), *header, *rows]) + "\n"
    report.files.append(atomic_write_text(out_dir / "list_landmarks.txt", text))
    return report
