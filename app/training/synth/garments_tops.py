"""Parametric upper-body garments and dresses (DF2 categories 1-6, 10-13) in centimetres.

The right half (positive x, the image right in the front view) is built as a chain of Bezier segments
from the right neck-shoulder point down to the hem; the left half is its mirror with its own random
widths. Landmarks are named as in the schema, so each category picks up exactly its own points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.training.synth.geometry import CurveBuilder, GarmentShape, bezier, bowed
from inference.schema import deepfashion2

SLEEVES = {1: "short", 2: "long", 3: "short", 4: "long", 5: None, 6: "strap", 10: "short", 11: "long", 12: None, 13: "strap"}
DRESSES = {10, 11, 12, 13}
OUTWEAR = {3, 4}
TOP_CATEGORIES = tuple(SLEEVES)
# Long-sleeved tops and outwear are often photographed with both sleeves folded down along the body
# (real long-sleeve tops laid flat mostly look like that); the rest lie with sleeves spread or hanging.
SLEEVES_ALONG_CATEGORIES = (2, 4)
SLEEVES_ALONG_PROB = 0.5
SIDE_MARKS = ((0.22, "right side upper"), (0.55, "right side waist"))
LONG_OUTER_MARKS = ((0.25, "right sleeve outer upper"), (0.5, "right elbow outer"), (0.75, "right sleeve outer lower"))
LONG_INNER_MARKS = ((0.25, "right sleeve inner lower"), (0.5, "right elbow inner"), (0.75, "right sleeve inner upper"))
# What rises above the neckline, as real ones are photographed: hoods on jackets and hoodies, turtlenecks on
# jumpers. Outwear is mostly photographed closed, often zipped up to a stand collar; puffer jackets are
# quilted; jumpers often have a ribbed hem band.
HOOD_PROB = {3: 0.4, 4: 0.4, 2: 0.12}
TURTLENECK_PROB = {2: 0.25, 11: 0.12}
CLOSED_OUTWEAR_PROB = 0.7  # fronts meeting at the centre line; the rest lie open by 1-10 cm
ZIPPED_UP_PROB = 0.6  # of closed outwear: zipped up to the neck, only a small V left at the top
STAND_COLLAR_PROB = 0.5  # of zipped-up outwear without a hood
ZIP_PROB = 0.6  # of closed outwear that is not zipped up: zipped below an open collar, else buttoned
QUILTED_PROB = 0.35  # of outwear
RIB_HEM_PROB = 0.4  # of long-sleeve tops without a placket


@dataclass
class Seg:
    end: np.ndarray
    ctrl: np.ndarray | None = None
    name: str | None = None  # landmark at the segment end
    marks: tuple[tuple[float, str], ...] = ()


def _mirror_name(name: str | None) -> str | None:
    if name is None:
        return None
    if name.startswith("right "):
        return "left " + name[6:]
    return name


def _mirror_chain(start: np.ndarray, segs: list[Seg]) -> tuple[np.ndarray, list[Seg]]:
    """Mirror a right-half chain to the left (x -> -x) and reverse its direction."""
    flip = np.array([-1.0, 1.0])
    nodes = [start * flip] + [s.end * flip for s in segs]
    names = [None] + [_mirror_name(s.name) for s in segs]
    out = []
    for i in range(len(segs) - 1, -1, -1):
        s = segs[i]
        out.append(
            Seg(
                end=nodes[i],
                ctrl=None if s.ctrl is None else s.ctrl * flip,
                name=names[i],
                marks=tuple((1.0 - t, _mirror_name(n)) for t, n in s.marks),
            )
        )
    return nodes[-1], out


class _Builder:
    def __init__(self, category_id: int):
        self.cat = deepfashion2().category(category_id)
        self.landmarks = np.full((self.cat.num_keypoints, 2), np.nan)

    def idx(self, name: str | None) -> int | None:
        if name is None or name not in self.cat.landmarks:
            return None
        return self.cat.landmarks.index(name)

    def run(self, curve: CurveBuilder, segs: list[Seg]) -> CurveBuilder:
        for s in segs:
            marks = tuple((t, self.idx(n)) for t, n in s.marks if self.idx(n) is not None)
            curve.to(s.end, s.ctrl, self.idx(s.name), marks)
        return curve


def _sleeve(rng, kind: str, sw: float, sdrop: float, ah: float, nw: float):
    """Right sleeve: shoulder S, cuff outer CO, cuff inner CI, armpit A (cm) and the sleeve axis."""
    if kind == "short":
        theta = np.radians(rng.uniform(18, 60))
        root, inner_len, taper = rng.uniform(13, 19), rng.uniform(3, 12), rng.uniform(0.75, 1.0)
    else:
        hanging = rng.random() < 0.6
        theta = np.radians(rng.uniform(55, 78) if hanging else rng.uniform(18, 55))
        root = rng.uniform(10, 14) if hanging else rng.uniform(12, 17)
        inner_len, taper = rng.uniform(36, 52), rng.uniform(0.5, 0.8)
    d = np.array([np.cos(theta), np.sin(theta)])
    n = np.array([-np.sin(theta), np.cos(theta)])
    # Armpit x follows from the wanted root width (the armhole seam is not square to the sleeve axis).
    delta = (ah * np.cos(theta) - root) / np.sin(theta)
    cw = float(np.clip(sw + delta, nw + 6.0, sw + 9.0))
    S = np.array([sw, sdrop])
    A = np.array([cw, sdrop + ah])
    a = float((A - S) @ d)
    root_w = float((A - S) @ n)
    CO = S + (a + inner_len) * d
    CI = CO + max(root_w * taper, 5.0) * n
    return S, CO, CI, A, d


def _crossing(p0, ctrl, p1, a, b) -> tuple[float, float] | None:
    """Where the quadratic Bezier p0-ctrl-p1 first crosses the line a→b: (Bezier t, fraction along a→b)."""
    ts = np.linspace(0.0, 1.0, 801)
    pts = bezier(p0, ctrl, p1, ts)
    ab = np.asarray(b, float) - a
    side = ab[0] * (pts[:, 1] - a[1]) - ab[1] * (pts[:, 0] - a[0])
    change = np.nonzero(side[:-1] * side[1:] < 0)[0]
    if len(change) == 0:
        return None
    i = int(change[0])
    t = float(ts[i] + (ts[i + 1] - ts[i]) * side[i] / (side[i] - side[i + 1]))
    x = bezier(p0, ctrl, p1, np.array([t]))[0]
    return t, float((x - a) @ ab / (ab @ ab))


def _sleeve_along_half(rng, nw: float, sdrop: float, length: float, sw: float | None) -> dict | None:
    """Right half of a long-sleeved top whose sleeve lies folded down over the body's side (cm).

    The silhouette runs shoulder → sleeve outer edge → cuff → (where the cuff crosses the hidden body
    side) → hem corner. The sleeve's inner edge, from the cuff up towards the shoulder, is drawn over the
    body; the armpit and the body side above the cuff lie under the sleeve, so their landmarks are
    self-occluded. None when the random draw gives no clean crossing (the caller then spreads the sleeve).
    """
    ns = np.array([nw, 0.0])
    for _ in range(8):
        sw_half = sw if sw is not None else rng.uniform(19, 25)
        theta = np.radians(rng.uniform(84, 98))
        d = np.array([np.cos(theta), np.sin(theta)])
        n = np.array([-np.sin(theta), np.cos(theta)])  # across the sleeve, towards the body centre
        width, taper = rng.uniform(11, 16), rng.uniform(0.6, 0.9)
        S = np.array([sw_half, sdrop])
        T = S + rng.uniform(8, 14) * d + width * n  # top of the sleeve's visible inner edge
        A = np.array([sw_half - rng.uniform(1.0, 4.0), sdrop + rng.uniform(16, 22)])  # armpit, under the sleeve
        CO = S + (rng.uniform(0.62, 0.92) * length - sdrop) / np.sin(theta) * d
        CI = CO + width * taper * n
        corner = np.array([sw_half + rng.uniform(-3.0, 1.0), length - rng.uniform(0, 2.5)])
        ctrl = np.array([max(A[0], corner[0]) + rng.uniform(0.0, 2.0), (A[1] + corner[1]) / 2])
        hit = _crossing(A, ctrl, corner, CO, CI)
        if hit is None or not (0.1 < hit[0] < 0.9 and 0.05 < hit[1] < 0.95):
            continue
        t_x = hit[0]
        hidden = bezier(A, ctrl, corner, np.linspace(0, t_x, 40))
        outer = d[0] * (hidden[:, 1] - S[1]) - d[1] * (hidden[:, 0] - S[0])
        if np.any(outer <= 0.3) or hidden[:, 0].min() < nw + 4:  # the side must stay under the sleeve
            continue
        X = bezier(A, ctrl, corner, np.array([t_x]))[0]
        before = tuple((t / t_x, name) for t, name in SIDE_MARKS if t < t_x)
        after = tuple(((t - t_x) / (1 - t_x), name) for t, name in SIDE_MARKS if t >= t_x)
        segs = [
            Seg(S, bowed(ns, S, rng.uniform(-0.8, 0.3)), "right shoulder point"),
            Seg(CO, bowed(S, CO, rng.uniform(-1.0, 0.5)), "right cuff outer", LONG_OUTER_MARKS),
            Seg(X),  # along the cuff to where it crosses the body side
            Seg(corner, ctrl + (corner - ctrl) * t_x, "right hem corner", after),  # the side's visible rest
        ]
        return dict(
            sw=sw_half, segs=segs, S=S, A=A, corner=corner, seam=[], cuff=[np.array([CO, CI]) - 1.8 * d],
            overlaps=[(X, [Seg(CI, None, "right cuff inner"),
                           Seg(T, bowed(CI, T, rng.uniform(-0.5, 0.8)), None, LONG_INNER_MARKS)])],
            hidden=[(T, [Seg(A, None, "right armpit"), Seg(X, A + (ctrl - A) * t_x, None, before)])],
        )
    return None


def _neck_piece(rng, category_id: int, zipped_up: bool) -> str | None:
    draw = rng.random()
    hood = HOOD_PROB.get(category_id, 0.0)
    if draw < hood:
        return "hood"
    if draw < hood + TURTLENECK_PROB.get(category_id, 0.0):
        return "turtleneck"
    if zipped_up and rng.random() < STAND_COLLAR_PROB:
        return "stand collar"
    return None


def _outwear_front(rng) -> tuple[float, float, bool]:
    """How a jacket's fronts lie: the gap between them at the hem (cm), how far down the collar opens
    (the lapel bottom's depth below the neck, cm) and whether it is zipped up to the top."""
    if rng.random() >= CLOSED_OUTWEAR_PROB:
        return rng.uniform(1.0, 10.0), rng.uniform(8, 30), False
    if rng.random() < ZIPPED_UP_PROB:
        return 0.0, rng.uniform(3.0, 7.0), True
    return 0.0, rng.uniform(8, 30), False


def _front_neckline(b: _Builder, start: np.ndarray, depth: float, ctrl: np.ndarray) -> np.ndarray:
    """Front neckline from the right neck-shoulder point ``start`` down to the front neck centre at ``depth``
    and up to the left one, placing the front neckline landmarks on it."""
    curve = CurveBuilder(b.landmarks, start)
    curve.to([0.0, depth], ctrl, b.idx("front neck centre"), ((0.5, b.idx("right front neckline")),))
    curve.to(start * [-1, 1], ctrl * [-1, 1], None, ((0.5, b.idx("left front neckline")),))
    return curve.array()


def _hood(rng, nw: float, back_neckline: np.ndarray) -> tuple[list, np.ndarray]:
    """Hood lying flat above the neck: its outline chain (left to right, ending at the right neck-shoulder
    point) and its face opening (showing the lining), closed along ``back_neckline`` (left to right)."""
    height = rng.uniform(22, 34) if rng.random() < 0.7 else rng.uniform(9, 18)  # spread out or folded back
    half = nw + rng.uniform(2.5, 8.0)
    ns_l, ns_r = np.array([-nw, 0.0]), np.array([nw, 0.0])
    side_y = -height * rng.uniform(0.35, 0.55)
    chain = [
        (np.array([-half, side_y]), bowed(ns_l, [-half, side_y], rng.uniform(0.5, 2.0))),
        (np.array([0.0, -height]), np.array([-half * rng.uniform(0.8, 1.0), -height])),
        (np.array([half, side_y]), np.array([half * rng.uniform(0.8, 1.0), -height])),
        (ns_r, bowed([half, side_y], ns_r, rng.uniform(0.5, 2.0))),
    ]
    depth = height * rng.uniform(0.45, 0.85)  # how much of the inside shows
    inner = CurveBuilder(np.zeros((0, 2)), ns_l)
    inner.to([0.0, -depth], [-nw * rng.uniform(0.9, 1.3), -depth]).to(ns_r, [nw * rng.uniform(0.9, 1.3), -depth])
    return chain, np.vstack([inner.array(), back_neckline[::-1][1:-1]])


def _turtleneck(rng, nw: float, front_line: np.ndarray, rise: float) -> tuple[list, np.ndarray, np.ndarray]:
    """Collar tube standing ``rise`` cm above the neck: outline chain (left to right), the tube piece (drawn
    over the neck opening, its lower edge the front neckline) and its turn-down fold line."""
    half = nw * rng.uniform(0.8, 1.0)
    ns_l, ns_r = np.array([-nw, 0.0]), np.array([nw, 0.0])
    chain = [
        (np.array([-half, -rise]), None),
        (np.array([half, -rise]), np.array([0.0, -rise - rng.uniform(0.0, 1.5)])),
        (ns_r, None),
    ]
    top = bezier([-half, -rise], [0.0, -rise - 0.5], [half, -rise], np.linspace(0, 1, 12))
    tube = np.vstack([[ns_l], top, front_line[:-1]])  # front_line runs right neck-shoulder → left
    fold_y = -rise * rng.uniform(0.35, 0.6)
    fold = bezier([-half - 0.3, fold_y], [0.0, fold_y + rng.uniform(-0.5, 1.0)], [half + 0.3, fold_y],
                  np.linspace(0, 1, 12))
    return chain, tube, fold


def build_top(rng: np.random.Generator, category_id: int) -> GarmentShape:
    b = _Builder(category_id)
    sleeve = SLEEVES[category_id]
    dress, outwear = category_id in DRESSES, category_id in OUTWEAR
    nw = rng.uniform(8.0, 11.0) if outwear else rng.uniform(6.5, 10.0)
    bnd = rng.uniform(1.0, 2.5)
    sdrop = rng.uniform(2.5, 6.0)
    if outwear:
        length = rng.uniform(58, 80) if category_id == 3 or rng.random() < 0.6 else rng.uniform(80, 105)
    elif dress:
        length = rng.uniform(80, 125)
    else:
        length = rng.uniform(55, 76)

    along = category_id in SLEEVES_ALONG_CATEGORIES and rng.random() < SLEEVES_ALONG_PROB
    gap, lapel_y, zipped_up = _outwear_front(rng) if outwear else (0.0, 0.0, False)
    neck = _neck_piece(rng, category_id, zipped_up)

    halves = []
    for side in (0, 1):  # each half gets its own small asymmetry: cloth is never laid perfectly
        jitter = lambda v, j=0.04: v * rng.uniform(1 - j, 1 + j)  # noqa: E731
        if along:
            half = _sleeve_along_half(rng, nw, sdrop, length, jitter(halves[0]["sw"]) if halves else None)
            if half is not None:
                halves.append(half)
                continue
        segs: list[Seg] = []
        ns = np.array([nw, 0.0])
        if sleeve in ("short", "long"):
            sw, ah = jitter(rng.uniform(17, 23) if side == 0 else halves[0]["sw"]), rng.uniform(18, 25)
            S, CO, CI, A, d = _sleeve(rng, sleeve, sw, sdrop, ah, nw)
            segs.append(Seg(S, bowed(ns, S, rng.uniform(-0.8, 0.3)), "right shoulder point"))
            if sleeve == "short":
                outer_marks, inner_marks = ((0.5, "right sleeve outer"),), ((0.5, "right sleeve inner"),)
            else:
                outer_marks, inner_marks = LONG_OUTER_MARKS, LONG_INNER_MARKS
            segs.append(Seg(CO, bowed(S, CO, rng.uniform(-1.0, 0.5)), "right cuff outer", outer_marks))
            segs.append(Seg(CI, None, "right cuff inner"))
            segs.append(Seg(A, bowed(CI, A, rng.uniform(-0.5, 1.0)), "right armpit", inner_marks))
            seam = [bezier(S, bowed(S, A, -1.5), A, np.linspace(0, 1, 12))]
            cuff_stitch = [np.array([CO, CI]) - 1.8 * d]
            sw_out = sw
        elif sleeve is None:  # vest: cut-in armhole
            sw_out = nw + rng.uniform(2.5, 8.0)
            ah = rng.uniform(20, 28)
            cw = max(sw_out + rng.uniform(1.5, 6.0), nw + 7)
            S, A = np.array([sw_out, sdrop]), np.array([cw, sdrop + ah])
            segs.append(Seg(S, bowed(ns, S, rng.uniform(-0.4, 0.2)), "right shoulder point"))
            segs.append(Seg(A, bowed(S, A, rng.uniform(2.0, 5.0)), "right armpit"))
            seam, cuff_stitch = [], []
        else:  # sling: thin strap rising from the neck-shoulder point
            strap_w = rng.uniform(1.0, 2.5)
            top = np.array([nw + rng.uniform(0.0, 4.0), -rng.uniform(10, 22)])
            ah = rng.uniform(12, 20)
            cw = nw + strap_w + rng.uniform(5, 11)
            base = np.array([nw + strap_w * 1.2, 1.0])
            A = np.array([cw, ah])
            segs.append(Seg(top - [strap_w / 2, 0], None))
            segs.append(Seg(top + [strap_w / 2, 0], None, None, ((0.5, "right strap top"),)))
            segs.append(Seg(base, None))
            segs.append(Seg(A, bowed(base, A, rng.uniform(1.0, 3.5)), "right armpit"))
            S, seam, cuff_stitch, sw_out = top, [], [], cw
        cw_eff = A[0]
        if dress:
            yw = A[1] + rng.uniform(7, 16)
            ww = cw_eff * rng.uniform(0.72, 0.95)
            yh = yw + rng.uniform(14, 20)
            hh = ww * rng.uniform(1.1, 1.4)
            flare = rng.uniform(0.9, 1.1) if rng.random() < 0.4 else rng.uniform(1.15, 2.0)
            hw = hh * flare
            corner = np.array([hw, length - rng.uniform(0, 2 + 4 * (flare - 1))])
            W, H = np.array([ww, yw]), np.array([hh, yh])
            segs.append(Seg(W, bowed(A, W, rng.uniform(-0.5, 0.5)), "right waist", ((0.5, "right side upper"),)))
            segs.append(Seg(H, bowed(W, H, rng.uniform(-1.0, 0.0)), "right hip"))
            segs.append(Seg(corner, bowed(H, corner, rng.uniform(-1.5, 0.5)), "right hem corner", ((0.5, "right side lower"),)))
        else:
            hw = cw_eff * rng.uniform(0.88, 1.15)
            corner = np.array([hw, length - rng.uniform(0, 2.5)])
            waist_ctrl = np.array([min(cw_eff, hw) * rng.uniform(0.9, 1.0), (A[1] + corner[1]) / 2])
            segs.append(Seg(corner, waist_ctrl, "right hem corner", SIDE_MARKS))
        halves.append(dict(sw=sw_out, segs=segs, S=S, A=A, corner=corner, seam=seam, cuff=cuff_stitch))

    shape_openings, seams, buttons, bands, folds, patches = [], [], [], [], [], []
    ns_r = np.array([nw, 0.0])
    hem_end = np.array([gap / 2, length + rng.uniform(-0.5, 2.5)])  # front hem (outwear) or hem centre
    for h in halves:
        name = "right front hem" if outwear else "hem centre"
        h["segs"].append(Seg(hem_end, bowed(h["corner"], hem_end, -rng.uniform(0, 1.5)), name))

    # Silhouette: back neckline (left NS -> 1 -> right NS), right half down, left half up.
    back_ctrl = np.array([nw * 0.45, bnd])
    back = CurveBuilder(b.landmarks, ns_r * [-1, 1]).to([0.0, bnd], back_ctrl * [-1, 1]).to(ns_r, back_ctrl).array()
    curve = CurveBuilder(b.landmarks, ns_r * [-1, 1], b.idx("left neck-shoulder point"))
    top_patches, hidden_edges, self_occluded, zipped = [], [], [], False
    tube_depth = rng.uniform(3.5, 6.0)  # a turtleneck's front neckline: high, under the tube
    if neck == "hood":
        chain, hood_inside = _hood(rng, nw, back)
    elif neck == "turtleneck":
        tube_neckline = _front_neckline(b, ns_r, tube_depth, np.array([nw * 0.9, tube_depth * 0.95]))
        chain, tube, tube_fold = _turtleneck(rng, nw, tube_neckline, rng.uniform(4, 12))
    elif neck == "stand collar":  # its lower edge is the jacket's front neckline down to the zip's top
        neck_ctrl = np.array([nw * 0.6, lapel_y * 0.9])
        collar_neckline = _front_neckline(b, ns_r, lapel_y, neck_ctrl)
        chain, tube, _ = _turtleneck(rng, nw, collar_neckline, rng.uniform(2.5, 6.0))
    if neck is None:
        curve.to([0.0, bnd], back_ctrl * [-1, 1], b.idx("back neck centre"))
        curve.to(ns_r, back_ctrl, b.idx("right neck-shoulder point"))
    else:
        for end, ctrl in chain[:-1]:
            curve.to(end, ctrl)
        curve.to(chain[-1][0], chain[-1][1], b.idx("right neck-shoulder point"))
        b.landmarks[b.idx("back neck centre")] = [0.0, bnd]  # on the back neckline, inside the hood or tube
    b.run(curve, halves[0]["segs"])
    left_start, left_segs = _mirror_chain(ns_r, halves[1]["segs"])
    if outwear:
        if gap > 0:
            curve.to(left_start, None)
        b.landmarks[b.idx("left front hem")] = left_start
    b.run(curve, left_segs)
    outline = curve.array()[:-1]  # the chain ends back on the left neck-shoulder point

    # Front neckline / front opening (an opening shows the inside of the back panel).
    front = CurveBuilder(b.landmarks, ns_r)
    if outwear:
        lapel = np.array([gap / 2, lapel_y])
        right_ctrl = neck_ctrl if neck == "stand collar" else bowed(ns_r, lapel, rng.uniform(-1.5, 1.0))
        front.to(lapel, right_ctrl, b.idx("right lapel bottom"),
                 ((0.5, b.idx("right front neckline")),))
        front.to(b.landmarks[b.idx("right front hem")], None, None,
                 ((1 / 3, b.idx("right placket upper")), (2 / 3, b.idx("right placket lower"))))
        right_front = front.array()
        left = CurveBuilder(b.landmarks, b.landmarks[b.idx("left front hem")])
        lapel_l = lapel * [-1, 1]
        left.to(lapel_l, None, b.idx("left lapel bottom"),
                ((1 / 3, b.idx("left placket lower")), (2 / 3, b.idx("left placket upper"))))
        left_ctrl = neck_ctrl * [-1, 1] if neck == "stand collar" else bowed(lapel_l, ns_r * [-1, 1], rng.uniform(-1.0, 1.5))
        left.to(ns_r * [-1, 1], left_ctrl, None,
                ((0.5, b.idx("left front neckline")),))
        opening = np.vstack([back[:-1], right_front, left.array()[:-1]])
        shape_openings.append(opening)
        collar_w = rng.uniform(1.0, 3.0)
        bands.append((right_front[: max(2, len(right_front) // 3)], collar_w))
        bands.append((left.array()[-max(2, len(right_front) // 3):], collar_w))
        placket = right_front if gap < 0.5 else None
        zipped = zipped_up or (placket is not None and rng.random() < ZIP_PROB)
        if zipped:  # the zip runs up the centre line, to the collar's top when it stands
            top = tube[:, 1].min() if neck == "stand collar" else lapel_y
            placket = np.array([[0.0, top], [0.0, lapel_y], b.landmarks[b.idx("right front hem")]])
        if rng.random() < 0.5:  # welt pockets at the hips
            py = length - rng.uniform(15, 25)
            for sgn in (-1.0, 1.0):
                px = sgn * rng.uniform(8, 16) + sgn * gap / 2
                seams.append(np.array([[px - sgn * 1.0, py], [px + sgn * 12.0, py - rng.uniform(0, 3)]]))
        if not zipped and rng.random() < 0.5:  # buttons down the closing edge
            ys = np.arange(lapel_y + 3, length - 4, rng.uniform(7, 11))
            buttons += [np.array([[-gap / 2 - 1.5, y]]) for y in ys]
    elif neck == "turtleneck":
        seams.append(tube_fold)
        bands.append((tube_neckline, rng.uniform(0.8, 1.5)))
        placket = None
    else:
        style = rng.choice(["crew", "scoop", "vee"], p=[0.5, 0.3, 0.2])
        if category_id in (6, 13):
            style = rng.choice(["scoop", "vee"])
        fnd = {"crew": rng.uniform(6, 9.5), "scoop": rng.uniform(10, 16), "vee": rng.uniform(12, 22)}[style]
        ctrl = np.array([nw * 0.9, fnd * 0.95]) if style != "vee" else np.array([nw * 0.45, fnd * 0.45])
        front_line = _front_neckline(b, ns_r, fnd, ctrl)
        shape_openings.append(np.vstack([back[:-1], front_line[::-1][1:-1]]))
        if style == "crew" and category_id not in (6, 13):
            bands.append((front_line, rng.uniform(1.2, 2.5)))
        placket = None
        if category_id in (2, 1) and rng.random() < 0.25:  # shirt-like button placket
            placket = np.array([[0.0, fnd], [0.0, length - 1.0]])
            buttons += [np.array([[0.0, y]]) for y in np.arange(fnd + 4, length - 3, rng.uniform(7, 10))]
            half = front_line[: len(front_line) // 2 + 1]  # right neck-shoulder point -> front neck centre
            tip = np.array([nw * rng.uniform(0.4, 0.8), fnd + rng.uniform(4, 8)])
            leaf = np.vstack([half, [tip, [nw + rng.uniform(1.0, 2.5), rng.uniform(1.0, 3.0)]]])
            patches += [leaf, leaf * [-1, 1]]  # pointed shirt collar, outside the neck opening
        if rng.random() < 0.25:  # chest pocket on the wearer's left (image right)
            x0, y0, pw, ph = nw + rng.uniform(1, 4), rng.uniform(14, 20), rng.uniform(9, 13), rng.uniform(10, 14)
            seams.append(np.array([[x0, y0], [x0, y0 + ph], [x0 + pw, y0 + ph], [x0 + pw, y0], [x0, y0]]))

    if neck in ("turtleneck", "stand collar"):  # the tube covers the neck opening and the back neckline
        top_patches.append(tube)
        hidden_edges.append(back[1:-1])  # its ends, the neck-shoulder points, stay in sight
        self_occluded.append(b.idx("back neck centre"))
    if neck == "hood":
        shape_openings.append(hood_inside)
        if category_id == 2 and rng.random() < 0.6:  # a hoodie's kangaroo pocket
            py, ph, pw = length - rng.uniform(8, 14), rng.uniform(16, 22), rng.uniform(14, 19)
            seams.append(np.array([[-pw, py], [-pw + 4, py - ph], [pw - 4, py - ph], [pw, py], [-pw, py]]))

    # Folded-down sleeves: their inner edges drawn over the body, the body sides hidden beneath them.
    overlap_edges = []
    for h, mirrored in ((halves[0], False), (halves[1], True)):
        for key, edges in (("overlaps", overlap_edges), ("hidden", hidden_edges)):
            for start, chain in h.get(key, ()):
                start_lm = None
                if mirrored:  # the mirrored chain starts at the original's last landmark
                    start_lm = b.idx(_mirror_name(chain[-1].name))
                    start, chain = _mirror_chain(start, chain)
                edges.append(b.run(CurveBuilder(b.landmarks, start, start_lm), chain).array())
                if key == "hidden":  # every landmark on a hidden edge lies under the sleeve
                    self_occluded += [b.idx(seg.name) for seg in chain]
                    self_occluded += [b.idx(name) for seg in chain for _, name in seg.marks]
    folds += overlap_edges  # the sleeve's edge lies on the body: a small ridge in the shading

    for h, sgn in ((halves[0], 1.0), (halves[1], -1.0)):
        flip = np.array([sgn, 1.0])
        seams += [s * flip for s in h["seam"]] + [c * flip for c in h["cuff"]]
    hem_pts = outline[(outline[:, 1] > length - 4) & (np.abs(outline[:, 0]) < halves[0]["corner"][0] - 1)]
    if len(hem_pts) > 3:
        hem_pts = hem_pts[np.argsort(hem_pts[:, 0])]
        if category_id == 2 and placket is None and rng.random() < RIB_HEM_PROB:  # a jumper's rib band
            width = rng.uniform(3.0, 6.0)
            bands.append((hem_pts - [0, width / 2], width))
            seams.append(hem_pts - [0, width])
        else:
            seams.append(hem_pts - [0, rng.uniform(1.2, 2.5)])
    for _ in range(rng.integers(0, 4)):  # loose creases across the body
        y0 = rng.uniform(15, length - 5)
        x0 = rng.uniform(-15, 15)
        ang = rng.uniform(-0.6, 0.6) + (np.pi / 2 if rng.random() < 0.5 else 0)
        ln = rng.uniform(8, 25)
        folds.append(np.array([[x0, y0], [x0 + ln * np.cos(ang), y0 + ln * np.sin(ang)]]))
    return GarmentShape(
        category_id=category_id,
        outline=outline,
        landmarks=b.landmarks,
        openings=shape_openings,
        seams=seams,
        folds=folds,
        buttons=buttons,
        bands=bands,
        placket=placket,
        patches=patches,
        overlap_edges=overlap_edges,
        hidden_edges=hidden_edges,
        self_occluded=tuple(i for i in self_occluded if i is not None),
        top_patches=top_patches,
        zipped=zipped,
        fabric="quilted" if outwear and rng.random() < QUILTED_PROB else None,
    )
