"""Per-stage wall-clock timings of one pipeline call (milliseconds), kept on every result."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass

STAGES = ("pre", "detect", "pose", "post")


@dataclass
class StageTimings:
    pre: float = 0.0  # decode checks, letterbox, crop warps, normalisation
    detect: float = 0.0  # detector session
    pose: float = 0.0  # pose session(s), all crops batched
    post: float = 0.0  # SimCC decode, inverse affine, landmark pick, scores

    @property
    def total(self) -> float:
        return self.pre + self.detect + self.pose + self.post

    @contextmanager
    def measure(self, stage: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            setattr(self, stage, getattr(self, stage) + (time.perf_counter() - start) * 1000.0)

    def scaled(self, factor: float) -> StageTimings:
        return StageTimings(**{k: v * factor for k, v in asdict(self).items()})

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "total": self.total}
