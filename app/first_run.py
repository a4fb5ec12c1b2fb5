"""What the desktop app opens when started without a project (Qt-free, so it is testable headless).

A project named on the command line wins; then the project opened last time, if its file still exists;
otherwise the bundled sample project, built once into the user's data folder so a new user sees
keypoints and measurements at once. Without a usable model the sample still opens (images and board
calibrations, no predictions) and the outcome says why.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SAMPLE_DB = ("sample", "sample.db")
DATA_DIR_ENV = "GARMENT_STUDIO_DATA_DIR"  # overrides the platform's per-user data folder (tests, portable use)


@dataclass(frozen=True)
class SampleOutcome:
    path: Path
    predicted: bool  # False: the images are there but the model could not run on them
    message: str  # one line for the status bar


def data_dir(platform_default: str | Path) -> Path:
    """The per-user data folder: GARMENT_STUDIO_DATA_DIR if set, else the platform's (Qt supplies it)."""
    override = os.environ.get(DATA_DIR_ENV)
    return Path(override) if override else Path(platform_default)


def sample_project_path(folder: str | Path) -> Path:
    return Path(folder).joinpath(*SAMPLE_DB)


def remembered_project(last: object) -> Path | None:
    """The last opened project from the settings, if it is a path to a file that still exists."""
    if not isinstance(last, str) or not last:
        return None
    path = Path(last)
    return path if path.is_file() else None


def _existing_sample(db_path: Path) -> tuple[int, bool]:
    """(image count, whether any image has garments) of a sample project built on an earlier run."""
    from app.store import ProjectStore

    with ProjectStore.open(db_path) as store:
        images = store.list_images()
        return len(images), any(str(info.status) != "new" for info in images)


def _images_without_model(db_path: Path, progress: Callable[[int, int, str], None] | None) -> int:
    """Add the sample images and calibrate each from its board, so manual work and measuring still work."""
    import cv2

    from app.sample_project import sample_dir, sample_images
    from app.store import ProjectStore
    from measure.detect import calibrate_charuco

    cameras = json.loads((sample_dir() / "ground_truth.json").read_text(encoding="utf-8"))
    images = sample_images()
    with ProjectStore.open(db_path, create=True) as store:
        store.add_images(images, source="sample")
        for n, path in enumerate(images, start=1):
            if progress:
                progress(n, len(images), path.name)
            board = cameras.get(path.name, {}).get("board")
            if board is None:
                continue
            try:
                calibration = calibrate_charuco(cv2.imread(str(path), cv2.IMREAD_COLOR), board)
            except ValueError:  # CalibrationError / BoardSpecError
                continue  # an image whose board is not found still opens; it just has no profile
            store.save_calibration(f"sample {path.stem}", calibration.method, calibration.to_dict())
    return len(images)


def prepare_sample_project(
    db_path: str | Path,
    model_card: str | Path | None = None,
    provider: str = "auto",
    progress: Callable[[int, int, str], None] | None = None,
    flip_test: bool = True,
    orientation_check: bool = True,
) -> SampleOutcome:
    """Build the sample project at db_path unless it already holds images; never fails for want of a model."""
    from app.sample_project import build_sample_project
    from inference.model_card import ModelCardError
    from inference.runtime import ProviderError

    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    if db_path.is_file():
        count, predicted = _existing_sample(db_path)
        if count:
            return SampleOutcome(db_path, predicted, f"Sample project {db_path} ({count} images)")
    try:
        # read as the app reads photos (both on by default there): the first thing a new user sees is the
        # model at its best, and the same numbers `garment-studio demo` prints
        reports = build_sample_project(db_path, model_card=model_card, provider=provider, progress=progress,
                                       flip_test=flip_test, orientation_check=orientation_check)
    except (ModelCardError, ProviderError) as exc:
        count = _images_without_model(db_path, progress)
        return SampleOutcome(
            db_path, False, f"Sample project: {count} images without predictions, the model cannot run: {exc}"
        )
    garments = sum(len(r.garments) for r in reports)
    return SampleOutcome(
        db_path, True, f"Sample project: {len(reports)} images, {garments} garments predicted and measured"
    )
