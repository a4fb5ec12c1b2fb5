"""Retraining from a project: data selection, split, snapshot hash, weight recovery, and a tiny end-to-end
retrain that registers a version the CLI then switches to (models --activate / --rollback, predict --project)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
from retrain_fixtures import skirt_project, tiny_base_card
from test_training_fixtures import skirt_scene

from app.cli.main import main
from app.store import ProjectStore
from app.training.project_data import (
    MixedSource,
    ProjectSource,
    is_held_out,
    replay_count,
    reviewed_images,
    snapshot_hash,
    split_images,
)
from inference.annotation import GarmentStatus
from inference.model_card import load_card


def test_held_out_split_is_by_content_hash_and_stable(tmp_path):
    project = skirt_project(tmp_path / "p.db", 12)
    with ProjectStore.open(project) as store:
        images = reviewed_images(store)
    train, held = split_images(images, 0.3)
    assert train and held and len(train) + len(held) == 12
    assert all(is_held_out(im.sha256, 0.3) for im in held) and not any(is_held_out(im.sha256, 0.3) for im in train)
    # the same images in another order split the same way
    train2, held2 = split_images(list(reversed(images)), 0.3)
    assert {im.sha256 for im in held2} == {im.sha256 for im in held}


def test_tiny_projects_still_get_one_held_out_image(tmp_path):
    project = skirt_project(tmp_path / "p.db", 2)
    with ProjectStore.open(project) as store:
        train, held = split_images(reviewed_images(store), 0.01)
    assert len(train) == 1 and len(held) == 1


def test_only_reviewed_garments_train_and_the_detector_needs_fully_reviewed_images(tmp_path):
    project = skirt_project(tmp_path / "p.db", 3, status=GarmentStatus.PREDICTED)
    with ProjectStore.open(project) as store:
        assert reviewed_images(store) == []
        first, second = store.list_images()[:2]
        (gid, _), = store.garments(first.id)
        store.verify(gid)
        _, extra = skirt_scene(50)[0], skirt_scene(50)[1][0]
        store.import_garments(second.id, [replace(extra, status=GarmentStatus.PREDICTED)])
        (gid2, _), _ = store.garments(second.id)
        store.move_point(gid2, 0, 10.25, 20.5)
        images = reviewed_images(store)
    assert [im.image_id for im in images] == [first.id, second.id]
    assert images[0].fully_reviewed and not images[1].fully_reviewed  # second still holds a predicted garment
    assert len(images[1].garments) == 1 and images[1].garments[0].keypoints[0].x == pytest.approx(10.25)
    image, garments, info = ProjectSource(images).load(1)
    assert image.shape[:2] == (128, 160) and info["id"] == second.id and len(garments) == 1


def test_snapshot_hash_follows_the_annotations_not_the_row_order(tmp_path):
    project = skirt_project(tmp_path / "p.db", 4)
    with ProjectStore.open(project) as store:
        images = reviewed_images(store)
        before = snapshot_hash(images)
        assert snapshot_hash(list(reversed(images))) == before
        (gid, _), = store.garments(images[0].image_id)
        store.move_point(gid, 2, 40.125, 30.0)
        assert snapshot_hash(reviewed_images(store)) != before


def test_replay_share_and_mixed_source():
    assert replay_count(70, 0.3) == 30 and replay_count(10, 0.0) == 0
    with pytest.raises(ValueError):
        replay_count(10, 1.0)

    class Items:
        epoch = 0

        def __init__(self, tag, n):
            self.tag, self.n = tag, n

        def __len__(self):
            return self.n

        def load(self, i):
            return self.tag, i

    replay = Items("replay", 2)
    mixed = MixedSource(Items("project", 3), replay)
    assert len(mixed) == 5 and mixed.load(2) == ("project", 2) and mixed.load(4) == ("replay", 1)
    mixed.epoch = 3
    assert replay.epoch == 3


def test_weights_recovered_from_onnx_reproduce_the_shipped_graphs(tmp_path):
    import onnxruntime as ort
    import torch

    from app.training.base_weights import load_base_models

    card = load_card(tiny_base_card(tmp_path / "base"))
    detector, pose, how = load_base_models(card, log=lambda _m: None)
    assert "recovered" in how
    crops = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    session = ort.InferenceSession(str(card.file_path("pose.onnx")), providers=["CPUExecutionProvider"])
    got_x, _ = session.run(None, {"crops": crops.numpy()})
    with torch.no_grad():
        expected_x, _ = pose.eval()(crops)
    assert np.abs(got_x - expected_x.numpy()).max() < 1e-4
    assert sum(p.abs().sum().item() for p in detector.parameters()) > 0


def test_retrain_registers_a_version_and_the_cli_switches_to_it(tmp_path, capsys):
    base = tiny_base_card(tmp_path / "base")
    tuned = json.loads(base.read_text())  # what was tuned on the parent (no ONNX bytes change: hashes hold)
    tuned["detector"]["score_threshold"] = 0.33
    tuned["pose"].update(sideways_categories=[9], turned_category_margin=0.1)
    # A per-category graph trained on synthetic skirts only: the project's skirt corrections would never reach it.
    shutil.copy(base.parent / tuned["pose"]["file"], base.parent / "pose_cat9.onnx")
    tuned["pose"]["per_category"] = {"9": "pose_cat9.onnx"}
    tuned["sha256"]["pose_cat9.onnx"] = tuned["sha256"][tuned["pose"]["file"]]
    base.write_text(json.dumps(tuned))
    project = skirt_project(tmp_path / "shop.db", 6)
    args = ["train", "--project", str(project), "--base", str(base), "--epochs", "1", "--holdout", "0.3",
            "--workers", "0", "--threads", "1"]
    assert main([*args, "--activate"]) == 0
    out = capsys.readouterr().out
    result = json.loads(next(line for line in out.splitlines() if line.startswith("retrain-result "))[15:])
    assert result["active"] and result["held_out_images"] >= 1 and result["train_images"] >= 1

    card = load_card(result["card"])  # hashes verified
    assert card.path.parent.parent == tmp_path / "models"  # default: models/ beside the project
    assert card.parent == "tiny 1.0.0" and card.version == "1.0.0+r1"
    assert card.detector.score_threshold == 0.33  # the parent's tuning is kept
    assert card.pose.sideways_categories == (9,) and card.pose.turned_category_margin == 0.1
    assert card.pose.per_category == {} and card.training["parent_per_category_left_out"] == {"9": "pose_cat9.onnx"}
    assert "per-category pose graphs (categories 9) are left out" in out
    assert card.training["data_snapshot_sha256"] == result["data_snapshot_sha256"]
    assert "--project" in card.training["command"]
    held = card.metrics["project_held_out"]
    assert set(held["before"]) >= {"keypoint_AP", "PCK@0.2"} and set(held["after"]) >= {"keypoint_AP", "PCK@0.2"}
    assert (card.folder / "weights" / "pose.pt").is_file()

    with ProjectStore.open(project) as store:
        (version,) = store.list_models()
        assert version.active and version.parent_id is None and not version.card_path.startswith("/")
        assert store.active_card_path() == card.path.resolve()

    image = tmp_path / "shop_images" / "skirt_0.png"
    assert main(["predict", str(image), "--project", str(project), "--provider", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "tiny@1.0.0+r1"

    # A second retrain (pose only: a run of 0 epochs in all is refused) starts from the active version, loading
    # its saved PyTorch weights, and records it as the parent.
    assert main([*args[:3], "--epochs", "0", "--pose-epochs", "1", *args[7:]]) == 0
    capsys.readouterr()
    with ProjectStore.open(project) as store:
        first, second = store.list_models()
        assert second.parent_id == first.id and first.active and not second.active
        assert second.version == "1.0.0+r2"  # the base's own version + a new rN, not 1.0.0+r1+r2

    assert main(["models", str(project), "--activate", str(second.id)]) == 0
    assert "*    2" in capsys.readouterr().out
    assert main(["models", str(project), "--rollback"]) == 0
    with ProjectStore.open(project) as store:
        assert store.active_model().id == first.id
    assert main(["models", str(project), "--rollback"]) == 0  # the first's parent is the (unregistered) base
    rolled = [line for line in capsys.readouterr().out.splitlines() if line.startswith("rolled back")][-1]
    assert str(base) in rolled and "not a registered version" in rolled
    with ProjectStore.open(project) as store:
        assert store.active_model() is None
    assert main(["models", str(project), "--rollback"]) == 2
    assert main(["models", str(project), "--activate", "99"]) == 2
    assert "99" in capsys.readouterr().err


def test_retrain_names_a_project_without_corrections(tmp_path, capsys):
    project = skirt_project(tmp_path / "p.db", 2, status=GarmentStatus.PREDICTED)
    assert main(["train", "--project", str(project), "--epochs", "1"]) == 1
    assert "no corrected or verified garments" in capsys.readouterr().err
    assert main(["train", "--project", str(tmp_path / "missing.db")]) == 1
    assert "missing.db" in capsys.readouterr().err
