"""GUI side of retraining: the model service loads the project's active version, the retrain dialog runs a
separate process, follows its progress lines, cancels it, and activates the version it offers."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

pytest.importorskip("PySide6")

from retrain_fixtures import skirt_project, tiny_base_card  # noqa: E402

from app.gui import retrain_dialog  # noqa: E402
from app.gui.model_service import ModelService  # noqa: E402
from app.gui.retrain_dialog import ProgressParser, RetrainDialog, train_command  # noqa: E402
from app.store import ProjectStore  # noqa: E402


@pytest.fixture(scope="module")
def tiny_card(tmp_path_factory):
    return tiny_base_card(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def store(tmp_path):
    with ProjectStore.open(skirt_project(tmp_path / "shop.db", 2)) as s:
        yield s


def test_model_service_loads_the_projects_active_version(qtbot, store, tiny_card):
    service = ModelService()
    version_id = store.register_model("tiny", "1.0.0", str(tiny_card), active=True)
    service.load_for_project(store, default=None, provider="cpu")
    service.wait(30000)
    qtbot.waitUntil(lambda: not service.loading, timeout=30000)
    assert service.pipeline is not None and service.pipeline.model_version == "tiny@1.0.0"
    assert service.card == str(tiny_card)
    store.clear_active_model()
    service.load_for_project(store, default=str(tiny_card.parent), provider="cpu")  # the app default again
    service.wait(30000)
    qtbot.waitUntil(lambda: not service.loading, timeout=30000)
    assert service.card == str(tiny_card.parent) and store.model_version(version_id).active is False


def test_progress_parser_follows_stages_epochs_and_the_result():
    parser = ProgressParser()
    parser.feed("stage: detector")
    assert parser.percent == 8
    parser.feed("[detector] epoch 2/4 iter 5/10 loss 2.0 (focal 1.0) lr 1e-4 2.0 it/s ETA 0.1 min")
    assert 8 < parser.percent < 50 and parser.stage == "detector epoch 2/4"
    parser.feed("[pose] epoch 1/1 iter 10/10 loss 2.0 (kl 1.0) lr 1e-4 2.0 it/s ETA 0.0 min")
    assert parser.percent == 85
    parser.feed('retrain-result {"model_id": 3, "better": true}')
    assert parser.result == {"model_id": 3, "better": True} and parser.percent == 100


def test_train_command_is_the_cli_in_another_process(tmp_path):
    program, args = train_command(tmp_path / "p.db", 5, 0.25)
    assert program == sys.executable
    assert args[-7:] == ["train", "--project", str(tmp_path / "p.db"), "--epochs", "5", "--replay", "0.25"]
    assert "app.cli.main" in args


def _script(tmp_path, body: str, monkeypatch):
    script = tmp_path / "fake_train.py"
    script.write_text(textwrap.dedent(body), encoding="utf-8")
    monkeypatch.setattr(retrain_dialog, "train_command", lambda *_a: (sys.executable, [str(script)]))


def test_dialog_runs_the_process_and_offers_a_better_version(qtbot, tmp_path, store, tiny_card, monkeypatch):
    new_id = store.register_model("tiny", "1.0.0+r1", str(tiny_card), metrics={
        "held_out_before": {"keypoint_AP": 0.1, "PCK@0.2": 0.5}, "held_out_after": {"keypoint_AP": 0.4, "PCK@0.2": 0.7}})
    result = {"model_id": new_id, "version": "1.0.0+r1", "better": True,
              "before": {"keypoint_AP": 0.1}, "after": {"keypoint_AP": 0.4}}
    # A stand-in for the training process that prints what `garment-studio train --project` prints.
    _script(tmp_path, f"""
        print("stage: detector", flush=True)
        print("[detector] epoch 1/1 iter 1/1 loss 2.0 (focal 1.0) lr 1e-4 2.0 it/s ETA 0.0 min", flush=True)
        print("retrain-result " + {json.dumps(json.dumps(result))}, flush=True)
    """, monkeypatch)
    dialog = RetrainDialog(store)
    qtbot.addWidget(dialog)
    assert dialog.versions.rowCount() == 1 and "0.100 → 0.400" in dialog.versions.item(0, 3).text()
    dialog.start()
    qtbot.waitUntil(lambda: dialog.process is None, timeout=20000)
    assert dialog.progress.value() == 100 and "beats" in dialog.status.text()
    assert "stage: detector" in dialog.log.toPlainText()
    with qtbot.waitSignal(dialog.modelActivated):
        dialog.offer_button.click()
    assert store.active_model().id == new_id and dialog.versions.item(0, 4).text() == "yes"
    with qtbot.waitSignal(dialog.modelActivated):
        dialog.bundled_button.click()
    assert store.active_model() is None


def test_dialog_cancel_ends_the_process_and_registers_nothing(qtbot, tmp_path, store, monkeypatch):
    _script(tmp_path, """
        import time
        print("stage: data", flush=True)
        time.sleep(60)
    """, monkeypatch)
    dialog = RetrainDialog(store)
    qtbot.addWidget(dialog)
    dialog.start()
    qtbot.waitUntil(lambda: "stage: data" in dialog.log.toPlainText(), timeout=20000)
    dialog.cancel()
    qtbot.waitUntil(lambda: dialog.process is None, timeout=10000)
    assert dialog.status.text().startswith("Cancelled. Nothing was registered") and dialog.start_button.isEnabled()
    assert dialog.progress.value() == 0
    assert store.list_models() == []


def test_opening_a_project_loads_its_active_model_and_the_menu_has_retrain(qtbot, tmp_path, tiny_card):
    from app.gui.main_window import MainWindow

    project = skirt_project(tmp_path / "active.db", 1)
    with ProjectStore.open(project) as s:
        s.register_model("tiny", "1.0.0", str(tiny_card), active=True)
    window = MainWindow(load_model=True, restore_layout=False)
    qtbot.addWidget(window)
    window.model.wait(30000)
    window.open_project(project)
    window.model.wait(30000)
    qtbot.waitUntil(lambda: not window.model.loading, timeout=30000)
    assert window.model.card == str(tiny_card) and window.model.pipeline.model_version == "tiny@1.0.0"
    assert window.actions.retrain.text() == "&Retrain model…"
    window.close_project()


def test_dialog_says_why_it_cannot_train_and_what_the_version_buttons_did(qtbot, tmp_path, store, monkeypatch):
    bare = ProjectStore.create(tmp_path / "bare.db")
    try:
        dialog = RetrainDialog(bare)
        qtbot.addWidget(dialog)
        assert "bundled model" in dialog.status.text() and not dialog.activate_button.isEnabled()
        dialog.start()  # nothing a person checked: no process is started
        assert dialog.process is None and "Nothing to learn from" in dialog.status.text()
    finally:
        bare.close()
    _script(tmp_path, """
        import sys
        print("garment-studio: error: the GPU ran out of patience", file=sys.stderr, flush=True)
        sys.exit(2)
    """, monkeypatch)
    dialog = RetrainDialog(store)
    qtbot.addWidget(dialog)
    dialog.start()
    qtbot.waitUntil(lambda: dialog.process is None, timeout=20000)
    assert "the GPU ran out of patience" in dialog.status.text() and "Nothing was registered" in dialog.status.text()
    dialog.bundled_button.click()
    assert dialog.status.text() == "The project uses the bundled model."
