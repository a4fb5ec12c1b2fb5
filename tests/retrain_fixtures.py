"""A tiny base model (ONNX only, like the bundled one) and a project of verified skirt scenes, for the
retraining tests."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
from test_training_fixtures import skirt_scene

from app.store import ProjectStore
from inference.annotation import GarmentStatus

TINY_DETECTOR = {"input_size": [64, 64], "num_classes": 13, "widths": [8, 8, 16, 16], "blocks": [1, 1, 1, 1],
                 "stem": 8, "neck": 16, "top_k": 10}
TINY_POSE = {"input_size": [32, 32], "num_keypoints": 81, "simcc_split_ratio": 2.0, "widths": [8, 8, 16, 16],
             "blocks": [1, 1, 1, 1], "stem": 8, "fuse_channels": 16, "hidden": 16, "gau_s": 8}


def tiny_base_card(folder: Path, weights: bool = False) -> Path:
    """Randomly initialised tiny detector + pose exported as a card with no PyTorch weights beside it (with
    ``weights``: with them, as a retrained card has, so a retrain from it skips the recovery from ONNX)."""
    import torch

    from app.training.detector import CenterNetDetector, DetectorConfig
    from app.training.export import export_detector, export_pose, write_card
    from app.training.rtfpose import PoseConfig, RTFPose

    torch.manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    detector = CenterNetDetector(DetectorConfig.from_json(TINY_DETECTOR))
    pose = RTFPose(PoseConfig.from_json(TINY_POSE))
    export_detector(detector, folder / "detector.onnx")
    export_pose(pose, folder / "pose.onnx")
    training = {"detector_config": TINY_DETECTOR, "pose_config": TINY_POSE, "data": "none (test)"}
    if weights:
        from app.training.base_weights import save_weights

        training["torch_weights_sha256"] = save_weights(folder, detector, pose)
    return write_card(folder, "tiny", "1.0.0", (64, 64), (32, 32), 2.0, 1.25, training, {})


def skirt_project(path: Path, count: int, seed: int = 0, status=GarmentStatus.VERIFIED) -> Path:
    """A project with ``count`` skirt images whose ground truth is imported as verified garments."""
    images = path.parent / f"{path.stem}_images"
    images.mkdir(parents=True, exist_ok=True)
    with ProjectStore.create(path) as store:
        for i in range(count):
            image, garments = skirt_scene(seed + i)
            file = images / f"skirt_{seed + i}.png"
            cv2.imwrite(str(file), image)
            image_id = store.add_image(file).image_id
            store.import_garments(image_id, [replace(g, status=status) for g in garments], source="test")
    return path


def fake_card(folder: Path, name: str = "bootstrap", version: str = "0.2.0", parent_card: dict | None = None) -> Path:
    """A card whose graph files are placeholder bytes with their true sha256: enough for the card loader's
    checks (models --activate/--rollback), no torch or ONNX needed."""
    from inference.model_card import DetectorSpec, ModelCard, PoseSpec, Preprocess, sha256_file

    folder.mkdir(parents=True, exist_ok=True)
    for file in ("detector.onnx", "pose.onnx"):
        (folder / file).write_bytes(f"{name} {version} {file}".encode())
    pre = Preprocess((64, 64), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    card = ModelCard(name, version, DetectorSpec("detector.onnx", pre), PoseSpec("pose.onnx", pre),
                     folder / "model_card.json",
                     training={"parent_card": parent_card} if parent_card else {},
                     sha256={f: sha256_file(folder / f) for f in ("detector.onnx", "pose.onnx")})
    return card.save()
