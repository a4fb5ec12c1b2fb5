"""Spec sheets: the verdict at the 0.01 cm boundary, POMs a category lacks, and reading real-world CSVs
(European Excel delimiters, UTF-16, unit columns, repeated columns, strict numbers)."""

from __future__ import annotations

import random

import pytest

from measure.measurements import Measurement
from measure.poms import load_catalog
from measure.spec import SpecError, SpecSheet, round_cm

HEADER = "pom,size,target_cm,tolerance_cm\n"
SLING = 6
TOP = 1


def _measured(**cm):
    return {name: Measurement(name, "straight", None if v is None else v * 10.0) for name, v in cm.items()}


def _check(measured_cm: float, target: str, tolerance: str):
    sheet = SpecSheet.from_csv_text(f"{HEADER}hem_width,M,{target},{tolerance}\n")
    (check,) = sheet.check(_measured(hem_width=measured_cm), "M", TOP).checks
    return check


# -- the verdict is decided on the deviation as shown: rounded to 0.01 cm, half away from zero ----------------
@pytest.mark.parametrize(
    ("measured", "target", "tolerance", "status", "deviation"),
    [
        (34.5037, "34", "0.5", "pass", 0.50),  # shown "+0.50": was failed
        (34.2349, "34.2", "0.03", "pass", 0.03),  # shown "+0.03"
        (34.235, "34.2", "0.03", "fail", 0.04),
        (33.4951, "34", "0.5", "pass", -0.50),  # -0.5049 is shown -0.50
        (33.495, "34", "0.5", "fail", -0.51),
        (10.125, "10", "0.12", "fail", 0.13),  # half away from zero, not banker's 0.12
        (9.875, "10", "0.12", "fail", -0.13),
        (34.505, "34", "0.5", "fail", 0.51),
    ],
)
def test_deviation_is_rounded_to_the_shown_resolution_before_the_tolerance(
    measured, target, tolerance, status, deviation
):
    check = _check(measured, target, tolerance)
    assert check.deviation_cm == deviation
    assert check.status == status
    assert check.to_dict()["deviation_cm"] == deviation


def test_shown_deviation_and_verdict_always_agree():
    rng = random.Random(7)
    for _ in range(3000):
        tolerance = rng.choice([0.03, 0.1, 0.5, 0.635, 1.0])
        measured = round(34 + rng.uniform(-1.2, 1.2) * tolerance, rng.choice([2, 3, 4, 6]))
        check = _check(measured, "34", repr(tolerance))
        shown = float(f"{check.deviation_cm:+.2f}")
        assert (abs(shown) <= tolerance) == (check.status == "pass"), (measured, tolerance, shown)


def test_round_cm_rounds_half_away_from_zero():
    assert round_cm(10.125) == 10.13 and round_cm(-10.125) == -10.13 and round_cm(34.5037) == 34.5


def test_a_tolerance_read_back_from_mm_keeps_its_limit():
    from measure.spec import SpecEntry

    tolerance = 0.07 * 10 / 10  # the store keeps mm
    sheet = SpecSheet((SpecEntry("hem_width", "M", 34.0, tolerance),))
    assert sheet.check(_measured(hem_width=34.07), "M", TOP).passed is True


# -- POMs of the sheet that the garment's category does not have --------------------------------------------
def _sling_measurements():
    names = load_catalog().for_category(SLING).names
    return _measured(**{n: 40.0 for n in names})


def test_spec_poms_a_category_lacks_are_listed_not_dropped():
    sheet = SpecSheet.from_csv_text(
        HEADER + "chest_width,M,40,1\nshoulder_width,M,38,1\nhem_width,M,40,1\nsleeve_length,M,20,1\n"
    )
    result = sheet.check(_sling_measurements(), "M", SLING)
    assert result.passed is True  # the verdict is unchanged
    assert [c.pom for c in result.checks] == ["chest_width", "hem_width"]
    assert result.not_applicable == ("shoulder_width", "sleeve_length")
    assert result.summary == "PASS — 2 spec POMs do not apply to sling: shoulder_width, sleeve_length"
    assert result.to_dict()["not_applicable"] == ["shoulder_width", "sleeve_length"]

    top = sheet.check(_measured(chest_width=40, shoulder_width=38, hem_width=40, sleeve_length=20), "M", TOP)
    assert top.not_applicable == () and top.summary == "PASS" and top.to_dict()["not_applicable"] == []
    failing = sheet.check({**_sling_measurements(), **_measured(hem_width=45.0)}, "M", SLING)
    assert failing.summary.startswith("FAIL — 2 spec POMs do not apply to sling")


def test_a_pom_the_category_has_but_was_not_measured_is_not_called_inapplicable():
    sheet = SpecSheet.from_csv_text(HEADER + "chest_width,M,40,1\nshoulder_width,M,38,1\n")
    only_chest = sheet.check(_measured(chest_width=40.0), "M", TOP)  # measure --only chest_width
    assert only_chest.not_applicable == () and only_chest.passed is True
    catalog = load_catalog()
    assert sheet.check(_measured(chest_width=40.0), "M", SLING, catalog).not_applicable == ("shoulder_width",)


def test_rows_written_for_other_categories_are_not_inapplicable_poms():
    sheet = SpecSheet.from_csv_text(
        HEADER.strip() + ",category\nwaist_width,M,40,1,trousers\nchest_width,M,40,1,\nsleeve_length,M,20,1,\n"
    )
    result = sheet.check(_sling_measurements(), "M", SLING)
    assert result.not_applicable == ("sleeve_length",)
    assert result.summary == "PASS — 1 spec POM does not apply to sling: sleeve_length"
    nothing = sheet.check(_measured(waist_width=40.0), "M", 8)
    assert nothing.checks[0].pom == "waist_width" and nothing.not_applicable == ("chest_width", "sleeve_length")


# -- reading the CSV ------------------------------------------------------------------------------------------
COMMA = SpecSheet.from_csv_text(HEADER + "chest_width,M,34.5,0.5\nhem_width,M,48,1.25\n")


def _write(tmp_path, content, name="spec.csv", encoding="utf-8"):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode(encoding))
    return path


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_sheets_with_decimal_commas(tmp_path, delimiter):
    text = "pom;size;target_cm;tolerance_cm\r\nchest_width;M;34,5;0,5\r\nhem_width;M;48;1.25\r\n"
    sheet = SpecSheet.load(_write(tmp_path, text.replace(";", delimiter)))
    assert sheet == COMMA


def test_a_decimal_comma_in_a_comma_sheet_is_refused(tmp_path):
    with pytest.raises(SpecError, match=r"line 2: target_cm '34,5' is not a number"):
        SpecSheet.load(_write(tmp_path, HEADER + 'chest_width,M,"34,5",0.5\n'))


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-32"])
def test_unicode_sheets_with_a_byte_order_mark(tmp_path, encoding):
    text = "pom\tsize\ttarget_cm\ttolerance_cm\nchest_width\tM\t34,5\t0,5\nhem_width\tM\t48\t1,25\n"
    assert SpecSheet.load(_write(tmp_path, text, encoding=encoding)) == COMMA


def test_a_sheet_that_is_not_utf8_says_how_to_save_it(tmp_path):
    path = _write(tmp_path, (HEADER + "chest_width,Größe 38,34.5,0.5\n").encode("cp1252"))
    with pytest.raises(SpecError) as info:
        SpecSheet.load(path)
    message = str(info.value)
    assert str(path) in message and "CSV UTF-8" in message and "line 2" in message
    assert "codec" not in message
    no_bom = _write(tmp_path, (HEADER + "chest_width,M,34.5,0.5\n").encode("utf-16-le"), "le.csv")
    with pytest.raises(SpecError, match="CSV UTF-8"):
        SpecSheet.load(no_bom)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("pom,size,target_cm,tolerance_cm,unit", "'unit'.*cm only"),
        ("pom,size,target_cm,tolerance_cm,Units", "'units'.*cm only"),
        ("pom,size,target_in,tolerance_in", "'target_in' looks like inches"),
        ("pom,size,target_cm,tolerance_cm,target_inch", "'target_inch' looks like inches"),
        ("pom,size,target_cm,tolerance_mm", "'tolerance_mm' looks like inches or millimetres"),
        ("pom,size,target_cm,tolerance_cm,categroy", "unknown column 'categroy'; did you mean 'category'"),
        ("pom,size,target_cm,tolerance_cm,POM", "'pom' appear more than once"),
        ("pom;size;target_cm;tolerance_cm;size", "'size' appear more than once"),
        ("pom,size,target,tolerance_cm", "missing column.*target_cm.*did you mean 'target' for 'target_cm'"),
    ],
)
def test_columns_that_would_be_misread_are_refused(tmp_path, header, message):
    columns = len(header.split(";" if ";" in header else ","))
    row = ",".join(["chest_width", "M", "50", "1", "x"][:columns]) if ";" not in header else "chest_width;M;50;1;M"
    with pytest.raises(SpecError, match=message):
        SpecSheet.load(_write(tmp_path, f"{header}\n{row}\n"))


def test_other_columns_are_ignored_with_a_warning(tmp_path):
    path = _write(tmp_path, "pom,size,target_cm,tolerance_cm,notes\nchest_width,M,34.5,0.5,HPS\nhem_width,M,48,1.25,\n")
    sheet = SpecSheet.load(path)
    assert sheet == COMMA
    assert sheet.warnings == (f"{path}: column 'notes' is not a spec column and was ignored",)
    assert COMMA.warnings == ()


def test_a_value_under_a_column_without_a_name_is_refused():
    assert SpecSheet.from_csv_text("pom,size,target_cm,tolerance_cm,,\nchest_width,M,34.5,0.5,,\n").entries
    with pytest.raises(SpecError, match="line 2: a value \\('7'\\) in column 5, which has no name"):
        SpecSheet.from_csv_text("pom,size,target_cm,tolerance_cm,\nchest_width,M,34.5,0.5,7\n", "s.csv")


@pytest.mark.parametrize("raw", ["1_0", "nan", "NaN", "inf", "-inf", "Infinity", "1e999", "٣", "0x10", "1.2.3"])
def test_numbers_are_parsed_strictly(tmp_path, raw):
    path = _write(tmp_path, HEADER + f"chest_width,M,50,1\nhem_width,M,{raw},1\n")
    with pytest.raises(SpecError, match=rf"{tmp_path.name}.*spec.csv line 3: target_cm '{raw}'"):
        SpecSheet.load(path)
    with pytest.raises(SpecError, match=rf"line 2: tolerance_cm '{raw}'"):
        SpecSheet.from_csv_text(HEADER + f"hem_width,M,40,{raw}\n")


def test_plain_numbers_still_read():
    sheet = SpecSheet.from_csv_text(HEADER + "a,M, 40 ,.5\nb,M,+4e1,0.\n")
    assert [(e.target_cm, e.tolerance_cm) for e in sheet.entries] == [(40.0, 0.5), (40.0, 0.0)]


@pytest.mark.parametrize("column", ["notes in cm", "grade_in", "product_category", "size_mm_note", "category_name",
                                    "category_id"])
def test_columns_that_only_mention_a_unit_or_a_known_name_are_ignored_with_a_warning(column):
    sheet = SpecSheet.from_csv_text(f"pom,size,target_cm,tolerance_cm,category,{column}\nchest_width,M,50,1,,x\n")
    assert any(repr(column) in w and "ignored" in w for w in sheet.warnings)


def test_a_length_column_in_inches_is_still_refused():
    with pytest.raises(SpecError, match="inches or millimetres"):
        SpecSheet.from_csv_text("pom,size,target_in,tolerance_cm\nchest_width,M,20,1\n")


def test_a_category_column_by_another_name_without_the_real_one_is_refused():
    """Ignored, its rows would apply to every garment: the sheet's category rows silently made general."""
    with pytest.raises(SpecError, match="did you mean 'category'"):
        SpecSheet.from_csv_text("pom,size,target_cm,tolerance_cm,category_name\nwaist_width,M,40,1,trousers\n")
