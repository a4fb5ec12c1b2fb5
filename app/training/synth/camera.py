"""Workstation camera geometry (table mm -> image) and photographic degradations."""

from __future__ import annotations

import cv2
import numpy as np


def _rot(axis: str, a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def table_camera(rng: np.random.Generator, width: int, height: int, max_tilt_deg: float = 20.0):
    """A pinhole camera above a table (z=0, z axis pointing down into the table).

    Returns (H, mm_per_px): H maps table millimetres to image pixels; mm_per_px is the local scale
    at the image centre (exact up to the perspective change across the image).
    """
    # The view spans about 1.0-1.9 m of table whatever the resolution: a larger image is a finer scale.
    mm_per_px = rng.uniform(1.6, 3.0) * 640.0 / width
    height_mm = rng.uniform(800, 1600)
    f = height_mm / mm_per_px
    K = np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1]])
    tilt = np.radians(rng.uniform(0, max_tilt_deg))
    tilt_dir = rng.uniform(0, 2 * np.pi)
    R = _rot("z", rng.uniform(-np.pi, np.pi) if rng.random() < 0.2 else rng.uniform(-0.15, 0.15))
    R = _rot("x", tilt * np.cos(tilt_dir)) @ _rot("y", tilt * np.sin(tilt_dir)) @ R
    forward = R.T @ np.array([0.0, 0.0, 1.0])  # optical axis in table coordinates
    centre = -forward * height_mm / max(forward[2], 1e-6)  # camera centre; the axis hits the table origin
    t = -R @ centre
    H = K @ np.column_stack([R[:, 0], R[:, 1], t])
    H /= H[2, 2]
    return H, local_mm_per_px(np.linalg.inv(H), (width - 1) / 2, (height - 1) / 2)


def local_mm_per_px(img_to_mm: np.ndarray, x: float, y: float) -> float:
    """Geometric-mean scale of an image->table homography at pixel (x, y)."""
    pts = np.array([[x, y, 1], [x + 1, y, 1], [x, y + 1, 1]], float) @ img_to_mm.T
    pts = pts[:, :2] / pts[:, 2:3]
    jac = np.column_stack([pts[1] - pts[0], pts[2] - pts[0]])
    return float(np.sqrt(abs(np.linalg.det(jac))))


def lighting(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Multiplicative light field: window gradient plus vignetting, float32 (h, w)."""
    sh, sw = max(2, h // 16), max(2, w // 16)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    yy, xx = yy / (sh - 1) - 0.5, xx / (sw - 1) - 0.5
    ang = rng.uniform(0, 2 * np.pi)
    grad = (xx * np.cos(ang) + yy * np.sin(ang)) * rng.uniform(0.0, 0.45)
    vignette = 1 - rng.uniform(0.0, 0.35) * (xx**2 + yy**2) * 2
    return cv2.resize(((1 + grad) * vignette).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)


def photograph(rng: np.random.Generator, img: np.ndarray, effects: bool = True) -> np.ndarray:
    """Float BGR [0,1] scene -> uint8 photo: light, white balance, exposure, blur, noise, JPEG."""
    h, w = img.shape[:2]
    if not effects:
        return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    warm = rng.uniform(-0.12, 0.18)  # indoor light is mostly warm
    cast = np.array([1 - warm, 1.0, 1 + warm * 0.8]) * rng.uniform(0.95, 1.05, 3) * rng.uniform(0.75, 1.25)
    light = cv2.cvtColor(lighting(rng, h, w), cv2.COLOR_GRAY2BGR)
    scaled = cv2.transform(img, np.diag(cast * 255.0).astype(np.float32))
    photo = cv2.convertScaleAbs(cv2.multiply(scaled, light))  # rounds and saturates to uint8
    gamma = rng.uniform(0.8, 1.2)
    lut = np.clip((np.arange(256) / 255.0) ** gamma * 255 + 0.5, 0, 255).astype(np.uint8)
    photo = cv2.LUT(photo, lut)
    r = rng.random()
    if r < 0.35:
        photo = cv2.GaussianBlur(photo, (0, 0), rng.uniform(0.4, 1.3))
    elif r < 0.45:  # slight hand shake
        k = int(rng.integers(3, 8))
        kernel = np.zeros((k, k), np.float32)
        ang = rng.uniform(0, np.pi)
        c = (k - 1) / 2
        cv2.line(kernel, (int(round(c - c * np.cos(ang))), int(round(c - c * np.sin(ang)))),
                 (int(round(c + c * np.cos(ang))), int(round(c + c * np.sin(ang)))), 1.0, 1)
        photo = cv2.filter2D(photo, -1, kernel / kernel.sum())
    sigma = rng.uniform(1.0, 6.0)
    grain = rng.standard_normal((h // 2 + 1, w // 2 + 1), dtype=np.float32)
    grain = cv2.resize(grain, (w, h), interpolation=cv2.INTER_LINEAR) * sigma
    photo = np.clip(photo.astype(np.int16) + grain.astype(np.int16)[..., None], 0, 255).astype(np.uint8)
    quality = int(rng.integers(45, 96))
    ok, buf = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else photo
