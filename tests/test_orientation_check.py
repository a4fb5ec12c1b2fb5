"""The 180° orientation check: turned crops decode back to the upright frame, and the surer reading wins."""

import numpy as np
import pytest

from inference.contract_models import draw_marker, garment_colour, write_contract_model
from inference.pipeline import GarmentPipeline
from inference.pose_decode import CropView
from inference.schema import deepfashion2

pytest.importorskip("onnx")

SPLIT, WIDTH, HEIGHT = 2.0, 8, 6


def _peaks(sx, sy, landmark):
    return sx[0, landmark].argmax() / SPLIT, sy[0, landmark].argmax() / SPLIT


def _one_peak(landmark: int, x_bin: int, y_bin: int):
    sx = np.zeros((1, 81, int(WIDTH * SPLIT)), np.float32)
    sy = np.zeros((1, 81, int(HEIGHT * SPLIT)), np.float32)
    sx[0, landmark, x_bin] = sy[0, landmark, y_bin] = 9.0
    return sx, sy


def test_a_half_turn_maps_both_axes_through_the_centre_and_keeps_sides():
    perm = deepfashion2().agg81_flip_index
    a = next(i for i, j in enumerate(perm) if j != i)
    sx, sy = _one_peak(a, x_bin=4, y_bin=2)  # turned crop: (2.0, 1.0) → upright (8-1-2, 6-1-1) = (5.0, 4.0)
    ux, uy = CropView(quarter_turns=2).to_upright(sx, sy, SPLIT, perm)
    assert _peaks(ux, uy, a) == (5.0, 4.0)
    assert ux[0, perm[a]].max() == 0.0  # a turn is not a mirror: the garment's left stays its left


def test_an_upside_down_mirror_swaps_sides_and_maps_rows_only():
    perm = deepfashion2().agg81_flip_index
    a = next(i for i, j in enumerate(perm) if j != i)
    sx, sy = _one_peak(a, x_bin=4, y_bin=2)
    ux, uy = CropView(quarter_turns=2, mirrored=True).to_upright(sx, sy, SPLIT, perm)
    assert _peaks(ux, uy, int(perm[a])) == (2.0, 4.0)
    assert ux[0, a].max() == 0.0


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
@pytest.mark.parametrize("mirrored", [False, True])
def test_every_view_of_a_square_crop_decodes_back_to_the_same_pixel(turns, mirrored):
    """A one-pixel mark seen through a view, read off as SimCC peaks there, maps back to where it was."""
    size, split, (x, y) = 7, 2.0, (1, 5)
    crop = np.zeros((1, 1, size, size), np.float32)
    crop[0, 0, y, x] = 1.0
    view = CropView(turns, mirrored)
    seen = view.apply(crop)[0, 0]
    vy, vx = np.argwhere(seen == 1.0)[0]
    sx, sy = np.zeros((1, 81, int(size * split)), np.float32), np.zeros((1, 81, int(size * split)), np.float32)
    sx[0, :, int(vx * split)] = sy[0, :, int(vy * split)] = 9.0  # every landmark at the mark in the view
    ux, uy = view.to_upright(sx, sy, split, deepfashion2().agg81_flip_index)
    assert (ux[0].argmax(axis=-1) / split == x).all() and (uy[0].argmax(axis=-1) / split == y).all()


def test_quarter_turns_refuse_non_square_crops():
    sx, sy = _one_peak(0, x_bin=4, y_bin=2)
    with pytest.raises(ValueError, match="square"):
        CropView(quarter_turns=1).to_upright(sx, sy, SPLIT, deepfashion2().agg81_flip_index)


def _scene(marker_y: int) -> np.ndarray:
    img = np.full((480, 640, 3), 20, np.uint8)
    img[100:300, 270:370] = garment_colour(9)  # inside one detector stripe
    draw_marker(img, 321, marker_y)
    return img


@pytest.fixture(scope="module")
def ramp_card(tmp_path_factory):
    # Marker logits 20× weaker on the crop's top row than on its bottom row.
    return write_contract_model(tmp_path_factory.mktemp("ramp"), row_ramp=(0.01, 0.2))


@pytest.mark.parametrize("flip_test", [False, True])
def test_a_reading_surer_when_turned_replaces_the_upright_one_at_the_same_place(ramp_card, flip_test):
    plain = GarmentPipeline.from_card(ramp_card, provider="cpu", flip_test=flip_test)
    checked = GarmentPipeline.from_card(ramp_card, provider="cpu", flip_test=flip_test, orientation_check=True)
    img = _scene(marker_y=131)  # high in the crop: weak upright, strong once turned
    (before,), (after,) = plain(img), checked(img)
    assert after.extra["orientation"] == 180  # non-square crops: 180° is the only turn tried
    assert set(after.extra["orientation_scores"]) == {"0", "180"}
    upright_score, turned_score = after.extra["orientation_scores"].values()
    assert turned_score > upright_score + 0.1
    assert np.mean([k.score for k in after.keypoints]) == pytest.approx(turned_score)
    assert np.mean([k.score for k in before.keypoints]) == pytest.approx(upright_score)
    # Decoded back into the upright frame the turned reading lands on the same dot, sub-pixel.
    assert np.allclose([(k.x, k.y) for k in after.keypoints], (321.0, 131.0), atol=0.75)
    assert np.allclose([(k.x, k.y) for k in before.keypoints], (321.0, 131.0), atol=0.75)


def test_the_upright_reading_stays_when_it_is_the_surer_one(ramp_card):
    plain = GarmentPipeline.from_card(ramp_card, provider="cpu")
    checked = GarmentPipeline.from_card(ramp_card, provider="cpu", orientation_check=True)
    img = _scene(marker_y=270)  # low in the crop: the upright reading is the sure one
    (before,), (after,) = plain(img), checked(img)
    assert after.extra["orientation"] == 0
    assert [(k.x, k.y, k.score) for k in after.keypoints] == [(k.x, k.y, k.score) for k in before.keypoints]


def test_a_tie_keeps_the_upright_reading(tmp_path):
    card = write_contract_model(tmp_path)  # no ramp: the dot reads the same either way up
    checked = GarmentPipeline.from_card(card, provider="cpu", orientation_check=True)
    (garment,) = checked(_scene(marker_y=131))
    upright_score, turned_score = garment.extra["orientation_scores"].values()
    assert upright_score == pytest.approx(turned_score) and garment.extra["orientation"] == 0


@pytest.fixture(scope="module")
def square_ramp_card(tmp_path_factory):
    return write_contract_model(tmp_path_factory.mktemp("square"), pose_size=(128, 128), row_ramp=(0.01, 0.2),
                                sideways_categories=(9,))


@pytest.mark.parametrize(("marker", "flip_test", "expected"), [((320, 176), True, 180), ((336, 200), True, 90),
                                                               ((304, 200), False, 270), ((320, 224), True, 0)])
def test_square_crops_are_also_read_sideways_and_the_surest_turn_wins(square_ramp_card, marker, flip_test, expected):
    """The ramp model is surest of a dot low in the crop: the turn that brings the dot lowest must win."""
    checked = GarmentPipeline.from_card(square_ramp_card, provider="cpu", flip_test=flip_test,
                                        orientation_check=True)
    img = np.full((480, 640, 3), 20, np.uint8)
    img[170:230, 300:340] = garment_colour(9)  # small: the 128-pixel crop enlarges it, the dot stays sharp
    draw_marker(img, *marker)
    (garment,) = checked(img)
    assert set(garment.extra["orientation_scores"]) == {"0", "90", "180", "270"}
    assert garment.extra["orientation"] == expected, garment.extra["orientation_scores"]
    assert np.allclose([(k.x, k.y) for k in garment.keypoints], marker, atol=1.0)


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_turning_a_scene_moves_every_landmark_and_box_with_its_pixels(turns):
    from app.training.orientation_eval import turn_image_and_garments
    from inference.annotation import Garment, Keypoint

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)
    points = ((5, 7), (29, 32), (12, 20))
    garment = Garment(category_id=9, bbox=(5.0, 7.0, 30.0, 33.0),
                      keypoints=tuple(Keypoint(float(x), float(y)) for x, y in points))
    turned, (moved,) = turn_image_and_garments(image, [garment], turns)
    assert turned.shape == (image.shape if turns == 2 else (60, 40, 3))
    for before, after in zip(garment.keypoints, moved.keypoints, strict=True):
        assert (turned[int(after.y), int(after.x)] == image[int(before.y), int(before.x)]).all()
    x1, y1, x2, y2 = moved.bbox
    assert x1 < x2 and y1 < y2 and (x2 - x1, y2 - y1) == ((25.0, 26.0) if turns == 2 else (26.0, 25.0))
    assert all(x1 <= k.x <= x2 and y1 <= k.y <= y2 for k in moved.keypoints)  # the box turned with them
    if turns == 2:
        assert moved.bbox == (29.0, 6.0, 54.0, 32.0)
    back, (again,) = turn_image_and_garments(turned, [moved], 4 - turns)
    assert (back == image).all() and again == garment


def test_sideways_readings_count_only_for_the_categories_the_card_allows(tmp_path):
    """Category 9 (the garment's colour) is not in the card's list: the sure sideways reading is ignored."""
    card = write_contract_model(tmp_path, pose_size=(128, 128), row_ramp=(0.01, 0.2), sideways_categories=(7,))
    checked = GarmentPipeline.from_card(card, provider="cpu", orientation_check=True)
    img = np.full((480, 640, 3), 20, np.uint8)
    img[170:230, 300:340] = garment_colour(9)
    draw_marker(img, 336, 200)
    (garment,) = checked(img)
    scores = garment.extra["orientation_scores"]
    assert scores["90"] > scores["0"] and scores["90"] > scores["180"]  # surest sideways, yet not allowed
    assert garment.extra["orientation"] in (0, 180)


def test_a_card_without_sideways_categories_reads_only_upright_and_upside_down(tmp_path):
    card = write_contract_model(tmp_path, pose_size=(128, 128))
    checked = GarmentPipeline.from_card(card, provider="cpu", orientation_check=True)
    img = np.full((480, 640, 3), 20, np.uint8)
    img[170:230, 300:340] = garment_colour(9)
    draw_marker(img, 336, 200)
    (garment,) = checked(img)
    assert set(garment.extra["orientation_scores"]) == {"0", "180"}


def test_sideways_is_allowed_only_where_it_helps_and_spares_upright_garments():
    from app.training.orientation_eval import decide_sideways

    decided = decide_sideways({
        8: {"upright": [0.0, 0.02, 0.0, 0.0], "sideways": [0.5, 0.6]},  # helps, harmless upright: allowed
        7: {"upright": [-0.1, 0.0, 0.0, 0.0], "sideways": [0.7, 0.8]},  # costs upright shorts 0.025: refused
        9: {"upright": [0.0, 0.0], "sideways": [-0.01, 0.0]},  # does not help: refused
    }, tolerance=0.005)
    assert decided["sideways_categories"] == [8]
    assert decided["per_category"][7]["upright_gain"] == -0.025 and not decided["per_category"][7]["allowed"]


def test_a_garment_not_allowed_sideways_cannot_come_back_sideways_as_another_category(tmp_path):
    from inference.pose_decode import Detection

    card = write_contract_model(tmp_path, pose_size=(128, 128), sideways_categories=(9,))
    pipeline = GarmentPipeline.from_card(card, provider="cpu", orientation_check=True)

    def reading(score: float, category: int):
        return [(np.zeros((2, 2)), np.full(2, score))], [Detection((0, 0, 9, 9), 0.9, category)], [{}]

    # The plain reading says shorts (7, not allowed); the surest reading, at 90°, says skirt (9, allowed).
    readings = [reading(0.3, 7), reading(0.6, 9), reading(0.1, 7), reading(0.2, 7)]
    decoded, detections, extras = pipeline._pick_orientation(readings, [0, 90, 180, 270])
    assert extras[0]["orientation"] == 0 and detections[0].category_id == 7
    # Plain skirt, sideways skirt: allowed.
    readings[0] = reading(0.3, 9)
    _, detections, extras = pipeline._pick_orientation(readings, [0, 90, 180, 270])
    assert extras[0]["orientation"] == 90 and detections[0].category_id == 9


def test_a_turned_reading_that_changes_the_category_must_beat_the_plain_one_by_the_cards_margin(tmp_path):
    from dataclasses import replace

    from inference.pose_decode import Detection

    card = write_contract_model(tmp_path, pose_size=(128, 128), sideways_categories=(1, 9))
    pipeline = GarmentPipeline.from_card(card, provider="cpu", orientation_check=True)
    pipeline.card = replace(pipeline.card, pose=replace(pipeline.card.pose, turned_category_margin=0.1))

    def reading(score: float, category: int):
        return [(np.zeros((2, 2)), np.full(2, score))], [Detection((0, 0, 9, 9), 0.9, category)], [{}]

    def pick(readings):
        _, detections, extras = pipeline._pick_orientation(readings, [0, 90, 180, 270])
        return extras[0]["orientation"], detections[0].category_id

    # Plain: a top (1) at 0.40. Upside down it reads as a skirt (9), surer by 0.08 < 0.1: the top stays.
    assert pick([reading(0.40, 1), reading(0.1, 1), reading(0.48, 9), reading(0.1, 1)]) == (0, 1)
    # Surer by 0.12 > 0.1: the turned skirt wins, and its recorded score is its own, not lowered.
    _, _, extras = pipeline._pick_orientation(
        [reading(0.40, 1), reading(0.1, 1), reading(0.52, 9), reading(0.1, 1)], [0, 90, 180, 270])
    assert extras[0]["orientation"] == 180 and extras[0]["orientation_scores"]["180"] == pytest.approx(0.52)
    # A turned reading that keeps the category needs no margin.
    assert pick([reading(0.40, 1), reading(0.45, 1), reading(0.1, 1), reading(0.1, 1)]) == (90, 1)


def test_the_margin_with_the_best_keypoint_ap_is_chosen_and_a_tie_goes_to_the_smaller():
    from app.training.orientation_eval import choose_margin

    per_margin = {0.0: {"keypoint_AP": 0.71}, 0.05: {"keypoint_AP": 0.716}, 0.1: {"keypoint_AP": 0.719},
                  0.2: {"keypoint_AP": 0.719}}
    assert choose_margin(per_margin) == 0.1
    assert choose_margin({0.0: {"keypoint_AP": 0.7}, 0.1: {"keypoint_AP": 0.7}}) == 0.0


def test_margin_tuning_runs_the_whole_pipeline_and_records_its_choice_in_the_card(tmp_path):
    from app.training.orientation_eval import record_margin, tune_margin
    from inference.model_card import load_card

    card = write_contract_model(tmp_path, pose_size=(128, 128), sideways_categories=(9,))
    tuned = tune_margin(card, scenes=2, margins=(0.0, 0.1), progress=None)
    assert set(tuned["per_margin"]) == {0.0, 0.1} and tuned["best"] in (0.0, 0.1)
    assert all(0.0 <= v["keypoint_AP"] <= 1.0 for v in tuned["per_margin"].values())
    record_margin(card, {**tuned, "best": 0.1}, val_scenes=2, progress=None)
    recorded = load_card(card)
    assert recorded.pose.turned_category_margin == 0.1
    assert recorded.training["turned_category_margin_tuning"]["best"] == 0.1
    assert recorded.metrics["synthetic_val_app"]["images"] == 2
    assert recorded.pose.sideways_categories == (9,)  # the rest of the card is kept


class _CountingPose:
    """The real pose session, recording how many crop rows each call was given."""

    def __init__(self, model):
        self.model, self.rows = model, []

    def run(self, feeds):
        self.rows.append(len(feeds["crops"]))
        return self.model.run(feeds)

    def __getattr__(self, name):
        return getattr(self.model, name)


@pytest.mark.parametrize("flip_test", [True, False])  # alone, the one turned view was once read unturned
def test_a_tracked_garment_is_read_only_the_way_up_its_detection_frame_chose(ramp_card, flip_test):
    from inference.realtime import LiveEstimator

    pipeline = GarmentPipeline.from_card(ramp_card, provider="cpu", flip_test=flip_test, orientation_check=True)
    file = pipeline.card.pose.file
    pose = pipeline.pose_models[file] = _CountingPose(pipeline.pose_models[file])
    estimator = LiveEstimator(pipeline, detect_every=2, smooth=False)
    img = _scene(marker_y=131)  # surer turned over: the detection frame's check picks 180°
    frames = [estimator.process(img, t / 30) for t in range(3)]
    assert [detected for _, _, detected, _ in frames] == [True, False, True]
    # Detection frames read upright and turned, each also mirrored; the tracked frame only turned (+ mirrored).
    passes = 2 if flip_test else 1
    assert pose.rows == [2 * passes, passes, 2 * passes]
    (checked,), (tracked,), (rechecked,) = (garments for garments, _, _, _ in frames)
    assert checked.extra["orientation"] == tracked.extra["orientation"] == rechecked.extra["orientation"] == 180
    assert tracked.extra["orientation_kept"] and "orientation_scores" not in tracked.extra
    assert "orientation_kept" not in rechecked.extra
    # The one reading kept is the one the full check chose, so the landmarks stay on the dot, sub-pixel.
    assert np.allclose([(k.x, k.y) for k in tracked.keypoints], (321.0, 131.0), atol=0.75)
    assert np.mean([k.score for k in tracked.keypoints]) == pytest.approx(checked.extra["orientation_scores"]["180"],
                                                                           abs=0.02)


def test_a_decided_orientation_is_ignored_with_the_check_off(ramp_card):
    from inference.pose_decode import Detection

    plain = GarmentPipeline.from_card(ramp_card, provider="cpu")
    img = _scene(marker_y=131)
    (detected,) = plain.detect(img)
    turned = Detection(detected.bbox, detected.score, detected.category_id, quarter_turns=2)
    (as_given,), (unturned,) = plain.estimate(img, [turned]), plain.estimate(img, [detected])
    assert [(k.x, k.y, k.score) for k in as_given.keypoints] == [(k.x, k.y, k.score) for k in unturned.keypoints]
    assert "orientation" not in as_given.extra
