"""Qt-free garment annotation types shared by the runtime, the store, the dataset codecs and the GUI.

Coordinates are image pixels as floats (sub-pixel, never rounded); a box is (x1, y1, x2, y2).
Keypoints are in the category's DeepFashion2 order (local, 0-based here, 1-based in the figure).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import IntEnum, StrEnum


class Visibility(IntEnum):
    """COCO / DeepFashion2 visibility codes."""

    ABSENT = 0  # not labelled / outside the image
    OCCLUDED = 1  # labelled, hidden
    VISIBLE = 2


class GarmentStatus(StrEnum):
    PREDICTED = "predicted"  # as the model left it
    CORRECTED = "corrected"  # a person changed something
    VERIFIED = "verified"  # a person confirmed every point


class PointSource(StrEnum):
    MODEL = "model"
    HUMAN = "human"


@dataclass(frozen=True)
class Keypoint:
    x: float
    y: float
    visibility: Visibility = Visibility.VISIBLE
    score: float | None = None  # model confidence; None for human-placed points
    source: PointSource = PointSource.MODEL

    @classmethod
    def absent(cls) -> Keypoint:
        return cls(0.0, 0.0, Visibility.ABSENT, None)

    def moved(self, x: float, y: float) -> Keypoint:
        vis = Visibility.VISIBLE if self.visibility == Visibility.ABSENT else self.visibility
        return replace(self, x=float(x), y=float(y), visibility=vis, source=PointSource.HUMAN)


@dataclass(frozen=True)
class Garment:
    category_id: int  # DeepFashion2 id, 1..13
    bbox: tuple[float, float, float, float]  # x1, y1, x2, y2
    keypoints: tuple[Keypoint, ...]
    score: float | None = None
    status: GarmentStatus = GarmentStatus.PREDICTED
    model_version: str | None = None
    extra: dict = field(default_factory=dict, compare=False)

    def with_keypoints(self, keypoints: tuple[Keypoint, ...]) -> Garment:
        return replace(self, keypoints=tuple(keypoints))
