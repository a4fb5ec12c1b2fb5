"""Dataset readers and writers on real files: round trips, FLD, YOLO-pose, CSV, malformed input."""

import json
from dataclasses import replace

import pytest
from test_store_fixtures import make_garment, write_png

from app.datasets.common import Selection
from app.datasets.formats import export_project, import_sources
from app.store import ProjectStore
from inference.annotation import GarmentStatus, Keypoint, PointSource, Visibility
from inference.schema import deepfashion2


@pytest.fixture
def store(tmp_path):
    s = ProjectStore.create(tmp_path / "src.db")
    yield s
    s.close()


def _human(g, status=GarmentStatus.VERIFIED):
    kps = tuple(
        k if k.visibility == 0 else Keypoint(k.x, k.y, k.visibility, None, PointSource.HUMAN) for k in g.keypoints
    )
    return replace(g, keypoints=kps, status=status)


def _annotated(store, tmp_path):
    """Three images: two garments, one garment, none; sub-pixel floats throughout."""
    ids = [store.add_image(write_png(tmp_path / "pics" / f"p{i}.png", 80, 60, seed=i)).image_id for i in range(3)]
    store.import_garments(ids[0], [_human(make_garment(1)), _human(make_garment(8, box=(41.5, 2.25, 77.75, 58.5)))])
    store.import_garments(ids[1], [_human(make_garment(13, box=(3.125, 4.5, 70.25, 55.0)), GarmentStatus.CORRECTED)])
    return ids


def _annotations(store):
    return {
        i.sha256: sorted(((g.category_id, g.bbox, g.keypoints, g.status) for _, g in store.garments(i.id)), key=repr)
        for i in store.list_images()
    }


@pytest.mark.parametrize("fmt, source", [("coco", "annotations.json"), ("deepfashion2", "")])
def test_round_trip_import_export_import_is_identical(store, tmp_path, fmt, source):
    _annotated(store, tmp_path)
    out = tmp_path / f"out_{fmt}"
    report = export_project(store, out, fmt)
    assert report.images == 3 and report.garments == 3
    with ProjectStore.create(tmp_path / f"back_{fmt}.db") as back:
        imported = import_sources(back, [out / source], fmt)
        assert imported.errors == [] and imported.images_added == 3 and imported.garments_added == 3
        assert _annotations(back) == _annotations(store)  # statuses too: the files record them
        again = import_sources(back, [out / source], fmt)  # re-importing adds nothing twice
        assert again.images_added == 0 and again.garments_added == 0 and again.images_duplicate == 3


def test_exported_coco_scores_ap_1_against_itself(store, tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    _annotated(store, tmp_path)
    export_project(store, tmp_path / "coco", "coco")
    gt = COCO(str(tmp_path / "coco" / "annotations.json"))
    doc = json.loads((tmp_path / "coco" / "annotations.json").read_text())
    assert len(doc["annotations"]) == 3
    dets = gt.loadRes([{**a, "score": 1.0} for a in doc["annotations"]])
    ev = COCOeval(gt, dets, "keypoints")
    ev.params.kpt_oks_sigmas = deepfashion2().sigmas294
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)
    # a shifted copy must score lower: the check above can fail
    shifted = [{**a, "score": 1.0, "keypoints": [v + 6.0 if i % 3 != 2 else v for i, v in enumerate(a["keypoints"])]}
               for a in doc["annotations"]]
    ev2 = COCOeval(gt, gt.loadRes(shifted), "keypoints")
    ev2.params.kpt_oks_sigmas = deepfashion2().sigmas294
    ev2.evaluate()
    ev2.accumulate()
    ev2.summarize()
    assert ev2.stats[0] < 0.9


def test_export_filters_by_status_and_category(store, tmp_path):
    _annotated(store, tmp_path)
    out = tmp_path / "df2"
    report = export_project(store, out, "deepfashion2", Selection.parse("corrected"))
    assert report.images == 1 and report.garments == 1
    (only,) = (out / "annos").glob("*.json")
    assert json.loads(only.read_text())["item1"]["category_id"] == 13
    report = export_project(store, tmp_path / "c", "coco", Selection.parse("all", ["trousers", "1"]))
    doc = json.loads((tmp_path / "c" / "annotations.json").read_text())
    assert sorted(a["category_id"] for a in doc["annotations"]) == [1, 8] and len(doc["images"]) == 1


def _df2_item(cat_id=8, **override):
    cat = deepfashion2().category(cat_id)
    item = {
        "category_id": cat.id, "category_name": cat.name, "style": 1, "bounding_box": [1.5, 2.5, 50.25, 40.75],
        "landmarks": [v for i in range(cat.num_keypoints) for v in (5.5 + i, 6.25 + i, 2 if i % 4 else 1)],
    }
    item.update(override)
    return item


def test_deepfashion2_reader_reports_bad_items_and_files_and_keeps_the_rest(store, tmp_path):
    annos = tmp_path / "split" / "annos"
    annos.mkdir(parents=True)
    for stem in ("000001", "000002", "000003"):
        write_png(tmp_path / "split" / "image" / f"{stem}.png", seed=int(stem))
    (annos / "000001.json").write_text(json.dumps({
        "source": "user", "pair_id": 7, "item1": _df2_item(), "item2": _df2_item(8, landmarks=[1.0, 2.0, 2]),
        "item3": _df2_item(8, category_id=42), "item4": _df2_item(9, category_name="trousers"),
    }))
    (annos / "000002.json").write_text("{not json")
    (annos / "000003.json").write_text(json.dumps({"item1": _df2_item(1)}))
    (annos / "000005.json").write_text(json.dumps({"item1": _df2_item(1)}))  # no image
    (tmp_path / "split" / "image" / "000004.png").write_bytes(b"broken")
    (annos / "000004.json").write_text(json.dumps({"item1": _df2_item(1)}))

    report = import_sources(store, [tmp_path / "split"], "auto")
    text = "\n".join(report.errors)
    assert "000001.json item2: 'trousers' needs 14 landmarks" in text
    assert "000001.json item3: unknown DeepFashion2 category 42" in text
    assert "000001.json item4: category_name 'trousers' does not match category_id 9" in text
    assert "000002.json: not valid JSON" in text
    assert "000005.json: no image named 000005" in text
    assert "000004.png: not a readable image" in text
    assert len(report.errors) == 6
    assert report.images_added == 2 and report.garments_added == 2
    first = next(i for i in store.list_images() if i.attributes.get("pair_id") == 7)
    (_, g), = store.garments(first.id)
    assert g.keypoints[0] == Keypoint(5.5, 6.25, Visibility.OCCLUDED, None, PointSource.HUMAN)
    assert g.extra["style"] == 1 and g.status == GarmentStatus.VERIFIED
    assert not list(annos.parent.glob("*.tmp"))


def test_coco_reader_refuses_other_layouts_and_names_bad_annotations(store, tmp_path):
    write_png(tmp_path / "a.png")
    other = {"images": [{"id": 1, "file_name": "a.png"}], "annotations": [],
             "categories": [{"id": 1, "name": "fashion", "keypoints": ["a"] * 8}]}
    (tmp_path / "fld_like.json").write_text(json.dumps(other))
    report = import_sources(store, [tmp_path / "fld_like.json"], "coco")
    assert report.images_added == 0 and "lists 8 keypoints; expected the DF2 294 layout" in report.errors[0]
    good = make_garment(7)
    from app.datasets.coco import build_document, encode_garment

    ann = encode_garment(good, 1, 10)
    doc = build_document([{"id": 1, "file_name": "a.png", "width": 64, "height": 48}],
                         [ann, {**ann, "id": 11, "keypoints": ann["keypoints"][:9]}, {**ann, "id": 12, "image_id": 5}])
    (tmp_path / "c.json").write_text(json.dumps(doc))
    report = import_sources(store, [tmp_path / "c.json"])
    assert report.garments_added == 1
    assert any("annotation 11" in e and "expected 882" in e for e in report.errors)
    assert any("image_id 5" in e for e in report.errors)


def test_fld_landmarks_become_layout_garments_and_export_back(store, tmp_path):
    write_png(tmp_path / "img" / "a.png", 100, 120, seed=1)
    write_png(tmp_path / "img" / "b.png", 100, 120, seed=2)
    lines = [
        "2", "image_name clothes_type variation_type landmark_visibility_1 landmark_location_x_1 ...",
        "img/a.png 1 2 0 10.5 20.25 1 30.0 21.0 0 5.0 50.0 0 45.0 52.0 2 0.0 0.0 0 40.0 90.5",
        "img/b.png 2 1 0 10 10 0 60 10 1 12 100 0",  # one value short
        "img/missing.png 3 1 " + " ".join("0 1 1" for _ in range(8)),
    ]
    (tmp_path / "list_landmarks.txt").write_text("\n".join(lines) + "\n")
    report = import_sources(store, [tmp_path], "auto")
    assert report.garments_added == 1 and len(report.errors) == 2
    assert "line 4: lower garments have 4 landmarks (12 values), got 11 values" in report.errors[0]
    assert "line 5: image img/missing.png not found" in report.errors[1]
    (info,) = store.list_images()
    (_, g), = store.garments(info.id)
    assert g.category_id == 0 and g.extra["layout"] == "fld-upper" and g.extra["variation_type"] == 2
    vis = [int(k.visibility) for k in g.keypoints]
    assert vis == [2, 1, 2, 2, 0, 2]  # FLD 0/1/2 -> COCO 2/1/0
    assert g.bbox == (5.0, 20.25, 45.0, 90.5)  # box of the labelled points
    assert export_project(store, tmp_path / "df2", "deepfashion2").skipped == 1
    out = export_project(store, tmp_path / "fld_out", "fld")
    assert out.garments == 1
    written = (tmp_path / "fld_out" / "list_landmarks.txt").read_text().splitlines()
    assert written[2].split()[0] == (tmp_path / "img" / "a.png").as_posix()
    assert [float(v) for v in written[2].split()[1:]] == [float(v) for v in lines[2].split()[1:]]
    with pytest.raises(Exception, match="no DF2 category"):
        store.change_category(store.garments(info.id)[0][0], 1)


def test_yolo_pose_labels_and_data_yaml(store, tmp_path):
    ids = _annotated(store, tmp_path)
    out = tmp_path / "yolo"
    report = export_project(store, out, "yolo-pose")
    assert report.garments == 3
    yaml = (out / "data.yaml").read_text()
    flip = [int(v) for v in yaml.split("flip_idx: [")[1].split("]")[0].split(",")]
    assert sorted(flip) == list(range(294)) and all(flip[flip[i]] == i for i in range(294))
    schema = deepfashion2()
    for cat in schema.categories:
        assert all(cat.start <= flip[i] < cat.start + cat.num_keypoints for i in range(cat.start, cat.start + cat.num_keypoints))
    assert "kpt_shape: [294, 3]" in yaml and "12: sling_dress" in yaml
    info = store.image(ids[0])
    assert info.path.endswith("p0.png")
    lines = (out / "labels" / "p0.txt").read_text().splitlines()
    assert len(lines) == 2
    values = lines[0].split()
    assert len(values) == 1 + 4 + 294 * 3 and values[0] == "0"
    g = store.garments(ids[0])[0][1]
    assert float(values[5]) * info.width == pytest.approx(g.keypoints[0].x, abs=1e-9)
    assert float(values[6]) * info.height == pytest.approx(g.keypoints[0].y, abs=1e-9)
    assert values[5 + 3 * 2 : 5 + 3 * 2 + 3] == ["0.0", "0.0", "0"]  # absent point
    assert (out / "images" / "p0.png").is_file()
    assert (out / "labels" / "p2.txt").read_text() == ""  # empty image: an empty label file


def test_measurements_csv(store, tmp_path):
    import csv

    ids = _annotated(store, tmp_path)
    gid = store.garments(ids[0])[1][0]
    cal = store.save_calibration("rig", "checkerboard", {"mm_per_px": 0.5})
    store.add_measurement(gid, "waist width", 412.375, [[1.25, 2.5], [3.75, 4.0]], cal)
    export_project(store, tmp_path / "m", "csv", Selection.parse("all", [8]))
    rows = list(csv.DictReader((tmp_path / "m" / "measurements.csv").open()))
    assert len(rows) == 1
    assert rows[0]["pom"] == "waist width" and float(rows[0]["value_mm"]) == 412.375
    assert rows[0]["calibration"] == "rig" and rows[0]["category"] == "trousers"
    assert json.loads(rows[0]["points"]) == [[1.25, 2.5], [3.75, 4.0]]
    export_project(store, tmp_path / "m2", "csv", Selection.parse("corrected"))
    assert len((tmp_path / "m2" / "measurements.csv").read_text().splitlines()) == 1  # header only
