"""The real-photo category check (``python -m app.training.real_photos``) on photos it can be sure about:
contract-model images whose colour fixes the detector's class, sorted into class folders."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from app.training.real_photos import main
from inference.contract_models import garment_colour, write_contract_model
from inference.model_card import load_card

pytest.importorskip("onnx")


def photo(category: int) -> np.ndarray:
    image = np.full((240, 320, 3), 20, np.uint8)
    image[30:210, 80:240] = garment_colour(category)
    return image


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "photos"
    layout = {"pants": (8, 8), "skirt": (9, 7), "hats": (1,)}  # skirt: one right, one called shorts
    for folder, categories in layout.items():
        (root / folder).mkdir(parents=True)
        for i, category in enumerate(categories):
            cv2.imwrite(str(root / folder / f"{i}.png"), photo(category))
    (root / "skirt" / "notes.txt").write_text("not a photo")
    (root / "skirt" / "broken.jpg").write_bytes(b"not a jpeg")  # unreadable: skipped with a message
    return root


def test_accuracy_per_folder_skips_unmapped_folders_and_records_in_the_card(tmp_path, photos, capsys):
    card = write_contract_model(tmp_path / "model")
    out = tmp_path / "result.json"
    sheet = tmp_path / "sheet.jpg"
    assert main(["--model", str(card), "--photos", str(photos), "--json", str(out), "--sheet", str(sheet),
                 "--flip-test", "--record", "looked at: fine"]) == 0
    result = json.loads(out.read_text())
    assert result["images"] == 4  # hats has no DF2 mapping; the broken file and the text file are skipped
    assert result["per_folder"]["pants"]["accuracy"] == 1.0
    assert result["per_folder"]["skirt"]["accuracy"] == 0.5
    assert result["confusion"]["skirt"] == {"skirt": 1, "shorts": 1}
    assert result["category_accuracy"] == pytest.approx(3 / 4)
    assert "broken.jpg" in capsys.readouterr().err
    recorded = load_card(card).metrics["real_photos"]
    assert recorded["category_accuracy"] == pytest.approx(3 / 4) and recorded["flip_test"] is True
    assert recorded["contact_sheet_notes"] == "looked at: fine" and recorded["folder"] == "photos"
    drawn = cv2.imread(str(sheet))
    assert drawn is not None and drawn.shape[0] >= 256 and drawn.shape[1] == 4 * 256


def test_a_missing_photo_folder_is_a_clear_error(tmp_path, capsys):
    card = write_contract_model(tmp_path / "model")
    assert main(["--model", str(card), "--photos", str(tmp_path / "nowhere")]) == 2
    assert "photo folder not found" in capsys.readouterr().err
