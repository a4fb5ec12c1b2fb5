"""Where training and evaluation images come from (torch-free): a COCO DF2-294 file, or the synthetic renderer.

A source is indexable: ``len(source)`` and ``source.load(i) -> (BGR image, list[Garment], image_info)``.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import cv2
import numpy as np

from app.datasets.coco import CocoFormatError, decode_annotation
from app.datasets.coco_io import find_listed_image
from inference.annotation import Garment


class DataSourceError(ValueError):
    """A dataset file or image cannot be used; the message names it."""


class CocoSource:
    def __init__(self, json_path: str | Path, images_dir: str | Path | None = None):
        self.json_path = Path(json_path)
        try:
            doc = json.loads(self.json_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataSourceError(f"dataset file not found: {self.json_path}") from None
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataSourceError(f"{self.json_path} is not a readable COCO JSON file: {exc}") from exc
        if not isinstance(doc, dict) or "images" not in doc or "annotations" not in doc:
            raise DataSourceError(f"{self.json_path} has no 'images'/'annotations' lists: not a COCO file")
        self.images_dir = Path(images_dir) if images_dir else None  # None: where the importer looks
        self.images = list(doc["images"])
        self.garments: dict[int, list[Garment]] = {int(im["id"]): [] for im in self.images}
        self.annotation_ids: dict[int, list[int]] = {int(im["id"]): [] for im in self.images}
        for ann in doc["annotations"]:
            try:
                garment = decode_annotation(ann)
            except CocoFormatError as exc:
                raise DataSourceError(f"{self.json_path}: {exc}") from exc
            image_id = int(ann["image_id"])
            if image_id not in self.garments:
                raise DataSourceError(f"{self.json_path}: annotation {ann.get('id')} names unknown image {image_id}")
            self.garments[image_id].append(garment)
            self.annotation_ids[image_id].append(int(ann.get("id", 0)))
        self.document = doc

    def __len__(self) -> int:
        return len(self.images)

    def image_path(self, i: int) -> Path:
        name = str(self.images[i]["file_name"])
        if self.images_dir is not None:
            return self.images_dir / name
        return find_listed_image(self.json_path, name) or self.json_path.parent / name

    def load(self, i: int) -> tuple[np.ndarray, list[Garment], dict]:
        info = self.images[i]
        path = self.image_path(i)
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise DataSourceError(f"cannot read image {path} (listed in {self.json_path})")
        return image, self.garments[int(info["id"])], info


class SynthSource:
    """On-the-fly renders: item i of epoch e is ``render_scene(base_seed + e·count + i)``.

    With ``pool_dir`` the same ``count`` scenes are reused every epoch (augmentation still varies): each is
    rendered once, by whichever DataLoader worker needs it first, and cached there as JPEG + pickle, so a
    CPU-bound run renders each scene once for both the detector and the pose model.
    """

    def __init__(self, count: int, base_seed: int = 0, config=None, pool_dir: str | Path | None = None):
        from app.training.synth import SceneConfig  # the renderer is optional until it is needed

        self.count = int(count)
        self.base_seed = int(base_seed)
        self.config = config if config is not None else SceneConfig(random_aspect=True)
        self.pool_dir = Path(pool_dir) if pool_dir else None
        if self.pool_dir:
            self.pool_dir.mkdir(parents=True, exist_ok=True)
        self.epoch = 0

    def __len__(self) -> int:
        return self.count

    def load(self, i: int) -> tuple[np.ndarray, list[Garment], dict]:
        from app.training.synth import render_scene

        seed = self.base_seed + i + (0 if self.pool_dir else self.epoch * self.count)
        name = f"synth_{seed:010d}"
        if self.pool_dir and (self.pool_dir / f"{name}.pkl").is_file():
            image = cv2.imread(str(self.pool_dir / f"{name}.jpg"), cv2.IMREAD_COLOR)
            garments = pickle.loads((self.pool_dir / f"{name}.pkl").read_bytes())
        else:
            scene = render_scene(seed, self.config)
            image, garments = scene.image, list(scene.garments)
            if self.pool_dir:
                cv2.imwrite(str(self.pool_dir / f"{name}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
                tmp = self.pool_dir / f"{name}.pkl.tmp{os.getpid()}"
                tmp.write_bytes(pickle.dumps(garments))
                tmp.replace(self.pool_dir / f"{name}.pkl")  # written last: marks the pair complete
        h, w = image.shape[:2]
        info = {"id": i + 1, "file_name": f"{name}.jpg", "width": w, "height": h}
        return image, garments, info

    def prerender(self, processes: int, progress=None) -> int:
        """Render the pool's missing scenes with ``processes`` worker processes; returns how many were rendered.

        A machine with many cores fills a large pool in minutes, before the training processes (which then
        only decode JPEGs) share those cores between them.
        """
        if self.pool_dir is None:
            raise ValueError("prerender needs a pool folder")
        missing = [i for i in range(self.count)
                   if not (self.pool_dir / f"synth_{self.base_seed + i:010d}.pkl").is_file()]
        chunks = [missing[a:a + 100] for a in range(0, len(missing), 100)]
        done = 0
        if processes <= 1:
            for chunk in chunks:
                done += _render_into_pool(self, chunk)
                if progress is not None:
                    progress(done, len(missing))
            return done
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(processes) as pool:  # spawn: no torch state forked
            for n in pool.imap_unordered(_render_into_pool_job, [(self, chunk) for chunk in chunks]):
                done += n
                if progress is not None:
                    progress(done, len(missing))
        return done


def _render_into_pool(source: SynthSource, indices: list[int]) -> int:
    for i in indices:
        source.load(i)  # renders and caches the scene
    return len(indices)


def _render_into_pool_job(job: tuple[SynthSource, list[int]]) -> int:
    return _render_into_pool(*job)
