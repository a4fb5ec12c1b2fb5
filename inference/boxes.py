"""Axis-aligned box helpers shared by the runtime, the tracker, the store and evaluation."""

from __future__ import annotations

from collections.abc import Sequence


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes; 0 when either is empty."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def box_around(points: Sequence[Sequence[float]], width: float, height: float) -> tuple[float, ...] | None:
    """The tightest (x1, y1, x2, y2) box around (x, y) points, clipped to a width × height image; None when
    fewer than two points or the box is under a pixel on either side."""
    if len(points) < 2:
        return None
    xs = [min(max(float(p[0]), 0.0), float(width)) for p in points]
    ys = [min(max(float(p[1]), 0.0), float(height)) for p in points]
    box = (min(xs), min(ys), max(xs), max(ys))
    return box if box[2] - box[0] >= 1.0 and box[3] - box[1] >= 1.0 else None
