"""End-to-end CPU pipeline on the hand-built contract models (inference/contract_models.py)."""

from dataclasses import replace

import numpy as np
import pytest

from inference.annotation import Garment, Keypoint, Visibility
from inference.contract_models import MARKER_BGR, draw_marker, garment_colour, write_contract_model
from inference.pipeline import GarmentPipeline, PipelineResult, with_landmark_box
from inference.pose_decode import DEFAULT_VISIBLE_THRESHOLD, CropView, decode_landmarks
from inference.preprocess import box_to_center_scale, crop_affine, invert_affine
from inference.schema import deepfashion2


@pytest.fixture(scope="module")
def card_path(tmp_path_factory):
    return write_contract_model(tmp_path_factory.mktemp("contract"), per_category={9: "pose_skirt.onnx"})


@pytest.fixture(scope="module")
def pipeline(card_path):
    return GarmentPipeline.from_card(card_path, provider="cpu")


def scene(garments, size=(480, 640)):
    """Dark frame; each garment is (category, (x1,y1,x2,y2), marker (x, y)) drawn in the detector's colour."""
    img = np.full((*size, 3), 20, np.uint8)
    for cat, (x1, y1, x2, y2), (mx, my) in garments:
        img[y1:y2, x1:x2] = garment_colour(cat)
        draw_marker(img, mx, my)
    return img


def test_detects_each_garment_with_its_category_box_and_landmarks(pipeline):
    img = scene([(3, (10, 100, 120, 300), (60, 150)), (9, (400, 200, 500, 400), (450, 330))])
    result = pipeline(img)
    assert isinstance(result, PipelineResult) and all(isinstance(g, Garment) for g in result)
    by_cat = {g.category_id: g for g in result}
    assert set(by_cat) == {3, 9}
    schema = deepfashion2()
    for cat, box, marker in ((3, (10, 100, 120, 300), (60, 150)), (9, (400, 200, 500, 400), (450, 330))):
        g = by_cat[cat]
        assert np.allclose(g.bbox, box, atol=2.0)  # letterbox halves the frame: 1 network px = 2 image px
        assert len(g.keypoints) == schema.category(cat).num_keypoints
        pts = np.array([(k.x, k.y) for k in g.keypoints])
        # One crop pixel is box-size-dependent; every landmark sits on the marker within ~1.5 px.
        assert np.abs(pts - marker).max() < 1.5
        assert all(k.visibility == Visibility.VISIBLE and k.score > 0.5 for k in g.keypoints)
        assert 0.0 < g.score <= 1.0 and g.model_version == "contract-test@0.0.1"
    assert result.provider == "cpu"
    assert all(getattr(result.timings, s) > 0 for s in ("pre", "detect", "pose", "post"))


def test_landmark_without_evidence_is_kept_as_occluded_with_low_score(pipeline):
    img = scene([(1, (20, 50, 120, 250), (0, 0))])
    img[0, 0] = 20  # remove the marker: the pose graph sees nothing to localise
    (g,) = pipeline(img)
    assert all(k.visibility == Visibility.OCCLUDED and k.score < DEFAULT_VISIBLE_THRESHOLD for k in g.keypoints)
    assert g.score < g.extra["detection_score"]


def test_round_trip_known_crop_position_to_image_coordinate(pipeline):
    # A box whose crop has exactly 1 image px per crop px, so a marker lands on a known crop pixel.
    w_in, h_in = pipeline.card.pose.preprocess.input_size
    pad = pipeline.card.pose.bbox_padding
    half_w, half_h = w_in / pad / 2, h_in / pad / 2  # centred on a pixel: (300, 250)
    box = (300.0 - half_w, 250.0 - half_h, 300.0 + half_w, 250.0 + half_h)
    center, scale = box_to_center_scale(box, (w_in, h_in), pad)
    matrix = crop_affine(center, scale, (w_in, h_in))
    crop_xy = np.array([57.0, 201.0])
    image_xy = invert_affine(matrix) @ np.append(crop_xy, 1.0)
    assert np.allclose(image_xy, np.round(image_xy))  # lies on an image pixel centre
    img = np.full((480, 640, 3), 20, np.uint8)
    img[int(round(image_xy[1])), int(round(image_xy[0]))] = MARKER_BGR
    (g,) = pipeline.predict_boxes(img, [(box, 2)])
    assert g.category_id == 2 and g.bbox == box and g.extra["detection_score"] == 1.0
    assert np.allclose([(k.x, k.y) for k in g.keypoints], image_xy, atol=1e-6)


def test_simcc_decode_and_inverse_affine_are_sub_pixel_without_a_model():
    split = 2.0
    center, scale = box_to_center_scale((100.3, 50.7, 260.9, 400.1), (192, 256), 1.25)
    matrix = crop_affine(center, scale, (192, 256))
    sx = np.full((1, 81, 384), -5.0, np.float32)
    sy = np.full((1, 81, 512), -5.0, np.float32)
    sx[0, :, 75], sy[0, :, 301] = 20.0, 20.0  # crop (37.5, 150.5)
    sx[0, 3, 75], sx[0, 3, 77] = -5.0, 20.0  # one landmark elsewhere: crop (38.5, 150.5)
    (xy, scores), = decode_landmarks(sx, sy, split, invert_affine(matrix)[None], [1])
    expected = invert_affine(matrix) @ np.array([37.5, 150.5, 1.0])
    agg = np.asarray(deepfashion2().category(1).agg81)
    assert xy.shape == (len(agg), 2) and (scores > 0.99).all()
    assert np.allclose(xy[agg != 3], expected, atol=1e-9)
    assert np.allclose(xy[agg == 3], invert_affine(matrix) @ np.array([38.5, 150.5, 1.0]), atol=1e-9)


def test_flip_back_mirrors_bins_and_swaps_left_right():
    split, width = 2.0, 8
    perm = deepfashion2().agg81_flip_index
    a, b = next((i, int(j)) for i, j in enumerate(perm) if j != i)
    sx = np.zeros((1, 81, int(width * split)), np.float32)
    sx[0, b, 4] = 9.0  # flipped crop: landmark b at column 2.0 → original landmark a at column 5.0
    fx, _ = CropView(mirrored=True).to_upright(sx, np.zeros((1, 81, 4), np.float32), split, perm)
    assert int(fx[0, a].argmax()) == 10 and fx[0, b].max() == 0.0


def test_flip_test_keeps_positions(pipeline, card_path):
    img = scene([(3, (10, 100, 120, 300), (61, 171))])
    flipped = GarmentPipeline.from_card(card_path, provider="cpu", flip_test=True)
    (plain,), (both,) = pipeline(img), flipped(img)
    assert np.allclose([(k.x, k.y) for k in both.keypoints], [(k.x, k.y) for k in plain.keypoints], atol=1.5)


def test_per_category_pose_graph_is_used_for_its_category(pipeline):
    assert set(pipeline.pose_models) == {"pose.onnx", "pose_skirt.onnx"}
    assert pipeline.pose_for_category == {9: "pose_skirt.onnx"}


def test_predict_many_matches_single_calls(pipeline):
    images = [
        scene([(1, (10, 50, 110, 200), (50, 90))]),
        scene([(5, (140, 60, 250, 300), (200, 100)), (7, (520, 100, 630, 400), (600, 380))]),
        np.full((240, 320, 3), 20, np.uint8),
    ]
    batched = pipeline.predict_many(images, pose_batch=2)
    assert [len(r) for r in batched] == [1, 2, 0]
    for img, res in zip(images, batched, strict=True):
        single = pipeline(img)
        assert [g.category_id for g in res] == [g.category_id for g in single]
        for a, b in zip(res, single, strict=True):
            assert np.allclose([(k.x, k.y, k.score) for k in a.keypoints], [(k.x, k.y, k.score) for k in b.keypoints])


def test_gray_and_bgra_inputs_are_accepted_and_bad_arrays_rejected(pipeline):
    img = scene([(1, (10, 50, 110, 200), (50, 90))])
    import cv2

    assert len(pipeline(cv2.cvtColor(img, cv2.COLOR_BGR2BGRA))) == 1
    assert isinstance(pipeline(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)), list)
    with pytest.raises(ValueError, match="uint8"):
        pipeline(img.astype(np.float32))


def test_garment_score_follows_the_cards_deepmark_weighting(pipeline):
    (g,) = pipeline(scene([(9, (400, 200, 500, 400), (450, 330))]))
    det, kp = g.extra["detection_score"], g.extra["keypoint_score"]
    alpha = pipeline.card.score_alpha
    assert alpha == pytest.approx(0.8)
    assert g.score == pytest.approx(alpha * det + (1 - alpha) * kp)


def test_overlapping_detections_of_different_categories_merge_into_the_best(card_path):
    rows = np.array(
        [
            [
                [10.0, 10.0, 110.0, 210.0, 0.9, 2.0],  # category 3, best
                [12.0, 14.0, 108.0, 200.0, 0.6, 0.0],  # same garment, category 1: dropped when merging
                [200.0, 10.0, 300.0, 210.0, 0.5, 8.0],  # another garment, category 9: kept
            ]
        ],
        dtype=np.float32,
    )
    merged = GarmentPipeline.from_card(card_path, provider="cpu", warm_up=False)
    every = GarmentPipeline.from_card(card_path, provider="cpu", warm_up=False, merge_categories=False)
    assert [d.category_id for d in merged._decode_detections(rows, 1.0, (480, 640))] == [3, 9]
    assert [d.category_id for d in every._decode_detections(rows, 1.0, (480, 640))] == [3, 1, 9]


def test_known_category_relabels_the_detectors_boxes_and_keeps_their_geometry(pipeline):
    img = scene([(3, (10, 100, 120, 300), (60, 150))])
    (auto,) = pipeline(img)
    (given,) = pipeline.predict_known_category(img, 8)  # the spec says trousers
    assert auto.category_id == 3 and given.category_id == 8
    assert given.bbox == pytest.approx(auto.bbox)
    assert len(given.keypoints) == deepfashion2().category(8).num_keypoints
    assert np.abs(np.array([(k.x, k.y) for k in given.keypoints]) - (60, 150)).max() < 1.5
    with pytest.raises(ValueError, match="unknown DeepFashion2 category"):
        pipeline.predict_known_category(img, 14)


def test_known_category_falls_back_to_the_best_weak_box(card_path):
    strict = GarmentPipeline.from_card(card_path, provider="cpu", warm_up=False)
    img = scene([(9, (400, 200, 500, 400), (450, 330))])
    (best,) = strict(img)
    threshold = best.extra["detection_score"] + 0.01  # nothing passes the card's threshold any more
    strict.card = replace(strict.card, detector=replace(strict.card.detector, score_threshold=threshold))
    assert list(strict(img)) == []
    (fallback,) = strict.predict_known_category(img, 9)
    assert fallback.bbox == pytest.approx(best.bbox)


def test_keypoint_scores_are_relative_to_the_cards_reference_peak(tmp_path):
    import json

    path = write_contract_model(tmp_path / "m")
    plain = GarmentPipeline.from_card(path, provider="cpu")
    doc = json.loads(path.read_text())
    doc["pose"]["keypoint_score_reference"] = 0.25
    path.write_text(json.dumps(doc))
    scaled = GarmentPipeline.from_card(path, provider="cpu")
    img = scene([(1, (20, 50, 120, 250), (0, 0))])
    img[0, 0] = 20  # no marker: low raw scores, so the rescaling is not hidden by the cap at 1
    (a,) = plain(img)
    (b,) = scaled(img)
    raw = np.array([k.score for k in a.keypoints])
    assert raw.max() < 0.25
    assert np.allclose([k.score for k in b.keypoints], np.minimum(raw / 0.25, 1.0))
    doc["pose"]["keypoint_score_reference"] = 0.0
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="keypoint_score_reference"):
        GarmentPipeline.from_card(path, provider="cpu")


def test_landmark_box_is_the_landmarks_extent_clipped_to_the_image_and_keeps_the_detectors_box():
    detector_box = (10.0, 20.0, 300.0, 400.0)
    points = [Keypoint(50.25, 60.5), Keypoint(250.75, 90.0, Visibility.OCCLUDED), Keypoint(120.0, 330.125),
              Keypoint(-4.0, 200.0), Keypoint.absent()]  # one landmark off the left edge; absent ones ignored
    g = with_landmark_box(Garment(1, detector_box, tuple(points), 0.9), width=640, height=480)
    assert g.bbox == (0.0, 60.5, 250.75, 330.125)
    assert g.extra["detector_box"] == list(detector_box) and g.keypoints == tuple(points)
    collapsed = Garment(1, detector_box, (Keypoint(60.0, 150.0), Keypoint(60.4, 150.2)), 0.9)
    assert with_landmark_box(collapsed, 640, 480) is collapsed  # under a pixel wide: the detector's box stays


def test_a_photo_to_annotate_gets_its_best_weak_box_flagged_when_nothing_passes_the_threshold(card_path):
    strict = GarmentPipeline.from_card(card_path, provider="cpu", warm_up=False)
    img = scene([(9, (400, 200, 500, 400), (450, 330))])
    (best,) = strict(img)
    assert "weak_detection" not in best.extra
    assert "weak_detection" not in strict(img, at_least_one=True)[0].extra  # it passes: nothing to flag
    threshold = best.extra["detection_score"] + 0.01  # nothing passes the card's threshold any more
    strict.card = replace(strict.card, detector=replace(strict.card.detector, score_threshold=threshold))
    assert list(strict(img)) == []  # the live camera's rule: an empty table stays empty
    (weak,) = strict(img, at_least_one=True)
    assert weak.extra["weak_detection"] and weak.category_id == 9 and weak.bbox == pytest.approx(best.bbox)
    many = strict.predict_many([img, np.full_like(img, 20)], at_least_one=True)
    assert [len(r) for r in many] == [1, 0]  # a blank frame has no box at all, not even a weak one
    assert many[0][0].extra["weak_detection"]
    (qc,) = strict.predict_known_category(img, 9)
    assert qc.extra["weak_detection"]


def test_given_boxes_are_clipped_to_the_photo_and_impossible_ones_refused(pipeline):
    img = scene([(1, (100, 60, 220, 300), (160, 180))])
    h, w = img.shape[:2]
    (huge,) = pipeline.predict_boxes(img, [((-1e6, -1e6, 1e6, 1e6), 1)])
    assert huge.bbox == (0.0, 0.0, float(w), float(h))
    # read in the photo's padded crop, so near the photo (unsure landmarks may sit in the padding), not 1e6 px off
    assert all(abs(k.x) < 2 * w and abs(k.y) < 2 * w for k in huge.keypoints if k.visibility)
    for box, message in [((float("nan"), 0, 50, 50), "not a finite number"), ((w + 100, h + 100, w + 400, h + 400),
                                                                                 "outside"), ((1, 2, 3), "four numbers")]:
        with pytest.raises(ValueError, match=message):
            pipeline.predict_boxes(img, [(box, 1)])
    with pytest.raises(ValueError, match="whole number"):
        pipeline.predict_boxes(img, [((100, 60, 220, 300), 1.5)])


def test_landmarks_of_a_crop_reaching_past_the_photo_stay_on_the_photo(pipeline):
    """A garment at the corner: its padded crop reaches past the edge; with no marker to find, the contract
    pose graph reads the crop's own corner, off the photo, and the reading is put on the photo's edge."""
    img = scene([(1, (0, 0, 120, 200), (0, 0))])
    img[0, 0] = 20  # no marker
    (g,) = pipeline(img)
    pts = np.array([(k.x, k.y) for k in g.keypoints])
    height, width = img.shape[:2]
    assert pts.min() >= 0.0 and (pts[:, 0] <= width).all() and (pts[:, 1] <= height).all()
    assert (pts == 0.0).any()  # read off the photo, at least one coordinate landed on the edge
