"""Measurements as CSV (``OUT/measurements.csv``), one row per point of measure, values in mm."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from inference.schema import SchemaError, deepfashion2

from .common import LAYOUT_KEY, ExportReport, Selection, atomic_write_text, selected_images

COLUMNS = (
    "image_id", "image_path", "garment_id", "category_id", "category", "garment_status",
    "pom", "value_mm", "calibration", "points",
)


def _category_name(garment) -> str:
    if LAYOUT_KEY in garment.extra:
        return str(garment.extra[LAYOUT_KEY])
    try:
        return deepfashion2().category(garment.category_id).name
    except SchemaError:
        return ""


def export_measurements_csv(store, out_dir: Path, selection: Selection) -> ExportReport:
    report = ExportReport()
    calibrations = {c.id: c.name for c in store.list_calibrations()}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for info, garments in selected_images(store, selection):
        by_id = dict(garments)
        rows = [m for m in store.measurements(image_id=info.id) if m.garment_id in by_id]
        for m in rows:
            g = by_id[m.garment_id]
            writer.writerow([
                info.id, info.path, m.garment_id, g.category_id, _category_name(g), str(g.status), m.pom,
                repr(float(m.value_mm)), calibrations.get(m.calibration_id, ""), json.dumps(m.points),
            ])
        report.images += bool(rows)
        report.garments += len({m.garment_id for m in rows})
    report.files.append(atomic_write_text(out_dir / "measurements.csv", buf.getvalue()))
    return report
