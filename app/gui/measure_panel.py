"""Measurements of the selected garment: POMs in cm (px without a calibration), spec pass/fail.

``show_keypoints`` is cheap enough to call on every mouse move of a drag, so values follow the
point live; the window draws the returned construction lines on the canvas.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.style import FAIL_COLOUR, PASS_COLOUR, WARN_COLOUR, narrow_combo
from measure.calibration import Calibration, CalibrationError
from measure.measurements import Measurement, measure_keypoints
from measure.poms import PomError, load_catalog
from measure.spec import SpecEntry, SpecError, SpecSheet

PIXEL_SCALE = Calibration.from_scale(1.0, method="pixels")


def cm_text(value: float) -> str:
    """A spec's target or tolerance as written (0.635 for a quarter inch, 50 for 50.0): a tolerance shown
    rounded would contradict the pass/fail next to it."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def spec_sheet_from_rows(rows: list[dict]) -> SpecSheet:
    """The store keeps spec rows in mm; measure.spec works in cm."""
    return SpecSheet(
        tuple(
            SpecEntry(
                str(r["pom"]), str(r["size"]), float(r["target_mm"]) / 10.0, float(r["tolerance_mm"]) / 10.0,
                r.get("category_id"),
            )
            for r in rows
        )
    )


def spec_rows(sheet: SpecSheet) -> list[dict]:
    """A sheet as the store keeps it (mm): the inverse of ``spec_sheet_from_rows``."""
    return [{"pom": e.pom, "size": e.size, "target_mm": e.target_cm * 10.0, "tolerance_mm": e.tolerance_cm * 10.0,
             "category_id": e.category_id} for e in sheet.entries]


class MeasurementsPanel(QWidget):
    calibrationRequested = Signal()  # "from this image"
    specLoaded = Signal(str, object)  # name, SpecSheet read from a CSV: the window keeps it in the project
    changed = Signal()  # calibration, spec sheet or size chosen: the window re-measures
    # A button or a choice of the panel is done with: the window gives the keys back to the photo, so Space
    # verifies (a focused button took Space and ran again) and V, 0, 1, 2 act on points.
    finished = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.calibration: Calibration | None = None
        self.calibration_name = "none"
        self.spec: SpecSheet | None = None
        self.measuring_with: Calibration | None = None  # what the shown values used (None: pixels)
        self.calibration_label = QLabel("No calibration: values in pixels")
        self.calibration_label.setWordWrap(True)
        # What the calibration's fit warned about, and whether it fits this photo: a board too small for the
        # garment, or a profile made on another camera's frame size, gives wrong centimetres without this.
        self.warning_label = QLabel()
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet(f"color: {WARN_COLOUR.name()}")
        self.warning_label.hide()
        self.profile = narrow_combo(QComboBox(), 10)
        self.profile.addItem("No calibration (pixels)", None)
        self.profile.activated.connect(self._on_profile)
        from_image = QPushButton("Calibrate from this image")
        from_image.clicked.connect(self.calibrationRequested)
        self.spec_combo = narrow_combo(QComboBox())
        self.spec_combo.addItem("No spec sheet", None)
        self.spec_combo.activated.connect(self._on_spec)
        load_spec = QPushButton("Load spec CSV…")
        load_spec.clicked.connect(self._load_spec_file)
        self.size = narrow_combo(QComboBox(), 4)
        self.size.setToolTip("Size to check against the spec sheet")
        self.size.activated.connect(lambda _i: self.changed.emit())
        for button in (from_image, load_spec):
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a click leaves the keys with the photo
            button.clicked.connect(self.finished)  # after its own slot: a dialog it opened is closed by then
        for combo in (self.profile, self.spec_combo, self.size):
            combo.activated.connect(lambda _i: self.finished.emit())
        self.result_label = QLabel()
        from_image.setText("From image")
        from_image.setToolTip("Detect the ChArUco board on the current image and save it as a profile")
        load_spec.setText("Load CSV…")
        grid = QGridLayout()
        grid.addWidget(QLabel("Calibration"), 0, 0)
        grid.addWidget(self.profile, 0, 1, 1, 2)
        grid.addWidget(from_image, 0, 3)
        grid.addWidget(QLabel("Spec sheet"), 1, 0)
        grid.addWidget(self.spec_combo, 1, 1)
        grid.addWidget(self.size, 1, 2)
        grid.addWidget(load_spec, 1, 3)
        grid.setColumnStretch(1, 1)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Point of measure", "Value", "Target ± tol", "Check"])
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.calibration_label)
        layout.addWidget(self.warning_label)
        layout.addLayout(grid)
        layout.addWidget(self.result_label)
        layout.addWidget(self.table, 1)
        self._profiles: dict[str, Calibration] = {}
        self._unsaved: set[str] = set()  # profiles in use that the project could not keep (read-only)
        self._specs: dict[str, SpecSheet] = {}

    # Sources ------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Nothing of the project closed: no calibration, spec sheet or size, none offered. What the combos
        show is what is applied (a new project's panel said "No spec sheet" and still checked sizes)."""
        self.set_profiles({})
        self.set_spec_sheets({}, replace=True)
        self.spec = None
        self.size.clear()
        self.set_calibration(None, "none")

    def set_profiles(self, profiles: dict[str, Calibration]) -> None:
        self._profiles = dict(profiles)
        self._unsaved.clear()
        self.profile.clear()
        self.profile.addItem("No calibration (pixels)", None)
        for name in profiles:
            self.profile.addItem(name, name)

    def set_spec_sheets(self, sheets: dict[str, SpecSheet], replace: bool = False) -> None:
        """Offer these sheets; ``replace``: only these (another project's sheets are not this one's)."""
        if replace:
            self._specs.clear()
        self._specs.update(sheets)
        current = self.spec_combo.currentData()
        self.spec_combo.clear()
        self.spec_combo.addItem("No spec sheet", None)
        for name in self._specs:
            self.spec_combo.addItem(name, name)
        if current in self._specs:
            self.spec_combo.setCurrentIndex(self.spec_combo.findData(current))

    def use_unsaved(self, calibration: Calibration, name: str) -> None:
        """Measure with a calibration the project could not save (read-only): offered and chosen in the combo,
        marked so, until another project is opened."""
        self._profiles[name] = calibration
        self._unsaved.add(name)
        index = self.profile.findData(name)
        if index < 0:
            self.profile.addItem(f"{name} (not saved)", name)
        else:  # a saved profile of that name is not what measures now
            self.profile.setItemText(index, f"{name} (not saved)")
        self.select_profile(name)

    def saved_profile(self) -> str | None:
        """The name of the project profile the panel measures with; None for pixels or a calibration in use
        but not saved (a read-only project's)."""
        name = self.calibration_name
        if self.calibration is None or name in self._unsaved or self._profiles.get(name) is not self.calibration:
            return None
        return name

    def set_calibration(self, calibration: Calibration | None, name: str) -> None:
        self.calibration, self.calibration_name = calibration, name
        if calibration is None:
            self.calibration_label.setText("No calibration: values in pixels")
        else:
            err = calibration.reprojection_error_mm
            detail = "" if err is None else f", RMS {err:.2f} mm"
            self.calibration_label.setText(
                f"Calibration: {name} ({calibration.method}, {calibration.mm_per_px:.3f} mm/px{detail})"
            )
        self.changed.emit()

    def select_profile(self, name: str) -> bool:
        """Show and use the stored profile ``name`` (False if there is none by that name)."""
        index = self.profile.findData(name)
        if index < 0:
            return False
        self.profile.setCurrentIndex(index)
        self._on_profile(index)
        return True

    def _on_profile(self, _index: int) -> None:
        name = self.profile.currentData()
        self.set_calibration(self._profiles.get(name) if name else None, name or "none")

    def _on_spec(self, _index: int) -> None:
        name = self.spec_combo.currentData()
        self.spec = self._specs.get(name) if name else None
        self.size.clear()
        if self.spec is not None:
            self.size.addItems(list(self.spec.sizes))
        self.changed.emit()

    def _load_spec_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load spec sheet", "", "Spec sheets (*.csv)")
        if not path:
            return
        try:
            sheet = SpecSheet.load(path)
            sheet.validate(load_catalog())  # a row that could never be checked is the sheet's error
        except (SpecError, OSError) as exc:
            QMessageBox.warning(self, "Spec sheet", str(exc))
            return
        if sheet.warnings:  # columns it ignored (notes, descriptions): loaded, but said
            QMessageBox.information(self, "Spec sheet", "\n".join(sheet.warnings))
        name = Path(path).name
        self.set_spec_sheets({name: sheet})
        self.spec_combo.setCurrentIndex(self.spec_combo.findData(name))
        self._on_spec(self.spec_combo.currentIndex())
        self.specLoaded.emit(name, sheet)

    # Values ---------------------------------------------------------------------------------------------
    def _show_warnings(self, warnings: list[str]) -> None:
        # the finding in the panel, the advice that follows it (after ";") in the tooltip: the table keeps room
        self.warning_label.setText("<br>".join(f"⚠ {w.split(';')[0]}" for w in warnings))
        self.warning_label.setToolTip("\n\n".join(warnings))
        self.warning_label.setVisible(bool(warnings))

    def calibration_for(self, image_size: tuple[int, int] | None) -> tuple[Calibration | None, list[str]]:
        """The calibration to measure a photo of ``image_size`` with (None: pixels) and what to warn about.
        A calibration made on frames of another size does not map this photo: pixels, with the reason."""
        cal = self.calibration
        if cal is None:
            return None, []
        if image_size is not None:
            try:
                cal.check_image_size(*image_size)
            except CalibrationError as exc:
                return None, [f"values in pixels: {exc}"]
        return cal, list(cal.warnings)

    def show_keypoints(
        self, category_id: int | None, keypoints: np.ndarray | None, image_size: tuple[int, int] | None = None
    ) -> dict[str, Measurement]:
        """Measure an (n, 3) x, y, visibility array of a photo ``image_size`` (w, h) large; fills the table and
        returns the measurements."""
        self.table.setRowCount(0)
        self.result_label.setText("")
        calibration, warnings = self.calibration_for(image_size)
        self.measuring_with = calibration
        if category_id is None or keypoints is None:
            self._show_warnings(warnings)
            return {}
        placed = keypoints[keypoints[:, 2] > 0, :2] if len(keypoints) else keypoints[:, :2]
        reach = calibration.extrapolation_warning(placed) if calibration is not None and len(placed) else None
        self._show_warnings(warnings + ([reach] if reach else []))
        try:
            measured = measure_keypoints(category_id, keypoints, calibration or PIXEL_SCALE)
        except PomError as exc:
            self.result_label.setText(str(exc))
            return {}
        checks = {}
        if self.spec is not None and self.size.currentText():
            try:
                result = self.spec.check(measured, self.size.currentText(), category_id)
            except SpecError as exc:
                self.result_label.setText(str(exc))
            else:
                checks = {c.pom: c for c in result.checks}
                colour = {True: PASS_COLOUR, False: FAIL_COLOUR, None: WARN_COLOUR}[result.passed]
                if not result.checks:  # a sheet for other garment types
                    colour = WARN_COLOUR
                # the summary names the sheet's POMs this category lacks: a PASS that skipped the sleeves of a
                # top read as a sling must say so
                self.result_label.setText(
                    f"<b style='color:{colour.name()}'>Size {result.size}: {html.escape(result.summary)}</b>"
                )
        unit = "cm" if calibration is not None else "px"
        self.table.setRowCount(len(measured))
        # failing POMs first: at a measuring table they are what the verdict is about
        order = sorted(measured, key=lambda n: 0 if getattr(checks.get(n), "status", "") == "fail" else 1)
        for row, name in enumerate(order):
            m = measured[name]
            if m.mm is None:
                value = f"– ({m.reason})" if m.reason else "–"
            else:
                value = f"{m.cm:.1f} cm" if unit == "cm" else f"{m.mm:.1f} px"
            check = checks.get(name)
            target = "" if check is None else f"{cm_text(check.target_cm)} ± {cm_text(check.tolerance_cm)}"
            verdict = "" if check is None else check.status.replace("_", " ")
            if check is not None and check.deviation_cm is not None:  # 50.5 shown, 50.54 failing 50 ± 0.5
                verdict += f" ({check.deviation_cm:+.2f})"
            if m.occluded:
                value = "≈ " + value  # from a landmark under a fold or a hand: an estimate
            for col, text in enumerate((name, value, target, verdict)):
                item = QTableWidgetItem(text)
                if col == 1 and m.reason:  # "– (landmark 12 (left armpit) absent)" is cut in a narrow panel
                    item.setToolTip(m.reason)
                if col == 1 and m.occluded:
                    item.setToolTip(m.note())
                    item.setForeground(QBrush(WARN_COLOUR))
                if col == 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if col == 3 and check is not None and check.status in ("pass", "fail"):
                    item.setForeground(QBrush(PASS_COLOUR if check.status == "pass" else FAIL_COLOUR))
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        return measured

    def value_text(self, m: Measurement) -> str:
        if m.mm is None:
            return ""
        text = f"{m.cm:.1f} cm" if self.measuring_with is not None else f"{m.mm:.0f} px"
        return ("≈ " if m.occluded else "") + text
