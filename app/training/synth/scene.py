"""Compose synthetic photos: surface, optional ChArUco board, garments, occluders, camera.

Public entry points: `render_scene(seed, config)` and `render_single_garment(seed, category_id, ...)`.
Everything random comes from `numpy.random.default_rng(seed)`, so a seed and a config give the same
pixels and landmarks every time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from shapely.geometry import Polygon, box

from app.training.synth.camera import local_mm_per_px, photograph, table_camera
from app.training.synth.garments import ALL_CATEGORIES, build_garment, shape_size_cm
from app.training.synth.geometry import DeformField, GarmentShape, apply_homography, coord_map, similarity
from app.training.synth.props import charuco_board_image, draw_board, draw_hand, draw_hanger, draw_object
from app.training.synth.render import paint_garment
from app.training.synth.textures import background
from inference.annotation import Garment, Keypoint, Visibility
from inference.schema import deepfashion2

MODES = ("flatlay", "workstation", "mixed")
ASPECTS = ((640, 480), (480, 640), (640, 640), (640, 360), (480, 720), (720, 540))


@dataclass(frozen=True)
class SceneConfig:
    categories: tuple[int, ...] | None = None  # DF2 ids to draw from; None = all 13
    image_size: tuple[int, int] = (640, 480)  # (width, height)
    random_aspect: bool = False  # pick the size from ASPECTS instead
    mode: str = "mixed"  # 'flatlay', 'workstation' or 'mixed'
    max_garments: int = 3
    board: bool | None = None  # ChArUco board in workstation scenes; None = sometimes
    occluders: bool = True  # hands, objects, hangers
    camera_effects: bool = True  # light, colour cast, blur, noise, JPEG
    mirror: bool = False  # flip the finished image left-right (landmarks follow the schema flip index)
    # Share of flat-lay scenes that are one garment photographed close, filling most of the frame and sometimes
    # cut by its edges, as people photograph a single garment on a bed or floor. 0 keeps older pools' seeds.
    closeups: float = 0.0

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        cats = self.categories if self.categories is not None else ALL_CATEGORIES
        unknown = [c for c in cats if c not in ALL_CATEGORIES]
        if unknown or not cats:
            raise ValueError(f"categories must be DF2 ids 1-13, got {self.categories!r}")
        if self.max_garments < 1:
            raise ValueError("max_garments must be at least 1")
        if not 0.0 <= self.closeups <= 1.0:
            raise ValueError(f"closeups is a share of scenes (0..1), got {self.closeups!r}")
        w, h = self.image_size
        if w < 32 or h < 32:
            raise ValueError(f"image_size too small: {self.image_size}")


@dataclass
class SynthScene:
    image: np.ndarray  # H x W x 3 uint8 BGR
    garments: list[Garment]
    mode: str
    mm_per_px: float | None = None  # workstation: table scale at the image centre
    homography: np.ndarray | None = None  # workstation: image pixel -> table mm
    board_homography: np.ndarray | None = None  # board image pixel -> image pixel, when drawn
    outlines: list[np.ndarray] = field(default_factory=list)  # per garment silhouette (image px)
    edges: list[list[np.ndarray]] = field(default_factory=list)  # per garment: silhouette + opening borders
    inner_edges: list[list[np.ndarray]] = field(default_factory=list)  # per garment: overlaps, hidden sides
    seed: int = 0


@dataclass
class _Placed:
    shape: GarmentShape  # image coordinates
    to_image: np.ndarray  # garment cm (deformed) -> image homography
    deform: DeformField
    px_per_cm: float


def _image_to_cm(placed: _Placed):
    inv = np.linalg.inv(placed.to_image)

    def fn(pts: np.ndarray) -> np.ndarray:
        p = apply_homography(inv, pts)
        return p - placed.deform.displacement(p)  # one fixed-point step inverts the smooth warp well

    return fn


def _pose(rng, shape: GarmentShape, centre: np.ndarray, fill: float, frame: tuple[int, int], rotation: float | None):
    """Similarity that makes the garment's box fill `fill` of the frame (the tighter axis) at `centre`."""
    span = np.maximum(shape.outline.max(0) - shape.outline.min(0), 1e-6)
    scale = fill * min(frame[0] / span[0], frame[1] / span[1])
    if rotation is None:
        rotation = rng.normal(0, 0.12) if rng.random() < 0.85 else rng.uniform(-0.8, 0.8)
    mid = (shape.outline.min(0) + shape.outline.max(0)) / 2
    m = similarity(scale, rotation, 0, 0)
    m[:2, 2] = centre - m[:2, :2] @ mid
    return m, scale


def _perspective_jitter(rng, w: int, h: int, amount: float) -> np.ndarray:
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = (src + rng.uniform(-amount, amount, (4, 2)) * [w, h]).astype(np.float32)
    return cv2.getPerspectiveTransform(src, dst).astype(float)


def _visible_fraction(poly: Polygon, covers: list[Polygon], frame: Polygon) -> float:
    inside = poly.intersection(frame)
    if inside.area <= 0:
        return 0.0
    left = inside
    for c in covers:
        left = left.difference(c)
    return left.area / max(poly.area, 1e-6)


def _place_garments(rng, cfg: SceneConfig, w: int, h: int, table_to_img, single_cat, rotation,
                    keep_clear: Polygon | None = None, closeup: bool = False):
    cats = cfg.categories or ALL_CATEGORIES
    frame = box(0, 0, w - 1, h - 1)
    n = 1 if single_cat is not None or closeup else int(rng.integers(1, cfg.max_garments + 1))
    placed: list[_Placed] = []
    polys: list[Polygon] = []
    for _ in range(n):
        cat = single_cat if single_cat is not None else int(rng.choice(cats))
        shape = build_garment(rng, cat)
        deform = DeformField(rng, shape_size_cm(shape), strength=rng.uniform(0.4, 1.2))
        warped = shape.map(deform)
        for _attempt in range(10):
            if table_to_img is not None:  # workstation: real size on the table, in mm
                ang = rng.normal(0, 0.2) if rotation is None else rotation
                inv = np.linalg.inv(table_to_img)
                pixel = np.array([rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h])
                target = apply_homography(inv, pixel)
                mid = (warped.outline.min(0) + warped.outline.max(0)) / 2
                cm_to_mm = similarity(10.0, ang, 0, 0)
                cm_to_mm[:2, 2] = target - cm_to_mm[:2, :2] @ mid
                to_image = table_to_img @ cm_to_mm
                px_per_cm = 10.0 / local_mm_per_px(inv, *pixel)
            else:
                fill = rng.uniform(0.6, 0.95) if n == 1 else rng.uniform(0.3, 0.65)
                fill *= 1.0 if rng.random() < 0.75 else rng.uniform(1.0, 1.3)  # sometimes cropped, as close-ups are
                centre = np.array([rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h])
                if closeup:
                    fill = rng.uniform(0.85, 1.2)
                    centre = np.array([rng.uniform(0.42, 0.58) * w, rng.uniform(0.42, 0.58) * h])
                if n > 1:
                    centre = np.array([rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h])
                to_image, px_per_cm = _pose(rng, warped, centre, fill, (w, h), rotation)
                if rng.random() < 0.5:
                    to_image = _perspective_jitter(rng, w, h, 0.04) @ to_image
            img_shape = warped.map(lambda p, m=to_image: apply_homography(m, p))
            poly = Polygon(img_shape.outline).buffer(0)
            ok = _visible_fraction(poly, [], frame) > 0.6
            ok = ok and all(_visible_fraction(p, polys[i + 1:] + [poly], frame) > 0.45 for i, p in enumerate(polys))
            if ok and keep_clear is not None:  # the calibration board stays readable
                ok = poly.intersection(keep_clear).area < 0.03 * keep_clear.area
            if ok:
                placed.append(_Placed(img_shape, to_image, deform, px_per_cm))
                polys.append(poly)
                break
    return placed


def _visibility(pts: np.ndarray, w: int, h: int, cover: np.ndarray) -> list[Visibility]:
    out = []
    for x, y in pts:
        if not (0 <= x <= w - 1 and 0 <= y <= h - 1):
            out.append(Visibility.ABSENT)
        elif cover[int(round(y)), int(round(x))] > 127:
            out.append(Visibility.OCCLUDED)
        else:
            out.append(Visibility.VISIBLE)
    return out


def _compose(seed: int, cfg: SceneConfig, single_cat: int | None = None, rotation: float | None = None) -> SynthScene:
    rng = np.random.default_rng(seed)
    w, h = ASPECTS[rng.integers(len(ASPECTS))] if cfg.random_aspect else cfg.image_size
    mode = cfg.mode if cfg.mode != "mixed" else ("workstation" if rng.random() < 0.35 else "flatlay")
    if single_cat is not None:
        mode = "flatlay"
    table_to_img = img_to_mm = mm_per_px = board_h = None
    if mode == "workstation":
        table_to_img, mm_per_px = table_camera(rng, w, h)
        img_to_mm = np.linalg.inv(table_to_img)
        img_to_mm /= img_to_mm[2, 2]
        surface = lambda p: apply_homography(img_to_mm, p) / 10.0  # noqa: E731  (cm on the table)
    else:
        bg_scale = rng.uniform(0.15, 0.6)  # cm per pixel of the background surface
        bg_m = similarity(bg_scale, rng.uniform(-0.3, 0.3), rng.uniform(0, 100), rng.uniform(0, 100))
        surface = lambda p: apply_homography(bg_m, p)  # noqa: E731
    hs, ws = h // 2, w // 2
    u, v = coord_map(lambda p: surface(p * 2.0), 0, 0, ws, hs, step=8)
    kind = None if mode == "flatlay" else rng.choice(["wood", "plain", "mat", "tiles"], p=[0.35, 0.3, 0.15, 0.2])
    canvas = background(rng, u, v, kind)
    canvas = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_LINEAR)

    if mode == "workstation" and (cfg.board if cfg.board is not None else rng.random() < 0.6):
        corner = np.array([rng.choice([0.22, 0.78]) * w, rng.choice([0.22, 0.78]) * h])
        _, board_h = draw_board(rng, canvas, table_to_img, apply_homography(img_to_mm, corner))
    board_poly = None
    if board_h is not None:
        bh, bw = charuco_board_image().shape[:2]
        board_poly = Polygon(apply_homography(board_h, np.array([[0, 0], [bw, 0], [bw, bh], [0, bh]], float)))

    # Drawn only when asked for, so scenes of configs without close-ups keep their seeds' pixels.
    closeup = cfg.closeups > 0 and mode == "flatlay" and single_cat is None and rng.random() < cfg.closeups
    placed = _place_garments(rng, cfg, w, h, table_to_img, single_cat, rotation, board_poly, closeup)
    masks = []
    for p in placed:
        masks.append(paint_garment(rng, canvas, p.shape, _image_to_cm(p), p.px_per_cm))

    occluders = np.zeros((h, w), np.uint8)
    if cfg.occluders and placed:
        mean_ppc = float(np.mean([p.px_per_cm for p in placed]))
        for p in placed:
            cat = deepfashion2().category(p.shape.category_id)
            if mode == "flatlay" and "left shoulder point" in cat.landmarks and rng.random() < 0.3:
                lm = p.shape.landmarks
                occluders |= draw_hanger(rng, canvas, lm[cat.landmark_index("left shoulder point")],
                                         lm[cat.landmark_index("right shoulder point")],
                                         lm[cat.landmark_index("back neck centre")], p.px_per_cm)
        if rng.random() < (0.3 if mode == "workstation" else 0.15):
            p = placed[rng.integers(len(placed))]
            target = p.shape.outline[rng.integers(len(p.shape.outline))]
            occluders |= draw_hand(rng, canvas, target, mean_ppc)
        for _ in range(int(rng.random() < (0.4 if mode == "workstation" else 0.15)) * int(rng.integers(1, 3))):
            p = placed[rng.integers(len(placed))]
            target = p.shape.outline[rng.integers(len(p.shape.outline))] * 0.7 + p.shape.outline.mean(0) * 0.3
            occluders |= draw_object(rng, canvas, target, mean_ppc)

    garments, outlines, edges, inner_edges = [], [], [], []
    for i, (p, m) in enumerate(zip(placed, masks, strict=True)):
        if m is None:
            continue
        cover = occluders.copy()
        for later_mask in masks[i + 1:]:
            if later_mask is not None:
                crop, (x0, y0) = later_mask
                sub = cover[y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]]
                np.maximum(sub, crop, out=sub)
        vis = _visibility(p.shape.landmarks, w, h, cover)
        for i_hidden in p.shape.self_occluded:  # under the garment's own folded-down sleeve
            if vis[i_hidden] == Visibility.VISIBLE:
                vis[i_hidden] = Visibility.OCCLUDED
        kps = tuple(
            Keypoint.absent() if v == Visibility.ABSENT else Keypoint(float(x), float(y), v)
            for (x, y), v in zip(p.shape.landmarks, vis, strict=True)
        )
        lo = np.clip(p.shape.outline.min(0), 0, [w - 1, h - 1])
        hi = np.clip(p.shape.outline.max(0), 0, [w - 1, h - 1])
        garments.append(Garment(p.shape.category_id, (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])), kps))
        outlines.append(p.shape.outline)
        edges.append(p.shape.edges())
        inner_edges.append(p.shape.inner_edges())

    image = photograph(rng, canvas, cfg.camera_effects)
    scene = SynthScene(image, garments, mode, mm_per_px, img_to_mm, board_h, outlines, edges, inner_edges, seed)
    return mirror_scene(scene) if cfg.mirror else scene


def mirror_scene(scene: SynthScene) -> SynthScene:
    """Flip left-right: x -> W-1-x, and each garment's landmarks permuted by its schema flip index."""
    h, w = scene.image.shape[:2]
    flip_pts = lambda p: np.column_stack([w - 1 - p[:, 0], p[:, 1]])  # noqa: E731
    garments = []
    for g in scene.garments:
        perm = deepfashion2().category(g.category_id).flip_index
        kps = []
        for j in perm:
            k = g.keypoints[j]
            kps.append(k if k.visibility == Visibility.ABSENT else replace(k, x=float(w - 1 - k.x)))
        x1, y1, x2, y2 = g.bbox
        garments.append(replace(g, bbox=(float(w - 1 - x2), y1, float(w - 1 - x1), y2), keypoints=tuple(kps)))
    homography = None
    if scene.homography is not None:
        flip = np.array([[-1.0, 0, w - 1], [0, 1, 0], [0, 0, 1]])
        homography = scene.homography @ flip
    board_h = None if scene.board_homography is None else np.array([[-1.0, 0, w - 1], [0, 1, 0], [0, 0, 1]]) @ scene.board_homography
    return SynthScene(
        image=np.ascontiguousarray(scene.image[:, ::-1]),
        garments=garments,
        mode=scene.mode,
        mm_per_px=scene.mm_per_px,
        homography=homography,
        board_homography=board_h,
        outlines=[flip_pts(o) for o in scene.outlines],
        edges=[[flip_pts(e) for e in es] for es in scene.edges],
        inner_edges=[[flip_pts(e) for e in es] for es in scene.inner_edges],
        seed=scene.seed,
    )


def render_scene(seed: int, config: SceneConfig | None = None) -> SynthScene:
    """A synthetic photo with one or more garments and exact DF2 landmarks."""
    return _compose(int(seed), config or SceneConfig())


def render_single_garment(
    seed: int,
    category_id: int,
    image_size: tuple[int, int] = (384, 512),
    mirror: bool = False,
    rotation: float | None = None,
    occluders: bool = True,
    camera_effects: bool = True,
) -> SynthScene:
    """One garment of `category_id` filling much of the frame (for the pose model).

    rotation: radians; None = random (mostly near upright), 0.0 = upright front view.
    """
    cfg = SceneConfig(categories=(category_id,), image_size=image_size, mode="flatlay", max_garments=1,
                      occluders=occluders, camera_effects=camera_effects, mirror=mirror)
    return _compose(int(seed), cfg, single_cat=category_id, rotation=rotation)
