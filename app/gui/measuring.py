"""The Measurements side of the main window: calibration profiles (a board found in the photo, a reference
line drawn on it), the photo's own calibration, spec sheets kept in the project, and the measurement overlay
on the canvas. Qt widgets live in ``measure_panel``; the numbers come from ``measure/``."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QMessageBox

from app.gui.measure_panel import spec_rows
from app.gui.settings import settings
from app.gui.style import PASS_COLOUR
from app.store.database import StoreError


class Measuring:
    def __init__(self, window):
        self.window = window

    def profiles(self) -> dict:
        w = self.window
        from measure.calibration import Calibration, CalibrationError

        profiles = {}
        for record in w.store.list_calibrations():
            try:
                profiles[record.name] = Calibration.from_dict(record.payload)
            except (CalibrationError, KeyError, TypeError, ValueError):
                continue  # a profile this build cannot read is skipped, not fatal
        return profiles

    def remember_profile(self, _index: int) -> None:
        w = self.window
        if w.store is not None:
            key = f"calibration/profile/{w.store.path.resolve()}"
            settings().setValue(key, w.measurements.profile.currentData() or "")

    def use_image_calibration(self, image_id: int) -> None:
        """A photo with its own calibration (a board in it) is measured with that; others keep the profile."""
        w = self.window
        calibration_id = w.store.image(image_id).calibration_id
        if calibration_id is None:
            return
        name = w.store.calibration(calibration_id).name
        if name != w.measurements.calibration_name:
            w.measurements.select_profile(name)

    def update(self) -> None:
        w = self.window
        w.canvas.clear_overlay()
        cal = w.measurements.calibration
        if cal is not None and cal.board_region_px:
            w.canvas.add_overlay_polygon([QPointF(x, y) for x, y in cal.board_region_px], PASS_COLOUR)
        item = None if w.canvas.selected_id is None else w.canvas.garment_item(w.canvas.selected_id)
        size = None
        if w.store is not None and w.image_id is not None:
            info = w.store.image(w.image_id)
            size = (info.width, info.height)  # a calibration made on another frame size does not apply
        if item is None:
            w.measurements.show_keypoints(None, None, size)
            return
        positions = np.array([(x, y, int(v)) for x, y, v in item.point_positions()], dtype=np.float64)
        measured = w.measurements.show_keypoints(item.garment.category_id, positions, size)
        for m in measured.values():
            pts = [QPointF(x, y) for x, y in m.points_px]
            for p1, p2 in zip(pts, pts[1:], strict=False):
                w.canvas.add_overlay_line(p1, p2, w.measurements.value_text(m) if p2 is pts[-1] else "")

    def calibrate_from_image(self) -> None:
        w = self.window
        if w.store is None or w.image_id is None:
            return
        from app.gui.model_service import read_bgr
        from measure.boards import DEFAULT_CHARUCO
        from measure.detect import calibrate_charuco

        board = str(settings().value("calibration/board", DEFAULT_CHARUCO))
        path = w.store.resolve_path(w.store.image(w.image_id).path)
        try:
            cal = calibrate_charuco(read_bgr(path), board)
        except ValueError as exc:  # CalibrationError / BoardSpecError say what was not found
            QMessageBox.warning(w, "Calibration", f"{path.name}: {exc}")
            return
        name = f"image #{w.image_id} {path.stem} ({board})"  # one per photo: same-named photos differ
        try:
            calibration_id = w.store.save_calibration(name, cal.method, cal.to_dict())
            if w.image_id is not None:  # the board is in this photo: it measures this photo from now on
                w.store.set_image_calibration(w.image_id, calibration_id)
        except StoreError as exc:  # a read-only project: the calibration still measures, unsaved
            QMessageBox.warning(w, "Calibration", f"{exc}\nThe calibration is used but not saved.")
            w.measurements.set_calibration(cal, name)
            return
        w.measurements.set_profiles(self.profiles())
        w.measurements.profile.setCurrentIndex(w.measurements.profile.findData(name))
        w.measurements.set_calibration(cal, name)
        w.measurements_dock.raise_()

    def save_spec_sheet(self, name: str, sheet) -> None:
        """A spec sheet loaded from a CSV belongs to the project: it is there the next time it is opened."""
        w = self.window
        if w.store is None:
            return
        try:
            w.store.save_spec_sheet(name, spec_rows(sheet))
        except StoreError as exc:
            QMessageBox.warning(w, "Spec sheet", f"{exc}\nThe sheet is used but not saved.")

    def set_reference_line(self, p1: QPointF, p2: QPointF) -> None:
        w = self.window
        from PySide6.QtWidgets import QInputDialog

        from measure.calibration import Calibration

        px = float(np.hypot(p2.x() - p1.x(), p2.y() - p1.y()))
        mm, ok = QInputDialog.getDouble(w, "Reference line", f"Length of the {px:.1f} px line in mm:", 100.0, 0.1, 100000.0, 1)
        if ok:
            size = None
            if w.store is not None and w.image_id is not None:
                info = w.store.image(w.image_id)
                size = (info.width, info.height)  # clicked on this photo: not for photos of another size
            cal = Calibration.from_scale(mm / px, method="reference-line", image_size=size)
            w.measurements.set_calibration(cal, f"reference line {mm:.1f} mm")
