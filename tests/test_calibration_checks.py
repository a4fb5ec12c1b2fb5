"""Calibrations that would measure wrongly are refused or warned about: fits that are not the board, lens
intrinsics or reference lines of another image size, printed boards at the wrong scale, far garments."""

from __future__ import annotations

import json
import re
import zlib

import cv2
import numpy as np
import pytest

from app.cli.main import main
from measure.boards import CharucoSpec, CheckerboardSpec
from measure.calibration import Calibration, CalibrationError
from measure.detect import calibrate_charuco, calibrate_two_point, fit_table_plane
from measure.printable import page_layout, write_printable

CHECKER = CheckerboardSpec.parse("6x4:40")  # 5x3 inner corners, as the reviewer's --checkerboard 6x4:40


def _board_photo_points(scale_px_per_mm=2.0, noise_px=0.05, seed=0):
    """The checkerboard's inner corners as a tilted camera sees them, with corner noise."""
    table = CHECKER.object_points()
    s = scale_px_per_mm
    h = np.array([[s, 0.08 * s, 400.0], [-0.05 * s, 0.95 * s, 300.0], [2e-4, -1e-4, 1.0]])  # a mild tilt
    px = cv2.perspectiveTransform(table.reshape(-1, 1, 2), h).reshape(-1, 2)
    return px + np.random.default_rng(seed).normal(0, noise_px, px.shape), table


# -- 1. fits that are not the board -------------------------------------------------------------------


def test_a_fit_from_a_minority_of_the_corners_is_refused():
    px, table = _board_photo_points()
    garbage = np.random.default_rng(1).uniform([1100, 250], [1190, 320], (9, 2))  # corners found on a print
    px[6:] = garbage
    with pytest.raises(CalibrationError, match=r"only \d of 15 detected corners fit one plane"):
        fit_table_plane(px, table, method="checkerboard", image_size=(1600, 1200), board=str(CHECKER))


def test_a_fit_whose_error_is_a_large_part_of_a_square_is_refused():
    # squares of 12 px with corners off by 2-3 px: the RMS is ~25 % of a square (a board is found to <2 %)
    px, table = _board_photo_points(scale_px_per_mm=0.3, noise_px=2.5, seed=4)
    with pytest.raises(CalibrationError, match=r"mm RMS, \d+% of its 40 mm corner spacing"):
        fit_table_plane(px, table, method="checkerboard", image_size=(300, 200), robust=False)


def test_a_board_covering_a_negligible_part_of_the_image_is_refused():
    px, table = _board_photo_points(scale_px_per_mm=0.15, noise_px=0.01)  # 6 px squares in a 1600x1200 photo
    with pytest.raises(CalibrationError, match=r"covers only 0\.0\d% of the image"):
        fit_table_plane(px, table, method="checkerboard", image_size=(1600, 1200))
    # the same board filling more of a smaller frame is fine
    fit_table_plane(px - px.min(axis=0) + 5, table, method="checkerboard", image_size=(60, 40))


def test_a_good_board_with_one_bad_corner_still_calibrates():
    px, table = _board_photo_points()
    px[4] += (9.0, -7.0)
    calib = fit_table_plane(px, table, method="checkerboard", image_size=(1600, 1200))
    assert calib.num_points == 14 and any("outliers" in w for w in calib.warnings)


# -- 2. intrinsics and reference lines of another image size ------------------------------------------


def _intrinsics_file(tmp_path, size):
    w, h = size
    camera = np.array([[0.9 * w, 0, w / 2], [0, 0.9 * w, h / 2], [0, 0, 1]])
    calib = Calibration.from_scale(1.0, method="two-point", image_size=size, camera_matrix=camera,
                                   dist_coeffs=np.array([-0.1, 0.02, 0, 0, 0]))
    path = tmp_path / f"intr_{w}.json"
    calib.save(path)
    return path


def test_intrinsics_made_at_another_image_size_are_refused_naming_both_sizes(tmp_path, capsys):
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), np.full((1200, 1600, 3), 128, np.uint8))
    out = tmp_path / "c.json"
    argv = ["calibrate", str(photo), "--two-point", "100,100,900,100:500", "-o", str(out)]
    assert main([*argv, "--intrinsics", str(_intrinsics_file(tmp_path, (4000, 3000)))]) == 2
    err = capsys.readouterr().err
    assert "4000x3000" in err and "1600x1200" in err and not out.exists()
    assert main([*argv, "--intrinsics", str(_intrinsics_file(tmp_path, (1600, 1200)))]) == 0
    assert json.loads(out.read_text())["camera_matrix"] is not None
    capsys.readouterr()


def test_intrinsics_of_another_size_are_refused_by_the_core_too():
    camera = np.array([[3600.0, 0, 2000], [0, 3600.0, 1500], [0, 0, 1]])  # made on 4000x3000 frames
    lens = Calibration.from_scale(1.0, image_size=(4000, 3000), camera_matrix=camera)
    with pytest.raises(CalibrationError, match="4000x3000 images, this photo is 1600x1200"):
        lens.intrinsics_for(1600, 1200)
    with pytest.raises(CalibrationError, match="principal point"):
        calibrate_two_point("100,100,900,100:500", (1600, 1200), camera)
    px, table = _board_photo_points()
    with pytest.raises(CalibrationError, match="principal point"):
        fit_table_plane(px, table, method="checkerboard", image_size=(1600, 1200), camera_matrix=camera)


def test_a_two_point_calibration_records_its_photo_size(tmp_path, capsys):
    with pytest.raises(CalibrationError, match="size of the photo"):
        calibrate_two_point("100,100,900,100:500", None)
    photo, other = tmp_path / "photo.png", tmp_path / "smaller.png"
    cv2.imwrite(str(photo), np.full((1200, 1600, 3), 128, np.uint8))
    cv2.imwrite(str(other), np.full((600, 800, 3), 128, np.uint8))
    calib = tmp_path / "c.json"
    assert main(["calibrate", str(photo), "--two-point", "100,100,900,100:500", "-o", str(calib)]) == 0
    assert json.loads(calib.read_text())["image_size"] == [1600, 1200]
    keypoints = tmp_path / "kp.json"
    keypoints.write_text(json.dumps({"item1": {"category_id": 1, "bounding_box": [0, 0, 10, 10],
                                               "landmarks": [0.0] * 75}}))
    capsys.readouterr()
    assert main(["measure", str(other), "--calibration", str(calib), "--keypoints", str(keypoints)]) == 2
    assert "1600x1200" in capsys.readouterr().err


# -- 3. the printed board -----------------------------------------------------------------------------


def _media_box(pdf: bytes) -> tuple[float, float]:
    box = re.search(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    return float(box.group(1)), float(box.group(2))


def _pdf_image(pdf: bytes) -> np.ndarray:
    start = pdf.index(b"stream\n", pdf.index(b"/Subtype /Image")) + 7
    length = int(re.search(rb"/FlateDecode /Length (\d+)", pdf).group(1))
    w, h = (int(v) for v in re.search(rb"/Width (\d+) /Height (\d+)", pdf).groups())
    return np.frombuffer(zlib.decompress(pdf[start : start + length]), np.uint8).reshape(h, w)


def test_the_default_board_fits_a4_landscape_exactly_with_paper_a4(tmp_path, capsys):
    pdf = tmp_path / "board.pdf"
    assert main(["calibrate", "--print-board", str(pdf), "--paper", "a4", "--dpi", "150"]) == 0
    out = capsys.readouterr().out
    assert "297.0 x 210.0 mm" in out and "A4 at 100 %" in out and "a square must be 40.0 mm" in out
    data = pdf.read_bytes()
    assert _media_box(data) == pytest.approx((297 / 25.4 * 72, 210 / 25.4 * 72), abs=0.01)  # 841.89 x 595.28
    image = _pdf_image(data)
    calib = calibrate_charuco(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), CharucoSpec())  # still a board
    assert calib.mm_per_px == pytest.approx(25.4 / 150, rel=2e-3)


def test_the_default_page_says_it_needs_a3_and_how_to_check_the_print(tmp_path, capsys):
    pdf = tmp_path / "board.pdf"
    assert main(["calibrate", "--print-board", str(pdf)]) == 0
    out = capsys.readouterr().out
    assert "300.0 x 220.0 mm" in out and "larger than A4 and US Letter" in out and "A3" in out
    assert "--paper a4" in out and "100 mm bar" in out and "give the measured size in the board spec" in out
    assert _media_box(pdf.read_bytes()) == pytest.approx((300 / 25.4 * 72, 220 / 25.4 * 72), abs=0.6)
    assert main(["calibrate", "--print-board", str(pdf), "--paper", "letter"]) == 2  # 280 mm > 279.4 mm
    assert "does not fit on US Letter" in capsys.readouterr().err
    assert main(["calibrate", "--paper", "a4"]) == 2  # a sheet for nothing to print
    assert "--print-board" in capsys.readouterr().err


@pytest.mark.parametrize("paper", [None, "a4"])
def test_the_page_carries_a_100_mm_check_bar(tmp_path, paper):
    png = tmp_path / "board.png"
    dpi = 200
    write_printable(CharucoSpec(), png, dpi, paper)
    page = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
    layout = page_layout(CharucoSpec(), paper)
    px_per_mm = dpi / 25.4
    x, y = (round(v * px_per_mm) for v in layout.bar_at_mm)
    line = page[y + 1, x:] if not layout.bar_upright else page[y:, x + 1]
    dark = np.flatnonzero(line < 128)
    run = dark[: np.argmax(np.diff(dark) > 2)] if (np.diff(dark) > 2).any() else dark  # the bar, not the label
    assert (run[-1] - run[0] + 1) / px_per_mm == pytest.approx(100.0, abs=0.5)


# -- 4. the extrapolation warning ---------------------------------------------------------------------


def _board_calibration(rms_mm: float, num_points: int = 24) -> Calibration:
    """The 7x5:40 board's inner-corner hull (200 x 120 mm, half-diagonal 117 mm); image px = table mm."""
    region = [[40.0, 40.0], [240.0, 40.0], [240.0, 160.0], [40.0, 160.0]]
    return Calibration("charuco", np.eye(3), (1600, 1200), reprojection_error_mm=rms_mm,
                       num_points=num_points, board_region_mm=region)


def test_the_extrapolation_warning_weighs_the_reach_by_the_fit_error():
    half = float(np.hypot(100, 60))
    garment = np.array([[140 + 6 * half, 100.0]])  # 6 half-diagonals out: every garment reaches that far
    assert _board_calibration(0.05).extrapolation_warning(garment) is None  # a clean fit: ~2 mm there
    far = np.array([[140 + 11 * half, 100.0]])
    assert "extrapolated" in _board_calibration(0.3).extrapolation_warning(far)  # 36 > 20
    assert _board_calibration(0.12).extrapolation_warning(far) is None  # 14.5 < 20
    assert _board_calibration(0.0, num_points=4).extrapolation_warning(far * 1.3) is not None  # one marker


@pytest.mark.parametrize("scale", [1e308, 1e-9, 2e4])
def test_an_absurd_uniform_scale_is_refused_in_one_line(tmp_path, capsys, scale):
    photo = tmp_path / "flat.png"
    cv2.imwrite(str(photo), np.full((50, 60, 3), 200, np.uint8))
    assert main(["measure", str(photo), "--mm-per-px", repr(scale), "--category", "skirt"]) != 0
    err = capsys.readouterr().err
    assert "is outside" in err and err.count("\n") == 1 and "nan" not in err
