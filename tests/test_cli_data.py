"""`garment-studio import / export / info` through app.cli.main.main on real files."""

import json

from test_store_fixtures import make_garment, write_png

from app.cli.main import main
from app.datasets.coco import build_document, encode_garment
from app.store import ProjectStore


def _coco_source(tmp_path):
    write_png(tmp_path / "src" / "images" / "a.png", 64, 48, seed=1)
    write_png(tmp_path / "src" / "images" / "b.png", 64, 48, seed=2)
    images = [{"id": 1, "file_name": "a.png", "width": 64, "height": 48},
              {"id": 2, "file_name": "b.png", "width": 64, "height": 48}]
    # an outside dataset's labels: no score and no status, so they import as verified
    anns = [encode_garment(make_garment(1, score=None), 1, 1),
            encode_garment(make_garment(8, box=(40, 1, 60, 45), score=None), 1, 2),
            encode_garment(make_garment(9, score=None), 2, 3)]
    path = tmp_path / "src" / "annotations.json"
    path.write_text(json.dumps(build_document(images, anns)))
    return path


def test_import_info_export_through_main(tmp_path, capsys):
    project = tmp_path / "p.db"
    write_png(tmp_path / "loose" / "c.png", seed=3)
    rc = main(["import", str(project), str(_coco_source(tmp_path)), str(tmp_path / "loose"), str(tmp_path / "nope")])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "3 images added" in out and "3 garments added" in out and "1 errors" in out
    assert "nope: no such file or folder" in err

    assert main(["info", str(project)]) == 0
    out = capsys.readouterr().out
    assert "images: 3" in out and "verified: 2" in out and "new: 1" in out
    assert " 8 trousers" in out and " 9 skirt" in out

    rc = main(["export", str(project), str(tmp_path / "out"), "--format", "coco", "--status", "verified",
               "--category", "trousers", "9"])
    assert rc == 0
    doc = json.loads((tmp_path / "out" / "annotations.json").read_text())
    assert sorted(a["category_id"] for a in doc["annotations"]) == [8, 9]
    rc = main(["export", str(project), str(tmp_path / "df2"), "--format", "deepfashion2"])
    assert rc == 0 and sorted(p.name for p in (tmp_path / "df2" / "annos").iterdir()) == ["a.json", "b.json", "c.json"]
    assert main(["export", str(project), str(tmp_path / "y"), "--format", "yolo-pose"]) == 0
    assert (tmp_path / "y" / "data.yaml").is_file()
    assert main(["export", str(project), str(tmp_path / "m"), "--format", "csv"]) == 0
    assert (tmp_path / "m" / "measurements.csv").read_text().startswith("image_id,")
    capsys.readouterr()
    assert main(["export", str(project), str(tmp_path / "none"), "--format", "coco", "--status", "predicted"]) == 0
    assert "warning: the project has no predicted garments to export; try --status all" in capsys.readouterr().err


def test_photos_in_formats_opencv_cannot_read_are_reported(tmp_path, capsys):
    write_png(tmp_path / "shoot" / "a.png", seed=4)
    for name in ("b.HEIC", "sub/c.heic", "d.dng"):
        (tmp_path / "shoot" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "shoot" / name).write_bytes(b"\x00raw")
    (tmp_path / "shoot" / "notes.txt").write_text("not a photo: not reported")
    rc = main(["import", str(tmp_path / "p.db"), str(tmp_path / "shoot"), str(tmp_path / "shoot" / "b.HEIC")])
    out, err = capsys.readouterr()
    assert rc == 0 and "1 images added" in out
    assert "skipped 3 photos in a format this app cannot read (1 .dng, 2 .heic)" in err
    assert "b.HEIC: .HEIC photos cannot be read here; convert it to JPEG or PNG" in err
    assert "notes.txt" not in err


def test_import_fails_when_every_source_fails(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{broken")
    rc = main(["import", str(tmp_path / "p.db"), str(bad), str(tmp_path / "missing")])
    err = capsys.readouterr().err
    assert rc != 0
    assert "bad.json: not valid JSON" in err and "nothing was imported" in err
    assert not (tmp_path / "p.db").exists()


def test_export_and_info_refuse_bad_projects_and_categories(tmp_path, capsys):
    assert main(["info", str(tmp_path / "none.db")]) != 0
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "text.db").write_text("hello")
    assert main(["info", str(tmp_path / "text.db")]) != 0
    assert "not an SQLite database" in capsys.readouterr().err
    ProjectStore.create(tmp_path / "ok.db").close()
    assert main(["export", str(tmp_path / "ok.db"), str(tmp_path / "o"), "--format", "coco", "--category", "hat"]) != 0
    assert "unknown DeepFashion2 category 'hat'" in capsys.readouterr().err


def test_measurement_report_with_a_spec_sheet(tmp_path, capsys):
    """The CSV a QC lead gets: rounded cm beside the exact mm, occluded landmarks named, each POM checked
    against the spec and each garment's verdict."""
    import csv

    project = tmp_path / "qc.db"
    with ProjectStore.create(project) as store:
        image_id = store.add_image(write_png(tmp_path / "photo.png", 64, 48, seed=5)).image_id
        (gid,) = store.store_predictions(image_id, [make_garment(9)]).added  # skirt; landmark 2 occluded
        store.replace_measurements(gid, [("waist_width", 401.234567, [], None), ("skirt_length", 600.0, [], None)])
    spec = tmp_path / "spec.csv"
    spec.write_text("pom,size,target_cm,tolerance_cm,category\nwaist_width,M,40,0.5,skirt\nskirt_length,M,63,1,skirt\n")
    assert main(["export", str(project), str(tmp_path / "out"), "--format", "csv", "--spec", str(spec),
                 "--size", "M"]) == 0
    rows = {r["pom"]: r for r in csv.DictReader((tmp_path / "out" / "measurements.csv").open())}
    waist, length = rows["waist_width"], rows["skirt_length"]
    assert waist["value_mm"] == "401.234567" and waist["value_cm"] == "40.12"
    assert (waist["check"], waist["deviation_cm"]) == ("pass", "0.12") and length["check"] == "fail"
    assert waist["garment_verdict"] == length["garment_verdict"] == "FAIL"
    assert length["occluded_landmarks"] == "2" and waist["occluded_landmarks"] == ""  # skirt length reads 2
    assert main(["export", str(project), str(tmp_path / "c"), "--format", "coco", "--spec", str(spec)]) == 2
    assert "--format csv" in capsys.readouterr().err
