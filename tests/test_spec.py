"""Spec sheets: pass/fail per POM, CSV round trip, clear errors on bad rows."""

from __future__ import annotations

import pytest

from measure.measurements import Measurement
from measure.spec import SpecError, SpecSheet

CSV = """pom,size,target_cm,tolerance_cm
chest_width,M,50,1
chest_width,L,54,1
hem_width,M,48,0.5
body_length,M,70,1.5
"""


def _measured(**cm):
    return {
        name: Measurement(name, "straight", None if v is None else v * 10.0, reason=None if v else "absent")
        for name, v in cm.items()
    }


def test_pass_fail_per_pom_and_overall():
    sheet = SpecSheet.from_csv_text(CSV)
    assert sheet.sizes == ("M", "L")
    result = sheet.check(
        _measured(chest_width=50.9, hem_width=48.7, body_length=68.5, shoulder_width=40), "M", 1
    )
    by_pom = {c.pom: c for c in result.checks}
    assert by_pom["chest_width"].status == "pass"
    assert by_pom["hem_width"].status == "fail"
    assert by_pom["hem_width"].deviation_cm == pytest.approx(0.7)
    assert by_pom["body_length"].status == "pass"  # exactly on the lower limit
    assert "shoulder_width" not in by_pom  # not in the sheet
    assert result.passed is False
    assert result.to_dict()["poms"]["hem_width"]["status"] == "fail"

    ok = sheet.check(_measured(chest_width=53.2), "L", 1)
    assert ok.passed is True
    incomplete = sheet.check(_measured(chest_width=None, hem_width=48.0, body_length=70.0), "M", 1)
    assert {c.pom: c.status for c in incomplete.checks}["chest_width"] == "not_measured"
    assert incomplete.passed is None
    with pytest.raises(SpecError, match="size 'XL'"):
        sheet.check(_measured(chest_width=50), "XL", 1)


def test_category_column_limits_rows_to_that_garment_type():
    sheet = SpecSheet.from_csv_text(
        "pom,size,target_cm,tolerance_cm,category\nwaist_width,32,41,1,trousers\nwaist_width,32,38,1,skirt\n"
    )
    assert sheet.check(_measured(waist_width=41.2), "32", 8).passed is True
    assert sheet.check(_measured(waist_width=41.2), "32", 9).passed is False


def test_a_row_for_the_category_replaces_the_general_row_of_that_pom():
    sheet = SpecSheet.from_csv_text(
        "pom,size,target_cm,tolerance_cm,category\nchest_width,M,50,1,\nchest_width,M,55,1,short sleeve dress\n"
    )
    dress = sheet.check(_measured(chest_width=55.0), "M", 10)
    assert [(c.target_cm, c.status) for c in dress.checks] == [(55.0, "pass")] and dress.passed is True
    top = sheet.check(_measured(chest_width=55.0), "M", 1)  # no row of its own: the general one
    assert [(c.target_cm, c.status) for c in top.checks] == [(50.0, "fail")]


def test_a_row_for_a_category_without_that_pom_is_an_error_not_a_silent_pass():
    from measure.poms import load_catalog

    text = "pom,size,target_cm,tolerance_cm,category\nwaist_width,32,41,1,trousers\nchest_width,32,50,1,trousers\n"
    sheet = SpecSheet.from_csv_text(text)
    result = sheet.check(_measured(waist_width=41.0), "32", 8)  # the trousers' POMs: no chest
    assert {c.pom: c.status for c in result.checks} == {"waist_width": "pass", "chest_width": "not_measured"}
    assert result.passed is None  # incomplete, not PASS
    with pytest.raises(SpecError, match="'chest_width' \\(size 32\\) is not measured on a trousers"):
        sheet.validate(load_catalog())
    with pytest.raises(SpecError, match="unknown POM 'chestt'"):
        SpecSheet.from_csv_text("pom,size,target_cm,tolerance_cm\nchestt,M,50,1\n").validate(load_catalog())
    SpecSheet.from_csv_text(CSV).validate(load_catalog())  # general rows for tops: fine


def test_csv_round_trip(tmp_path):
    sheet = SpecSheet.from_csv_text(CSV + "waist_width,M,40.25,0.75\n")
    path = tmp_path / "spec.csv"
    sheet.save(path)
    again = SpecSheet.load(path)
    assert again == sheet
    with_category = SpecSheet.from_csv_text("pom,size,target_cm,tolerance_cm,category\nhip_width,S,45,1,9\n")
    assert SpecSheet.from_csv_text(with_category.to_csv_text()) == with_category


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pom,size,target\nchest_width,M,50\n", "missing column"),
        (
            "pom,size,target_cm,tolerance_cm\nchest_width,M,fifty,1\n",
            "line 2: target_cm 'fifty' is not a number",
        ),
        (
            "pom,size,target_cm,tolerance_cm\nchest_width,M,50,-1\n",
            "line 2: tolerance_cm must not be negative",
        ),
        ("pom,size,target_cm,tolerance_cm\n,M,50,1\n", "line 2: empty pom"),
        (
            "pom,size,target_cm,tolerance_cm\nchest_width,M,50,1\nchest_width,M,51,1\n",
            "already given on line 2",
        ),
        ("pom,size,target_cm,tolerance_cm\nchest_width,M,50,1,extra\n", "more values than columns"),
        (
            "pom,size,target_cm,tolerance_cm,category\nchest_width,M,50,1,jumpsuit\n",
            "unknown DeepFashion2 category",
        ),
        ("pom,size,target_cm,tolerance_cm\n", "no spec rows"),
    ],
)
def test_bad_rows_are_named(text, message):
    with pytest.raises(SpecError, match=message):
        SpecSheet.from_csv_text(text, "sheet.csv")


def test_unknown_poms_are_listed():
    sheet = SpecSheet.from_csv_text(CSV + "chestt,M,50,1\n")
    assert sheet.unknown_poms({"chest_width", "hem_width", "body_length"}) == ["chestt"]
