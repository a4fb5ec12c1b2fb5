"""Choosing a reader or writer: format detection, image folders, and the import/export entry points."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from app.store.images import UNREADABLE_PHOTO_SUFFIXES, image_files_under, is_image_file

from . import export_folder
from .coco_io import export_coco, import_coco
from .common import DatasetError, ExportReport, ImportReport, Selection, ingest
from .csv_export import export_measurements_csv
from .deepfashion2 import export_deepfashion2, import_deepfashion2
from .fld import export_fld, import_fld
from .yolo_pose import check_val_fraction, export_yolo_pose

IMPORT_FORMATS = ("auto", "images", "deepfashion2", "coco", "fld")
EXPORT_FORMATS = ("coco", "deepfashion2", "yolo-pose", "csv", "fld")
# Formats whose files have no place for a garment's status: an exported prediction reads as a label there.
STATUSLESS_FORMATS = ("yolo-pose", "fld")


def _json_kind(path: Path) -> str:
    try:
        with path.open("r", encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from exc
    if isinstance(doc, dict) and "images" in doc and "annotations" in doc:
        return "coco"
    if isinstance(doc, dict) and any(k.startswith("item") for k in doc):
        return "deepfashion2"
    raise DatasetError(f"{path}: neither a COCO file nor a DeepFashion2 annotation (no images/annotations or itemN)")


def detect_format(source: Path) -> str:
    if not source.exists():
        raise DatasetError(f"{source}: no such file or folder")
    if source.is_file():
        if source.suffix.lower() == ".json":
            return _json_kind(source)
        if source.suffix.lower() == ".txt":
            return "fld"
        if is_image_file(source):
            return "images"
        if source.suffix.lower() in UNREADABLE_PHOTO_SUFFIXES:
            raise DatasetError(f"{source}: {source.suffix} photos cannot be read here; convert it to JPEG or PNG")
        raise DatasetError(f"{source}: unknown kind of file (expected an image, .json or list_landmarks.txt)")
    if (source / "annos").is_dir() or source.name == "annos":
        return "deepfashion2"
    if (source / "list_landmarks.txt").is_file():
        return "fld"
    return "images"


def import_images(store, source: Path) -> ImportReport:
    """An image file, or every image under a folder (recursively, in name order)."""
    report = ImportReport()
    files, notes = ([source], []) if source.is_file() else image_files_under(source)
    report.errors.extend(notes)
    if not files:
        report.errors.append(f"{source}: no images found")
    for path in files:
        ingest(store, path, [], report, str(source))
    report.sources_ok, report.sources_failed = (1, 0) if report.imported_anything else (0, 1)
    return report


IMPORTERS = {
    "images": import_images,
    "deepfashion2": import_deepfashion2,
    "coco": import_coco,
    "fld": import_fld,
}


def import_sources(store, sources: Iterable[Path], fmt: str = "auto") -> ImportReport:
    """Import every source; a failing source is reported and the others still run."""
    total = ImportReport()
    for source in sources:
        source = Path(source)
        try:
            kind = detect_format(source) if fmt == "auto" else fmt
            if not source.exists():
                raise DatasetError(f"{source}: no such file or folder")
            if kind not in IMPORTERS:
                raise DatasetError(f"unknown import format {kind!r} ({', '.join(IMPORT_FORMATS)})")
            total.merge(IMPORTERS[kind](store, source))
        except DatasetError as exc:
            total.errors.append(str(exc))
            total.sources_failed += 1
    return total


EXPORTERS = {
    "coco": export_coco,
    "deepfashion2": export_deepfashion2,
    "yolo-pose": export_yolo_pose,
    "csv": export_measurements_csv,
    "fld": export_fld,
}


def export_project(
    store, out_dir: Path, fmt: str, selection: Selection | None = None, overwrite: bool = False,
    spec=None, size: str | None = None, val_fraction: float | None = None,
) -> ExportReport:
    """Export into ``out_dir``, which must be empty unless ``overwrite`` (see ``export_folder``). ``spec`` and
    ``size`` (a ``measure.spec.SpecSheet``) add pass/fail columns to the measurements CSV. ``val_fraction``:
    the share of images YOLO-pose lists in val.txt (default 0.1; 0 = validate on the training set)."""
    if spec is not None and fmt != "csv":
        raise DatasetError("a spec sheet applies to the measurements CSV only (--format csv)")
    if val_fraction is not None and fmt != "yolo-pose":
        raise DatasetError("a validation fraction applies to the YOLO-pose export only (--format yolo-pose)")
    if fmt not in EXPORTERS:
        raise DatasetError(f"unknown export format {fmt!r} ({', '.join(EXPORT_FORMATS)})")
    if val_fraction is not None:
        check_val_fraction(val_fraction)  # before the folder is touched
    out_dir = Path(out_dir)
    keep = {store.resolve_path(info.path).resolve() for info in store.list_images()}
    export_folder.prepare(out_dir, fmt, overwrite, keep)
    selection = selection or Selection()
    if fmt == "csv":
        report = export_measurements_csv(store, out_dir, selection, spec, size)
    elif fmt == "yolo-pose":
        report = export_yolo_pose(store, out_dir, selection, val_fraction=val_fraction)
    else:
        report = EXPORTERS[fmt](store, out_dir, selection)
    export_folder.write_manifest(out_dir, fmt, report)
    return report


def left_out_note(report: ExportReport) -> str | None:
    """One line on the images a status filter left out whole, or None."""
    n = report.images_left_out
    if not n:
        return None
    return (f"{n} image{'s' if n != 1 else ''} left out: {'they also hold' if n != 1 else 'it also holds'} "
            "garments of other statuses, which would be missing from the labels and read as background")


def status_warning(fmt: str, report: ExportReport) -> str | None:
    """For a format with no status field that got predictions: how many, and that they read as labels."""
    n = report.predicted
    if fmt not in STATUSLESS_FORMATS or not n:
        return None
    return (f"{n} exported garment{'s are' if n != 1 else ' is a'} model prediction{'s' if n != 1 else ''} nobody "
            f"reviewed, and {fmt} files cannot mark {'them' if n != 1 else 'it'}: "
            f"{'they' if n != 1 else 'it'} will be used as ground truth")
