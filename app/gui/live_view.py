"""Live camera / video window: keypoints and measurements drawn at the model's real rate.

A QThread runs ``inference.realtime.LiveLoop`` (which always takes the newest frame, dropping stale
ones); the overlay is painted into a QImage on that thread too, so the GUI thread only swaps a
pixmap. Freeze holds the last frame; Capture saves it into the project with its garments as
predictions, ready for correction. The category chooser is QC mode live: the style under test fixes the
category, so the model only finds the garment and its landmarks ("Auto" lets the model decide).
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QThread, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.gui.style import FAIL_COLOUR, MEASURE_COLOUR, PASS_COLOUR, VISIBILITY_COLOURS, category_colour
from inference.annotation import Garment, Visibility
from inference.schema import deepfashion2


def bgr_to_qimage(image: np.ndarray) -> QImage:
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()  # copy: own the pixels


def paint_garments(image: QImage, garments: list[Garment], calibration=None, spec=None, size: str = "") -> list:
    """Boxes, skeletons, keypoints and (with a calibration) POM lines, painted onto ``image``. With a spec
    sheet and a size each POM is drawn in the pass or fail colour and each garment gets its verdict;
    returns the garments' ``SpecResult`` (None where there is none)."""
    results = []
    mismatch = _frame_size_mismatch(calibration, image.width(), image.height())
    if mismatch:
        calibration = None  # centimetres from another frame size's mapping would be wrong, not approximate
    # The frame is shown scaled to the window: a camera frame of 1600 px shown 900 px wide would shrink
    # fixed-size text to unreadable, so text, lines and dots grow with the frame (1 at 800 px wide).
    scale = max(1.0, image.width() / 800.0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    font = QFont("Sans")
    font.setPixelSize(round(13 * scale))
    painter.setFont(font)
    for g in garments:
        cat = deepfashion2().category(g.category_id)
        colour = category_colour(g.category_id)
        painter.setPen(QPen(colour, 2 * scale))
        painter.setBrush(Qt.BrushStyle.NoBrush)  # the last garment's dots left a brush: the box was filled
        x1, y1, x2, y2 = g.bbox
        painter.drawRect(QRectF(QPointF(x1, y1), QPointF(x2, y2)))
        _label(painter, QPointF(x1 + 3 * scale, y1 + 15 * scale), cat.name, colour, scale)
        for a, b in cat.skeleton:
            ka, kb = g.keypoints[a], g.keypoints[b]
            if ka.visibility != Visibility.ABSENT and kb.visibility != Visibility.ABSENT:
                painter.drawLine(QPointF(ka.x, ka.y), QPointF(kb.x, kb.y))
        for kp in g.keypoints:
            if kp.visibility == Visibility.ABSENT:
                continue
            painter.setPen(QPen(QColor(0, 0, 0), scale))
            painter.setBrush(VISIBILITY_COLOURS[Visibility(kp.visibility)])
            painter.drawEllipse(QPointF(kp.x, kp.y), 4.0 * scale, 4.0 * scale)
        measured = _paint_measurements(painter, g, calibration, spec, size, scale) if calibration is not None else None
        results.append(measured)
    if mismatch:
        _label(painter, QPointF(8 * scale, image.height() - 10 * scale), mismatch, FAIL_COLOUR, scale)
    painter.end()
    return results


def _frame_size_mismatch(calibration, width: int, height: int) -> str:
    """The line drawn instead of measurements when the calibration was made on frames of another size."""
    if calibration is None or not calibration.image_size or tuple(calibration.image_size) == (width, height):
        return ""
    cw, ch = calibration.image_size
    return f"No measurements: calibrated on {cw}x{ch} frames, this camera gives {width}x{height}. Recalibrate."


def _paint_measurements(
    painter: QPainter, garment: Garment, calibration, spec=None, size: str = "", scale: float = 1.0
):
    from measure.measurements import measure_garment
    from measure.poms import PomError
    from measure.spec import SpecError

    try:
        measured = measure_garment(garment, calibration)
    except PomError:
        return None
    result = None
    if spec is not None and size:
        try:
            result = spec.check(measured, size, garment.category_id)
        except SpecError:  # the size is not in this sheet: values only
            pass
    checks = {} if result is None else {c.pom: c for c in result.checks}
    for name, m in measured.items():
        check = checks.get(name)
        colour = MEASURE_COLOUR
        if check is not None and check.status in ("pass", "fail"):
            colour = PASS_COLOUR if check.status == "pass" else FAIL_COLOUR
        painter.setPen(QPen(colour, 2 * scale, Qt.PenStyle.DashLine))
        pts = [QPointF(x, y) for x, y in m.points_px]
        for p1, p2 in zip(pts, pts[1:], strict=False):
            painter.drawLine(p1, p2)
        if pts and m.cm is not None:
            text = f"{'≈ ' if m.occluded else ''}{m.cm:.1f} cm"
            if check is not None and check.status == "fail":
                text += f" ({check.deviation_cm:+.2f})"  # the resolution the verdict is decided at
            _label(painter, pts[-1] + QPointF(4 * scale, -4 * scale), text, colour, scale)
    if result is not None and result.checks:
        verdict = result.verdict
        verdict_colour = {True: PASS_COLOUR, False: FAIL_COLOUR, None: MEASURE_COLOUR}[result.passed]
        x1, _, _, y2 = garment.bbox
        _label(painter, QPointF(x1 + 3 * scale, y2 + 17 * scale), f"size {result.size}: {verdict}", verdict_colour,
               scale)
    return result


def _label(painter: QPainter, baseline: QPointF, text: str, colour: QColor, scale: float) -> None:
    """Text on a dark translucent plate, readable over any garment or table and apart from same-coloured
    lines (a red category box and a red FAIL)."""
    painter.save()  # the caller's pen (a box, a skeleton) stays as it was
    box = painter.fontMetrics().boundingRect(text).translated(baseline.toPoint())
    pad = round(2 * scale)
    painter.fillRect(box.adjusted(-pad, -pad, pad, pad), QColor(0, 0, 0, 170))
    painter.setPen(QPen(colour, scale))
    painter.drawText(baseline, text)
    painter.restore()


def source_end_reason(source: str) -> str:
    """What it means when a source stops giving frames by itself."""
    if source.isdigit():
        return f"camera {source} stopped sending frames (unplugged, or in use by another program?)"
    if Path(source).is_dir():
        return "every photo of the folder was shown"
    return "end of the video"


class LiveWorker(QThread):
    frameReady = Signal(QImage, dict, object, object)  # overlay image, stats, garments, raw BGR frame
    failed = Signal(str)
    ended = Signal(str)  # the source stopped giving frames without being asked to: why, in words

    def __init__(self, pipeline, source: str, calibration=None, parent=None, known_category: int | None = None):
        super().__init__(parent)
        self.pipeline, self.source, self.calibration = pipeline, source, calibration
        self.known_category = known_category
        # Read on every frame: the window may change them while it runs (plain attribute swaps).
        self.spec, self.size = None, ""
        self._loop = None
        self._estimator = None
        self._stopping = False

    def set_known_category(self, category_id: int | None) -> None:
        """Switch QC mode while running; the estimator picks it up on its next frame."""
        self.known_category = category_id
        if self._estimator is not None:
            self._estimator.known_category = category_id

    def run(self) -> None:
        from inference.realtime import LiveEstimator, LiveLoop
        from inference.video import open_source

        started, count = time.monotonic(), 0

        def on_result(result) -> None:
            nonlocal count
            count += 1
            image = result.image  # the frame these garments were computed on, not a newer one
            if image is None:
                return
            overlay = bgr_to_qimage(image)
            checks = paint_garments(overlay, result.garments, self.calibration, self.spec, self.size)
            elapsed = max(time.monotonic() - started, 1e-6)
            stats = {
                "fps": count / elapsed, "latency_ms": result.latency_ms, "dropped": result.dropped,
                "garments": len(result.garments), "frame": result.frame_index, "spec_results": checks,
            }
            self.frameReady.emit(overlay, stats, list(result.garments), image)

        try:
            source = open_source(int(self.source) if self.source.isdigit() else self.source)
            self._estimator = LiveEstimator(self.pipeline, known_category=self.known_category)
            self._loop = LiveLoop(self._estimator, source)
            self._loop.run(on_result)
        except Exception as exc:  # a camera that cannot open, a broken file: shown in the window
            self.failed.emit(f"{self.source}: {exc}")
            return
        if not self._stopping:  # not Stop: the source ran out, and the technician should know which way
            self.ended.emit(source_end_reason(self.source))

    def stop(self) -> None:
        self._stopping = True
        if self._loop is not None:
            self._loop.stop()
        self.wait(5000)


class LiveWindow(QWidget):
    captured = Signal(str, object)  # saved image path, garments on it

    def __init__(self, model, capture_dir: Path, calibration=None, parent=None):
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Live — Garment Keypoint Studio")
        self.model, self.capture_dir, self.calibration = model, Path(capture_dir), calibration
        self.worker: LiveWorker | None = None
        self.frozen = False
        self.last_frame: np.ndarray | None = None
        self.last_garments: list[Garment] = []
        self.last_spec_results: list = []  # per shown garment: its SpecResult, or None
        self.spec, self.size = None, ""
        self.frames_shown = 0
        self.source = QLineEdit("0")
        self.source.setPlaceholderText("camera index (0), video file or folder of photos")
        browse = QPushButton("Video file…")
        browse.clicked.connect(self._browse)
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.toggle)
        self.freeze_button = QPushButton("Freeze")
        self.freeze_button.setCheckable(True)
        self.freeze_button.toggled.connect(self._on_freeze)
        self.capture_button = QPushButton("Capture into project")
        self.capture_button.clicked.connect(self.capture)
        self.category = QComboBox()
        self.category.setToolTip("QC mode: the style under test fixes the category; Auto lets the model decide")
        self.category.addItem("Auto (model decides)", None)
        for cat in deepfashion2().categories:
            self.category.addItem(f"{cat.id}. {cat.name}", cat.id)
        self.category.currentIndexChanged.connect(self._on_category)
        self.view = QLabel("Choose a camera or a video file and press Start")
        self.view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.view.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.view.setMinimumSize(480, 360)
        self.view.setStyleSheet("background: #26282c; color: #ccc")
        self.stats = QLabel()
        top = QHBoxLayout()
        for w in (QLabel("Source"), self.source, browse, QLabel("Category"), self.category, self.start_button,
                  self.freeze_button, self.capture_button):
            top.addWidget(w)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.stats)
        self.resize(900, 680)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Video file", "", "Videos (*.mp4 *.avi *.mov *.mkv)")
        if path:
            self.source.setText(path)

    def toggle(self) -> None:
        if self.worker is not None:
            self.stop()
        else:
            self.start(self.source.text().strip())

    def start(self, source: str) -> bool:
        if self.model.pipeline is None:
            self.stats.setText(self.model.describe())
            return False
        self.source.setText(source)  # what runs is what the field shows
        self.freeze_button.setChecked(False)  # a new start shows its frames (a frozen view looked dead)
        self.worker = LiveWorker(self.model.pipeline, source, self.calibration, self, self.category.currentData())
        self.worker.spec, self.worker.size = self.spec, self.size
        self.worker.frameReady.connect(self._on_frame)
        self._failed = False
        self.worker.failed.connect(self._on_failed)
        self.worker.ended.connect(self._on_ended)
        self.worker.finished.connect(self._on_finished)
        self.worker.start()
        self.start_button.setText("Stop")
        return True

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()

    def set_measuring(self, calibration, spec=None, size: str = "") -> None:
        """The main window's calibration, spec sheet and size; a running view uses them from its next frame."""
        self.calibration, self.spec, self.size = calibration, spec, size or ""
        if self.worker is not None:
            self.worker.calibration, self.worker.spec, self.worker.size = calibration, spec, self.size

    def _on_category(self, _index: int) -> None:
        if self.worker is not None:
            self.worker.set_known_category(self.category.currentData())

    def _on_finished(self) -> None:
        self.worker = None
        self.start_button.setText("Start")
        if not self._failed:  # else the stats line holds the error, which stays
            self.stats.setText(self.stats.text() + " · stopped")

    def _on_ended(self, reason: str) -> None:
        self._failed = True  # the line below stays instead of " · stopped"
        self.stats.setText(f"{self.stats.text()} · stopped: {reason}".lstrip(" ·"))

    def _on_failed(self, message: str) -> None:
        self._failed = True
        self.stats.setText(message)

    def _on_freeze(self, frozen: bool) -> None:
        self.frozen = frozen

    def _on_frame(self, overlay: QImage, stats: dict, garments: list, frame: np.ndarray) -> None:
        if self.frozen:
            return
        self.last_frame, self.last_garments = frame, garments
        self.last_spec_results = list(stats.get("spec_results", []))
        self.frames_shown += 1
        pixmap = QPixmap.fromImage(overlay).scaled(
            self.view.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        self.view.setPixmap(pixmap)
        provider = getattr(self.model.pipeline, "provider", "")
        version = getattr(self.model.pipeline, "model_version", "")  # which model this view runs, after a switch
        n = stats["garments"]
        self.stats.setText(
            f"{stats['fps']:.1f} frames/s processed · latency {stats['latency_ms']:.0f} ms · "
            f"{stats['dropped']} stale frames dropped · {n} garment{'s' * (n != 1)} · {version} · {provider}"
        )

    def capture(self) -> Path | None:
        """Save the shown frame into the project folder and hand it (with its garments) to the window."""
        if self.last_frame is None:
            self.stats.setText("Nothing to capture yet: press Start, then Capture when the garment is in view")
            return None
        self.capture_dir.mkdir(parents=True, exist_ok=True)
        path = self.capture_dir / time.strftime("capture-%Y%m%d-%H%M%S.png")
        n = 1
        while path.exists():
            path = path.with_name(f"{path.stem.split('~')[0]}~{n}.png")
            n += 1
        if not cv2.imwrite(str(path), self.last_frame):
            self.stats.setText(f"cannot write {path}")
            return None
        self.stats.setText(f"Captured {path.name}")
        self.captured.emit(str(path), list(self.last_garments))  # the window may say otherwise (no project)
        return path

    def closeEvent(self, event) -> None:
        self.stop()
        super().closeEvent(event)
