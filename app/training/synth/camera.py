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
    mm_per_px = rng.uniform(1.3, 2.8)
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
    """Multiplicative light field: window gradient plus vignetting, float32 (h, w, 1)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    grad = ((xx / w - 0.5) * np.cos(ang) + (yy / h - 0.5) * np.sin(ang)) * rng.uniform(0.0, 0.45)
    r2 = ((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) * 2
    vignette = 1 - rng.uniform(0.0, 0.35) * r2
    return ((1 + grad) * vignette)[..., None].astype(np.float32)


def photograph(rng: np.random.Generator, img: np.ndarray, effects: bool = True) -> np.ndarray:
    """Float BGR [0,1] scene -> uint8 photo: light, white balance, exposure, blur, noise, JPEG."""
    h, w = img.shape[:2]
    if not effects:
        return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    img = img * lighting(rng, h, w)
    warm = rng.uniform(-0.12, 0.18)  # indoor light is mostly warm
    cast = np.array([1 - warm, 1.0, 1 + warm * 0.8], np.float32) * rng.uniform(0.95, 1.05, 3).astype(np.float32)
    img = img * cast * rng.uniform(0.75, 1.25)
    img = np.clip(img, 0, 1) ** rng.uniform(0.8, 1.2)
    out = (img * 255).astype(np.float32)
    r = rng.random()
    if r < 0.35:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.4, 1.3))
    elif r < 0.45:  # slight hand shake
        k = int(rng.integers(3, 8))
        kernel = np.zeros((k, k), np.float32)
        ang = rng.uniform(0, np.pi)
        c = (k - 1) / 2
        cv2.line(kernel, (int(round(c - c * np.cos(ang))), int(round(c - c * np.sin(ang)))),
                 (int(round(c + c * np.cos(ang))), int(round(c + c * np.sin(ang)))), 1.0, 1)
        out = cv2.filter2D(out, -1, kernel / kernel.sum())
    sigma = rng.uniform(1.0, 7.0)
    noise = rng.standard_normal((h // 2 + 1, w // 2 + 1), dtype=np.float32)
    noise = cv2.resize(noise, (w, h), interpolation=cv2.INTER_NEAREST) * 0.5 + (
        (rng.random((h, w), dtype=np.float32) - 0.5) * 1.7
    )
    out = out + (noise * sigma)[..., None]
    photo = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    quality = int(rng.integers(45, 96))
    ok, buf = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else photo
