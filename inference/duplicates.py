"""One garment, one result: drop a garment the pose pass found to be another shown garment read again.

The detector already keeps one box of several overlapping ones (``MERGE_IOU`` on its boxes). Two of its boxes
can still overlap less than that and, once the pose network has placed the landmarks, outline the same
garment: a jacket on a hanger boxed once whole and once without its sleeves, each read as a full jacket. Their
landmark boxes (ADR 0007) then nearly coincide. Only garments the app would show are merged (detector score at
or above the display threshold); evaluation lowers the threshold for AP and keeps the hypotheses below it.
"""

from __future__ import annotations

from collections.abc import Sequence

from inference.annotation import Garment
from inference.boxes import box_iou

# Landmark boxes of one garment read twice overlap far more than two garments lying on each other: on 150
# synthetic tuning scenes, 0.5 removed every duplicate shown (8 of 282 garments) and no garment of its own.
LANDMARK_MERGE_IOU = 0.5


def detector_score(garment: Garment) -> float:
    """The score the display threshold applies to: the detector's, before the category factor."""
    extra = garment.extra
    return float(extra.get("detector_score", extra.get("detection_score", garment.score or 0.0)))


def merge_read_twice(
    garments: Sequence[Garment], shown_from: float, iou: float = LANDMARK_MERGE_IOU
) -> list[Garment]:
    """``garments`` in their order, less each shown one whose box overlaps a better-scored shown one's at
    ``iou`` or more (``shown_from``: the display threshold on the detector score)."""
    shown = [g for g in garments if detector_score(g) >= shown_from]
    dropped: set[int] = set()
    kept: list[Garment] = []
    for g in sorted(shown, key=lambda g: -(g.score or 0.0)):
        if any(box_iou(g.bbox, k.bbox) >= iou for k in kept):
            dropped.add(id(g))
        else:
            kept.append(g)
    return [g for g in garments if id(g) not in dropped]
