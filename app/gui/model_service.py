"""The active model and the background work that uses it (auto-annotation, image import).

The job functions run on worker threads: each opens its own connection to the project file
(SQLite connections must stay in their thread) and writes one image per transaction, so a
cancelled or crashed job leaves every finished image saved.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from app.gui.jobs import JobContext
from app.store.images import image_files_under
from app.store.repository import ImageStatus, ProjectStore

ANNOTATE_CHUNK = 4  # images per predict_many call: batches the pose crops of a few images


def read_bgr(path: str | Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot read image {path}")
    return image


class _LoadSignals(QObject):
    done = Signal(object, str)  # pipeline or None, error message


class _Loader(QRunnable):
    def __init__(self, card: str | None, provider: str, signals: _LoadSignals):
        super().__init__()
        self.card, self.provider, self.signals = card, provider, signals

    def run(self) -> None:
        try:
            from inference.pipeline import GarmentPipeline

            pipeline = GarmentPipeline.from_card(self.card, provider=self.provider)
        except Exception as exc:  # shown in the status bar; the app stays usable for manual work
            self.signals.done.emit(None, f"{type(exc).__name__}: {exc}")
            return
        self.signals.done.emit(pipeline, "")


class ModelService(QObject):
    """Loads the pipeline off the GUI thread and keeps what the status bar shows about it."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.pipeline = None
        self.card: str | None = None  # what was asked for; None = the bundled model
        self.error = ""
        self.loading = False
        self.last_latency_ms: float | None = None
        self.flip_test = True  # photos are annotated once and corrected by hand: accuracy beats the extra ms
        self.orientation_check = True  # garments are laid on the table either way round (ADR 0006)
        self._signals = _LoadSignals()
        self._signals.done.connect(self._on_loaded)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)

    def load(self, card: str | None = None, provider: str = "auto") -> None:
        self.loading, self.error = True, ""
        self.card = card
        self.changed.emit()
        self._pool.start(_Loader(card, provider, self._signals))

    def load_for_project(self, store, default: str | None = None, provider: str = "auto") -> None:
        """The project's active model version; without one the app's default (a chosen card or the bundled)."""
        active = store.active_card_path()
        card = str(active) if active is not None else default
        if card != getattr(self, "card", None) or self.pipeline is None:
            self.load(card, provider)

    def set_flip_test(self, on: bool) -> None:
        """Applies to the loaded pipeline and to every later one (jobs already running keep their setting)."""
        self.flip_test = bool(on)
        self._apply_options(self.pipeline)
        self.changed.emit()

    def set_orientation_check(self, on: bool) -> None:
        """Like set_flip_test, for the 180° orientation check."""
        self.orientation_check = bool(on)
        self._apply_options(self.pipeline)
        self.changed.emit()

    def _apply_options(self, pipeline) -> None:
        if pipeline is not None:
            pipeline.flip_test = self.flip_test
            pipeline.orientation_check = self.orientation_check

    def wait(self, msecs: int = -1) -> bool:
        return self._pool.waitForDone(msecs)

    def _on_loaded(self, pipeline, error: str) -> None:
        self._apply_options(pipeline)
        self.pipeline, self.error, self.loading = pipeline, error, False
        self.changed.emit()

    def record_latency(self, seconds: float) -> None:
        self.last_latency_ms = seconds * 1000.0
        self.changed.emit()

    def describe(self) -> str:
        if self.loading:
            return "Model: loading…"
        if self.pipeline is None:
            return f"Model: none ({self.error})" if self.error else "Model: none"
        latency = "" if self.last_latency_ms is None else f" · {self.last_latency_ms:.0f} ms/image"
        options = "".join(
            f" · {name}" for name, on in (("precise", self.flip_test), ("upside-down check", self.orientation_check)) if on
        )
        return f"Model: {self.pipeline.model_version} · {self.pipeline.provider}{options}{latency}"


def annotate_job(ctx: JobContext, project_path: str, pipeline, image_ids: list[int]) -> dict:
    """Predict every listed image; predictions never replace corrected or verified garments (store rule)."""
    store = ProjectStore.open(project_path)
    done, garments, errors, started = 0, 0, [], time.perf_counter()
    try:
        for start in range(0, len(image_ids), ANNOTATE_CHUNK):
            if ctx.cancelled:
                break
            readable, images = [], []
            for image_id in image_ids[start : start + ANNOTATE_CHUNK]:
                try:  # a photo moved or damaged since it was added is reported; the others still run
                    images.append(read_bgr(store.resolve_path(store.image(image_id).path)))
                    readable.append(image_id)
                except ValueError as exc:
                    errors.append(str(exc))
            results = pipeline.predict_many(images, at_least_one=True) if images else []  # a photo shows a garment
            for image_id, result in zip(readable, results, strict=True):
                store.store_predictions(image_id, list(result), pipeline.model_version)
                garments += len(result)
                done += 1
                ctx.item_done(image_id)
            ctx.progress(min(start + ANNOTATE_CHUNK, len(image_ids)), len(image_ids), f"{garments} garments")
    finally:
        store.close()
    elapsed = time.perf_counter() - started
    return {"images": done, "garments": garments, "seconds": elapsed, "cancelled": ctx.cancelled, "errors": errors}


def images_to_annotate(store, only_new: bool) -> list[int]:
    infos = store.list_images(status=ImageStatus.NEW) if only_new else store.list_images()
    return [i.id for i in infos if only_new or i.status != ImageStatus.VERIFIED]


def expand_paths(paths: list[str]) -> tuple[list[Path], list[str]]:
    """Files as given, folders by their image files (recursively, sorted); and notes on photos skipped
    because their format cannot be read."""
    out: list[Path] = []
    notes: list[str] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            images, skipped = image_files_under(p)
            out.extend(images)
            notes.extend(skipped)
        else:
            out.append(p)
    return out, notes


def import_job(ctx: JobContext, project_path: str, paths: list[str]) -> dict:
    files, notes = expand_paths(paths)
    store = ProjectStore.open(project_path)
    added, errors = 0, list(notes)
    try:
        for n, path in enumerate(files, 1):
            if ctx.cancelled:
                break
            try:
                result = store.add_image(path.absolute())  # the store makes it relative to the project folder
                added += int(result.added)
                ctx.item_done(result.image_id)
            except ValueError as exc:  # ImageReadError names the file
                errors.append(str(exc))
            ctx.progress(n, len(files), f"{added} added")
    finally:
        store.close()
    return {"added": added, "errors": errors, "files": len(files)}


def predict_box_job(ctx: JobContext, pipeline, image_path: str, box: tuple, category_id: int | None,
                    score: float = 1.0):
    """One box (drawn by the user, or a garment read again): landmarks inside it, no detector; a category of
    None is the model's to decide. ``score`` stands for the detector's confidence in the box (1 for a box a
    person drew)."""
    image = read_bgr(image_path)
    started = time.perf_counter()
    result = pipeline.predict_boxes(image, [(box, category_id)], score=score)
    return {"garments": list(result), "seconds": time.perf_counter() - started}
