"""Render the bundled sample: workstation photos with a ChArUco board and exact ground truth.

    python -m app.training.synth.sample_set --out resources/sample

Writes `images/*.jpg`, `annotations.json` (COCO, DF2-294 layout: the true landmarks) and
`ground_truth.json` (per image: the true image->table homography, so true measurements in mm can be
computed). Seeds are searched in a fixed order, keeping scenes whose board is detectable and whose
garment lies wholly in frame, so the output is the same on every machine.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from app.datasets.coco import build_document, encode_garment
from app.training.synth.scene import SceneConfig, render_scene
from inference.annotation import Visibility
from inference.schema import deepfashion2

SAMPLE_CATEGORIES = (1, 2, 8, 7, 9)  # the categories whose POMs are fixed by the spec
SAMPLE_SIZE = (1600, 1200)
BOARD_SPEC = "7x5:40:30:DICT_5X5_100"


MAX_BOARD_ERROR = 0.01  # relative; a technician re-places a board that measures worse than this


def _usable(scene) -> bool:
    """One garment wholly in frame, and a board placed well enough to measure it within 1 %."""
    from measure.calibration import Calibration  # only needed when making the sample
    from measure.detect import calibrate_charuco
    from measure.measurements import measure_garment

    if len(scene.garments) != 1:
        return False
    garment = scene.garments[0]
    if any(kp.visibility != Visibility.VISIBLE for kp in garment.keypoints):
        return False
    try:
        board = calibrate_charuco(scene.image, BOARD_SPEC)
    except ValueError:
        return False
    truth = Calibration(method="truth", homography=scene.homography)
    from_board, from_truth = measure_garment(garment, board), measure_garment(garment, truth)
    return all(
        abs(from_board[name].mm - m.mm) <= MAX_BOARD_ERROR * m.mm for name, m in from_truth.items() if m.measurable
    )


def render_sample(out: Path, first_seed: int = 20261121, tries_per_category: int = 40) -> list[Path]:
    images_dir = out / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    images, annotations, truth = [], [], {}
    for n, category in enumerate(SAMPLE_CATEGORIES, start=1):
        config = SceneConfig(
            categories=(category,),
            image_size=SAMPLE_SIZE,
            mode="workstation",
            max_garments=1,
            board=True,
            occluders=False,
        )
        for attempt in range(tries_per_category):
            seed = first_seed + 1000 * category + attempt
            scene = render_scene(seed, config)
            if _usable(scene):
                break
        else:
            raise RuntimeError(f"no usable sample scene for category {category} in {tries_per_category} seeds")
        name = f"{n:02d}_{deepfashion2().category(category).coco_name}.jpg"
        cv2.imwrite(str(images_dir / name), scene.image, [cv2.IMWRITE_JPEG_QUALITY, 88])
        h, w = scene.image.shape[:2]
        images.append({"id": n, "file_name": name, "width": w, "height": h})
        annotations.append(encode_garment(scene.garments[0], image_id=n, annotation_id=n))
        truth[name] = {
            "seed": seed,
            "homography_image_to_table_mm": np.asarray(scene.homography).tolist(),
            "mm_per_px": float(scene.mm_per_px),
            "board": BOARD_SPEC,
        }
    doc = build_document(images, annotations, info={"description": "Garment Keypoint Studio sample (synthetic)"})
    (out / "annotations.json").write_text(json.dumps(doc), encoding="utf-8")
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=1), encoding="utf-8")
    return [images_dir / i["file_name"] for i in images]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    for path in render_sample(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
