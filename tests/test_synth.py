"""Synthetic renderer: landmark layout per category, exactness on the drawn edges, visibility, determinism."""

import cv2
import numpy as np
import pytest
from shapely.geometry import Point, Polygon

from app.training.synth import SceneConfig, garments_tops, render_scene, render_single_garment
from app.training.synth.garments_tops import SLEEVES_ALONG_CATEGORIES
from app.training.synth.scene import _visibility
from inference.annotation import Visibility
from inference.schema import deepfashion2

CATEGORY_IDS = deepfashion2().category_ids
CLEAN = dict(occluders=False, camera_effects=False)


def _xy(garment):
    return np.array([[k.x, k.y] for k in garment.keypoints])


def _present(garment):
    return np.array([k.visibility != Visibility.ABSENT for k in garment.keypoints])


@pytest.mark.parametrize("category_id", CATEGORY_IDS)
def test_front_view_landmark_count_and_left_right_order(category_id):
    cat = deepfashion2().category(category_id)
    for seed in range(3):
        scene = render_single_garment(seed, category_id, rotation=0.0, **CLEAN)
        (g,) = scene.garments
        assert g.category_id == category_id
        assert len(g.keypoints) == cat.num_keypoints
        xy, present = _xy(g), _present(g)
        assert present.sum() >= cat.num_keypoints // 2  # a big garment may run off the frame
        for a, b in cat.flip_pairs:
            left, right = (a, b) if cat.landmarks[a].startswith("left") else (b, a)
            assert cat.landmarks[right].startswith("right")
            if present[left] and present[right]:
                assert xy[left, 0] < xy[right, 0] + 0.5, (cat.landmarks[left], xy[left], xy[right])
        # Centre-line points sit between their neighbours' flip partners, and tops have the neck on top.
        if "back neck centre" in cat.landmarks:
            i, left, right = (cat.landmark_index(n) for n in ("back neck centre", "left neck-shoulder point",
                                                              "right neck-shoulder point"))
            if present[[i, left, right]].all():
                assert xy[left, 0] < xy[i, 0] < xy[right, 0]
                assert xy[i, 1] < xy[:, 1][present].max()
        if "waist centre" in cat.landmarks:
            i = cat.landmark_index("waist centre")
            hip = cat.landmark_index("left hip")
            if present[[i, hip]].all():
                assert xy[i, 1] < xy[hip, 1]


@pytest.mark.parametrize("category_id", (1, 3, 4, 7, 13))
def test_mirrored_render_flips_image_and_landmarks(category_id):
    cat = deepfashion2().category(category_id)
    plain = render_single_garment(11, category_id)
    mirrored = render_single_garment(11, category_id, mirror=True)
    w = plain.image.shape[1]
    assert np.array_equal(mirrored.image, plain.image[:, ::-1])
    (g0,), (g1,) = plain.garments, mirrored.garments
    for i, j in enumerate(cat.flip_index):
        k0, k1 = g0.keypoints[j], g1.keypoints[i]
        assert k1.visibility == k0.visibility
        if k0.visibility != Visibility.ABSENT:
            assert k1.x == pytest.approx(w - 1 - k0.x) and k1.y == pytest.approx(k0.y)
    assert g1.bbox[0] == pytest.approx(w - 1 - g0.bbox[2])


def _edge_distance(scene, index):
    """Distance from every pixel to a label change of garment `index`: outside / cloth / opening (lining)."""
    h, w = scene.image.shape[:2]
    labels = np.zeros((h, w), np.uint8)
    edges = scene.edges[index]
    cv2.fillPoly(labels, [np.round(edges[0] * 16).astype(np.int32)], 100, cv2.LINE_8, 4)
    for opening in edges[1:]:
        cv2.fillPoly(labels, [np.round(opening * 16).astype(np.int32)], 200, cv2.LINE_8, 4)
    kernel = np.ones((3, 3), np.uint8)
    boundary = (cv2.dilate(labels, kernel) != cv2.erode(labels, kernel)).astype(np.uint8) * 255
    return cv2.distanceTransform(255 - boundary, cv2.DIST_L2, 5)


@pytest.mark.parametrize("seed", range(6))
def test_landmarks_lie_on_the_garment_outline(seed):
    scene = render_scene(seed, SceneConfig(**CLEAN))
    assert scene.garments
    h, w = scene.image.shape[:2]
    near, total = 0, 0
    for i, g in enumerate(scene.garments):
        dist = _edge_distance(scene, i)
        for k in g.keypoints:
            if k.visibility == Visibility.ABSENT:
                continue
            paths = scene.edges[i] + scene.inner_edges[i]
            to_edge = min(np.hypot(*(pl - [k.x, k.y]).T).min() for pl in paths)
            assert to_edge < 1e-6  # a landmark is a vertex of an edge (silhouette, opening, sleeve overlap)
            total += 1
            near += dist[min(int(round(k.y)), h - 1), min(int(round(k.x)), w - 1)] <= 1.5
    # On the rasterised label boundary too, except apexes of sub-pixel slits (crotch, armpit wedges),
    # which the rim line draws but no fill can show.
    assert near >= 0.9 * total, (near, total)


def test_visibility_marks_points_outside_the_image_absent():
    cover = np.zeros((10, 20), np.uint8)
    cover[5, 5] = 255
    vis = _visibility(np.array([[-0.1, 3], [19.2, 3], [3, 9.5], [5, 5], [1, 1], [19, 9]]), 20, 10, cover)
    assert vis == [Visibility.ABSENT, Visibility.ABSENT, Visibility.ABSENT, Visibility.OCCLUDED,
                   Visibility.VISIBLE, Visibility.VISIBLE]
    seen_absent = 0
    for seed in range(40):
        scene = render_scene(seed, SceneConfig(mode="flatlay", occluders=False))
        h, w = scene.image.shape[:2]
        for g in scene.garments:
            for k in g.keypoints:
                if k.visibility == Visibility.ABSENT:
                    seen_absent += 1
                else:
                    assert 0 <= k.x <= w - 1 and 0 <= k.y <= h - 1
            x1, y1, x2, y2 = g.bbox
            assert 0 <= x1 < x2 <= w - 1 and 0 <= y1 < y2 <= h - 1
    assert seen_absent > 0  # garments do run off the frame in these seeds


def test_occluded_points_are_under_a_later_garment_or_the_own_folded_sleeve():
    checked = self_covered = 0
    for seed in range(30):
        scene = render_scene(seed, SceneConfig(mode="flatlay", occluders=False, max_garments=4))
        for i, g in enumerate(scene.garments):
            later = [o.astype(np.float32).reshape(-1, 1, 2) for o in scene.outlines[i + 1:]]
            # Landmarks on a hidden side (under the garment's own sleeve) are exact vertices of it.
            hidden = scene.inner_edges[i][len(scene.inner_edges[i]) // 2:]  # overlaps first, then hidden
            for k in g.keypoints:
                if k.visibility == Visibility.ABSENT:
                    continue
                if any(np.hypot(*(pl - [k.x, k.y]).T).min() < 1e-6 for pl in hidden):
                    assert k.visibility == Visibility.OCCLUDED
                    self_covered += 1
                    continue
                inside = max((cv2.pointPolygonTest(o, (k.x, k.y), True) for o in later), default=-1e9)
                if k.visibility == Visibility.OCCLUDED:
                    assert inside >= -1.5  # visibility is read from the rasterised mask at the nearest pixel
                    checked += 1
                else:
                    assert inside <= 1.5
    assert checked > 0 and self_covered > 0


def test_same_seed_same_pixels_and_landmarks():
    cfg = SceneConfig(mode="mixed", random_aspect=True)
    a, b = render_scene(123, cfg), render_scene(123, cfg)
    assert np.array_equal(a.image, b.image)
    assert a.garments == b.garments
    c = render_scene(124, cfg)
    assert not (a.image.shape == c.image.shape and np.array_equal(a.image, c.image))


@pytest.mark.parametrize("category_id", CATEGORY_IDS)
def test_every_category_renders(category_id):
    scene = render_scene(category_id, SceneConfig(categories=(category_id,), max_garments=2))
    assert scene.image.dtype == np.uint8 and scene.image.shape == (480, 640, 3)
    assert scene.garments and all(g.category_id == category_id for g in scene.garments)
    for g in scene.garments:
        assert all(np.isfinite([k.x, k.y]).all() for k in g.keypoints)


def test_workstation_ground_truth_matches_the_board():
    from app.training.synth.props import BOARD_PX_PER_MM, BOARD_SQUARE_MM

    scene = render_scene(5, SceneConfig(mode="workstation", board=True, **CLEAN))
    assert scene.homography is not None and scene.board_homography is not None
    assert 1.0 < scene.mm_per_px < 3.5
    # Board corners (board image px) -> image px -> table mm: squares must measure 40 mm.
    margin = 10 * BOARD_PX_PER_MM
    step = BOARD_SQUARE_MM * BOARD_PX_PER_MM
    corners = np.array([[margin + i * step, margin + j * step, 1.0] for j in range(1, 5) for i in range(1, 7)])
    img = corners @ scene.board_homography.T
    img = img[:, :2] / img[:, 2:]
    mm = np.hstack([img, np.ones((len(img), 1))]) @ scene.homography.T
    mm = mm[:, :2] / mm[:, 2:]
    grid = mm.reshape(4, 6, 2)
    assert np.allclose(np.linalg.norm(np.diff(grid, axis=1), axis=2), BOARD_SQUARE_MM, atol=1e-6)
    # And OpenCV finds the board in the rendered pixels.
    dictionary = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_5X5_100)
    detector = cv2.aruco.ArucoDetector(dictionary)
    _, ids, _ = detector.detectMarkers(cv2.cvtColor(scene.image, cv2.COLOR_BGR2GRAY))
    assert ids is not None and len(ids) >= 5  # of 17; markers are ~10 px at 640x480, not all decode


def test_bad_config_is_rejected_with_a_clear_message():
    with pytest.raises(ValueError, match="mode"):
        SceneConfig(mode="studio")
    with pytest.raises(ValueError, match="categories"):
        SceneConfig(categories=(14,))
    with pytest.raises(ValueError, match="closeups"):
        SceneConfig(closeups=1.5)


def test_closeups_fill_the_frame_with_one_garment_and_leave_other_configs_seeds_alone():
    def largest_span(scene):
        h, w = scene.image.shape[:2]
        return max(max((g.bbox[2] - g.bbox[0]) / w, (g.bbox[3] - g.bbox[1]) / h) for g in scene.garments)

    close = [render_scene(seed, SceneConfig(mode="flatlay", closeups=1.0)) for seed in range(12)]
    plain = [render_scene(seed, SceneConfig(mode="flatlay")) for seed in range(12)]
    assert all(len(s.garments) == 1 for s in close)
    assert min(largest_span(s) for s in close) > 0.75  # the garment spans most of the frame on one axis
    assert np.mean([largest_span(s) for s in close]) > np.mean([largest_span(s) for s in plain]) + 0.15
    # Workstation scenes are never close-ups, and drawing the close-up choice only when asked keeps
    # the pixels of every existing pool's seeds.
    work = SceneConfig(mode="workstation", closeups=1.0)
    assert np.array_equal(render_scene(3, work).image, render_scene(3, SceneConfig(mode="workstation")).image)


def _on_some_edge(shape, point) -> bool:
    return min(np.hypot(*(pl - point).T).min() for pl in shape.edges() + shape.inner_edges()) < 1e-6


@pytest.mark.parametrize("category_id", SLEEVES_ALONG_CATEGORIES)
def test_sleeves_folded_down_along_the_body(monkeypatch, category_id):
    monkeypatch.setattr(garments_tops, "SLEEVES_ALONG_PROB", 1.0)
    cat = deepfashion2().category(category_id)
    folded_sides = 0
    for seed in range(8):
        shape = garments_tops.build_top(np.random.default_rng(seed), category_id)
        assert not np.isnan(shape.landmarks).any()
        silhouette = Polygon(shape.outline)
        assert silhouette.is_valid  # a simple polygon: the folded sleeves lie inside the garment's outline
        assert len(shape.overlap_edges) == len(shape.hidden_edges) >= 1
        hidden = {cat.landmarks[i] for i in shape.self_occluded}
        assert hidden <= {f"{side} {name}" for side in ("left", "right") for name in ("armpit", "side upper", "side waist")}
        lm = dict(zip(cat.landmarks, shape.landmarks, strict=True))
        for side, sign in (("left", -1), ("right", 1)):
            if f"{side} armpit" not in hidden:  # this sleeve's draw had no clean fold: it lies spread
                continue
            folded_sides += 1
            # The armpit lies under the sleeve and the cuff's inner corner over the body, both inside the
            # silhouette; the outer cuff corner is on the outline, above the hem.
            assert silhouette.buffer(-0.1).contains(Point(lm[f"{side} armpit"]))
            assert silhouette.buffer(-0.1).contains(Point(lm[f"{side} cuff inner"]))
            assert silhouette.exterior.distance(Point(lm[f"{side} cuff outer"])) < 1e-6
            assert lm[f"{side} cuff outer"][1] < lm[f"{side} hem corner"][1]
            assert sign * (lm[f"{side} cuff outer"][0] - lm[f"{side} cuff inner"][0]) > 0
        for name, point in lm.items():
            assert _on_some_edge(shape, point), name
    assert folded_sides >= 12  # of 16: the fold mostly succeeds on both sides


def test_self_occluded_landmarks_are_marked_occluded_in_the_scene(monkeypatch):
    monkeypatch.setattr(garments_tops, "SLEEVES_ALONG_PROB", 1.0)
    cat = deepfashion2().category(2)
    for seed in range(4):
        for mirror in (False, True):
            (g,) = render_single_garment(seed, 2, rotation=0.0, mirror=mirror, **CLEAN).garments
            for name in ("left armpit", "right armpit"):
                k = g.keypoints[cat.landmark_index(name)]
                assert k.visibility in (Visibility.OCCLUDED, Visibility.ABSENT)
            visible = [k for k in g.keypoints if k.visibility == Visibility.VISIBLE]
            assert len(visible) >= cat.num_keypoints // 2


@pytest.mark.parametrize("category_id", (2, 4))
def test_hood_rises_above_the_neck_and_shows_its_lining(monkeypatch, category_id):
    monkeypatch.setitem(garments_tops.HOOD_PROB, category_id, 1.0)
    cat = deepfashion2().category(category_id)
    for seed in range(6):
        shape = garments_tops.build_top(np.random.default_rng(seed), category_id)
        lm = dict(zip(cat.landmarks, shape.landmarks, strict=True))
        assert Polygon(shape.outline).is_valid
        neck_y = lm["right neck-shoulder point"][1]
        assert shape.outline[:, 1].min() < neck_y - 8.0  # the hood is part of the silhouette (and the box)
        # The back neck centre is no longer on the silhouette but on the hood's inside, a drawn opening.
        assert Polygon(shape.outline).exterior.distance(Point(lm["back neck centre"])) > 1.0
        assert any(np.hypot(*(o - lm["back neck centre"]).T).min() < 1e-6 for o in shape.openings)
        assert not shape.self_occluded or category_id in SLEEVES_ALONG_CATEGORIES
        for name, point in lm.items():
            assert _on_some_edge(shape, point), name


def test_turtleneck_covers_the_back_neckline(monkeypatch):
    monkeypatch.setitem(garments_tops.HOOD_PROB, 2, 0.0)
    monkeypatch.setitem(garments_tops.TURTLENECK_PROB, 2, 1.0)
    cat = deepfashion2().category(2)
    back = cat.landmark_index("back neck centre")
    for seed in range(6):
        shape = garments_tops.build_top(np.random.default_rng(seed), 2)
        (tube,) = shape.top_patches
        lm = dict(zip(cat.landmarks, shape.landmarks, strict=True))
        assert back in shape.self_occluded
        assert Polygon(tube).buffer(1e-6).contains(Point(lm["back neck centre"]))  # under the tube
        for name in ("front neck centre", "left front neckline", "right front neckline"):
            assert np.hypot(*(tube - lm[name]).T).min() < 1e-6, name  # the tube's lower edge
        assert shape.outline[:, 1].min() < lm["left neck-shoulder point"][1] - 3.0
        for name, point in lm.items():
            assert _on_some_edge(shape, point), name
    for seed in range(3):
        (g,) = render_single_garment(seed, 2, rotation=0.0, **CLEAN).garments
        assert g.keypoints[back].visibility in (Visibility.OCCLUDED, Visibility.ABSENT)


def test_zipped_up_jacket_with_stand_collar(monkeypatch):
    monkeypatch.setattr(garments_tops, "CLOSED_OUTWEAR_PROB", 1.0)
    monkeypatch.setattr(garments_tops, "ZIPPED_UP_PROB", 1.0)
    monkeypatch.setattr(garments_tops, "STAND_COLLAR_PROB", 1.0)
    monkeypatch.setitem(garments_tops.HOOD_PROB, 4, 0.0)
    cat = deepfashion2().category(4)
    back = cat.landmark_index("back neck centre")
    for seed in range(6):
        shape = garments_tops.build_top(np.random.default_rng(seed), 4)
        lm = dict(zip(cat.landmarks, shape.landmarks, strict=True))
        (collar,) = shape.top_patches
        assert Polygon(shape.outline).is_valid and shape.zipped
        assert back in shape.self_occluded  # behind the collar
        neck_y = lm["right neck-shoulder point"][1]
        assert lm["right lapel bottom"][1] - neck_y < 8.0  # zipped up: only a small V at the top
        np.testing.assert_allclose(lm["right lapel bottom"], lm["left lapel bottom"])  # the fronts meet
        # The zip runs up the centre line from the hem to the collar's top edge.
        assert np.allclose(shape.placket[:, 0], 0.0)
        assert shape.placket[:, 1].min() == pytest.approx(collar[:, 1].min())
        assert shape.placket[:, 1].max() == pytest.approx(lm["right front hem"][1])
        for name in ("right front neckline", "left front neckline", "right lapel bottom"):
            assert np.hypot(*(collar - lm[name]).T).min() < 1e-6, name  # the collar's lower edge
        for name, point in lm.items():
            assert _on_some_edge(shape, point), name


def test_outwear_is_mostly_closed():
    rng = np.random.default_rng(0)
    fronts = [garments_tops._outwear_front(rng) for _ in range(2000)]
    closed = np.mean([gap == 0.0 for gap, _, _ in fronts])
    zipped_up = np.mean([up for _, _, up in fronts])
    assert closed == pytest.approx(garments_tops.CLOSED_OUTWEAR_PROB, abs=0.03)
    assert zipped_up == pytest.approx(garments_tops.CLOSED_OUTWEAR_PROB * garments_tops.ZIPPED_UP_PROB, abs=0.03)
    assert all(gap == 0.0 and depth < 8.0 for gap, depth, up in fronts if up)


def test_zip_is_drawn_along_its_line_only():
    from app.training.synth.render import _draw_zip

    canvas = np.full((200, 120, 3), 0.5, np.float32)
    line = np.array([[60.0, 20.0], [60.0, 180.0]])
    _draw_zip(np.random.default_rng(0), canvas, line, np.zeros(2), px_per_cm=8.0)
    changed = np.abs(canvas - 0.5).max(axis=2) > 1e-3
    ys, xs = np.nonzero(changed)
    assert np.abs(xs - 60).max() <= 6  # tape 0.9 cm, teeth 0.6 cm, pull 0.8 cm wide at 8 px/cm
    assert ys.min() <= 21 and ys.max() >= 179  # the whole length
    assert changed[20:180, 60].mean() > 0.95


def test_fabric_kind_is_respected_and_checked():
    from app.training.synth.textures import fabric

    v, u = np.mgrid[0:120, 0:60].astype(np.float32) * 0.25  # cm
    quilted = fabric(np.random.default_rng(1), u, v, 4.0, "quilted")
    rows = quilted.mean(axis=(1, 2))
    assert rows.max() - rows.min() > 0.1  # padded channels: light and dark across the stitching
    with pytest.raises(ValueError, match="unknown fabric"):
        fabric(np.random.default_rng(1), u, v, 4.0, "velvet")
