"""Dataset import/export on awkward input: statuses through a round trip, export folders that hold files,
non-finite or reversed coordinates, malformed COCO entries, FLD quirks, YOLO paths that YAML could misread."""

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_store_fixtures import df2_item, make_garment, write_png

from app.cli.main import main
from app.datasets.coco import build_document, encode_garment
from app.datasets.common import DatasetError, Selection, copy_image
from app.datasets.deepfashion2 import decode_item
from app.datasets.formats import export_project, import_sources
from app.store import ProjectStore
from inference.annotation import GarmentStatus, PointSource, Visibility
from inference.schema import deepfashion2


@pytest.fixture
def store(tmp_path):
    s = ProjectStore.create(tmp_path / "src.db")
    yield s
    s.close()


def _statuses(store) -> list[tuple[int, str]]:
    return sorted((g.category_id, str(g.status)) for i in store.list_images() for _, g in store.garments(i.id))


def _predicted_and_verified(store, tmp_path) -> None:
    """One image with a model's prediction, one with a verified label."""
    a = store.add_image(write_png(tmp_path / "pics" / "a.png", 80, 60, seed=1)).image_id
    b = store.add_image(write_png(tmp_path / "pics" / "b.png", 80, 60, seed=2)).image_id
    store.store_predictions(a, [make_garment(1)], model_version="m1")
    store.import_garments(b, [make_garment(8, status=GarmentStatus.VERIFIED)])


# ---- 1. exported predictions stay predictions ----------------------------------------------------------------


@pytest.mark.parametrize("fmt, source", [("coco", "annotations.json"), ("deepfashion2", "")])
def test_exported_predictions_reimport_as_predictions(store, tmp_path, fmt, source):
    from app.training.project_data import reviewed_images

    _predicted_and_verified(store, tmp_path)
    export_project(store, tmp_path / "out", fmt)
    with ProjectStore.create(tmp_path / "back.db") as back:
        report = import_sources(back, [tmp_path / "out" / source], fmt)
        assert report.errors == [] and report.garments_added == 2
        assert _statuses(back) == [(1, "predicted"), (8, "verified")]
        predicted = next(g for i in back.list_images() for _, g in back.garments(i.id) if g.category_id == 1)
        assert predicted.score == pytest.approx(0.875)
        assert {k.source for k in predicted.keypoints if k.visibility != Visibility.ABSENT} == {PointSource.MODEL}
        # training from the project takes reviewed garments only: the prediction stays out
        assert [g.category_id for im in reviewed_images(back) for g in im.garments] == [8]


def test_export_of_predicted_only_through_the_cli_reimports_as_predicted(store, tmp_path, capsys):
    _predicted_and_verified(store, tmp_path)
    store.close()
    out = tmp_path / "pred"
    assert main(["export", str(tmp_path / "src.db"), str(out), "--format", "coco", "--status", "predicted"]) == 0
    assert main(["import", str(tmp_path / "new.db"), str(out / "annotations.json")]) == 0
    capsys.readouterr()
    assert main(["info", str(tmp_path / "new.db")]) == 0
    text = capsys.readouterr().out
    assert "predicted: 1" in text and "verified: 0" in text
    # and a verified-only export of the new project has nothing to carry
    assert main(["export", str(tmp_path / "new.db"), str(tmp_path / "v"), "--format", "coco", "--status", "verified"]) == 0
    assert json.loads((tmp_path / "v" / "annotations.json").read_text())["annotations"] == []


def test_status_written_is_kept_a_score_alone_means_predicted_neither_means_verified(store, tmp_path):
    write_png(tmp_path / "a.png", 80, 60, seed=3)
    labelled = encode_garment(make_garment(1, score=None), 1, 1)
    scored = encode_garment(make_garment(8, box=(41.0, 2.0, 77.0, 58.0)), 1, 2)
    corrected = {**encode_garment(make_garment(9), 1, 3), "status": "corrected"}
    bogus = {**encode_garment(make_garment(10, score=None), 1, 4), "status": "approved"}
    doc = build_document([{"id": 1, "file_name": "a.png", "width": 80, "height": 60}],
                         [labelled, scored, corrected, bogus])
    (tmp_path / "c.json").write_text(json.dumps(doc))
    report = import_sources(store, [tmp_path / "c.json"])
    assert _statuses(store) == [(1, "verified"), (8, "predicted"), (9, "corrected")]
    assert len(report.errors) == 1 and "annotations[3]" in report.errors[0] and "'approved'" in report.errors[0]

    item = {"category_id": 9, "bounding_box": [1.0, 2.0, 30.0, 40.0], "landmarks": [5.0, 6.0, 2] * 8}
    assert decode_item(item).status == GarmentStatus.VERIFIED
    assert decode_item({**item, "score": 0.5}).status == GarmentStatus.PREDICTED
    assert decode_item({**item, "score": 0.5, "status": "verified"}).status == GarmentStatus.VERIFIED


# ---- 2. export folders that already hold files ----------------------------------------------------------------


def test_export_refuses_a_folder_that_is_not_empty(store, tmp_path, capsys):
    _predicted_and_verified(store, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "annotations.json").write_text("mine")
    with pytest.raises(DatasetError, match="not empty"):
        export_project(store, out, "coco")
    store.close()
    assert main(["export", str(tmp_path / "src.db"), str(out), "--format", "coco"]) != 0
    err = capsys.readouterr().err
    assert "not empty" in err and "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert (out / "annotations.json").read_text() == "mine"
    assert main(["export", str(tmp_path / "src.db"), str(out), "--format", "coco", "--overwrite"]) == 0
    assert len(json.loads((out / "annotations.json").read_text())["annotations"]) == 2


def test_overwrite_removes_what_the_earlier_export_wrote_and_nothing_else(store, tmp_path):
    _predicted_and_verified(store, tmp_path)
    out = tmp_path / "df2"
    assert export_project(store, out, "deepfashion2").images == 2
    (out / "notes.txt").write_text("keep me")
    assert export_project(store, out, "deepfashion2", Selection.parse("verified"), overwrite=True).images == 1
    assert [p.name for p in (out / "annos").iterdir()] == ["b.json"]
    assert [p.name for p in (out / "image").iterdir()] == ["b.png"]
    assert (out / "notes.txt").read_text() == "keep me"
    with ProjectStore.create(tmp_path / "back.db") as back:
        report = import_sources(back, [out], "auto")
        assert report.images_added == 1 and _statuses(back) == [(8, "verified")]


def test_overwrite_never_deletes_an_image_the_project_uses(tmp_path):
    out = tmp_path / "out"
    with ProjectStore.create(tmp_path / "p.db") as store:
        image = write_png(out / "images" / "mine.png", seed=4)
        store.import_garments(store.add_image(image).image_id, [make_garment(1, status=GarmentStatus.VERIFIED)])
        export_project(store, out, "yolo-pose", overwrite=True)  # images/mine.png is the project's own file
        export_project(store, out, "yolo-pose", overwrite=True)
        assert image.is_file() and (out / "labels" / "mine.txt").is_file()


def _bmp(path: Path, seed: int) -> Path:
    """BMP files of one size have one byte count, whatever their pixels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 255, (40, 50, 3), dtype=np.uint8))
    return path


def test_copy_image_compares_content_not_size(tmp_path):
    a, b = _bmp(tmp_path / "a" / "x.bmp", 1), _bmp(tmp_path / "b" / "x.bmp", 2)
    assert a.stat().st_size == b.stat().st_size and a.read_bytes() != b.read_bytes()
    assert copy_image(a, tmp_path / "out" / "x.bmp") is True
    assert copy_image(a, tmp_path / "out" / "x.bmp") is False  # the same bytes are there already
    with pytest.raises(FileExistsError):
        copy_image(b, tmp_path / "out" / "x.bmp")
    assert (tmp_path / "out" / "x.bmp").read_bytes() == a.read_bytes()


def test_an_image_of_the_same_name_and_size_already_there_gets_a_distinct_name(store, tmp_path):
    ours = _bmp(tmp_path / "pics" / "x.bmp", 1)
    store.import_garments(store.add_image(ours).image_id, [make_garment(1, status=GarmentStatus.VERIFIED)])
    out = tmp_path / "out"
    stranger = _bmp(out / "image" / "x.bmp", 2)  # left by someone else, same size
    report = export_project(store, out, "deepfashion2", overwrite=True)
    assert report.errors == []
    assert stranger.read_bytes() != ours.read_bytes() and (out / "image" / "x_2.bmp").read_bytes() == ours.read_bytes()
    assert [p.name for p in (out / "annos").iterdir()] == ["x_2.json"]
    with ProjectStore.create(tmp_path / "back.db") as back:
        import_sources(back, [out / "annos" / "x_2.json"], "deepfashion2")
        (info,) = back.list_images()
        assert info.sha256 == store.list_images()[0].sha256 and len(back.garments(info.id)) == 1


def test_two_images_of_one_name_from_different_folders_both_export(store, tmp_path):
    for seed, folder in ((1, "a"), (2, "b")):
        image = store.add_image(_bmp(tmp_path / folder / "x.bmp", seed)).image_id
        store.import_garments(image, [make_garment(1 + seed, status=GarmentStatus.VERIFIED)])
    out = tmp_path / "yolo"
    export_project(store, out, "yolo-pose")
    stems = sorted(p.stem for p in (out / "images").iterdir())
    assert len(stems) == 2 and stems == sorted(p.stem for p in (out / "labels").iterdir())
    for info in store.list_images():
        (_, g), = store.garments(info.id)
        written = [s for s in stems if (out / "labels" / f"{s}.txt").read_text().startswith(f"{g.category_id - 1} ")]
        assert (out / "images" / f"{written[0]}.bmp").read_bytes() == store.resolve_path(info.path).read_bytes()


def test_synth_refuses_a_folder_that_is_not_empty_unless_overwriting(tmp_path, capsys):
    out = tmp_path / "ds"
    args = ["synth", "--out", str(out), "--seed", "3", "--mode", "flatlay", "--size", "64x48", "--max-garments", "1"]
    assert main([*args, "--n", "3"]) == 0
    (out / "README.txt").write_text("mine")
    assert main([*args, "--n", "1"]) != 0
    assert "not empty" in capsys.readouterr().err
    assert len(list((out / "images").iterdir())) == 3
    assert main([*args, "--n", "1", "--overwrite"]) == 0
    assert [p.name for p in (out / "images").iterdir()] == ["000001.jpg"]
    assert len(json.loads((out / "annotations.json").read_text())["images"]) == 1
    assert (out / "README.txt").read_text() == "mine"


# ---- 3. non-finite numbers and reversed boxes ------------------------------------------------------------------


def _df2_item(cat_id=9, **override):
    cat = deepfashion2().category(cat_id)
    item = {"category_id": cat.id, "bounding_box": [1.5, 2.5, 50.25, 40.75],
            "landmarks": [v for i in range(cat.num_keypoints) for v in (5.5 + i, 6.25 + i, 2)]}
    return {**item, **override}


def test_deepfashion2_items_with_nan_infinity_or_a_reversed_box_are_refused(store, tmp_path):
    annos = tmp_path / "split" / "annos"
    annos.mkdir(parents=True)
    for stem in ("000001", "000002"):
        write_png(tmp_path / "split" / "image" / f"{stem}.png", seed=int(stem))
    nan_landmarks = _df2_item()["landmarks"]
    nan_landmarks[3] = float("nan")
    (annos / "000001.json").write_text(json.dumps({
        "item1": _df2_item(), "item2": _df2_item(landmarks=nan_landmarks),
        "item3": _df2_item(bounding_box=[1.0, 2.0, float("inf"), 40.0]),
        "item4": _df2_item(bounding_box=[500, 400, 10, 20]),
    }))
    (annos / "000002.json").write_text(json.dumps({"item1": _df2_item(landmarks=nan_landmarks)}))
    report = import_sources(store, [tmp_path / "split"], "deepfashion2")
    text = "\n".join(report.errors)
    assert len(report.errors) == 4
    assert "000001.json item2: landmarks holds a value that is not a finite number" in text
    assert "000001.json item3: bounding_box holds a value that is not a finite number" in text
    assert "000001.json item4: bounding_box [500.0, 400.0, 10.0, 20.0] is not [x1, y1, x2, y2]" in text
    assert "000002.json item1: landmarks" in text
    (info,) = store.list_images()  # 000002 had no readable garment: its image is not added bare
    assert len(store.garments(info.id)) == 1
    export_project(store, tmp_path / "again", "coco")  # what was imported exports


def test_coco_annotations_with_nan_infinity_or_a_negative_size_are_refused(store, tmp_path):
    write_png(tmp_path / "a.png", seed=5)
    write_png(tmp_path / "b.png", seed=6)
    good = encode_garment(make_garment(1, score=None), 1, 1)
    nan = {**good, "id": 2, "keypoints": [float("nan")] + good["keypoints"][1:]}
    inf = {**good, "id": 3, "bbox": [1.0, 2.0, float("inf"), 5.0]}
    negative = {**good, "id": 4, "bbox": [500.0, 400.0, -490.0, -380.0]}
    lonely = {**nan, "id": 5, "image_id": 2}
    doc = build_document([{"id": 1, "file_name": "a.png", "width": 64, "height": 48},
                          {"id": 2, "file_name": "b.png", "width": 64, "height": 48}],
                         [good, nan, inf, negative, lonely])
    (tmp_path / "c.json").write_text(json.dumps(doc))
    report = import_sources(store, [tmp_path / "c.json"], "coco")
    assert len(report.errors) == 4 and all("c.json annotations[" in e for e in report.errors)
    assert sum("finite" in e for e in report.errors) == 3
    assert "annotation 4: bbox [500.0, 400.0, -490.0, -380.0] has a negative width or height" in report.errors[2]
    (info,) = store.list_images()
    assert len(store.garments(info.id)) == 1


def test_fld_lines_with_nan_are_refused(store, tmp_path):
    write_png(tmp_path / "img" / "a.png", 100, 120, seed=1)
    (tmp_path / "list_landmarks.txt").write_text("img/a.png 2 1 0 10 10 0 60 nan 0 12 100 0 50 100\n")
    report = import_sources(store, [tmp_path], "fld")
    assert len(report.errors) == 1 and "line 1: landmark values must be finite numbers" in report.errors[0]
    assert store.list_images() == []


# ---- 4. COCO entries that are not objects ----------------------------------------------------------------------


def test_coco_entries_that_are_not_objects_are_named(store, tmp_path):
    write_png(tmp_path / "a.png", seed=7)
    doc = build_document([5, {"id": 1, "file_name": "a.png"}], [5, encode_garment(make_garment(1), 1, 1)])
    (tmp_path / "c.json").write_text(json.dumps(doc))
    report = import_sources(store, [tmp_path / "c.json"], "coco")
    assert sorted(report.errors) == sorted([f"{tmp_path / 'c.json'}: annotations[0] is 5, not an object",
                                            f"{tmp_path / 'c.json'}: images[0] is 5, not an object"])
    assert report.garments_added == 1


# ---- 5. FLD: two garments of one image; JSON given as FLD -------------------------------------------------------


def test_fld_image_with_an_upper_and_a_lower_garment_keeps_both(store, tmp_path):
    write_png(tmp_path / "img" / "a.png", 100, 120, seed=1)
    lines = ["img/a.png 1 1 " + " ".join("0 10.5 20.25" for _ in range(6)),
             "img/a.png 2 1 " + " ".join("0 30.0 80.5" for _ in range(4))]
    (tmp_path / "list_landmarks.txt").write_text("\n".join(lines) + "\n")
    report = import_sources(store, [tmp_path], "auto")
    assert report.errors == [] and report.images_added == 1 and report.garments_added == 2
    (info,) = store.list_images()
    assert sorted(g.extra["layout"] for _, g in store.garments(info.id)) == ["fld-lower", "fld-upper"]
    again = import_sources(store, [tmp_path], "auto")
    assert again.garments_added == 0 and again.images_duplicate == 1


def test_fld_format_given_a_json_file_gives_one_clear_error(store, tmp_path):
    doc = build_document([{"id": i, "file_name": f"{i}.png"} for i in range(5)], [])
    (tmp_path / "c.json").write_text(json.dumps(doc, indent=1))
    report = import_sources(store, [tmp_path / "c.json"], "fld")
    assert len(report.errors) == 1
    assert "FLD landmark lists are text files (list_landmarks.txt)" in report.errors[0]
    assert "--format coco" in report.errors[0]


# ---- 6. YOLO data.yaml path --------------------------------------------------------------------------------------


def test_yolo_data_yaml_quotes_a_path_yaml_would_misread(store, tmp_path):
    store.import_garments(store.add_image(write_png(tmp_path / "a.png", seed=8)).image_id,
                          [replace(make_garment(1), status=GarmentStatus.VERIFIED)])
    out = tmp_path / "run #2: final 'x'"
    export_project(store, out, "yolo-pose")
    (line,) = [ln for ln in (out / "data.yaml").read_text().splitlines() if ln.startswith("path:")]
    value = line[len("path: "):]
    assert value.startswith('"') and json.loads(value) == out.resolve().as_posix()  # a YAML double-quoted scalar


# ---- 7. fld is listed as an export format -------------------------------------------------------------------------


def test_export_help_and_readme_list_fld():
    from app.cli.commands import export

    assert "FLD" in export.HELP
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    (usage,) = [ln for ln in readme.splitlines() if ln.startswith("garment-studio export ")]
    assert "yolo-pose|csv|fld" in usage and "--overwrite" in usage


def test_df2_fields_survive_a_trip_through_coco_as_the_official_conversion_writes_them(store, tmp_path):
    """style, segmentation and the image's pair_id: DF2 JSON → project → COCO → project → DF2 JSON."""
    write_png(tmp_path / "df2" / "image" / "000001.png", 80, 60, seed=3)
    garment = make_garment(1)
    item = df2_item(garment, style=2, occlusion=1, segmentation=[[3.5, 4.0, 30.25, 4.0, 30.25, 40.0]])
    (tmp_path / "df2" / "annos").mkdir()
    (tmp_path / "df2" / "annos" / "000001.json").write_text(json.dumps({"source": "user", "pair_id": 7, "item1": item}))
    assert import_sources(store, [tmp_path / "df2"], "deepfashion2").errors == []
    export_project(store, tmp_path / "coco", "coco")
    (ann,) = json.loads((tmp_path / "coco" / "annotations.json").read_text())["annotations"]
    assert (ann["style"], ann["pair_id"], ann["segmentation"]) == (2, 7, item["segmentation"])
    with ProjectStore.create(tmp_path / "back.db") as back:
        assert import_sources(back, [tmp_path / "coco" / "annotations.json"], "coco").errors == []
        export_project(back, tmp_path / "df2_again", "deepfashion2")
    (again,) = (tmp_path / "df2_again" / "annos").glob("*.json")
    doc = json.loads(again.read_text())
    assert doc["pair_id"] == 7
    assert {k: doc["item1"][k] for k in ("style", "occlusion", "segmentation")} == {
        "style": 2, "occlusion": 1, "segmentation": item["segmentation"]}
