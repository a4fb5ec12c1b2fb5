"""Retraining from a project: fine-tune the project's model on its corrected annotations, compare before and
after on a held-out part of the same project, export a new model version and register it in the project.

    garment-studio train --project PROJECT.db [--base CARD] [--epochs N] [--replay F] [--activate-if-better]
    garment-studio train --project PROJECT.db --resume RUN/checkpoints/pose.pt   # an interrupted run

Progress goes to ``log`` as lines: ``stage: NAME`` when a stage starts, the trainer's
``[detector] epoch e/E iter i/I …`` lines, and one final ``retrain-result {json}`` line (the GUI parses them).
A run stopped during training keeps its checkpoints (which record the run's settings) and says how to
resume it; the version label is chosen when the version is registered, so concurrent runs never clash.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import shlex
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from app.store.records import ModelVersionExists
from app.store.repository import ProjectStore
from app.training.base_weights import WEIGHTS_DIR, freeze_batchnorm, load_base_models, save_weights
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
from app.training.recipe import BBOX_PADDING, SIMCC_SIGMA, evaluate_card, parity_failures, process_command
from app.training.sources import SynthSource
from app.training.trainer import FitConfig, detector_loss_fn, fit, pose_loss_fn
from inference.model_card import ModelCard, load_card

REPLAY_SEED = 700_000_000  # replay renders: far from the bootstrap pool (0..) and the synthetic val set (1e9..)
RESULT_PREFIX = "retrain-result "
METRIC_KEYS = ("keypoint_AP", "keypoint_AP50", "keypoint_AP_on_gt_boxes", "box_AP", "PCK@0.2", "AUC", "NE")
RUN_SUFFIX = re.compile(r"\+r(\d+)$")  # an automatic version label: the base's own version + rN


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
    version: str | None = None  # None: chosen at registration (the base's version + rN)
    resume: Path | None = None  # a checkpoint of an interrupted retrain: continue that run, with its settings
    log: object = print


# What decides a retrain's result. Its checkpoints record them, so that --resume continues the same run.
SETTINGS = ("base", "out", "epochs", "pose_epochs", "replay", "holdout", "lr", "det_batch", "pose_batch_images",
            "max_minutes", "activate", "activate_if_better", "name", "version")


def resolve_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def pose_epochs_of(opts: RetrainOptions) -> int:
    """--pose-epochs when given (0: the pose model is not fine-tuned), else --epochs."""
    return opts.epochs if opts.pose_epochs is None else opts.pose_epochs


def check_options(opts: RetrainOptions) -> None:
    """Refuse settings that cannot work before anything runs (before the evaluation of the base, too)."""
    if not 0.0 <= opts.replay < 1.0 or not 0.0 <= opts.holdout < 1.0:
        raise RetrainError("--replay and --holdout must be fractions in [0, 1)")
    for option, value in (("--epochs", opts.epochs), ("--pose-epochs", opts.pose_epochs)):
        if value is not None and value < 0:
            raise RetrainError(f"{option} must be 0 or more, got {value}")
    if opts.epochs == 0 and pose_epochs_of(opts) == 0:
        given = "--epochs 0" + (" --pose-epochs 0" if opts.pose_epochs is not None else "")
        raise RetrainError(f"{given} trains nothing: the new version would be its parent again; give --epochs "
                           "(detector, and pose unless --pose-epochs) of 1 or more")
    for option, value in (("--batch", opts.det_batch), ("--pose-batch", opts.pose_batch_images)):
        if value < 1:
            raise RetrainError(f"{option} must be at least 1, got {value}")
    if not (math.isfinite(opts.lr) and opts.lr > 0):
        raise RetrainError(f"--lr must be a positive learning rate, got {opts.lr:g}")
    if opts.workers < 0:
        raise RetrainError(f"--workers must be 0 or more, got {opts.workers}")
    if opts.activate_if_better and opts.holdout <= 0:
        raise RetrainError("--activate-if-better compares the new model with its parent on held-out images, and "
                           "--holdout 0 holds none out: give --holdout above 0, or use --activate")
    if opts.max_minutes is not None and not opts.max_minutes > 0:
        raise RetrainError(f"--max-minutes must be a positive number of minutes, got {opts.max_minutes:g}")


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


def auto_version(store: ProjectStore, base_version: str) -> str:
    """The base's own version plus one +rN, N one more than any in the project: labels stay short over
    generations (0.12.0+r6, not 0.12.0+r1+r3+r5+r6) and are never reused."""
    root = re.sub(r"(\+r\d+)+$", "", base_version)
    taken = [int(m.group(1)) for v in store.list_models() if (m := RUN_SUFFIX.search(v.version))]
    return f"{root}+r{max(taken, default=0) + 1}"


def _new_folder(out: Path, name: str, version: str) -> Path:
    """A fresh version folder, created here: a concurrent run that wants the same name gets the next one."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{name}-{version}")
    out.mkdir(parents=True, exist_ok=True)
    folder, n = out / stem, 2
    while True:
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            folder, n = out / f"{stem}-{n}", n + 1


def retrain_command(opts: RetrainOptions, base: Path, name: str) -> str:
    """The retrain as one command line, every setting that shapes the result spelled out (defaults and the
    resolved base included). An automatic version label is left out: a re-run must get a new one."""
    parts = ["garment-studio", "train", "--project", str(opts.project), "--base", str(base)]
    if opts.out is not None:
        parts += ["--out", str(opts.out)]
    parts += ["--epochs", str(opts.epochs), "--replay", f"{opts.replay:g}", "--holdout", f"{opts.holdout:g}",
              "--lr", f"{opts.lr:g}", "--batch", str(opts.det_batch), "--pose-batch", str(opts.pose_batch_images),
              "--device", opts.device]
    if opts.pose_epochs is not None:
        parts += ["--pose-epochs", str(opts.pose_epochs)]
    if opts.max_minutes is not None:
        parts += ["--max-minutes", f"{opts.max_minutes:g}"]
    parts += ["--name", name]
    if opts.version is not None:
        parts += ["--version", opts.version]
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
    resume = None
    if opts.resume is not None:
        resume = _interrupted_run(opts.resume)
        settings = resume["retrain"]["settings"]
        paths = {k: None if settings[k] is None else Path(settings[k]) for k in ("base", "out")}
        opts = replace(opts, **{**settings, **paths})
    check_options(opts)
    store = ProjectStore.open(opts.project)
    try:
        return _run(opts, store, log, resume)
    finally:
        store.close()


def _interrupted_run(path: Path) -> dict:
    """The checkpoint of an interrupted retrain, with the run's settings."""
    if not path.is_file():
        raise RetrainError(f"checkpoint not found: {path}")
    state = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or not isinstance(state.get("retrain"), dict) \
            or state.get("tag") not in ("detector", "pose") or path.parent.name != "checkpoints":
        raise RetrainError(f"{path} is not a checkpoint of a project retrain (RUN/checkpoints/detector.pt or "
                           "pose.pt written by train --project); resume other training runs with train --data or "
                           "--synthetic")
    return state


def _resume_hint(opts: RetrainOptions, folder: Path) -> str:
    """Said when a run stops during training, so that its folder (checkpoints, no model) is not lost."""
    latest = next((c for c in (folder / "checkpoints" / "pose.pt", folder / "checkpoints" / "detector.pt")
                   if c.is_file()), None)
    if latest is None:
        return f"retrain stopped before its first checkpoint: nothing to resume, {folder} can be deleted"
    command = shlex.join(["garment-studio", "train", "--project", str(opts.project), "--resume", str(latest)])
    return (f"retrain stopped: nothing was registered; {folder} keeps its checkpoints (no model yet). "
            f"Continue it with: {command}")


def _fit_stage(model, dataset, loss_fn, cfg: FitConfig, checkpoint: Path, resume: Path | None, collate=None,
               tag: str = "", extra: dict | None = None, log=print) -> None:
    if resume is not None:
        state = torch.load(resume, map_location="cpu", weights_only=False)
        if state.get("stopped_at_time_budget"):  # the stage ran to its end: keep it, as the interrupted run would
            model.load_state_dict(state["model"])
            log(f"[{tag}] {resume} ended at its time budget: stage done")
            return
    fit(model, dataset, loss_fn, cfg, checkpoint, resume=resume, collate=collate, tag=tag, extra_state=extra, log=log)


def _run(opts: RetrainOptions, store: ProjectStore, log, resume: dict | None) -> dict:
    images = reviewed_images(store)
    if not images:
        raise RetrainError(f"{opts.project} has no corrected or verified garments to train on")
    train, held = split_images(images, opts.holdout)
    det_train = [im for im in train if im.fully_reviewed]
    if not train:
        raise RetrainError(f"{opts.project}: every reviewed image fell into the held-out part; lower --holdout")
    data_hash = snapshot_hash(train)
    if resume is not None and resume["retrain"]["data_snapshot_sha256"] != data_hash:
        raise RetrainError(f"{opts.project}: the reviewed garments changed since {opts.resume} was written, so "
                           "the run cannot go on with the data it started on: start a new retrain")
    base, parent_id, base_why = _base_card(store, opts.base)
    name = opts.name or base.name
    if opts.version is not None and (taken := store.find_model(name, opts.version)) is not None:
        raise RetrainError(f"{opts.project} already has model {name} {opts.version} (version id {taken.id}): "
                           "give another --version, or none for an automatic one")
    folder = opts.resume.parent.parent if resume is not None else None
    if folder is not None:
        card_file = (folder / "model_card.json").resolve()
        done = next((v for v in store.list_models() if store.resolve_path(v.card_path).resolve() == card_file), None)
        if done is not None:
            raise RetrainError(f"{folder} is already registered as version {done.id}: nothing to resume")
    if not (det_train and opts.epochs > 0) and pose_epochs_of(opts) == 0:
        raise RetrainError(f"{opts.project}: nothing to train: the detector trains only on fully reviewed images "
                           f"(none among the {len(train)} training images) and --pose-epochs 0 trains no pose "
                           "model")
    device = resolve_device(opts.device)
    waiting = len(images) - len(train) - len(held)
    log(f"stage: data — {len(train)} training images ({len(det_train)} fully reviewed for the detector), "
        f"{len(held)} held out" + (f" ({waiting} partly reviewed held-out images wait for review)" if waiting else "")
        + f"; base: {base.name} {base.version} ({base_why}); device {device}")
    if opts.activate_if_better and not held:
        log("note: no fully reviewed image is held out, so there is nothing to compare on: --activate-if-better "
            "will not activate this version")
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

    command = resume["retrain"]["command"] if resume else retrain_command(opts, base.path, name)
    version = opts.version or auto_version(store, base.version)  # provisional: fixed at registration
    folder = folder or _new_folder(opts.out or (store.folder / "models"), name, version)
    replay_n = replay_count(len(train), opts.replay)
    replay = SynthSource(replay_n, REPLAY_SEED, pool_dir=folder / "replay_pool") if replay_n else None
    epochs, pose_epochs = opts.epochs, pose_epochs_of(opts)
    run_state = {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in
                              ((k, getattr(opts, k)) for k in SETTINGS)} | {"base": str(base.path)},
                 "data_snapshot_sha256": data_hash, "command": command,
                 "invoked_as": resume["retrain"]["invoked_as"] if resume else process_command()}
    ckpt = folder / "checkpoints"
    ckpt.mkdir(exist_ok=True)
    resumed_stage = resume["tag"] if resume else None
    try:
        if resumed_stage == "pose":
            if (ckpt / "detector.pt").is_file():  # the detector stage had ended
                detector.load_state_dict(torch.load(ckpt / "detector.pt", map_location="cpu",
                                                    weights_only=False)["model"])
                log(f"detector: as trained before the interruption ({ckpt / 'detector.pt'})")
        elif det_train and epochs > 0:
            log("stage: detector")
            dataset = DetectionDataset(MixedSource(ProjectSource(det_train), replay), detector.cfg, augment=True,
                                       seed=11)
            _fit_stage(detector, dataset, detector_loss_fn,
                       FitConfig(epochs, opts.det_batch, opts.lr, warmup_iters=10, device=device,
                                 workers=opts.workers, log_every=5, max_minutes=opts.max_minutes),
                       ckpt / "detector.pt", opts.resume if resumed_stage == "detector" else None, tag="detector",
                       extra={"retrain": run_state, "config": detector.cfg.to_json(), "command": command}, log=log)
        else:
            log("detector unchanged: no fully reviewed training image (or 0 epochs)")
        if pose_epochs > 0:
            log("stage: pose")
            dataset = PoseDataset(MixedSource(ProjectSource(train), replay), pose.cfg, BBOX_PADDING, SIMCC_SIGMA,
                                  augment=True, seed=12)
            _fit_stage(pose, dataset, pose_loss_fn,
                       FitConfig(pose_epochs, opts.pose_batch_images, opts.lr, warmup_iters=10, device=device,
                                 workers=opts.workers, log_every=5, max_minutes=opts.max_minutes),
                       ckpt / "pose.pt", opts.resume if resumed_stage == "pose" else None, collate=collate_pose,
                       tag="pose", extra={"retrain": run_state, "config": pose.cfg.to_json(), "command": command},
                       log=log)
        else:
            log("pose model unchanged: --pose-epochs 0")
    except BaseException:  # Ctrl-C, Cancel in the app (SIGTERM), or a failure: the checkpoints stay usable
        log(_resume_hint(opts, folder))
        raise

    log("stage: export")
    parity = {"detector.onnx": export_detector(detector, folder / "detector.onnx"),
              "pose.onnx": export_pose(pose, folder / "pose.onnx")}
    parity_exceeded = parity_failures(parity, log)
    weights = save_weights(folder, detector, pose)
    training = {
        "data": f"project {opts.project.name}: {len(train)} images with corrected/verified garments "
        f"({sum(len(im.garments) for im in train)} garments)"
        + (f" + {replay_n} synthetic replay renders (seeds {REPLAY_SEED}..)" if replay_n else ""),
        "data_snapshot_sha256": data_hash,
        "held_out": {"images": len(held), "fraction": opts.holdout,
                     "rule": "image sha256[:8] / 2^32 < fraction (deterministic by content), fully reviewed "
                     "images only"},
        "command": command,
        "invoked_as": run_state["invoked_as"],
        "parent_card": {"name": base.name, "version": base.version, "path": str(base.path)},
        "base_weights": weights_from,
        "fine_tune": {"epochs": epochs, "pose_epochs": pose_epochs, "lr": opts.lr, "device": device,
                      "batch": opts.det_batch, "pose_batch_images": opts.pose_batch_images,
                      "max_minutes": opts.max_minutes,  # per stage
                      "batchnorm": "frozen (inference statistics)", "replay_share": opts.replay},
        "torch_weights": {"detector": f"{WEIGHTS_DIR}/detector.pt", "pose": f"{WEIGHTS_DIR}/pose.pt"},
        "torch_weights_sha256": weights,
        "detector_config": detector.cfg.to_json(), "pose_config": pose.cfg.to_json(),
        "onnx_parity_max_abs_diff": parity,
    }
    if parity_exceeded:
        training["onnx_parity_exceeded"] = parity_exceeded
    if resume is not None:
        training["resumed"] = {"checkpoint": str(opts.resume), "stage": resumed_stage,
                               "after_epoch": int(resume["epoch"]) + 1, "invoked_as": process_command()}
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
    model_id, version = _register(
        store, opts, name, version, card_path, base.version, parent_id=parent_id, active=activate,
        metrics={"held_out_before": compact_metrics(before), "held_out_after": compact_metrics(after),
                 "held_out_images": len(held), "train_images": len(train), "data_snapshot_sha256": data_hash,
                 "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "parent": parent},
    )
    result = {"model_id": model_id, "card": str(card_path), "name": name, "version": version,
              "parent_id": parent_id, "active": activate, "better": better,
              "before": compact_metrics(before), "after": compact_metrics(after), "held_out_images": len(held),
              "train_images": len(train), "data_snapshot_sha256": data_hash}
    if parity_exceeded:
        result["onnx_parity_exceeded"] = parity_exceeded
    log(RESULT_PREFIX + json.dumps(result))
    return result


def _register(store: ProjectStore, opts: RetrainOptions, name: str, version: str, card_path: Path,
              base_version: str, **row) -> tuple[int, str]:
    """(id, version label). An automatic label is chosen now, among the versions registered by now, and
    renumbered when another run took it meanwhile; the card is relabelled to match."""
    stored = store.stored_path(card_path)  # relative inside the project folder: the folder stays movable
    for _ in range(10):
        if opts.version is None:
            label = auto_version(store, base_version)
            if label != version:
                _relabel(card_path, label)
                version = label
        try:
            return store.register_model(name, version, stored, **row), version
        except ModelVersionExists as exc:
            if opts.version is not None:
                raise RetrainError(f"{exc}, registered meanwhile by another run: this run's model is kept, "
                                   f"unregistered, in {card_path.parent}") from None
    raise RetrainError(f"could not find a free version label for {name} in {opts.project}")


def _relabel(card_path: Path, version: str) -> None:
    doc = json.loads(card_path.read_text(encoding="utf-8"))
    doc["version"] = version
    card_path.write_text(json.dumps(doc, indent=2), encoding="utf-8")


def _keep_parent_tuning(card_path: Path, base: ModelCard) -> None:
    """write_card sets defaults; a retrained model keeps what was tuned on its parent: the display threshold
    and the orientation check's sideways categories and category margin (ADR 0006). A fine-tune moves the
    weights a little, so the parent's tuning is a better start than none; re-run the tuning to refresh it."""
    doc = json.loads(card_path.read_text(encoding="utf-8"))
    doc["detector"]["score_threshold"] = base.detector.score_threshold
    doc["pose"]["sideways_categories"] = list(base.pose.sideways_categories)
    doc["pose"]["turned_category_margin"] = base.pose.turned_category_margin
    card_path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
