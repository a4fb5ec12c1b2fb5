"""First run of the desktop app: no project and no remembered one opens the bundled sample project.

Real project files, the real sample photos and a real (contract) ONNX model; Qt offscreen. The per-user
data folder is a tmp folder (GARMENT_STUDIO_DATA_DIR, with Qt's standard-path test mode as a backstop)
and QSettings write to tmp, so nothing touches the real user's files.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import QSettings, QStandardPaths

from app.first_run import DATA_DIR_ENV, prepare_sample_project, sample_project_path
from app.gui.app import open_start_project, user_data_dir
from app.gui.main_window import MainWindow, settings
from app.sample_project import sample_images
from app.store.repository import ProjectStore

pytest.importorskip("pytestqt")
pytest.importorskip("onnx")  # the contract model is written with the onnx package (dev extra)


@pytest.fixture(autouse=True)
def isolated_user(tmp_path, monkeypatch):
    QStandardPaths.setTestModeEnabled(True)
    # settings() uses QSettings(organisation, application), i.e. the native format: redirect that one.
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))
    yield
    QStandardPaths.setTestModeEnabled(False)


@pytest.fixture(scope="module")
def contract_card(tmp_path_factory):
    from inference.contract_models import write_contract_model

    return str(write_contract_model(tmp_path_factory.mktemp("contract-model")))


@pytest.fixture
def window(qtbot):
    win = MainWindow(load_model=False, restore_layout=False)
    qtbot.addWidget(win)
    yield win
    win.close_project()


def test_first_run_builds_and_opens_the_sample_with_predictions(tmp_path, window, contract_card):
    settings().setValue("model/card", contract_card)
    opened = open_start_project(window)
    expected = tmp_path / "data" / "sample" / "sample.db"
    assert user_data_dir() == tmp_path / "data"
    assert settings().fileName().startswith(str(tmp_path))
    assert opened == expected and expected.is_file()
    assert window.store is not None and window.store.path.resolve() == expected.resolve()
    images = window.store.list_images()
    assert sorted(window.store.resolve_path(i.path).name for i in images) == [p.name for p in sample_images()]
    assert all(str(i.status) != "new" for i in images)  # the model ran on every photo
    assert window.image_id == window.images.image_ids()[0]  # the first image is on the canvas
    assert window.measurements.profile.count() == 1 + len(images)  # "no calibration" + one board per photo
    assert window.measurements.calibration is not None
    assert "predicted and measured" in window.statusBar().currentMessage()
    assert settings().value("project/last") == str(expected.resolve())


def test_without_a_model_the_sample_opens_unpredicted_and_says_why(tmp_path, window):
    missing = tmp_path / "no-model" / "model_card.json"
    settings().setValue("model/card", str(missing))
    opened = open_start_project(window)
    assert opened is not None and window.store is not None
    images = window.store.list_images()
    assert len(images) == len(sample_images())
    assert all(str(i.status) == "new" for i in images)
    assert window.store.list_calibrations(), "each sample image is still calibrated from its board"
    message = window.statusBar().currentMessage()
    assert "without predictions" in message and str(missing) in message


def test_the_last_opened_project_is_reopened_instead_of_the_sample(tmp_path, window):
    mine = tmp_path / "mine.db"
    ProjectStore.create(mine).close()
    window.open_project(mine)  # what a user does; the window remembers it
    window.close_project()
    assert open_start_project(window) == mine.resolve()
    assert window.store.path.resolve() == mine.resolve()
    assert not sample_project_path(tmp_path / "data").exists()


def test_a_deleted_last_project_falls_back_to_the_sample(tmp_path, window):
    settings().setValue("project/last", str(tmp_path / "gone.db"))
    settings().setValue("model/card", str(tmp_path / "absent" / "model_card.json"))
    assert open_start_project(window) == sample_project_path(tmp_path / "data")


def test_an_existing_sample_is_reopened_not_rebuilt(tmp_path, contract_card):
    path = sample_project_path(tmp_path / "data")
    first = prepare_sample_project(path, contract_card)
    # A rebuild would try to load this missing model and report the sample as unpredicted.
    again = prepare_sample_project(path, tmp_path / "absent" / "model_card.json")
    assert first.predicted and again.predicted
    assert again.path == path and "5 images" in again.message


def test_gui_command_screenshot_on_first_run(tmp_path, contract_card):
    from app.cli.main import main

    settings().setValue("model/card", contract_card)
    out = tmp_path / "first-run.png"
    assert main(["gui", "--screenshot", str(out), "--no-model", "--size", "900x600"]) == 0
    assert out.stat().st_size > 10_000
    assert settings().value("project/last") == str(sample_project_path(tmp_path / "data").resolve())


def test_each_sample_photo_is_measured_with_its_own_board(tmp_path, window, contract_card):
    settings().setValue("model/card", contract_card)
    open_start_project(window)
    names = {}
    for image_id in window.images.image_ids():
        window.images.select_image(image_id)
        assert window.image_id == image_id
        names[window.store.resolve_path(window.store.image(image_id).path).stem] = window.measurements.calibration_name
    assert names == {stem: f"sample {stem}" for stem in names} and len(names) == len(sample_images())


def test_the_first_run_sample_is_read_as_the_app_reads_photos(tmp_path, contract_card):
    """Flip test and the turned reading are on in the app by default: the sample it shows first is read with
    them (it was read plain, and its first numbers were worse than `garment-studio demo`'s)."""
    outcome = prepare_sample_project(tmp_path / "sample.db", contract_card, "cpu")
    with ProjectStore.open(outcome.path) as store:
        garments = [g for info in store.list_images() for _, g in store.garments(info.id)]
    assert garments and all("orientation" in g.extra for g in garments)  # the turned reading was tried
