"""Points of measure: bundled definitions, user overrides, and each construction against hand-computed values."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inference.annotation import Garment, Keypoint, Visibility
from inference.schema import deepfashion2
from measure.calibration import Calibration
from measure.measurements import measure_garment, measure_keypoints
from measure.poms import PomError, load_catalog
from measure.scene import SHORT_SLEEVE_TOP_MM

# The product spec fixes these five categories exactly (1-based DF2 ids).
REQUIRED = {
    1: {
        "chest_width": ("straight", (12, 20)),
        "shoulder_width": ("straight", (7, 25)),
        "sleeve_length": ("polyline", (7, 8, 9)),
        "sleeve_opening": ("straight", (9, 10)),
        "hem_width": ("straight", (15, 17)),
        "body_length": ("perpendicular", (2, 15, 17)),
    },
    2: {
        "chest_width": ("straight", (16, 24)),
        "shoulder_width": ("straight", (7, 33)),
        "sleeve_length": ("polyline", (7, 8, 9, 10, 11)),
        "sleeve_opening": ("straight", (11, 12)),
        "hem_width": ("straight", (19, 21)),
        "body_length": ("perpendicular", (2, 19, 21)),
    },
    8: {
        "waist_width": ("straight", (1, 3)),
        "outseam": ("polyline", (1, 4, 5, 6)),
        "inseam": ("polyline", (9, 8, 7)),
        "leg_opening": ("straight", (6, 7)),
        "front_rise": ("straight", (2, 9)),
        "hip_width": ("straight", (4, 14)),
    },
    7: {
        "waist_width": ("straight", (1, 3)),
        "outseam": ("polyline", (1, 4, 5)),
        "inseam": ("straight", (7, 6)),
        "leg_opening": ("straight", (5, 6)),
        "front_rise": ("straight", (2, 7)),
        "hip_width": ("straight", (4, 10)),
    },
    9: {
        "waist_width": ("straight", (1, 3)),
        "skirt_length": ("straight", (2, 6)),
        "hem_width": ("straight", (5, 7)),
        "hip_width": ("straight", (4, 8)),
    },
}

# A vest laid flat (DF2 ids 1..15), px; with 1 mm/px the values below are hand-computed.
VEST_PX = {
    1: (200, 10), 2: (160, 0), 3: (170, 30), 4: (200, 60), 5: (230, 30), 6: (240, 0),
    7: (110, 20), 8: (100, 100), 9: (90, 300), 10: (80, 400), 11: (200, 400), 12: (320, 400),
    13: (310, 300), 14: (300, 100), 15: (290, 20),
}  # fmt: skip


def _keypoints(points: dict[int, tuple[float, float]], absent=()) -> np.ndarray:
    out = np.zeros((len(points), 3))
    for i, (x, y) in points.items():
        out[i - 1] = (x, y, 0 if i in absent else 2)
    return out


def _tee(absent=()) -> np.ndarray:
    return _keypoints({i + 1: tuple(p) for i, p in enumerate(SHORT_SLEEVE_TOP_MM)}, absent)


def test_bundled_definitions_match_the_product_spec():
    catalog = load_catalog()
    for category_id, expected in REQUIRED.items():
        poms = catalog.for_category(category_id)
        got = {p.name: (p.kind, p.landmarks) for p in poms.poms}
        assert got == expected, deepfashion2().category(category_id).name
    for category in deepfashion2().categories:
        poms = catalog.for_category(category.id)
        assert poms.poms and all(p.description and p.convention for p in poms.poms)
        assert max(poms.outline) <= category.num_keypoints
    offset = [c for c in catalog.categories.values() if any(p.kind == "offset_chord" for p in c.poms)]
    assert len(offset) >= 1


def test_straight_polyline_and_perpendicular_by_hand():
    calib = Calibration.from_scale(2.0)  # 2 mm per px, straight down
    m = measure_keypoints(1, _tee(), calib)
    # chest 12-20: (125,185)-(375,185) -> 250 px
    assert m["chest_width"].mm == pytest.approx(500.0)
    # sleeve 7-8-9: |(110,40)-(40,110)| + |(40,110)-(0,190)| = 70*sqrt(2) + sqrt(40^2+80^2)
    assert m["sleeve_length"].mm == pytest.approx(2 * (70 * 2**0.5 + (40**2 + 80**2) ** 0.5))
    # body length: point 2 (200,10) to the hem line through (130,600) and (370,600) (slope 0) -> 590 px
    assert m["body_length"].mm == pytest.approx(1180.0)
    np.testing.assert_allclose(m["body_length"].points_px, [[200, 10], [200, 600]], atol=1e-9)
    assert m["chest_width"].cm == pytest.approx(50.0)


def test_perpendicular_to_a_sloped_line():
    points = _tee()
    points[14, :2] = (130, 600)  # 15
    points[16, :2] = (370, 680)  # 17: the hem line now slopes 1:3
    m = measure_keypoints(1, points, Calibration.from_scale(1.0), names=["body_length"])
    # distance from (200,10) to the line through (130,600) with direction (3,1)
    a, b, d = np.array([200, 10.0]), np.array([130, 600.0]), np.array([3, 1.0])
    expected = abs(d[0] * (a - b)[1] - d[1] * (a - b)[0]) / np.hypot(*d)
    assert m["body_length"].mm == pytest.approx(expected)


def test_offset_chord_cuts_the_outline_below_the_armpits():
    m = measure_keypoints(5, _keypoints(VEST_PX), Calibration.from_scale(1.0))
    # 25 mm below the armpit line (y=125): left side edge (100,100)-(90,300) at x=98.75,
    # right side edge (300,100)-(310,300) at x=301.25
    chord = m["chest_width_below_armpit"]
    assert chord.mm == pytest.approx(202.5)
    assert sorted(p[0] for p in chord.points_px) == pytest.approx([98.75, 301.25])
    assert all(p[1] == pytest.approx(125.0) for p in chord.points_px)
    assert m["chest_width"].mm == pytest.approx(200.0)


def test_offset_chord_ignores_a_sleeve_on_the_same_line(tmp_path):
    user = tmp_path / "my_poms.json"
    user.write_text(
        json.dumps(
            {
                "format": "garment-studio-poms/1",
                "categories": [
                    {
                        "category_id": 1,
                        "poms": [
                            {
                                "name": "chest_1in_below",
                                "kind": "offset_chord",
                                "landmarks": [12, 20],
                                "offset_mm": 25,
                                "toward": [16],
                                "description": "1 in below the armholes",
                                "convention": "house spec",
                            }
                        ],
                    }
                ],
            }
        )
    )
    catalog = load_catalog(user)
    assert "chest_width" in catalog.for_category(1).names  # bundled ones kept
    m = measure_keypoints(1, _tee(), Calibration.from_scale(1.0), catalog, names=["chest_1in_below"])
    # y=210 also crosses the left sleeve (x 28..85); the body piece runs from x=126 to x=374
    assert m["chest_1in_below"].mm == pytest.approx(248.0)


def test_a_perpendicular_can_follow_a_curved_hem_through_its_centre(tmp_path):
    """A house spec measuring body length "straight down to the hem" on a shirt-tail hem: the bundled
    perp(2; 15, 17) stops at the line between the hem corners; perp(2; 15, 16, 17) follows the hem."""
    user = tmp_path / "house.json"
    user.write_text(json.dumps({"format": "garment-studio-poms/1", "categories": [{"category_id": 1, "poms": [
        {"name": "body_length_to_hem", "kind": "perpendicular", "landmarks": [2, 15, 16, 17],
         "description": "HPS straight down to the hem edge", "convention": "house spec"}]}]}))
    catalog = load_catalog(user)
    tee = _tee()
    tee[15, :2] = (250, 640)  # 16: the hem centre 40 px below the corners at y 600 (x 130 and 370)
    m = measure_keypoints(1, tee, Calibration.from_scale(1.0), catalog, names=["body_length", "body_length_to_hem"])
    assert m["body_length"].mm == pytest.approx(590.0)
    # straight down from (200, 10): the hem runs from (130, 600) to (250, 640), y = 600 + 40 * 70 / 120 at x 200
    assert m["body_length_to_hem"].mm == pytest.approx(600 + 40 * 70 / 120 - 10)
    np.testing.assert_allclose(m["body_length_to_hem"].points_px[1], (200, 600 + 40 * 70 / 120), atol=1e-9)
    tee[15, 2] = 0  # the hem centre absent: the corners' line, still measured
    m = measure_keypoints(1, tee, Calibration.from_scale(1.0), catalog, names=["body_length_to_hem"])
    assert m["body_length_to_hem"].mm == pytest.approx(590.0)


def test_measurements_are_taken_on_the_table_plane_not_in_pixels():
    # strong perspective: equal pixel lengths are unequal on the table
    h = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.002, 1.0]])
    calib = Calibration("charuco", h)
    points = _tee()
    m = measure_keypoints(1, points, calib)
    mm = calib.image_to_table_mm(points[[11, 19], :2])
    assert m["chest_width"].mm == pytest.approx(float(np.linalg.norm(mm[1] - mm[0])))
    assert m["chest_width"].mm != pytest.approx(250.0, abs=1.0)
    # the perpendicular foot maps back to the image through the same plane
    foot_mm = m["body_length"].points_mm[1]
    np.testing.assert_allclose(
        calib.image_to_table_mm([m["body_length"].points_px[1]])[0], foot_mm, atol=1e-6
    )


def test_absent_landmarks_make_a_pom_not_measurable():
    m = measure_keypoints(1, _tee(absent={12}), Calibration.from_scale(1.0))
    assert m["chest_width"].mm is None and not m["chest_width"].measurable
    assert "12 (left armpit)" in m["chest_width"].reason
    assert m["chest_width"].to_dict()["cm"] is None
    assert m["hem_width"].mm == pytest.approx(240.0)  # others still measured

    kps = [Keypoint(x, y, Visibility.VISIBLE) for x, y in SHORT_SLEEVE_TOP_MM]
    kps[8] = Keypoint.absent()  # 9: left cuff outer
    garment = Garment(1, (0, 0, 500, 610), tuple(kps))
    res = measure_garment(garment, Calibration.from_scale(1.0))
    assert res["sleeve_length"].mm is None and res["sleeve_opening"].mm is None
    assert res["shoulder_width"].mm == pytest.approx(280.0)


def test_a_pom_from_an_occluded_landmark_is_measured_and_says_so():
    kps = [Keypoint(x, y, Visibility.VISIBLE) for x, y in SHORT_SLEEVE_TOP_MM]
    kps[11] = Keypoint(kps[11].x, kps[11].y, Visibility.OCCLUDED)  # 12: left armpit, under a fold
    res = measure_garment(Garment(1, (0, 0, 500, 610), tuple(kps)), Calibration.from_scale(1.0))
    seen = measure_garment(Garment(1, (0, 0, 500, 610), tuple(k if i != 11 else Keypoint(k.x, k.y) for i, k in
                                                               enumerate(kps))), Calibration.from_scale(1.0))
    assert res["chest_width"].occluded == (12,) and res["chest_width"].mm == seen["chest_width"].mm
    assert res["chest_width"].to_dict()["occluded_landmarks"] == [12] and "12" in res["chest_width"].note()
    assert res["hem_width"].occluded == () and "occluded_landmarks" not in res["hem_width"].to_dict()


def test_user_file_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.json"

    def write(pom, category=1):
        bad.write_text(
            json.dumps(
                {"format": "garment-studio-poms/1", "categories": [{"category_id": category, "poms": [pom]}]}
            )
        )

    write({"name": "x", "kind": "straight", "landmarks": [3, 26]})
    with pytest.raises(PomError, match=r"bad\.json.*'x'.*unknown landmark 26.*1-25"):
        load_catalog(bad)
    write({"name": "x", "kind": "perpendicular", "landmarks": [1, 2]})
    with pytest.raises(PomError, match="needs at least 3"):
        load_catalog(bad)
    write({"name": "x", "kind": "spiral", "landmarks": [1, 2]})
    with pytest.raises(PomError, match="kind 'spiral'"):
        load_catalog(bad)
    write({"name": "x", "kind": "straight", "landmarks": [1, 2]}, category=99)
    with pytest.raises(PomError, match="unknown DeepFashion2 category 99"):
        load_catalog(bad)
    bad.write_text("{not json")
    with pytest.raises(PomError, match="cannot read POM file"):
        load_catalog(bad)
    with pytest.raises(PomError, match="unknown POM 'chestt'"):
        load_catalog().for_category(1).get("chestt")
