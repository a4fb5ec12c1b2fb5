"""Fabric and background textures, evaluated on coordinate maps so patterns follow the garment's frame.

Every function takes float32 coordinate maps (cm on the garment or table) at working resolution and
returns a float32 BGR image in [0, 1]. Randomness comes only from the generator passed in.
"""

from __future__ import annotations

import cv2
import numpy as np

# Garment colours people actually own (BGR, 0-1): neutrals and denim dominate, then brights and pastels.
GARMENT_PALETTE = np.array(
    [
        [0.12, 0.12, 0.12], [0.92, 0.92, 0.92], [0.55, 0.55, 0.55], [0.35, 0.22, 0.12], [0.45, 0.3, 0.18],
        [0.55, 0.72, 0.82], [0.35, 0.45, 0.35], [0.2, 0.2, 0.55], [0.25, 0.25, 0.75], [0.6, 0.55, 0.85],
        [0.75, 0.65, 0.9], [0.3, 0.6, 0.85], [0.55, 0.4, 0.3], [0.7, 0.45, 0.25], [0.15, 0.35, 0.25],
        [0.4, 0.3, 0.5], [0.8, 0.75, 0.65], [0.3, 0.5, 0.7], [0.75, 0.55, 0.45], [0.2, 0.15, 0.35],
    ],
    dtype=np.float32,
)


def smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int = 6) -> np.ndarray:
    """Low-frequency noise in [-1, 1] (cubic upsampling of a coarse random grid)."""
    gh, gw = max(2, cells * h // max(h, w) + 2), max(2, cells * w // max(h, w) + 2)
    grid = rng.uniform(-1, 1, (gh, gw)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def pixel_noise(rng: np.random.Generator, h: int, w: int, blur: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Zero-mean per-pixel noise, optionally streaked (anisotropic box blur)."""
    n = (rng.random((h, w), dtype=np.float32) - 0.5) * 2
    if blur != (0, 0):
        n = cv2.blur(n, (max(1, blur[0]), max(1, blur[1])))
        n /= max(float(np.abs(n).max()), 1e-3)
    return n


def random_colour(rng: np.random.Generator, jitter: float = 0.08) -> np.ndarray:
    base = GARMENT_PALETTE[rng.integers(len(GARMENT_PALETTE))]
    return np.clip(base + rng.uniform(-jitter, jitter, 3), 0.02, 0.98).astype(np.float32)


def _hash(ix: np.ndarray, iy: np.ndarray, salt: float) -> np.ndarray:
    v = np.sin(ix * 12.9898 + iy * 78.233 + salt) * 43758.5453
    return v - np.floor(v)


FABRICS = ("solid", "stripes", "checks", "print", "denim", "heather", "knit", "quilted")
FABRIC_WEIGHTS = (0.27, 0.14, 0.11, 0.13, 0.12, 0.11, 0.12, 0.0)  # quilted only when a garment asks for it


def fabric(rng: np.random.Generator, u: np.ndarray, v: np.ndarray, px_per_cm: float, kind: str | None = None) -> np.ndarray:
    """A fabric on garment coordinates u, v (cm): ``kind`` from FABRICS, or None for a random one."""
    h, w = u.shape
    if kind is None:
        kind = rng.choice(FABRICS, p=np.asarray(FABRIC_WEIGHTS) / sum(FABRIC_WEIGHTS))
    elif kind not in FABRICS:
        raise ValueError(f"unknown fabric {kind!r}; expected one of {FABRICS}")
    c1, c2 = random_colour(rng), random_colour(rng)
    min_period = 3.0 / max(px_per_cm, 1e-3)  # keep patterns above the pixel grid (no moire soup)
    if kind == "quilted":  # puffer: padded channels (sometimes diamonds) sewn through, glossy on the puffs
        if rng.random() < 0.6:
            c1 = np.clip(c1 * rng.uniform(0.25, 0.7), 0.02, 1).astype(np.float32)  # mostly dark nylon
        period = rng.uniform(5.0, 12.0)
        phase = (v / period) % 1.0
        if rng.random() < 0.25:
            a, b = ((u + v) / period) % 1.0, ((u - v) / period) % 1.0
            puff = np.sqrt(np.sin(np.pi * a) * np.sin(np.pi * b))
        else:
            puff = np.sin(np.pi * phase) ** 0.6
        gloss = rng.uniform(0.05, 0.3) * np.clip(np.sin(np.pi * phase - 0.6), 0, 1) ** 6
        img = c1[None, None] * (0.55 + 0.5 * puff)[..., None] + gloss[..., None]
    elif kind == "knit":  # jumper: fine vertical ribs and flecked yarn
        period = max(rng.uniform(0.3, 0.8), min_period)
        rib = 0.5 + 0.5 * np.sin(2 * np.pi * u / period)
        speck = pixel_noise(rng, h, w, (1, 2))
        img = c1[None, None] * (0.86 + 0.14 * rib + 0.12 * speck)[..., None]
    elif kind == "stripes":
        period = max(rng.uniform(0.4, 4.0), min_period)
        axis = u if rng.random() < 0.3 else v
        duty = rng.uniform(0.2, 0.6)
        m = ((axis / period) % 1.0 < duty).astype(np.float32)
        m = cv2.GaussianBlur(m, (0, 0), 0.6)[..., None]
        img = c1 * (1 - m) + c2 * m
    elif kind == "checks":
        period = max(rng.uniform(0.8, 5.0), min_period)
        a = ((u / period) % 1.0 < 0.5).astype(np.float32)
        b = ((v / period) % 1.0 < 0.5).astype(np.float32)
        c3 = random_colour(rng)
        m = cv2.GaussianBlur((a + b) / 2, (0, 0), 0.6)[..., None]
        img = c1 * (1 - m) + c2 * m
        fine = (((u + v) / max(period / 4, min_period)) % 1.0 < 0.5).astype(np.float32)[..., None]
        img = img * (1 - 0.15 * fine) + c3 * 0.15 * fine
    elif kind == "print":
        period = max(rng.uniform(1.5, 6.0), min_period * 2)
        gx, gy = u / period, v / period
        ix, iy = np.floor(gx), np.floor(gy)
        jx, jy = _hash(ix, iy, 1.0), _hash(ix, iy, 2.0)
        dx, dy = gx - ix - (0.25 + 0.5 * jx), gy - iy - (0.25 + 0.5 * jy)
        radius = rng.uniform(0.12, 0.3) * (0.6 + 0.8 * _hash(ix, iy, 3.0))
        m = (dx * dx + dy * dy < radius * radius).astype(np.float32)
        m = cv2.GaussianBlur(m, (0, 0), 0.7)[..., None]
        palette = np.stack([c2, random_colour(rng), random_colour(rng)])
        pick = (_hash(ix, iy, 4.0) * 3).astype(np.int64).clip(0, 2)
        img = c1 * (1 - m) + palette[pick] * m
    elif kind == "denim":
        c1 = np.array([rng.uniform(0.35, 0.6), rng.uniform(0.2, 0.35), rng.uniform(0.05, 0.15)], np.float32)
        if rng.random() < 0.3:
            c1 = np.array([0.15, 0.15, 0.15], np.float32) + rng.uniform(0, 0.1)
        streak = pixel_noise(rng, h, w, (1, 7))
        fade = smooth_noise(rng, h, w, 4)
        img = c1[None, None] * (1 + 0.18 * streak[..., None] + 0.25 * fade[..., None])
    elif kind == "heather":
        speck = pixel_noise(rng, h, w, (2, 2))
        img = c1[None, None] * (1 + 0.25 * speck[..., None])
    else:
        img = np.broadcast_to(c1, (h, w, 3)).copy()
    if kind not in ("denim", "heather", "knit"):
        img = img * (1 + 0.06 * pixel_noise(rng, h, w)[..., None])  # weave grain
    return np.clip(img, 0, 1).astype(np.float32)


def background(rng: np.random.Generator, u: np.ndarray, v: np.ndarray, kind: str | None = None) -> np.ndarray:
    """Surface under the garments: coordinates u, v in cm on that surface."""
    h, w = u.shape
    kind = kind or rng.choice(["wood", "sheet", "tiles", "plain", "quilt", "mat"], p=[0.22, 0.3, 0.1, 0.22, 0.13, 0.03])
    low = smooth_noise(rng, h, w, 5)
    if kind == "wood":
        base = np.array([rng.uniform(0.25, 0.55), rng.uniform(0.4, 0.65), rng.uniform(0.55, 0.85)], np.float32)
        if rng.random() < 0.3:  # pale oak / white-washed
            base = np.clip(base + 0.25, 0, 1)
        ang = rng.uniform(0, np.pi) if rng.random() < 0.3 else rng.choice([0.0, np.pi / 2])
        along = u * np.cos(ang) + v * np.sin(ang)
        across = -u * np.sin(ang) + v * np.cos(ang)
        plank = rng.uniform(8, 20)
        idx = np.floor(across / plank)
        grain = np.sin((across * rng.uniform(2, 5) + 3 * low + _hash(idx, idx, 5.0) * 10) * 2.0)
        streak = pixel_noise(rng, h, w, (9, 1) if abs(np.cos(ang)) > 0.5 else (1, 9))
        tone = 1 + 0.08 * grain + 0.05 * streak + 0.12 * (_hash(idx, idx, 6.0) - 0.5)
        seam = (np.abs((across / plank) % 1.0) < 0.012 * 20 / plank).astype(np.float32) * 0.35
        img = base[None, None] * (tone * (1 - seam) + 0.08 * np.cos(along / 37.0))[..., None]
    elif kind == "tiles":
        size = rng.uniform(15, 60)
        base = np.full(3, rng.uniform(0.55, 0.9), np.float32) * (1 + rng.uniform(-0.08, 0.08, 3)).astype(np.float32)
        fu, fv = (u / size) % 1.0, (v / size) % 1.0
        grout = ((fu < 0.02) | (fv < 0.02)).astype(np.float32)
        tile_var = _hash(np.floor(u / size), np.floor(v / size), 7.0) - 0.5
        img = base[None, None] * (1 + 0.06 * tile_var + 0.04 * low)[..., None]
        img = img * (1 - 0.35 * grout[..., None])
    elif kind == "mat":  # green cutting mat with a 1 cm / 5 cm grid, common on work tables
        base = np.array([0.3, 0.45, 0.2], np.float32) * rng.uniform(0.8, 1.2)
        fine = ((u % 1.0 < 0.06) | (v % 1.0 < 0.06)).astype(np.float32)
        coarse = ((u % 5.0 < 0.12) | (v % 5.0 < 0.12)).astype(np.float32)
        img = base[None, None] * (1 + 0.04 * low)[..., None]
        img = img + (0.12 * fine + 0.2 * coarse)[..., None]
    elif kind == "quilt":  # quilted bed cover: diamond stitching with puffy shading
        base = np.full(3, rng.uniform(0.7, 0.95), np.float32) - rng.uniform(0, 0.12, 3).astype(np.float32)
        period = rng.uniform(4, 10)
        a, b = (u + v) / period, (u - v) / period
        puff = np.sin(np.pi * (a % 1.0)) * np.sin(np.pi * (b % 1.0))
        img = base[None, None] * (0.88 + 0.12 * puff + 0.05 * low)[..., None]
    elif kind == "sheet":  # bed sheet or cloth: soft big folds
        base = np.full(3, rng.uniform(0.7, 0.97), np.float32) - rng.uniform(0, 0.12, 3).astype(np.float32)
        folds = smooth_noise(rng, h, w, int(rng.integers(4, 12)))
        k = max(3, int(w * rng.uniform(0.05, 0.2))) | 1
        folds = cv2.blur(folds, (k, 1) if rng.random() < 0.5 else (1, k))  # sheet wrinkles run one way
        img = base[None, None] * (1 + rng.uniform(0.02, 0.08) * folds + 0.03 * low)[..., None]
    else:
        base = np.full(3, rng.uniform(0.35, 0.97), np.float32) - rng.uniform(0, 0.12, 3).astype(np.float32)
        img = base[None, None] * (1 + 0.03 * low)[..., None]
        img = np.broadcast_to(img, (h, w, 3))
    img = img * (1 + 0.025 * pixel_noise(rng, h, w))[..., None]
    return np.clip(img, 0, 1).astype(np.float32)
