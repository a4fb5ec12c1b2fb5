"""torch Datasets over a source (COCO file or renderer): detector images and pose crops."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from app.training.detector import DetectorConfig, detection_targets
from app.training.rtfpose import PoseConfig
from app.training.samples import PoseAugment, detection_sample, pose_sample, usable_for_pose


class _EpochSeeded(Dataset):
    def __init__(self, source, augment: bool, seed: int):
        self.source = source
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """New augmentation draws (and new renders for a synthetic source) every epoch."""
        self.epoch = epoch
        if hasattr(self.source, "epoch"):
            self.source.epoch = epoch

    def __len__(self) -> int:
        return len(self.source)

    def rng(self, index: int) -> np.random.Generator | None:
        return np.random.default_rng([self.seed, self.epoch, index]) if self.augment else None


class DetectionDataset(_EpochSeeded):
    def __init__(self, source, cfg: DetectorConfig, augment: bool = True, seed: int = 0):
        super().__init__(source, augment, seed)
        self.cfg = cfg

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        image, garments, _ = self.source.load(index)
        tensor, boxes, classes = detection_sample(image, garments, self.cfg.input_size, self.rng(index))
        targets = detection_targets(boxes, classes, self.cfg)
        return {"image": torch.from_numpy(tensor), **{k: torch.from_numpy(v) for k, v in targets.items()}}


class PoseDataset(_EpochSeeded):
    """Item = every usable garment of one image (variable count); ``collate_pose`` concatenates them."""

    def __init__(
        self,
        source,
        cfg: PoseConfig,
        padding: float = 1.25,
        sigma: float = 3.5,
        augment: bool = True,
        seed: int = 0,
        category_id: int | None = None,
        aug: PoseAugment | None = None,
    ):
        super().__init__(source, augment, seed)
        self.cfg = cfg
        self.padding = padding
        self.sigma = sigma
        self.category_id = category_id  # fine-tuning a per-category variant keeps only that category
        self.aug = aug or PoseAugment()

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        image, garments, _ = self.source.load(index)
        rng = self.rng(index)
        samples = [
            pose_sample(
                image, g, self.cfg.input_size, self.padding, self.cfg.simcc_split_ratio, self.sigma, rng, self.aug
            )
            for g in garments
            if usable_for_pose(g) and (self.category_id is None or g.category_id == self.category_id)
        ]
        keys = ("crops", "target_x", "target_y", "weight", "category")
        if not samples:
            w, h = self.cfg.input_size
            r = self.cfg.simcc_split_ratio
            k = self.cfg.num_keypoints
            shapes = {"crops": (0, 3, h, w), "target_x": (0, k, int(w * r)), "target_y": (0, k, int(h * r)),
                      "weight": (0, k)}
            empty = {key: torch.zeros(shapes[key]) for key in shapes}
            return {**empty, "category": torch.zeros(0, dtype=torch.int64)}
        return {key: torch.from_numpy(np.stack([s[key] for s in samples])) for key in keys}


def collate_pose(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {key: torch.cat([it[key] for it in items]) for key in items[0]}
