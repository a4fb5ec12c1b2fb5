"""Background jobs (auto-annotation, image import) off the GUI thread, cancellable, with progress.

A job is a plain function ``fn(ctx, *args) -> result``; it reports through ``ctx.progress`` and
stops early when ``ctx.cancelled`` turns true. Jobs open their own store connection: SQLite
connections must not cross threads.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget


class JobContext:
    def __init__(self, signals: _JobSignals):
        self._signals = signals
        self._cancel = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def progress(self, done: int, total: int, message: str = "") -> None:
        self._signals.progress.emit(done, total, message)

    def item_done(self, payload: object) -> None:
        """Report one finished item (e.g. an image id) so the window can refresh it at once."""
        self._signals.item.emit(payload)


class _JobSignals(QObject):
    progress = Signal(int, int, str)
    item = Signal(object)
    finished = Signal(object)
    failed = Signal(str)


class _Runnable(QRunnable):
    def __init__(self, fn: Callable, args: tuple, ctx: JobContext, signals: _JobSignals):
        super().__init__()
        self.fn, self.args, self.ctx, self.signals = fn, args, ctx, signals

    def run(self) -> None:
        try:
            result = self.fn(self.ctx, *self.args)
        except Exception as exc:  # reported in the window, never lost in a thread
            traceback.print_exc()
            self.signals.failed.emit(f"{type(exc).__name__}: {exc}")
            return
        self.signals.finished.emit(result)


class JobRunner(QObject):
    """Runs one job at a time on a private thread pool and relays its signals to the GUI thread."""

    started = Signal(str)
    progress = Signal(int, int, str)
    itemDone = Signal(object)
    finished = Signal(str, object)  # job name, result
    failed = Signal(str, str)
    refused = Signal(str)  # why a job did not start (one is running): said, not swallowed

    def __init__(self, parent=None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._ctx: JobContext | None = None
        self.name = ""
        self.started_at = 0.0

    @property
    def busy(self) -> bool:
        return self._ctx is not None

    def start(self, name: str, fn: Callable, *args) -> bool:
        if self.busy:
            self.refused.emit(f"{name}: not started: {self.name} is still running (Esc cancels it)")
            return False
        signals = _JobSignals(self)
        self._ctx = ctx = JobContext(signals)
        self.name, self.started_at = name, time.perf_counter()
        signals.progress.connect(self.progress)
        signals.item.connect(self.itemDone)
        signals.finished.connect(lambda result: self._end(name, result, None))
        signals.failed.connect(lambda message: self._end(name, None, message))
        self.started.emit(name)
        self._pool.start(_Runnable(fn, args, ctx, signals))
        return True

    def cancel(self) -> None:
        if self._ctx is not None:
            self._ctx.cancel()

    def wait(self, msecs: int = -1) -> bool:
        return self._pool.waitForDone(msecs)

    def _end(self, name: str, result: object, error: str | None) -> None:
        self._ctx = None
        if error is None:
            self.finished.emit(name, result)
        else:
            self.failed.emit(name, error)


class JobsWidget(QWidget):
    """Status-bar strip: job name, progress bar, throughput, cancel button."""

    def __init__(self, runner: JobRunner, parent=None):
        super().__init__(parent)
        self.runner = runner
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setFixedWidth(180)
        self.bar.setTextVisible(True)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.clicked.connect(runner.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        runner.started.connect(self._on_started)
        runner.progress.connect(self._on_progress)
        runner.finished.connect(lambda *_: self.hide())
        runner.failed.connect(lambda *_: self.hide())
        self.hide()

    def _on_started(self, name: str) -> None:
        self.label.setText(name)
        self.bar.setRange(0, 0)
        self.show()

    def _on_progress(self, done: int, total: int, message: str) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        elapsed = time.perf_counter() - self.runner.started_at
        rate = done / elapsed if elapsed > 0 else 0.0
        self.label.setText(f"{self.runner.name}: {done}/{total}  {rate:.1f}/s  {message}")
