"""Calibration targets: parse their specs, build the OpenCV boards, render printable images.

Table coordinates are millimetres on the board plane with the origin at the board's top-left
outer corner, x to the right and y down (as the printed image), so the table frame is the board frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np

DEFAULT_CHARUCO = "7x5:40:30:DICT_5X5_100"
DEFAULT_DICTIONARY = "DICT_5X5_100"


class BoardSpecError(ValueError):
    """A board or reference spec string cannot be understood."""


def aruco_dictionary(name: str) -> cv2.aruco.Dictionary:
    key = name.strip().upper()
    if not key.startswith("DICT_"):
        key = "DICT_" + key
    code = getattr(cv2.aruco, key, None)
    if not isinstance(code, int):
        raise BoardSpecError(f"unknown ArUco dictionary {name!r} (e.g. DICT_5X5_100, DICT_4X4_50)")
    return cv2.aruco.getPredefinedDictionary(code)


def _positive(value: str, what: str, spec: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise BoardSpecError(f"{what} {value!r} in {spec!r} is not a number") from None
    if not number > 0:
        raise BoardSpecError(f"{what} in {spec!r} must be positive, got {value}")
    return number


def _grid(text: str, spec: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise BoardSpecError(f"grid {text!r} in {spec!r} must look like COLSxROWS, e.g. 7x5")
    cols, rows = int(match.group(1)), int(match.group(2))
    if cols < 2 or rows < 2:
        raise BoardSpecError(f"grid in {spec!r} needs at least 2x2 squares")
    return cols, rows


@dataclass(frozen=True)
class CharucoSpec:
    """ChArUco board, written COLSxROWS:SQUARE_MM:MARKER_MM:DICT (squares, not inner corners)."""

    cols: int = 7
    rows: int = 5
    square_mm: float = 40.0
    marker_mm: float = 30.0
    dictionary: str = DEFAULT_DICTIONARY

    @classmethod
    def parse(cls, spec: str) -> CharucoSpec:
        parts = spec.split(":")
        if len(parts) not in (3, 4):
            raise BoardSpecError(
                f"ChArUco spec {spec!r} must be COLSxROWS:SQUARE_MM:MARKER_MM[:DICT], e.g. {DEFAULT_CHARUCO}"
            )
        cols, rows = _grid(parts[0], spec)
        square = _positive(parts[1], "square size", spec)
        marker = _positive(parts[2], "marker size", spec)
        if marker >= square:
            raise BoardSpecError(f"marker size must be smaller than the square size in {spec!r}")
        dictionary = parts[3].strip().upper() if len(parts) == 4 else DEFAULT_DICTIONARY
        result = cls(cols, rows, square, marker, dictionary)
        needed = (cols * rows) // 2
        if aruco_dictionary(dictionary).bytesList.shape[0] < needed:
            raise BoardSpecError(f"{dictionary} has too few markers for a {cols}x{rows} ChArUco board")
        return result

    def __str__(self) -> str:
        return f"{self.cols}x{self.rows}:{self.square_mm:g}:{self.marker_mm:g}:{self.dictionary}"

    @property
    def size_mm(self) -> tuple[float, float]:
        return self.cols * self.square_mm, self.rows * self.square_mm

    def board(self) -> cv2.aruco.CharucoBoard:
        return cv2.aruco.CharucoBoard(
            (self.cols, self.rows), self.square_mm, self.marker_mm, aruco_dictionary(self.dictionary)
        )


@dataclass(frozen=True)
class ArucoSpec:
    """One ArUco marker of known outer size, written ID:SIZE_MM[:DICT]."""

    marker_id: int
    size_mm: float
    dictionary: str = DEFAULT_DICTIONARY

    @classmethod
    def parse(cls, spec: str) -> ArucoSpec:
        parts = spec.split(":")
        if len(parts) not in (2, 3):
            raise BoardSpecError(f"ArUco spec {spec!r} must be ID:SIZE_MM[:DICT], e.g. 7:80")
        try:
            marker_id = int(parts[0])
        except ValueError:
            raise BoardSpecError(f"marker id {parts[0]!r} in {spec!r} is not an integer") from None
        size = _positive(parts[1], "marker size", spec)
        dictionary = parts[2].strip().upper() if len(parts) == 3 else DEFAULT_DICTIONARY
        count = aruco_dictionary(dictionary).bytesList.shape[0]
        if not 0 <= marker_id < count:
            raise BoardSpecError(f"marker id {marker_id} is outside {dictionary} (0..{count - 1})")
        return cls(marker_id, size, dictionary)

    def __str__(self) -> str:
        return f"{self.marker_id}:{self.size_mm:g}:{self.dictionary}"

    def object_points(self) -> np.ndarray:
        """Corners in ArUco order (top-left, top-right, bottom-right, bottom-left), in mm."""
        s = self.size_mm
        return np.array([[0, 0], [s, 0], [s, s], [0, s]], dtype=np.float64)


@dataclass(frozen=True)
class CheckerboardSpec:
    """Plain checkerboard, written COLSxROWS:SQUARE_MM counting squares (inner corners are one less)."""

    cols: int
    rows: int
    square_mm: float

    @classmethod
    def parse(cls, spec: str) -> CheckerboardSpec:
        parts = spec.split(":")
        if len(parts) != 2:
            raise BoardSpecError(
                f"checkerboard spec {spec!r} must be COLSxROWS:SQUARE_MM (squares), e.g. 9x6:25"
            )
        cols, rows = _grid(parts[0], spec)
        if cols < 3 or rows < 3:
            raise BoardSpecError(f"checkerboard {spec!r} needs at least 3x3 squares")
        return cls(cols, rows, _positive(parts[1], "square size", spec))

    def __str__(self) -> str:
        return f"{self.cols}x{self.rows}:{self.square_mm:g}"

    @property
    def inner_corners(self) -> tuple[int, int]:
        return self.cols - 1, self.rows - 1

    @property
    def size_mm(self) -> tuple[float, float]:
        return self.cols * self.square_mm, self.rows * self.square_mm

    def object_points(self) -> np.ndarray:
        """Inner corners row by row, in mm from the board's outer top-left corner."""
        nx, ny = self.inner_corners
        xs, ys = np.meshgrid(np.arange(1, nx + 1), np.arange(1, ny + 1))
        return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64) * self.square_mm


@dataclass(frozen=True)
class TwoPointSpec:
    """A manual reference: two image points a known distance apart, written X1,Y1,X2,Y2:LENGTH_MM."""

    p1: tuple[float, float]
    p2: tuple[float, float]
    length_mm: float

    @classmethod
    def parse(cls, spec: str) -> TwoPointSpec:
        head, sep, tail = spec.rpartition(":")
        coords = head.split(",") if sep else []
        if len(coords) != 4:
            raise BoardSpecError(
                f"two-point spec {spec!r} must be X1,Y1,X2,Y2:LENGTH_MM, e.g. 100,200,900,210:500"
            )
        try:
            x1, y1, x2, y2 = (float(c) for c in coords)
        except ValueError:
            raise BoardSpecError(f"two-point spec {spec!r} has a coordinate that is not a number") from None
        length = _positive(tail, "reference length", spec)
        if np.hypot(x2 - x1, y2 - y1) < 1.0:
            raise BoardSpecError(f"the two reference points in {spec!r} are less than 1 px apart")
        return cls((x1, y1), (x2, y2), length)

    def __str__(self) -> str:
        return f"{self.p1[0]:g},{self.p1[1]:g},{self.p2[0]:g},{self.p2[1]:g}:{self.length_mm:g}"


def render_charuco(spec: CharucoSpec, px_per_mm: float, margin_mm: float = 0.0) -> np.ndarray:
    """Grey image of the board at ``px_per_mm``, with an optional white quiet zone around it."""
    width_mm, height_mm = spec.size_mm
    size = (round(width_mm * px_per_mm), round(height_mm * px_per_mm))
    image = spec.board().generateImage(size, marginSize=0, borderBits=1)
    pad = round(margin_mm * px_per_mm)
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)
    return image


def render_aruco(spec: ArucoSpec, px_per_mm: float, margin_mm: float = 0.0) -> np.ndarray:
    side = round(spec.size_mm * px_per_mm)
    image = cv2.aruco.generateImageMarker(
        aruco_dictionary(spec.dictionary), spec.marker_id, side, borderBits=1
    )
    pad = round(margin_mm * px_per_mm)
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)
    return image


def render_checkerboard(spec: CheckerboardSpec, px_per_mm: float, margin_mm: float = 0.0) -> np.ndarray:
    cell = spec.square_mm * px_per_mm
    width, height = round(spec.cols * cell), round(spec.rows * cell)
    ys, xs = np.mgrid[0:height, 0:width]
    dark = ((np.floor(xs / cell) + np.floor(ys / cell)) % 2) == 0
    image = np.where(dark, 0, 255).astype(np.uint8)
    pad = round(margin_mm * px_per_mm)
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)
    return image
