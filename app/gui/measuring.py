"""The Measurements side of the main window: calibration profiles (a board found in the photo, a reference
line drawn on it), the photo's own calibration, spec sheets kept in the project, and the measurement overlay
on the canvas. Qt widgets live in ``measure_panel``; the numbers come from ``measure/``.

A verified photo's measurements are stored in the project (``store_verified``) when it was measured with a
calibration the project holds: the QC report (``export --format csv``) reads them from there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, Qt, QTimer
from PySide6.QtWidgets import QInputDialog, QMessageBox

from app.gui.measure_panel import spec_rows, spec_sheet_from_rows
from app.gui.settings import settings
from app.gui.style import PASS_COLOUR
from app.store.database import StoreError

UNSTORED = ("Measurements are stored in the project (for the QC report, Export → Measurements CSV) only when a "
            "photo is verified with a calibration saved in the project: choose a profile, or use From image "
            "(Ctrl+K) or a reference line (R)")


class Measuring(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self._said_unstored = False  # the status bar said once, per project, why nothing was stored
        self._line_pending = False  # a reference line's mouse button went up: did it draw a line?
        window.canvas.viewport().installEventFilter(self)
        # A button or choice in a dock is done with: the keys go back to the photo (Space verifies there)
        window.measurements.finished.connect(self.focus_photo)
        window.inspector.finished.connect(self.focus_photo)

    def focus_photo(self) -> None:
        self.window.canvas.setFocus(Qt.FocusReason.OtherFocusReason)

    def open_project(self) -> None:
        """The panel shows this project's profiles and spec sheets, and applies only what it shows: the
        profile remembered for the project (or its first), no spec sheet until one is chosen."""
        w = self.window
        panel = w.measurements
        panel.reset()
        self._said_unstored = False
        profiles = self.profiles()
        panel.set_profiles(profiles)
        remembered = settings().value(f"calibration/profile/{w.store.path.resolve()}")
        name = remembered if remembered in profiles else next(iter(profiles), None)
        if name is not None:  # the project's own calibration is what a user measures with
            panel.select_profile(name)
        panel.set_spec_sheets({s.name: spec_sheet_from_rows(s.rows) for s in w.store.list_spec_sheets()},
                              replace=True)

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
        self._keep(cal, f"image #{w.image_id} {path.stem} ({board})")  # one per photo: same-named photos differ

    def _keep(self, cal, name: str) -> None:
        """A calibration made on the current photo becomes a profile of the project, chosen in the panel and
        tied to the photo (it measures this photo from now on); a read-only project uses it unsaved."""
        w = self.window
        try:
            if w.store is None or w.image_id is None:
                raise StoreError("No photo of a project is shown.")
            calibration_id = w.store.save_calibration(name, cal.method, cal.to_dict())
            w.store.set_image_calibration(w.image_id, calibration_id)
        except StoreError as exc:  # a read-only project: the calibration still measures, unsaved
            QMessageBox.warning(w, "Calibration", f"{exc}\nThe calibration is used but not saved.")
            w.measurements.use_unsaved(cal, name)
            return
        w.measurements.set_profiles(self.profiles())
        if not w.measurements.select_profile(name):  # measured with what the project holds, as when reopened
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

    # Reference line ------------------------------------------------------------------------------------
    def start_reference_line(self) -> None:
        w = self.window
        w.canvas.set_draw_mode("line")
        # short: the status bar's coordinates and model label share the line
        w.statusBar().showMessage("Drag along a known length (a ruler), then enter it; Esc cancels")

    def eventFilter(self, watched, event) -> bool:
        if (event.type() == QEvent.Type.MouseButtonRelease and event.button() == Qt.MouseButton.LeftButton
                and self.window.canvas.draw_mode == "line"):
            self._line_pending = True  # cleared by set_reference_line if the canvas drew a line
            QTimer.singleShot(0, self._line_not_drawn)
        return False

    def _line_not_drawn(self) -> None:
        if self._line_pending:
            self._line_pending = False
            self.window.statusBar().showMessage(
                "No reference line: a click is not a line. Press R and drag along a known length", 8000)

    def set_reference_line(self, p1: QPointF, p2: QPointF) -> None:
        self._line_pending = False
        w = self.window
        from measure.calibration import Calibration

        px = float(np.hypot(p2.x() - p1.x(), p2.y() - p1.y()))
        mm, ok = QInputDialog.getDouble(w, "Reference line", f"Length of the {px:.1f} px line in mm:", 100.0, 0.1, 100000.0, 1)
        if not ok:
            w.statusBar().showMessage("Reference line cancelled: the calibration is unchanged", 5000)
            return
        size, name = None, f"reference line {mm:.1f} mm"
        if w.store is not None and w.image_id is not None:
            info = w.store.image(w.image_id)
            size = (info.width, info.height)  # drawn on this photo: not for photos of another size
            name = f"image #{w.image_id} {Path(info.path).stem} (reference line)"  # one per photo, as From image
        cal = Calibration.from_scale(mm / px, method="reference-line", image_size=size)
        self._keep(cal, name)
        w.statusBar().showMessage(f"Reference line: {px:.1f} px = {mm:.1f} mm ({mm / px:.3f} mm/px)", 8000)

    # Stored measurements ---------------------------------------------------------------------------------
    def store_verified(self, image_id: int) -> int:
        """Store the measurements of a photo just verified, as the CLI's ``measure --project`` does: each
        garment's measurable POMs with the saved calibration the panel measures this photo with. Without
        one (pixels, an unsaved calibration, one made on another frame size) nothing is stored, and the status
        bar says so once. Returns the number of measurements stored."""
        w = self.window
        from measure.measurements import measure_garment
        from measure.poms import PomError, load_catalog

        info = w.store.image(image_id)
        if str(info.status) != "verified":  # the verification was refused (a read-only project): said already
            return 0
        cal, _warnings = w.measurements.calibration_for((info.width, info.height))
        name = w.measurements.saved_profile()
        if cal is None or name is None:
            if not self._said_unstored:
                self._said_unstored = True
                self._say_after_moving_on(UNSTORED, 12000)
            return 0
        count = 0
        before = w.store.change_mark()
        try:
            calibration_id = w.store.calibration(name).id
            catalog = load_catalog()
            for garment_id, garment in w.store.garments(image_id):
                if "layout" in garment.extra:  # FLD garments (another layout) have no DF2 points of measure
                    continue
                try:
                    measured = measure_garment(garment, cal, catalog)
                except PomError:
                    continue
                rows = [(m.name, m.mm, [list(p) for p in m.points_px], calibration_id)
                        for m in measured.values() if m.measurable]
                w.store.replace_measurements(garment_id, rows)
                count += len(rows)
        except StoreError as exc:  # the project went read-only or busy since the verification
            self._say_after_moving_on(f"Measurements not stored: {exc}", 8000)
        w._saw_own_change(before)
        return count

    def _say_after_moving_on(self, text: str, ms: int) -> None:
        """After the next photo's own line (verification moves on to it and names it in the status bar)."""
        QTimer.singleShot(0, lambda: self.window.statusBar().showMessage(text, ms))
