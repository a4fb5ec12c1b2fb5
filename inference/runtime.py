"""ONNX Runtime sessions: provider choice, the provider that really runs, contract checks, warm-up, IO binding.

Provider order for ``auto`` is TensorRT → CUDA → CPU, limited to what the installed wheel offers. ORT can
fall back silently (a missing libcudnn/libnvinfer leaves only CPU running), so after creating a session we
read ``session.get_providers()`` and report what actually runs; a forced provider that did not come up is an
error rather than a quiet CPU run.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.model_card import ModelCardError

log = logging.getLogger(__name__)

PROVIDERS = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
PROVIDER_CHOICES = ("auto", "cpu", "cuda", "tensorrt")
_SHORT = {v: k for k, v in PROVIDERS.items()}


class ProviderError(RuntimeError):
    """The requested execution provider is not installed or did not start."""


class ModelLoadError(ModelCardError):
    """An ONNX file is missing, not loadable, or does not match the card's contract."""


def available_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


def provider_chain(preference: str = "auto", available: list[str] | None = None) -> list[str]:
    """Providers to request, best first, always ending with CPU (nodes a GPU EP cannot take run there)."""
    if preference not in PROVIDER_CHOICES:
        raise ProviderError(f"unknown provider {preference!r}; choose one of {', '.join(PROVIDER_CHOICES)}")
    available = available_providers() if available is None else list(available)
    if preference == "auto":
        wanted = [PROVIDERS["tensorrt"], PROVIDERS["cuda"], PROVIDERS["cpu"]]
        return [p for p in wanted if p in available] or [PROVIDERS["cpu"]]
    name = PROVIDERS[preference]
    if name not in available:
        hint = " (install the `gpu` extra: onnxruntime-gpu, and only it)" if preference != "cpu" else ""
        raise ProviderError(
            f"provider {preference!r} ({name}) is not available in this onnxruntime; "
            f"available: {', '.join(available)}{hint}"
        )
    chain = [name]
    if preference == "tensorrt" and PROVIDERS["cuda"] in available:
        chain.append(PROVIDERS["cuda"])  # TensorRT hands unsupported nodes to CUDA
    if name != PROVIDERS["cpu"]:
        chain.append(PROVIDERS["cpu"])
    return chain


_preloaded = False


def _preload_gpu_libraries() -> None:
    """Load the pip-installed CUDA/cuDNN libraries (nvidia-* wheels) before the CUDA EP needs them.

    Without this, a wheel install without a system CUDA often falls back to CPU silently.
    """
    global _preloaded
    if _preloaded:
        return
    _preloaded = True
    import onnxruntime as ort

    if hasattr(ort, "preload_dlls"):
        try:
            ort.preload_dlls(cuda=True, cudnn=True, msvc=False)
        except Exception as exc:  # noqa: BLE001 - best effort; the provider check below reports the outcome
            log.info("onnxruntime.preload_dlls failed: %s", exc)


def _shape_text(shapes: dict[str, tuple[int, ...]]) -> str:
    return ",".join(f"{name}:{'x'.join(str(d) for d in dims)}" for name, dims in shapes.items())


def _provider_options(name: str, trt_profiles: dict | None = None) -> dict:
    if name == PROVIDERS["tensorrt"]:
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "garment-studio" / "trt"
        cache.mkdir(parents=True, exist_ok=True)
        options = {
            "trt_fp16_enable": True,
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(cache),
            "trt_timing_cache_enable": True,
        }
        if trt_profiles:
            # One engine for every batch size in the profile instead of a rebuild per new crop count.
            for key, index in (("trt_profile_min_shapes", 0), ("trt_profile_opt_shapes", 1),
                               ("trt_profile_max_shapes", 2)):
                options[key] = _shape_text({n: dims[index] for n, dims in trt_profiles.items()})
        return options
    if name == PROVIDERS["cuda"]:
        # HEURISTIC: fast session start; EXHAUSTIVE would re-search for every new crop batch size.
        return {"cudnn_conv_algo_search": "HEURISTIC", "do_copy_in_default_stream": True}
    return {}


def default_threads() -> int:
    """intra-op threads: the cores we have, at most 4 (more only adds sync cost for these small graphs)."""
    return max(1, min(os.cpu_count() or 1, 4))


def session_options(threads: int | None = None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1  # sequential graphs: a second pool only competes for the 2 cores
    # No busy-waiting between ops: on a 2-core desktop the spinning pool fights the GUI and frame-reader
    # threads (measured 24-33 ms vs 17 ms per detector call on a loaded 2-core machine, same otherwise).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    return opts


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple  # ints for fixed dims, None for dynamic ones


class OnnxModel:
    """One ONNX graph in one session, with the provider that actually runs it."""

    def __init__(
        self,
        path: str | Path,
        preference: str = "auto",
        threads: int | None = None,
        trt_profiles: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]] | None = None,
        io_binding: bool | None = None,
    ):
        """``trt_profiles``: input name → (min, opt, max) shapes for TensorRT's dynamic dimensions.
        ``io_binding``: run through an IO binding (default: on a GPU provider only; on CPU it exists so the
        binding path is tested on machines without a GPU)."""
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise ModelLoadError(f"model file {self.path} is missing")
        self.requested = provider_chain(preference)
        if self.requested[0] != PROVIDERS["cpu"]:
            _preload_gpu_libraries()
        providers = [(p, _provider_options(p, trt_profiles)) for p in self.requested]
        try:
            self.session = ort.InferenceSession(
                str(self.path), sess_options=session_options(threads), providers=providers
            )
        except Exception as exc:  # ORT raises its own pybind types (InvalidProtobuf, Fail, ...)
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(f"{self.path} is not a loadable ONNX model: {first_line}") from exc
        active = self.session.get_providers()
        self.provider = active[0] if active else PROVIDERS["cpu"]
        if self.provider != self.requested[0]:
            message = (
                f"{self.path.name}: requested {self.requested[0]} but onnxruntime runs {self.provider} "
                "(a CUDA/cuDNN/TensorRT library failed to load; see onnxruntime.print_debug_info())"
            )
            if preference != "auto":
                raise ProviderError(message)
            log.warning(message)
        self.inputs = [TensorSpec(i.name, _dims(i.shape)) for i in self.session.get_inputs()]
        self.outputs = [TensorSpec(o.name, _dims(o.shape)) for o in self.session.get_outputs()]
        self._output_names = [o.name for o in self.outputs]
        self.uses_gpu = self.provider in (PROVIDERS["cuda"], PROVIDERS["tensorrt"])
        self.io_binding = self.uses_gpu if io_binding is None else bool(io_binding)
        self._bind_device = "cuda" if self.uses_gpu else "cpu"

    @property
    def provider_short(self) -> str:
        return _SHORT.get(self.provider, self.provider)

    def input(self, name: str) -> TensorSpec | None:
        return next((t for t in self.inputs if t.name == name), None)

    def output(self, name: str) -> TensorSpec | None:
        return next((t for t in self.outputs if t.name == name), None)

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.io_binding:
            return self._run_bound(feeds)
        return dict(zip(self._output_names, self.session.run(self._output_names, feeds), strict=True))

    def _run_bound(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        # IO binding: one explicit host→device copy per input, outputs allocated on the device and copied
        # back once, instead of ORT's implicit staging copies inside run().
        binding = self.session.io_binding()
        for name, value in feeds.items():
            binding.bind_cpu_input(name, np.ascontiguousarray(value))
        for name in self._output_names:
            binding.bind_output(name, self._bind_device, 0)
        self.session.run_with_iobinding(binding)
        return dict(zip(self._output_names, binding.copy_outputs_to_cpu(), strict=True))

    def warm_up(self, feeds: dict[str, np.ndarray], runs: int = 2) -> float:
        """Run a few times so lazy allocation / kernel selection / TRT engine build happen at load; ms."""
        start = time.perf_counter()
        for _ in range(runs):
            self.run(feeds)
        return (time.perf_counter() - start) * 1000.0


def _dims(shape) -> tuple:
    return tuple(d if isinstance(d, int) and d > 0 else None for d in shape)


def check_tensor(model: OnnxModel, spec: TensorSpec | None, name: str, expected: tuple, role: str) -> None:
    """Raise a ModelLoadError naming the file if a tensor is absent or a fixed dim disagrees with the card."""
    if spec is None:
        names = [t.name for t in (model.inputs if role == "input" else model.outputs)]
        raise ModelLoadError(f"{model.path}: no {role} named {name!r} (the graph has {names})")
    if len(spec.shape) != len(expected):
        raise ModelLoadError(
            f"{model.path}: {role} {name!r} has rank {len(spec.shape)}, the card expects shape {expected}"
        )
    for got, want in zip(spec.shape, expected, strict=True):
        if got is not None and want is not None and got != want:
            shown = tuple("?" if d is None else d for d in spec.shape)
            raise ModelLoadError(
                f"{model.path}: {role} {name!r} has shape {shown}, the card expects {expected} "
                "(None = any); the model and its card do not match"
            )
