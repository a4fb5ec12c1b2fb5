"""`torchrun` training: two CPU processes over gloo, the same code path multi-GPU runs take over NCCL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from test_training_fixtures import write_coco

from inference.model_card import load_card

REPO = Path(__file__).resolve().parents[1]


def test_torchrun_splits_the_data_and_ranks_skip_an_empty_pose_batch_together(tmp_path):
    # Two images, the second without garments: with one image per rank and step, rank 1's pose batch is
    # empty while rank 0's is not. A rank that skipped alone left the other waiting forever for gradients.
    full = json.loads(write_coco(tmp_path, 2).read_text(encoding="utf-8"))
    full["annotations"] = [a for a in full["annotations"] if a["image_id"] == 1]
    dataset = tmp_path / "one_empty.json"
    dataset.write_text(json.dumps(full), encoding="utf-8")
    out = tmp_path / "model"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "app.cli.main", "train", "--data", str(dataset), "--out", str(out), "--val-synthetic", "0",
        "--workers", "0", "--batch", "1", "--pose-batch", "1", "--detector-input", "96", "--pose-input", "64",
        "--epochs", "1",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    # Two images over two ranks: one step per epoch each (a single process takes two).
    assert "[detector] epoch 1/1 iter 1/1 " in log
    assert "skipped, a batch had no usable garment" in log
    card = load_card(out / "model_card.json")  # rank 0 alone exported, hashes match the files
    assert max(card.training["onnx_parity_max_abs_diff"].values()) < 1e-3


def test_torchrun_ranks_stop_together_at_a_time_budget(tmp_path):
    # Each rank reads its own clock; a rank that stopped alone would leave the other waiting in all_reduce.
    dataset = write_coco(tmp_path, 2)
    out = tmp_path / "model"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "app.cli.main", "train", "--data", str(dataset), "--out", str(out), "--val-synthetic", "0",
        "--workers", "0", "--batch", "1", "--pose-batch", "1", "--detector-input", "96", "--pose-input", "64",
        "--epochs", "100000", "--max-minutes", "0.05",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    assert "[detector] time budget of 0.05 min reached" in log and "[pose] time budget of 0.05 min reached" in log
    card = load_card(out / "model_card.json")
    assert "stopped at its time budget" in card.training["stage_commands"]["pose"]
