"""What `train --data/--project` and `eval --dataset` accept: predicted garments of the app's own exports are
no labels, numeric settings are checked before anything runs, data with no garments or with another
dataset's category names is refused, and missing image files are found before training starts."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import pytest
from retrain_fixtures import skirt_project, tiny_base_card
from test_training_fixtures import skirt_scene, write_coco

from app.cli.main import main
from app.store import ProjectStore
from inference.annotation import GarmentStatus

QUIET = ["--workers", "0", "--threads", "1"]
SMALL = ["--val-synthetic", "0", "--epochs", "1", "--batch", "2", "--pose-batch", "2", "--detector-input", "96",
         "--pose-input", "64", *QUIET]


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    return tiny_base_card(tmp_path_factory.mktemp("card") / "tiny")


@pytest.fixture
def recipes(monkeypatch):
    """train --data runs no training: the recipe it would run is recorded instead."""
    from app.training import recipe

    seen = []
    monkeypatch.setattr(recipe, "run_recipe", lambda r: seen.append(r) or {"card": str(r.out / "model_card.json")})
    return seen


def _mixed_project(path: Path, statuses: list[GarmentStatus]) -> Path:
    """One skirt image per status, imported with that status."""
    images = path.parent / f"{path.stem}_images"
    images.mkdir(parents=True, exist_ok=True)
    with ProjectStore.create(path) as store:
        for i, status in enumerate(statuses):
            image, garments = skirt_scene(i)
            file = images / f"skirt_{i}.png"
            cv2.imwrite(str(file), image)
            store.import_garments(store.add_image(file).image_id, [replace(g, status=status) for g in garments],
                                  source="test")
    return path


def _err_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err  # one clear line, no traceback
    return err


# 1. predicted garments of the app's own COCO / DeepFashion2 exports ------------------------------------------

V, P = GarmentStatus.VERIFIED, GarmentStatus.PREDICTED


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("exports")
    project = _mixed_project(root / "shop.db", [V, P, V, GarmentStatus.CORRECTED, P, V])
    assert main(["export", str(project), str(root / "coco"), "--format", "coco"]) == 0
    assert main(["export", str(project), str(root / "df2"), "--format", "deepfashion2"]) == 0
    return root


def test_exported_predictions_are_left_out_of_training_unless_asked(exports, tmp_path, capsys, recipes):
    coco = exports / "coco" / "annotations.json"
    assert sum(a["status"] == "predicted" for a in json.loads(coco.read_text())["annotations"]) == 2
    for data in (coco, exports / "df2"):
        assert main(["train", "--data", str(data), "--out", str(tmp_path / "m"), *SMALL]) == 0
        out = capsys.readouterr().out
        (line,) = [x for x in out.splitlines() if "left out" in x]
        assert "left out 2 of 6 images" in line and "predicted" in line and "--include-predicted" in line
        assert len(recipes[-1].train_source) == 4 and "2 images with predicted garments left out" in \
            recipes[-1].data_description
        assert main(["train", "--data", str(data), "--out", str(tmp_path / "m"), "--include-predicted", *SMALL]) == 0
        assert len(recipes[-1].train_source) == 6 and "left out" not in capsys.readouterr().out


def test_exported_predictions_are_left_out_of_evaluation_unless_asked(exports, card, tmp_path, capsys):
    metrics = tmp_path / "m.json"
    for data in (exports / "coco" / "annotations.json", exports / "df2"):
        assert main(["eval", "--model", str(card), "--dataset", str(data), "--json", str(metrics)]) == 0
        assert "left out 2 of 6 images" in capsys.readouterr().out
        result = json.loads(metrics.read_text())
        assert (result["images"], result["garments"], result["images_with_predicted_garments_left_out"]) == (4, 4, 2)
        assert main(["eval", "--model", str(card), "--dataset", str(data), "--json", str(metrics),
                     "--include-predicted"]) == 0
        assert json.loads(metrics.read_text())["images"] == 6


def test_validation_data_is_filtered_too_and_data_without_a_status_is_unaffected(exports, tmp_path, capsys, recipes):
    plain = write_coco(tmp_path, 3)  # an outside dataset's labels: no status field
    assert main(["train", "--data", str(plain), "--out", str(tmp_path / "m"), "--val-data",
                 str(exports / "coco" / "annotations.json"), *SMALL]) == 0
    out = capsys.readouterr().out
    assert len(recipes[-1].train_source) == 3 and len(recipes[-1].val_source) == 4
    assert [x for x in out.splitlines() if "left out" in x] == [
        x for x in out.splitlines() if x.startswith(str(exports / "coco"))]
    assert main(["train", "--synthetic", "2", "--out", str(tmp_path / "s"), "--include-predicted", *SMALL]) == 2
    assert "--include-predicted applies" in _err_line(capsys)
    assert main(["train", "--project", str(skirt_project(tmp_path / "p.db", 2)), "--include-predicted"]) == 2
    assert "--include-predicted" in _err_line(capsys)


# 2. numeric settings, before anything runs ------------------------------------------------------------------

@pytest.mark.parametrize("flags", [["--batch", "0"], ["--pose-batch", "0"], ["--lr", "-1"], ["--lr", "0"],
                                   ["--lr", "nan"], ["--epochs", "-1"], ["--epochs", "0", "--pose-epochs", "0"],
                                   ["--epochs", "0"], ["--pose-epochs", "-2"], ["--threads", "0"],
                                   ["--workers", "-1"], ["--max-minutes", "nan"]])
def test_a_retrain_refuses_settings_that_cannot_work_before_evaluating(tmp_path, capsys, flags):
    project = skirt_project(tmp_path / "shop.db", 3)
    assert main(["train", "--project", str(project), "--holdout", "0.3", *flags]) == 2
    err = _err_line(capsys)
    assert flags[0] in err or flags[-2] in err
    assert "stage:" not in capsys.readouterr().out and not (tmp_path / "models").exists()


def test_run_retrain_itself_refuses_a_run_that_trains_nothing(tmp_path):
    from app.training.retrain import RetrainError, RetrainOptions, run_retrain

    project = skirt_project(tmp_path / "shop.db", 2)
    for options in ({"epochs": 0}, {"epochs": 0, "pose_epochs": 0}, {"det_batch": 0}, {"lr": -1.0}):
        with pytest.raises(RetrainError, match="trains nothing|at least 1|positive"):
            run_retrain(RetrainOptions(project, holdout=0.3, **options))
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize("flags", [["--epochs", "0"], ["--epochs", "-3"], ["--pose-only", "--pose-epochs", "0"],
                                   ["--batch", "0"], ["--lr", "0"], ["--lr", "inf"], ["--val-synthetic", "-1"],
                                   ["--per-category", "9", "--finetune-epochs", "0"], ["--seed", "-1"]])
def test_training_from_data_refuses_settings_that_train_nothing_or_cannot_work(tmp_path, capsys, recipes, flags):
    dataset = write_coco(tmp_path, 2)
    assert main(["train", "--data", str(dataset), "--out", str(tmp_path / "m"), *SMALL, *flags]) == 2
    assert flags[-2] in _err_line(capsys) and not recipes and not (tmp_path / "m").exists()


def test_pose_epochs_0_fine_tunes_the_detector_only(tmp_path):
    from app.training.retrain import RetrainOptions, run_retrain

    base = tiny_base_card(tmp_path / "base", weights=True)
    project = skirt_project(tmp_path / "shop.db", 3)
    lines = []
    result = run_retrain(RetrainOptions(project, base=base, epochs=1, pose_epochs=0, holdout=0.3, det_batch=2,
                                        log=lines.append))
    assert "stage: detector" in lines and "stage: pose" not in lines and "pose model unchanged: --pose-epochs 0" in lines
    assert result["model_id"]


# 3. no garments -------------------------------------------------------------------------------------------

def _without_annotations(folder: Path, statuses: list[str] | None = None) -> Path:
    """write_coco's images, with no annotation left (or each annotation given the status listed for it)."""
    path = write_coco(folder, 3)
    doc = json.loads(path.read_text())
    if statuses is None:
        doc["annotations"] = []
    else:
        for ann, status in zip(doc["annotations"], statuses, strict=True):
            ann["status"] = status
    path.write_text(json.dumps(doc))
    return path


def test_data_with_no_garments_is_refused_by_train_and_eval(tmp_path, card, capsys, recipes):
    empty = _without_annotations(tmp_path)
    assert main(["train", "--data", str(empty), "--out", str(tmp_path / "m"), *SMALL]) == 2
    assert "no garments to train on" in _err_line(capsys) and not recipes
    assert main(["eval", "--model", str(card), "--dataset", str(empty)]) == 2
    assert "no garments to evaluate against" in _err_line(capsys)
    (tmp_path / "train").mkdir()
    assert main(["train", "--data", str(write_coco(tmp_path / "train", 3)), "--out", str(tmp_path / "m"), *SMALL,
                 "--val-data", str(empty)]) == 2
    assert "no garments to evaluate against" in _err_line(capsys) and not recipes

    predicted = _without_annotations(tmp_path, ["predicted"] * 3)  # after the status filter, nothing is left
    assert main(["eval", "--model", str(card), "--dataset", str(predicted)]) == 2
    err = _err_line(capsys)
    assert "no garments to evaluate against" in err and "all 3 of its images were left out" in err


# 4. another dataset's category names -------------------------------------------------------------------------

def test_categories_named_unlike_deepfashion2_are_refused_as_import_refuses_them(tmp_path, card, capsys, recipes):
    path = write_coco(tmp_path, 2)
    doc = json.loads(path.read_text())
    names = {c["id"]: c["name"] for c in doc["categories"]}
    for c in doc["categories"]:
        c["name"] = {1: names[8], 8: names[1]}.get(c["id"], c["name"])
    path.write_text(json.dumps(doc))
    assert main(["import", str(tmp_path / "p.db"), str(path)]) != 0
    capsys.readouterr()
    assert main(["train", "--data", str(path), "--out", str(tmp_path / "m"), *SMALL]) == 2
    assert "category id 1 is named" in _err_line(capsys) and not recipes
    assert main(["eval", "--model", str(card), "--dataset", str(path)]) == 2
    assert "category id 1 is named" in _err_line(capsys)


# 5. image files, checked before training -----------------------------------------------------------------------

def test_a_missing_image_folder_or_file_is_named_before_training(tmp_path, card, capsys, recipes):
    from app.training.synth import SceneConfig
    from app.training.synth.dataset import write_dataset

    write_dataset(tmp_path / "syn", 2, 5, SceneConfig(mode="flatlay"))
    data = tmp_path / "syn" / "annotations.json"
    for command in (["train", "--data", str(data), "--out", str(tmp_path / "m"), *SMALL],
                    ["eval", "--model", str(card), "--dataset", str(data)]):
        assert main([*command, "--images", str(tmp_path / "nonexistent")]) == 2
        assert "images folder not found" in _err_line(capsys) and not recipes
    first = sorted((tmp_path / "syn" / "images").iterdir())[0]
    first.unlink()
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "m"), *SMALL]) == 2
    err = _err_line(capsys)
    assert "1 of 2 images" in err and first.name in err and "--images" in err and not recipes
    assert main(["train", "--synthetic", "2", "--out", str(tmp_path / "m"), *SMALL, "--val-data", str(data)]) == 2
    assert "--val-images" in _err_line(capsys) and not recipes


def test_a_deepfashion2_folder_with_a_missing_images_folder_is_refused(exports, tmp_path, capsys, recipes):
    # It used to fall back, in silence, to the images beside the annotations.
    assert main(["train", "--data", str(exports / "df2"), "--images", str(tmp_path / "nope"),
                 "--out", str(tmp_path / "m"), *SMALL]) == 2
    assert "images folder not found" in _err_line(capsys) and not recipes


# 6. the documentation says what the command prints ---------------------------------------------------------------

def test_the_retraining_doc_matches_the_output_and_the_default_folder():
    doc = (Path(__file__).parent.parent / "docs" / "retraining.md").read_text(encoding="utf-8")
    assert "The last line the command prints is `retrain-result" not in doc
    assert "shop_models/" not in doc and "--resume models/" in doc
    assert "--include-predicted" in doc
