"""Rendered table scenes with exactly known geometry, for tests and accuracy checks.

A board and a flat garment are drawn on a table in millimetres, then photographed by a virtual
pinhole camera tilted about the table's x and y axes (a pure homography, no lens distortion), so
the true image -> table mapping and the true landmark positions in both frames are known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from measure.boards import CharucoSpec, render_charuco

# A short sleeve top laid flat, DF2 landmarks 1..25 in mm, origin at its top-left; front view.
# fmt: off
SHORT_SLEEVE_TOP_MM = np.array(
    [
        [250, 20], [200, 10], [215, 40], [250, 75], [285, 40], [300, 10],  # neck 1-6
        [110, 40], [40, 110], [0, 190], [70, 240], [105, 170],  # left shoulder .. left sleeve inner 7-11
        [125, 185], [128, 260], [132, 420], [130, 600], [250, 610], [370, 600],  # armpit .. hem 12-17
        [368, 420], [372, 260], [375, 185],  # right side 18-20
        [395, 170], [430, 240], [500, 190], [460, 110], [390, 40],  # right sleeve .. right shoulder 21-25
    ],
    dtype=np.float64,
)
# fmt: on


@dataclass
class TableScene:
    image: np.ndarray  # BGR photo
    image_to_table: np.ndarray  # true 3x3 homography, image px -> table mm
    board: CharucoSpec
    garment_mm: np.ndarray  # (n, 2) true landmarks on the table

    def table_to_image(self, points_mm: np.ndarray) -> np.ndarray:
        pts = np.asarray(points_mm, dtype=np.float64).reshape(-1, 1, 2)
        return cv2.perspectiveTransform(pts, np.linalg.inv(self.image_to_table)).reshape(-1, 2)

    @property
    def garment_px(self) -> np.ndarray:
        return self.table_to_image(self.garment_mm)


def camera_homography(
    tilt_x_deg: float,
    tilt_y_deg: float,
    region_mm: tuple[float, float, float, float],
    image_size: tuple[int, int],
    distance_mm: float = 1200.0,
    fill: float = 0.92,
) -> np.ndarray:
    """Table mm -> image px for a camera aimed at the centre of ``region_mm`` (x0, y0, x1, y1), tilted.

    The focal length and image offset are then chosen so the region fills ``fill`` of the frame.
    """
    x0, y0, x1, y1 = region_mm
    centre = np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0, 0.0])
    ax, ay = math.radians(tilt_x_deg), math.radians(tilt_y_deg)
    rot_x = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    rot_y = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]])
    rotation = rot_x @ rot_y
    translation = -rotation @ centre + np.array([0.0, 0.0, distance_mm])
    plane = np.column_stack([rotation[:, 0], rotation[:, 1], translation])  # K = identity for now
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64).reshape(-1, 1, 2)
    projected = cv2.perspectiveTransform(corners, plane).reshape(-1, 2)
    lo, hi = projected.min(axis=0), projected.max(axis=0)
    width, height = image_size
    scale = fill * min(width / (hi[0] - lo[0]), height / (hi[1] - lo[1]))
    offset = np.array([width, height]) / 2.0 - scale * (lo + hi) / 2.0
    intrinsics = np.array([[scale, 0, offset[0]], [0, scale, offset[1]], [0, 0, 1]])
    homography = intrinsics @ plane
    return homography / homography[2, 2]


def render_table_scene(
    tilt_x_deg: float = 0.0,
    tilt_y_deg: float = 0.0,
    board: CharucoSpec | None = None,
    garment_mm: np.ndarray | None = None,
    garment_origin_mm: tuple[float, float] = (330.0, 0.0),
    image_size: tuple[int, int] = (1600, 1200),
    canvas_px_per_mm: float = 4.0,
    seed: int = 0,
) -> TableScene:
    """Board at the table origin, the garment beside it, photographed with the given tilt."""
    board = board or CharucoSpec()
    garment = (
        SHORT_SLEEVE_TOP_MM if garment_mm is None else np.asarray(garment_mm, dtype=np.float64)
    ) + np.asarray(garment_origin_mm)
    board_w, board_h = board.size_mm
    margin = 30.0
    region = (
        -margin,
        -margin,
        max(board_w, float(garment[:, 0].max())) + margin,
        max(board_h, float(garment[:, 1].max())) + margin,
    )
    table_to_image = camera_homography(tilt_x_deg, tilt_y_deg, region, image_size)

    # Draw the table top on a fine canvas in mm, then photograph it through the homography.
    s = canvas_px_per_mm
    canvas_w, canvas_h = round((region[2] - region[0]) * s), round((region[3] - region[1]) * s)
    rng = np.random.default_rng(seed)
    canvas = np.full((canvas_h, canvas_w, 3), (150, 160, 170), dtype=np.uint8)
    canvas = cv2.add(canvas, rng.integers(0, 12, canvas.shape, dtype=np.uint8))
    board_img = cv2.cvtColor(render_charuco(board, s), cv2.COLOR_GRAY2BGR)
    bx, by = round(-region[0] * s), round(-region[1] * s)
    canvas[by : by + board_img.shape[0], bx : bx + board_img.shape[1]] = board_img
    canvas_from_table = np.array([[s, 0, -region[0] * s], [0, s, -region[1] * s], [0, 0, 1]])
    outline = cv2.perspectiveTransform(garment.reshape(-1, 1, 2), canvas_from_table).reshape(-1, 2)
    if len(garment) == len(SHORT_SLEEVE_TOP_MM):
        ring = outline[[0, 1, *range(6, 25), 5]]
        cv2.fillPoly(canvas, [np.round(ring * 16).astype(np.int32)], (60, 90, 170), cv2.LINE_AA, shift=4)
    # a canvas pixel centre sits at (i + 0.5) / s mm: shift by half a pixel so the mapping is exact
    half = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]])
    image_from_canvas = table_to_image @ np.linalg.inv(half @ canvas_from_table)
    # low-pass before shrinking so the board edges do not alias
    shrink = math.sqrt(abs(np.linalg.det(image_from_canvas[:2, :2])))
    if shrink < 1.0:
        canvas = cv2.GaussianBlur(canvas, (0, 0), 0.5 / shrink)
    image = cv2.warpPerspective(
        canvas, image_from_canvas, image_size, flags=cv2.INTER_LINEAR, borderValue=(90, 90, 90)
    )
    image_to_table = np.linalg.inv(table_to_image)
    return TableScene(image, image_to_table / image_to_table[2, 2], board, garment)
