"""Retrain the model from the project's corrections, in a separate process, and manage model versions.

Training runs as ``garment-studio train --project …`` in a QProcess: torch never loads into the GUI process,
the window stays responsive, and Cancel ends only that process. The dialog reads the command's progress
lines (``stage: …``, ``[detector] epoch e/E iter i/I …``), the resume hint an interrupted run prints, and its
final ``retrain-result {json}`` line, then offers to activate the new version when it beats its parent on
the project's held-out images.

One dialog per main window, on one project file (its own connection to it, so the window may open another
project meanwhile), and at most one training process in the whole app. The window calls three hooks:
``show_for`` (Model → Retrain model…), ``confirm_quit`` (its closeEvent), ``project_closed`` (its
close_project, which opening another project goes through). Closing the dialog while a run
goes on only hides it, and reopening shows the same dialog with its log and progress.
"""

from __future__ import annotations

import html
import json
import re
import shlex
import sys
from pathlib import Path

import shiboken6
from PySide6.QtCore import QProcess, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from app.store import ProjectStore
from app.store.database import StoreError

RESULT_PREFIX = "retrain-result "  # the line app.training.retrain prints last
# Share of the whole run each stage takes (roughly, on CPU); progress inside a stage comes from its iter lines.
STAGES = {"data": (0, 3), "evaluate-before": (3, 8), "detector": (8, 50), "pose": (50, 85), "export": (85, 92),
          "evaluate-after": (92, 100)}
STAGE_LINE = re.compile(r"^stage: ([\w-]+)")
ITER_LINE = re.compile(r"^\[(detector|pose)\] epoch (\d+)/(\d+) iter (\d+)/(\d+)")
# What app.training.retrain._resume_hint prints when a run stops during training (Cancel, Ctrl-C, a failure).
RESUME_LINE = re.compile(r"retrain stopped: nothing was registered; (?P<folder>.+?) keeps its checkpoints"
                         r".*Continue it with: (?P<command>.+)$")
EMPTY_RUN_LINE = re.compile(r"retrain stopped before its first checkpoint: nothing to resume, (?P<folder>.+) "
                            r"can be deleted")
INTERRUPTED = 130  # the CLI's exit code for an interrupt (SIGINT, or SIGTERM from Cancel)
CANCEL_GRACE_MS = 30000  # after Cancel, the run writes its resume hint and exits; killed only past this
QUIT_WAIT_MS = 30000  # how long quitting waits for a stopped run to exit before killing it


def _cli(args: list[str]) -> tuple[str, list[str]]:
    if getattr(sys, "frozen", False):  # the frozen app is its own CLI
        return sys.executable, args
    return sys.executable, ["-m", "app.cli.main", *args]


def train_command(project: Path, epochs: int, replay: float) -> tuple[str, list[str]]:
    """Program and arguments of ``garment-studio train --project …`` for this installation."""
    return _cli(["train", "--project", str(project), "--epochs", str(epochs), "--replay", f"{replay:g}"])


def resume_command(project: Path, checkpoint: Path) -> tuple[str, list[str]]:
    """Program and arguments of ``garment-studio train --project … --resume CKPT`` (the run's own settings)."""
    return _cli(["train", "--project", str(project), "--resume", str(checkpoint)])


class ProgressParser:
    """Turns the command's output lines into a 0..100 progress value and a short status text, and keeps its
    result (``retrain-result``) or, for a run that stopped, where its partial folder is and how to resume."""

    def __init__(self):
        self.percent = 0
        self.stage = ""
        self.result: dict | None = None
        self.run_folder: str | None = None  # an interrupted run's folder (checkpoints, no model)
        self.resume_checkpoint: str | None = None
        self.resume_hint: str | None = None  # the command as the run printed it

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
        elif m := RESUME_LINE.search(line):
            self.run_folder, self.resume_hint = m.group("folder"), m.group("command").strip()
            try:
                words = shlex.split(self.resume_hint)
                self.resume_checkpoint = words[words.index("--resume") + 1]
            except (ValueError, IndexError):
                self.resume_checkpoint = None
        elif m := EMPTY_RUN_LINE.search(line):
            self.run_folder, self.resume_checkpoint, self.resume_hint = m.group("folder"), None, None


def ask(parent, title: str, text: str, choices: list[str], default: int = 0) -> int | None:
    """A question with these buttons: the index of the one chosen, None when the box was closed (Esc: the
    last choice, which callers make the safe one)."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=parent)
    roles = [QMessageBox.ButtonRole.AcceptRole, *[QMessageBox.ButtonRole.ActionRole] * (len(choices) - 2),
             QMessageBox.ButtonRole.RejectRole][-len(choices):]
    buttons = [box.addButton(choice, role) for choice, role in zip(choices, roles, strict=True)]
    box.setDefaultButton(buttons[default])
    box.setEscapeButton(buttons[-1])
    box.exec()
    return next((i for i, b in enumerate(buttons) if b is box.clickedButton()), None)


_running: list[RetrainDialog] = []  # at most one training process in the app, whichever window started it


def running_dialog() -> RetrainDialog | None:
    """The dialog whose training process runs, if any."""
    _running[:] = [d for d in _running if shiboken6.isValid(d) and d.process is not None]
    return _running[0] if _running else None


def _same_file(a: Path | str, b: Path | str) -> bool:
    return Path(a).resolve() == Path(b).resolve()


class RetrainDialog(QDialog):
    """Retrain, follow, cancel, resume; list model versions and activate one (or go back to the bundled model).
    All of it on the project file it was opened on, named in its title."""

    modelActivated = Signal()

    def __init__(self, store, parent=None):
        super().__init__(parent)
        self.project = Path(store.path if hasattr(store, "path") else store)
        # Its own connection: the window closes its store when it opens another project, and a run going on
        # here must still list, activate and roll back versions of this one.
        self.store = ProjectStore.open(self.project)
        self.disposed = False
        self.setWindowTitle(f"Retrain model — {self.project.name}")
        self.process: QProcess | None = None
        self.parser = ProgressParser()
        self._buffer = ""
        self._cancelling = False
        self._resumed_from: ProgressParser | None = None  # the stopped run's parser, when this one resumes it
        self._quitting = False
        self._kill_timer = QTimer(self, singleShot=True, interval=CANCEL_GRACE_MS)
        self._kill_timer.timeout.connect(self._kill)
        self.project_label = QLabel(f"Project: <b>{html.escape(self.project.name)}</b> "
                                    f"({html.escape(str(self.project.resolve().parent))})")
        self.project_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note = QLabel()  # says when the window has another project open than this dialog's
        self.note.setWordWrap(True)
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setStyleSheet("color: #a0522d; font-weight: bold")
        self.note.hide()
        self.epochs = QSpinBox(minimum=1, maximum=200, value=8)
        self.replay = QDoubleSpinBox(minimum=0.0, maximum=0.9, singleStep=0.1, value=0.2, decimals=2)
        form = QFormLayout()
        form.addRow("Epochs", self.epochs)
        form.addRow("Synthetic replay share", self.replay)
        self.start_button = QPushButton("Start retraining")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.resume_button = QPushButton("Resume the cancelled run")
        self.resume_button.hide()
        self.progress = QProgressBar()
        self.status = QLabel("Fine-tunes the active model on this project's corrected and verified garments.")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # paths, commands
        self.offer_button = QPushButton("Activate the new version")
        self.offer_button.hide()
        self._offered: int | None = None
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(5000)
        self.versions = QTableWidget(0, 5)
        self.versions.setHorizontalHeaderLabels(["id", "version", "parent", "held-out AP before → after", "active"])
        self.versions.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.versions.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.activate_button = QPushButton("Activate selected version")
        self.bundled_button = QPushButton("Use the bundled model")
        buttons = QHBoxLayout()
        for b in (self.start_button, self.cancel_button, self.resume_button):
            buttons.addWidget(b)
        version_buttons = QHBoxLayout()
        for b in (self.activate_button, self.bundled_button):
            version_buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addWidget(self.project_label)
        layout.addWidget(self.note)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.offer_button)
        layout.addWidget(self.log, 1)
        self.versions_label = QLabel(f"Model versions of {self.project.name}")
        layout.addWidget(self.versions_label)
        layout.addWidget(self.versions)
        layout.addLayout(version_buttons)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button.clicked.connect(self.resume)
        self.offer_button.clicked.connect(self._activate_offered)
        self.activate_button.clicked.connect(self._activate_selected)
        self.bundled_button.clicked.connect(self.use_bundled)
        self.versions.itemSelectionChanged.connect(self._on_selection)
        self.refresh_versions()
        if not self.store.list_models():
            self.status.setText("No retrained versions yet: the project uses the bundled model.")
        self.resize(760, 680)

    @property
    def running(self) -> bool:
        return self.process is not None

    def is_for(self, path: Path | str | None) -> bool:
        return path is not None and _same_file(path, self.project)

    # Window ---------------------------------------------------------------------------------------------
    def _window_project(self) -> Path | None | bool:
        """The project open in the parent window (None: none open), or False when there is no such window."""
        window = self.parentWidget()
        if window is None or not hasattr(window, "store"):
            return False
        return None if window.store is None else Path(window.store.path)

    def update_note(self) -> None:
        """Say so when the window no longer has this dialog's project open: everything here acts on it."""
        shown = self._window_project()
        if shown is False or self.is_for(shown):
            self.note.hide()
            return
        now = "no project" if shown is None else f"{shown.name}"
        doing = "This training goes on with" if self.running else "Everything here acts on"
        self.note.setText(f"The window now has {now} open; this dialog is still for {self.project.name}. "
                          f"{doing} {self.project.name} only: activating a version or using the bundled model "
                          f"changes {self.project.name}, not {now}.")
        self.note.show()

    def _tell_window(self, text: str) -> None:
        window = self.parentWidget()
        if window is not None and hasattr(window, "statusBar"):
            window.statusBar().showMessage(text, 15000)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.update_note()
        if not self.disposed:
            self.refresh_versions()  # another window or the CLI may have activated a version meanwhile

    def reject(self) -> None:
        """Esc or the close button: a run goes on in the background, and Model → Retrain model… shows this
        dialog again, log and progress included."""
        if self.running:
            self._tell_window(f"Retraining {self.project.name} goes on in the background: Model → Retrain "
                              "model… shows it.")
        super().reject()

    def dispose(self) -> None:
        """Close and delete an idle dialog, with its connection to the project."""
        if self.running:
            raise RuntimeError("a training process is running")
        self.disposed = True
        self.hide()
        self.store.close()
        self.deleteLater()

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

    def worse_than(self, version) -> list[str]:
        """Why this version scored worse than the model it would replace (held-out keypoint AP), if it did."""
        reasons = []
        before, after = version.metrics.get("held_out_before"), version.metrics.get("held_out_after")
        if before and after and after["keypoint_AP"] < before["keypoint_AP"]:
            parent = version.metrics.get("parent") or "its parent"
            reasons.append(f"its held-out keypoint AP fell from {before['keypoint_AP']:.3f} ({parent}) to "
                           f"{after['keypoint_AP']:.3f}")
        active = self.store.active_model()
        if active is not None and active.id != version.id and after:
            theirs = active.metrics.get("held_out_after")
            # against its own parent the run's "before" (same held-out images) already said it, above
            if active.id != version.parent_id and theirs and theirs["keypoint_AP"] > after["keypoint_AP"]:
                reasons.append(f"the active version {active.id} ({active.name} {active.version}) scored "
                               f"{theirs['keypoint_AP']:.3f} against its {after['keypoint_AP']:.3f} "
                               "(each on the held-out images of its own run)")
        return reasons

    def activate(self, model_id: int) -> bool:
        try:
            version = self.store.model_version(model_id)
        except StoreError as exc:
            self.status.setText(f"Version {model_id} not activated: {exc}")
            return False
        problem = self.store.model_problem(version)
        if problem is not None:  # a version whose files are gone or altered would break every prediction
            self.status.setText(f"Version {model_id} cannot be used: {problem}")
            return False
        if not version.active and (reasons := self.worse_than(version)):
            choice = ask(self, "Activate a worse version?",
                         f"Version {model_id} ({version.name} {version.version}) of {self.project.name} scored "
                         f"worse than the model it would replace: {'; '.join(reasons)}.\n\nActivate it anyway?",
                         ["Activate anyway", "Keep the current model"], default=1)
            if choice != 0:
                self.status.setText(f"Version {model_id} not activated: the current model stays.")
                return False
        try:
            self.store.set_active_model(model_id)
        except StoreError as exc:  # a read-only or busy project
            self.status.setText(f"Version {model_id} not activated: {exc}")
            return False
        self.refresh_versions()
        self.status.setText(f"Version {model_id} is the model of {self.project.name} now.")
        self.modelActivated.emit()
        return True

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

    def _activate_offered(self) -> None:
        if self._offered is not None and self.activate(self._offered):
            self.offer_button.hide()

    # Training process ------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.process is not None or not self._may_start():
            return
        if not self.store.has_reviewed_garments():
            self.status.setText("Nothing to learn from yet: correct or verify some garments first (the model "
                                "is retrained on what a person has checked).")
            return
        self._launch(*train_command(self.project, self.epochs.value(), self.replay.value()))

    def resume(self) -> None:
        """Go on with the interrupted run from its last checkpoint, with the settings it recorded."""
        checkpoint = self.parser.resume_checkpoint
        if self.process is not None or checkpoint is None or not self._may_start():
            return
        stopped = self.parser
        self._launch(*resume_command(self.project, Path(checkpoint)))
        self._resumed_from = stopped

    def _may_start(self) -> bool:
        other = running_dialog()
        if other is not None and other is not self:
            where = "" if other.parentWidget() is self.parentWidget() else " (in another window)"
            self.status.setText(f"Another retraining is running, on {other.project.name}{where}: one at a time. "
                                "Wait for it or cancel it there.")
            return False
        return True

    def _launch(self, program: str, args: list[str]) -> None:
        self.parser = ProgressParser()
        self._resumed_from = None  # the stopped run's parser, when this one resumes it
        self._buffer = ""
        self._cancelling = False
        self.log.clear()
        self.progress.setValue(0)
        self.offer_button.hide()
        self.resume_button.hide()
        self.log.appendPlainText("$ " + " ".join([Path(program).name, *args]))
        process = QProcess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.readyReadStandardOutput.connect(self._read_output)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._process_error)
        self.process = process
        _running.append(self)
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText(f"Starting the training process on {self.project.name}…")
        self.update_note()
        process.start(program, args)

    def cancel(self) -> None:
        """Stop the run as Ctrl-C would (SIGTERM: the command writes where its checkpoints are and how to
        resume, then exits with 130); killed only if it has not exited after CANCEL_GRACE_MS."""
        if self.process is None:
            return
        self._cancelling = True
        self.cancel_button.setEnabled(False)
        self.status.setText("Cancelling: the run saves where it got to…")
        self.process.terminate()
        self._kill_timer.start()

    def stop(self, msecs: int = QUIT_WAIT_MS) -> None:
        """Cancel and wait for the process to end (quitting): killed when it takes longer than msecs."""
        if self.process is None:
            return
        self._quitting = True
        if not self._cancelling:  # a cancel under way is waited for, not sent again (its hint would be lost)
            self.cancel()
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            if self.process is not None and not self.process.waitForFinished(msecs):
                self._kill()
                if self.process is not None:
                    self.process.waitForFinished(5000)
        finally:
            QApplication.restoreOverrideCursor()

    def _kill(self) -> None:
        if self.process is not None:
            self.log.appendPlainText("(the process did not stop in time: killed)")
            self.process.kill()

    def wait(self, msecs: int) -> bool:
        return self.process is None or self.process.waitForFinished(msecs)

    def _read_output(self) -> None:
        if self.process is None:
            return
        self._buffer += bytes(self.process.readAllStandardOutput()).decode("utf-8", errors="replace")
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            self._feed(line.rstrip("\r"))

    def _feed(self, line: str) -> None:
        self.log.appendPlainText(line)
        self.parser.feed(line)
        self.progress.setValue(self.parser.percent)
        if self.parser.stage and not self._cancelling:
            self.status.setText(f"Running on {self.project.name}: {self.parser.stage}")

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
        cancelled = self._cancelling or (code == INTERRUPTED and status == QProcess.ExitStatus.NormalExit)
        if result is not None:  # registered, even when a cancel or a failure came after its result line
            self._offer(result)
        elif cancelled:
            self.progress.setValue(0)
            if self.parser.run_folder is None and self._resumed_from is not None:
                # a resumed run cancelled again before it reached training: the same checkpoint resumes it
                self.parser = self._resumed_from
            self.status.setText("Cancelled. Nothing was registered." + self._partial_run())
        else:
            # the command's own one-line reason, where it gave one, says more than an exit code
            reason = next((line.split("error:", 1)[1].strip() for line in
                           reversed(self.log.toPlainText().splitlines()) if "error:" in line), "")
            detail = f": {reason}" if reason else f" (exit code {code}); see the log"
            self.status.setText(f"Training failed{detail}. Nothing was registered." + self._partial_run())
        self._done()
        if not self._quitting and not self.isVisible() and not self.disposed:
            self.show()  # a run that ended in the background: its result (or failure) is here
            self._tell_window(f"Retraining {self.project.name} ended: {self.status.text()}")

    def _partial_run(self) -> str:
        p = self.parser
        self.resume_button.setVisible(p.resume_checkpoint is not None)
        if p.resume_checkpoint is not None:
            return (f" The partial run is in {p.run_folder} (checkpoints, no model yet): Resume goes on from its "
                    f"last checkpoint, or delete that folder. Command: {p.resume_hint}")
        if p.run_folder is not None:
            return f" It stopped before its first checkpoint: nothing to resume; {p.run_folder} can be deleted."
        return ""

    def _done(self) -> None:
        self._kill_timer.stop()
        self.process = None
        if self in _running:
            _running.remove(self)
        self._cancelling = False
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if not self.disposed:
            self.refresh_versions()
        self.update_note()

    def _offer(self, result: dict) -> None:
        before, after = result.get("before"), result.get("after")
        scores = (f"held-out keypoint AP {before['keypoint_AP']:.3f} (current) → {after['keypoint_AP']:.3f} (new)"
                  if before and after else "no held-out images to compare on")
        text = f"New version {result['model_id']} ({result['version']}) of {self.project.name}: {scores}."
        self._offered = result["model_id"]
        if result.get("active"):
            self.status.setText(text + " It is active.")
        elif result.get("better"):
            self.status.setText(text + " It beats the current model: activate it?")
            self.offer_button.setText(f"Activate version {result['model_id']}")
            self.offer_button.show()
        elif before and after and after["keypoint_AP"] < before["keypoint_AP"]:
            self.status.setText(text + " It scored worse than the current model, which stays active (activating "
                                "it from the list asks first).")
        else:
            self.status.setText(text + " It does not beat the current model, which stays active.")


# Hooks for the main window: one line each -----------------------------------------------------------------
def dialog_of(window) -> RetrainDialog | None:
    """The window's retrain dialog (shown or hidden), if it has one."""
    return next((c for c in window.children() if isinstance(c, RetrainDialog) and not c.disposed), None)


def show_for(window) -> RetrainDialog | None:
    """Model → Retrain model…: the window's dialog again when a run goes on (whatever project the window has
    now) or when it is on the window's project; otherwise a new one on the window's project."""
    dialog = dialog_of(window)
    store = getattr(window, "store", None)
    if dialog is not None and not dialog.running and (store is None or not dialog.is_for(store.path)):
        dialog.dispose()
        dialog = None
    if dialog is None:
        if store is None:
            window.statusBar().showMessage("Open a project to retrain its model", 5000)
            return None
        dialog = RetrainDialog(store, window)
        dialog.modelActivated.connect(lambda: _model_changed(window, dialog))
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog


def _model_changed(window, dialog: RetrainDialog) -> None:
    store = getattr(window, "store", None)
    if store is not None and dialog.is_for(store.path):  # another project's model is not the window's
        window.load_project_model()


def project_closed(window) -> None:
    """The window closed its project (or is opening another): an idle dialog goes with it; one whose run
    goes on stays on its project and says that the window has another one now."""
    dialog = dialog_of(window)
    if dialog is None:
        return
    if dialog.running:
        dialog.update_note()
    else:
        dialog.dispose()


def confirm_quit(window) -> bool:
    """Before the window closes: False when a run of its dialog goes on and the user keeps working; True
    otherwise, after stopping the run as Cancel does (it prints how to resume) and waiting for it."""
    dialog = dialog_of(window)
    if dialog is None or not dialog.running:
        return True
    choice = ask(window, "Training is running",
                 f"Retraining {dialog.project.name} is still running. Quitting stops it: nothing is registered, "
                 "and its checkpoints stay so that Resume (or the command in its log) can go on later.",
                 ["Stop training and quit", "Keep working"], default=1)
    if choice != 0:
        dialog.show()
        dialog.raise_()
        return False
    dialog.stop()
    return True
