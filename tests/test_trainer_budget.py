"""The training loop's wall-clock budget: the schedule is compressed to end at the budget, then training stops."""

from __future__ import annotations

import re
import time

import torch
from torch import nn
from torch.utils.data import Dataset

from app.training.trainer import FitConfig, fit


class _Pairs(Dataset):
    def __init__(self, n: int = 64):
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 4, generator=gen)
        self.y = self.x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "y": self.y[i]}


def _slow_mse(steps: list[int], pause_s: float):
    def loss_fn(model, batch):
        time.sleep(pause_s)  # stands in for a heavy step, so the budget ends long before the epochs do
        steps.append(1)
        loss = nn.functional.mse_loss(model(batch["x"]), batch["y"])
        return loss, {"mse": float(loss.detach())}

    return loss_fn


def test_without_a_budget_every_epoch_runs(tmp_path):
    steps: list[int] = []
    cfg = FitConfig(epochs=2, batch_size=8, lr=1e-2, warmup_iters=1, workers=0)
    fit(nn.Linear(4, 1), _Pairs(), _slow_mse(steps, 0.0), cfg, tmp_path / "m.pt", log=lambda m: None)
    state = torch.load(tmp_path / "m.pt", weights_only=False)
    assert len(steps) == 2 * 8
    assert state["epoch"] == 1 and "stopped_at_time_budget" not in state


def test_a_time_budget_stops_training_with_the_learning_rate_annealed(tmp_path):
    steps: list[int] = []
    logs: list[str] = []
    lr = 1e-2
    cfg = FitConfig(epochs=50, batch_size=8, lr=lr, warmup_iters=1, workers=0, log_every=1000,
                    max_minutes=0.4 / 60)
    start = time.perf_counter()
    fit(nn.Linear(4, 1), _Pairs(), _slow_mse(steps, 0.05), cfg, tmp_path / "m.pt", log=logs.append)
    elapsed = time.perf_counter() - start

    assert 2 <= len(steps) < 50 * 8 // 4, "training neither stopped at the budget nor ran at all"
    assert elapsed < 5.0
    state = torch.load(tmp_path / "m.pt", weights_only=False)
    assert state["stopped_at_time_budget"] is True
    assert "time budget of" in logs[-1] and "stopped" in logs[-1]
    # The last step ran at the schedule's floor (2 % of the peak): the cosine was compressed into the budget
    # rather than cut off part-way down.
    last_progress = [m for m in logs if " lr " in m][-1]
    assert float(re.search(r" lr ([0-9.e+-]+)", last_progress).group(1)) == float(f"{0.02 * lr:.2e}")


def test_a_run_that_ended_at_its_budget_is_not_resumed_into_a_restarted_schedule(tmp_path):
    steps: list[int] = []
    cfg = FitConfig(epochs=50, batch_size=8, lr=1e-2, warmup_iters=1, workers=0, log_every=1000,
                    max_minutes=0.2 / 60)
    model = nn.Linear(4, 1)
    fit(model, _Pairs(), _slow_mse(steps, 0.05), cfg, tmp_path / "m.pt", log=lambda m: None)
    trained = {k: v.clone() for k, v in model.state_dict().items()}
    steps.clear()
    logs: list[str] = []
    again = fit(nn.Linear(4, 1), _Pairs(), _slow_mse(steps, 0.0), FitConfig(epochs=50, workers=0),
                tmp_path / "m.pt", resume=tmp_path / "m.pt", log=logs.append)
    assert steps == [] and "nothing to resume" in logs[-1]
    assert all(torch.equal(again.state_dict()[k], v) for k, v in trained.items())


def test_the_card_notes_a_budget_stop_and_nothing_for_a_stage_that_ran_no_epoch(tmp_path):
    from app.training.recipe import _command_of_finished_stage

    cfg = FitConfig(epochs=50, batch_size=8, lr=1e-2, warmup_iters=1, workers=0, max_minutes=0.1 / 60)
    fit(nn.Linear(4, 1), _Pairs(), _slow_mse([], 0.05), cfg, tmp_path / "m.pt", log=lambda m: None)
    assert _command_of_finished_stage("train X", tmp_path / "m.pt").startswith(
        "train X (stopped at its time budget in epoch ")
    assert _command_of_finished_stage("train X", tmp_path / "none.pt") == "train X"  # --epochs 0 writes none
