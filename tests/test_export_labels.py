"""Dataset export: what a trainer reads from the labels. Whole images under a status filter, a warning for
predictions in formats without a status field, YOLO values inside [0, 1], a real YOLO train/val split, and
DeepFashion2 files the official ``deepfashion2_to_coco.py`` can read."""

import json

import pytest
from test_store_fixtures import df2_item, make_garment, write_png

from app.cli.main import main
from app.datasets.common import Selection
from app.datasets.fld import parse_line
from app.datasets.formats import export_project, import_sources
from app.store import ProjectStore
from inference.annotation import Garment, GarmentStatus, Keypoint, Visibility
from inference.schema import deepfashion2

V, C, P = GarmentStatus.VERIFIED, GarmentStatus.CORRECTED, GarmentStatus.PREDICTED


@pytest.fixture
def store(tmp_path):
    s = ProjectStore.create(tmp_path / "src.db")
    yield s
    s.close()


def _image(store, tmp_path, name, garments, width=80, height=60, seed=None):
    image_id = store.add_image(write_png(tmp_path / "pics" / f"{name}.png", width, height,
                                         seed=seed if seed is not None else sum(map(ord, name)))).image_id
    if garments:
        store.import_garments(image_id, garments)
    return image_id


def _g(category_id=1, status=V, **kw):
    return make_garment(category_id, status=status, score=0.875 if status == P else None, **kw)


def _mixed(store, tmp_path):
    """mixed: a verified and a predicted garment; ver: verified; cor: corrected; pred: predicted only;
    cat: verified trousers beside a predicted top (the top is another category)."""
    _image(store, tmp_path, "mixed", [_g(1, V), _g(8, P, box=(41.5, 2.25, 77.75, 58.5))])
    _image(store, tmp_path, "ver", [_g(9, V)])
    _image(store, tmp_path, "cor", [_g(13, C)])
    _image(store, tmp_path, "pred", [_g(1, P)])
    _image(store, tmp_path, "cat", [_g(8, V), _g(1, P, box=(41.5, 2.25, 77.75, 58.5))])


# ---- 1. a status filter exports whole images ---------------------------------------------------------------------


def _coco_images(out):
    doc = json.loads((out / "annotations.json").read_text())
    names = {i["id"]: i["file_name"].rsplit("/", 1)[-1] for i in doc["images"]}
    per = {}
    for a in doc["annotations"]:
        per.setdefault(names[a["image_id"]], []).append(a["status"])
    return {n: sorted(per.get(n, [])) for n in names.values()}


def test_a_status_filter_takes_only_images_whose_every_garment_matches(store, tmp_path):
    _mixed(store, tmp_path)
    report = export_project(store, tmp_path / "v", "coco", Selection.parse("verified"))
    # "mixed" (verified + predicted) and "cat" (verified trousers + predicted top) are left out whole
    assert _coco_images(tmp_path / "v") == {"ver.png": ["verified"]}
    assert report.images == 1 and report.garments == 1 and report.images_left_out == 2

    report = export_project(store, tmp_path / "r", "coco", Selection.parse("corrected,verified"))
    assert _coco_images(tmp_path / "r") == {"ver.png": ["verified"], "cor.png": ["corrected"]}
    assert report.images_left_out == 2

    # with a category filter only garments of those categories must match: the predicted top on "cat" is
    # background for a trousers dataset, but the predicted trousers on "mixed" is not
    report = export_project(store, tmp_path / "t", "coco", Selection.parse("verified", ["trousers"]))
    assert _coco_images(tmp_path / "t") == {"cat.png": ["verified"]}
    assert report.images_left_out == 0

    report = export_project(store, tmp_path / "all", "coco")  # no status filter: everything, as before
    assert report.images == 5 and report.garments == 7 and report.images_left_out == 0


def test_a_photo_verified_empty_goes_with_a_filter_that_takes_verified_garments(store, tmp_path):
    _mixed(store, tmp_path)
    empty = _image(store, tmp_path, "empty table", [])
    store.verify_image(empty)  # a person looked and found no garment: a reviewed negative
    unread = _image(store, tmp_path, "unread", [])  # nobody looked: not a negative
    assert store.image(unread).status == "new"
    report = export_project(store, tmp_path / "v", "coco", Selection.parse("corrected,verified"))
    assert _coco_images(tmp_path / "v") == {"ver.png": ["verified"], "cor.png": ["corrected"], "empty table.png": []}
    export_project(store, tmp_path / "c", "coco", Selection.parse("corrected"))
    assert "empty table.png" not in _coco_images(tmp_path / "c")
    export_project(store, tmp_path / "t", "coco", Selection.parse("verified", ["trousers"]))
    assert "empty table.png" not in _coco_images(tmp_path / "t")  # a trousers set takes no negatives
    assert report.images == 3


@pytest.mark.parametrize("fmt, count", [
    ("deepfashion2", lambda out: len(list((out / "annos").glob("*.json")))),
    ("yolo-pose", lambda out: len(list((out / "labels").glob("*.txt")))),
])
def test_the_whole_image_rule_holds_in_every_dataset_format(store, tmp_path, fmt, count):
    _mixed(store, tmp_path)
    report = export_project(store, tmp_path / "out", fmt, Selection.parse("verified"))
    assert report.images == count(tmp_path / "out") == 1 and report.images_left_out == 2


def test_the_cli_says_how_many_images_it_left_out(store, tmp_path, capsys):
    _mixed(store, tmp_path)
    store.close()
    rc = main(["export", str(tmp_path / "src.db"), str(tmp_path / "out"), "--format", "coco", "--status",
               "corrected,verified"])
    out = capsys.readouterr().out
    assert rc == 0 and "exported 2 images, 2 garments" in out
    assert "2 images left out: they also hold garments of other statuses" in out
    with pytest.raises(SystemExit) as exited:  # argparse refuses it, as it refused a bad choice
        main(["export", str(tmp_path / "src.db"), str(tmp_path / "x"), "--format", "coco", "--status",
              "verified,approved"])
    assert exited.value.code == 2
    assert "'approved' is not one of" in capsys.readouterr().err


def test_the_gui_export_job_and_dialog_apply_and_show_the_same_rule(qtbot, store, tmp_path):
    from app.gui.export_dialog import ExportDialog, export_job

    _mixed(store, tmp_path)
    store.close()

    class Ctx:
        def progress(self, *_):
            pass

    dialog = ExportDialog(tmp_path / "src.db")
    qtbot.addWidget(dialog)
    assert dialog.status.findData("corrected,verified") >= 0  # reviewed garments, as the warnings suggest
    report = export_job(Ctx(), str(tmp_path / "src.db"), str(tmp_path / "out"), "coco", "verified", None)
    assert report.images == 1 and report.images_left_out == 2
    dialog._on_done("Export", report)
    assert "2 images left out" in dialog.result.text()


# ---- 2. formats without a status field warn about predictions --------------------------------------------------


def test_yolo_and_fld_exports_of_predictions_warn_with_their_number(store, tmp_path, capsys):
    _mixed(store, tmp_path)
    _, fld_pred = parse_line("x.jpg 1 0 " + " ".join(["0 10.5 12.25"] * 6), P)
    _, fld_ver = parse_line("x.jpg 2 0 " + " ".join(["0 10.5 12.25"] * 4), V)
    _image(store, tmp_path, "fld", [fld_pred, fld_ver])
    store.close()
    db = str(tmp_path / "src.db")
    assert main(["export", db, str(tmp_path / "y"), "--format", "yolo-pose"]) == 0
    err = capsys.readouterr().err
    assert "warning: 3 exported garments are model predictions nobody reviewed" in err
    assert "--status corrected,verified" in err
    assert main(["export", db, str(tmp_path / "f"), "--format", "fld"]) == 0
    assert "warning: 1 exported garment is a model prediction nobody reviewed" in capsys.readouterr().err
    # the suggested option works and silences it; formats that record the status do not warn
    assert main(["export", db, str(tmp_path / "r"), "--format", "yolo-pose", "--status", "corrected,verified"]) == 0
    assert main(["export", db, str(tmp_path / "c"), "--format", "coco"]) == 0
    assert main(["export", db, str(tmp_path / "d"), "--format", "deepfashion2"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_the_gui_shows_the_prediction_warning(qtbot, store, tmp_path):
    from app.gui.export_dialog import ExportDialog

    _image(store, tmp_path, "pred", [_g(1, P)])
    report = export_project(store, tmp_path / "y", "yolo-pose")
    dialog = ExportDialog(tmp_path / "src.db")
    qtbot.addWidget(dialog)
    dialog.format.setCurrentIndex(dialog.format.findData("yolo-pose"))
    dialog._on_done("Export", report)
    assert "1 exported garment is a model prediction" in dialog.result.text()


# ---- 3. YOLO-pose values stay inside [0, 1] ----------------------------------------------------------------------


def _ultralytics_check(line: str, nkpt: int = 294) -> None:
    """What Ultralytics asserts of a pose label before it uses the image (else the image is dropped)."""
    values = [float(v) for v in line.split()]
    assert len(values) == 5 + 3 * nkpt
    points = [values[5 + 3 * i + j] for i in range(nkpt) for j in (0, 1)]
    assert max(points) <= 1 and min(values) >= 0
    assert all(0 <= v <= 1 for v in values[1:5])


def test_a_garment_past_the_image_edge_is_clipped_and_its_outside_points_unlabelled(store, tmp_path):
    cat = deepfashion2().category(8)
    inside = [Keypoint(600.0 + 2.5 * i, 10.125 + 30 * i, Visibility.VISIBLE) for i in range(cat.num_keypoints)]
    inside[0] = Keypoint(650.5, 40.0, Visibility.VISIBLE)  # past the right edge
    inside[1] = Keypoint(630.0, -3.25, Visibility.OCCLUDED)  # above the top
    inside[2] = Keypoint(640.0, 480.0, Visibility.VISIBLE)  # exactly on the corner: inside
    garment = Garment(8, (590.25, -3.25, 650.5, 470.75), tuple(inside), None, V)
    _image(store, tmp_path, "edge", [garment], width=640, height=480)
    export_project(store, tmp_path / "y", "yolo-pose")
    (line,) = (tmp_path / "y" / "labels" / "edge.txt").read_text().splitlines()
    _ultralytics_check(line)
    values = line.split()
    x1, y1, x2, y2 = 590.25, 0.0, 640.0, 470.75  # the box clipped to the image
    assert [float(v) for v in values[1:5]] == [(x1 + x2) / 2 / 640, (y1 + y2) / 2 / 480, (x2 - x1) / 640,
                                                (y2 - y1) / 480]
    slot = 5 + 3 * cat.start
    assert values[slot : slot + 6] == ["0.0", "0.0", "0", "0.0", "0.0", "0"]
    assert values[slot + 6 : slot + 9] == ["1.0", "1.0", "2"]
    k = inside[3]
    assert values[slot + 9 : slot + 12] == [repr(k.x / 640), repr(k.y / 480), "2"]  # full precision


# ---- 4. YOLO-pose train/val split --------------------------------------------------------------------------------


def _yaml_value(yaml: str, key: str) -> str:
    (line,) = [ln for ln in yaml.splitlines() if ln.startswith(f"{key}:")]
    return line.split(":", 1)[1].split("#", 1)[0].strip()


def _list(path):
    return path.read_text().splitlines() if path.exists() else []


def test_yolo_export_writes_a_stable_train_val_split(store, tmp_path, capsys):
    for i in range(40):
        _image(store, tmp_path, f"img{i:02d}", [_g(1 + i % 13, V)] if i % 5 else [], seed=i)
    report = export_project(store, tmp_path / "a", "yolo-pose")
    a = tmp_path / "a"
    yaml = (a / "data.yaml").read_text()
    assert (_yaml_value(yaml, "train"), _yaml_value(yaml, "val")) == ("train.txt", "val.txt")
    train, val = _list(a / "train.txt"), _list(a / "val.txt")
    assert 1 <= len(val) <= 10 and not set(train) & set(val) and len(train) + len(val) == report.images == 40
    for line in train + val:  # './' lines are read relative to the list's folder by Ultralytics
        assert line.startswith("./images/") and (a / line).is_file()
        assert (a / "labels" / f"{line[len('./images/'):].rsplit('.', 1)[0]}.txt").is_file()
    # a re-export, and one with more images, keep every image on its side
    export_project(store, tmp_path / "b", "yolo-pose")
    assert (_list(tmp_path / "b" / "train.txt"), _list(tmp_path / "b" / "val.txt")) == (train, val)
    for i in range(40, 50):
        _image(store, tmp_path, f"img{i:02d}", [_g(1, V)], seed=i)
    export_project(store, tmp_path / "c", "yolo-pose")
    assert set(val) <= set(_list(tmp_path / "c" / "val.txt")) and set(train) <= set(_list(tmp_path / "c" / "train.txt"))
    # through the CLI: another fraction, and 0 (no split, said in data.yaml)
    store.close()
    db = str(tmp_path / "src.db")
    assert main(["export", db, str(tmp_path / "h"), "--format", "yolo-pose", "--val-fraction", "0.5"]) == 0
    assert 15 <= len(_list(tmp_path / "h" / "val.txt")) <= 35
    assert main(["export", db, str(tmp_path / "z"), "--format", "yolo-pose", "--val-fraction", "0"]) == 0
    yaml = (tmp_path / "z" / "data.yaml").read_text()
    assert _yaml_value(yaml, "val") == "train.txt" and not (tmp_path / "z" / "val.txt").exists()
    assert "val is the training set" in yaml and len(_list(tmp_path / "z" / "train.txt")) == 50
    capsys.readouterr()
    assert main(["export", db, str(tmp_path / "bad"), "--format", "yolo-pose", "--val-fraction", "1"]) == 2
    assert main(["export", db, str(tmp_path / "bad"), "--format", "coco", "--val-fraction", "0.2"]) == 2
    assert "applies to the YOLO-pose export" in capsys.readouterr().err


def test_two_images_split_one_and_one(store, tmp_path):
    for i in range(2):
        _image(store, tmp_path, f"p{i}", [_g(1, V)], seed=i)
    export_project(store, tmp_path / "y", "yolo-pose")
    assert len(_list(tmp_path / "y" / "train.txt")) == len(_list(tmp_path / "y" / "val.txt")) == 1


# ---- 5. DeepFashion2 files the official conversion reads ------------------------------------------------------


def _official_reader(doc: dict) -> list[dict]:
    """The fields DeepFashion2's deepfashion2_to_coco.py reads, read as it reads them (KeyError if absent):
    the file's pair_id, and every key but source/pair_id as an item with these five fields."""
    pair_id = doc["pair_id"]
    items = []
    for key in doc:
        if key in ("source", "pair_id"):
            continue
        item = doc[key]
        items.append({"pair_id": pair_id, "box": item["bounding_box"], "cat": item["category_id"],
                      "style": item["style"], "seg": item["segmentation"], "landmarks": item["landmarks"]})
    return items


def test_df2_export_of_garments_not_from_df2_has_the_fields_the_official_script_reads(store, tmp_path):
    made = _image(store, tmp_path, "made", [_g(1, V), _g(8, P, box=(41.5, 2.25, 77.75, 58.5))])
    export_project(store, tmp_path / "df2", "deepfashion2")
    doc = json.loads((tmp_path / "df2" / "annos" / "made.json").read_text())
    assert (doc["source"], doc["pair_id"]) == ("user", made)
    items = _official_reader(doc)
    assert [(i["style"], i["seg"]) for i in items] == [(0, []), (0, [])]
    assert [i["cat"] for i in items] == [1, 8]


def test_df2_values_stored_from_df2_are_kept_and_the_round_trip_is_exact(store, tmp_path):
    write_png(tmp_path / "src" / "image" / "000001.png", 80, 60, seed=3)
    garment = make_garment(1)
    item = df2_item(garment, style=2, segmentation=[[3.5, 4.0, 30.25, 4.0, 30.25, 40.0]], score=0.625)
    (tmp_path / "src" / "annos").mkdir()
    (tmp_path / "src" / "annos" / "000001.json").write_text(json.dumps({"source": "shop", "pair_id": 7, "item1": item}))
    assert import_sources(store, [tmp_path / "src"], "deepfashion2").errors == []
    _image(store, tmp_path, "made", [_g(9, C), _g(13, P)])
    export_project(store, tmp_path / "df2", "deepfashion2")
    doc = json.loads((tmp_path / "df2" / "annos" / "000001.json").read_text())
    (read,) = _official_reader(doc)
    assert (doc["source"], read["pair_id"], read["style"], read["seg"]) == ("shop", 7, 2, item["segmentation"])

    def annotations(s):  # DF2 landmarks have no per-point score: positions and visibilities, exactly
        return sorted((g.category_id, g.bbox, tuple((k.x, k.y, k.visibility) for k in g.keypoints), g.status, g.score)
                      for i in s.list_images() for _, g in s.garments(i.id))

    with ProjectStore.create(tmp_path / "back.db") as back:
        report = import_sources(back, [tmp_path / "df2"], "deepfashion2")
        assert report.errors == [] and report.garments_added == 3
        assert annotations(back) == annotations(store)
        assert {g.status for _, g in back.garments(back.list_images()[0].id)} == {P}  # the score made it a prediction
        # a second trip writes the same files
        export_project(back, tmp_path / "df2_again", "deepfashion2")
    files = sorted(p.name for p in (tmp_path / "df2" / "annos").glob("*.json"))
    assert files == ["000001.json", "made.json"]
    for name in files:  # the defaults written the first time are stored values the second time
        assert (json.loads((tmp_path / "df2_again" / "annos" / name).read_text())
                == json.loads((tmp_path / "df2" / "annos" / name).read_text()))


def test_exported_images_are_copies_and_exported_files_are_readable_by_others(store, tmp_path):
    import os
    import stat

    photo = tmp_path / "pics" / "ver.png"
    _image(store, tmp_path, "ver", [_g(9, V)])
    old = os.umask(0o022)
    try:
        export_project(store, tmp_path / "y", "yolo-pose")
    finally:
        os.umask(old)
    (exported,) = (tmp_path / "y" / "images").iterdir()
    assert not os.path.samefile(exported, photo)
    exported.write_bytes(b"resized elsewhere")  # editing the export leaves the project's photo alone
    assert photo.read_bytes() != b"resized elsewhere"
    for written in [tmp_path / "y" / "data.yaml", *(tmp_path / "y" / "labels").iterdir()]:
        assert stat.S_IMODE(written.stat().st_mode) == 0o644, written


def test_writing_an_export_never_sets_the_process_umask(store, tmp_path, monkeypatch):
    """os.umask is process-wide: set to 0 for a moment per file, other threads' new files came out
    world-writable. It is read once, at import."""
    import os

    _image(store, tmp_path, "ver", [_g(9, V)])

    def refuse(_mask):
        raise AssertionError("os.umask called while exporting")

    monkeypatch.setattr(os, "umask", refuse)
    export_project(store, tmp_path / "y", "yolo-pose")
    assert (tmp_path / "y" / "data.yaml").is_file()
