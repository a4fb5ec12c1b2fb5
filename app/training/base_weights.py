"""PyTorch weights of a shipped model, for fine-tuning it.

A retrained model keeps its weights beside the card (``weights/detector.pt``, ``weights/pose.pt``: state dicts
plus the architecture config), their sha256 in the card (``training.torch_weights_sha256``); weights that no
longer match it (replaced, corrupt) are not used: the model is recovered from its ONNX graphs, which the
card's own hashes vouch for. A card without weights (the bundled model ships only ONNX) is recovered from its
ONNX graphs: the exporter folds each BatchNorm into the convolution before it and renames some tensors, so
the mapping is found by exporting a fresh model of the same architecture whose BatchNorms are identities and
whose parameters are distinct random values, and matching every initializer of that export to the parameter
(or its transpose, or one row of it) it equals. The recovered model keeps the folded form (BatchNorm =
identity + bias) and must reproduce the shipped graphs: a parity check refuses anything else.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from app.training.detector import CenterNetDetector, DetectorConfig, DetectorWithDecode
from app.training.export import onnx_export, pose_output_names
from app.training.rtfpose import PoseConfig, RTFPose
from inference.model_card import ModelCard, sha256_file

WEIGHTS_DIR = "weights"
RECOVERY_PARITY = 1e-3  # max abs difference of the recovered model's outputs from the shipped graph


class BaseModelError(RuntimeError):
    """The base model's weights cannot be loaded or recovered; the message names the file."""


def _identity_batchnorms(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.weight.data.fill_(1.0)
            module.running_mean.zero_()
            module.running_var.fill_(1.0 - module.eps)


def _initializers(graph) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in graph.initializer}


def _without_identities(graph, initializers: set[str]):
    """Nodes minus the Identity copies of initializers the exporter adds for equal tensors, and the aliases."""
    alias = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "Identity" and n.input[0] in initializers}
    return [n for n in graph.node if n.output[0] not in alias], alias


def _pair_initializers(probe, shipped, where: Path) -> dict[str, str]:
    """probe initializer → the shipped one in the same place. Names cannot be compared directly: the
    exporter merges equal constants (e.g. the zero biases of an untrained model) and numbers the rest."""
    probe_inits, shipped_inits = {t.name for t in probe.initializer}, {t.name for t in shipped.initializer}
    probe_nodes, probe_alias = _without_identities(probe, probe_inits)
    shipped_nodes, shipped_alias = _without_identities(shipped, shipped_inits)
    if len(probe_nodes) != len(shipped_nodes):
        raise BaseModelError(f"{where} does not have this architecture's graph ({len(shipped_nodes)} nodes, "
                             f"expected {len(probe_nodes)})")
    pairs: dict[str, str] = {}
    for a, b in zip(probe_nodes, shipped_nodes, strict=True):
        if a.op_type != b.op_type or len(a.input) != len(b.input):
            raise BaseModelError(f"{where} does not have this architecture's graph ({b.op_type} where "
                                 f"{a.op_type} was expected)")
        for x, y in zip(a.input, b.input, strict=True):
            x, y = probe_alias.get(x, x), shipped_alias.get(y, y)
            if x in probe_inits:
                if y not in shipped_inits or pairs.setdefault(x, y) != y:
                    raise BaseModelError(f"{where}: tensor {y} does not match this architecture's {x}")
    return pairs


def _export(wrapper: nn.Module, sample: torch.Tensor, path: Path, pose: bool) -> None:
    names = (["crops"], pose_output_names(wrapper)) if pose else (["image"], ["dets"])
    axes = {n: {0: "batch"} for n in ["crops", *names[1]]} if pose else None
    onnx_export(wrapper.eval(), (sample,), str(path), input_names=names[0], output_names=names[1],
                      dynamic_axes=axes, opset_version=17, dynamo=False)


def _forms(value: np.ndarray):
    yield "same", value
    if value.ndim == 2:
        yield "T", value.T
        for row in range(min(value.shape[0], 4)):
            yield ("row", row), value[row]


def recover_from_onnx(model: nn.Module, onnx_path: Path, pose: bool) -> float:
    """Load ``onnx_path``'s weights into ``model`` (same architecture); returns the output parity."""
    w, h = model.cfg.input_size
    sample = torch.randn(2 if pose else 1, 3, h, w, generator=torch.Generator().manual_seed(0))
    wrapper = model if pose else DetectorWithDecode(model)
    bn_weights = {f"{n}.weight" for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)}
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        _identity_batchnorms(model)
        for name, param in model.named_parameters():
            if name not in bn_weights:
                param.copy_(torch.randn(param.shape, generator=generator))
    probe = {n: p.detach().numpy().copy() for n, p in model.named_parameters() if n not in bn_weights}
    shipped_graph = onnx.load(str(onnx_path)).graph
    shipped = _initializers(shipped_graph)
    with tempfile.TemporaryDirectory() as tmp:
        _export(wrapper, sample, Path(tmp) / "probe.onnx", pose)
        probe_graph = onnx.load(str(Path(tmp) / "probe.onnx")).graph
    exported = _initializers(probe_graph)
    pairs = _pair_initializers(probe_graph, shipped_graph, onnx_path)
    with torch.no_grad():
        params = dict(model.named_parameters())
        for init_name, shipped_name in pairs.items():
            value, target = exported[init_name], shipped[shipped_name]
            match = next(((pn, form) for pn, pv in probe.items() for form, fv in _forms(pv)
                          if fv.size == value.size and np.allclose(fv.reshape(value.shape), value, rtol=1e-5, atol=1e-6)),
                         None)
            if match is None:
                if not np.array_equal(value, target):  # a constant of the graph must be the same in both
                    raise BaseModelError(f"{onnx_path}: tensor {shipped_name} maps to no parameter of this architecture")
                continue
            name, form = match
            tensor = torch.from_numpy(np.array(target, dtype=np.float32))
            if form == "same":
                params[name].copy_(tensor.reshape(params[name].shape))
            elif form == "T":
                params[name].copy_(tensor.T)
            else:
                params[name][form[1]].copy_(tensor.reshape(params[name][form[1]].shape))
    parity = _parity(wrapper, onnx_path, sample, pose)
    if parity > RECOVERY_PARITY:
        raise BaseModelError(f"weights recovered from {onnx_path} do not reproduce it (max diff {parity:.3g})")
    return parity


def _parity(wrapper: nn.Module, onnx_path: Path, sample: torch.Tensor, pose: bool) -> float:
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"crops" if pose else "image": sample.numpy()})
    with torch.no_grad():
        expected = wrapper.eval()(sample)
    expected = [t.numpy() for t in (expected if pose else (expected,))]
    if not pose:  # compare detections above a low score only (ties may reorder the tail)
        exp, out = expected[0][0], got[0][0]
        keep = out[:, 4] >= 0.05
        return float(np.abs(out[keep][:, None] - exp[None]).max(axis=-1).min(axis=1).max()) if keep.any() else 0.0
    return float(max(np.abs(a - b).max() for a, b in zip(expected, got, strict=True)))


def save_weights(folder: Path, detector: CenterNetDetector, pose: RTFPose) -> dict[str, str]:
    """Write ``weights/`` beside a card; returns {relative file: sha256} for the card's
    ``training.torch_weights_sha256``."""
    target = folder / WEIGHTS_DIR
    target.mkdir(parents=True, exist_ok=True)
    torch.save({"config": detector.cfg.to_json(), "model": detector.state_dict()}, target / "detector.pt")
    torch.save({"config": pose.cfg.to_json(), "model": pose.state_dict()}, target / "pose.pt")
    return {f"{WEIGHTS_DIR}/{n}": sha256_file(target / n) for n in ("detector.pt", "pose.pt")}


def weights_problem(card: ModelCard) -> str | None:
    """Why the card's weights/ files cannot be trusted (None: they match the sha256 the card records). Cards
    written before the hashes were recorded cannot be checked and pass."""
    recorded = card.training.get("torch_weights_sha256")
    if not isinstance(recorded, dict):
        return None
    for name in ("detector.pt", "pose.pt"):
        rel = f"{WEIGHTS_DIR}/{name}"
        expected, path = recorded.get(rel), card.folder / rel
        if expected is None:
            return f"{card.path} records no sha256 for {rel}"
        if sha256_file(path) != expected:
            return f"{path} does not match the sha256 in {card.path} (replaced or corrupt)"
    return None


def load_base_models(card: ModelCard, log=print) -> tuple[CenterNetDetector, RTFPose, str]:
    """(detector, pose, how) for a card: from its weights/ folder when they match the card, else recovered
    from its ONNX graphs."""
    folder = card.folder / WEIGHTS_DIR
    problem = None
    if (folder / "detector.pt").is_file() and (folder / "pose.pt").is_file():
        problem = weights_problem(card)
        if problem is None:
            det_state = torch.load(folder / "detector.pt", map_location="cpu", weights_only=False)
            pose_state = torch.load(folder / "pose.pt", map_location="cpu", weights_only=False)
            detector = CenterNetDetector(DetectorConfig.from_json(det_state["config"]))
            pose = RTFPose(PoseConfig.from_json(pose_state["config"]))
            detector.load_state_dict(det_state["model"])
            pose.load_state_dict(pose_state["model"])
            return detector, pose, f"PyTorch weights in {folder}"
        log(f"warning: {problem}: recovering the weights from the ONNX graphs instead")
    try:
        det_cfg = DetectorConfig.from_json(card.training["detector_config"])
        pose_cfg = PoseConfig.from_json(card.training["pose_config"])
    except (KeyError, TypeError) as exc:
        why = problem or f"has no {folder}"
        raise BaseModelError(f"{card.path} records no detector_config/pose_config and {why}") from exc
    detector, pose = CenterNetDetector(det_cfg), RTFPose(pose_cfg)
    det_parity = recover_from_onnx(detector, card.file_path(card.detector.file), pose=False)
    pose_parity = recover_from_onnx(pose, card.file_path(card.pose.file), pose=True)
    log(f"recovered PyTorch weights from {card.folder} ONNX graphs (parity detector {det_parity:.1e}, "
        f"pose {pose_parity:.1e})")
    how = f"recovered from the ONNX graphs in {card.folder}"
    return detector, pose, how + (f" ({problem})" if problem else "")


def freeze_batchnorm(model: nn.Module) -> nn.Module:
    """Keep every BatchNorm in inference mode while the rest trains: fine-tuning batches are small, and a
    recovered model's BatchNorms carry folded statistics that batch statistics would overwrite."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.train = (lambda m: (lambda mode=True: nn.Module.train(m, False)))(module)
            module.eval()
    return model
