"""One-Euro filter (Casiez et al., CHI 2012) for a steady keypoint overlay on live video.

Low cutoff at low speed removes jitter; the cutoff rises with speed (``beta``) so fast motion lags little.
Vectorised: one filter smooths a whole (K, 2) keypoint array.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from inference.annotation import Garment


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.02, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._x.shape != x.shape or self._t is None or t <= self._t:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        self._t = t
        return self._x.copy()


class KeypointSmoother:
    """One filter per track id; tracks not seen in a frame are forgotten."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.02, d_cutoff: float = 1.0):
        self.params = (min_cutoff, beta, d_cutoff)
        self._filters: dict[int, tuple[int, OneEuroFilter]] = {}

    def __call__(self, garments: list[Garment], track_ids: list[int], t: float) -> list[Garment]:
        out = []
        for garment, tid in zip(garments, track_ids, strict=True):
            cat, filt = self._filters.get(tid, (None, None))
            if filt is None or cat != garment.category_id:
                filt = OneEuroFilter(*self.params)
                self._filters[tid] = (garment.category_id, filt)
            xy = filt(np.array([(k.x, k.y) for k in garment.keypoints]), t)
            kps = tuple(replace(k, x=float(x), y=float(y)) for k, (x, y) in zip(garment.keypoints, xy, strict=True))
            out.append(garment.with_keypoints(kps))
        for tid in set(self._filters) - set(track_ids):
            del self._filters[tid]
        return out
