"""Find a calibration target in a photo and fit the table plane to it.

Every detector hands (image px, table mm) correspondences to ``fit_table_plane``, which fits the
board -> image homography (RANSAC, then least squares on the inliers, so the error is minimised in
pixels where the detection noise lives) and reports its fit in px and mm.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from measure.boards import ArucoSpec, CharucoSpec, CheckerboardSpec, TwoPointSpec, aruco_dictionary
from measure.calibration import Calibration, CalibrationError

MIN_CORNERS = 6
RANSAC_THRESHOLD_PX = 2.0
SMALL_BOARD_FRACTION = 0.05  # board hull below this share of the image area gets a warning
HIGH_REPROJECTION_PX = 1.0

# Refusals: a fit that fails one of these is not the board in the photo, or not one a table plane can rest on.
# At least half the detected corners must agree with the fitted plane. A board that is really there loses at
# most a few corners to glare or a fold; when most are outliers, the detector matched the grid to something
# else (a checkerboard spec on a ChArUco board found 15 "corners" that were not its grid, 6 of them "fitting").
MIN_INLIER_FRACTION = 0.5
# RMS of the inliers, on the table, as a share of the board's corner spacing (its square). Corners of a real
# board are found to a fraction of a pixel: 0.02-0.66 mm on 40 mm squares (at most 1.7 %) over 97 synthetic
# workstation photos, and an uncorrected wide-angle lens adds a few per cent. A tenth of a square means
# corners lie off the grid by a tenth of its pitch: the matched grid is not the board (the fits above: 2-4 mm).
MAX_RMS_SQUARE_FRACTION = 0.10
# Share of the image the inlier hull must cover. The default 7x5 board covered 0.64-2.5 % in those photos
# and 1.1-2.2 % in the bundled sample; at 0.1 % it spans about 1/30 of the photo's width, so a garment across
# the photo lies tens of board sizes away, where the plane is guesswork (the fits above: 0.03-0.1 %).
MIN_BOARD_FRACTION = 0.001


def to_gray(image: np.ndarray) -> np.ndarray:
    if image is None or not isinstance(image, np.ndarray) or image.size == 0:
        raise CalibrationError("no image data")
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    raise CalibrationError(f"unsupported image shape {image.shape}")


def _hull(points: np.ndarray) -> np.ndarray:
    return cv2.convexHull(points.astype(np.float32)).reshape(-1, 2).astype(np.float64)


def _corner_spacing(table_mm: np.ndarray) -> float:
    """The board's pitch: the median distance from each model corner to its nearest neighbour (mm)."""
    gaps = np.linalg.norm(table_mm[:, None, :] - table_mm[None, :, :], axis=2)
    np.fill_diagonal(gaps, np.inf)
    return float(np.median(gaps.min(axis=1)))


def check_intrinsics(camera_matrix: np.ndarray | None, image_size: tuple[int, int]) -> None:
    """Refuse a camera matrix whose principal point lies outside the photo: it was made for another image
    size (lens intrinsics are in pixels of the images they were computed on)."""
    if camera_matrix is None:
        return
    k = np.asarray(camera_matrix, dtype=np.float64).reshape(3, 3)
    width, height = image_size
    if not (0 < k[0, 2] < width and 0 < k[1, 2] < height):
        raise CalibrationError(
            f"the lens intrinsics' principal point ({k[0, 2]:.0f}, {k[1, 2]:.0f}) px lies outside this "
            f"{width}x{height} photo: they were made on images of another size; compute intrinsics at this size"
        )


def fit_table_plane(
    image_px: np.ndarray,
    table_mm: np.ndarray,
    *,
    method: str,
    image_size: tuple[int, int],
    board: str | None = None,
    camera_matrix: np.ndarray | None = None,
    dist_coeffs: np.ndarray | None = None,
    robust: bool = True,
) -> Calibration:
    """Homography from correspondences; image points are undistorted first when intrinsics are given."""
    image_px = np.asarray(image_px, dtype=np.float64).reshape(-1, 2)
    table_mm = np.asarray(table_mm, dtype=np.float64).reshape(-1, 2)
    if len(image_px) < 4:
        raise CalibrationError(f"too few calibration points: {len(image_px)} found, at least 4 needed")
    check_intrinsics(camera_matrix, image_size)
    probe = Calibration(method, np.eye(3), image_size, camera_matrix, dist_coeffs)
    ideal_px = probe.undistort_px(image_px)

    inliers = np.ones(len(ideal_px), dtype=bool)
    if robust and len(ideal_px) > 4:
        h_rough, mask = cv2.findHomography(table_mm, ideal_px, cv2.RANSAC, RANSAC_THRESHOLD_PX)
        if h_rough is None:
            raise CalibrationError("calibration points are degenerate (collinear?): no homography fits them")
        inliers = mask.ravel().astype(bool)
        if inliers.sum() < 4:
            raise CalibrationError("too few consistent calibration points after outlier rejection")
    board_to_image, _ = cv2.findHomography(table_mm[inliers], ideal_px[inliers], 0)
    if board_to_image is None or abs(np.linalg.det(board_to_image)) < 1e-12:
        raise CalibrationError("calibration points are degenerate (collinear?): no homography fits them")
    image_to_table = np.linalg.inv(board_to_image)
    image_to_table /= image_to_table[2, 2]

    projected = cv2.perspectiveTransform(table_mm[inliers].reshape(-1, 1, 2), board_to_image).reshape(-1, 2)
    mapped = cv2.perspectiveTransform(ideal_px[inliers].reshape(-1, 1, 2), image_to_table).reshape(-1, 2)
    err_px = float(np.sqrt(np.mean(np.sum((projected - ideal_px[inliers]) ** 2, axis=1))))
    err_mm = float(np.sqrt(np.mean(np.sum((mapped - table_mm[inliers]) ** 2, axis=1))))

    hull_px = _hull(image_px[inliers])
    hull_mm = _hull(table_mm[inliers])
    share = cv2.contourArea(hull_px.astype(np.float32)) / float(image_size[0] * image_size[1])
    _refuse_implausible_fit(int(inliers.sum()), len(inliers), err_mm, _corner_spacing(table_mm), share, board)

    warnings: list[str] = []
    if share < SMALL_BOARD_FRACTION:
        warnings.append(
            f"the calibration target covers only {100 * share:.1f}% of the image; "
            "measurements away from it extrapolate the plane; use a larger board or move the camera closer"
        )
    if (~inliers).any():
        warnings.append(
            f"{int((~inliers).sum())} of {len(inliers)} detected corners were rejected as outliers"
        )
    if err_px > HIGH_REPROJECTION_PX:
        warnings.append(
            f"reprojection error {err_px:.2f} px is high: the board may not be flat, "
            "or the lens distortion needs intrinsics"
        )
    return Calibration(
        method=method,
        homography=image_to_table,
        image_size=(int(image_size[0]), int(image_size[1])),
        camera_matrix=camera_matrix,
        dist_coeffs=dist_coeffs,
        reprojection_error_px=err_px,
        reprojection_error_mm=err_mm,
        num_points=int(inliers.sum()),
        board=board,
        board_region_mm=hull_mm.tolist(),
        board_region_px=hull_px.tolist(),
        warnings=warnings,
    )


def _refuse_implausible_fit(
    kept: int, found: int, rms_mm: float, spacing_mm: float, share: float, board: str | None
) -> None:
    """Raise CalibrationError when the fit cannot be the board (see MIN_INLIER_FRACTION and the others)."""
    target = f"board {board}" if board else "the calibration target"
    hint = "check that the board spec matches the board in the photo and that the whole board is visible"
    if kept < MIN_INLIER_FRACTION * found:
        raise CalibrationError(
            f"{target}: only {kept} of {found} detected corners fit one plane (at least half must): "
            f"this is not the board; {hint}"
        )
    if rms_mm > MAX_RMS_SQUARE_FRACTION * spacing_mm:
        raise CalibrationError(
            f"{target}: the corners fit the board with {rms_mm:.2f} mm RMS, "
            f"{100 * rms_mm / spacing_mm:.0f}% of its {spacing_mm:g} mm corner spacing (at most "
            f"{100 * MAX_RMS_SQUARE_FRACTION:.0f}%): this is not the board, or it is not flat; {hint}"
        )
    if share < MIN_BOARD_FRACTION:
        raise CalibrationError(
            f"{target} covers only {100 * share:.2f}% of the image (at least {100 * MIN_BOARD_FRACTION:.1f}%): "
            f"too small to measure a garment with; {hint}, or move the camera closer"
        )


def _image_size(gray: np.ndarray) -> tuple[int, int]:
    return int(gray.shape[1]), int(gray.shape[0])


def detect_charuco(gray: np.ndarray, spec: CharucoSpec) -> tuple[np.ndarray, np.ndarray]:
    """(image px, table mm) of the interpolated ChArUco chessboard corners."""
    board = spec.board()
    detector = cv2.aruco.CharucoDetector(board)
    corners, ids, _marker_corners, marker_ids = detector.detectBoard(gray)
    found = 0 if ids is None else len(ids)
    if found < MIN_CORNERS:
        markers = 0 if marker_ids is None else len(marker_ids)
        if markers == 0:
            raise CalibrationError(
                f"ChArUco board {spec} not found: no {spec.dictionary} markers in the image"
            )
        raise CalibrationError(
            f"ChArUco board {spec}: only {found} corners found ({markers} markers), at least {MIN_CORNERS} needed; "
            "check the board spec and that the board is in focus and not covered"
        )
    if board.checkCharucoCornersCollinear(ids):
        raise CalibrationError(f"ChArUco board {spec}: the {found} corners found lie on one line")
    object_points = board.getChessboardCorners()[ids.ravel(), :2].astype(np.float64)
    return corners.reshape(-1, 2).astype(np.float64), object_points


def calibrate_charuco(
    image: np.ndarray,
    spec: CharucoSpec | str,
    camera_matrix: np.ndarray | None = None,
    dist_coeffs: np.ndarray | None = None,
) -> Calibration:
    spec = CharucoSpec.parse(spec) if isinstance(spec, str) else spec
    gray = to_gray(image)
    px, mm = detect_charuco(gray, spec)
    return fit_table_plane(
        px,
        mm,
        method="charuco",
        image_size=_image_size(gray),
        board=str(spec),
        camera_matrix=camera_matrix,
        dist_coeffs=dist_coeffs,
    )


def calibrate_aruco(
    image: np.ndarray,
    spec: ArucoSpec | str,
    camera_matrix: np.ndarray | None = None,
    dist_coeffs: np.ndarray | None = None,
) -> Calibration:
    spec = ArucoSpec.parse(spec) if isinstance(spec, str) else spec
    gray = to_gray(image)
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    detector = cv2.aruco.ArucoDetector(aruco_dictionary(spec.dictionary), params)
    corners, ids, _rejected = detector.detectMarkers(gray)
    seen = [] if ids is None else [int(i) for i in ids.ravel()]
    if spec.marker_id not in seen:
        listed = ", ".join(map(str, sorted(seen))) or "none"
        raise CalibrationError(
            f"ArUco marker {spec.marker_id} ({spec.dictionary}) not found; markers seen: {listed}"
        )
    px = corners[seen.index(spec.marker_id)].reshape(4, 2).astype(np.float64)
    calib = fit_table_plane(
        px,
        spec.object_points(),
        method="aruco",
        image_size=_image_size(gray),
        board=str(spec),
        camera_matrix=camera_matrix,
        dist_coeffs=dist_coeffs,
        robust=False,
    )
    calib.warnings.append(
        "a single marker gives exactly 4 corners: the fit has no redundancy, so its error cannot be checked; "
        "a ChArUco board is more accurate"
    )
    return calib


def calibrate_checkerboard(
    image: np.ndarray,
    spec: CheckerboardSpec | str,
    camera_matrix: np.ndarray | None = None,
    dist_coeffs: np.ndarray | None = None,
) -> Calibration:
    spec = CheckerboardSpec.parse(spec) if isinstance(spec, str) else spec
    gray = to_gray(image)
    flags = cv2.CALIB_CB_EXHAUSTIVE | cv2.CALIB_CB_ACCURACY | cv2.CALIB_CB_NORMALIZE_IMAGE
    found, corners = cv2.findChessboardCornersSB(gray, spec.inner_corners, flags=flags)
    if not found or corners is None:
        raise CalibrationError(
            f"checkerboard {spec} not found ({spec.inner_corners[0]}x{spec.inner_corners[1]} inner corners); "
            "the whole board must be visible and COLSxROWS counts squares"
        )
    # The corner order may start at any board corner; that only flips or turns the table frame,
    # which leaves every distance unchanged.
    return fit_table_plane(
        corners.reshape(-1, 2),
        spec.object_points(),
        method="checkerboard",
        image_size=_image_size(gray),
        board=str(spec),
        camera_matrix=camera_matrix,
        dist_coeffs=dist_coeffs,
    )


def calibrate_two_point(
    spec: TwoPointSpec | str,
    image_size: tuple[int, int],
    camera_matrix: np.ndarray | None = None,
    dist_coeffs: np.ndarray | None = None,
) -> Calibration:
    """Uniform scale from a known length between two clicked points (assumes a straight-down view).

    ``image_size`` (w, h) is the photo's the points were clicked on: the calibration records it, so it is
    refused on photos of another size (a resized photo has another scale). A scale known without a photo
    is ``Calibration.from_scale``.

    With lens intrinsics the two points are undistorted before their distance is taken, and the
    calibration keeps the intrinsics, so every point measured with it is undistorted the same way: a
    wide-angle webcam's barrel distortion otherwise shortens a line across the frame by several per cent.
    """
    spec = TwoPointSpec.parse(spec) if isinstance(spec, str) else spec
    try:
        width, height = (int(v) for v in image_size)
    except (TypeError, ValueError):
        width = height = 0
    if width <= 0 or height <= 0:
        raise CalibrationError(
            f"a two-point reference needs the size of the photo its points were taken on, got {image_size!r}"
        )
    check_intrinsics(camera_matrix, (width, height))
    lens = {}
    p1, p2 = np.asarray(spec.p1, np.float64), np.asarray(spec.p2, np.float64)
    if camera_matrix is not None:
        lens = {"camera_matrix": np.asarray(camera_matrix, np.float64),
                "dist_coeffs": None if dist_coeffs is None else np.asarray(dist_coeffs, np.float64)}
        p1, p2 = Calibration.from_scale(1.0, **lens).undistort_px([p1, p2])
    length_px = float(math.hypot(*(p2 - p1)))
    if length_px <= 0:
        raise CalibrationError("the two reference points coincide")
    return Calibration.from_scale(
        spec.length_mm / length_px,
        method="two-point",
        image_size=(width, height),
        **lens,
        board=str(spec),
        reprojection_error_px=0.0,
        reprojection_error_mm=0.0,
        num_points=2,
        warnings=[
            "a two-point reference gives one scale for the whole image: perspective tilt is not corrected"
        ],
    )


def calibrate_intrinsics(
    images: Sequence[np.ndarray], spec: CharucoSpec | str, min_views: int = 3
) -> tuple[np.ndarray, np.ndarray, float]:
    """Camera matrix, distortion (k3 fixed) and RMS px from several tilted ChArUco views."""
    spec = CharucoSpec.parse(spec) if isinstance(spec, str) else spec
    objects, points, size = [], [], None
    for index, image in enumerate(images):
        gray = to_gray(image)
        if size is not None and _image_size(gray) != size:
            raise CalibrationError(f"intrinsics view {index} has a different size from the first one")
        size = _image_size(gray)
        try:
            px, mm = detect_charuco(gray, spec)
        except CalibrationError:
            continue  # views without a usable board are skipped; the count is checked below
        objects.append(np.hstack([mm, np.zeros((len(mm), 1))]).astype(np.float32))
        points.append(px.astype(np.float32).reshape(-1, 1, 2))
    if len(objects) < min_views:
        raise CalibrationError(
            f"intrinsics need at least {min_views} views with the board found, got {len(objects)}"
        )
    rms, camera_matrix, dist, _r, _t = cv2.calibrateCamera(
        objects, points, size, None, None, flags=cv2.CALIB_FIX_K3
    )
    return camera_matrix, dist.ravel(), float(rms)
