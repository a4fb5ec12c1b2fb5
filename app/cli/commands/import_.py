"""`garment-studio import PROJECT.db SOURCE... [--format auto|images|deepfashion2|coco|fld]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "Import images and annotations (image folders, DeepFashion2, COCO DF2-294, FLD) into a project."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", type=Path, metavar="PROJECT.db", help="project file (created if missing)")
    parser.add_argument("sources", type=Path, nargs="+", metavar="SOURCE", help="image/folder/annotation file")
    parser.add_argument(
        "--format", default="auto", choices=("auto", "images", "deepfashion2", "coco", "fld"),
        help="source format (default: detect per source)",
    )


def run(args: argparse.Namespace) -> int:
    from app.cli.errors import CliError
    from app.datasets.formats import import_sources
    from app.store import ProjectStore, StoreError

    is_new = not args.project.exists()
    try:
        store = ProjectStore.open(args.project, create=True)
    except StoreError as exc:
        raise CliError(str(exc)) from exc
    try:
        report = import_sources(store, args.sources, args.format)
    finally:
        store.close()
    print(
        f"{args.project}: {report.images_added} images added, {report.images_duplicate} already present, "
        f"{report.garments_added} garments added from {report.sources_ok} of {len(args.sources)} sources; "
        f"{len(report.errors)} errors"
    )
    for error in report.errors:
        print(f"  error: {error}", file=sys.stderr)
    if not report.imported_anything:
        if is_new:  # leave no empty project behind for a failed first import
            for suffix in ("", "-wal", "-shm"):
                Path(f"{args.project}{suffix}").unlink(missing_ok=True)
        raise CliError("nothing was imported: every source failed", 1)
    return 0
