"""load_card validation: format, JSON, fields, files, hashes; save/load round trip."""

import json
import re

import pytest

from inference.contract_models import write_contract_model
from inference.model_card import ModelCardError, load_card


@pytest.fixture
def card_path(tmp_path):
    return write_contract_model(tmp_path / "m", per_category={2: "pose_lst.onnx"})


def rewrite(path, change):
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def test_round_trip_keeps_every_field(card_path):
    card = load_card(card_path.parent)  # a folder means its model_card.json
    assert card.pose.per_category == {"2": "pose_lst.onnx"} and card.detector.preprocess.input_size == (320, 320)
    again = load_card(card.save(card_path.parent / "copy.json"))
    assert again.to_json() == card.to_json()


def test_not_json_and_wrong_format_are_named(card_path):
    card_path.write_text("{ nope")
    with pytest.raises(ModelCardError, match="model_card.json is not valid JSON"):
        load_card(card_path)
    card_path.write_text(json.dumps({"format": "something-else/9"}))
    with pytest.raises(ModelCardError, match="unknown card format 'something-else/9'"):
        load_card(card_path)


def test_missing_field_and_bad_preprocess(card_path):
    rewrite(card_path, lambda d: d.pop("detector"))
    with pytest.raises(ModelCardError, match="missing or malformed field: 'detector'"):
        load_card(card_path)


def test_bad_std_and_channel_order(tmp_path):
    for change, message in (
        (lambda d: d["pose"]["preprocess"].update(std=[0, 1, 1]), "bad input_size/mean/std"),
        (lambda d: d["pose"]["preprocess"].update(channel_order="RGBA"), "channel_order must be RGB or BGR"),
    ):
        path = write_contract_model(tmp_path / message[:3])
        rewrite(path, change)
        with pytest.raises(ModelCardError, match=message):
            load_card(path)


def test_per_category_file_needs_a_hash(card_path):
    rewrite(card_path, lambda d: d["sha256"].pop("pose_lst.onnx"))
    with pytest.raises(ModelCardError, match="no sha256 recorded for pose_lst.onnx"):
        load_card(card_path)
    assert load_card(card_path, verify_hashes=False).pose.per_category["2"] == "pose_lst.onnx"


def test_score_alpha_comes_from_the_card_and_is_range_checked(card_path):
    assert load_card(card_path).score_alpha == pytest.approx(0.8)  # default
    rewrite(card_path, lambda d: d.setdefault("training", {}).update(score_alpha=0.6))
    assert load_card(card_path).score_alpha == pytest.approx(0.6)  # cards written before the field existed
    rewrite(card_path, lambda d: d.update(score_alpha=0.7))
    card = load_card(card_path)
    assert card.score_alpha == pytest.approx(0.7)
    card.save()
    assert load_card(card_path).score_alpha == pytest.approx(0.7)
    rewrite(card_path, lambda d: d.update(score_alpha=1.5))
    with pytest.raises(ModelCardError, match="score_alpha"):
        load_card(card_path)


def test_sideways_categories_round_trip_and_are_range_checked(card_path):
    assert load_card(card_path).pose.sideways_categories == ()  # cards written before the field existed
    rewrite(card_path, lambda d: d["pose"].update(sideways_categories=[1, 8, 13]))
    card = load_card(card_path)
    assert card.pose.sideways_categories == (1, 8, 13)
    card.save()
    assert load_card(card_path).pose.sideways_categories == (1, 8, 13)
    rewrite(card_path, lambda d: d["pose"].update(sideways_categories=[0, 14]))
    with pytest.raises(ModelCardError, match="sideways_categories must be category ids 1..13"):
        load_card(card_path)


def test_turned_category_margin_round_trips_and_is_range_checked(card_path):
    assert load_card(card_path).pose.turned_category_margin == 0.0  # cards written before the field existed
    rewrite(card_path, lambda d: d["pose"].update(turned_category_margin=0.05))
    card = load_card(card_path)
    assert card.pose.turned_category_margin == 0.05
    card.save()
    assert load_card(card_path).pose.turned_category_margin == 0.05
    rewrite(card_path, lambda d: d["pose"].update(turned_category_margin=-0.1))
    with pytest.raises(ModelCardError, match="turned_category_margin must be between 0 and 1"):
        load_card(card_path)


@pytest.mark.parametrize("text", ["[1, 2]", '"a card"', "3", "null"])
def test_a_card_that_is_json_but_not_an_object_is_named(card_path, text):
    card_path.write_text(text)
    with pytest.raises(ModelCardError, match=r"model card .*model_card.json must be a JSON object, not "):
        load_card(card_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(detector="detector.onnx"), 'detector must be a JSON object, not "detector.onnx"'),
        (lambda d: d.update(training="notes"), 'training must be a JSON object, not "notes"'),
        (lambda d: d.update(metrics=[["ap", 0.5]]), "metrics must be a JSON object"),
        (lambda d: d.update(sha256="abc"), "sha256 must be a JSON object"),
        (lambda d: d.update(parent=3), "parent must be a string, not 3"),
        (lambda d: d["pose"].update(per_category=["pose_lst.onnx"]), "pose: per_category must be a JSON object"),
        (lambda d: d["pose"].update(sideways_categories="12"), 'pose: sideways_categories must be a JSON list, not "12"'),
        (lambda d: d["pose"].update(category_output=["logits"]), "pose: category_output must be a string"),
        (lambda d: d["detector"].update(preprocess="letterbox"), "detector: preprocess must be a JSON object"),
    ],
)
def test_fields_of_the_wrong_json_kind_are_named(card_path, change, message):
    rewrite(card_path, change)
    with pytest.raises(ModelCardError, match=re.escape(message)):
        load_card(card_path)


@pytest.mark.parametrize("change, message", [
    (lambda d: d["pose"].update(bbox_padding=0), "bbox_padding must be between 1 and 4"),
    (lambda d: d["detector"].update(score_threshold=float("nan")), "score_threshold must be between 0 and 1"),
    (lambda d: d["pose"].update(simcc_split_ratio=0), "simcc_split_ratio"),
    (lambda d: d["pose"].update(per_category={"trousers": "pose.onnx"}), "per_category keys must be category ids"),
])
def test_values_the_runtime_cannot_use_are_refused_at_load(card_path, change, message):
    rewrite(card_path, change)
    with pytest.raises(ModelCardError, match=message):
        load_card(card_path, verify_hashes=False)
