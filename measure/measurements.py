"""Compute points of measure on the calibrated table plane.

Every landmark is mapped image px -> table mm first; all geometry (lengths, perpendiculars, the
outline polygon and its intersections via Shapely) happens in millimetres, never in pixels. A POM
whose landmarks are absent (visibility 0) is reported as not measurable, with the reason. One measured
from an occluded landmark (visibility 1: under a fold, a hand, a hanger; or placed by a model that was
unsure) is measured and says which: its value is the landmark's estimate, not a point seen on the table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon

from inference.annotation import Garment, Visibility
from inference.schema import deepfashion2
from measure.calibration import Calibration
from measure.poms import CategoryPoms, PomCatalog, PomDefinition, PomError, load_catalog


@dataclass(frozen=True)
class Measurement:
    name: str
    kind: str
    mm: float | None  # None when not measurable
    points_mm: tuple[tuple[float, float], ...] = ()  # construction points on the table
    points_px: tuple[tuple[float, float], ...] = ()  # the same points in the image, for overlays
    reason: str | None = None  # why it is not measurable
    occluded: tuple[int, ...] = ()  # 1-based ids of the occluded landmarks it was measured from

    @property
    def measurable(self) -> bool:
        return self.mm is not None

    def note(self) -> str:
        """For a tooltip or report: which landmarks it could not see."""
        if not self.occluded:
            return ""
        ids = ", ".join(map(str, self.occluded))
        return f"from occluded landmark{'s' * (len(self.occluded) > 1)} {ids}: check by hand"

    @property
    def cm(self) -> float | None:
        return None if self.mm is None else self.mm / 10.0

    def to_dict(self) -> dict:
        if self.mm is None:
            return {"cm": None, "points": [], "measurable": False, "reason": self.reason}
        out = {"cm": self.cm, "points": [list(p) for p in self.points_px]}
        if self.occluded:
            out["occluded_landmarks"] = list(self.occluded)
        return out


class _Landmarks:
    """A garment's landmarks in px and mm, addressed by 1-based DF2 id."""

    def __init__(
        self, xy_px: np.ndarray, present: np.ndarray, calibration: Calibration, names: tuple[str, ...],
        occluded: np.ndarray | None = None,
    ):
        self.px = xy_px
        self.present = present
        self.occluded = np.zeros(len(present), bool) if occluded is None else occluded
        self.names = names
        self.mm = np.full_like(xy_px, np.nan)
        if present.any():
            self.mm[present] = calibration.image_to_table_mm(xy_px[present])

    def missing(self, ids: Iterable[int]) -> list[int]:
        return [i for i in ids if not self.present[i - 1]]

    def hidden(self, ids: Iterable[int]) -> tuple[int, ...]:
        return tuple(i for i in ids if self.occluded[i - 1])

    def describe(self, ids: list[int]) -> str:
        return ", ".join(f"{i} ({self.names[i - 1]})" for i in ids)


def _segment_foot(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    direction = c - b
    t = float(np.dot(a - b, direction) / np.dot(direction, direction))
    return b + t * direction


def _foot_on_edge(a: np.ndarray, b: np.ndarray, c: np.ndarray, edge: np.ndarray) -> np.ndarray:
    """Where the line from ``a`` square to b-c meets the edge b … c (a hem through its centre point):
    "straight down to the hem" follows a curved hem, which the straight b-c line cuts short. Without such
    a crossing (``a`` beyond the hem's ends, or the edge only b and c), the foot on the b-c line."""
    foot = _segment_foot(a, b, c)
    if len(edge) > 2:
        reach = 2.0 * float(np.linalg.norm(foot - a) + np.linalg.norm(c - b))
        direction = (foot - a) / max(float(np.linalg.norm(foot - a)), 1e-12)
        cut = LineString(edge).intersection(LineString([a, a + direction * reach]))
        crossings = [np.asarray(g.coords[0]) for g in getattr(cut, "geoms", [cut]) if g.geom_type == "Point"]
        if crossings:
            return min(crossings, key=lambda p: float(np.linalg.norm(p - a)))
    return foot


def outline_polygon(points_mm: np.ndarray) -> shapely.Geometry:
    """The garment outline as a valid polygonal geometry (self-crossings repaired)."""
    polygon = Polygon(points_mm)
    if not polygon.is_valid:
        polygon = shapely.make_valid(polygon)
    parts = [g for g in getattr(polygon, "geoms", [polygon]) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else Polygon()


def offset_chord(
    a: np.ndarray, b: np.ndarray, toward: np.ndarray, offset_mm: float, outline: shapely.Geometry
) -> tuple[np.ndarray, np.ndarray] | None:
    """The chord of ``outline`` on the line a-b shifted ``offset_mm`` towards ``toward``.

    Of the pieces the shifted line cuts out of the outline, the one nearest the shifted midpoint of
    a-b is taken (a sleeve crossed by the same line is a different piece).
    """
    along = b - a
    length = float(np.hypot(*along))
    if length == 0.0:
        return None
    unit = along / length
    normal = np.array([-unit[1], unit[0]])
    middle = (a + b) / 2.0
    if np.dot(toward - middle, normal) < 0:
        normal = -normal
    centre = middle + normal * offset_mm
    minx, miny, maxx, maxy = outline.bounds
    reach = 2.0 * float(np.hypot(maxx - minx, maxy - miny)) + length
    line = LineString([centre - unit * reach, centre + unit * reach])
    cut = outline.intersection(line)
    pieces = [g for g in getattr(cut, "geoms", [cut]) if g.geom_type == "LineString" and g.length > 0]
    if not pieces:
        return None
    nearest = min(pieces, key=lambda g: g.distance(Point(centre)))
    coords = np.asarray(nearest.coords, dtype=np.float64)
    return coords[0], coords[-1]


def _measure_one(
    pom: PomDefinition, lm: _Landmarks, cat: CategoryPoms, calibration: Calibration
) -> Measurement:
    missing = lm.missing(pom.required)
    if missing:
        return Measurement(pom.name, pom.kind, None, reason=f"landmark {lm.describe(missing)} absent")
    idx = [i - 1 for i in pom.landmarks]
    pts = lm.mm[idx]
    if pom.kind in ("straight", "polyline"):
        value = float(np.sum(np.linalg.norm(np.diff(pts, axis=0), axis=1)))
        return Measurement(
            pom.name, pom.kind, value, tuple(map(tuple, pts.tolist())), tuple(map(tuple, lm.px[idx].tolist()))
        )
    if pom.kind == "perpendicular":
        a, b, c = pts[0], pts[1], pts[-1]
        if np.allclose(b, c):
            return Measurement(pom.name, pom.kind, None, reason="the reference line's two landmarks coincide")
        hem = [i - 1 for i in pom.landmarks[1:] if lm.present[i - 1]]
        chord = np.array([a, _foot_on_edge(a, b, c, lm.mm[hem])])
    else:  # offset_chord
        present_outline = [i - 1 for i in cat.outline if lm.present[i - 1]]
        if len(present_outline) < 3:
            return Measurement(pom.name, pom.kind, None, reason="too few outline landmarks present")
        outline = outline_polygon(lm.mm[present_outline])
        toward = lm.mm[[i - 1 for i in pom.toward]].mean(axis=0)
        found = None if outline.is_empty else offset_chord(pts[0], pts[1], toward, pom.offset_mm, outline)
        if found is None:
            return Measurement(
                pom.name,
                pom.kind,
                None,
                reason=f"the line {pom.offset_mm:g} mm from landmarks {pom.landmarks} does not cross the outline",
            )
        chord = np.array(found)
    value = float(np.linalg.norm(chord[1] - chord[0]))
    px = calibration.table_mm_to_image(chord)
    return Measurement(
        pom.name, pom.kind, value, tuple(map(tuple, chord.tolist())), tuple(map(tuple, px.tolist()))
    )


def measure_keypoints(
    category_id: int,
    keypoints: np.ndarray,
    calibration: Calibration,
    catalog: PomCatalog | None = None,
    names: Iterable[str] | None = None,
) -> dict[str, Measurement]:
    """POMs for one garment from an (n, 3) array of x, y (image px) and visibility."""
    catalog = catalog or load_catalog()
    cat_schema = deepfashion2().category(category_id)
    kps = np.asarray(keypoints, dtype=np.float64).reshape(-1, 3)
    if len(kps) != cat_schema.num_keypoints:
        raise PomError(f"{cat_schema.name!r} has {cat_schema.num_keypoints} landmarks, got {len(kps)}")
    cat = catalog.for_category(cat_schema.id)
    selected = cat.poms if names is None else tuple(cat.get(n) for n in names)
    present = (kps[:, 2] > 0) & np.all(np.isfinite(kps[:, :2]), axis=1)
    occluded = present & (kps[:, 2] == int(Visibility.OCCLUDED))
    lm = _Landmarks(kps[:, :2].copy(), present, calibration, cat_schema.landmarks, occluded)
    return {pom.name: _with_occluded(_measure_one(pom, lm, cat, calibration), pom, lm) for pom in selected}


def _with_occluded(m: Measurement, pom: PomDefinition, lm: _Landmarks) -> Measurement:
    hidden = lm.hidden(pom.required)
    return replace(m, occluded=hidden) if hidden and m.measurable else m


def garment_keypoint_array(garment: Garment) -> np.ndarray:
    return np.array(
        [
            [kp.x, kp.y, 0 if kp.visibility == Visibility.ABSENT else int(kp.visibility)]
            for kp in garment.keypoints
        ],
        dtype=np.float64,
    ).reshape(-1, 3)


def measure_garment(
    garment: Garment,
    calibration: Calibration,
    catalog: PomCatalog | None = None,
    names: Iterable[str] | None = None,
) -> dict[str, Measurement]:
    return measure_keypoints(
        garment.category_id, garment_keypoint_array(garment), calibration, catalog, names
    )
