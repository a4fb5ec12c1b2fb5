"""ONNX export: parity with PyTorch, the ONNX contract, and a card the runtime accepts."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import torch
from test_training import TINY_DET, TINY_POSE

from app.training.detector import CenterNetDetector
from app.training.export import export_detector, export_pose, write_card
from app.training.rtfpose import RTFPose
from inference.model_card import load_card
from inference.pipeline import GarmentPipeline
from inference.pose_decode import Detection
from inference.schema import deepfashion2


def _tiny_models():
    torch.manual_seed(0)
    return CenterNetDetector(TINY_DET).eval(), RTFPose(TINY_POSE).eval()


def test_export_matches_pytorch_and_the_contract(tmp_path):
    detector, pose = _tiny_models()
    det_diff = export_detector(detector, tmp_path / "detector.onnx")
    pose_diff = export_pose(pose, tmp_path / "pose.onnx")
    assert det_diff < 1e-3 and pose_diff < 1e-4
    det_graph = onnx.load(str(tmp_path / "detector.onnx"))
    assert det_graph.opset_import[0].version >= 17
    sess = ort.InferenceSession(str(tmp_path / "pose.onnx"), providers=["CPUExecutionProvider"])
    sx, sy = sess.run(None, {"crops": np.zeros((5, 3, 64, 64), np.float32)})  # dynamic batch
    assert sx.shape == (5, 81, 128) and sy.shape == (5, 81, 128)
    dets = ort.InferenceSession(str(tmp_path / "detector.onnx"), providers=["CPUExecutionProvider"]).run(
        ["dets"], {"image": np.random.default_rng(0).normal(size=(1, 3, 64, 64)).astype(np.float32)})[0]
    assert dets.shape == (1, TINY_DET.top_k, 6)
    assert np.all(np.diff(dets[0, :, 4]) <= 0)  # sorted by score
    assert set(np.unique(dets[0, :, 5])) <= set(range(13))


def test_card_records_hashes_and_loads_in_the_runtime(tmp_path):
    detector, pose = _tiny_models()
    export_detector(detector, tmp_path / "detector.onnx")
    export_pose(pose, tmp_path / "pose.onnx")
    export_pose(pose, tmp_path / "pose_cat9.onnx")
    path = write_card(tmp_path, "tiny", "0.0.1", (64, 64), (64, 64), 2.0, 1.25, {"data": "none"},
                      {"note": 1}, per_category={"9": "pose_cat9.onnx"})
    card = load_card(path)
    assert card.pose.per_category == {"9": "pose_cat9.onnx"} and card.detector.preprocess.input_size == (64, 64)
    assert "DeepMark++" in card.training["score_formula"]
    pipeline = GarmentPipeline(card, provider="cpu")
    result = pipeline.predict_boxes(np.full((100, 120, 3), 200, np.uint8), [((10, 10, 90, 80), 9)])
    assert len(result) == 1 and len(result[0].keypoints) == 8


def test_pose_with_a_category_head_exports_its_logits_and_the_card_names_them(tmp_path):
    from app.training.export import CATEGORY_OUTPUT
    from app.training.rtfpose import PoseConfig

    torch.manual_seed(0)
    detector = CenterNetDetector(TINY_DET).eval()
    pose = RTFPose(PoseConfig(**{**TINY_POSE.to_json(), "num_categories": 13})).eval()
    export_detector(detector, tmp_path / "detector.onnx")
    assert export_pose(pose, tmp_path / "pose.onnx") < 1e-4  # all three outputs compared
    sess = ort.InferenceSession(str(tmp_path / "pose.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in sess.get_outputs()] == ["simcc_x", "simcc_y", CATEGORY_OUTPUT]
    logits = sess.run([CATEGORY_OUTPUT], {"crops": np.zeros((4, 3, 64, 64), np.float32)})[0]
    assert logits.shape == (4, 13)
    path = write_card(tmp_path, "tiny", "0.0.1", (64, 64), (64, 64), 2.0, 1.25, {}, {},
                      category_output=CATEGORY_OUTPUT, category_detector_weight=0.2)
    card = load_card(path)
    assert card.pose.category_output == CATEGORY_OUTPUT and card.pose.category_detector_weight == 0.2
    (g,) = GarmentPipeline(card, provider="cpu").estimate(
        np.full((100, 120, 3), 200, np.uint8), [Detection((10.0, 10.0, 90.0, 80.0), 0.9, 9)])
    assert 1 <= g.category_id <= 13 and g.extra["category_detector_id"] == 9
    assert len(g.keypoints) == deepfashion2().category(g.category_id).num_keypoints


def test_weights_of_a_pose_graph_with_a_category_head_are_recovered_from_its_onnx(tmp_path):
    # Retraining from a shipped model without its PyTorch weights reads them back from the graph.
    from app.training.base_weights import recover_from_onnx
    from app.training.rtfpose import PoseConfig

    cfg = PoseConfig(**{**TINY_POSE.to_json(), "num_categories": 13})
    torch.manual_seed(0)
    shipped = RTFPose(cfg).eval()
    export_pose(shipped, tmp_path / "pose.onnx")
    torch.manual_seed(1)
    recovered = RTFPose(cfg)
    assert recover_from_onnx(recovered, tmp_path / "pose.onnx", pose=True) < 1e-3
    assert torch.allclose(recovered.category[-1].weight, shipped.category[-1].weight)
