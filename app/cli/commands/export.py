"""`garment-studio export PROJECT.db OUT_DIR --format coco|deepfashion2|yolo-pose|csv|fld [--status] [--category]
[--val-fraction] [--overwrite]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = (
    "Export annotations (COCO DF2-294, DeepFashion2 JSON, YOLO-pose, FLD landmark list) or measurements (CSV) "
    "from a project."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", type=Path, metavar="PROJECT.db")
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    parser.add_argument(
        "--format", required=True, choices=("coco", "deepfashion2", "yolo-pose", "csv", "fld"),
        help="coco: OUT_DIR/annotations.json; deepfashion2: OUT_DIR/annos/<stem>.json + image/; yolo-pose: "
        "images/ + labels/ + data.yaml; csv: OUT_DIR/measurements.csv; fld: OUT_DIR/list_landmarks.txt (FLD garments only)",
    )
    parser.add_argument(
        "--status", default="all", type=_status, metavar="STATUS[,STATUS]",
        help="which garments: all (default), verified, corrected or predicted, or several joined by commas, "
        "e.g. corrected,verified for every garment a person reviewed. With a filter an image is exported "
        "only when all its garments (of the chosen categories) match, so no real garment is left unlabelled; "
        "the images left out are counted. COCO and DeepFashion2 files record each garment's status, so "
        "predictions re-import as predictions; YOLO-pose and FLD files cannot, so a warning counts the "
        "predictions they take as labels",
    )
    parser.add_argument(
        "--category", nargs="+", default=None, metavar="ID_OR_NAME",
        help="DF2 category ids (1-13) or names, e.g. 8 or trousers",
    )
    parser.add_argument(
        "--spec", metavar="SPEC.csv", type=Path,
        help="with --format csv: check each POM against this spec sheet (pom,size,target_cm,tolerance_cm"
        "[,category]) and add target, tolerance, deviation, pass/fail and each garment's verdict",
    )
    parser.add_argument("--size", help="the spec sheet's size to check against (with --spec)")
    parser.add_argument(
        "--val-fraction", type=float, default=None, metavar="F",
        help="with --format yolo-pose: the share of images listed in val.txt, the rest in train.txt (default "
        "0.1); chosen by a hash of each image's file name, so re-exports split alike. 0: no split, data.yaml "
        "validates on the training images (and says so)",
    )
    parser.add_argument(
        "--overwrite", action="store_true",
        help="export into a folder that is not empty: first delete the files an earlier export wrote there "
        "(listed in its .garment-studio-export.json) and this format's annotation files; nothing else is "
        "touched, and never an image the project uses. Without it a non-empty OUT_DIR is refused",
    )


def _status(value: str) -> str:
    """Checks a --status value (one status or several, comma-separated) while parsing the command line."""
    from app.datasets.common import DatasetError, parse_statuses

    try:
        parse_statuses(value)
    except DatasetError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def run(args: argparse.Namespace) -> int:
    from app.cli.errors import CliError
    from app.datasets.common import DatasetError, Selection
    from app.datasets.formats import export_project, left_out_note, status_warning
    from app.store import ProjectStore, StoreError
    from inference.schema import SchemaError

    try:
        selection = Selection.parse(args.status, args.category)
    except (SchemaError, DatasetError) as exc:
        raise CliError(str(exc), 2) from exc
    spec = _spec(args)
    if args.val_fraction is not None and args.format != "yolo-pose":
        raise CliError("--val-fraction applies to the YOLO-pose export: use --format yolo-pose", 2)
    if args.val_fraction is not None and not 0 <= args.val_fraction < 1:
        raise CliError(f"--val-fraction must be at least 0 and below 1, not {args.val_fraction:g}", 2)
    try:
        store = ProjectStore.open(args.project)
    except StoreError as exc:
        raise CliError(str(exc)) from exc
    try:
        report = export_project(store, args.out_dir, args.format, selection, overwrite=args.overwrite,
                                spec=spec, size=args.size, val_fraction=args.val_fraction)
    except (DatasetError, OSError) as exc:
        raise CliError(f"export to {args.out_dir} failed: {exc}") from exc
    finally:
        store.close()
    skipped = f", {report.skipped} garments this format cannot carry skipped" if report.skipped else ""
    print(f"exported {report.images} images, {report.garments} garments as {args.format} to {args.out_dir}{skipped}")
    note = left_out_note(report)
    if note:
        print(note)
    warning = status_warning(args.format, report)
    if warning:
        print(f"warning: {warning}; export with --status corrected,verified to take reviewed garments only",
              file=sys.stderr)
    if not report.garments and args.format != "csv":
        which = "" if args.status == "all" else f"{args.status} "
        hint = "; try --status all" if args.status != "all" else ""
        print(f"warning: the project has no {which}garments to export{' in that category' if args.category else ''}"
              f"{hint}", file=sys.stderr)
    for error in report.errors:
        print(f"  error: {error}", file=sys.stderr)
    return 1 if report.errors else 0


def _spec(args):
    """The spec sheet --spec names, checked against the POM catalog, or None; a clear error otherwise."""
    from app.cli.errors import CliError
    from measure.poms import load_catalog
    from measure.spec import SpecError, SpecSheet

    if args.spec is None:
        if args.size:
            raise CliError("--size needs --spec SPEC.csv", 2)
        return None
    if args.format != "csv":
        raise CliError("--spec applies to the measurements CSV: use --format csv", 2)
    try:
        sheet = SpecSheet.load(args.spec)
        sheet.validate(load_catalog())
    except SpecError as exc:
        raise CliError(str(exc), 2) from None
    if args.size not in sheet.sizes:
        raise CliError(f"{args.spec}: give --size, one of {', '.join(sheet.sizes)}", 2)
    return sheet
