"""`garment-studio predict` on real files with the contract test models."""

import json

import cv2
import numpy as np
import pytest

from app.cli.main import main
from inference.contract_models import draw_marker, garment_colour, write_contract_model
from inference.schema import deepfashion2


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    return write_contract_model(tmp_path_factory.mktemp("model"))


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for name, cat, x in (("shirt", 1, 20), ("skirt", 9, 150)):
        img = np.full((480, 640, 3), 25, np.uint8)
        img[80:300, x : x + 90] = garment_colour(cat)
        draw_marker(img, x + 40, 150)
        cv2.imwrite(str(folder / f"{name}.png"), img)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 truncated jpeg")
    (folder / "notes.txt").write_text("not an image, not listed")
    return folder


def test_writes_one_json_per_image_and_reports_the_unreadable_one(card, images, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["predict", str(images), "--model", str(card), "--provider", "cpu", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert "broken.jpg: cannot read image" in err and "1 of 3 image(s) could not be read" in err
    assert sorted(p.name for p in out.iterdir()) == ["shirt.json", "skirt.json"]
    for name, cat, x in (("shirt", 1, 20), ("skirt", 9, 150)):
        doc = json.loads((out / f"{name}.json").read_text())
        assert doc["image"].endswith(f"{name}.png") and doc["provider"] == "cpu"
        (g,) = doc["garments"]
        assert g["category_id"] == cat and g["category"] == deepfashion2().category(cat).name
        assert np.allclose(g["bbox"], [x, 80, x + 90, 300], atol=2.0)
        assert len(g["keypoints"]) == deepfashion2().category(cat).num_keypoints
        assert all(len(k) == 3 and abs(k[0] - (x + 40)) < 1.5 and abs(k[1] - 150) < 1.5 for k in g["keypoints"])
        assert 0 < g["score"] <= 1


def test_without_out_prints_one_document_per_image(card, images, capsys):
    code = main(["predict", str(images / "shirt.png"), str(images / "skirt.png"), "--model", str(card),
                 "--provider", "cpu"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(lines) == 2
    assert [json.loads(line)["garments"][0]["category_id"] for line in lines] == [1, 9]


def test_bad_model_and_missing_input_are_one_line_errors(card, images, tmp_path, capsys):
    assert main(["predict", str(images), "--model", str(tmp_path / "nothing")]) == 2
    assert "model card not found" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "missing.png"), "--model", str(card)]) == 2
    assert "missing.png: no such file" in capsys.readouterr().err
