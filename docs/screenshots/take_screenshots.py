"""Take the user guide's screenshots from the real application (offscreen Qt), then shrink them.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots/take_screenshots.py [NAME ...]

With names (first-run, correct, measure-spec, export, live-spec) only those are taken again.

Settings, the data folder and the scratch projects live in a temporary folder, so the first-run shot
is a true first run. Needs ImageMagick's `convert` to quantise the PNGs (each stays under 250 KB).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
OUT = Path(__file__).resolve().parent
SHIRT = "01_short_sleeved_shirt.jpg"
SIZE = (1480, 900)
MAX_BYTES = 250_000


def shrink(png: Path) -> Path:
    """Quantise to a 256-colour palette without dithering (text stays crisp); scale down if still too big."""
    original = png.with_suffix(".full.png")
    shutil.copyfile(png, original)
    for scale in (100, 90, 80, 70, 60):
        subprocess.run(
            ["convert", str(original), "-resize", f"{scale}%", "+dither", "-colors", "256", f"PNG8:{png}"], check=True
        )
        if png.stat().st_size <= MAX_BYTES:
            break
    original.unlink()
    return png


def settle(app) -> None:
    for _ in range(10):
        app.processEvents()


def first_run(app, out: Path) -> None:
    from app.gui.app import open_start_project, render_screenshot
    from app.gui.main_window import MainWindow

    window = MainWindow(load_model=True, restore_layout=False)
    window.resize(*SIZE)
    window.show()
    open_start_project(window)
    render_screenshot(window, out)
    window.close()


def shirt_project(folder: Path):
    """The sample shirt with its true landmarks stored as a prediction, two of them moved 50 px."""
    import json
    from dataclasses import replace

    from app.datasets.coco import decode_annotation
    from app.sample_project import sample_dir
    from app.store.repository import ProjectStore
    from inference.annotation import Garment, PointSource

    doc = json.loads((sample_dir() / "annotations.json").read_text(encoding="utf-8"))
    image_id = next(i["id"] for i in doc["images"] if i["file_name"] == SHIRT)
    truth = decode_annotation(next(a for a in doc["annotations"] if a["image_id"] == image_id))
    points = [replace(kp, score=0.9, source=PointSource.MODEL) for kp in truth.keypoints]
    for index in (8, 9):  # two sleeve landmarks, as a model might miss them
        kp = points[index]
        points[index] = replace(kp, x=kp.x + 40.0, y=kp.y - 30.0, score=0.41)
    predicted = Garment(truth.category_id, truth.bbox, tuple(points), 0.87, model_version="example@docs")
    path = folder / "shirt.db"
    with ProjectStore.create(path) as store:
        added = store.add_images([sample_dir() / "images" / SHIRT], source="sample").results[0]
        store.store_predictions(added.image_id, [predicted], "example@docs")
    return path, truth


def correct_and_measure(app, folder: Path, correct_png: Path, measure_png: Path) -> Path:
    from app.gui.app import render_screenshot
    from app.gui.main_window import MainWindow
    from measure.measurements import measure_garment
    from measure.spec import SpecSheet

    path, truth = shirt_project(folder)
    window = MainWindow(load_model=False, restore_layout=False)
    window.resize(*SIZE)
    window.show()
    window.open_project(path)
    settle(app)
    window.measuring.calibrate_from_image()  # the ChArUco board in the photo
    garment_id = window.store.garments(window.image_id)[0][0]
    window.canvas.select_garment(garment_id)
    window.session.move_point(window.image_id, garment_id, 8, truth.keypoints[8].x, truth.keypoints[8].y)
    settle(app)
    window.canvas.select_garment(garment_id)
    window.inspector.points.selectRow(8)
    render_screenshot(window, correct_png)

    # A spec sheet built from the garment's true measurements: chest in tolerance, body length 3 cm short.
    measured = measure_garment(truth, window.measurements.calibration)
    chest, length = measured["chest_width"].cm, measured["body_length"].cm
    spec_csv = folder / "shirt-spec.csv"
    spec_csv.write_text(
        "pom,size,target_cm,tolerance_cm,category\n"
        f"chest_width,M,{round(chest)},1.0,1\n"
        f"body_length,M,{round(length) + 3},1.0,1\n"
        f"shoulder_width,M,{round(measured['shoulder_width'].cm)},1.0,1\n",
        encoding="utf-8",
    )
    panel = window.measurements
    panel.set_spec_sheets({spec_csv.name: SpecSheet.load(spec_csv)})
    panel.spec_combo.setCurrentIndex(panel.spec_combo.findData(spec_csv.name))
    panel._on_spec(panel.spec_combo.currentIndex())
    window.session.move_point(window.image_id, garment_id, 9, truth.keypoints[9].x, truth.keypoints[9].y)
    settle(app)
    window.canvas.select_garment(garment_id)
    window.measuring.update()
    window.measurements_dock.raise_()
    render_screenshot(window, measure_png)
    window.close()
    return path


def live_spec(app, folder: Path, out: Path) -> None:
    """The live view on a short clip of the sample shirt, measured with the board and checked against a spec
    sheet built from its true measurements, the body length 3 cm off so one POM fails."""
    import time

    import cv2
    import numpy as np

    from app.gui.main_window import MainWindow
    from measure.measurements import measure_garment
    from measure.spec import SpecSheet

    (folder / "live").mkdir(exist_ok=True)
    path, truth = shirt_project(folder / "live")
    window = MainWindow(load_model=True, restore_layout=False)
    window.resize(*SIZE)
    window.show()
    window.open_project(path)
    settle(app)
    window.measuring.calibrate_from_image()
    measured = measure_garment(truth, window.measurements.calibration)
    spec_csv = folder / "live-spec.csv"
    spec_csv.write_text(
        "pom,size,target_cm,tolerance_cm,category\n"
        + "".join(f"{pom},M,{round(measured[pom].cm, 1)},1.0,1\n" for pom in ("chest_width", "shoulder_width"))
        + f"body_length,M,{round(measured['body_length'].cm) + 3},1.0,1\n",
        encoding="utf-8",
    )
    panel = window.measurements
    panel.set_spec_sheets({spec_csv.name: SpecSheet.load(spec_csv)})
    panel.spec_combo.setCurrentIndex(panel.spec_combo.findData(spec_csv.name))
    panel._on_spec(panel.spec_combo.currentIndex())
    photo = cv2.imread(str(ROOT / "resources" / "sample" / "images" / SHIRT))
    clip = folder / "live.avi"
    h, w = photo.shape[:2]
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (w, h))
    for i in range(60):  # the garment held still, the camera breathing a little
        shift = np.float32([[1, 0, 2 * np.sin(i / 5)], [0, 1, 2 * np.cos(i / 7)]])
        writer.write(cv2.warpAffine(photo, shift, (w, h), borderMode=cv2.BORDER_REPLICATE))
    writer.release()
    deadline = time.monotonic() + 120
    while window.model.pipeline is None and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.05)
    live = window.open_live_view()
    live.resize(1100, 820)
    live.category.setCurrentIndex(live.category.findData(1))  # QC mode: the style is a short sleeve top
    live.start(str(clip))
    while live.frames_shown < 20 and live.worker is not None and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)
    live.freeze_button.setChecked(True)
    settle(app)
    if not live.grab().save(str(out)):
        raise OSError(f"cannot write {out}")
    live.stop()
    live.close()
    window.close()


def export_dialog(app, project: Path, out: Path) -> None:
    from app.gui.export_dialog import ExportDialog

    dialog = ExportDialog(project)
    dialog.show()
    settle(app)
    if not dialog.grab().save(str(out)):
        raise OSError(f"cannot write {out}")
    dialog.close()


def main() -> int:
    if shutil.which("convert") is None:
        print("ImageMagick `convert` is needed to shrink the screenshots", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="gks-shots-") as tmp:
        tmp = Path(tmp)
        os.environ["GARMENT_STUDIO_DATA_DIR"] = str(tmp / "data")
        from PySide6.QtCore import QSettings

        QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
        from app.gui.app import application

        app = application()
        names = ("first-run", "correct", "measure-spec", "export", "live-spec")
        wanted = set(sys.argv[1:]) or set(names)
        if wanted - set(names):
            print(f"unknown screenshot(s): {', '.join(sorted(wanted - set(names)))}", file=sys.stderr)
            return 2
        shots = {name: OUT / f"{name}.png" for name in names}
        editing = {"correct", "measure-spec", "export"}  # one project, taken together
        taken = (wanted | editing) if wanted & editing else wanted
        if "first-run" in taken:
            first_run(app, shots["first-run"])
        if editing <= taken:
            project = correct_and_measure(app, tmp, shots["correct"], shots["measure-spec"])
            export_dialog(app, project, shots["export"])
        if "live-spec" in taken:
            live_spec(app, tmp, shots["live-spec"])
        for png in (shots[name] for name in names if name in taken):
            shrink(png)
            print(f"{png.relative_to(ROOT)}: {png.stat().st_size / 1000:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
