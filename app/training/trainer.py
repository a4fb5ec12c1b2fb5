"""The training loop shared by the detector and the pose model: AdamW + warmup/cosine, progress lines
(loss, it/s, ETA), a checkpoint every epoch, resume, and DistributedDataParallel under torchrun."""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler


@dataclass
class FitConfig:
    epochs: int = 10
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_iters: int = 100
    workers: int = 1
    device: str = "cpu"
    log_every: int = 20
    # Wall-clock budget for this fit: the cosine schedule is compressed to end there and training stops at it,
    # so a run on a lent GPU (or overnight on a laptop) ends with annealed weights rather than being cut off.
    max_minutes: float | None = None


def distributed_context() -> tuple[int, int, int]:
    """(rank, local_rank, world_size); initialises the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    rank = int(os.environ.get("RANK", "0"))
    return rank, int(os.environ.get("LOCAL_RANK", "0")), world


def _any_rank(flag_here: bool, world: int, device: torch.device) -> bool:
    """True when the flag is set on any rank: decisions to skip or stop must be taken by all ranks together."""
    if world == 1:
        return flag_here
    flag = torch.tensor([1.0 if flag_here else 0.0], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def resolve_device(name: str, local_rank: int) -> torch.device:
    if name == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("--device cuda was asked for but torch sees no CUDA device")
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def fit(
    model: nn.Module,
    dataset,
    loss_fn: Callable[[nn.Module, dict[str, torch.Tensor]], tuple[torch.Tensor, dict[str, float]]],
    cfg: FitConfig,
    checkpoint: Path,
    resume: Path | None = None,
    collate=None,
    tag: str = "train",
    extra_state: dict | None = None,
    log=print,
) -> nn.Module:
    """Train ``model`` in place; writes ``checkpoint`` after every epoch and returns the unwrapped model."""
    rank, local_rank, world = distributed_context()
    device = resolve_device(cfg.device, local_rank)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    start_epoch = 0
    if resume is not None:
        state = torch.load(resume, map_location=device, weights_only=False)
        if state.get("tag") != tag:
            raise RuntimeError(f"checkpoint {resume} is a {state.get('tag')!r} checkpoint, not {tag!r}")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch = int(state["epoch"]) + 1
        if state.get("stopped_at_time_budget"):
            # Its schedule already ran down to the floor: going on would restart a schedule, not resume one.
            log(f"[{tag}] {resume} finished at its time budget: nothing to resume (to train it further, start "
                "a new run from its weights with --init-pose or --init-detector)")
            return model
        log(f"[{tag}] resumed from {resume} at epoch {start_epoch + 1}")
    wrapped = model
    if world > 1:
        wrapped = nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if device.type == "cuda" else None)
    sampler = DistributedSampler(dataset, world, rank, shuffle=True) if world > 1 else None
    iters_per_epoch = math.ceil(len(dataset) / (cfg.batch_size * world))
    total_iters = max(cfg.epochs * iters_per_epoch, 1)
    warmup = min(cfg.warmup_iters, max(total_iters // 10, 1))  # short runs still reach the peak rate
    budget_s = cfg.max_minutes * 60.0 if cfg.max_minutes else None
    fit_start = time.perf_counter()
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32 matrix units; the SimCC KL stays well within it

    def time_progress() -> float:
        return (time.perf_counter() - fit_start) / budget_s if budget_s else 0.0

    def lr_at(it: int) -> float:
        spent = time_progress()
        if it < warmup and spent < 0.1:  # a budget far shorter than the epochs cuts the warmup short too
            return cfg.lr * (it + 1) / warmup
        progress = max((it - warmup) / max(total_iters - warmup, 1), spent)
        return cfg.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))

    out_of_time = False

    for epoch in range(start_epoch, cfg.epochs):
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        if sampler is not None:
            sampler.set_epoch(epoch)
        loader = DataLoader(
            dataset,
            batch_size=cfg.batch_size,
            shuffle=sampler is None,
            sampler=sampler,
            num_workers=cfg.workers,
            collate_fn=collate,
            drop_last=False,
            persistent_workers=False,  # workers must see set_epoch's new draws
            pin_memory=device.type == "cuda",
        )
        wrapped.train()
        t0, seen, running = time.perf_counter(), 0, 0.0
        for i, batch in enumerate(loader):
            it = epoch * iters_per_epoch + i
            for group in optimizer.param_groups:
                group["lr"] = lr_at(it)
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            if _any_rank(batch[next(iter(batch))].shape[0] == 0, world, device):
                # A pose batch of images without a usable garment. Under DDP every rank must skip together:
                # one rank stepping alone waits forever for the others' gradients.
                if rank == 0:
                    log(f"[{tag}] epoch {epoch + 1} iter {i + 1}: skipped, a batch had no usable garment")
                continue
            loss, parts = loss_fn(wrapped, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(params, 5.0)
            optimizer.step()
            value = float(loss.detach())
            running = 0.9 * running + 0.1 * value if seen else value
            seen += 1
            out_of_time = budget_s is not None and _any_rank(time_progress() >= 1.0, world, device)
            if rank == 0 and (i % cfg.log_every == 0 or i == iters_per_epoch - 1 or out_of_time):
                rate = seen / max(time.perf_counter() - t0, 1e-9)
                left = (total_iters - it - 1) / max(rate, 1e-9)
                if budget_s is not None:
                    left = min(left, max(budget_s - (time.perf_counter() - fit_start), 0.0))
                detail = " ".join(f"{k} {v:.3f}" for k, v in parts.items())
                log(
                    f"[{tag}] epoch {epoch + 1}/{cfg.epochs} iter {i + 1}/{iters_per_epoch} "
                    f"loss {running:.4f} ({detail}) lr {lr_at(it):.2e} {rate:.2f} it/s ETA {left / 60:.1f} min"
                )
                sys.stdout.flush()
            if out_of_time:
                break
        if rank == 0:
            tmp = checkpoint.with_suffix(".tmp")
            torch.save(
                {"tag": tag, "epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 **({"stopped_at_time_budget": True} if out_of_time else {}), **(extra_state or {})},
                tmp,
            )
            tmp.replace(checkpoint)
            if out_of_time:
                log(f"[{tag}] time budget of {cfg.max_minutes:g} min reached in epoch {epoch + 1} "
                    f"(iter {i + 1}/{iters_per_epoch}): stopped, checkpoint {checkpoint}")
            else:
                log(f"[{tag}] epoch {epoch + 1} done, checkpoint {checkpoint}")
        if out_of_time:
            break
    if world > 1:
        dist.barrier()
    return model


def detector_loss_fn(model, batch):
    from app.training.detector import detection_loss

    return detection_loss(model(batch["image"]), batch)


CATEGORY_LOSS_WEIGHT = 0.5  # cross-entropy is ~2.6 at the start and the SimCC KL ~4: same order


def pose_loss_fn(model, batch):
    from app.training.rtfpose import simcc_kl_loss

    out = model(batch["crops"])
    kl = simcc_kl_loss(out[0], out[1], batch["target_x"], batch["target_y"], batch["weight"])
    if len(out) == 2:
        return kl, {"kl": float(kl.detach())}
    ce = torch.nn.functional.cross_entropy(out[2], batch["category"], label_smoothing=0.05)
    return kl + CATEGORY_LOSS_WEIGHT * ce, {"kl": float(kl.detach()), "ce": float(ce.detach())}
