"""Inspector for the selected garment: category, status, score, per-landmark table, actions."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.style import VISIBILITY_COLOURS, VISIBILITY_LABELS, narrow_combo, status_colour
from inference.annotation import Garment, GarmentStatus, Visibility
from inference.schema import deepfashion2


class _NoWheelComboBox(QComboBox):
    """A combo box the mouse wheel passes over: one notch on a QComboBox picks the next item (and emits
    ``activated``), which here would change a garment's category and re-read its landmarks."""

    def wheelEvent(self, event) -> None:
        event.ignore()  # to the parent, as if the box were not there


class InspectorPanel(QWidget):
    categoryChosen = Signal(int, int)  # garment id, category id
    pointRowActivated = Signal(int, int)  # garment id, point index
    finished = Signal()  # a button's action is done: the window gives the keys back to the photo

    def __init__(self, actions, parent=None):
        super().__init__(parent)
        self.garment_id: int | None = None
        self.category = narrow_combo(_NoWheelComboBox(), 12)
        for cat in deepfashion2().categories:
            self.category.addItem(f"{cat.id}. {cat.name}", cat.id)
        self.category.activated.connect(self._on_category)
        # No wheel focus, and no wheel at all (below): scrolling over the box must not change a garment's category
        self.category.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.status = QLabel("–")
        self.score = QLabel("–")
        self.model = QLabel("–")
        self.category_note = QLabel("")  # how sure the model was of the category, while still a prediction
        self.category_note.setWordWrap(True)
        self.summary = QLabel("No garment selected")
        self.summary.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Category", self.category)
        form.addRow("", self.category_note)
        form.addRow("Status", self.status)
        form.addRow("Score", self.score)
        form.addRow("Model", self.model)
        buttons = QGridLayout()
        for n, action in enumerate((actions.verify_next, actions.revert_garment, actions.draw_box, actions.delete_garment)):
            button = QPushButton(action.text().replace("&", ""))
            button.setToolTip(action.toolTip())
            # A clicked button kept the keyboard focus, and a focused button takes Space: the keys stay
            # with the photo instead (Tab still reaches the button).
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            button.clicked.connect(action.trigger)
            button.clicked.connect(self.finished)
            # greyed out with its action (no project open: nothing to verify, revert or delete)
            button.setEnabled(action.isEnabled())
            action.enabledChanged.connect(button.setEnabled)
            buttons.addWidget(button, n // 2, n % 2)
        self.points = QTableWidget(0, 4)
        self.points.setHorizontalHeaderLabels(["Landmark", "x", "y", "Visibility"])
        self.points.verticalHeader().setVisible(False)
        self.points.verticalHeader().setDefaultSectionSize(22)
        self.points.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.points.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        # The numbers and the visibility as wide as they are; the landmark name takes what is left (elided,
        # in full in its tooltip): sized to the longest name it pushed y and the visibility out of the dock.
        header = self.points.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.points.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.points.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.points.cellDoubleClicked.connect(self._on_row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.points, 1)
        self.show_garment(None, None)

    def show_garment(self, garment_id: int | None, garment: Garment | None) -> None:
        self.garment_id = garment_id
        enabled = garment is not None
        self.category.setEnabled(enabled)
        if garment is None:
            self.summary.setText("No garment selected. Press B to draw a box for a new garment.")
            self.status.setText("–")
            self.score.setText("–")
            self.model.setText("–")
            self.category_note.setText("")
            self.points.setRowCount(0)
            return
        cat = deepfashion2().category(garment.category_id)
        self.category.setCurrentIndex(self.category.findData(cat.id))
        labelled = sum(kp.visibility != Visibility.ABSENT for kp in garment.keypoints)
        self.summary.setText(f"Garment #{garment_id}: {labelled} of {cat.num_keypoints} landmarks placed")
        self.status.setText(str(garment.status))
        self.status.setStyleSheet(f"color: {status_colour(garment.status).name()}; font-weight: bold")
        self.score.setText("–" if garment.score is None else f"{garment.score:.3f}")
        self.model.setText(garment.model_version or "–")
        self.category_note.setText(category_note(garment))
        self.points.setRowCount(cat.num_keypoints)
        for row, (name, kp) in enumerate(zip(cat.landmarks, garment.keypoints, strict=False)):
            absent = kp.visibility == Visibility.ABSENT
            cells = (
                f"{row + 1}. {name}",
                "" if absent else f"{kp.x:.2f}",
                "" if absent else f"{kp.y:.2f}",
                VISIBILITY_LABELS[Visibility(kp.visibility)],
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 0:
                    item.setToolTip(text)
                if col == 3:
                    item.setForeground(QBrush(VISIBILITY_COLOURS[Visibility(kp.visibility)]))
                if col in (1, 2):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.points.setItem(row, col, item)

    def _on_category(self, _index: int) -> None:
        if self.garment_id is not None:
            self.categoryChosen.emit(self.garment_id, int(self.category.currentData()))

    def _on_row(self, row: int, _col: int) -> None:
        if self.garment_id is not None:
            self.pointRowActivated.emit(self.garment_id, row)


UNSURE_CATEGORY = 0.6  # below this the note asks the annotator to check the category


WARN = "<span style='color:#e0a030'>⚠ {}</span>"
WEAK_DETECTION = "a best guess: nothing in the photo passed the detector's threshold — check it is a garment"


def category_note(garment: Garment) -> str:
    """For a model prediction: a warning when it is only the photo's best guess (``weak_detection``), and,
    from a pose graph with a category head, how sure it was of the category and whether the detector
    disagreed (the two look-alikes to choose between); empty otherwise."""
    if garment.status != GarmentStatus.PREDICTED:
        return ""
    weak = WARN.format(WEAK_DETECTION) if garment.extra.get("weak_detection") else ""
    note = _category_sureness(garment)
    return "<br>".join(part for part in (weak, note) if part)


def _category_sureness(garment: Garment) -> str:
    probability = garment.extra.get("category_probability")
    if probability is None:
        return ""
    text = f"model {float(probability):.0%} sure"
    detector = garment.extra.get("category_detector_id")
    if detector is not None and int(detector) != garment.category_id:
        text += f"; the detector said {deepfashion2().category(int(detector)).name}"
    turn = garment.extra.get("orientation", 0)
    if turn:  # the orientation check (ADR 0006) read it turned: worth a glance at waist and hem
        text += "; read upside down" if int(turn) == 180 else "; read sideways"
    if float(probability) < UNSURE_CATEGORY:
        return WARN.format(f"{text} — check the category")
    return text
