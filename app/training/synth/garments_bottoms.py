"""Parametric shorts, trousers and skirts (DF2 categories 7, 8, 9) in centimetres, waist centre at y=0."""

from __future__ import annotations

import numpy as np

from app.training.synth.geometry import CurveBuilder, GarmentShape, bowed
from inference.schema import deepfashion2

BOTTOM_CATEGORIES = (7, 8, 9)


def _idx(cat, name: str) -> int:
    return cat.landmarks.index(name)


def _waistband(rng, ww: float, dip: float) -> tuple[list, list]:
    """Waistband stitch line and belt loops/fly as seam polylines."""
    band = rng.uniform(2.5, 5.0)
    xs = np.linspace(-ww, ww, 24)
    line = np.stack([xs, band + dip * (1 - (xs / ww) ** 2)], 1)
    seams = [line]
    buttons = [np.array([[0.0, band / 2 + dip]])] if rng.random() < 0.6 else []
    return seams, buttons


def build_bottom(rng: np.random.Generator, category_id: int) -> GarmentShape:
    cat = deepfashion2().category(category_id)
    lm = np.full((cat.num_keypoints, 2), np.nan)
    ww = rng.uniform(16, 23)
    dip = rng.uniform(-0.5, 1.5)
    yh = rng.uniform(14, 20)
    hh = ww + rng.uniform(2, 6)
    seams, buttons = _waistband(rng, ww, dip)
    folds: list[np.ndarray] = []
    wl, wr = np.array([-ww, 0.0]), np.array([ww, rng.uniform(-0.6, 0.6)])
    curve = CurveBuilder(lm, wl, _idx(cat, "left waist"))
    curve.to([0.0, dip], bowed(wl, [0.0, dip], -dip * 0.5), _idx(cat, "waist centre"))
    curve.to(wr, bowed([0.0, dip], wr, -dip * 0.5), _idx(cat, "right waist"))

    if category_id == 9:
        length = rng.uniform(38, 95)
        flare = rng.uniform(1.0, 1.9)
        hem_half = hh * flare
        hip_r, hip_l = np.array([hh, yh]), np.array([-hh * rng.uniform(0.97, 1.03), yh])
        corner_r = np.array([hem_half, length - rng.uniform(1, 3 + 6 * (flare - 1))])
        corner_l = np.array([-hem_half * rng.uniform(0.95, 1.05), corner_r[1] + rng.uniform(-1, 1)])
        curve.to(hip_r, bowed(wr, hip_r, -rng.uniform(0.5, 1.5)), _idx(cat, "right hip"))
        curve.to(corner_r, bowed(hip_r, corner_r, -rng.uniform(-0.5, 1.0)), _idx(cat, "right hem corner"))
        # Control point chosen so the Bezier midpoint (the hem centre) lies at the skirt length.
        hem_ctrl = [0.0, 2 * length - 0.5 * (corner_r[1] + corner_l[1])]
        curve.to(corner_l, hem_ctrl, _idx(cat, "left hem corner"), ((0.5, _idx(cat, "hem centre")),))
        curve.to(hip_l, bowed(corner_l, hip_l, -rng.uniform(-0.5, 1.0)), _idx(cat, "left hip"))
        curve.to(wl, bowed(hip_l, wl, -rng.uniform(0.5, 1.5)))
        if rng.random() < 0.4:  # pleats / panel seams fanning out from the waist
            for x in np.linspace(-0.6, 0.6, int(rng.integers(2, 6))):
                folds.append(np.array([[x * ww, 5.0], [x * hem_half, length - 3]]))
        hem = np.array([corner_l, [0.0, length], corner_r]) - [0, rng.uniform(1.5, 3.0)]
        seams.append(hem)
    else:
        shorts = category_id == 7
        rise = rng.uniform(24, 32)
        length = rise + (rng.uniform(4, 28) if shorts else rng.uniform(62, 80))
        gap = rng.uniform(1.5, 5.0) if shorts else rng.uniform(1.5, 14.0)
        open_w = rng.uniform(22, 32) if shorts else rng.uniform(13, 26)
        crotch = np.array([rng.uniform(-0.5, 0.5), rise])
        hip_r = np.array([hh, yh])
        out_r = np.array([gap / 2 + open_w, length - rng.uniform(0, 2)])
        in_r = np.array([gap / 2, length + (rng.uniform(0, 4) if shorts else rng.uniform(-1, 1))])
        curve.to(hip_r, bowed(wr, hip_r, -rng.uniform(0.3, 1.2)), _idx(cat, "right hip"))
        if shorts:
            curve.to(out_r, bowed(hip_r, out_r, -rng.uniform(-0.5, 1.0)), _idx(cat, "right leg opening outer"))
            curve.to(in_r, None, _idx(cat, "right leg opening inner"))
            curve.to(crotch, bowed(in_r, crotch, rng.uniform(-0.5, 1.0)), _idx(cat, "crotch"))
        else:
            knee_t = rng.uniform(0.42, 0.5)
            curve.to(out_r, bowed(hip_r, out_r, -rng.uniform(-1.0, 1.5)), _idx(cat, "right leg opening outer"),
                     ((knee_t, _idx(cat, "right knee outer")),))
            curve.to(in_r, None, _idx(cat, "right leg opening inner"))
            curve.to(crotch, bowed(in_r, crotch, rng.uniform(-1.0, 1.5)), _idx(cat, "crotch"),
                     ((1 - knee_t, _idx(cat, "right knee inner")),))
        hip_l = np.array([-hh * rng.uniform(0.97, 1.03), yh])
        out_l = np.array([-(gap / 2 + open_w * rng.uniform(0.95, 1.05)), out_r[1] + rng.uniform(-1, 1)])
        in_l = np.array([-gap / 2, in_r[1] + rng.uniform(-1, 1)])
        if shorts:
            curve.to(in_l, bowed(crotch, in_l, rng.uniform(-0.5, 1.0)), _idx(cat, "left leg opening inner"))
            curve.to(out_l, None, _idx(cat, "left leg opening outer"))
            curve.to(hip_l, bowed(out_l, hip_l, -rng.uniform(-0.5, 1.0)), _idx(cat, "left hip"))
        else:
            knee_t = rng.uniform(0.42, 0.5)
            curve.to(in_l, bowed(crotch, in_l, rng.uniform(-1.0, 1.5)), _idx(cat, "left leg opening inner"),
                     ((knee_t, _idx(cat, "left knee inner")),))
            curve.to(out_l, None, _idx(cat, "left leg opening outer"))
            curve.to(hip_l, bowed(out_l, hip_l, -rng.uniform(-1.0, 1.5)), _idx(cat, "left hip"),
                     ((1 - knee_t, _idx(cat, "left knee outer")),))
        curve.to(wl, bowed(hip_l, wl, -rng.uniform(0.3, 1.2)))
        # Fly, leg hems, front creases.
        seams.append(np.array([[2.5, 4.0], [2.5, rise * 0.65], [0.0, rise * 0.8]]))
        for o, i in ((out_r, in_r), (out_l, in_l)):
            d = np.array([0.0, -rng.uniform(1.5, 3.0)])
            seams.append(np.array([o, i]) + d)
            if not shorts and rng.random() < 0.5:
                mid = (o + i) / 2
                folds.append(np.array([[mid[0] * 0.8, rise * 0.5], mid + [0, -3]]))
        if rng.random() < 0.5:  # slant pockets
            for sgn in (-1, 1):
                seams.append(np.array([[sgn * (ww - 8), 3.0], [sgn * (hh - 0.5), yh * 0.9]]))
    return GarmentShape(
        category_id=category_id,
        outline=curve.array()[:-1],
        landmarks=lm,
        seams=seams,
        folds=folds,
        buttons=buttons,
    )
