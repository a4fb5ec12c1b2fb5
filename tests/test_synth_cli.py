"""`garment-studio synth` writes a COCO DF2-294 dataset that the codec reads back."""

import json

import cv2
import numpy as np
import pytest

from app.cli.main import main
from app.datasets.coco import decode_annotation
from app.training.synth import SceneConfig, render_scene


def test_synth_cli_writes_valid_coco(tmp_path, capsys):
    out = tmp_path / "ds"
    rc = main(["synth", "--out", str(out), "--n", "3", "--seed", "40", "--categories", "1,trousers", "--mode", "flatlay"])
    assert rc == 0
    doc = json.loads((out / "annotations.json").read_text())
    assert [im["id"] for im in doc["images"]] == [1, 2, 3]
    assert len(doc["categories"]) == 13 and len(doc["categories"][0]["keypoints"]) == 294
    assert doc["annotations"]
    for im in doc["images"]:
        pixels = cv2.imread(str(out / "images" / im["file_name"]))
        assert pixels.shape == (im["height"], im["width"], 3)
    expected = render_scene(40, SceneConfig(categories=(1, 8), mode="flatlay"))
    first = [decode_annotation(a) for a in doc["annotations"] if a["image_id"] == 1]
    assert len(first) == len(expected.garments)
    for got, want in zip(first, expected.garments, strict=True):
        assert got.category_id == want.category_id in (1, 8)
        np.testing.assert_allclose([(k.x, k.y, k.visibility) for k in got.keypoints],
                                   [(k.x, k.y, k.visibility) for k in want.keypoints], atol=1e-9)
        np.testing.assert_allclose(got.bbox, want.bbox, atol=1e-9)
    assert "images/s" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--categories", "capes"], "capes"),
    (["--size", "big"], "--size"),
    (["--n", "0"], "--n"),
])
def test_synth_cli_rejects_bad_input(tmp_path, capsys, argv, message):
    rc = main(["synth", "--out", str(tmp_path / "x"), *argv])
    assert rc != 0
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x" / "annotations.json").exists()


@pytest.mark.parametrize("size, warned", [("640x480", True), ("1280x960", False)])
def test_a_board_always_asked_for_at_a_small_size_is_warned_about(tmp_path, capsys, size, warned):
    rc = main(["synth", "--out", str(tmp_path / "ds"), "--n", "1", "--mode", "workstation", "--board", "always",
               "--size", size, "--max-garments", "1"])
    assert rc == 0
    err = capsys.readouterr().err
    assert ("--size 1280x960" in err) is warned
