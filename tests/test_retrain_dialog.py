"""The retrain dialog's life beside the main window: one dialog per window that outlives Esc while a run goes
on, one training at a time, quitting asks and stops a run cleanly, the dialog stays on its own project, a
cancel is a cancel (with Resume), and a version that scored worse is activated only when confirmed.

No real training: the command is a small script that prints what ``garment-studio train --project`` prints
(and, like it, answers SIGTERM with its resume hint and exit code 130)."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("PySide6")

from retrain_fixtures import fake_card, skirt_project  # noqa: E402

from app.gui import retrain_dialog  # noqa: E402
from app.gui.retrain_dialog import ProgressParser, RetrainDialog, resume_command  # noqa: E402
from app.store import ProjectStore  # noqa: E402


@pytest.fixture
def project(tmp_path):
    return skirt_project(tmp_path / "shop.db", 2)


@pytest.fixture
def store(project):
    with ProjectStore.open(project) as s:
        yield s


@pytest.fixture
def window(qtbot):
    from app.gui.main_window import MainWindow

    win = MainWindow(load_model=False, restore_layout=False)
    qtbot.addWidget(win)
    yield win
    dialog = retrain_dialog.dialog_of(win)
    if dialog is not None and dialog.running:
        dialog.stop(10000)


@pytest.fixture
def questions(monkeypatch):
    """Answers the dialog's questions from ``answers`` (a list, first in first out) and records them."""
    asked = SimpleNamespace(answers=[], texts=[])

    def ask(_parent, title, text, choices, default=0):
        asked.texts.append(f"{title}: {text}")
        return asked.answers.pop(0)

    monkeypatch.setattr(retrain_dialog, "ask", ask)
    return asked


def _fake(tmp_path, monkeypatch, body: str, name: str = "train", command: str = "train_command") -> Path:
    script = tmp_path / f"fake_{name}.py"
    script.write_text(textwrap.dedent(body), encoding="utf-8")
    calls = tmp_path / f"{name}_calls.txt"
    monkeypatch.setattr(retrain_dialog, command,
                        lambda *a: (calls.open("a").write(json.dumps([str(x) for x in a]) + "\n"),
                                    (sys.executable, [str(script)]))[1])
    return calls


# Sleeps until SIGTERM, then does what `train --project` does on it: the resume hint, "interrupted", exit 130.
def _interruptible(hint: str) -> str:
    return f"""
        import signal, sys, time
        def stop(*_):
            print({hint!r}, flush=True)
            print("interrupted", file=sys.stderr, flush=True)
            sys.exit(130)
        signal.signal(signal.SIGTERM, stop)
        print("stage: data", flush=True)
        print("stage: detector", flush=True)
        print("[detector] epoch 2/4 iter 5/10 loss 2.0 (focal 1.0) lr 1e-4 2.0 it/s ETA 0.1 min", flush=True)
        while True:
            time.sleep(0.05)
    """


def _hint(project: Path, folder: Path) -> str:
    """The resume hint app.training.retrain prints, for a run folder with a pose checkpoint."""
    pytest.importorskip("torch")
    from app.training.retrain import _resume_hint

    (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
    (folder / "checkpoints" / "pose.pt").write_bytes(b"checkpoint")
    return _resume_hint(SimpleNamespace(project=project), folder)


def _until_running(qtbot, dialog):
    qtbot.waitUntil(lambda: "stage: detector" in dialog.log.toPlainText(), timeout=20000)


# 1. One dialog per window, kept while its run goes on; never two runs -------------------------------------
def test_closing_the_dialog_keeps_the_run_and_reopening_shows_it(qtbot, tmp_path, project, window, monkeypatch):
    _fake(tmp_path, monkeypatch, _interruptible("retrain stopped before its first checkpoint: nothing to resume, "
                                                 f"{tmp_path / 'run'} can be deleted"))
    window.open_project(project)
    dialog = retrain_dialog.show_for(window)
    dialog.start()
    _until_running(qtbot, dialog)
    dialog.reject()  # Esc, or the close button
    assert not dialog.isVisible() and dialog.running
    assert "background" in window.statusBar().currentMessage()
    again = retrain_dialog.show_for(window)  # Model → Retrain model… again
    assert again is dialog and again.isVisible() and not again.start_button.isEnabled()
    assert "stage: detector" in again.log.toPlainText() and again.progress.value() > 8
    other = RetrainDialog(ProjectStore.open(project))  # even a second dialog (another window) cannot start one
    qtbot.addWidget(other)
    other.start()
    assert other.process is None and "Another retraining is running" in other.status.text()
    dialog.start()
    assert dialog.process is not None and dialog.log.toPlainText().count("stage: data") == 1
    dialog.cancel()
    qtbot.waitUntil(lambda: not dialog.running, timeout=20000)
    other.start()  # the run is over: now it may
    assert other.process is not None
    other.cancel()
    qtbot.waitUntil(lambda: not other.running, timeout=20000)


def test_a_run_that_ends_in_the_background_shows_its_result(qtbot, tmp_path, project, store, window, monkeypatch):
    new_id = store.register_model("bootstrap", "0.2.0+r1", str(fake_card(tmp_path / "m1")), metrics={
        "held_out_before": {"keypoint_AP": 0.1}, "held_out_after": {"keypoint_AP": 0.4}})
    result = {"model_id": new_id, "version": "0.2.0+r1", "better": True, "active": False,
              "before": {"keypoint_AP": 0.1}, "after": {"keypoint_AP": 0.4}}
    go = tmp_path / "go"
    _fake(tmp_path, monkeypatch, f"""
        import pathlib, time
        print("stage: detector", flush=True)
        while not pathlib.Path({str(go)!r}).exists():
            time.sleep(0.05)
        print("retrain-result " + {json.dumps(json.dumps(result))}, flush=True)
    """)
    window.open_project(project)
    dialog = retrain_dialog.show_for(window)
    dialog.start()
    qtbot.waitUntil(lambda: "stage: detector" in dialog.log.toPlainText(), timeout=20000)
    dialog.reject()
    go.touch()
    qtbot.waitUntil(lambda: not dialog.running, timeout=20000)
    assert dialog.isVisible() and dialog.offer_button.isVisible() and "0.100 (current) → 0.400" in dialog.status.text()
    assert retrain_dialog.dialog_of(window) is dialog
    dialog.reject()
    assert retrain_dialog.show_for(window) is dialog  # idle, same project: the same dialog with its result


# 2. Quitting asks, and stops a run the way Cancel does ----------------------------------------------------
def test_quitting_asks_and_stops_the_run_cleanly(qtbot, tmp_path, project, window, monkeypatch, questions):
    assert retrain_dialog.confirm_quit(window)  # no dialog: nothing to ask
    folder = tmp_path / "models" / "bootstrap-0.2.0+r1"
    _fake(tmp_path, monkeypatch, _interruptible(_hint(project, folder)))
    window.open_project(project)
    dialog = retrain_dialog.show_for(window)
    assert retrain_dialog.confirm_quit(window) and questions.texts == []  # idle: nothing to ask either
    dialog.start()
    _until_running(qtbot, dialog)
    dialog.reject()
    questions.answers = [1]  # "Keep working"
    assert retrain_dialog.confirm_quit(window) is False
    assert dialog.running and dialog.isVisible() and "shop.db is still running" in questions.texts[-1]
    questions.answers = [1]
    window.show()
    assert window.close() is False and window.isVisible() and dialog.running  # the window's close asks too
    questions.answers = [0]  # "Stop training and quit"
    assert retrain_dialog.confirm_quit(window) is True
    assert not dialog.running  # waited for it: no "QProcess: Destroyed while process is still running"
    log = dialog.log.toPlainText()
    assert "Continue it with: garment-studio train --project" in log and "killed" not in log
    assert dialog.status.text().startswith("Cancelled.") and dialog.resume_button.isVisible()


# 3. The dialog is on one project, whatever the window opens next -----------------------------------------
def test_the_dialog_names_its_project_and_stays_on_it_while_it_runs(qtbot, tmp_path, project, store, window,
                                                                    monkeypatch):
    other_project = skirt_project(tmp_path / "other" / "second.db", 1)
    new_id = store.register_model("bootstrap", "0.2.0+r1", str(fake_card(tmp_path / "m1")), metrics={
        "held_out_before": {"keypoint_AP": 0.1}, "held_out_after": {"keypoint_AP": 0.4}})
    result = {"model_id": new_id, "version": "0.2.0+r1", "better": True, "active": False,
              "before": {"keypoint_AP": 0.1}, "after": {"keypoint_AP": 0.4}}
    go = tmp_path / "go"
    calls = _fake(tmp_path, monkeypatch, f"""
        import pathlib, time
        print("stage: detector", flush=True)
        while not pathlib.Path({str(go)!r}).exists():
            time.sleep(0.05)
        print("retrain-result " + {json.dumps(json.dumps(result))}, flush=True)
    """)
    reloads = []
    monkeypatch.setattr(window, "load_project_model", lambda: reloads.append(window.store.path))
    window.open_project(project)
    dialog = retrain_dialog.show_for(window)
    assert "shop.db" in dialog.windowTitle() and "shop.db" in dialog.project_label.text()
    dialog.start()
    assert json.loads(calls.read_text())[0] == str(project)
    qtbot.waitUntil(lambda: "stage: detector" in dialog.log.toPlainText(), timeout=20000)
    window.open_project(other_project)  # close_project calls the hook; so do it here by hand
    retrain_dialog.project_closed(window)
    assert retrain_dialog.show_for(window) is dialog and dialog.running  # the run on shop.db, not a new dialog
    assert dialog.note.isVisible() and "second.db" in dialog.note.text() and "shop.db only" in dialog.note.text()
    go.touch()
    qtbot.waitUntil(lambda: not dialog.running, timeout=20000)
    with qtbot.waitSignal(dialog.modelActivated):
        dialog.offer_button.click()
    assert store.active_model().id == new_id and reloads == []  # shop.db's model, not the window's second.db
    with ProjectStore.open(other_project) as second:
        assert second.active_model() is None
    retrain_dialog.project_closed(window)  # idle now: it goes, and the next one is on second.db
    qtbot.waitUntil(lambda: retrain_dialog.dialog_of(window) is None, timeout=5000)
    fresh = retrain_dialog.show_for(window)
    assert fresh is not dialog and "second.db" in fresh.windowTitle() and not fresh.note.isVisible()


def test_an_idle_dialog_closes_with_its_project(qtbot, tmp_path, project, window):
    window.open_project(project)
    dialog = retrain_dialog.show_for(window)
    window.open_project(skirt_project(tmp_path / "b.db", 1))  # the window tells the dialog (its hook)
    assert retrain_dialog.dialog_of(window) is None and not dialog.isVisible()
    window.open_retrain_dialog()
    assert "b.db" in retrain_dialog.dialog_of(window).windowTitle()
    window.close_project()
    window.open_retrain_dialog()
    assert retrain_dialog.dialog_of(window) is None and "Open a project" in window.statusBar().currentMessage()


# 4. A cancel is a cancel, and the run can be resumed --------------------------------------------------------
def test_cancel_says_cancelled_and_offers_to_resume(qtbot, tmp_path, project, store, monkeypatch):
    folder = tmp_path / "models" / "bootstrap-0.2.0+r1"
    _fake(tmp_path, monkeypatch, _interruptible(_hint(project, folder)))
    resumed = _fake(tmp_path, monkeypatch, """
        import time
        print("stage: data", flush=True)
        time.sleep(60)
    """, name="resume", command="resume_command")
    dialog = RetrainDialog(store)
    qtbot.addWidget(dialog)
    dialog.start()
    _until_running(qtbot, dialog)
    assert dialog.progress.value() > 8
    dialog.cancel()
    qtbot.waitUntil(lambda: not dialog.running, timeout=20000)
    text = dialog.status.text()
    assert text.startswith("Cancelled. Nothing was registered.") and "failed" not in text and "exit code" not in text
    assert dialog.progress.value() == 0 and str(folder) in text and "--resume" in text
    assert dialog.resume_button.isVisible() and dialog.start_button.isEnabled()
    dialog.resume_button.click()
    qtbot.waitUntil(lambda: "stage: data" in dialog.log.toPlainText(), timeout=20000)
    assert json.loads(resumed.read_text()) == [str(project), str(folder / "checkpoints" / "pose.pt")]
    assert not dialog.resume_button.isVisible() and not dialog.start_button.isEnabled()
    dialog.cancel()  # cancelled again before it got to training (no new hint): the same checkpoint resumes it
    qtbot.waitUntil(lambda: not dialog.running, timeout=20000)
    assert dialog.resume_button.isVisible() and str(folder / "checkpoints" / "pose.pt") in dialog.status.text()


def _run_to_the_end(qtbot, store) -> RetrainDialog:
    """A dialog on ``store`` whose (fake) run has been started and has ended."""
    dialog = RetrainDialog(store)
    qtbot.addWidget(dialog)
    dialog.start()
    qtbot.waitUntil(lambda: not dialog.running, timeout=20000)
    return dialog


def _finished_run(qtbot, tmp_path, store, monkeypatch, before: float, after: float, exit_code: int = 0):
    """A dialog whose (fake) run registered a version scoring ``before`` → ``after`` and exited so."""
    new_id = store.register_model("bootstrap", "0.2.0+r1", str(fake_card(tmp_path / "m1")), metrics={
        "held_out_before": {"keypoint_AP": before}, "held_out_after": {"keypoint_AP": after}})
    result = {"model_id": new_id, "version": "0.2.0+r1", "better": after > before, "active": False,
              "before": {"keypoint_AP": before}, "after": {"keypoint_AP": after}}
    _fake(tmp_path, monkeypatch, f"""
        import sys
        print("retrain-result " + {json.dumps(json.dumps(result))}, flush=True)
        sys.exit({exit_code})
    """)
    return _run_to_the_end(qtbot, store)


def test_a_result_printed_before_the_process_stopped_is_still_offered(qtbot, tmp_path, store, monkeypatch):
    # exit 130: Cancel arrived after registration, and the version exists all the same
    dialog = _finished_run(qtbot, tmp_path, store, monkeypatch, 0.1, 0.4, exit_code=130)
    assert dialog.offer_button.isVisible() and "beats" in dialog.status.text()


def test_a_failure_is_not_a_cancel_but_may_be_resumed_too(qtbot, tmp_path, project, store, monkeypatch):
    folder = tmp_path / "models" / "bootstrap-0.2.0+r1"
    _fake(tmp_path, monkeypatch, f"""
        import sys
        print({_hint(project, folder)!r}, flush=True)
        print("garment-studio: error: CUDA out of memory", file=sys.stderr, flush=True)
        sys.exit(1)
    """)
    dialog = _run_to_the_end(qtbot, store)
    assert dialog.status.text().startswith("Training failed: CUDA out of memory. Nothing was registered.")
    assert dialog.resume_button.isVisible()


def test_an_interrupt_from_outside_reads_as_cancelled(qtbot, tmp_path, store, monkeypatch):
    _fake(tmp_path, monkeypatch, """
        import sys
        print("stage: data", flush=True)
        print("retrain stopped before its first checkpoint: nothing to resume, /runs/x can be deleted", flush=True)
        print("interrupted", file=sys.stderr, flush=True)
        sys.exit(130)
    """)
    dialog = _run_to_the_end(qtbot, store)
    assert dialog.status.text() == ("Cancelled. Nothing was registered. It stopped before its first checkpoint: "
                                    "nothing to resume; /runs/x can be deleted.")
    assert not dialog.resume_button.isVisible()


def test_parser_reads_the_resume_hint_the_command_prints(tmp_path):
    folder = tmp_path / "my models" / "bootstrap-0.2.0+r1"  # a space: the hint quotes the path
    parser = ProgressParser()
    parser.feed(_hint(tmp_path / "shop.db", folder))
    assert parser.run_folder == str(folder) and parser.resume_checkpoint == str(folder / "checkpoints" / "pose.pt")
    assert parser.resume_hint.startswith("garment-studio train --project")
    program, args = resume_command(tmp_path / "shop.db", Path(parser.resume_checkpoint))
    assert program == sys.executable
    assert args[-5:] == ["train", "--project", str(tmp_path / "shop.db"), "--resume", parser.resume_checkpoint]


# 5. A version that scored worse is activated only when confirmed ------------------------------------------
def test_activating_a_worse_version_asks_first(qtbot, tmp_path, store, questions):
    parent = store.register_model("bootstrap", "0.2.0+r1", str(fake_card(tmp_path / "m1")), active=True, metrics={
        "held_out_before": {"keypoint_AP": 0.800}, "held_out_after": {"keypoint_AP": 0.880}})
    worse = store.register_model("bootstrap", "0.2.0+r2", str(fake_card(tmp_path / "m2")), parent_id=parent,
                                 metrics={"held_out_before": {"keypoint_AP": 0.880},
                                          "held_out_after": {"keypoint_AP": 0.840}, "parent": "bootstrap 0.2.0+r1"})
    dialog = RetrainDialog(store)
    qtbot.addWidget(dialog)
    assert dialog.versions.item(1, 3).text() == "0.880 → 0.840"
    dialog.versions.selectRow(1)
    questions.answers = [1]  # "Keep the current model"
    dialog.activate_button.click()
    assert store.active_model().id == parent and "not activated" in dialog.status.text()
    assert "0.880 (bootstrap 0.2.0+r1) to 0.840" in questions.texts[0]
    questions.answers = [0]  # "Activate anyway"
    with qtbot.waitSignal(dialog.modelActivated):
        dialog.activate_button.click()
    assert store.active_model().id == worse
    dialog.versions.selectRow(0)  # back to the better one: no question
    dialog.activate_button.click()
    assert store.active_model().id == parent and len(questions.texts) == 2


def test_a_worse_result_is_not_offered_and_says_so(qtbot, tmp_path, store, monkeypatch):
    dialog = _finished_run(qtbot, tmp_path, store, monkeypatch, 0.88, 0.84)
    assert "0.880 (current) → 0.840 (new)" in dialog.status.text() and "scored worse" in dialog.status.text()
    assert not dialog.offer_button.isVisible() and store.active_model() is None


def test_quitting_during_a_cancel_waits_for_it_instead_of_sending_it_again(qtbot, tmp_path, project, store,
                                                                         monkeypatch):
    folder = tmp_path / "models" / "bootstrap-0.2.0+r1"
    slow = _interruptible(_hint(project, folder)).replace(
        "def stop(*_):\n", "def stop(*_):\n            signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                           "            time.sleep(1.0)  # winding down takes a while\n")
    _fake(tmp_path, monkeypatch, slow)
    dialog = RetrainDialog(store)
    qtbot.addWidget(dialog)
    dialog.start()
    _until_running(qtbot, dialog)
    terminations = []
    process = dialog.process
    real_terminate = process.terminate
    monkeypatch.setattr(process, "terminate", lambda: (terminations.append(1), real_terminate()))
    dialog.cancel()
    dialog.stop()  # Quit while the cancel winds down
    assert terminations == [1]
    assert dialog.resume_button.isVisibleTo(dialog) and str(folder) in dialog.status.text()
