"""Retraining from a project: fine-tune the project's model on its corrected annotations, compare before and
after on a held-out part of the same project, export a new model version and register it in the project.

    garment-studio train --project PROJECT.db [--base CARD] [--epochs N] [--replay F] [--activate-if-better]

Progress goes to ``log`` as lines: ``stage: NAME`` when a stage starts, the trainer's
``[detector] epoch e/E iter i/I …`` lines, and one final ``retrain-result {json}`` line (the GUI parses them).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import torch

from app.store.repository import ProjectStore
from app.training.base_weights import freeze_batchnorm, load_base_models, save_weights
from app.training.data import DetectionDataset, PoseDataset, collate_pose
from app.training.export import export_detector, export_pose, write_card
from app.training.project_data import (
    MixedSource,
    ProjectSource,
    replay_count,
    reviewed_images,
    snapshot_hash,
    split_images,
)
from app.training.recipe import BBOX_PADDING, SIMCC_SIGMA, evaluate_card, process_command
from app.training.sources import SynthSource
from app.training.trainer import FitConfig, detector_loss_fn, fit, pose_loss_fn
from inference.model_card import ModelCard, load_card

REPLAY_SEED = 700_000_000  # replay renders: far from the bootstrap pool (0..) and the synthetic val set (1e9..)
RESULT_PREFIX = "retrain-result "
METRIC_KEYS = ("keypoint_AP", "keypoint_AP50", "keypoint_AP_on_gt_boxes", "box_AP", "PCK@0.2", "AUC", "NE")


class RetrainError(RuntimeError):
    """The project cannot be retrained as asked; the message says why and names the file."""


@dataclass
class RetrainOptions:
    project: Path
    base: Path | None = None
    out: Path | None = None
    epochs: int = 8
    pose_epochs: int | None = None
    replay: float = 0.0
    holdout: float = 0.2
    lr: float = 5e-4
    det_batch: int = 8
    pose_batch_images: int = 8
    device: str = "auto"
    workers: int = 0
    max_minutes: float | None = None  # per stage (detector, pose)
    activate: bool = False
    activate_if_better: bool = False
    name: str | None = None
    version: str | None = None
    log: object = print


def resolve_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def _base_card(store: ProjectStore, base: Path | None) -> tuple[ModelCard, int | None, str]:
    """(card, registered id of that card or None, why this one)."""
    from inference.pipeline import bundled_card_path

    if base is not None:
        card = load_card(base)
        for version in store.list_models():
            if store.resolve_path(version.card_path).resolve() == card.path.resolve():
                return card, version.id, f"--base {base} (registered version {version.id})"
        return card, None, f"--base {base}"
    active = store.active_model()
    if active is not None:
        return load_card(store.resolve_path(active.card_path)), active.id, f"the project's active version {active.id}"
    return load_card(bundled_card_path()), None, "the bundled model"


def _version_folder(out: Path, name: str, version: str) -> Path:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{name}-{version}")
    folder, n = out / stem, 2
    while folder.exists():
        folder, n = out / f"{stem}-{n}", n + 1
    return folder


def retrain_command(opts: RetrainOptions, base: Path | None) -> str:
    """The exact retrain as one command line, every setting spelled out (defaults included)."""
    parts = ["garment-studio", "train", "--project", str(opts.project)]
    if base is not None:
        parts += ["--base", str(base)]
    if opts.out is not None:
        parts += ["--out", str(opts.out)]
    parts += ["--epochs", str(opts.epochs), "--replay", f"{opts.replay:g}", "--holdout", f"{opts.holdout:g}",
              "--lr", f"{opts.lr:g}", "--batch", str(opts.det_batch), "--pose-batch", str(opts.pose_batch_images),
              "--device", opts.device]
    if opts.pose_epochs is not None:
        parts += ["--pose-epochs", str(opts.pose_epochs)]
    if opts.activate or opts.activate_if_better:
        parts.append("--activate" if opts.activate else "--activate-if-better")
    return shlex.join(parts)


def compact_metrics(metrics: dict | None) -> dict | None:
    return None if metrics is None else {k: metrics[k] for k in METRIC_KEYS if k in metrics}


def beats(after: dict | None, before: dict | None) -> bool:
    """The new model is better when its held-out keypoint AP is higher than the parent's."""
    return bool(after and before and after["keypoint_AP"] > before["keypoint_AP"])


def run_retrain(opts: RetrainOptions) -> dict:
    log = opts.log
    if not opts.project.is_file():
        raise RetrainError(f"project not found: {opts.project}")
    store = ProjectStore.open(opts.project)
    try:
        return _run(opts, store, log)
    finally:
        store.close()


def _run(opts: RetrainOptions, store: ProjectStore, log) -> dict:
    images = reviewed_images(store)
    if not images:
        raise RetrainError(f"{opts.project} has no corrected or verified garments to train on")
    train, held = split_images(images, opts.holdout)
    det_train = [im for im in train if im.fully_reviewed]
    if not train:
        raise RetrainError(f"{opts.project}: every reviewed image fell into the held-out part; lower --holdout")
    base, parent_id, base_why = _base_card(store, opts.base)
    device = resolve_device(opts.device)
    log(f"stage: data — {len(train)} training images ({len(det_train)} fully reviewed for the detector), "
        f"{len(held)} held out; base: {base.name} {base.version} ({base_why}); device {device}")
    left_out = sorted(base.pose.per_category, key=int)
    if left_out:
        log(f"note: the parent's per-category pose graphs (categories {', '.join(left_out)}) are left out: they "
            "were not trained on this project's corrections, which would then never reach those categories. "
            "The fine-tuned main graph reads every category.")
    detector, pose, weights_from = load_base_models(base, log)
    freeze_batchnorm(detector)
    freeze_batchnorm(pose)

    held_source = ProjectSource(held)
    before = None
    if held:
        log("stage: evaluate-before")
        before = evaluate_card(base.path, held_source, log)

    name = opts.name or base.name
    version = opts.version or f"{base.version}+r{len(store.list_models()) + 1}"
    out_root = opts.out or (store.folder / "models")
    folder = _version_folder(out_root, name, version)
    (folder / "checkpoints").mkdir(parents=True)
    replay_n = replay_count(len(train), opts.replay)
    replay = SynthSource(replay_n, REPLAY_SEED, pool_dir=folder / "replay_pool") if replay_n else None
    epochs, pose_epochs = opts.epochs, opts.pose_epochs or opts.epochs
    if det_train and epochs > 0:
        log("stage: detector")
        dataset = DetectionDataset(MixedSource(ProjectSource(det_train), replay), detector.cfg, augment=True, seed=11)
        fit(detector, dataset, detector_loss_fn,
            FitConfig(epochs, opts.det_batch, opts.lr, warmup_iters=10, device=device, workers=opts.workers,
                      log_every=5, max_minutes=opts.max_minutes),
            folder / "checkpoints" / "detector.pt", tag="detector", log=log)
    else:
        log("detector unchanged: no fully reviewed training image (or 0 epochs)")
    if pose_epochs > 0:
        log("stage: pose")
        dataset = PoseDataset(MixedSource(ProjectSource(train), replay), pose.cfg, BBOX_PADDING, SIMCC_SIGMA,
                              augment=True, seed=12)
        fit(pose, dataset, pose_loss_fn,
            FitConfig(pose_epochs, opts.pose_batch_images, opts.lr, warmup_iters=10, device=device,
                      workers=opts.workers, log_every=5, max_minutes=opts.max_minutes),
            folder / "checkpoints" / "pose.pt", collate=collate_pose, tag="pose", log=log)

    log("stage: export")
    parity = {"detector.onnx": export_detector(detector, folder / "detector.onnx"),
              "pose.onnx": export_pose(pose, folder / "pose.onnx")}
    weights = save_weights(folder, detector, pose)
    data_hash = snapshot_hash(train)
    training = {
        "data": f"project {opts.project.name}: {len(train)} images with corrected/verified garments "
        f"({sum(len(im.garments) for im in train)} garments)"
        + (f" + {replay_n} synthetic replay renders (seeds {REPLAY_SEED}..)" if replay_n else ""),
        "data_snapshot_sha256": data_hash,
        "held_out": {"images": len(held), "fraction": opts.holdout,
                     "rule": "image sha256[:8] / 2^32 < fraction (deterministic by content)"},
        "command": retrain_command(opts, base.path if opts.base is not None else None),
        "invoked_as": process_command(),
        "parent_card": {"name": base.name, "version": base.version, "path": str(base.path)},
        "base_weights": weights_from,
        "fine_tune": {"epochs": epochs, "pose_epochs": pose_epochs, "lr": opts.lr, "device": device,
                      "batchnorm": "frozen (inference statistics)", "replay_share": opts.replay},
        "torch_weights": weights,
        "detector_config": detector.cfg.to_json(), "pose_config": pose.cfg.to_json(),
        "onnx_parity_max_abs_diff": parity,
    }
    if left_out:
        training["parent_per_category_left_out"] = {c: base.pose.per_category[c] for c in left_out}
    for key in ("score_alpha", "architecture", "loss"):
        if key in base.training:
            training.setdefault(key, base.training[key])
    parent = f"{base.name} {base.version}"
    args = (folder, name, version, detector.cfg.input_size, pose.cfg.input_size, pose.cfg.simcc_split_ratio,
            BBOX_PADDING, training)
    category = {"category_output": base.pose.category_output if pose.cfg.num_categories else None,
                "category_detector_weight": base.pose.category_detector_weight,
                "keypoint_score_reference": base.pose.keypoint_score_reference}
    card_path = write_card(*args, {}, parent=parent, **category)
    _keep_parent_tuning(card_path, base)
    after = None
    if held:
        log("stage: evaluate-after")
        after = evaluate_card(card_path, held_source, log)
    metrics = {"project_held_out": {"before": compact_metrics(before), "after": compact_metrics(after),
                                    "images": len(held)}}
    if before is not None:
        metrics["project_held_out"]["per_category"] = {"before": before["per_category"], "after": after["per_category"]}
    write_card(*args, metrics, parent=parent, **category)
    _keep_parent_tuning(card_path, base)

    better = beats(after, before)
    activate = opts.activate or (opts.activate_if_better and better)
    stored_path = card_path.resolve()
    try:
        stored = str(stored_path.relative_to(store.folder))  # the project folder stays movable
    except ValueError:
        stored = str(stored_path)
    model_id = store.register_model(
        name, version, stored, parent_id=parent_id, active=activate,
        metrics={"held_out_before": compact_metrics(before), "held_out_after": compact_metrics(after),
                 "held_out_images": len(held), "train_images": len(train), "data_snapshot_sha256": data_hash,
                 "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "parent": parent},
    )
    result = {"model_id": model_id, "card": str(card_path), "name": name, "version": version,
              "parent_id": parent_id, "active": activate, "better": better,
              "before": compact_metrics(before), "after": compact_metrics(after), "held_out_images": len(held),
              "train_images": len(train), "data_snapshot_sha256": data_hash}
    log(RESULT_PREFIX + json.dumps(result))
    return result


def _keep_parent_tuning(card_path: Path, base: ModelCard) -> None:
    """write_card sets defaults; a retrained model keeps what was tuned on its parent: the display threshold
    and the orientation check's sideways categories and category margin (ADR 0006). A fine-tune moves the
    weights a little, so the parent's tuning is a better start than none; re-run the tuning to refresh it."""
    doc = json.loads(card_path.read_text(encoding="utf-8"))
    doc["detector"]["score_threshold"] = base.detector.score_threshold
    doc["pose"]["sideways_categories"] = list(base.pose.sideways_categories)
    doc["pose"]["turned_category_margin"] = base.pose.turned_category_margin
    card_path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
