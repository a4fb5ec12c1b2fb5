"""Typed access to the DeepFashion2 and FLD landmark schemas kept in ``resources/schema``.

Indices in this API are 0-based. The JSON keeps the 1-based numbering of the official
DeepFashion2 figure for skeleton edges and flip pairs, so it can be checked against it by eye.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from resources import resource_path

NUM_DF2_KEYPOINTS = 294
NUM_AGG_KEYPOINTS = 81


class SchemaError(ValueError):
    """The schema file is inconsistent, or a lookup names something that does not exist."""


@dataclass(frozen=True)
class Category:
    id: int
    name: str  # raw DeepFashion2 name, e.g. "short sleeve top"
    coco_name: str  # COCO conversion name, e.g. "short_sleeved_shirt"
    start: int  # first slot in the 294-long vector
    landmarks: tuple[str, ...]
    sigmas: tuple[float, ...]
    agg81: tuple[int, ...]  # aggregated index of each local landmark
    skeleton: tuple[tuple[int, int], ...]  # 0-based local index pairs
    flip_pairs: tuple[tuple[int, int], ...]  # 0-based local index pairs

    @property
    def num_keypoints(self) -> int:
        return len(self.landmarks)

    @property
    def slice294(self) -> slice:
        return slice(self.start, self.start + self.num_keypoints)

    @property
    def flip_index(self) -> tuple[int, ...]:
        """Permutation that maps each landmark to its mirror partner (itself on the centre line)."""
        perm = list(range(self.num_keypoints))
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return tuple(perm)

    def landmark_index(self, name: str) -> int:
        try:
            return self.landmarks.index(name)
        except ValueError:
            raise SchemaError(f"{self.name!r} has no landmark named {name!r}") from None


@dataclass(frozen=True)
class DeepFashion2Schema:
    categories: tuple[Category, ...]
    agg81_flip_pairs: tuple[tuple[int, int], ...]
    known_sigma_asymmetries: tuple[tuple[int, int, int], ...] = ()  # (category id, kp a, kp b), 1-based

    def category(self, key: int | str) -> Category:
        """Look a category up by id (1-13), raw name or COCO name."""
        for cat in self.categories:
            if key == cat.id or key == cat.name or key == cat.coco_name:
                return cat
        if isinstance(key, str):
            norm = key.strip().lower().replace("-", " ").replace("_", " ")
            for cat in self.categories:
                if norm in (cat.name, cat.coco_name.replace("_", " ")):
                    return cat
        raise SchemaError(f"unknown DeepFashion2 category {key!r} (ids 1-13 or names like 'short sleeve top')")

    @property
    def category_ids(self) -> tuple[int, ...]:
        return tuple(c.id for c in self.categories)

    @property
    def sigmas294(self) -> np.ndarray:
        return np.concatenate([np.asarray(c.sigmas, dtype=np.float64) for c in self.categories])

    @property
    def agg81_map(self) -> np.ndarray:
        """For each of the 294 slots, its aggregated (0..80) index."""
        return np.concatenate([np.asarray(c.agg81, dtype=np.int64) for c in self.categories])

    @property
    def agg81_flip_index(self) -> np.ndarray:
        perm = np.arange(NUM_AGG_KEYPOINTS)
        for a, b in self.agg81_flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    def to294(self, category_id: int, local: np.ndarray) -> np.ndarray:
        """Place a category's (n, k) local landmark array into a zero-filled (294, k) array."""
        cat = self.category(category_id)
        local = np.asarray(local, dtype=np.float64)
        if local.shape[0] != cat.num_keypoints:
            raise SchemaError(
                f"{cat.name!r} has {cat.num_keypoints} landmarks, got {local.shape[0]}"
            )
        full = np.zeros((NUM_DF2_KEYPOINTS,) + local.shape[1:], dtype=np.float64)
        full[cat.slice294] = local
        return full

    def from294(self, category_id: int, full: np.ndarray) -> np.ndarray:
        full = np.asarray(full, dtype=np.float64)
        if full.shape[0] != NUM_DF2_KEYPOINTS:
            raise SchemaError(f"expected 294 slots, got {full.shape[0]}")
        return full[self.category(category_id).slice294].copy()

    def agg81_to_local(self, category_id: int, agg: np.ndarray) -> np.ndarray:
        """Pick a category's landmarks out of an (81, k) aggregated prediction."""
        agg = np.asarray(agg)
        if agg.shape[0] != NUM_AGG_KEYPOINTS:
            raise SchemaError(f"expected 81 aggregated landmarks, got {agg.shape[0]}")
        return agg[np.asarray(self.category(category_id).agg81)]

    def local_to_agg81(self, category_id: int, local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scatter local landmarks into the 81-slot layout; returns (values, mask of filled slots)."""
        cat = self.category(category_id)
        local = np.asarray(local, dtype=np.float64)
        if local.shape[0] != cat.num_keypoints:
            raise SchemaError(f"{cat.name!r} has {cat.num_keypoints} landmarks, got {local.shape[0]}")
        out = np.zeros((NUM_AGG_KEYPOINTS,) + local.shape[1:], dtype=np.float64)
        mask = np.zeros(NUM_AGG_KEYPOINTS, dtype=bool)
        idx = np.asarray(cat.agg81)
        out[idx] = local
        mask[idx] = True
        return out, mask


@dataclass(frozen=True)
class FldClothesType:
    id: int
    name: str
    landmarks: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]  # 0-based
    slots8: tuple[int, ...]  # position of each landmark in the unified 8-slot vector


@dataclass(frozen=True)
class FldSchema:
    clothes_types: tuple[FldClothesType, ...]

    def clothes_type(self, key: int | str) -> FldClothesType:
        for ct in self.clothes_types:
            if key in (ct.id, ct.name):
                return ct
        raise SchemaError(f"unknown FLD clothes type {key!r} (1 upper, 2 lower, 3 full)")


def _pairs(raw: list[list[int]]) -> tuple[tuple[int, int], ...]:
    return tuple((int(a) - 1, int(b) - 1) for a, b in raw)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SchemaError(f"cannot read schema file {path}: {exc}") from exc


@cache
def deepfashion2() -> DeepFashion2Schema:
    doc = _read_json(resource_path("schema", "deepfashion2.json"))
    cats = tuple(
        Category(
            id=int(c["id"]),
            name=c["name"],
            coco_name=c["coco_name"],
            start=int(c["start"]),
            landmarks=tuple(c["landmarks"]),
            sigmas=tuple(float(s) for s in c["sigmas"]),
            agg81=tuple(int(i) for i in c["agg81"]),
            skeleton=_pairs(c["skeleton"]),
            flip_pairs=_pairs(c["flip_pairs"]),
        )
        for c in doc["categories"]
    )
    agg_pairs = tuple((int(a), int(b)) for a, b in doc["agg81_flip_pairs"])
    quirks = tuple(tuple(int(v) for v in q) for q in doc.get("known_sigma_asymmetries", []))
    return DeepFashion2Schema(categories=cats, agg81_flip_pairs=agg_pairs, known_sigma_asymmetries=quirks)


@cache
def fld() -> FldSchema:
    doc = _read_json(resource_path("schema", "fld.json"))
    return FldSchema(
        clothes_types=tuple(
            FldClothesType(
                id=int(t["id"]),
                name=t["name"],
                landmarks=tuple(t["landmarks"]),
                flip_pairs=_pairs(t["flip_pairs"]),
                slots8=tuple(int(s) for s in t["slots8"]),
            )
            for t in doc["clothes_types"]
        )
    )
