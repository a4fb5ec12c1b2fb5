"""Training samples (NumPy/OpenCV, torch-free): detector inputs with box targets, pose crops with SimCC targets.

All geometry comes from ``inference.preprocess`` (letterbox, box_to_center_scale, crop_affine, warp_crop,
normalize), the same functions the runtime uses, so training and inference cannot drift. Augmentation only
composes extra affines (rotation, mirror) on top of the inference crop affine.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from inference.annotation import Garment, Visibility
from inference.preprocess import (
    apply_affine,
    box_to_center_scale,
    crop_affine,
    letterbox,
    normalize,
    warp_crop,
)
from inference.schema import deepfashion2

# RTMPose/ImageNet statistics on 0..255 RGB pixels; recorded in the model card.
MEAN_RGB = (123.675, 116.28, 103.53)
STD_RGB = (58.395, 57.12, 57.375)


@dataclass(frozen=True)
class PoseAugment:
    shift: float = 0.08  # centre jitter, fraction of the crop region
    scale: tuple[float, float] = (0.8, 1.25)
    rotation: float = 30.0  # degrees, applied with probability rotation_prob
    rotation_prob: float = 0.5
    # Any angle, with this probability instead of the small rotation, for garments laid upside down or
    # sideways. Off by default: 0.1 for 20 epochs (model 0.5.0, docs/models/bootstrap.md) did not fix the
    # upside-down sample skirt and threw the sample shorts' waist centre 350 px off.
    full_turn_prob: float = 0.0
    flip_prob: float = 0.5


def garment_arrays(garment: Garment) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local keypoints → 81-slot xy (81,2), visibility (81,) and category slot mask (81,)."""
    schema = deepfashion2()
    xy = np.array([[kp.x, kp.y] for kp in garment.keypoints], dtype=np.float64).reshape(-1, 2)
    vis = np.array([int(kp.visibility) for kp in garment.keypoints], dtype=np.float64)
    agg_xy, mask = schema.local_to_agg81(garment.category_id, xy)
    agg_vis, _ = schema.local_to_agg81(garment.category_id, vis)
    return agg_xy, agg_vis, mask


def colour_jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-8, 8)) % 180
    hsv[..., 1] *= rng.uniform(0.6, 1.4)
    hsv[..., 2] *= rng.uniform(0.7, 1.3)
    out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR)
    if rng.random() < 0.2:
        out = cv2.GaussianBlur(out, (3, 3), rng.uniform(0.3, 1.2))
    if rng.random() < 0.1:
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return out


def simcc_targets(points: np.ndarray, input_size: tuple[int, int], split: float, sigma: float):
    """Crop points (K,2) → Gaussian SimCC labels over x bins (K, W·split) and y bins (K, H·split)."""
    bins_x = np.arange(int(input_size[0] * split), dtype=np.float32)
    bins_y = np.arange(int(input_size[1] * split), dtype=np.float32)
    mu = points.astype(np.float32) * split
    tx = np.exp(-((bins_x[None] - mu[:, :1]) ** 2) / (2 * sigma**2))
    ty = np.exp(-((bins_y[None] - mu[:, 1:]) ** 2) / (2 * sigma**2))
    return tx.astype(np.float32), ty.astype(np.float32)


def simcc_peak_reference(sigma: float, bins: int, beta: float = 10.0) -> float:
    """Softmax peak of the SimCC training target (a Gaussian of ``sigma`` bins sharpened by softmax(beta·g),
    over ``bins`` bins) for a point on the centre bin: the most confident distribution training asks for."""
    offsets = np.arange(bins, dtype=np.float64) - bins // 2
    logits = beta * np.exp(-(offsets**2) / (2 * sigma**2))
    target = np.exp(logits - logits.max())
    return float(target.max() / target.sum())


def pose_crop_matrix(
    bbox, input_size: tuple[int, int], padding: float, rng: np.random.Generator | None, aug: PoseAugment
) -> tuple[np.ndarray, bool]:
    """The inference crop affine, optionally jittered (shift, scale, rotation) and mirrored."""
    center, scale = box_to_center_scale(bbox, input_size, padding)
    flipped = False
    if rng is None:
        return crop_affine(center, scale, input_size), flipped
    center = center + rng.uniform(-aug.shift, aug.shift, 2) * scale
    scale = scale * rng.uniform(*aug.scale)
    matrix = np.vstack([crop_affine(center, scale, input_size), [0.0, 0.0, 1.0]])
    w_in, h_in = input_size
    draw = rng.random()
    if draw < aug.full_turn_prob:
        angle = rng.uniform(-180.0, 180.0)
    elif draw < aug.full_turn_prob + aug.rotation_prob:
        angle = rng.uniform(-aug.rotation, aug.rotation)
    else:
        angle = 0.0
    if angle:
        rot = cv2.getRotationMatrix2D((w_in / 2.0, h_in / 2.0), angle, 1.0)
        matrix = np.vstack([rot, [0.0, 0.0, 1.0]]) @ matrix
    if rng.random() < aug.flip_prob:
        # Mirror about the crop centre, the same point the box centre maps to.
        matrix = np.array([[-1.0, 0.0, float(w_in)], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ matrix
        flipped = True
    return matrix[:2], flipped


def pose_sample(
    image: np.ndarray,
    garment: Garment,
    input_size: tuple[int, int],
    padding: float,
    split: float,
    sigma: float,
    rng: np.random.Generator | None = None,
    aug: PoseAugment = PoseAugment(),
) -> dict[str, np.ndarray]:
    """One normalised crop with its SimCC targets and per-slot loss weight (category slot ∧ labelled ∧ inside)."""
    agg_xy, agg_vis, mask = garment_arrays(garment)
    matrix, flipped = pose_crop_matrix(garment.bbox, input_size, padding, rng, aug)
    crop = warp_crop(image, matrix, input_size)
    if rng is not None:
        crop = colour_jitter(crop, rng)
    points = apply_affine(matrix, agg_xy)
    if flipped:
        perm = deepfashion2().agg81_flip_index
        points, agg_vis, mask = points[perm], agg_vis[perm], mask[perm]
    w_in, h_in = input_size
    inside = (points[:, 0] >= 0) & (points[:, 0] <= w_in - 1) & (points[:, 1] >= 0) & (points[:, 1] <= h_in - 1)
    weight = (mask & (agg_vis > 0) & inside).astype(np.float32)
    tx, ty = simcc_targets(np.clip(points, 0, max(input_size)), input_size, split, sigma)
    return {
        "crops": normalize(crop, MEAN_RGB, STD_RGB, to_rgb=True),
        "target_x": tx,
        "target_y": ty,
        "weight": weight,
        "category": np.int64(garment.category_id - 1),
        "points": points.astype(np.float32),
        "matrix": matrix.astype(np.float64),
    }


def usable_for_pose(garment: Garment, min_points: int = 3) -> bool:
    labelled = sum(1 for kp in garment.keypoints if kp.visibility != Visibility.ABSENT)
    x1, y1, x2, y2 = garment.bbox
    return labelled >= min_points and x2 - x1 > 4 and y2 - y1 > 4


def detection_sample(
    image: np.ndarray, garments: list[Garment], input_size: tuple[int, int], rng: np.random.Generator | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Letterboxed, normalised image (3,H,W) with boxes (n,4) in network pixels and class indices (n,)."""
    boxes = np.array([g.bbox for g in garments], dtype=np.float64).reshape(-1, 4)
    classes = np.array([g.category_id - 1 for g in garments], dtype=np.int64)
    if rng is not None:
        image, boxes, classes = _random_crop_flip(image, boxes, classes, rng)
        image = colour_jitter(image, rng)
    boxed, lb = letterbox(image, input_size)
    return normalize(boxed, MEAN_RGB, STD_RGB, to_rgb=True), (boxes * lb.scale).astype(np.float32), classes


def _random_crop_flip(image, boxes, classes, rng):
    h, w = image.shape[:2]
    if rng.random() < 0.6:
        s = rng.uniform(0.6, 1.0)
        cw, ch = w * s, h * rng.uniform(max(0.6, s - 0.15), min(1.0, s + 0.15))
        x0, y0 = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
        clipped = boxes.copy()
        clipped[:, [0, 2]] = np.clip(boxes[:, [0, 2]] - x0, 0, cw)
        clipped[:, [1, 3]] = np.clip(boxes[:, [1, 3]] - y0, 0, ch)
        area = lambda b: np.maximum(b[:, 2] - b[:, 0], 0) * np.maximum(b[:, 3] - b[:, 1], 0)  # noqa: E731
        keep = area(clipped) >= 0.6 * np.maximum(area(boxes), 1e-6)
        partial = (area(clipped) > 0) & ~keep
        if not partial.any():  # never cut a garment in half silently: skip the crop instead
            image = image[int(y0) : int(y0 + ch), int(x0) : int(x0 + cw)]
            boxes, classes = clipped[keep] + [x0 - int(x0), y0 - int(y0)] * 2, classes[keep]
    if rng.random() < 0.5:
        w_now = image.shape[1]
        image = image[:, ::-1]
        boxes = boxes.copy()
        boxes[:, [0, 2]] = (w_now - 1) - boxes[:, [2, 0]]
    return np.ascontiguousarray(image), boxes, classes
