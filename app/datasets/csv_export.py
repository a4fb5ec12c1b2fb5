"""Measurements as CSV (``OUT/measurements.csv``), one row per point of measure.

``value_mm`` is the stored value, unrounded; ``value_cm`` the same to 0.01 cm for a reader. A POM measured
from a landmark marked occluded lists those landmarks (1-based DF2 ids): a QC report should not present an
estimate as a reading. With a spec sheet and a size, each row also gets its target, tolerance, deviation and
pass/fail, and the garment's verdict (PASS, FAIL, or incomplete when a spec POM could not be measured).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from inference.annotation import Visibility
from inference.schema import SchemaError, deepfashion2
from measure.measurements import Measurement
from measure.poms import PomError, load_catalog
from measure.spec import round_cm  # value_cm rounds as the verdict does (half away from zero)

from .common import LAYOUT_KEY, ExportReport, Selection, atomic_write_text, selected_images

COLUMNS = (
    "image_id", "image_path", "garment_id", "category_id", "category", "garment_status",
    "pom", "value_mm", "value_cm", "occluded_landmarks", "calibration", "points",
)
SPEC_COLUMNS = ("size", "target_cm", "tolerance_cm", "deviation_cm", "check", "garment_verdict")


def _category_name(garment) -> str:
    if LAYOUT_KEY in garment.extra:
        return str(garment.extra[LAYOUT_KEY])
    try:
        return deepfashion2().category(garment.category_id).name
    except SchemaError:
        return ""


def _occluded(garment, pom: str, catalog) -> str:
    """The occluded landmarks (1-based, space-separated) the POM was measured from; "" when none or unknown."""
    if LAYOUT_KEY in garment.extra:
        return ""
    try:
        required = catalog.for_category(garment.category_id).get(pom).required
    except PomError:
        return ""
    return " ".join(str(i) for i in required
                    if i <= len(garment.keypoints) and garment.keypoints[i - 1].visibility == Visibility.OCCLUDED)


def export_measurements_csv(store, out_dir: Path, selection: Selection, spec=None, size: str | None = None) -> ExportReport:
    report = ExportReport()
    catalog = load_catalog()
    calibrations = {c.id: c.name for c in store.list_calibrations()}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    checking = spec is not None and size
    writer.writerow(COLUMNS + (SPEC_COLUMNS if checking else ()))
    # a QC report, not a dataset: each garment's rows stand alone (and carry its status), so no whole-image rule
    for info, garments in selected_images(store, selection, whole_images=False):
        by_id = dict(garments)
        rows = [m for m in store.measurements(image_id=info.id) if m.garment_id in by_id]
        verdicts = {}
        if checking:
            for gid in {m.garment_id for m in rows}:
                measured = {m.pom: Measurement(m.pom, "", float(m.value_mm)) for m in rows if m.garment_id == gid}
                result = spec.check(measured, size, by_id[gid].category_id, catalog)
                verdicts[gid] = ({c.pom: c for c in result.checks}, result.verdict if result.checks else "")
        for m in rows:
            g = by_id[m.garment_id]
            line = [
                info.id, info.path, m.garment_id, g.category_id, _category_name(g), str(g.status), m.pom,
                repr(float(m.value_mm)), f"{round_cm(m.value_mm / 10.0):.2f}", _occluded(g, m.pom, catalog),
                calibrations.get(m.calibration_id, ""), json.dumps(m.points),
            ]
            if checking:
                checks, verdict = verdicts[m.garment_id]
                c = checks.get(m.pom)
                line += [size, "", "", "", "", verdict] if c is None else [
                    size, repr(c.target_cm), repr(c.tolerance_cm), f"{c.deviation_cm:.2f}", c.status, verdict]
            writer.writerow(line)
        report.images += bool(rows)
        report.garments += len({m.garment_id for m in rows})
    report.files.append(atomic_write_text(out_dir / "measurements.csv", buf.getvalue()))
    return report
