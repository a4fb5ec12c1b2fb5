"""ONNX export of the detector (decoding inside) and the pose model, parity against PyTorch, model card."""

from __future__ import annotations

import datetime as dt
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from app.training.detector import CenterNetDetector, DetectorWithDecode
from app.training.rtfpose import RTFPose
from app.training.samples import MEAN_RGB, STD_RGB
from inference.model_card import DetectorSpec, ModelCard, PoseSpec, Preprocess, sha256_file

OPSET = 17
POSE_OUTPUTS = ("simcc_x", "simcc_y")
CATEGORY_OUTPUT = "category_logits"  # present when the pose model has a category head
# DeepMark++ eq. (1): final garment score = α·detector score + (1-α)·mean keypoint score of its category.
SCORE_ALPHA = 0.8


def _session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def onnx_export(*args, **kwargs) -> None:
    """torch.onnx.export without the tracer's warnings: they flag shape-dependent Python in the decode
    (fixed at trace time, by design here) and fill a user's terminal with source lines; the parity check
    that follows every export is what tells whether the graph is right."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(*args, **kwargs)


def export_detector(detector: CenterNetDetector, path: Path, seed: int = 0) -> float:
    """Writes ``path``; returns the max abs difference ORT vs PyTorch.

    Two checks on one random input: the raw heads (heatmap logits, size, offset; exported to a temporary
    graph) and the decoded ``dets`` rows scoring ≥ 0.05. Decoded rows are matched to their closest PyTorch
    row, since near-equal scores may be ordered differently (and 1e-7 changes can move a tie's peak)."""
    detector = detector.eval().cpu()
    wrapper = DetectorWithDecode(detector).eval()
    w, h = detector.cfg.input_size
    sample = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(seed))
    onnx_export(
        wrapper, (sample,), str(path), input_names=["image"], output_names=["dets"], opset_version=OPSET,
        dynamo=False,
    )
    with tempfile.TemporaryDirectory() as tmp:
        heads_path = Path(tmp) / "heads.onnx"
        onnx_export(detector, (sample,), str(heads_path), input_names=["image"],
                          output_names=["heat", "size", "offset"], opset_version=OPSET, dynamo=False)
        got_heads = _session(heads_path).run(None, {"image": sample.numpy()})
    with torch.no_grad():
        expected = wrapper(sample).numpy()[0]
        heads = [t.numpy() for t in detector(sample)]
    diff = max(float(np.abs(a - b).max()) for a, b in zip(heads, got_heads, strict=True))
    got = _session(path).run(["dets"], {"image": sample.numpy()})[0][0]
    confident = got[got[:, 4] >= 0.05]
    if len(confident):
        diff = max(diff, float(np.abs(confident[:, None, :] - expected[None]).max(axis=-1).min(axis=1).max()))
    return diff


def pose_output_names(model: RTFPose) -> list[str]:
    return list(POSE_OUTPUTS if model.cfg.num_categories == 0 else (*POSE_OUTPUTS, CATEGORY_OUTPUT))


def export_pose(model: RTFPose, path: Path, seed: int = 0) -> float:
    """Writes ``path`` (dynamic batch); returns max abs logit difference ORT vs PyTorch on a batch of 3."""
    model = model.eval().cpu()
    w, h = model.cfg.input_size
    sample = torch.randn(3, 3, h, w, generator=torch.Generator().manual_seed(seed))
    names = pose_output_names(model)
    onnx_export(
        model, (sample,), str(path), input_names=["crops"], output_names=names,
        dynamic_axes={"crops": {0: "batch"}, **{n: {0: "batch"} for n in names}},
        opset_version=OPSET, dynamo=False,
    )
    with torch.no_grad():
        expected = [t.numpy() for t in model(sample)]
    got = _session(path).run(names, {"crops": sample.numpy()})
    return float(max(np.abs(e - g).max() for e, g in zip(expected, got, strict=True)))


def write_card(
    out_dir: Path,
    name: str,
    version: str,
    detector_input: tuple[int, int],
    pose_input: tuple[int, int],
    simcc_split_ratio: float,
    bbox_padding: float,
    training: dict,
    metrics: dict,
    per_category: dict[str, str] | None = None,
    parent: str | None = None,
    category_output: str | None = None,
    category_detector_weight: float = 0.0,
    keypoint_score_reference: float = 1.0,
) -> Path:
    """Card beside detector.onnx / pose.onnx (+ per-category graphs), with the sha256 of every file."""
    per_category = dict(per_category or {})
    files = ["detector.onnx", "pose.onnx", *per_category.values()]
    card = ModelCard(
        name=name,
        version=version,
        detector=DetectorSpec(
            file="detector.onnx", preprocess=Preprocess(tuple(detector_input), MEAN_RGB, STD_RGB, "RGB"),
            num_classes=13, score_threshold=0.3,
        ),
        pose=PoseSpec(
            file="pose.onnx", preprocess=Preprocess(tuple(pose_input), MEAN_RGB, STD_RGB, "RGB"),
            simcc_split_ratio=simcc_split_ratio, num_keypoints=81, layout="df2-agg81", bbox_padding=bbox_padding,
            per_category=per_category, category_output=category_output,
            category_detector_weight=category_detector_weight, keypoint_score_reference=keypoint_score_reference,
        ),
        path=out_dir / "model_card.json",
        parent=parent,
        training={
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "score_formula": f"garment score = {SCORE_ALPHA}·detection score + {1 - SCORE_ALPHA:.1f}·mean "
            "keypoint score over the category's landmarks (DeepMark++ eq. 1); keypoint score = mean of the "
            "softmax peaks of simcc_x and simcc_y"
            + ("; detection score = detector score × the crop classifier's probability of the decided category"
               if category_output else ""),
            "score_alpha": SCORE_ALPHA,
            **training,
        },
        metrics=metrics,
        sha256={f: sha256_file(out_dir / f) for f in files},
    )
    card.save()
    return card.path
