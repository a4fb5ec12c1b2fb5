"""`garment-studio info PROJECT.db`: counts per status and per category."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

HELP = "Show a project's images and garments per status and per category."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", type=Path, metavar="PROJECT.db")


def run(args: argparse.Namespace) -> int:
    from app.cli.errors import CliError
    from app.store import ImageStatus, ProjectStore, StoreError
    from inference.annotation import GarmentStatus
    from inference.schema import deepfashion2

    try:
        store = ProjectStore.open(args.project)
    except StoreError as exc:
        raise CliError(str(exc)) from exc
    try:
        images = store.list_images()
        garments = [g for info in images for _, g in store.garments(info.id)]
        measurements = len(store.measurements())
        calibrations = len(store.list_calibrations())
        active = store.active_model()
    finally:
        store.close()
    image_status = Counter(i.status for i in images)
    garment_status = Counter(g.status for g in garments)
    print(f"project: {args.project}")
    print(f"images: {len(images)}  " + "  ".join(f"{s}: {image_status[s]}" for s in ImageStatus))
    print(f"garments: {len(garments)}  " + "  ".join(f"{s}: {garment_status[s]}" for s in GarmentStatus))
    print("per category (garments: predicted / corrected / verified):")
    by_cat: dict[str, Counter] = {}
    for g in garments:
        name = g.extra.get("layout") or deepfashion2().category(g.category_id).name
        key = f"{g.category_id:>2} {name}" if "layout" not in g.extra else f" - {name}"
        by_cat.setdefault(key, Counter())[g.status] += 1
    for key in sorted(by_cat):
        c = by_cat[key]
        print(f"  {key:<24} {sum(c.values()):>6}: {c[GarmentStatus.PREDICTED]} / {c[GarmentStatus.CORRECTED]} / "
              f"{c[GarmentStatus.VERIFIED]}")
    print(f"measurements: {measurements}  calibrations: {calibrations}  "
          f"active model: {f'{active.name} {active.version}' if active else 'none'}")
    return 0
