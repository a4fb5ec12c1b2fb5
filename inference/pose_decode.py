"""From pose-graph outputs to garments: flip-test merge, SimCC decode, inverse crop affine, landmark pick.

Choices (documented for the GUI and the store):
- landmark score: the SimCC softmax peak divided by the card's ``keypoint_score_reference`` (the peak of
  the training target), capped at 1;
- visibility: every predicted landmark is kept; score >= ``visible_threshold`` (default 0.2) → VISIBLE (2),
  below it → OCCLUDED (1), so a person sees the point and its doubt instead of losing it. Never ABSENT.
- garment score: ``alpha × detection score + (1 − alpha) × mean landmark score`` over the category's own
  landmarks (DeepMark++ eq. 1), alpha from the model card (0.8 by default), the same formula training
  and evaluation use. With a crop category classifier the detection score is the detector's score times the
  probability of the decided category (``inference.category_fusion``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inference.annotation import Garment, Keypoint, Visibility
from inference.preprocess import decode_simcc
from inference.schema import deepfashion2

# On bootstrap 0.4.0's synthetic validation (pose on true boxes) landmarks scoring >= 0.2 had a median error
# of 1.5 % of the box and were truly visible in 98 % of cases; those below, 7.1 % and 77 % (docs/models).
DEFAULT_VISIBLE_THRESHOLD = 0.2


@dataclass(frozen=True)
class Detection:
    bbox: tuple[float, float, float, float]  # image pixels
    score: float
    category_id: int  # DeepFashion2 1..13
    # True when a person fixed the category (a drawn box, QC mode's style): no classifier may change it.
    category_fixed: bool = False
    # The orientation already decided for this garment, in clockwise quarter turns (a tracked garment keeps
    # the one its detection frame chose): with the orientation check on, only this turn is read. None: the
    # check (when on) decides.
    quarter_turns: int | None = None


def _reversed_bins(bins: int, split: float) -> np.ndarray:
    # Pixel c of an axis N pixels long is pixel N-1-c after reversing it, so bin j maps to split*(N-1) - j.
    length = bins / split
    return np.clip(np.rint(split * (length - 1) - np.arange(bins)).astype(np.int64), 0, bins - 1)


@dataclass(frozen=True)
class CropView:
    """How one pose pass saw a crop: turned clockwise by ``quarter_turns`` × 90° (orientation check), then
    mirrored left-right (flip test). Turning first keeps a view and its mirror the same way up, so the flip
    pair of every orientation sees the garment lying the same way. Quarter turns of 1 and 3 need square
    crops."""

    quarter_turns: int = 0
    mirrored: bool = False

    @property
    def degrees(self) -> int:
        return 90 * (self.quarter_turns % 4)

    def apply(self, crops: np.ndarray) -> np.ndarray:
        """Crops (..., H, W) as this view sees them."""
        out = crops
        if self.quarter_turns % 4:
            out = np.rot90(out, k=-(self.quarter_turns % 4), axes=(-2, -1))  # negative k: clockwise
        if self.mirrored:
            out = out[..., ::-1]
        return np.ascontiguousarray(out) if out is not crops else crops

    def to_upright(
        self, simcc_x: np.ndarray, simcc_y: np.ndarray, split: float, flip_index
    ) -> tuple[np.ndarray, np.ndarray]:
        """This view's SimCC outputs (B, K, bins) → the plain crop's frame.

        Undone in reverse order. A mirror reverses x and swaps the garment's left and right landmarks. A
        clockwise quarter turn maps crop pixel (x, y) to (H-1-y, x), so undoing one takes the view's y
        distribution as x and its reversed x distribution as y; a turn swaps no sides (it is not a mirror).
        """
        sx, sy = simcc_x, simcc_y
        if self.quarter_turns % 2 and sx.shape[-1] != sy.shape[-1]:
            raise ValueError("quarter turns of 90° and 270° need square crops (as many x bins as y bins)")
        if self.mirrored:
            sx = sx[:, flip_index][..., _reversed_bins(sx.shape[-1], split)]
            sy = sy[:, flip_index]
        for _ in range(self.quarter_turns % 4):  # two steps of a half turn swap the axes back: any shape
            sx, sy = sy, sx[..., _reversed_bins(sx.shape[-1], split)]
        return sx, sy


def decode_landmarks(
    simcc_x: np.ndarray, simcc_y: np.ndarray, split: float, inverse_affines: np.ndarray, category_ids
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per crop, only its category's landmarks (DF2 order): image coordinates (k,2) and scores (k,).

    Decoding just the rows a category uses is 2-10× less softmax work than all 81.
    """
    schema = deepfashion2()
    rows = [np.asarray(schema.category(c).agg81) for c in category_ids]
    crop = np.repeat(np.arange(len(rows)), [len(r) for r in rows])
    landmark = np.concatenate(rows)
    crop_xy, scores = decode_simcc(simcc_x[crop, landmark][None], simcc_y[crop, landmark][None], split)
    inv = inverse_affines[crop]
    image_xy = np.einsum("kj,kij->ki", crop_xy[0], inv[:, :, :2]) + inv[:, :, 2]
    bounds = np.cumsum([0] + [len(r) for r in rows])
    return [(image_xy[a:b], scores[0, a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def build_garment(
    detection: Detection,
    local_xy: np.ndarray,
    local_scores: np.ndarray,
    model_version: str | None,
    visible_threshold: float = DEFAULT_VISIBLE_THRESHOLD,
    score_alpha: float = 0.8,
) -> Garment:
    """A crop's decoded landmarks (the category's, in DF2 order) → a Garment."""
    local = np.column_stack([local_xy, local_scores])
    keypoints = tuple(
        Keypoint(
            float(x),
            float(y),
            Visibility.VISIBLE if s >= visible_threshold else Visibility.OCCLUDED,
            float(s),
        )
        for x, y, s in local
    )
    mean_kp = float(local[:, 2].mean()) if len(local) else 0.0
    score = float(score_alpha * detection.score + (1.0 - score_alpha) * mean_kp)
    return Garment(
        category_id=detection.category_id,
        bbox=tuple(float(v) for v in detection.bbox),
        keypoints=keypoints,
        score=score,
        model_version=model_version,
        extra={"detection_score": float(detection.score), "keypoint_score": mean_kp},
    )

