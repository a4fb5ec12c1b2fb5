"""Every window action in one table: text, shortcut, help line. The help dialog lists the same table."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True)
class ActionSpec:
    key: str  # attribute name on the window's Actions object
    text: str
    shortcuts: tuple[str, ...]
    help: str
    menu: str


SPECS = (
    ActionSpec("new_project", "&New project…", ("Ctrl+N",), "Create a project file", "File"),
    ActionSpec("open_project", "&Open project…", ("Ctrl+O",), "Open a project file", "File"),
    ActionSpec("add_images", "Add &images…", ("Ctrl+I",), "Add image files to the project", "File"),
    ActionSpec("add_folder", "Add &folder…", ("Ctrl+Shift+I",), "Add every image in a folder (background)", "File"),
    ActionSpec("export", "&Export…", ("Ctrl+E",), "Export annotations to a dataset format", "File"),
    ActionSpec("new_window", "New &window", ("Ctrl+Shift+N",), "Open this project in a second window", "File"),
    ActionSpec("quit", "&Quit", ("Ctrl+Q",), "Close the window (everything is already saved)", "File"),
    ActionSpec("undo", "&Undo", ("Ctrl+Z",), "Undo the last edit", "Edit"),
    ActionSpec("redo", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo the edit undone last", "Edit"),
    ActionSpec("cycle_visibility", "Toggle &visibility", ("V",), "Point under the cursor: visible ↔ occluded (0 / Del remove it)", "Edit"),
    ActionSpec("set_visible", "Set visible", ("2",), "Point under the cursor becomes visible", "Edit"),
    ActionSpec("set_occluded", "Set occluded", ("1",), "Point under the cursor becomes occluded", "Edit"),
    ActionSpec("set_absent", "Remove point", ("0", "Del"), "Point under the cursor becomes absent", "Edit"),
    ActionSpec("place_point", "&Place next missing point", ("A",), "Put the selected garment's next absent landmark at the cursor", "Edit"),
    ActionSpec("draw_box", "Add &garment (draw box)", ("B",), "Draw a box; the model predicts keypoints inside it", "Edit"),
    ActionSpec("delete_garment", "&Delete garment", ("Shift+Del",), "Delete the selected garment", "Edit"),
    ActionSpec("revert_garment", "Re&vert to prediction", ("Ctrl+R",), "Restore the model's prediction for the selected garment", "Edit"),
    ActionSpec("verify_next", "Verify and &next", ("Ctrl+Return", "Space"), "Mark this image's garments verified and go to the next unverified image", "Edit"),
    ActionSpec("next_garment", "Next garment", ("Tab",), "Select the next garment on this image", "Edit"),
    ActionSpec("next_image", "Next image", ("PgDown", "D"), "Show the next image in the list", "Navigate"),
    ActionSpec("prev_image", "Previous image", ("PgUp", "S"), "Show the previous image in the list", "Navigate"),
    ActionSpec("next_unverified", "Next &unverified", ("Ctrl+U",), "Jump to the next image not yet verified", "Navigate"),
    ActionSpec("fit", "&Fit image", ("F",), "Fit the image to the window", "View"),
    ActionSpec("zoom_in", "Zoom &in", ("+", "="), "Zoom in around the cursor (or use the wheel)", "View"),
    ActionSpec("zoom_out", "Zoom &out", ("-",), "Zoom out", "View"),
    ActionSpec("annotate_current", "Auto-annotate &image", ("Ctrl+P",), "Run the model on the current image", "Model"),
    ActionSpec("annotate_missing", "Auto-annotate &new images", ("Ctrl+Shift+P",), "Run the model on every image without annotations (background)", "Model"),
    ActionSpec("reread_garment", "&Re-read selected garment", ("Shift+P",), "Run the model again on the selected garment, in its category and box; points you placed are kept (done by itself when you change a garment's category)", "Model"),
    ActionSpec("annotate_all", "Auto-annotate &all images", (), "Run the model on every image; corrections are kept (background)", "Model"),
    ActionSpec("precise_landmarks", "&Precise landmarks (flip test)", (), "Also run each garment mirrored and average the two: more accurate landmarks, twice the pose time (photos and live camera; on by default)", "Model"),
    ActionSpec("upside_down_check", "Read &upside-down garments (180° check)", (), "Also run each garment turned by 180° and keep the reading the model is surer of, so a garment laid waist-down gets waist and hem the right way round; twice the pose time (on by default)", "Model"),
    ActionSpec("retrain", "&Retrain model…", (), "Fine-tune the model on this project's corrections and manage its model versions", "Model"),
    ActionSpec("cancel_job", "&Cancel background job", ("Esc",), "Stop the running job (or box drawing)", "Model"),
    ActionSpec("calibrate_image", "&Calibrate from this image", ("Ctrl+K",), "Detect the ChArUco board on this image", "Measure"),
    ActionSpec("reference_line", "&Reference line…", ("R",), "Draw a line of known length to set the scale", "Measure"),
    ActionSpec("live", "&Live camera…", ("Ctrl+L",), "Open a camera or video with live keypoints", "View"),
    ActionSpec("shortcuts", "&Keyboard shortcuts", ("F1",), "This list", "Help"),
)


class Actions:
    """QAction per spec, created once per window (attributes named by ``ActionSpec.key``)."""

    def __init__(self, parent: QWidget):
        self.by_key: dict[str, QAction] = {}
        for spec in SPECS:
            action = QAction(spec.text, parent)
            action.setShortcuts([QKeySequence(s) for s in spec.shortcuts])
            action.setStatusTip(spec.help)
            action.setToolTip(f"{spec.help} ({', '.join(spec.shortcuts)})" if spec.shortcuts else spec.help)
            self.by_key[spec.key] = action
            setattr(self, spec.key, action)

    def menus(self) -> dict[str, list[QAction]]:
        grouped: dict[str, list[QAction]] = {}
        for spec in SPECS:
            grouped.setdefault(spec.menu, []).append(self.by_key[spec.key])
        return grouped


class ShortcutsDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        table = QTableWidget(len(SPECS), 3)
        table.setHorizontalHeaderLabels(["Action", "Keys", "What it does"])
        for row, spec in enumerate(SPECS):
            table.setItem(row, 0, QTableWidgetItem(spec.text.replace("&", "").rstrip("…")))
            table.setItem(row, 1, QTableWidgetItem(", ".join(spec.shortcuts)))
            table.setItem(row, 2, QTableWidgetItem(spec.help))
        extras = [
            ("Move a point", "drag", "Sub-pixel, kept on the photo; one drag is one undo step; Esc while dragging puts it back"),
            ("Resize a box", "drag a corner handle", "Of the selected garment; one undo step"),
            ("Pan", "drag the background / middle button", ""),
            ("Zoom", "mouse wheel", "Zooms around the cursor"),
            ("Point menu", "right-click a point", "Visibility, remove"),
        ]
        for name, keys, text in extras:
            row = table.rowCount()
            table.insertRow(row)
            for col, value in enumerate((name, keys, text)):
                table.setItem(row, col, QTableWidgetItem(value))
        # Names and keys as wide as they are; the help column takes the rest of the width and wraps (sized to
        # its longest line it ran off the dialog, header included, and was cut).
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        table.setWordWrap(True)
        table.verticalHeader().setVisible(False)
        self.table = table
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(buttons)
        self.resize(1000, 700)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # Row heights follow the help column's wrapping once the columns have their new widths (sizing them
        # on each column's resize signal used widths still being laid out: rows one line tall grew to three).
        QTimer.singleShot(0, self.table.resizeRowsToContents)
