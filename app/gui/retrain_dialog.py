"""Retrain the model from the project's corrections, in a separate process, and manage model versions.

Training runs as ``garment-studio train --project …`` in a QProcess: torch never loads into the GUI process,
the window stays responsive, and Cancel ends only that process. The dialog reads the command's progress
lines (``stage: …``, ``[detector] epoch e/E iter i/I …``) and its final ``retrain-result {json}`` line, then
offers to activate the new version when it beats its parent on the project's held-out images.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from PySide6.QtCore import QProcess, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from app.store.database import StoreError

RESULT_PREFIX = "retrain-result "  # the line app.training.retrain prints last
# Share of the whole run each stage takes (roughly, on CPU); progress inside a stage comes from its iter lines.
STAGES = {"data": (0, 3), "evaluate-before": (3, 8), "detector": (8, 50), "pose": (50, 85), "export": (85, 92),
          "evaluate-after": (92, 100)}
STAGE_LINE = re.compile(r"^stage: ([\w-]+)")
ITER_LINE = re.compile(r"^\[(detector|pose)\] epoch (\d+)/(\d+) iter (\d+)/(\d+)")


def train_command(project: Path, epochs: int, replay: float) -> tuple[str, list[str]]:
    """Program and arguments of ``garment-studio train --project …`` for this installation."""
    args = ["train", "--project", str(project), "--epochs", str(epochs), "--replay", f"{replay:g}"]
    if getattr(sys, "frozen", False):  # the frozen app is its own CLI
        return sys.executable, args
    return sys.executable, ["-m", "app.cli.main", *args]


class ProgressParser:
    """Turns the command's output lines into a 0..100 progress value and a short status text."""

    def __init__(self):
        self.percent = 0
        self.stage = ""
        self.result: dict | None = None

    def feed(self, line: str) -> None:
        if line.startswith(RESULT_PREFIX):
            self.result = json.loads(line[len(RESULT_PREFIX):])
            self.percent = 100
            return
        if m := STAGE_LINE.match(line):
            self.stage = m.group(1)
            self.percent = max(self.percent, STAGES.get(self.stage, (self.percent, 0))[0])
        elif m := ITER_LINE.match(line):
            stage, epoch, epochs, it, iters = m.group(1), *map(int, m.groups()[1:])
            start, end = STAGES[stage]
            done = ((epoch - 1) + it / max(iters, 1)) / max(epochs, 1)
            self.stage = f"{stage} epoch {epoch}/{epochs}"
            self.percent = max(self.percent, int(start + (end - start) * done))


class RetrainDialog(QDialog):
    """Retrain, follow, cancel; list model versions and activate one (or roll back to the bundled model)."""

    modelActivated = Signal()

    def __init__(self, store, parent=None):
        super().__init__(parent)
        self.store = store
        self.setWindowTitle("Retrain model")
        self.process: QProcess | None = None
        self.parser = ProgressParser()
        self._buffer = ""
        self.epochs = QSpinBox(minimum=1, maximum=200, value=8)
        self.replay = QDoubleSpinBox(minimum=0.0, maximum=0.9, singleStep=0.1, value=0.2, decimals=2)
        form = QFormLayout()
        form.addRow("Epochs", self.epochs)
        form.addRow("Synthetic replay share", self.replay)
        self.start_button = QPushButton("Start retraining")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.status = QLabel("Fine-tunes the active model on this project's corrected and verified garments.")
        self.status.setWordWrap(True)
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(5000)
        self.versions = QTableWidget(0, 5)
        self.versions.setHorizontalHeaderLabels(["id", "version", "parent", "held-out AP before → after", "active"])
        self.versions.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.versions.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.activate_button = QPushButton("Activate selected version")
        self.bundled_button = QPushButton("Use the bundled model")
        buttons = QHBoxLayout()
        for b in (self.start_button, self.cancel_button):
            buttons.addWidget(b)
        version_buttons = QHBoxLayout()
        for b in (self.activate_button, self.bundled_button):
            version_buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.log, 1)
        layout.addWidget(QLabel("Model versions of this project"))
        layout.addWidget(self.versions)
        layout.addLayout(version_buttons)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.activate_button.clicked.connect(self._activate_selected)
        self.bundled_button.clicked.connect(self.use_bundled)
        self.versions.itemSelectionChanged.connect(self._on_selection)
        self.refresh_versions()
        if not self.store.list_models():
            self.status.setText("No retrained versions yet: the project uses the bundled model.")
        self.resize(760, 640)

    # Versions ------------------------------------------------------------------------------------------
    def refresh_versions(self) -> None:
        models = self.store.list_models()
        self.versions.setRowCount(len(models))
        for row, v in enumerate(models):
            before, after = v.metrics.get("held_out_before"), v.metrics.get("held_out_after")
            ap = f"{before['keypoint_AP']:.3f} → {after['keypoint_AP']:.3f}" if before and after else "-"
            cells = (str(v.id), f"{v.name} {v.version}", "-" if v.parent_id is None else str(v.parent_id), ap,
                     "yes" if v.active else "")
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, v.id)
                self.versions.setItem(row, col, item)
        self.versions.resizeColumnsToContents()
        self._on_selection()

    def _on_selection(self, *_args) -> None:
        self.activate_button.setEnabled(bool(self.versions.selectionModel().selectedRows()))

    def activate(self, model_id: int) -> None:
        problem = self.store.model_problem(self.store.model_version(model_id))
        if problem is not None:  # a version whose files are gone or altered would break every prediction
            self.status.setText(f"Version {model_id} cannot be used: {problem}")
            return
        try:
            self.store.set_active_model(model_id)
        except StoreError as exc:  # a read-only or busy project
            self.status.setText(f"Version {model_id} not activated: {exc}")
            return
        self.refresh_versions()
        self.status.setText(f"Version {model_id} is the project's model now.")
        self.modelActivated.emit()

    def use_bundled(self) -> None:
        try:
            self.store.clear_active_model()
        except StoreError as exc:
            self.status.setText(f"Not changed: {exc}")
            return
        self.refresh_versions()
        self.status.setText("The project uses the bundled model.")
        self.modelActivated.emit()

    def _activate_selected(self) -> None:
        rows = self.versions.selectionModel().selectedRows()
        if rows:
            self.activate(int(self.versions.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole)))

    # Training process ------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.process is not None:
            return
        if not self.store.has_reviewed_garments():
            self.status.setText("Nothing to learn from yet: correct or verify some garments first (the model "
                                "is retrained on what a person has checked).")
            return
        self.parser = ProgressParser()
        self._buffer = ""
        self.log.clear()
        self.progress.setValue(0)
        program, args = train_command(Path(self.store.path), self.epochs.value(), self.replay.value())
        self.log.appendPlainText("$ " + " ".join([Path(program).name, *args]))
        process = QProcess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.readyReadStandardOutput.connect(self._read_output)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._process_error)
        self.process = process
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("Starting the training process…")
        process.start(program, args)

    def cancel(self) -> None:
        if self.process is None:
            return
        self.status.setText("Cancelling…")
        self.process.terminate()
        if not self.process.waitForFinished(3000):
            self.process.kill()

    def wait(self, msecs: int) -> bool:
        return self.process is None or self.process.waitForFinished(msecs)

    def _read_output(self) -> None:
        self._buffer += bytes(self.process.readAllStandardOutput()).decode("utf-8", errors="replace")
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            self._feed(line.rstrip("\r"))

    def _feed(self, line: str) -> None:
        self.log.appendPlainText(line)
        self.parser.feed(line)
        self.progress.setValue(self.parser.percent)
        if self.parser.stage:
            self.status.setText(f"Running: {self.parser.stage}")

    def _process_error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.status.setText(f"Could not start the training process: {self.process.errorString()}")
            self._done()

    def _finished(self, code: int, status) -> None:
        if self.process is not None:
            self._read_output()
            if self._buffer:
                self._feed(self._buffer)
                self._buffer = ""
        result = self.parser.result
        if status == QProcess.ExitStatus.CrashExit or (code != 0 and result is None):
            # the command's own one-line reason, where it gave one, says more than an exit code
            reason = next((line.split("error:", 1)[1].strip() for line in
                           reversed(self.log.toPlainText().splitlines()) if "error:" in line), "")
            detail = f": {reason}" if reason else f" (exit code {code}); see the log"
            self.status.setText(f"Training stopped{detail}. Nothing was registered.")
        elif result is not None:
            self._offer(result)
        self._done()

    def _done(self) -> None:
        self.process = None
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.refresh_versions()

    def _offer(self, result: dict) -> None:
        before, after = result.get("before"), result.get("after")
        scores = (f"held-out keypoint AP {before['keypoint_AP']:.3f} → {after['keypoint_AP']:.3f}"
                  if before and after else "no held-out images to compare on")
        text = f"New version {result['model_id']} ({result['version']}): {scores}."
        if result.get("better"):
            self.status.setText(text + " It beats the current model: activate it?")
            self.offer_button = QPushButton(f"Activate version {result['model_id']}")
            self.offer_button.clicked.connect(lambda: (self.activate(result["model_id"]), self.offer_button.hide()))
            self.layout().insertWidget(3, self.offer_button)
        else:
            self.status.setText(text + " It does not beat the current model, which stays active.")
