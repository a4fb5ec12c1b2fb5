"""A calibrated table plane: image pixels -> table millimetres, with optional lens intrinsics.

The mapping is a homography ``H`` (image -> table mm) applied after undistorting the points with
the camera matrix and distortion coefficients when those are known. ``to_dict``/``from_dict`` give a
JSON-safe payload for CALIB.json files and the project store's calibration profiles.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

FORMAT = "garment-studio-calibration/1"

# Extrapolation warning. A plane fitted to a board's noisy corners errs, away from the board, about as the
# fit's RMS (mm) times the square of the distance from the board centre in board half-diagonals: the fitted
# perspective makes a scale error that grows with the distance, on lengths that grow with it. A garment is
# warned about when RMS x reach^2 exceeds EXTRAPOLATION_LIMIT_MM. Measured on 97 synthetic workstation photos
# (`garment-studio synth --mode workstation --board always --size 1600x1200`, seeds 0, 1000 and 5000; 178
# garments, 795 POMs measured from their exact keypoints through the detected 7x5:40 board, against the true
# plane; POM errors median 1.1 mm, max 48 mm): every garment reaches 5.4-14.8 half-diagonals, so the old limit
# (3 half-diagonals) warned on all of them; the fit RMS is 0.02-0.66 mm and RMS x reach^2 runs 1-101 mm
# (median 10). Its rank correlation with a garment's worst POM error is 0.76 (the reach alone: 0.50). Above
# 20 mm: 38 of 178 garments warned (13 of 36 in the first 20 photos), 28 of the 39 whose worst error exceeds
# 5 mm among them, 3 of the 52 whose worst error is at most 1 mm; worst error of warned garments median 7.9 mm,
# of the others 1.6 mm (90 % below 4.8 mm). 15 mm would warn on 60 garments (34 of the 39), among them half
# of the first 20 photos' garments, i.e. the typical one.
EXTRAPOLATION_LIMIT_MM = 20.0
# A fit with no redundancy (one ArUco marker's 4 corners) has no RMS to go by: take the median of those
# photos, 0.1 % of the board's half-diagonal (0.12 mm on the 7x5:40 board).
NO_REDUNDANCY_RMS_FRACTION = 0.001


# A uniform scale outside these is no photo of a table: 1 µm to 10 m per pixel.
MIN_MM_PER_PX = 1e-3
MAX_MM_PER_PX = 1e4


class CalibrationError(ValueError):
    """Calibration could not be made, loaded or applied; the message says why."""


def _matrix(value, shape: tuple[int, ...], what: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):  # numpy's own message (inhomogeneous shape…) does not help the user
        raise CalibrationError(f"{what} must be a finite {shape} array of numbers, got {value!r:.60}") from None
    if array.shape != shape or not np.all(np.isfinite(array)):
        raise CalibrationError(f"{what} must be a finite {shape} array, got shape {array.shape}")
    return array


def _outline(value, what: str) -> list[list[float]] | None:
    """An optional polygon of (x, y) points, as plain floats."""
    if value is None:
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        array = np.empty(0)
    if array.size == 0 and array.ndim == 1:
        return []
    if array.ndim != 2 or array.shape[1] != 2 or not np.all(np.isfinite(array)):
        raise CalibrationError(f"{what} must be a list of finite [x, y] points")
    return array.tolist()


@dataclass
class Calibration:
    """Image -> table-plane mapping plus how well it fits."""

    method: str  # "charuco", "aruco", "checkerboard", "two-point" or "scale"
    homography: np.ndarray  # 3x3, undistorted image px -> table mm
    image_size: tuple[int, int] | None = None  # (w, h) the calibration is valid for
    camera_matrix: np.ndarray | None = None
    dist_coeffs: np.ndarray | None = None
    reprojection_error_px: float | None = None  # RMS, detected corners vs board model projected
    reprojection_error_mm: float | None = None  # RMS, detected corners mapped to the table vs board model
    num_points: int = 0
    board: str | None = None  # the spec string the target was parsed from
    board_region_mm: list[list[float]] | None = None  # outline of the detected target on the table
    board_region_px: list[list[float]] | None = None
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.homography = _matrix(self.homography, (3, 3), "homography")
        if abs(np.linalg.det(self.homography)) < 1e-18:
            raise CalibrationError("homography is singular")
        if self.camera_matrix is not None:
            self.camera_matrix = _matrix(self.camera_matrix, (3, 3), "camera_matrix")
            try:
                dist = np.asarray(self.dist_coeffs if self.dist_coeffs is not None else [], dtype=np.float64)
            except (TypeError, ValueError):
                raise CalibrationError(f"dist_coeffs is not a list of numbers: {self.dist_coeffs!r:.60}") from None
            # the lengths OpenCV's distortion models take (none: an ideal lens)
            if dist.size not in (0, 4, 5, 8, 12, 14) or not np.all(np.isfinite(dist)):
                raise CalibrationError(f"dist_coeffs must be 4, 5, 8, 12 or 14 finite numbers, got {dist.size}")
            self.dist_coeffs = dist.ravel()

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_scale(cls, mm_per_px: float, method: str = "scale", **kwargs) -> Calibration:
        """A straight-down view with a known uniform scale (no perspective)."""
        if not (isinstance(mm_per_px, int | float) and math.isfinite(mm_per_px) and mm_per_px > 0):
            raise CalibrationError(f"mm per px must be a positive number, got {mm_per_px!r}")
        if not MIN_MM_PER_PX <= mm_per_px <= MAX_MM_PER_PX:  # beyond these, a typo (and squares overflow)
            raise CalibrationError(
                f"mm per px {mm_per_px:g} is outside {MIN_MM_PER_PX:g}..{MAX_MM_PER_PX:g}: a photo of a garment "
                "is a few tenths of a mm to a few mm per pixel")
        return cls(method=method, homography=np.diag([mm_per_px, mm_per_px, 1.0]), **kwargs)

    # -- mapping ------------------------------------------------------------------------------
    @property
    def has_intrinsics(self) -> bool:
        return self.camera_matrix is not None

    def undistort_px(self, points) -> np.ndarray:
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if not self.has_intrinsics or len(pts) == 0:
            return pts
        # iterate to convergence: the default 5 iterations leave ~0.02 px near strongly distorted corners
        criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-10)
        out = cv2.undistortPointsIter(
            pts.reshape(-1, 1, 2), self.camera_matrix, self.dist_coeffs, None, self.camera_matrix, criteria
        )
        return out.reshape(-1, 2)

    def distort_px(self, points) -> np.ndarray:
        """Inverse of undistort_px: ideal pixel positions -> where the lens puts them in the photo."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if not self.has_intrinsics or len(pts) == 0:
            return pts
        k = self.camera_matrix
        normalised = (pts - k[:2, 2]) / np.array([k[0, 0], k[1, 1]])
        obj = np.hstack([normalised, np.ones((len(pts), 1))])
        img, _ = cv2.projectPoints(obj, np.zeros(3), np.zeros(3), k, self.dist_coeffs)
        return img.reshape(-1, 2)

    def image_to_table_mm(self, points) -> np.ndarray:
        """(n, 2) image pixels -> (n, 2) table millimetres."""
        pts = self.undistort_px(points)
        if len(pts) == 0:
            return pts
        return cv2.perspectiveTransform(pts.reshape(-1, 1, 2), self.homography).reshape(-1, 2)

    def table_mm_to_image(self, points) -> np.ndarray:
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if len(pts) == 0:
            return pts
        ideal = cv2.perspectiveTransform(pts.reshape(-1, 1, 2), np.linalg.inv(self.homography)).reshape(-1, 2)
        return self.distort_px(ideal)

    def scale_at(self, x: float, y: float) -> float:
        """Local mm per px at an image point: the square root of the mapping's area scale."""
        pts = np.array([[x, y], [x + 1.0, y], [x, y + 1.0]])
        mm = self.image_to_table_mm(pts)
        jac = np.column_stack([mm[1] - mm[0], mm[2] - mm[0]])
        return float(math.sqrt(abs(np.linalg.det(jac))))

    @property
    def mm_per_px(self) -> float:
        """Representative scale, taken at the image centre (or the origin when the size is unknown)."""
        if self.image_size:
            return self.scale_at(self.image_size[0] / 2.0, self.image_size[1] / 2.0)
        return self.scale_at(0.0, 0.0)

    # -- checks -------------------------------------------------------------------------------
    def extrapolation_warning(self, image_points) -> str | None:
        """A warning when points lie so far from the calibrated target, for its fit error, that the plane is
        likely off by millimetres there (see EXTRAPOLATION_LIMIT_MM)."""
        if not self.board_region_mm:
            return None
        region = np.asarray(self.board_region_mm, dtype=np.float64)
        centre = region.mean(axis=0)
        half_diag = float(np.max(np.linalg.norm(region - centre, axis=1)))
        pts = self.image_to_table_mm(image_points)
        if len(pts) == 0 or half_diag <= 0:
            return None
        reach = float(np.max(np.linalg.norm(pts - centre, axis=1))) / half_diag
        rms = self.reprojection_error_mm
        if rms is None or self.num_points <= 4:  # an exact fit (or an old profile without its error)
            rms = NO_REDUNDANCY_RMS_FRACTION * half_diag
        if rms * reach**2 > EXTRAPOLATION_LIMIT_MM:
            return (
                f"the garment reaches {reach:.1f} board half-diagonals ({reach * half_diag:.0f} mm) from the board "
                f"centre, too far for the board's fit ({rms:.2f} mm RMS): the table plane is extrapolated there and "
                "lengths may be off by several mm; use a larger board, place it next to the garment or move the "
                "camera closer"
            )
        return None

    def intrinsics_for(self, width: int, height: int) -> tuple[np.ndarray, np.ndarray | None]:
        """This calibration's lens intrinsics (camera matrix, distortion) for a photo of width x height px.

        Refused when they were made on images of another size. Rescaling the camera matrix would be right for
        a plain resize only; a photo of another size may as well be a crop, another sensor mode or another
        camera, which no rescale fixes, and the error (a few per cent of every length) would go unnoticed.
        Intrinsics without a recorded size (hand-made files) are taken as they are."""
        if not self.has_intrinsics:
            raise CalibrationError("this calibration holds no lens intrinsics")
        if self.image_size and tuple(self.image_size) != (int(width), int(height)):
            raise CalibrationError(
                f"the lens intrinsics were made on {self.image_size[0]}x{self.image_size[1]} images, this photo "
                f"is {width}x{height}: they do not apply (a resized, cropped or other camera's photo has another "
                "camera matrix); compute them at this size (--intrinsic-views with photos of this size)"
            )
        return self.camera_matrix, self.dist_coeffs

    def check_image_size(self, width: int, height: int) -> None:
        if self.image_size and tuple(self.image_size) != (int(width), int(height)):
            raise CalibrationError(
                f"calibration was made for {self.image_size[0]}x{self.image_size[1]} images, this image is "
                f"{width}x{height}; recalibrate (a resized or re-framed photo has a different mapping)"
            )

    # -- (de)serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict:
        def floats(a):
            return None if a is None else np.asarray(a, dtype=np.float64).tolist()

        return {
            "format": FORMAT,
            "method": self.method,
            "homography": floats(self.homography),
            "image_size": list(self.image_size) if self.image_size else None,
            "camera_matrix": floats(self.camera_matrix),
            "dist_coeffs": floats(self.dist_coeffs),
            "reprojection_error_px": self.reprojection_error_px,
            "reprojection_error_mm": self.reprojection_error_mm,
            "mm_per_px": self.mm_per_px,
            "num_points": int(self.num_points),
            "board": self.board,
            "board_region_mm": self.board_region_mm,
            "board_region_px": self.board_region_px,
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        """A calibration from its payload; any malformed field is a CalibrationError naming it (files are
        hand-edited and profiles come from older builds, so nothing here may surface as a TypeError)."""
        if not isinstance(data, dict):
            raise CalibrationError("calibration payload must be a JSON object")
        if data.get("format") != FORMAT:
            raise CalibrationError(f"calibration format {data.get('format')!r} is not {FORMAT!r}")
        for key in ("method", "homography"):
            if key not in data:
                raise CalibrationError(f"calibration payload lacks {key!r}")
        size = data.get("image_size")
        if size is not None:
            try:
                ok = isinstance(size, list | tuple) and len(size) == 2 and all(int(v) > 0 for v in size)
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise CalibrationError(f"image_size must be [width, height] in pixels, got {size!r}")
            size = (int(size[0]), int(size[1]))

        def number(key, kind=float):
            value = data.get(key)
            if value is None:
                return None
            try:
                return kind(value)
            except (TypeError, ValueError, OverflowError):
                raise CalibrationError(f"{key} must be a number, got {value!r}") from None

        warnings = data.get("warnings") or []
        if not isinstance(warnings, list):
            raise CalibrationError(f"warnings must be a list of texts, got {warnings!r}")
        method = data["method"]
        if not (isinstance(method, str) and method):
            raise CalibrationError(f"method must be a name such as 'charuco', got {method!r}")
        board = data.get("board")
        if not isinstance(board, str | None):
            raise CalibrationError(f"board must be a board spec text, got {board!r}")
        try:
            return cls(
                method=method,
                homography=_matrix(data["homography"], (3, 3), "homography"),
                image_size=size,
                camera_matrix=data.get("camera_matrix"),
                dist_coeffs=data.get("dist_coeffs"),
                reprojection_error_px=number("reprojection_error_px"),
                reprojection_error_mm=number("reprojection_error_mm"),
                num_points=number("num_points", int) or 0,
                board=board,
                board_region_mm=_outline(data.get("board_region_mm"), "board_region_mm"),
                board_region_px=_outline(data.get("board_region_px"), "board_region_px"),
                warnings=[str(w) for w in warnings],
            )
        except CalibrationError:
            raise
        except (TypeError, ValueError) as exc:  # whatever the checks above did not foresee
            raise CalibrationError(f"malformed calibration payload: {exc}") from None

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except UnicodeDecodeError:  # a photo or other binary file given by mistake
            raise CalibrationError(f"cannot read calibration file {path}: not a JSON text file") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise CalibrationError(f"cannot read calibration file {path}: {exc}") from exc
        try:
            return cls.from_dict(data)
        except CalibrationError as exc:
            raise CalibrationError(f"{path}: {exc}") from exc
