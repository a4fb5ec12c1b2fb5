"""The 180° orientation check: turned crops decode back to the upright frame, and the surer reading wins."""

import numpy as np
import pytest

from inference.contract_models import draw_marker, garment_colour, write_contract_model
from inference.pipeline import GarmentPipeline
from inference.pose_decode import simcc_to_upright
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


def test_a_turn_maps_both_axes_through_the_centre_and_keeps_sides():
    perm = deepfashion2().agg81_flip_index
    a = next(i for i, j in enumerate(perm) if j != i)
    sx, sy = _one_peak(a, x_bin=4, y_bin=2)  # turned crop: (2.0, 1.0) → upright (8-1-2, 6-1-1) = (5.0, 4.0)
    ux, uy = simcc_to_upright(sx, sy, SPLIT, perm, reverse_x=True, reverse_y=True)
    assert _peaks(ux, uy, a) == (5.0, 4.0)
    assert ux[0, perm[a]].max() == 0.0  # a turn is not a mirror: the garment's left stays its left


def test_an_upside_down_mirror_swaps_sides_and_maps_rows_only():
    perm = deepfashion2().agg81_flip_index
    a = next(i for i, j in enumerate(perm) if j != i)
    sx, sy = _one_peak(a, x_bin=4, y_bin=2)
    ux, uy = simcc_to_upright(sx, sy, SPLIT, perm, reverse_x=False, reverse_y=True)
    assert _peaks(ux, uy, int(perm[a])) == (2.0, 4.0)
    assert ux[0, a].max() == 0.0


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
    assert after.extra["orientation"] == "turned"
    upright_score, turned_score = after.extra["orientation_scores"]
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
    assert after.extra["orientation"] == "upright"
    assert [(k.x, k.y, k.score) for k in after.keypoints] == [(k.x, k.y, k.score) for k in before.keypoints]


def test_a_tie_keeps_the_upright_reading(tmp_path):
    card = write_contract_model(tmp_path)  # no ramp: the dot reads the same either way up
    checked = GarmentPipeline.from_card(card, provider="cpu", orientation_check=True)
    (garment,) = checked(_scene(marker_y=131))
    upright_score, turned_score = garment.extra["orientation_scores"]
    assert upright_score == pytest.approx(turned_score) and garment.extra["orientation"] == "upright"


def test_turning_a_scene_moves_every_landmark_and_box_with_its_pixels():
    from app.training.orientation_eval import turn_image_and_garments
    from inference.annotation import Garment, Keypoint

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)
    garment = Garment(category_id=9, bbox=(5.0, 7.0, 30.0, 33.0),
                      keypoints=tuple(Keypoint(float(x), float(y)) for x, y in ((5, 7), (29, 32), (12, 20))))
    turned, (moved,) = turn_image_and_garments(image, [garment])
    for before, after in zip(garment.keypoints, moved.keypoints, strict=True):
        assert (turned[int(after.y), int(after.x)] == image[int(before.y), int(before.x)]).all()
    assert moved.bbox == (29.0, 6.0, 54.0, 32.0)
    back, (again,) = turn_image_and_garments(turned, [moved])
    assert (back == image).all() and again == garment
