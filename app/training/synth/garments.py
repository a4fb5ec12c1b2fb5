"""One entry point for every DF2 category's parametric shape."""

from __future__ import annotations

import numpy as np
from shapely.geometry import Polygon

from app.training.synth.garments_bottoms import BOTTOM_CATEGORIES, build_bottom
from app.training.synth.garments_tops import TOP_CATEGORIES, build_top
from app.training.synth.geometry import GarmentShape

ALL_CATEGORIES = tuple(sorted(TOP_CATEGORIES + BOTTOM_CATEGORIES))


def build_garment(rng: np.random.Generator, category_id: int) -> GarmentShape:
    """Random garment of a category; resampled until its silhouette is a simple polygon."""
    if category_id not in ALL_CATEGORIES:
        raise ValueError(f"unknown DeepFashion2 category id {category_id!r} (1-13)")
    builder = build_bottom if category_id in BOTTOM_CATEGORIES else build_top
    shape = builder(rng, category_id)
    for _ in range(20):
        if Polygon(shape.outline).is_valid:
            break
        shape = builder(rng, category_id)
    return shape


def shape_size_cm(shape: GarmentShape) -> float:
    span = shape.outline.max(0) - shape.outline.min(0)
    return float(max(span))
