"""Training data from a project database (torch-free): the garments people corrected or verified.

- An image takes part when it has at least one corrected/verified garment; only those garments are used.
  The detector trains only on images with no unreviewed (predicted) garment left, since a garment missing
  from the labels would teach it that the garment is background; the pose model uses every reviewed garment.
- The held-out split is by image content (sha256), so it is deterministic, survives renames and re-imports,
  and an image never moves between train and held-out as the project grows. Held-out images are fully
  reviewed ones only (an unlabelled garment would count as a false positive).
- The data snapshot hash is the sha256 of the training annotations (image hashes + COCO-encoded garments).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from app.datasets.coco import encode_garment
from app.training.sources import DataSourceError
from inference.annotation import Garment, GarmentStatus

REVIEWED = (GarmentStatus.CORRECTED, GarmentStatus.VERIFIED)


@dataclass(frozen=True)
class ProjectImage:
    image_id: int
    path: Path
    sha256: str
    width: int
    height: int
    garments: tuple[Garment, ...]  # reviewed garments only
    fully_reviewed: bool  # no predicted garment left on the image


def is_held_out(sha256: str, fraction: float) -> bool:
    """Deterministic split: the image's content hash, read as a number in [0, 1), below ``fraction``."""
    return int(sha256[:8], 16) / 0x1_0000_0000 < fraction


def reviewed_images(store) -> list[ProjectImage]:
    """Every image of the project with at least one corrected or verified garment, in id order."""
    out = []
    for info in store.list_images():
        pairs = store.garments(info.id)
        reviewed = tuple(g for _, g in pairs if g.status in REVIEWED and g.category_id >= 1)
        if not reviewed:
            continue
        out.append(ProjectImage(
            info.id, store.resolve_path(info.path), info.sha256, info.width, info.height, reviewed,
            fully_reviewed=all(g.status in REVIEWED for _, g in pairs),
        ))
    return out


def split_images(images: list[ProjectImage], holdout: float) -> tuple[list[ProjectImage], list[ProjectImage]]:
    """(train, held-out) by content hash; with at least two images each side gets one.

    Only fully reviewed images are held out: a garment still unreviewed on a held-out image has no label, so
    the model's correct detection of it would count as a false positive. A partly reviewed image whose hash
    says held-out is used for neither until it is fully reviewed: it never trains a model that is later
    measured on it.
    """
    by_hash = {im.image_id for im in images if is_held_out(im.sha256, holdout)}
    held_ids = {im.image_id for im in images if im.image_id in by_hash and im.fully_reviewed}
    waiting = by_hash - held_ids
    if holdout > 0 and len(images) >= 2:
        # Too few images for the hash split to land on both sides: the extreme hash crosses over.
        candidates = sorted((im for im in images if im.image_id not in waiting), key=lambda im: im.sha256)
        reviewed = [im for im in candidates if im.fully_reviewed]
        if not held_ids and reviewed and len(candidates) >= 2:
            held_ids = {reviewed[0].image_id}
        elif held_ids and len(held_ids) == len(candidates):
            held_ids.discard(candidates[-1].image_id)
    train = [im for im in images if im.image_id not in held_ids and im.image_id not in waiting]
    held = [im for im in images if im.image_id in held_ids]
    return train, held


def snapshot_hash(images: list[ProjectImage]) -> str:
    """sha256 over the training annotations, independent of image ids and row order."""
    records = []
    for im in sorted(images, key=lambda im: im.sha256):
        anns = []
        for g in im.garments:
            ann = encode_garment(g, 0, 0)
            anns.append({k: ann[k] for k in ("category_id", "bbox", "keypoints")})
        records.append({"image": im.sha256, "garments": sorted(anns, key=lambda a: json.dumps(a, sort_keys=True))})
    return hashlib.sha256(json.dumps(records, sort_keys=True).encode("utf-8")).hexdigest()


class ProjectSource:
    """Indexable source (``len``, ``load(i)``) over project images, like the COCO and synthetic sources."""

    def __init__(self, images: list[ProjectImage]):
        self.images = list(images)

    def __len__(self) -> int:
        return len(self.images)

    def load(self, i: int) -> tuple[np.ndarray, list[Garment], dict]:
        im = self.images[i]
        image = cv2.imread(str(im.path), cv2.IMREAD_COLOR)
        if image is None:
            raise DataSourceError(f"cannot read project image {im.path} (image id {im.image_id})")
        info = {"id": im.image_id, "file_name": im.path.name, "width": image.shape[1], "height": image.shape[0]}
        return image, list(im.garments), info


class MixedSource:
    """A primary source followed by replay items (e.g. synthetic renders) against forgetting."""

    def __init__(self, primary, replay=None):
        self.primary = primary
        self.replay = replay
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.primary) + (len(self.replay) if self.replay is not None else 0)

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name == "epoch" and getattr(self, "replay", None) is not None and hasattr(self.replay, "epoch"):
            self.replay.epoch = value

    def load(self, i: int):
        n = len(self.primary)
        return self.primary.load(i) if i < n else self.replay.load(i - n)


def replay_count(train_images: int, share: float) -> int:
    """Replay scenes so that they make up ``share`` of the mixed training set."""
    if not 0.0 <= share < 1.0:
        raise ValueError(f"--replay must be in [0, 1), got {share}")
    return int(round(train_images * share / (1.0 - share)))
