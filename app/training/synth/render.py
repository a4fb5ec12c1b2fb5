"""Paint one placed garment (image-space GarmentShape) into a float BGR canvas.

Fabric patterns are evaluated in the garment's own centimetre frame (through the inverse pose and an
approximate inverse of the cloth deformation), so stripes bend with the folds.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from app.training.synth.geometry import GarmentShape, coord_map
from app.training.synth.props import ONE, SHIFT
from app.training.synth.textures import fabric, smooth_noise

TEXTURE_SCALE = 0.5  # fabric is evaluated at half resolution and upsampled: patterns are smooth anyway


def _fp(pts: np.ndarray, origin: np.ndarray) -> np.ndarray:
    return np.round((np.asarray(pts, float) - origin) * ONE).astype(np.int32).reshape(-1, 1, 2)


def _shading(rng, shape: GarmentShape, origin: np.ndarray, ppc: float, th: int, tw: int) -> np.ndarray:
    """Light factor (th, tw): broad undulation, soft creases and fold ridges lit from one side."""
    light = 1 + rng.uniform(0.04, 0.12) * smooth_noise(rng, th, tw, 5)
    # Many faint parallel creases: noise stretched along one direction.
    crease = smooth_noise(rng, th, tw, int(rng.integers(10, 25)))
    k = max(3, int(rng.uniform(3, 9) * ppc)) | 1
    crease = cv2.blur(crease, (k, 1) if rng.random() < 0.5 else (1, k))
    light += rng.uniform(0.0, 0.12) * crease / max(float(np.abs(crease).max()), 1e-3)
    height = np.zeros((th, tw), np.float32)
    fold_lines = list(shape.folds)
    centre = shape.outline.mean(0)
    for _ in range(int(rng.integers(0, 4))):  # loose folds, often radiating from corners (armpits, crotch)
        a = shape.outline[rng.integers(len(shape.outline))]
        b = a + (centre - a) * rng.uniform(0.3, 0.8) + rng.normal(0, 4, 2) * ppc / TEXTURE_SCALE
        mid = (a + b) / 2 + rng.normal(0, 2, 2) * ppc / TEXTURE_SCALE
        fold_lines.append(np.array([a, mid, b]))
    scale = TEXTURE_SCALE
    for line in fold_lines:
        pts = np.round((np.asarray(line) - origin) * scale * ONE).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(height, [pts], False, float(rng.uniform(0.3, 0.8)),
                      max(1, int(rng.uniform(0.8, 2.5) * ppc)), cv2.LINE_AA, SHIFT)
    sigma = max(1.0, rng.uniform(1.2, 2.5) * ppc)
    height = cv2.GaussianBlur(height, (0, 0), sigma)
    ang = rng.uniform(0, 2 * np.pi)
    gxh = cv2.Sobel(height, cv2.CV_32F, 1, 0, ksize=3)
    gyh = cv2.Sobel(height, cv2.CV_32F, 0, 1, ksize=3)
    light += (np.cos(ang) * gxh + np.sin(ang) * gyh) * sigma * rng.uniform(0.3, 0.9)
    light -= height * rng.uniform(0.0, 0.15)  # fold valleys catch less light
    return light


def _draw_zip(rng, garment: np.ndarray, line: np.ndarray, origin: np.ndarray, px_per_cm: float) -> None:
    """Zip along a polyline: a tape, a row of teeth across it and a pull near its top."""
    tape = rng.uniform(0.05, 0.3, 3) if rng.random() < 0.7 else rng.uniform(0.5, 0.8, 3)
    metal = np.full(3, rng.uniform(0.45, 0.85)) if rng.random() < 0.6 else tape * 0.6
    pts = _fp(line, origin)
    cv2.polylines(garment, [pts], False, tape.tolist(), max(1, int(0.9 * px_per_cm)), cv2.LINE_AA, SHIFT)
    step = max(0.35 * px_per_cm, 1.5)  # teeth every ~3.5 mm, coarser when the image is too small for them
    seg = np.diff(line, axis=0)
    lengths = np.hypot(*seg.T)
    dist = np.concatenate([[0.0], np.cumsum(lengths)])
    if dist[-1] <= step:
        return
    at = np.arange(step, dist[-1], step)
    xy = np.column_stack([np.interp(at, dist, line[:, 0]), np.interp(at, dist, line[:, 1])])
    k = np.clip(np.searchsorted(dist, at) - 1, 0, len(seg) - 1)
    normal = np.column_stack([-seg[k, 1], seg[k, 0]]) / np.maximum(lengths[k], 1e-9)[:, None]
    half = 0.3 * px_per_cm
    ticks = np.stack([xy - normal * half, xy + normal * half], axis=1)
    cv2.polylines(garment, [_fp(t, origin) for t in ticks], False, metal.tolist(), 1, cv2.LINE_AA, SHIFT)
    top = line[0] if line[0][1] < line[-1][1] else line[-1]
    pull = np.array([[-0.4, 0.0], [0.4, 0.0], [0.4, 2.8], [-0.4, 2.8]]) * px_per_cm + top + [0, 0.6 * px_per_cm]
    cv2.fillPoly(garment, [_fp(pull, origin)], metal.tolist(), cv2.LINE_AA, SHIFT)


def paint_garment(
    rng: np.random.Generator,
    canvas: np.ndarray,
    shape: GarmentShape,
    image_to_cm: Callable[[np.ndarray], np.ndarray],
    px_per_cm: float,
) -> tuple[np.ndarray, tuple[int, int]] | None:
    """Draw the garment; returns (crop mask uint8, crop origin (x0, y0)) or None if fully off-canvas."""
    h, w = canvas.shape[:2]
    pad = int(2 + 1.5 * px_per_cm)
    lo = np.floor(shape.outline.min(0)).astype(int) - pad
    hi = np.ceil(shape.outline.max(0)).astype(int) + pad
    x0, y0 = max(lo[0], 0), max(lo[1], 0)
    x1, y1 = min(hi[0], w), min(hi[1], h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    origin = np.array([x0, y0], float)
    cw, ch = x1 - x0, y1 - y0
    mask = np.zeros((ch, cw), np.uint8)
    cv2.fillPoly(mask, [_fp(shape.outline, origin)], 255, cv2.LINE_AA, SHIFT)

    # Soft contact shadow under the cloth (light from a random side, cloth lies flat: short offset).
    shadow = cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.6 * px_per_cm))
    off = rng.uniform(-0.6, 0.6, 2) * px_per_cm
    shadow = cv2.warpAffine(shadow, np.float32([[1, 0, off[0]], [0, 1, off[1]]]), (cw, ch))
    region = canvas[y0:y1, x0:x1]
    region *= (1 - rng.uniform(0.2, 0.45) * shadow.astype(np.float32) / 255.0)[..., None]

    # Fabric in garment coordinates, and all shading, at half resolution (both are smooth).
    th, tw = max(2, int(ch * TEXTURE_SCALE)), max(2, int(cw * TEXTURE_SCALE))
    u, v = coord_map(lambda p: image_to_cm(p / TEXTURE_SCALE + [x0, y0]), 0, 0, tw, th, step=6)
    ppc = px_per_cm * TEXTURE_SCALE
    cloth = fabric(rng, u, v, ppc, shape.fabric)
    light = _shading(rng, shape, origin, ppc, th, tw)
    small_mask = cv2.resize(mask, (tw, th), interpolation=cv2.INTER_AREA)
    edge = cv2.GaussianBlur(small_mask, (0, 0), max(1.0, 0.5 * ppc)).astype(np.float32) / 255.0
    light *= 0.8 + 0.2 * edge  # cloth curls away from the light at its edges
    garment = cv2.resize(cloth * np.clip(light, 0.35, 1.6)[..., None], (cw, ch), interpolation=cv2.INTER_LINEAR)
    cloth = cv2.resize(cloth, (cw, ch), interpolation=cv2.INTER_LINEAR)

    base = cloth.reshape(-1, 3)[:: max(1, cloth.size // 3000)].mean(0) if cloth.size else np.full(3, 0.5)
    for patch in shape.patches:  # collar leaves: same cloth, a little lighter, with a stitched edge
        pts = _fp(patch, origin)
        cv2.fillPoly(garment, [pts], (base * rng.uniform(0.95, 1.15)).tolist(), cv2.LINE_AA, SHIFT)
        cv2.polylines(garment, [pts], True, (base * 0.6).tolist(), 1, cv2.LINE_AA, SHIFT)
    for band, width_cm in shape.bands:  # rib collars, lapels
        tone = float(rng.uniform(0.8, 1.15))
        cv2.polylines(garment, [_fp(band, origin)], False, (base * tone).tolist(),
                      max(1, int(width_cm * px_per_cm)), cv2.LINE_AA, SHIFT)
    inside = np.zeros((ch, cw), np.uint8)
    for opening in shape.openings:  # inside of the back panel / lining
        cv2.fillPoly(inside, [_fp(opening, origin)], 255, cv2.LINE_AA, SHIFT)
    bx, by, bw, bh = cv2.boundingRect(inside)
    if bw > 0 and bh > 0:
        sub = (slice(by, by + bh), slice(bx, bx + bw))
        if rng.random() < 0.9:  # mostly the inside of the same fabric; sometimes a contrasting lining
            lining = cloth[sub] * rng.uniform(0.45, 0.7)
        else:
            lining = np.clip(rng.uniform(0.1, 0.8, 3), 0, 1).astype(np.float32)[None, None]
        a = (inside[sub].astype(np.float32) / 255.0)[..., None]
        garment[sub] = garment[sub] * (1 - a) + lining * a
        cv2.polylines(garment, [_fp(o, origin) for o in shape.openings], True, (base * 0.5).tolist(),
                      1, cv2.LINE_AA, SHIFT)
    for piece in shape.top_patches:  # a turtleneck's tube over the neck opening: the same cloth, shaded
        piece_mask = np.zeros((ch, cw), np.uint8)
        cv2.fillPoly(piece_mask, [_fp(piece, origin)], 255, cv2.LINE_AA, SHIFT)
        a = (piece_mask.astype(np.float32) / 255.0)[..., None]
        garment = garment * (1 - a) + cloth * float(rng.uniform(0.8, 1.1)) * a
        cv2.polylines(garment, [_fp(piece, origin)], True, (base * 0.6).tolist(), 1, cv2.LINE_AA, SHIFT)
    stitch = (base * rng.uniform(0.55, 0.8)).tolist() if rng.random() < 0.9 else (np.clip(base + 0.3, 0, 1)).tolist()
    thick = 1 if px_per_cm < 6 else 2
    for seam in shape.seams:
        cv2.polylines(garment, [_fp(seam, origin)], False, stitch, thick, cv2.LINE_AA, SHIFT)
    if shape.placket is not None and shape.zipped:
        _draw_zip(rng, garment, shape.placket, origin, px_per_cm)
    elif shape.placket is not None:
        cv2.polylines(garment, [_fp(shape.placket, origin)], False, (base * 0.5).tolist(), max(1, int(0.25 * px_per_cm)),
                      cv2.LINE_AA, SHIFT)
    button_colour = rng.uniform(0.1, 0.9, 3).tolist()
    for b in shape.buttons:
        cv2.circle(garment, tuple(_fp(b, origin)[0, 0]), int(max(1.0, 0.6 * px_per_cm) * ONE), button_colour,
                   -1, cv2.LINE_AA, SHIFT)
    for edge_line in shape.overlap_edges:  # a sleeve lying on the body: a dark band (its shadow) with the edge's crease in it
        pts = _fp(edge_line, origin)
        cv2.polylines(garment, [pts], False, (base * 0.55).tolist(), max(2, int(0.5 * px_per_cm)), cv2.LINE_AA, SHIFT)
        cv2.polylines(garment, [pts], False, (base * 0.75).tolist(), 1, cv2.LINE_AA, SHIFT)
    # Thin darker rim: the fabric edge and its hem turn-over.
    cv2.polylines(garment, [_fp(shape.outline, origin)], True, (base * 0.7).tolist(), 1, cv2.LINE_AA, SHIFT)

    alpha = mask.astype(np.float32) / 255.0
    region[:] = cv2.blendLinear(garment, region, alpha, 1.0 - alpha)
    return mask, (x0, y0)
