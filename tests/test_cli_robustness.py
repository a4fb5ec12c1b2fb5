"""CLI commands given awkward inputs and outputs: one clear line and a non-zero exit, never a traceback or
lost work. Every test makes its own files; "not writable" is simulated (tests may run as root)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_store_fixtures import write_png
from test_training_fixtures import write_coco

from app.cli.main import main
from inference.contract_models import draw_marker, garment_colour, write_contract_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    return write_contract_model(tmp_path_factory.mktemp("model"))


def _shirt(path: Path, x: int = 20) -> Path:
    img = np.full((240, 320, 3), 25, np.uint8)
    img[40:200, x : x + 90] = garment_colour(1)
    draw_marker(img, x + 40, 100)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)
    return path


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


# -- predict --out ------------------------------------------------------------------------------------


def test_predict_out_gives_images_sharing_a_stem_their_own_json(card, tmp_path, capsys):
    a = _shirt(tmp_path / "a" / "shirt.jpg", x=20)
    b = _shirt(tmp_path / "a" / "shirt.png", x=150)
    c = _shirt(tmp_path / "b" / "shirt.png", x=100)
    alone = _shirt(tmp_path / "a" / "skirt.png")
    out = tmp_path / "out"
    argv = ["predict", str(tmp_path / "a"), str(c), "--model", str(card), "--provider", "cpu", "--out", str(out)]
    assert main(argv) == 0
    capsys.readouterr()
    written = {p.name: json.loads(p.read_text())["image"] for p in out.iterdir()}
    assert written == {
        "shirt.jpg.json": str(a),
        "shirt.png.json": str(b),
        "shirt.png.2.json": str(c),  # the same file name in another folder
        "skirt.json": str(alone),  # a stem of its own keeps the old name
    }
    boxes = {name: json.loads((out / name).read_text())["garments"][0]["bbox"][0] for name in written}
    assert boxes["shirt.jpg.json"] == pytest.approx(20, abs=2) and boxes["shirt.png.json"] == pytest.approx(150, abs=2)


def test_predict_out_that_is_a_file_or_not_writable_is_one_line(card, tmp_path, capsys, monkeypatch):
    image = _shirt(tmp_path / "shirt.png")
    taken = tmp_path / "results.json"
    taken.write_text("keep me")
    base = ["predict", str(image), "--model", str(card), "--provider", "cpu", "--out"]
    assert main([*base, str(taken)]) == 2
    assert f"--out {taken} is a file, not a folder" in _one_error_line(capsys)
    assert taken.read_text() == "keep me"
    assert main([*base, str(taken / "sub")]) == 2
    assert f"cannot create output folder {taken / 'sub'}" in _one_error_line(capsys)
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != locked and real_access(p, mode))
    assert main([*base, str(locked)]) == 2
    assert f"output folder {locked} is not writable" in _one_error_line(capsys)


def test_predict_into_a_closed_pipe_stops_quietly(card, tmp_path):
    for i in range(3):
        _shirt(tmp_path / "images" / f"shirt{i}.png")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli.main", "predict", str(tmp_path / "images"), "--model", str(card),
         "--provider", "cpu"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # the reader is gone before the first result is printed (`| head -c0`)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err, err


# -- calibrate ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dpi", ["inf", "nan", "1e6", "10"])
def test_print_board_refuses_an_unprintable_dpi(tmp_path, capsys, dpi):
    board = tmp_path / "b.png"
    assert main(["calibrate", "--print-board", str(board), "--dpi", dpi]) == 2
    assert "--dpi must be between 72 and 1200" in _one_error_line(capsys)
    assert not board.exists()


def test_print_board_refuses_a_board_too_large_to_render(tmp_path, capsys):
    board = tmp_path / "b.png"
    assert main(["calibrate", "--print-board", str(board), "--checkerboard", "40x40:100"]) == 2
    assert "megapixel" in _one_error_line(capsys) and not board.exists()


def test_calibrate_never_writes_over_the_photo(tmp_path, capsys):
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), np.full((100, 120, 3), 128, np.uint8))
    before = photo.read_bytes()
    assert main(["calibrate", str(photo), "--two-point", "0,0,100,0:50", "-o", str(photo)]) == 2
    assert "is the photo to calibrate from" in _one_error_line(capsys)
    other_spelling = str(tmp_path / "." / "photo.png")
    assert main(["calibrate", str(photo), "--two-point", "0,0,100,0:50", "-o", other_spelling]) == 2
    _one_error_line(capsys)
    assert main(["calibrate", str(photo), "--print-board", str(photo)]) == 2
    assert "is the photo to calibrate from" in _one_error_line(capsys)
    assert photo.read_bytes() == before
    out = tmp_path / "calib.json"
    assert main(["calibrate", str(photo), "--two-point", "0,0,100,0:50", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["method"] == "two-point"


# -- eval --------------------------------------------------------------------------------------------


def test_eval_checks_the_json_path_before_evaluating(card, tmp_path, capsys, monkeypatch):
    import app.training.evaluation as evaluation

    data = tmp_path / "data"
    data.mkdir()
    dataset = write_coco(data, 1)
    ran = []
    real = evaluation.evaluate_source
    monkeypatch.setattr(evaluation, "evaluate_source", lambda *a, **k: ran.append(1) or real(*a, **k))
    base = ["eval", "--model", str(card), "--dataset", str(dataset), "--json"]
    assert main([*base, str(tmp_path / "nodir" / "x.json")]) == 2
    assert f"folder {tmp_path / 'nodir'} does not exist" in _one_error_line(capsys)
    assert main([*base, str(tmp_path)]) == 2
    assert "is a folder" in _one_error_line(capsys)
    assert ran == []  # refused before any image was evaluated
    assert main([*base, str(tmp_path / "m.json")]) == 0
    assert ran == [1] and json.loads((tmp_path / "m.json").read_text())["images"] == 1


def test_eval_of_a_dataset_without_images_is_an_error(card, tmp_path, capsys):
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    assert main(["eval", "--model", str(card), "--dataset", str(empty)]) == 2
    assert "lists no images to evaluate" in _one_error_line(capsys)
    assert capsys.readouterr().out == ""  # no table of zeros


# -- projects that are not (writable) projects -----------------------------------------------------------


def test_read_commands_refuse_an_empty_file_and_leave_it_alone(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"")
    assert main(["export", str(notes), str(tmp_path / "out"), "--format", "coco"]) == 1
    assert "notes.txt is an empty file, not a Garment Keypoint Studio project" in _one_error_line(capsys)
    assert main(["info", str(notes)]) == 1
    _one_error_line(capsys)
    assert notes.read_bytes() == b"" and not (tmp_path / "out").exists()


def test_info_and_export_read_a_read_only_project_and_measure_refuses_to_store(tmp_path, capsys, monkeypatch):
    from app.store import ProjectStore, database

    project = tmp_path / "p.db"
    with ProjectStore.create(project) as store:
        store.add_image(write_png(tmp_path / "img" / "a.png"))
    before = project.read_bytes()
    monkeypatch.setattr(database, "_writable", lambda path: path.resolve() != tmp_path.resolve())
    assert main(["info", str(project)]) == 0
    assert "images: 1" in capsys.readouterr().out
    out = tmp_path / "out"
    assert main(["export", str(project), str(out), "--format", "coco"]) == 0
    assert json.loads((out / "annotations.json").read_text())["images"][0]["file_name"].endswith("a.png")
    capsys.readouterr()
    photo = write_png(tmp_path / "img" / "b.png", 64, 72, seed=2)  # holds the landmarks of _df2
    assert main(["measure", str(photo), "--mm-per-px", "1", "--category", "1", "--project", str(project),
                 "--keypoints", str(_df2(tmp_path))]) == 2
    err = _one_error_line(capsys)
    assert f"cannot save to project file {project}: its folder {tmp_path} is not writable" in err
    assert "corrupt" not in err and project.read_bytes() == before


def _df2(tmp_path: Path) -> Path:
    from measure.scene import SHORT_SLEEVE_TOP_MM

    kps = np.hstack([SHORT_SLEEVE_TOP_MM / 10, np.full((25, 1), 2.0)])
    path = tmp_path / "df2.json"
    path.write_text(json.dumps({"item1": {"category_id": 1, "bounding_box": [0, 1, 50, 61],
                                          "landmarks": kps.ravel().tolist()}}))
    return path


# -- model cards -------------------------------------------------------------------------------------


def test_predict_with_a_card_that_is_a_json_list_is_one_line(tmp_path, capsys):
    card = tmp_path / "model_card.json"
    card.write_text("[1, 2]")
    image = _shirt(tmp_path / "shirt.png")
    assert main(["predict", str(image), "--model", str(card)]) == 2
    assert f"model card {card} must be a JSON object" in _one_error_line(capsys)
