"""Table-plane calibration on rendered scenes with known geometry (real OpenCV detection)."""

from __future__ import annotations

import json
import re
import struct
import zlib

import cv2
import numpy as np
import pytest

from measure.boards import ArucoSpec, BoardSpecError, CharucoSpec, CheckerboardSpec, TwoPointSpec
from measure.calibration import Calibration, CalibrationError
from measure.detect import (
    calibrate_aruco,
    calibrate_charuco,
    calibrate_checkerboard,
    calibrate_two_point,
    fit_table_plane,
)
from measure.printable import board_image, write_printable
from measure.scene import camera_homography, render_table_scene

LARGE_BOARD = CharucoSpec.parse("12x9:40:30:DICT_5X5_100")


def _scene(tilt_x, tilt_y, board=LARGE_BOARD):
    return render_table_scene(tilt_x, tilt_y, board=board, garment_origin_mm=(board.size_mm[0] + 40, 0))


def test_board_specs_parse_and_reject_bad_input():
    spec = CharucoSpec.parse("7x5:40:30:DICT_5X5_100")
    assert (spec.cols, spec.rows, spec.square_mm, spec.marker_mm) == (7, 5, 40.0, 30.0)
    assert CharucoSpec.parse(str(spec)) == spec
    assert CharucoSpec.parse("5x4:30:22").dictionary == "DICT_5X5_100"
    assert ArucoSpec.parse("7:80").size_mm == 80.0
    assert CheckerboardSpec.parse("9x6:25").inner_corners == (8, 5)
    assert TwoPointSpec.parse("10,20,110,20:50").length_mm == 50.0
    for bad in ("7x5:40", "7x5:40:50:DICT_5X5_100", "7by5:40:30", "7x5:40:30:DICT_NOPE", "7x5:-4:3"):
        with pytest.raises(BoardSpecError):
            CharucoSpec.parse(bad)
    with pytest.raises(BoardSpecError, match="outside"):
        ArucoSpec.parse("500:80:DICT_4X4_50")
    with pytest.raises(BoardSpecError):
        TwoPointSpec.parse("1,2,3:40")


@pytest.mark.parametrize("tilt", [(0, 0), (10, 0), (20, 0), (0, -20), (-14, 14)])
def test_charuco_detection_and_homography_at_tilts(tilt):
    scene = _scene(*tilt)
    calib = calibrate_charuco(scene.image, LARGE_BOARD)
    assert calib.method == "charuco"
    assert calib.num_points == (LARGE_BOARD.cols - 1) * (LARGE_BOARD.rows - 1)
    assert calib.reprojection_error_px < 0.2
    assert calib.reprojection_error_mm < 0.2
    # Homography accuracy: true table points (board and garment) map back within 0.5 mm.
    probe_mm = np.vstack([scene.garment_mm, [[0, 0], [480, 360], [900, 600]]])
    mapped = calib.image_to_table_mm(scene.table_to_image(probe_mm))
    assert np.max(np.linalg.norm(mapped - probe_mm, axis=1)) < 0.5
    true_scale = Calibration("truth", scene.image_to_table, image_size=(1600, 1200)).mm_per_px
    assert calib.mm_per_px == pytest.approx(true_scale, rel=2e-3)


def test_small_board_far_garment_warns():
    scene = render_table_scene(10, 0)  # the default 7x5 board, garment beside it
    calib = calibrate_charuco(scene.image, "7x5:40:30:DICT_5X5_100")
    assert any("covers only" in w for w in calib.warnings)
    # 2.6 m from the board a length from its centre is ~11 mm off; the garment beside it (1 mm) is not warned
    far = scene.table_to_image(np.array([[2500.0, 1800.0]]))
    assert "extrapolated" in calib.extrapolation_warning(far)
    assert calib.extrapolation_warning(scene.garment_px) is None
    assert calib.extrapolation_warning(scene.table_to_image(np.array([[100.0, 100.0]]))) is None


def test_board_not_found_and_too_few_corners():
    blank = np.full((600, 800, 3), 128, np.uint8)
    with pytest.raises(CalibrationError, match="not found"):
        calibrate_charuco(blank, LARGE_BOARD)
    scene = _scene(0, 0)
    corner = scene.table_to_image(np.array([[0.0, 0.0], [95.0, 95.0]]))
    (x0, y0), (x1, y1) = np.floor(corner[0]).astype(int) - 5, np.ceil(corner[1]).astype(int)
    crop = scene.image.copy()
    mask = np.zeros(crop.shape[:2], bool)
    mask[max(y0, 0) : y1, max(x0, 0) : x1] = True
    crop[~mask] = 128  # a 2x2-square corner of the board left visible
    with pytest.raises(CalibrationError, match="at least 6"):
        calibrate_charuco(crop, LARGE_BOARD)
    with pytest.raises(CalibrationError, match="not found"):
        calibrate_checkerboard(blank, "9x6:25")
    with pytest.raises(CalibrationError, match="markers seen: none"):
        calibrate_aruco(blank, "3:80")


def _photograph(board_img: np.ndarray, px_per_mm: float, size_mm, tilt=(12.0, -8.0)):
    """Put a flat target image on a grey table and photograph it; returns image and true image->table H."""
    pad = 40.0
    region = (-pad, -pad, size_mm[0] + pad, size_mm[1] + pad)
    table_to_image = camera_homography(*tilt, region, (1280, 960))
    canvas = np.full(
        (round((size_mm[1] + 2 * pad) * px_per_mm), round((size_mm[0] + 2 * pad) * px_per_mm)), 170, np.uint8
    )
    off = round(pad * px_per_mm)
    canvas[off : off + board_img.shape[0], off : off + board_img.shape[1]] = board_img
    canvas_from_table = np.array(
        [[px_per_mm, 0, pad * px_per_mm - 0.5], [0, px_per_mm, pad * px_per_mm - 0.5], [0, 0, 1]]
    )
    canvas = cv2.GaussianBlur(canvas, (0, 0), 1.0)
    image = cv2.warpPerspective(canvas, table_to_image @ np.linalg.inv(canvas_from_table), (1280, 960))
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), np.linalg.inv(table_to_image)


def _distance_error(calib, truth_h, a_mm, b_mm):
    truth = Calibration("truth", truth_h)
    px = truth.table_mm_to_image(np.array([a_mm, b_mm]))
    mm = calib.image_to_table_mm(px)
    return abs(np.linalg.norm(mm[1] - mm[0]) - np.linalg.norm(np.subtract(b_mm, a_mm)))


def test_aruco_marker_and_checkerboard_calibrations():
    marker = ArucoSpec.parse("7:120")
    image, truth = _photograph(board_image(marker, 4 * 25.4, margin_mm=0), 4.0, (120, 120))
    calib = calibrate_aruco(image, marker)
    assert calib.method == "aruco" and calib.num_points == 4
    assert _distance_error(calib, truth, (0, 0), (120, 120)) < 0.5
    assert any("no redundancy" in w for w in calib.warnings)

    board = CheckerboardSpec.parse("9x7:25")
    image, truth = _photograph(board_image(board, 4 * 25.4, margin_mm=0), 4.0, board.size_mm)
    calib = calibrate_checkerboard(image, board)
    assert calib.num_points == 8 * 6
    assert calib.reprojection_error_px < 0.2
    assert _distance_error(calib, truth, (25, 25), (200, 150)) < 0.3


def test_two_point_reference_gives_uniform_scale():
    calib = calibrate_two_point("100,100,500,400:250", image_size=(800, 600))
    assert calib.mm_per_px == pytest.approx(250 / 500)
    mm = calib.image_to_table_mm([[100, 100], [500, 400]])
    assert np.linalg.norm(mm[1] - mm[0]) == pytest.approx(250.0)


def test_two_point_reference_with_lens_intrinsics_measures_undistorted_points():
    camera = np.array([[900.0, 0.0, 640.0], [0.0, 900.0, 480.0], [0.0, 0.0, 1.0]])
    dist = np.array([-0.25, 0.08, 0.0, 0.0, 0.0])  # a wide-angle webcam's barrel distortion
    lens = Calibration.from_scale(1.0, camera_matrix=camera, dist_coeffs=dist)
    ideal = np.array([[60.0, 480.0], [1220.0, 480.0], [640.0, 480.0], [700.0, 480.0]])  # 2 mm per ideal px
    photo = lens.distort_px(ideal)  # where the lens puts them: the far ends pulled in
    spec = f"{photo[0, 0]},{photo[0, 1]},{photo[1, 0]},{photo[1, 1]}:{1160 * 2.0}"
    calib = calibrate_two_point(spec, image_size=(1280, 960), camera_matrix=camera, dist_coeffs=dist)
    assert calib.has_intrinsics
    mm = calib.image_to_table_mm(photo[2:])
    assert np.linalg.norm(mm[1] - mm[0]) == pytest.approx(120.0, rel=1e-6)  # 60 ideal px in the centre
    plain = calibrate_two_point(spec, image_size=(1280, 960))  # the lens ignored: the centre reads long
    assert np.linalg.norm(np.diff(plain.image_to_table_mm(photo[2:]), axis=0)) > 120.0 * 1.03


def test_fit_rejects_outlier_corner():
    rng = np.random.default_rng(3)
    table = np.stack(np.meshgrid(np.arange(0, 400, 40.0), np.arange(0, 300, 40.0)), -1).reshape(-1, 2)
    h = camera_homography(15, 5, (0, 0, 400, 300), (1280, 960))
    image = cv2.perspectiveTransform(table.reshape(-1, 1, 2), h).reshape(-1, 2) + rng.normal(
        0, 0.05, table.shape
    )
    image[7] += (25.0, -18.0)  # one badly detected corner
    calib = fit_table_plane(image, table, method="charuco", image_size=(1280, 960))
    assert calib.num_points == len(table) - 1
    assert calib.reprojection_error_px < 0.15
    assert any("outliers" in w for w in calib.warnings)


def test_intrinsics_undistort_before_the_homography():
    k = np.array([[900.0, 0, 640], [0, 900.0, 480], [0, 0, 1]])
    dist = np.array([-0.2, 0.05, 0.0, 0.0, 0.0])
    h = np.linalg.inv(camera_homography(10, 0, (0, 0, 500, 400), (1280, 960)))
    calib = Calibration("charuco", h, (1280, 960), k, dist)
    table = np.array([[0.0, 0.0], [500.0, 400.0], [250.0, 10.0]])
    photo = calib.table_mm_to_image(table)  # through the lens: distorted pixels
    ideal = cv2.perspectiveTransform(table.reshape(-1, 1, 2), np.linalg.inv(h)).reshape(-1, 2)
    assert np.max(np.linalg.norm(photo - ideal, axis=1)) > 5.0  # the lens really moves them
    np.testing.assert_allclose(calib.undistort_px(photo), ideal, atol=1e-3)
    np.testing.assert_allclose(calib.image_to_table_mm(photo), table, atol=1e-3)


def test_calibration_dict_round_trip_is_json_safe():
    scene = _scene(12, 4)
    calib = calibrate_charuco(scene.image, LARGE_BOARD)
    calib.camera_matrix = np.array([[1000.0, 0, 800], [0, 1000.0, 600], [0, 0, 1]])
    calib.dist_coeffs = np.array([0.01, -0.002, 0, 0, 0])
    payload = json.loads(json.dumps(calib.to_dict()))
    again = Calibration.from_dict(payload)
    assert again.method == "charuco" and again.board == str(LARGE_BOARD)
    assert again.image_size == (1600, 1200)
    np.testing.assert_allclose(again.homography, calib.homography)
    np.testing.assert_allclose(again.camera_matrix, calib.camera_matrix)
    assert again.reprojection_error_px == calib.reprojection_error_px
    pts = scene.garment_px
    np.testing.assert_allclose(again.image_to_table_mm(pts), calib.image_to_table_mm(pts))
    with pytest.raises(CalibrationError, match="format"):
        Calibration.from_dict({"method": "charuco"})
    with pytest.raises(CalibrationError, match="homography"):
        Calibration.from_dict({**payload, "homography": [[1, 0], [0, 1]]})
    with pytest.raises(CalibrationError, match="recalibrate"):
        again.check_image_size(800, 600)


def test_printable_board_has_true_size(tmp_path):
    spec = CharucoSpec.parse("7x5:40:30:DICT_5X5_100")
    png = tmp_path / "board.png"
    width_mm, height_mm = write_printable(spec, png, dpi=200)
    data = png.read_bytes()
    at = data.index(b"pHYs")
    per_metre = struct.unpack(">I", data[at + 4 : at + 8])[0]
    assert per_metre == round(200 / 25.4 * 1000)
    image = cv2.imread(str(png))
    assert image.shape[1] == pytest.approx((280 + 20) / 25.4 * 200, abs=1)
    calib = calibrate_charuco(image, spec)  # the printed file is itself a detectable board
    assert calib.mm_per_px == pytest.approx(25.4 / 200, rel=1e-3)

    pdf = tmp_path / "board.pdf"
    write_printable(spec, pdf, dpi=150)
    text = pdf.read_bytes()
    assert text.startswith(b"%PDF-1.4")
    box = re.search(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", text)
    assert float(box.group(1)) == pytest.approx(width_mm / 25.4 * 72, abs=0.6)
    assert float(box.group(2)) == pytest.approx(height_mm / 25.4 * 72, abs=0.6)
    start = text.index(b"stream\n", text.index(b"/Subtype /Image")) + 7
    length = int(re.search(rb"/FlateDecode /Length (\d+)", text).group(1))
    pixels = np.frombuffer(zlib.decompress(text[start : start + length]), np.uint8)
    w, h = (int(v) for v in re.search(rb"/Width (\d+) /Height (\d+)", text).groups())
    assert pixels.size == w * h
    assert w == pytest.approx(300 / 25.4 * 150, abs=1) and h == pytest.approx(220 / 25.4 * 150, abs=1)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"image_size": ["x", 480]}, "image_size must be [width, height]"),
        ({"num_points": "many"}, "num_points must be a number, got 'many'"),
        ({"reprojection_error_px": "bad"}, "reprojection_error_px must be a number, got 'bad'"),
        ({"warnings": 5}, "warnings must be a list of texts, got 5"),
        ({"warnings": "check the board"}, "warnings must be a list of texts"),
        ({"homography": [[1, 0, 0], [0, 1]]}, "homography must be a finite (3, 3) array of numbers"),
        ({"homography": [[1, 0], [0, 1]]}, "homography must be a finite (3, 3) array, got shape (2, 2)"),
        ({"method": None}, "method must be a name"),
        ({"board": 7}, "board must be a board spec text"),
        ({"board_region_mm": [1, 2, 3]}, "board_region_mm must be a list of finite [x, y] points"),
        ({"camera_matrix": [[900, 0, 320], [0, 900, 240], [0, 0, 1]], "dist_coeffs": [[1, 2], [3]]}, "dist_coeffs"),
        ({"camera_matrix": [[900, 0, 320], [0, 900, 240], [0, 0, 1]], "dist_coeffs": [0.1, 0.2]}, "dist_coeffs"),
    ],
)
def test_a_malformed_calibration_file_raises_calibration_error_naming_file_and_field(tmp_path, change, message):
    path = tmp_path / "calib.json"
    path.write_text(json.dumps({**Calibration.from_scale(0.5, image_size=(640, 480)).to_dict(), **change}))
    with pytest.raises(CalibrationError) as caught:
        Calibration.load(path)
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)


def test_a_binary_file_is_not_a_calibration(tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x89\xfe")
    with pytest.raises(CalibrationError, match=f"cannot read calibration file {re.escape(str(photo))}: not a JSON text"):
        Calibration.load(photo)


def test_stored_profiles_still_round_trip_with_every_optional_field():
    calib = Calibration.from_scale(0.5, image_size=(640, 480), board="7x5:40:30:DICT_5X5_100",
                                   board_region_mm=[[0, 0], [280, 0], [280, 200]], warnings=["tilted"])
    again = Calibration.from_dict(json.loads(json.dumps(calib.to_dict())))
    assert again.to_dict() == calib.to_dict()


def test_board_image_refuses_an_infinite_dpi_and_a_page_too_large_to_render():
    with pytest.raises(ValueError, match="dpi must be a positive number"):
        board_image(CharucoSpec(), float("inf"))
    with pytest.raises(ValueError, match="megapixel image"):
        board_image(CheckerboardSpec.parse("40x40:100"), 300)
