"""`garment-studio train` end to end on a tiny COCO file: checkpoints, resume, ONNX + a valid card."""

from __future__ import annotations

import pytest
import torch
from test_training_fixtures import write_coco

from app.cli.main import main
from inference.model_card import load_card


def test_train_exports_a_card_and_resumes_from_its_checkpoint(tmp_path, capsys):
    dataset = write_coco(tmp_path, 3)
    out = tmp_path / "model"
    common = ["train", "--data", str(dataset), "--out", str(out), "--val-synthetic", "0", "--val-data",
              str(dataset), "--workers", "0", "--batch", "3", "--pose-batch", "3", "--detector-input", "96",
              "--pose-input", "64"]
    assert main([*common, "--epochs", "1", "--per-category", "9", "--finetune-epochs", "1"]) == 0
    card = load_card(out / "model_card.json")
    assert card.pose.per_category == {"9": "pose_cat9.onnx"} and (out / "pose_cat9.onnx").is_file()
    assert card.training["command"].startswith("garment-studio") or "train" in card.training["command"]
    assert card.metrics["synthetic_val"]["images"] == 3
    assert card.metrics["synthetic_val_flip_test"]["images"] == 3  # reported three ways
    assert card.metrics["synthetic_val_app"]["images"] == 3
    assert max(card.training["onnx_parity_max_abs_diff"].values()) < 1e-3
    first = torch.load(out / "checkpoints" / "pose.pt", weights_only=False)
    assert first["epoch"] == 0

    assert main([*common, "--epochs", "2", "--pose-only", "--resume", str(out / "checkpoints" / "pose.pt")]) == 0
    log = capsys.readouterr().out
    assert "resumed from" in log and "epoch 2/2" in log and "epoch 1/2" not in log.split("resumed from")[1]
    assert torch.load(out / "checkpoints" / "pose.pt", weights_only=False)["epoch"] == 1
    load_card(out / "model_card.json")  # re-exported with the detector from its checkpoint, hashes match


def test_train_names_a_missing_dataset(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path / "missing.json"), "--out", str(tmp_path / "m")]) == 2
    assert "missing.json" in capsys.readouterr().err


def test_train_adds_a_category_head_to_a_trained_pose_model_at_a_larger_input(tmp_path, capsys):
    dataset = write_coco(tmp_path, 3)
    out = tmp_path / "model"
    common = ["train", "--data", str(dataset), "--out", str(out), "--val-synthetic", "0", "--workers", "0",
              "--batch", "3", "--pose-batch", "3", "--detector-input", "96", "--pose-input", "64", "--epochs", "1"]
    assert main(common) == 0
    plain = torch.load(out / "checkpoints" / "pose.pt", weights_only=False)
    # The 64-pixel network's weights start a 96-pixel one: resampled (rtfpose.resample_to_input_size), not dropped.
    larger = [*common]
    larger[common.index("--pose-input") + 1] = "96"
    assert main([*larger, "--pose-only", "--category-head", "--init-pose", str(out / "checkpoints" / "pose.pt")]) == 0
    log = capsys.readouterr().out
    assert "new: category" in log and "resampled from a 64×64 to a 96×96 input" in log
    assert f"initialised {len(plain['model'])}/" in log  # every tensor of the plain network carried over
    headed = torch.load(out / "checkpoints" / "pose.pt", weights_only=False)
    assert headed["config"]["num_categories"] == 13 and "category.0.weight" in headed["model"]
    assert tuple(headed["config"]["input_size"]) == (96, 96) and headed["model"]["cls_x.weight"].shape[0] == 192
    assert plain["config"]["num_categories"] == 0
    card = load_card(out / "model_card.json")
    assert card.pose.category_output == "category_logits"
    from app.training.samples import simcc_peak_reference

    assert card.pose.keypoint_score_reference == pytest.approx(simcc_peak_reference(3.0, 192), abs=1e-6)
    assert tuple(card.pose.preprocess.input_size) == (96, 96)
    # Exporting again rebuilds the pose network from its checkpoint's architecture, head included.
    assert main(["train", "--data", str(dataset), "--out", str(out), "--val-synthetic", "0", "--export-only",
                 "--detector-input", "96", "--pose-input", "64", "--category-detector-weight", "0.35"]) == 0
    card = load_card(out / "model_card.json")
    assert card.pose.category_output == "category_logits" and card.pose.category_detector_weight == 0.35
    assert main([*common, "--pose-only", "--init-pose", str(tmp_path / "nope.pt")]) == 2


def test_train_starts_a_detector_from_a_checkpoint_and_checks_the_closeup_share(tmp_path, capsys):
    dataset = write_coco(tmp_path, 3)
    out = tmp_path / "model"
    common = ["train", "--data", str(dataset), "--val-synthetic", "0", "--workers", "0", "--batch", "3",
              "--pose-batch", "3", "--pose-input", "64", "--epochs", "1", "--detector-only"]
    assert main([*common, "--out", str(out), "--detector-input", "96"]) == 0
    first = torch.load(out / "checkpoints" / "detector.pt", weights_only=False)
    second = tmp_path / "second"
    # The architecture comes from the checkpoint: the default input (320) would not match its weights' use.
    assert main([*common, "--out", str(second), "--init-detector", str(out / "checkpoints" / "detector.pt")]) == 0
    log = capsys.readouterr().out
    total = len(first["model"])
    assert f"initialised {total}/{total} tensors from" in log
    started = torch.load(second / "checkpoints" / "detector.pt", weights_only=False)
    assert tuple(started["config"]["input_size"]) == tuple(first["config"]["input_size"]) == (96, 96)
    assert started["epoch"] == 0  # a fresh schedule, not a resumed one

    assert main(["train", "--synthetic", "4", "--out", str(tmp_path / "m"), "--closeups", "1.5"]) == 2
    assert "--closeups" in capsys.readouterr().err



def test_train_refuses_a_pose_input_the_fusion_cannot_divide(tmp_path, capsys):
    # 80 is a multiple of 16 but not of 32: the cross-scale fusion could not meet its maps (it used to crash).
    assert main(["train", "--synthetic", "4", "--out", str(tmp_path / "m"), "--pose-input", "80"]) == 2
    assert "multiples of 32" in capsys.readouterr().err


def test_train_refuses_a_time_budget_that_is_not_positive(tmp_path, capsys):
    assert main(["train", "--synthetic", "4", "--out", str(tmp_path / "m"), "--max-minutes", "0"]) == 2
    assert "--max-minutes must be a positive" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_an_unreadable_image_met_by_a_loader_worker_is_one_line_naming_it(tmp_path, capsys):
    dataset = write_coco(tmp_path, 3)
    (tmp_path / "skirt_1.png").write_bytes(b"not a png")  # present, so the up-front check lets it through
    code = main(["train", "--data", str(dataset), "--out", str(tmp_path / "m"), "--val-synthetic", "0",
                 "--workers", "1", "--batch", "3", "--pose-batch", "3", "--detector-input", "96",
                 "--pose-input", "64", "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert "cannot read image" in err and "skirt_1.png" in err and "Traceback" not in err


def test_exporting_a_model_prints_no_tracer_warnings(tmp_path):
    """The tracer's warnings (shape-dependent Python in the decode, fixed by design) filled a user's terminal
    with source lines at every training's end."""
    import warnings

    from retrain_fixtures import tiny_base_card

    from app.training.base_weights import load_base_models

    with warnings.catch_warnings():
        warnings.simplefilter("error", torch.jit.TracerWarning)
        card = tiny_base_card(tmp_path / "m")  # exports
        load_base_models(load_card(card), log=lambda *_: None)  # no weights beside it: recovered from its
        # ONNX, by way of an export too
