"""Which category a detected garment is: the pose graph's crop classifier combined with the detector's class.

The detector's class comes from stride-8 heatmaps of a small network and confuses look-alike categories
(short vs long sleeve, top vs outwear, shorts vs skirt). A pose graph with a category head sees the whole
garment at crop resolution. The decision is

    category = argmax_c  p_crop(c) + w · [c == detector class]

with ``w`` the card's ``category_detector_weight``: 0 trusts the crop classifier alone, ≥ 1 keeps the
detector's class. A category fixed by the user (a drawn box, QC mode's style) is never changed. The
pipeline multiplies the detection score by the decided category's probability (see GarmentPipeline).
"""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def fuse_categories(
    logits: np.ndarray, detector_category_ids, detector_weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per crop: (category id 1..C, the crop classifier's probability of it).

    ``logits`` is [N, C] from the pose graph; ``detector_category_ids`` are 1-based DF2 ids.
    """
    probs = softmax(logits)
    n, classes = probs.shape
    detector = np.asarray(detector_category_ids, dtype=np.int64).reshape(n) - 1
    if ((detector < 0) | (detector >= classes)).any():
        raise ValueError(f"detector category ids must be 1..{classes}, got {sorted(set((detector + 1).tolist()))}")
    votes = probs.copy()
    votes[np.arange(n), detector] += float(detector_weight)
    chosen = votes.argmax(axis=1)
    return chosen + 1, probs[np.arange(n), chosen]
