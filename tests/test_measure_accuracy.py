"""End-to-end accuracy from exact keypoints: render board + garment, detect the board, measure in mm.

Truth is each POM computed directly on the true table-mm landmarks; the photo path goes through a
rendered, tilted image, real ChArUco detection and the fitted homography.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from measure.boards import CharucoSpec
from measure.calibration import Calibration
from measure.detect import calibrate_charuco
from measure.measurements import measure_keypoints
from measure.poms import load_catalog
from measure.scene import render_table_scene

BOARD = CharucoSpec.parse("12x9:40:30:DICT_5X5_100")
TOLERANCE_MM = 0.5


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """Bundled POMs plus an offset-line chest on the tee, so every construction kind is exercised."""
    path = tmp_path_factory.mktemp("poms") / "extra.json"
    pom = {
        "name": "chest_1in_below", "kind": "offset_chord", "landmarks": [12, 20], "offset_mm": 25.4,
        "toward": [16], "description": "1 in below the armholes", "convention": "house spec",
    }  # fmt: skip
    path.write_text(
        json.dumps({"format": "garment-studio-poms/1", "categories": [{"category_id": 1, "poms": [pom]}]})
    )
    return load_catalog(path)


@pytest.mark.parametrize("tilt", [(0, 0), (10, 0), (20, 0), (-20, 0), (0, 20), (0, -20), (14, 14), (-14, 14)])
def test_every_pom_within_half_a_millimetre(tilt, catalog):
    scene = render_table_scene(*tilt, board=BOARD, garment_origin_mm=(BOARD.size_mm[0] + 40, 0))
    calib = calibrate_charuco(scene.image, BOARD)
    visible = np.full((len(scene.garment_mm), 1), 2.0)
    measured = measure_keypoints(1, np.hstack([scene.garment_px, visible]), calib, catalog)
    truth = measure_keypoints(1, np.hstack([scene.garment_mm, visible]), Calibration.from_scale(1.0), catalog)
    assert {m.kind for m in measured.values()} == {"straight", "polyline", "perpendicular", "offset_chord"}
    errors = {name: abs(measured[name].mm - truth[name].mm) for name in truth}
    assert max(errors.values()) < TOLERANCE_MM, errors
    # sanity: the tilt really changes the pixel lengths, so the plane is doing the work
    px_chest = np.linalg.norm(np.subtract(*scene.garment_px[[11, 19]]))
    if tilt != (0, 0):
        assert abs(px_chest * calib.mm_per_px - truth["chest_width"].mm) > TOLERANCE_MM
