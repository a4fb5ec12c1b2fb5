"""The pose graph's crop classifier and the detector's class, combined (inference.category_fusion)."""

import json

import numpy as np
import pytest

from inference.category_fusion import fuse_categories, softmax
from inference.contract_models import draw_category_tag, draw_marker, garment_colour, write_contract_model
from inference.model_card import ModelCardError, load_card
from inference.pipeline import GarmentPipeline
from inference.runtime import ModelLoadError
from inference.schema import deepfashion2

DETECTED, TAGGED = 3, 8  # the detector reads short sleeve outwear; the crop classifier reads trousers


def test_fusion_rule_weights_the_detector_class():
    logits = np.log(np.array([[0.1, 0.6, 0.3], [0.45, 0.1, 0.45]]))
    ids, probs = fuse_categories(logits, [3, 1], detector_weight=0.0)
    assert ids.tolist() == [2, 1] and np.allclose(probs, [0.6, 0.45])
    ids, _ = fuse_categories(logits, [3, 1], detector_weight=0.35)  # 0.3 + 0.35 beats 0.6
    assert ids.tolist() == [3, 1]
    ids, _ = fuse_categories(logits, [3, 3], detector_weight=0.25)  # not enough to overturn 0.6
    assert ids.tolist() == [2, 3]
    assert np.allclose(softmax(np.array([[1000.0, 1000.0]])), 0.5)  # stable for large logits
    with pytest.raises(ValueError, match="1..3"):
        fuse_categories(logits, [0, 4], 0.0)


def scene():
    img = np.full((480, 640, 3), 20, np.uint8)
    img[100:340, 262:380] = garment_colour(DETECTED)  # inside one detector stripe
    draw_marker(img, 300, 200)
    draw_category_tag(img, 310, 280, TAGGED)
    return img


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("category")
    return {
        "crop": write_contract_model(root / "crop", pose_size=(128, 128), category_head=True),
        "detector": write_contract_model(root / "det", pose_size=(128, 128), category_head=True,
                                         category_detector_weight=1.5),
        "variant": write_contract_model(root / "variant", pose_size=(128, 128), category_head=True,
                                        per_category={TAGGED: "pose_trousers.onnx"}),
        "detected_variant": write_contract_model(root / "detected_variant", pose_size=(128, 128), category_head=True,
                                                 per_category={DETECTED: "pose_detected.onnx"}),
        "none": write_contract_model(root / "none", pose_size=(128, 128)),
    }


def test_crop_classifier_decides_the_category_and_its_landmark_set(models):
    pipe = GarmentPipeline.from_card(models["crop"], provider="cpu")
    (g,) = pipe(scene())
    assert g.category_id == TAGGED
    assert len(g.keypoints) == deepfashion2().category(TAGGED).num_keypoints
    assert g.extra["category_detector_id"] == DETECTED and g.extra["category_probability"] > 0.9
    # The detection score is weighed by how sure the crop classifier is of the category.
    assert g.extra["detection_score"] == pytest.approx(g.extra["detector_score"] * g.extra["category_probability"])
    assert g.extra["detector_score"] == pytest.approx(0.9)  # the contract detector's score
    assert np.abs(np.array([(k.x, k.y) for k in g.keypoints]) - (300, 200)).max() < 1.5
    flipped = GarmentPipeline.from_card(models["crop"], provider="cpu", flip_test=True)
    assert flipped(scene())[0].category_id == TAGGED  # the logits of the mirrored crop agree


def test_a_heavy_detector_weight_keeps_the_detector_class(models):
    (g,) = GarmentPipeline.from_card(models["detector"], provider="cpu")(scene())
    assert g.category_id == DETECTED and g.extra["category_detector_id"] == DETECTED


def test_a_category_fixed_by_the_user_is_never_changed(models):
    pipe = GarmentPipeline.from_card(models["crop"], provider="cpu")
    (drawn,) = pipe.predict_boxes(scene(), [((262, 100, 380, 340), 10)])
    assert drawn.category_id == 10 and "category_probability" not in drawn.extra
    (qc,) = pipe.predict_known_category(scene(), 7)
    assert qc.category_id == 7 and len(qc.keypoints) == deepfashion2().category(7).num_keypoints


def test_a_drawn_box_without_a_category_is_named_by_the_crop_classifier(models):
    pipe = GarmentPipeline.from_card(models["crop"], provider="cpu")
    assert pipe.reads_categories
    (drawn,) = pipe.predict_boxes(scene(), [((262, 100, 380, 340), None)])
    assert drawn.category_id == TAGGED and len(drawn.keypoints) == deepfashion2().category(TAGGED).num_keypoints
    assert drawn.bbox == (262.0, 100.0, 380.0, 340.0)  # the drawn box stays as drawn
    plain = GarmentPipeline.from_card(models["none"], provider="cpu")
    assert not plain.reads_categories
    with pytest.raises(ValueError, match="no category classifier"):
        plain.predict_boxes(scene(), [((262, 100, 380, 340), None)])


def count_crops_run_by(pipe, file: str) -> list[int]:
    """The real session still runs; each call's crop count is recorded, to see which graph read what."""
    calls: list[int] = []
    graph = pipe.pose_models[file]
    original_run = graph.run
    graph.run = lambda feeds: calls.append(len(feeds["crops"])) or original_run(feeds)
    return calls


def test_reclassified_garment_runs_through_its_category_graph(models):
    pipe = GarmentPipeline.from_card(models["variant"], provider="cpu")
    calls = count_crops_run_by(pipe, "pose_trousers.onnx")
    (g,) = pipe(scene())
    assert g.category_id == TAGGED and calls == [1]
    assert g.extra["category_detector_id"] == DETECTED  # the decision's record survives the second pass
    assert g.extra["detection_score"] == pytest.approx(g.extra["detector_score"] * g.extra["category_probability"])


def test_the_main_graph_decides_the_category_before_a_per_category_graph_reads_the_crop(models):
    """The detector's class has its own graph, whose head was fine-tuned on that class alone: it must not be
    the one deciding. The main graph reads the crop, decides the tagged category (no graph of its own), done."""
    pipe = GarmentPipeline.from_card(models["detected_variant"], provider="cpu")
    calls = count_crops_run_by(pipe, "pose_detected.onnx")
    (g,) = pipe(scene())
    assert g.category_id == TAGGED and calls == []
    (qc,) = pipe.predict_known_category(scene(), DETECTED)  # a fixed category goes straight to its graph
    assert qc.category_id == DETECTED and calls == [1]


def test_model_without_a_head_keeps_the_detector_class(models):
    (g,) = GarmentPipeline.from_card(models["none"], provider="cpu")(scene())
    assert g.category_id == DETECTED and "category_probability" not in g.extra


def test_card_naming_a_missing_category_output_is_refused(models, tmp_path):
    doc = json.loads(models["none"].read_text())
    doc["pose"]["category_output"] = "category_logits"
    for f in ("detector.onnx", "pose.onnx"):
        (tmp_path / f).write_bytes((models["none"].parent / f).read_bytes())
    (tmp_path / "model_card.json").write_text(json.dumps(doc))
    with pytest.raises(ModelLoadError, match="category_logits"):
        GarmentPipeline.from_card(tmp_path / "model_card.json", provider="cpu")
    doc["pose"]["category_detector_weight"] = -1
    (tmp_path / "model_card.json").write_text(json.dumps(doc))
    with pytest.raises(ModelCardError, match="category_detector_weight"):
        load_card(tmp_path / "model_card.json")


class TaggedScenes:
    """Three contract scenes whose truth is the tagged category (the detector reads another one)."""

    def __len__(self):
        return 3

    def load(self, i):
        from inference.annotation import Garment, Keypoint

        n = deepfashion2().category(TAGGED).num_keypoints
        truth = Garment(TAGGED, (262.0, 100.0, 380.0, 340.0), tuple(Keypoint(300.0, 200.0) for _ in range(n)))
        return scene(), [truth], {"id": i + 1, "file_name": f"tagged{i}.png"}


def test_tuning_picks_the_weight_that_scores_best_and_writes_only_that(models, tmp_path):
    from app.training.category_tuning import main, tune
    from app.training.evaluation import open_pipeline

    result = tune(open_pipeline(models["crop"]), TaggedScenes(), weights=(0.0, 1.5))
    assert result["best"] == 0.0 and result["images"] == 3
    assert result["weights"][0.0]["keypoint_AP"] > 0.9 and result["weights"][1.5]["keypoint_AP"] == 0.0
    with pytest.raises(ValueError, match="no category head"):
        tune(open_pipeline(models["none"]), TaggedScenes())
    # The command writes the weight into the card and keeps the display threshold and the hashes valid.
    folder = tmp_path / "m"
    folder.mkdir()
    for f in ("detector.onnx", "pose.onnx", "model_card.json"):
        (folder / f).write_bytes((models["detector"].parent / f).read_bytes())
    before = load_card(folder)
    data = _coco_of_tagged_scenes(tmp_path)
    assert main(["--model", str(folder), "--data", str(data), "--weights", "0,1.5", "--write"]) == 0
    after = load_card(folder)
    assert after.pose.category_detector_weight == 0.0 and before.pose.category_detector_weight == 1.5
    assert after.detector.score_threshold == before.detector.score_threshold
    assert after.training["category_detector_weight_tuning"]["images"] == 3
    assert main(["--model", str(folder), "--weights", "x"]) == 2


def _coco_of_tagged_scenes(tmp_path):
    import cv2

    from app.datasets.coco import build_document, encode_garment

    source, images, anns = TaggedScenes(), [], []
    for i in range(len(source)):
        image, garments, info = source.load(i)
        cv2.imwrite(str(tmp_path / info["file_name"]), image)
        images.append({**info, "width": image.shape[1], "height": image.shape[0]})
        anns += [encode_garment(g, info["id"], len(anns) + 1) for g in garments]
    path = tmp_path / "tagged.json"
    path.write_text(json.dumps(build_document(images, anns)))
    return path


def test_live_tracking_keeps_the_category_between_detections(models):
    from inference.realtime import LiveEstimator

    estimator = LiveEstimator(GarmentPipeline.from_card(models["crop"], provider="cpu"), detect_every=3, smooth=False)
    retagged = scene()
    draw_category_tag(retagged, 310, 280, 5)  # the classifier would now say vest
    seen = []
    for i, frame in enumerate([scene(), retagged, retagged, retagged]):
        garments, _, detected, _ = estimator.process(frame, i / 30)
        seen.append((garments[0].category_id, detected))
    # Tracked frames keep the category decided at the last detection; the next detection re-decides.
    assert seen == [(TAGGED, True), (TAGGED, False), (TAGGED, False), (5, True)]
