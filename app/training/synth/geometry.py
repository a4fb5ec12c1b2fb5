"""Curves, garment shapes and the smooth deformation field shared by every garment builder.

Shapes are built in centimetres, x to the image right, y down. A landmark is always a vertex of the
curve it sits on, and every later warp (cloth deformation, pose, camera) is applied to outline and
landmarks by the same function, so landmarks stay exactly on the drawn edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

SAMPLE_STEP_CM = 0.8  # outline vertex spacing; fine enough that deformed edges look curved


def bezier(p0, ctrl, p1, t: np.ndarray) -> np.ndarray:
    """Quadratic Bezier (a straight line when ctrl is None) evaluated at parameters t."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    t = np.asarray(t, float)[:, None]
    if ctrl is None:
        return p0 + (p1 - p0) * t
    c = np.asarray(ctrl, float)
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * c + t**2 * p1


def bowed(p0, p1, amount: float) -> np.ndarray:
    """Control point that bows the segment p0→p1 by `amount` cm to the left of travel (y down)."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = p1 - p0
    n = np.array([d[1], -d[0]]) / max(np.hypot(*d), 1e-9)
    return (p0 + p1) / 2 + n * amount


class CurveBuilder:
    """Builds a polyline segment by segment, recording landmarks as exact vertices."""

    def __init__(self, landmarks: np.ndarray, start, start_lm: int | None = None):
        self.points: list[np.ndarray] = [np.asarray(start, float)]
        self.landmarks = landmarks
        if start_lm is not None:
            landmarks[start_lm] = start

    def to(self, p1, ctrl=None, lm: int | None = None, marks: tuple[tuple[float, int], ...] = ()):
        """Curve from the current point to p1; `marks` puts landmarks at Bezier parameters t."""
        p0 = self.points[-1]
        length = float(np.hypot(*(np.asarray(p1, float) - p0)))
        if ctrl is not None:
            length *= 1.15
        n = max(2, int(np.ceil(length / SAMPLE_STEP_CM)) + 1)
        ts = np.unique(np.concatenate([np.linspace(0, 1, n), [t for t, _ in marks]]))
        pts = bezier(p0, ctrl, p1, ts)
        for t, idx in marks:
            self.landmarks[idx] = bezier(p0, ctrl, p1, np.array([t]))[0]
        self.points.extend(pts[1:])
        if lm is not None:
            self.landmarks[lm] = pts[-1]
        return self

    def array(self) -> np.ndarray:
        return np.asarray(self.points, float)


@dataclass
class GarmentShape:
    """One garment in its own frame (cm): silhouette, landmarks and drawing details."""

    category_id: int
    outline: np.ndarray  # (N, 2) closed silhouette, no repeated end point
    landmarks: np.ndarray  # (K, 2) in the category's DF2 order
    openings: list[np.ndarray] = field(default_factory=list)  # polygons showing the inside (neck, front gap)
    seams: list[np.ndarray] = field(default_factory=list)  # stitched seam polylines
    folds: list[np.ndarray] = field(default_factory=list)  # polylines where cloth is folded/pleated
    buttons: list[np.ndarray] = field(default_factory=list)  # button centres
    bands: list[tuple[np.ndarray, float]] = field(default_factory=list)  # (polyline, width cm): rib/waistband
    placket: np.ndarray | None = None  # closed-front line (zip/button), drawn over the fabric
    patches: list[np.ndarray] = field(default_factory=list)  # same-fabric pieces on top: collar leaves
    # Edges inside the silhouette: drawn where one layer lies on another (a sleeve folded down over the
    # body), or hidden under it; landmarks may sit on either.
    overlap_edges: list[np.ndarray] = field(default_factory=list)
    hidden_edges: list[np.ndarray] = field(default_factory=list)
    self_occluded: tuple[int, ...] = ()  # landmark indices covered by the garment's own upper layer
    # Pieces drawn after the openings (a turtleneck's tube lies over the neck opening), a zip along the
    # placket instead of a plain line, and a fabric kind the garment asks for (None: any).
    top_patches: list[np.ndarray] = field(default_factory=list)
    zipped: bool = False
    fabric: str | None = None

    def map(self, fn) -> GarmentShape:
        """Apply a point function (N,2)->(N,2) to every geometric part."""
        return GarmentShape(
            category_id=self.category_id,
            outline=fn(self.outline),
            landmarks=fn(self.landmarks),
            openings=[fn(p) for p in self.openings],
            seams=[fn(p) for p in self.seams],
            folds=[fn(p) for p in self.folds],
            buttons=[fn(p) for p in self.buttons],
            bands=[(fn(p), w) for p, w in self.bands],
            placket=None if self.placket is None else fn(self.placket),
            patches=[fn(p) for p in self.patches],
            overlap_edges=[fn(p) for p in self.overlap_edges],
            hidden_edges=[fn(p) for p in self.hidden_edges],
            self_occluded=self.self_occluded,
            top_patches=[fn(p) for p in self.top_patches],
            zipped=self.zipped,
            fabric=self.fabric,
        )

    def edges(self) -> list[np.ndarray]:
        """Every drawn edge a landmark may sit on: the silhouette (closed), opening and top-piece borders."""
        closed = [np.vstack([self.outline, self.outline[:1]])]
        closed += [np.vstack([p, p[:1]]) for p in self.openings + self.top_patches]
        return closed

    def inner_edges(self) -> list[np.ndarray]:
        """Open polylines inside the silhouette that landmarks may sit on (drawn overlaps, hidden sides)."""
        return list(self.overlap_edges) + list(self.hidden_edges)


class DeformField:
    """Smooth random displacement (cm) made of a few plane waves: large soft warps plus small wobble."""

    def __init__(self, rng: np.random.Generator, size_cm: float, strength: float = 1.0):
        waves = []
        for count, wavelength_cm, amp_range in (
            (3, (0.8 * size_cm, 2.0 * size_cm), (0.6, 1.8)),  # whole-garment sway
            (4, (0.25 * size_cm, 0.6 * size_cm), (0.2, 0.7)),  # mid folds
            (4, (4.0, 9.0), (0.05, 0.2)),  # edge wobble: outlines never straight
        ):
            for _ in range(count):
                wl = rng.uniform(*wavelength_cm)
                ang = rng.uniform(0, np.pi)
                k = 2 * np.pi / wl * np.array([np.cos(ang), np.sin(ang)])
                amp = rng.uniform(*amp_range) * strength
                direction = rng.normal(size=2)
                direction /= np.linalg.norm(direction) + 1e-9
                waves.append((k, rng.uniform(0, 2 * np.pi), amp * direction))
        self.k = np.array([w[0] for w in waves])  # (M, 2)
        self.phase = np.array([w[1] for w in waves])  # (M,)
        self.vec = np.array([w[2] for w in waves])  # (M, 2)

    def displacement(self, pts: np.ndarray) -> np.ndarray:
        pts = np.asarray(pts, float).reshape(-1, 2)
        s = np.sin(pts @ self.k.T + self.phase)  # (N, M)
        return s @ self.vec

    def __call__(self, pts: np.ndarray) -> np.ndarray:
        pts = np.asarray(pts, float)
        return (pts.reshape(-1, 2) + self.displacement(pts)).reshape(pts.shape)


def apply_homography(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    pts = np.asarray(pts, float)
    flat = pts.reshape(-1, 2)
    q = np.hstack([flat, np.ones((len(flat), 1))]) @ h.T
    return (q[:, :2] / q[:, 2:3]).reshape(pts.shape)


def similarity(scale: float, angle_rad: float, tx: float, ty: float) -> np.ndarray:
    c, s = np.cos(angle_rad) * scale, np.sin(angle_rad) * scale
    return np.array([[c, -s, tx], [s, c, ty], [0.0, 0.0, 1.0]])


def point_segment_distance(points: np.ndarray, polyline: np.ndarray) -> np.ndarray:
    """Distance from each point to the nearest segment of a polyline."""
    a, b = polyline[:-1], polyline[1:]
    ab = b - a
    denom = np.maximum((ab**2).sum(1), 1e-12)
    ap = points[:, None, :] - a[None]
    t = np.clip((ap * ab[None]).sum(2) / denom[None], 0, 1)
    closest = a[None] + t[..., None] * ab[None]
    return np.sqrt(((points[:, None, :] - closest) ** 2).sum(2)).min(1)


def coord_map(fn, x0: float, y0: float, w: int, h: int, step: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate a smooth pixel->surface mapping on a coarse grid and interpolate to (h, w) float32 maps.

    The mappings used here (homographies, low-frequency cloth warps) are smooth, so bilinear
    interpolation between samples `step` pixels apart is accurate to a small fraction of a pixel.
    """
    gw, gh = max(2, int(np.ceil(w / step)) + 1), max(2, int(np.ceil(h / step)) + 1)
    xs = np.linspace(x0, x0 + w - 1, gw)
    ys = np.linspace(y0, y0 + h - 1, gh)
    gx, gy = np.meshgrid(xs, ys)
    uv = fn(np.stack([gx.ravel(), gy.ravel()], 1)).astype(np.float32)
    u = cv2.resize(uv[:, 0].reshape(gh, gw), (w, h), interpolation=cv2.INTER_LINEAR)
    v = cv2.resize(uv[:, 1].reshape(gh, gw), (w, h), interpolation=cv2.INTER_LINEAR)
    return u, v
