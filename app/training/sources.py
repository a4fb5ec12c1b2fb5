"""Where training and evaluation images come from (torch-free): a COCO DF2-294 file, a DeepFashion2 folder
(``annos/*.json`` + ``image/``), or the synthetic renderer.

A source is indexable: ``len(source)`` and ``source.load(i) -> (BGR image, list[Garment], image_info)``.

A garment's ``status`` is read as the importer reads it (``app.datasets.common.recorded_status``): the app's
COCO and DeepFashion2 exports write it, and a model's ``score`` without one marks a prediction. An image
holding a *predicted* garment is a model's output, not a label: the COCO and DeepFashion2 sources leave such
images out unless ``include_predicted`` (``left_out`` counts them). Data without a status (an outside
dataset's labels) is read as verified and is unaffected.
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from app.datasets.coco import CocoFormatError, decode_annotation
from app.datasets.coco_io import _check_categories, find_listed_image
from app.datasets.common import DatasetError, recorded_status
from inference.annotation import Garment, GarmentStatus


class DataSourceError(ValueError):
    """A dataset file or image cannot be used; the message names it."""


PREDICTED_WHY = 'they hold garments with status "predicted" (a model\'s output, not labels)'


def open_dataset(path: str | Path, images_dir: str | Path | None = None, include_predicted: bool = False):
    """A COCO file, or a DeepFashion2 folder read directly."""
    path = Path(path)
    if path.is_dir():
        return DeepFashion2Source(path, images_dir, include_predicted)
    return CocoSource(path, images_dir, include_predicted)


def open_labelled_dataset(path: str | Path, images_dir: str | Path | None, *, include_predicted: bool = False,
                          purpose: str = "train on", images_flag: str = "--images", limit: int | None = None,
                          log=print):
    """``open_dataset`` for a command: says in one line how many images with predicted garments were left out
    (or kept), refuses data with no garments to ``purpose`` (among the first ``limit`` images), and checks
    that the kept images' files are there before anything runs. Raises DataSourceError."""
    source = open_dataset(path, images_dir, include_predicted)
    total = len(source) + source.left_out
    if source.left_out:
        log(f"{path}: left out {source.left_out} of {total} images: {PREDICTED_WHY}; --include-predicted "
            "keeps them")
    elif include_predicted and source.predicted_images:
        log(f"{path}: kept {source.predicted_images} of {total} images whose garments include predicted ones "
            "(--include-predicted)")
    if not source.garment_count(limit):
        if not len(source) and source.left_out:
            why = (f"all {source.left_out} of its images were left out ({PREDICTED_WHY}; --include-predicted "
                   "keeps them)")
        elif not len(source):  # all-zero metrics would read like a model that found nothing
            raise DataSourceError(f"{path} lists no images to {purpose.removesuffix(' against')}")
        else:
            limited = limit is not None and limit < len(source)
            why = f"the first {limit} of its images" if limited else f"its {len(source)} images"
            why += " have no annotations"
            if source.left_out:
                why += f" ({source.left_out} more were left out: {PREDICTED_WHY})"
        raise DataSourceError(f"{path} has no garments to {purpose}: {why}")
    source.check_images(images_flag)
    return source


def _missing_images(paths, where: str, images_flag: str) -> None:
    """Refuse in one line when image files a dataset lists are not there (before a run, not in its middle)."""
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise DataSourceError(f"{len(missing)} of {len(paths)} images of {where} not found (first: {missing[0]}); "
                              f"give their folder with {images_flag}")


def _check_folder(images_dir: Path | None, images_flag: str) -> None:
    if images_dir is not None and not images_dir.is_dir():
        raise DataSourceError(f"images folder not found: {images_dir} ({images_flag})")


def _folder_hint(path: Path) -> str:
    """Why a folder is not a COCO file, and what to do with a DeepFashion2 one."""
    if not any(path.glob("*.json")) and not (path / "annos").is_dir():
        return f"{path} is a folder, not a COCO JSON file"
    return (f"{path} is a folder (a DeepFashion2 annos/*.json + image/ layout?), not a COCO JSON file: "
            f"`garment-studio import P.db {path}` then `garment-studio export P.db OUT --format coco` "
            "writes one (train --data reads DeepFashion2 folders directly)")


class CocoSource:
    def __init__(self, json_path: str | Path, images_dir: str | Path | None = None, include_predicted: bool = False):
        self.json_path = Path(json_path)
        if self.json_path.is_dir():
            raise DataSourceError(_folder_hint(self.json_path))
        try:
            doc = json.loads(self.json_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataSourceError(f"dataset file not found: {self.json_path}") from None
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataSourceError(f"{self.json_path} is not a readable COCO JSON file: {exc}") from exc
        if not isinstance(doc, dict) or "images" not in doc or "annotations" not in doc:
            raise DataSourceError(f"{self.json_path} has no 'images'/'annotations' lists: not a COCO file")
        try:  # the importer's check: categories named or laid out unlike DeepFashion2's are another dataset
            _check_categories(self.json_path, doc.get("categories") or [])
        except DatasetError as exc:
            raise DataSourceError(str(exc)) from None
        self.images_dir = Path(images_dir) if images_dir else None  # None: where the importer looks
        images = list(doc["images"])
        self.garments: dict[int, list[Garment]] = {int(im["id"]): [] for im in images}
        self.annotation_ids: dict[int, list[int]] = {int(im["id"]): [] for im in images}
        predicted: set[int] = set()
        for ann in doc["annotations"]:
            try:
                status = recorded_status(ann, GarmentStatus.VERIFIED)
                garment = decode_annotation(ann)
            except (CocoFormatError, DatasetError) as exc:
                raise DataSourceError(f"{self.json_path}: annotation {ann.get('id')!r}: {exc}") from exc
            image_id = int(ann["image_id"])
            if image_id not in self.garments:
                raise DataSourceError(f"{self.json_path}: annotation {ann.get('id')} names unknown image {image_id}")
            if status == GarmentStatus.PREDICTED:
                predicted.add(image_id)
            self.garments[image_id].append(replace(garment, status=status))
            self.annotation_ids[image_id].append(int(ann.get("id", 0)))
        self.predicted_images = len(predicted)
        self.images = images if include_predicted else [im for im in images if int(im["id"]) not in predicted]
        self.left_out = len(images) - len(self.images)
        self.document = doc

    def __len__(self) -> int:
        return len(self.images)

    def image_path(self, i: int) -> Path:
        name = str(self.images[i]["file_name"])
        if self.images_dir is not None:
            return self.images_dir / name
        return find_listed_image(self.json_path, name) or self.json_path.parent / name

    def garment_count(self, limit: int | None = None) -> int:
        return sum(len(self.garments[int(im["id"])]) for im in self.images[:limit])

    def check_images(self, images_flag: str = "--images") -> None:
        """Every listed image file is there (one stat or a few each), else DataSourceError in one line."""
        _check_folder(self.images_dir, images_flag)
        _missing_images([self.image_path(i) for i in range(len(self))], str(self.json_path), images_flag)

    def load(self, i: int) -> tuple[np.ndarray, list[Garment], dict]:
        info = self.images[i]
        path = self.image_path(i)
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise DataSourceError(f"cannot read image {path} (listed in {self.json_path})")
        return image, self.garments[int(info["id"])], info


class DeepFashion2Source:
    """A DeepFashion2 split folder (``annos/000001.json`` with item1..itemN, images in ``image/``) or a folder
    of those JSON files, read with the importer's own reader (``app.datasets.deepfashion2``)."""

    def __init__(self, folder: str | Path, images_dir: str | Path | None = None, include_predicted: bool = False):
        from app.datasets.common import find_image
        from app.datasets.deepfashion2 import annotation_files, decode_file, image_for

        self.folder = Path(folder)
        self.images_dir = Path(images_dir) if images_dir else None
        files = annotation_files(self.folder)
        if not files:
            raise DataSourceError(f"{self.folder}: no DeepFashion2 annotation files (annos/*.json or *.json)")
        self.items: list[tuple[Path, list[Garment]]] = []
        errors: list[str] = []
        for path in files:
            try:
                garments, _ = decode_file(path, errors)
            except DatasetError as exc:
                raise DataSourceError(str(exc)) from exc
            image = (find_image(path.stem, [Path(images_dir)]) if images_dir else None) or image_for(path)
            if image is None:
                raise DataSourceError(f"{path}: no image named {path.stem}.* beside it, in ../image/"
                                      + (f" or in {images_dir}" if images_dir else ""))
            self.items.append((image, garments))
        if errors:  # a label dropped in silence would teach the detector that its garment is background
            raise DataSourceError(f"{errors[0]}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))
        kept = [item for item in self.items if not any(g.status == GarmentStatus.PREDICTED for g in item[1])]
        self.predicted_images = len(self.items) - len(kept)
        if not include_predicted:
            self.items = kept
        self.left_out = 0 if include_predicted else self.predicted_images

    def __len__(self) -> int:
        return len(self.items)

    def garment_count(self, limit: int | None = None) -> int:
        return sum(len(garments) for _, garments in self.items[:limit])

    def check_images(self, images_flag: str = "--images") -> None:
        """A given image folder exists (the images themselves were found when the folder was read)."""
        _check_folder(self.images_dir, images_flag)
        _missing_images([path for path, _ in self.items], str(self.folder), images_flag)

    def load(self, i: int) -> tuple[np.ndarray, list[Garment], dict]:
        path, garments = self.items[i]
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise DataSourceError(f"cannot read image {path} (of {self.folder})")
        info = {"id": i + 1, "file_name": path.name, "width": image.shape[1], "height": image.shape[0]}
        return image, list(garments), info


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
