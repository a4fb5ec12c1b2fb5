"""The whole training run behind ``garment-studio train``: data → detector → pose (→ per-category
fine-tunes) → ONNX export with parity check → synthetic-val evaluation → model card."""

from __future__ import annotations

import copy
import json
import os
import shlex
import sys
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from pathlib import Path

import torch

from app.training.data import DetectionDataset, PoseDataset, collate_pose
from app.training.detector import CenterNetDetector, DetectorConfig
from app.training.export import CATEGORY_OUTPUT, SCORE_ALPHA, export_detector, export_pose, write_card
from app.training.rtfpose import PoseConfig, RTFPose, resample_to_input_size
from app.training.samples import simcc_peak_reference
from app.training.seeds import VAL_SEED  # noqa: F401  (re-exported: the train command imports it from here)
from app.training.sources import SynthSource
from app.training.trainer import FitConfig, detector_loss_fn, fit, pose_loss_fn

BBOX_PADDING = 1.25
SIMCC_SIGMA = 3.0  # in SimCC bins (split 2): RTMPose's 4.9 at 192 px wide, scaled to 128
# Largest ONNX-vs-PyTorch difference taken as an exact export. Normal: ~1e-4 for the detector (its decoded
# boxes are network-input pixels, up to a few hundred) and ~1e-5 for the pose logits (bundled 0.12.0:
# 1.2e-4 and 1.1e-5). Beyond these the graph computes something else than the trained network.
PARITY_TOLERANCE = {"detector": 1e-2, "pose": 1e-3}


@dataclass
class Recipe:
    out: Path
    train_source: object
    data_description: str
    epochs: int = 30
    pose_epochs: int | None = None
    det_batch: int = 16
    pose_batch_images: int = 8
    lr: float = 2e-3
    device: str = "cpu"
    workers: int = 1
    max_minutes: float | None = None  # per training stage (detector, pose, each per-category variant)
    resume: Path | None = None
    pose_init: Path | None = None  # start pose training from these weights (new parts, e.g. a head, start fresh)
    detector_init: Path | None = None  # start detector training from these weights (and their architecture)
    stages: tuple[str, ...] = ("detector", "pose")
    per_category: tuple[int, ...] = ()
    finetune_epochs: int = 3
    val_source: object | None = None
    val_description: str = ""
    name: str = "garment-studio"
    version: str = "0.1.0"
    detector_cfg: DetectorConfig = field(default_factory=DetectorConfig)
    pose_cfg: PoseConfig = field(default_factory=PoseConfig)
    log: object = print
    command: str = ""  # how training was invoked (written into checkpoints and the card)
    # With a category head: weight of the detector's class in the category decision (inference.category_fusion)
    category_detector_weight: float = 0.0

    def __post_init__(self):
        self.command = self.command or process_command()


def set_torch_threads(threads: int) -> None:
    torch.set_num_threads(max(1, int(threads)))


def process_command() -> str:
    """This process's command line, for runs started outside app.cli.main (e.g. python -m)."""
    if sys.argv[0].endswith("garment-studio"):
        return "garment-studio " + shlex.join(sys.argv[1:])
    return shlex.join(sys.argv)


def _load_weights(model: torch.nn.Module, path: Path, tag: str, commands: dict) -> bool:
    """Load a finished stage's checkpoint; remembers the command that trained it for the card."""
    if not path.is_file():
        return False
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("tag") != tag:
        raise RuntimeError(f"{path} holds a {state.get('tag')!r} checkpoint, expected {tag!r}")
    model.load_state_dict(state["model"])
    commands[tag] = f"{state.get('command', 'unknown')} ({_where_it_ended(state)})"
    return True


def _where_it_ended(state: dict) -> str:
    where = "stopped at its time budget in epoch" if state.get("stopped_at_time_budget") else "epoch"
    return f"{where} {int(state['epoch']) + 1}"


def _command_of_finished_stage(command: str, checkpoint: Path) -> str:
    """The command, plus where a time-budgeted stage stopped (a full run needs no note)."""
    if not checkpoint.is_file():  # --epochs 0 (e.g. only per-category variants from --init-pose): no epoch ran
        return command
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    return f"{command} ({_where_it_ended(state)})" if state.get("stopped_at_time_budget") else command


def _checkpoint_tag(path: Path) -> str:
    return str(torch.load(path, map_location="cpu", weights_only=False).get("tag"))


def _checkpoint_config(path: Path, cls, default):
    """The architecture a checkpoint was trained with (older checkpoints: ``default``)."""
    if not path.is_file():
        return default
    doc = torch.load(path, map_location="cpu", weights_only=False).get("config")
    return cls.from_json(doc) if doc else default


def init_from_weights(model: torch.nn.Module, path: Path, log=print, adapt=None) -> None:
    """Copy every tensor whose name and shape match; the rest (e.g. a new category head) keeps its init.
    ``adapt(weights, checkpoint_config_json)`` may first reshape the checkpoint's weights to this model."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    weights = state.get("model", state)
    if adapt is not None:
        weights = adapt(weights, state.get("config"))
    own = model.state_dict()
    usable = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise RuntimeError(f"{path} shares no weights with this model: not a checkpoint of the same network")
    model.load_state_dict(usable, strict=False)
    fresh = sorted({k.split(".")[0] for k in own if k not in usable})
    log(f"initialised {len(usable)}/{len(own)} tensors from {path}" + (f"; new: {', '.join(fresh)}" if fresh else ""))


def _pose_weights_for(weights: dict, config_doc: dict | None, cfg: PoseConfig, log=print) -> dict:
    """A pose checkpoint trained at another input size starts the new size from its resampled weights."""
    old = PoseConfig.from_json(config_doc) if config_doc else None
    if old is None or old.input_size == cfg.input_size:
        return weights
    log(f"pose weights resampled from a {old.input_size[0]}×{old.input_size[1]} to a "
        f"{cfg.input_size[0]}×{cfg.input_size[1]} input (token map and SimCC bins)")
    return resample_to_input_size(weights, old, cfg)


def parity_failures(parity: dict[str, float], log=print) -> dict[str, dict]:
    """The exported graphs whose parity exceeds the tolerance, warned about loudly; for the card's
    ``training.onnx_parity_exceeded`` (empty: every graph reproduces its network)."""
    failures = {}
    for file, diff in parity.items():
        tolerance = PARITY_TOLERANCE["detector" if file.startswith("detector") else "pose"]
        if not diff <= tolerance:  # NaN fails too
            failures[file] = {"max_abs_diff": diff, "tolerance": tolerance}
            log(f"WARNING: ONNX export of {file} does not reproduce the PyTorch network (max abs difference "
                f"{diff:.3g} > {tolerance:g}): its predictions are not the trained model's. The card records it "
                "in training.onnx_parity_exceeded; do not deploy this graph.")
    return failures


def run_recipe(r: Recipe) -> dict:
    """Returns a summary dict (paths, parity, metrics); raises RuntimeError with a clear message."""
    log = r.log
    ckpt_dir = r.out / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    det_ckpt, pose_ckpt = ckpt_dir / "detector.pt", ckpt_dir / "pose.pt"
    resume_tag = _checkpoint_tag(r.resume) if r.resume else None
    if "detector" not in r.stages or resume_tag == "detector":
        r.detector_cfg = _checkpoint_config(r.resume if resume_tag == "detector" else det_ckpt, DetectorConfig,
                                            r.detector_cfg)
    if "pose" not in r.stages or resume_tag == "pose":
        r.pose_cfg = _checkpoint_config(r.resume if resume_tag == "pose" else pose_ckpt, PoseConfig, r.pose_cfg)
    init_detector = r.detector_init is not None and "detector" in r.stages and resume_tag != "detector"
    if init_detector:
        r.detector_cfg = _checkpoint_config(r.detector_init, DetectorConfig, r.detector_cfg)
    detector = CenterNetDetector(r.detector_cfg)
    if init_detector:
        init_from_weights(detector, r.detector_init, log)
    pose = RTFPose(r.pose_cfg)
    if r.pose_init is not None and "pose" in r.stages and resume_tag != "pose":
        init_from_weights(pose, r.pose_init, log, adapt=lambda w, doc: _pose_weights_for(w, doc, r.pose_cfg, log))
    summary: dict = {"out": str(r.out)}
    commands: dict[str, str] = {}

    if "detector" in r.stages and resume_tag != "pose":
        dataset = DetectionDataset(r.train_source, r.detector_cfg, augment=True, seed=1)
        fit(detector, dataset, detector_loss_fn,
            FitConfig(r.epochs, r.det_batch, r.lr, device=r.device, workers=r.workers,
                      max_minutes=r.max_minutes), det_ckpt,
            resume=r.resume if resume_tag == "detector" else None, tag="detector",
            extra_state={"config": r.detector_cfg.to_json(), "command": r.command}, log=log)
        commands["detector"] = _command_of_finished_stage(r.command, det_ckpt)
    elif not _load_weights(detector, det_ckpt, "detector", commands):
        log(f"no detector checkpoint at {det_ckpt}: the detector stays untrained")
        detector = None

    if "pose" in r.stages:
        dataset = PoseDataset(r.train_source, r.pose_cfg, BBOX_PADDING, SIMCC_SIGMA, augment=True, seed=2)
        fit(pose, dataset, pose_loss_fn,
            FitConfig(r.pose_epochs or r.epochs, r.pose_batch_images, r.lr, device=r.device, workers=r.workers,
                      max_minutes=r.max_minutes),
            pose_ckpt, resume=r.resume if resume_tag == "pose" else None, collate=collate_pose, tag="pose",
            extra_state={"config": r.pose_cfg.to_json(), "command": r.command}, log=log)
        commands["pose"] = _command_of_finished_stage(r.command, pose_ckpt)
    elif not _load_weights(pose, pose_ckpt, "pose", commands):
        log(f"no pose checkpoint at {pose_ckpt}: the pose model stays untrained")
        pose = None

    is_main = int(os.environ.get("RANK", "0")) == 0  # under torchrun only rank 0 exports and evaluates
    per_category_files: dict[str, str] = {}
    if pose is not None:
        for cat_id in r.per_category:
            tuned = copy.deepcopy(pose)
            source = r.train_source
            if isinstance(source, SynthSource):  # render only this category instead of filtering
                source = SynthSource(len(source), source.base_seed + 500_000_000 + cat_id * 1_000_000,
                                     dc_replace(source.config, categories=(cat_id,)))
            dataset = PoseDataset(source, r.pose_cfg, BBOX_PADDING, SIMCC_SIGMA, augment=True,
                                  seed=100 + cat_id, category_id=cat_id)
            fit(tuned, dataset, pose_loss_fn,
                FitConfig(r.finetune_epochs, r.pose_batch_images, r.lr / 4, warmup_iters=10, device=r.device,
                          workers=r.workers, max_minutes=r.max_minutes),
                ckpt_dir / f"pose_cat{cat_id}.pt", collate=collate_pose, tag=f"pose_cat{cat_id}", log=log)
            file = f"pose_cat{cat_id}.onnx"
            if is_main:
                summary[f"parity_{file}"] = export_pose(tuned, r.out / file)
            per_category_files[str(cat_id)] = file

    if not is_main:
        return summary

    if detector is None or pose is None:
        for model, file, exporter in ((detector, "detector.onnx", export_detector), (pose, "pose.onnx", export_pose)):
            if model is not None:
                summary[f"parity_{file}"] = exporter(model, r.out / file)
        parity_failures({k[7:]: v for k, v in summary.items() if k.startswith("parity_")}, log)
        log("no model card written: a card needs both a trained detector and a trained pose model")
        return summary

    summary["parity_detector.onnx"] = export_detector(detector, r.out / "detector.onnx")
    summary["parity_pose.onnx"] = export_pose(pose, r.out / "pose.onnx")
    log(f"ONNX parity vs PyTorch (max abs diff): detector {summary['parity_detector.onnx']:.2e}, "
        f"pose {summary['parity_pose.onnx']:.2e}")
    training = {
        "data": r.data_description,
        "command": r.command,
        "stage_commands": commands,
        "detector_config": r.detector_cfg.to_json(), "pose_config": r.pose_cfg.to_json(),
        "architecture": "detector: CenterNet-style (CSPNeXt + FPN to stride 8, heat/size/offset, max-pool peak "
        "NMS + top-K in graph); pose: RTFPose-style CSPNeXt + MECS + CSFF + SAFE + RTMCC SimCC/GAU head",
        "loss": f"SimCC KL, Gaussian labels sigma {SIMCC_SIGMA} bins, softmax(10·label); masked to the category's "
        "slots with labelled points",
        "onnx_parity_max_abs_diff": {k[7:]: v for k, v in summary.items() if k.startswith("parity_")},
    }
    failures = parity_failures(training["onnx_parity_max_abs_diff"], log)
    if failures:
        training["onnx_parity_exceeded"] = failures
        summary["parity_exceeded"] = failures
    category = {"category_output": CATEGORY_OUTPUT if r.pose_cfg.num_categories else None,
                "category_detector_weight": r.category_detector_weight,
                "keypoint_score_reference": round(simcc_peak_reference(
                    SIMCC_SIGMA, int(r.pose_cfg.input_size[0] * r.pose_cfg.simcc_split_ratio)), 6)}
    card_path = write_card(r.out, r.name, r.version, r.detector_cfg.input_size, r.pose_cfg.input_size,
                           r.pose_cfg.simcc_split_ratio, BBOX_PADDING, training, {}, per_category_files, **category)
    summary["card"] = str(card_path)
    if r.val_source is not None:
        metrics = evaluate_card(card_path, r.val_source, log)
        metrics["dataset"] = r.val_description
        # The app runs with flip test and the orientation check on (ADRs 0005, 0006): the card reports the
        # plain model, flip test alone, and the app's way.
        flipped = evaluate_card(card_path, r.val_source, log, flip_test=True)
        flipped["dataset"] = r.val_description
        as_app = evaluate_card(card_path, r.val_source, log, flip_test=True, orientation_check=True)
        as_app["dataset"] = r.val_description
        evaluated = {"synthetic_val": metrics, "synthetic_val_flip_test": flipped, "synthetic_val_app": as_app}
        write_card(r.out, r.name, r.version, r.detector_cfg.input_size, r.pose_cfg.input_size,
                   r.pose_cfg.simcc_split_ratio, BBOX_PADDING, training, evaluated, per_category_files, **category)
        summary["metrics"] = metrics
        summary["metrics_flip_test"] = flipped
        summary["metrics_app"] = as_app
    return summary


def evaluate_card(
    card_path: Path,
    source,
    log=print,
    flip_test: bool = False,
    limit: int | None = None,
    orientation_check: bool = False,
) -> dict:
    from app.training.evaluation import evaluate_source, open_pipeline

    pipeline = open_pipeline(card_path, flip_test=flip_test, orientation_check=orientation_check)
    alpha = float(pipeline.card.training.get("score_alpha", SCORE_ALPHA))
    metrics = evaluate_source(pipeline, source, alpha, limit=limit, progress=log)
    log(json.dumps({k: v for k, v in metrics.items() if k != "per_category"}))
    return metrics
