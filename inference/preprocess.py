"""Geometry shared by training, export and inference: letterbox, top-down crop affine, SimCC decoding.

Written once here (NumPy/OpenCV only) so the three can never disagree on a half-pixel.
Convention: pixel centres are at integer coordinates (OpenCV's warpAffine convention).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

LETTERBOX_PAD_VALUE = 114


@dataclass(frozen=True)
class Letterbox:
    scale: float  # network pixels per image pixel
    input_size: tuple[int, int]  # (w, h)

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        return np.asarray(xy, dtype=np.float64) / self.scale


def letterbox(image: np.ndarray, input_size: tuple[int, int]) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping aspect ratio, image at the top-left, pad the rest with 114."""
    w_in, h_in = input_size
    h, w = image.shape[:2]
    scale = min(w_in / w, h_in / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((h_in, w_in, 3), LETTERBOX_PAD_VALUE, dtype=np.uint8)
    canvas[:new_h, :new_w] = resized
    return canvas, Letterbox(scale=scale, input_size=(w_in, h_in))


def box_to_center_scale(
    bbox: tuple[float, float, float, float], input_size: tuple[int, int], padding: float
) -> tuple[np.ndarray, np.ndarray]:
    """Box (x1,y1,x2,y2) → centre and (w, h) of the crop region, padded and widened to the input aspect."""
    x1, y1, x2, y2 = (float(v) for v in bbox)
    center = np.array([(x1 + x2) / 2.0, (y1 + y2) / 2.0])
    w, h = max(x2 - x1, 1.0) * padding, max(y2 - y1, 1.0) * padding
    aspect = input_size[0] / input_size[1]
    if w > h * aspect:
        h = w / aspect
    else:
        w = h * aspect
    return center, np.array([w, h])


def crop_affine(center: np.ndarray, scale: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """2×3 matrix mapping image pixels into the crop (axis-aligned: no rotation at inference)."""
    w_in, h_in = input_size
    sx = w_in / scale[0]
    sy = h_in / scale[1]
    return np.array(
        [
            [sx, 0.0, w_in / 2.0 - sx * center[0]],
            [0.0, sy, h_in / 2.0 - sy * center[1]],
        ]
    )


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def warp_crop(image: np.ndarray, matrix: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    return cv2.warpAffine(image, matrix, input_size, flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))


def normalize(images_hwc: np.ndarray, mean, std, to_rgb: bool) -> np.ndarray:
    """uint8 (..., H, W, 3) BGR → float32 (..., 3, H, W) normalised, in the card's channel order.

    mean/std are given in the output channel order. One transposing copy plus two in-place passes:
    this runs on every frame and every crop.
    """
    chw = np.moveaxis(np.asarray(images_hwc), -1, -3)
    if to_rgb:
        chw = chw[..., ::-1, :, :]
    out = chw.astype(np.float32, order="C")  # contiguous copy in (..., 3, H, W) order
    out -= np.asarray(mean, np.float32).reshape(3, 1, 1)
    out *= (1.0 / np.asarray(std, np.float64)).astype(np.float32).reshape(3, 1, 1)
    return out


def decode_simcc(
    simcc_x: np.ndarray, simcc_y: np.ndarray, split_ratio: float
) -> tuple[np.ndarray, np.ndarray]:
    """SimCC logits (B,K,Wx), (B,K,Wy) → crop coordinates (B,K,2) and scores (B,K) in [0,1].

    Position: the vertex of the parabola through the peak bin's logit and its two neighbours (at most half a
    bin from the peak; a peak on the first or last bin stays there), so landmarks are not snapped to the
    1/split-pixel bin grid. Score = mean of the two softmax peak probabilities.
    """
    def peak_and_position(logits):
        # argmax of the logits is the softmax's argmax; the peak probability is 1 / sum(exp(l - max)).
        index = logits.argmax(axis=-1)
        peak = np.take_along_axis(logits, index[..., None], axis=-1)
        probability = 1.0 / np.exp(logits - peak).sum(axis=-1)
        bins = logits.shape[-1]
        before = np.take_along_axis(logits, np.maximum(index - 1, 0)[..., None], axis=-1)[..., 0]
        after = np.take_along_axis(logits, np.minimum(index + 1, bins - 1)[..., None], axis=-1)[..., 0]
        curvature = before - 2.0 * peak[..., 0] + after
        inside = (index > 0) & (index < bins - 1) & (curvature < 0)
        offset = np.where(inside, 0.5 * (before - after) / np.where(inside, curvature, -1.0), 0.0)
        return index + np.clip(offset, -0.5, 0.5), probability

    x, px = peak_and_position(np.asarray(simcc_x, dtype=np.float64))
    y, py = peak_and_position(np.asarray(simcc_y, dtype=np.float64))
    coords = np.stack([x, y], axis=-1) / split_ratio
    return coords, ((px + py) / 2.0).astype(np.float32)
