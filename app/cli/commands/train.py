"""`garment-studio train`: train the detector and the RTFPose keypoint model, export ONNX + model card."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from app.cli.errors import CliError

HELP = ("Train the garment detector and keypoint model (COCO DF2-294 data or synthetic renders), or retrain a "
        "project's model on its corrected annotations (--project); export ONNX.")

SCRATCH_EPOCHS, PROJECT_EPOCHS = 30, 8
SCRATCH_LR, PROJECT_LR = 2e-3, 5e-4
# Options of one kind of run only. Their defaults are filled in by run(), so that one given to the other kind
# of run is refused rather than ignored in silence.
SCRATCH_DEFAULTS = {"images": None, "pool": None, "render_procs": 0, "per_category": "", "finetune_epochs": 3,
                    "val_synthetic": 100, "val_data": None, "val_images": None, "detector_input": 320,
                    "pose_input": 128, "category_head": False, "category_detector_weight": 0.0, "init_pose": None,
                    "init_detector": None, "closeups": 0.0, "seed": 0, "detector_only": False, "pose_only": False,
                    "export_only": False, "include_predicted": False}
PROJECT_DEFAULTS = {"base": None, "replay": 0.0, "holdout": 0.2, "activate": False, "activate_if_better": False}
# What an interrupted retrain's checkpoint already fixes: --resume continues with the recorded values.
RUN_SETTINGS = ("base", "out", "epochs", "pose_epochs", "replay", "holdout", "lr", "batch", "pose_batch",
                "max_minutes", "name", "version", "activate", "activate_if_better")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--project", metavar="PROJECT_DB", type=Path,
                     help="fine-tune the project's model on its corrected/verified garments and register the result")
    src.add_argument("--data", metavar="COCO_JSON", type=Path,
                     help="COCO keypoints file in the DF2 294 layout, or a DeepFashion2 folder (annos/*.json + image/)")
    src.add_argument("--synthetic", metavar="N", type=int, help="render N new synthetic scenes per epoch")
    parser.add_argument("--images", metavar="DIR", type=Path, help="image folder for --data (default: beside it or in images/ there)")
    parser.add_argument("--out", metavar="DIR", type=Path,
                        help="output model folder (with --project: where version folders go, default: models/ "
                        "beside the project file)")
    parser.add_argument("--epochs", type=int, help=f"default {SCRATCH_EPOCHS} ({PROJECT_EPOCHS} with --project)")
    parser.add_argument("--pose-epochs", type=int, help="pose epochs (default: --epochs)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"),
                        help="default cpu (auto with --project: the GPU when torch sees one)")
    parser.add_argument("--resume", metavar="CKPT", type=Path,
                        help="checkpoint to continue (detector or pose); with --project, the checkpoint of an "
                        "interrupted retrain, which goes on in its folder with its own settings")
    stage = parser.add_mutually_exclusive_group()
    stage.add_argument("--detector-only", action="store_true")
    stage.add_argument("--pose-only", action="store_true")
    stage.add_argument("--export-only", action="store_true",
                       help="no training: export the checkpoints in --out/checkpoints and write the card")
    parser.add_argument("--pool", metavar="DIR", type=Path,
                        help="with --synthetic: reuse the same N scenes every epoch, cached in DIR")
    parser.add_argument("--render-procs", metavar="P", type=int,
                        help="with --pool: first render the pool's missing scenes with P processes (a machine "
                             "with many cores fills it in minutes; training then only decodes them)")
    parser.add_argument("--per-category", metavar="IDS",
                        help="comma-separated category ids to fine-tune pose variants for (e.g. 1,2,8)")
    parser.add_argument("--finetune-epochs", type=int, help="default 3")
    parser.add_argument("--batch", type=int, help="detector images per batch (default 16; 8 with --project)")
    parser.add_argument("--pose-batch", type=int, help="images per pose batch (all their garments), default 8")
    parser.add_argument("--lr", type=float, help=f"default {SCRATCH_LR} ({PROJECT_LR} with --project)")
    parser.add_argument("--workers", type=int, default=1, help="DataLoader worker processes")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--max-minutes", metavar="MIN", type=float,
                        help="wall-clock budget per training stage: the learning-rate schedule is compressed "
                             "to end there, and the stage stops with annealed weights")
    parser.add_argument("--val-synthetic", metavar="N", type=int,
                        help="render N fixed-seed validation scenes for the card's metrics (default 100; 0: skip)")
    parser.add_argument("--val-data", metavar="COCO_JSON", type=Path,
                        help="validation set instead of renders (a COCO file or a DeepFashion2 folder)")
    parser.add_argument("--val-images", metavar="DIR", type=Path)
    parser.add_argument("--include-predicted", action="store_true",
                        help="with --data/--val-data: keep images holding garments whose status is \"predicted\" "
                        "(a model's output, as the app's COCO/DeepFashion2 exports mark it); by default they are "
                        "left out, as a project retrain uses only reviewed garments")
    parser.add_argument("--detector-input", metavar="PX", type=int,
                        help="square detector input size (multiple of 32, default 320)")
    parser.add_argument("--pose-input", metavar="PX", type=int,
                        help="square pose crop size (multiple of 32, default 128); --init-pose weights of another "
                        "size are resampled")
    parser.add_argument("--category-head", action="store_true",
                        help="give the pose model a garment-category classifier (the runtime then combines it "
                        "with the detector's class)")
    parser.add_argument("--category-detector-weight", metavar="W", type=float,
                        help="with a category head: weight of the detector's class in the category decision, "
                        "written to the card (choose it with python -m app.training.category_tuning)")
    parser.add_argument("--init-pose", metavar="CKPT", type=Path,
                        help="start pose training from this checkpoint's weights with a fresh schedule (parts the "
                        "checkpoint lacks, e.g. a new category head, start untrained)")
    parser.add_argument("--init-detector", metavar="CKPT", type=Path,
                        help="start detector training from this checkpoint's weights and architecture with a fresh "
                        "schedule")
    parser.add_argument("--closeups", metavar="F", type=float,
                        help="with --synthetic: share of flat-lay scenes rendered as one garment filling the frame, "
                        "as photos of a single garment are (scenes already in a --pool keep how they were rendered)")
    parser.add_argument("--seed", type=int, help="first training scene seed (synthetic), default 0")
    parser.add_argument("--name", help="default garment-studio (with --project: the base model's name)")
    parser.add_argument("--version", help="default 0.1.0 (with --project: the base's own version + rN, N new in "
                        "the project, chosen when the version is registered)")
    retrain = parser.add_argument_group("retraining from a project (--project)")
    retrain.add_argument("--base", metavar="CARD", type=Path,
                         help="model to fine-tune (default: the project's active model, else the bundled one)")
    retrain.add_argument("--replay", metavar="F", type=float,
                         help="share of synthetic renders mixed into the training set against forgetting (0..1, "
                         "default 0)")
    retrain.add_argument("--holdout", metavar="F", type=float,
                         help="fraction of fully reviewed images held out for before/after metrics (by image "
                         "hash, default 0.2)")
    activation = retrain.add_mutually_exclusive_group()
    activation.add_argument("--activate", action="store_true", help="make the new version the project's model")
    activation.add_argument("--activate-if-better", action="store_true",
                            help="activate it only if it beats its parent on held-out keypoint AP")


def run(args: argparse.Namespace) -> int:
    try:
        from app.training.detector import DetectorConfig
        from app.training.recipe import VAL_SEED, Recipe, run_recipe, set_torch_threads
        from app.training.rtfpose import PoseConfig
        from app.training.sources import DataSourceError, SynthSource, open_dataset, open_labelled_dataset
    except ImportError as exc:
        raise CliError(f"training needs the 'train' extra (torch, onnx): {exc}", 3) from exc
    _check_numbers(args)  # before anything loads, evaluates or trains
    set_torch_threads(args.threads)
    if args.project is not None:
        _refuse(args, SCRATCH_DEFAULTS, "do not apply to a project retrain (--project), which fine-tunes both "
                "networks of its base model on the project's corrections")
        return _retrain(args)
    _refuse(args, PROJECT_DEFAULTS, "apply only to a project retrain (--project)")
    for key, value in SCRATCH_DEFAULTS.items():
        setattr(args, key, value if getattr(args, key) is None else getattr(args, key))
    if args.out is None:
        raise CliError("--out is required with --data or --synthetic", 2)
    args.epochs = SCRATCH_EPOCHS if args.epochs is None else args.epochs
    args.lr = SCRATCH_LR if args.lr is None else args.lr
    args.batch = 16 if args.batch is None else args.batch
    args.pose_batch = 8 if args.pose_batch is None else args.pose_batch
    args.name = args.name or "garment-studio"
    if args.device == "auto":
        from app.training.retrain import resolve_device

        args.device = resolve_device("auto")
    args.device = args.device or "cpu"
    args.version = args.version or "0.1.0"
    try:
        per_category = tuple(int(v) for v in args.per_category.split(",") if v.strip())
    except ValueError:
        raise CliError(f"--per-category expects ids like 1,2,8, got {args.per_category!r}", 2) from None
    if args.detector_input <= 0 or args.detector_input % 32 or args.pose_input <= 0 or args.pose_input % 32:
        raise CliError("--detector-input and --pose-input must be multiples of 32", 2)
    if args.render_procs > 0 and args.pool is None:
        raise CliError("--render-procs renders a --pool: give the pool folder", 2)
    if not 0.0 <= args.closeups <= 1.0:
        raise CliError(f"--closeups is a share of scenes between 0 and 1, got {args.closeups}", 2)
    if args.include_predicted and args.data is None and args.val_data is None:
        raise CliError("--include-predicted applies to the images of --data or --val-data", 2)
    stages = ("detector",) if args.detector_only else ("pose",) if args.pose_only else ("detector", "pose")
    if args.export_only:
        stages = ()
    _check_scratch_epochs(args, stages, per_category)
    for ckpt in (args.resume, args.init_pose, args.init_detector):
        if ckpt is not None and not ckpt.is_file():
            raise CliError(f"checkpoint not found: {ckpt}", 2)
    try:
        if args.data is not None:
            if stages:  # status filter, garments to train on, image files there: before training starts
                train_source = open_labelled_dataset(args.data, args.images, include_predicted=args.include_predicted,
                                                     purpose="train on", log=_log)
            else:  # --export-only trains nothing on it
                train_source = open_dataset(args.data, args.images, args.include_predicted)
            kind = "DeepFashion2 folder" if args.data.is_dir() else "COCO DF2-294"
            description = f"{kind} {args.data} ({len(train_source)} images" + (
                f"; {train_source.left_out} images with predicted garments left out)" if train_source.left_out
                else ", predicted garments included)" if args.include_predicted and train_source.predicted_images
                else ")")
        else:
            from app.training.synth import SceneConfig

            scenes = SceneConfig(random_aspect=True, closeups=args.closeups)
            train_source = SynthSource(args.synthetic, base_seed=args.seed, config=scenes, pool_dir=args.pool)
            closeups = f", closeups={args.closeups:g}" if args.closeups else ""
            description = (
                f"synthetic renders (SceneConfig(random_aspect=True{closeups})), seeds from {args.seed}: "
                + (f"a fixed pool of {args.synthetic} scenes" if args.pool else f"{args.synthetic} new scenes per epoch")
            )
            if args.render_procs > 0 and int(os.environ.get("RANK", "0")) == 0:
                # Under torchrun one rank renders; the others render on demand what is still missing (each
                # scene is written atomically, so two writers of one scene leave one whole copy).
                _prerender(train_source, args.render_procs)
        val_source, val_description = None, ""
        if args.val_data is not None:
            val_source = open_labelled_dataset(args.val_data, args.val_images, include_predicted=args.include_predicted,
                                               purpose="evaluate against", images_flag="--val-images", log=_log)
            val_description = f"{args.val_data} ({len(val_source)} images)"
        elif args.val_synthetic > 0:
            val_source = SynthSource(args.val_synthetic, base_seed=VAL_SEED)
            val_description = f"synthetic val: render_scene(seed) for seed in {VAL_SEED}..+{args.val_synthetic - 1}"
    except DataSourceError as exc:
        raise CliError(str(exc), 2) from exc
    except ImportError as exc:
        raise CliError(f"synthetic data needs the renderer (app.training.synth): {exc}", 3) from exc
    args.out.mkdir(parents=True, exist_ok=True)
    recipe = Recipe(
        out=args.out, train_source=train_source, data_description=description, epochs=args.epochs,
        pose_epochs=args.pose_epochs, det_batch=args.batch, pose_batch_images=args.pose_batch, lr=args.lr,
        device=args.device, workers=args.workers, max_minutes=args.max_minutes, resume=args.resume,
        pose_init=args.init_pose,
        detector_init=args.init_detector, stages=stages, per_category=per_category,
        finetune_epochs=args.finetune_epochs, val_source=val_source, val_description=val_description,
        name=args.name, version=args.version, log=lambda m: print(m, flush=True),
        command=getattr(args, "invocation", ""), category_detector_weight=args.category_detector_weight,
        detector_cfg=DetectorConfig(input_size=(args.detector_input, args.detector_input)),
        pose_cfg=PoseConfig(input_size=(args.pose_input, args.pose_input),
                            num_categories=13 if args.category_head else 0),
    )
    try:
        summary = run_recipe(recipe)
    except (RuntimeError, DataSourceError) as exc:
        raise CliError(_one_line(exc), 1) from exc
    print(f"done: {summary.get('card', args.out)}" + _parity_warning(summary.get("parity_exceeded")))
    return 0


def _one_line(exc: BaseException) -> str:
    """The error itself: an exception raised in a DataLoader worker comes back as "Caught X in DataLoader worker
    process 0." followed by the worker's traceback, whose last line is "module.X: the message"."""
    text = str(exc)
    if "DataLoader worker" not in text:
        return text
    last = [line for line in text.splitlines() if line.strip()][-1]
    message = last.split(": ", 1)[1] if ": " in last else last
    if "DataSourceError" in last:
        message += "; fix or remove that file and run again (add --resume to go on from the last checkpoint)"
    return message


def _log(line: str) -> None:
    print(line, flush=True)


def _check_numbers(args: argparse.Namespace) -> None:
    """Every numeric option in its range, in one line (exit 2), before any data is read or anything runs:
    a batch of 0 or a negative learning rate used to fail with a traceback part-way through a run."""
    import math

    def need(ok: bool, option: str, what: str, value) -> None:
        if not ok:
            raise CliError(f"{option} must be {what}, got {value:g}" if isinstance(value, float)
                           else f"{option} must be {what}, got {value}", 2)

    for option, key, low in (("--epochs", "epochs", 0), ("--pose-epochs", "pose_epochs", 0),
                             ("--batch", "batch", 1), ("--pose-batch", "pose_batch", 1), ("--workers", "workers", 0),
                             ("--threads", "threads", 1), ("--finetune-epochs", "finetune_epochs", 0),
                             ("--val-synthetic", "val_synthetic", 0), ("--render-procs", "render_procs", 0),
                             ("--seed", "seed", 0), ("--synthetic", "synthetic", 1)):
        value = getattr(args, key)
        if value is not None:
            need(value >= low, option, "at least 1" if low else "0 or more", value)
    if args.lr is not None:
        need(math.isfinite(args.lr) and args.lr > 0, "--lr", "a positive learning rate", args.lr)
    if args.max_minutes is not None:
        need(args.max_minutes > 0 and not math.isnan(args.max_minutes), "--max-minutes",
             "a positive number of minutes", args.max_minutes)
    if args.category_detector_weight is not None:
        need(math.isfinite(args.category_detector_weight) and args.category_detector_weight >= 0,
             "--category-detector-weight", "a number ≥ 0", args.category_detector_weight)


def _check_scratch_epochs(args: argparse.Namespace, stages: tuple[str, ...], per_category: tuple[int, ...]) -> None:
    """A run from data or renders that would train nothing is refused (it used to export an untrained model)."""
    if "detector" in stages and args.epochs < 1:
        raise CliError(f"--epochs {args.epochs} trains no detector: give --epochs 1 or more, or --pose-only "
                       "(--export-only exports what --out already holds)", 2)
    pose_epochs = args.epochs if args.pose_epochs is None else args.pose_epochs
    if "pose" in stages and pose_epochs < 1:
        option = "--epochs" if args.pose_epochs is None else "--pose-epochs"
        raise CliError(f"{option} {pose_epochs} trains no pose model: give {option} 1 or more, or --detector-only", 2)
    if per_category and args.finetune_epochs < 1:
        raise CliError(f"--finetune-epochs {args.finetune_epochs} fine-tunes no per-category pose model for "
                       "--per-category: give 1 or more", 2)


def _parity_warning(exceeded: dict | None) -> str:
    if not exceeded:
        return ""
    return (f" (WARNING: ONNX parity exceeded for {', '.join(exceeded)}: the graphs do not reproduce the trained "
            "network; see training.onnx_parity_exceeded in the card)")


def _given(args: argparse.Namespace, options) -> list[str]:
    """The options among ``options`` (argument names) given on the command line: None/False when not."""
    return ["--" + key.replace("_", "-") for key in options if getattr(args, key) is not None
            and getattr(args, key) is not False]


def _refuse(args: argparse.Namespace, options, why: str) -> None:
    given = _given(args, options)
    if given:
        raise CliError(f"{', '.join(given)} {why}", 2)


def _prerender(source, processes: int) -> None:
    import time

    start = time.perf_counter()
    last_line = [start]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if done == total or now - last_line[0] >= 10.0:  # a line every 10 s, whatever the chunk size
            last_line[0] = now
            print(f"pool: {done}/{total} scenes rendered, {now - start:.0f} s", flush=True)

    rendered = source.prerender(processes, progress)
    print(f"pool {source.pool_dir}: {rendered} scenes rendered, {len(source) - rendered} already there", flush=True)


def _retrain(args: argparse.Namespace) -> int:
    import signal
    import threading

    from app.store import StoreError
    from app.training.base_weights import BaseModelError
    from app.training.retrain import RetrainError, RetrainOptions, check_options, run_retrain
    from app.training.sources import DataSourceError
    from inference.model_card import ModelCardError

    if args.resume is not None:
        _refuse(args, RUN_SETTINGS, "cannot change a resumed retrain: --resume goes on with the settings its "
                "checkpoint recorded (--device, --workers and --threads may change)")
    for key, value in PROJECT_DEFAULTS.items():
        setattr(args, key, value if getattr(args, key) is None else getattr(args, key))
    options = RetrainOptions(
        project=args.project, base=args.base, out=args.out,
        epochs=PROJECT_EPOCHS if args.epochs is None else args.epochs, pose_epochs=args.pose_epochs,
        replay=args.replay, holdout=args.holdout, lr=PROJECT_LR if args.lr is None else args.lr,
        det_batch=8 if args.batch is None else args.batch,
        pose_batch_images=8 if args.pose_batch is None else args.pose_batch, device=args.device or "auto",
        workers=args.workers, max_minutes=args.max_minutes, activate=args.activate,
        activate_if_better=args.activate_if_better, name=args.name, version=args.version, resume=args.resume,
        log=lambda m: print(m, flush=True),
    )
    try:
        check_options(options)
    except RetrainError as exc:
        raise CliError(str(exc), 2) from exc
    # Cancel in the app terminates this process: as an interrupt, the run still says how to resume it.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        result = run_retrain(options)
    except (RetrainError, BaseModelError, ModelCardError, DataSourceError, StoreError, RuntimeError) as exc:
        raise CliError(str(exc), 1) from exc
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    before, after = result["before"], result["after"]
    if before and after:
        print(f"held-out keypoint AP {before['keypoint_AP']:.3f} -> {after['keypoint_AP']:.3f}, "
              f"PCK@0.2 {before['PCK@0.2']:.3f} -> {after['PCK@0.2']:.3f} ({result['held_out_images']} images)")
    state = "active" if result["active"] else "not active"
    print(f"done: model version {result['model_id']} ({result['name']} {result['version']}, {state}): {result['card']}"
          + _parity_warning(result.get("onnx_parity_exceeded")))
    return 0


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt
