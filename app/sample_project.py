"""The bundled sample project: workstation photos with a ChArUco board, annotated by the bundled model.

Used by `garment-studio demo` (headless) and by the GUI's first run, so a new user sees keypoints and
measurements at once. Qt-free. The sample's true landmarks and camera (resources/sample/) let the demo
say how far the model's measurements are from the truth.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from app.datasets.coco import decode_annotation
from app.store import ProjectStore
from inference.annotation import Garment
from measure.calibration import Calibration
from measure.detect import calibrate_charuco
from measure.measurements import measure_garment
from resources import resource_path

SAMPLE_DIR = ("sample",)


@dataclass
class GarmentReport:
    category_id: int
    score: float | None
    measured_cm: dict[str, float | None]
    true_cm: dict[str, float | None]

    def errors_cm(self) -> dict[str, float]:
        return {
            name: abs(value - self.true_cm[name])
            for name, value in self.measured_cm.items()
            if value is not None and self.true_cm.get(name) is not None
        }


@dataclass
class ImageReport:
    name: str
    calibration: dict
    garments: list[GarmentReport] = field(default_factory=list)
    latency_ms: float = 0.0


def sample_dir() -> Path:
    return resource_path(*SAMPLE_DIR)


def sample_images() -> list[Path]:
    return sorted((sample_dir() / "images").glob("*.jpg"))


def _ground_truth() -> tuple[dict[str, list[Garment]], dict[str, dict]]:
    root = sample_dir()
    doc = json.loads((root / "annotations.json").read_text(encoding="utf-8"))
    names = {img["id"]: img["file_name"] for img in doc["images"]}
    garments: dict[str, list[Garment]] = {}
    for ann in doc["annotations"]:
        garments.setdefault(names[ann["image_id"]], []).append(decode_annotation(ann))
    cameras = json.loads((root / "ground_truth.json").read_text(encoding="utf-8"))
    return garments, cameras


def _match_truth(predicted: Garment, truths: list[Garment]) -> Garment | None:
    same = [t for t in truths if t.category_id == predicted.category_id]
    if not same:
        return None
    px = np.mean([(k.x, k.y) for k in predicted.keypoints], axis=0)
    return min(same, key=lambda t: np.linalg.norm(np.mean([(k.x, k.y) for k in t.keypoints], axis=0) - px))


def build_sample_project(
    db_path: str | Path,
    model_card: str | Path | None = None,
    provider: str = "auto",
    progress: Callable[[int, int, str], None] | None = None,
    known_category: bool = True,
    flip_test: bool = False,
    orientation_check: bool = False,
) -> list[ImageReport]:
    """Create (or refresh) a project at db_path from the bundled sample and annotate it with the model.

    Each image is calibrated from its own board (saved as a profile named after the image), its
    garments are predicted (human corrections already in the project are kept) and measured.
    With ``known_category`` (QC mode) the style of each sample photo fixes the category and the model
    supplies box and landmarks; otherwise the detector's category is used. ``flip_test`` and
    ``orientation_check`` are the pipeline's test-time options (see ``GarmentPipeline``).
    """
    from inference.pipeline import GarmentPipeline  # onnxruntime only when a model is run

    pipeline = GarmentPipeline.from_card(
        model_card, provider=provider, flip_test=flip_test, orientation_check=orientation_check
    )
    truth_garments, cameras = _ground_truth()
    reports: list[ImageReport] = []
    images = sample_images()
    with ProjectStore.open(db_path, create=True) as store:
        store.add_images(images, source="sample")
        by_path = {Path(store.resolve_path(info.path)).name: info for info in store.list_images()}
        for n, path in enumerate(images, start=1):
            if progress:
                progress(n, len(images), path.name)
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            info = by_path[path.name]
            calibration = calibrate_charuco(image, cameras[path.name]["board"])
            calibration_id = store.save_calibration(f"sample {path.stem}", calibration.method, calibration.to_dict())
            store.set_image_calibration(info.id, calibration_id)  # each photo has its own board
            truths = truth_garments.get(path.name, [])
            if known_category and truths:
                result = pipeline.predict_known_category(image, truths[0].category_id)
            else:
                result = pipeline(image)
            version = result[0].model_version if result else None
            store.store_predictions(info.id, list(result), model_version=version)
            true_calibration = Calibration(
                method="ground truth",
                homography=np.asarray(cameras[path.name]["homography_image_to_table_mm"]),
                image_size=(image.shape[1], image.shape[0]),
            )
            report = ImageReport(
                name=path.name,
                calibration={
                    "method": calibration.method,
                    "reprojection_error_px": calibration.reprojection_error_px,
                    "mm_per_px": calibration.mm_per_px,
                },
                latency_ms=result.timings.total,
            )
            for garment_id, garment in store.garments(info.id):
                measured = measure_garment(garment, calibration)
                store.replace_measurements(
                    garment_id,
                    [(m.name, m.mm, [list(p) for p in m.points_px], calibration_id) for m in measured.values() if m.measurable],
                )
                truth = _match_truth(garment, truths)
                true_cm = (
                    {k: m.cm for k, m in measure_garment(truth, true_calibration).items()} if truth else {}
                )
                report.garments.append(
                    GarmentReport(
                        category_id=garment.category_id,
                        score=garment.score,
                        measured_cm={k: m.cm for k, m in measured.items()},
                        true_cm=true_cm,
                    )
                )
            reports.append(report)
    return reports
