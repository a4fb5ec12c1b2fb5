"""Spec sheets: target and symmetric tolerance per POM and size, with pass/fail against measurements.

CSV columns: ``pom,size,target_cm,tolerance_cm`` plus an optional ``category`` (DF2 id or name) for
sheets that cover several garment types. Bad rows raise ``SpecError`` naming the file and line.

Reading a sheet (``SpecSheet.load`` / ``from_csv_text``):

* Encoding: UTF-8 (with or without a byte-order mark), or UTF-16/UTF-32 with a byte-order mark (Excel's
  "Unicode Text"). Anything else is refused with a ``SpecError`` that names the file and says to save it
  as "CSV UTF-8". There is deliberately no cp1252 fallback: guessing a legacy code page turns a size label
  such as "Größe 38" into mojibake that then fails to match, far from the real cause.
* Delimiter: comma, semicolon or tab, chosen from the header line (European Excel writes ``;``). With a
  semicolon or tab delimiter a decimal comma is accepted in numbers (``34,5`` is 34.5).
* Numbers are parsed strictly: plain decimal notation (an exponent is allowed); ``1_0``, ``nan``, ``inf``,
  thousands separators and the like are refused naming the line and column.
* Columns: a header that repeats a name is refused. Lengths are in centimetres only: a ``unit``/``units``
  column, or a column whose name says inches or millimetres (``target_in``, ``tolerance_mm``), is refused.
  A column that is a near-miss of a known one (``categroy``) is refused too, since ignoring it would change
  which garments a row applies to. Any other column (notes, descriptions from a PLM export) is ignored and
  listed in ``SpecSheet.warnings``.

The verdict rule: the deviation (measured - target) is rounded to 0.01 cm (0.1 mm, the resolution it is
shown and exported at), half away from zero, and a POM passes when that rounded deviation is within the
tolerance, limits included. So 34.5037 cm against 34 ± 0.5 is +0.50, a pass; 34.505 is +0.51, a fail.
``PomCheck.deviation_cm`` is that rounded value, so a displayed deviation never contradicts its verdict.

A general row (no category) whose POM the garment's category does not have is not checked; its POM is
listed in ``SpecResult.not_applicable`` (and in ``SpecResult.summary``) rather than dropped silently: a
PASS that skipped the sleeves because the model read a top as a sling should say so.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from inference.schema import SchemaError, deepfashion2
from measure.measurements import Measurement
from measure.poms import PomCatalog, load_catalog

REQUIRED_COLUMNS = ("pom", "size", "target_cm", "tolerance_cm")
OPTIONAL_COLUMNS = ("category",)
DELIMITERS = (",", ";", "\t")  # in order of preference when the header reads the same with several
CM_RESOLUTION = Decimal("0.01")  # the verdict's resolution: what value_cm and deviation_cm are shown to

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_DECIMAL_COMMA = re.compile(r"[+-]?(?:\d+,\d*|,\d+)", re.ASCII)
_OTHER_UNIT_WORDS = {"in", "inch", "inches", "mm", "millimetre", "millimetres", "millimeter", "millimeters"}


class SpecError(ValueError):
    """A spec sheet is malformed; the message names the file and row."""


def _decimal(value: float) -> Decimal:
    # 12 significant digits: drops the float noise of a round trip (0.635 -> 6.35 mm -> 0.6349999999999999)
    # and of mm / 10, far below the 0.01 cm the verdict is decided at
    return Decimal(format(float(value), ".12g"))


def _rounded_deviation(measured_cm: float, target_cm: float) -> Decimal:
    return (_decimal(measured_cm) - _decimal(target_cm)).quantize(CM_RESOLUTION, rounding=ROUND_HALF_UP)


def round_cm(value: float) -> float:
    """A length in cm rounded to 0.01 half away from zero, as the verdict rounds deviations: show measured
    values with ``f"{round_cm(v):.2f}"`` and they round the same way as the deviation next to them."""
    return float(_decimal(value).quantize(CM_RESOLUTION, rounding=ROUND_HALF_UP))


def within_tolerance(measured_cm: float, target_cm: float, tolerance_cm: float) -> bool:
    """The verdict rule: the deviation rounded to 0.01 cm (half away from zero) is within ± tolerance."""
    return abs(_rounded_deviation(measured_cm, target_cm)) <= _decimal(tolerance_cm)


@dataclass(frozen=True)
class SpecEntry:
    pom: str
    size: str
    target_cm: float
    tolerance_cm: float
    category_id: int | None = None  # None: applies to any garment that has this POM


@dataclass(frozen=True)
class PomCheck:
    pom: str
    target_cm: float
    tolerance_cm: float
    measured_cm: float | None
    status: str  # "pass", "fail" or "not_measured"

    @property
    def deviation_cm(self) -> float | None:
        """Measured - target, rounded to 0.01 cm half away from zero: the value the verdict was decided on."""
        if self.measured_cm is None:
            return None
        return float(_rounded_deviation(self.measured_cm, self.target_cm))

    def to_dict(self) -> dict:
        return {
            "target_cm": self.target_cm,
            "tolerance_cm": self.tolerance_cm,
            "measured_cm": self.measured_cm,
            "deviation_cm": self.deviation_cm,
            "status": self.status,
        }


@dataclass(frozen=True)
class SpecResult:
    size: str
    checks: tuple[PomCheck, ...]
    # the sheet's general POMs that this garment's category does not have, in sheet order: not checked, and
    # neither failures nor "not_measured" (they do not change ``passed``), but worth showing with the verdict
    not_applicable: tuple[str, ...] = ()
    category_id: int | None = None  # the category checked against, for ``summary``

    @property
    def passed(self) -> bool | None:
        """True if every POM passes, False if any fails, None if nothing failed but some were not measured."""
        statuses = {c.status for c in self.checks}
        if "fail" in statuses:
            return False
        if "not_measured" in statuses or not self.checks:
            return None
        return True

    @property
    def verdict(self) -> str:
        """The verdict word: "PASS", "FAIL" or "incomplete" (``passed`` True, False, None)."""
        return {True: "PASS", False: "FAIL", None: "incomplete"}[self.passed]

    @property
    def summary(self) -> str:
        """One line for a report: the verdict, and the spec POMs that do not apply to this category
        ("PASS — 2 spec POMs do not apply to sling: shoulder_width, sleeve_length")."""
        category = "this category"
        if self.category_id is not None:
            try:
                category = deepfashion2().category(self.category_id).name
            except SchemaError:
                category = f"category {self.category_id}"
        if not self.checks:
            text = f"no POM of the sheet applies to {'a ' * (self.category_id is not None)}{category}"
            return f"{text}: {', '.join(self.not_applicable)}" if self.not_applicable else text
        text = "incomplete (some POMs not measured)" if self.passed is None else self.verdict
        if self.not_applicable:
            n = len(self.not_applicable)
            verb = "does" if n == 1 else "do"
            text += (f" — {n} spec POM{'s' * (n != 1)} {verb} not apply to {category}: "
                     f"{', '.join(self.not_applicable)}")
        return text

    def to_dict(self) -> dict:
        return {
            "size": self.size,
            "passed": self.passed,
            "poms": {c.pom: c.to_dict() for c in self.checks},
            "not_applicable": list(self.not_applicable),
        }


@dataclass(frozen=True)
class SpecSheet:
    entries: tuple[SpecEntry, ...]
    # what reading the CSV noticed but did not refuse (an ignored "notes" column); not part of the sheet's value
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def sizes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(e.size for e in self.entries))

    def for_garment(self, size: str, category_id: int) -> tuple[SpecEntry, ...]:
        """The rows that apply to a garment of this category in this size. A row for the category replaces
        a general row (no category) of the same POM: a sheet's default chest, with its own for dresses."""
        own = {e.pom for e in self.entries if e.size == size and e.category_id == category_id}
        return tuple(
            e
            for e in self.entries
            if e.size == size and (e.category_id == category_id or (e.category_id is None and e.pom not in own))
        )

    def check(
        self,
        measurements: Mapping[str, Measurement],
        size: str,
        category_id: int,
        catalog: PomCatalog | None = None,
    ) -> SpecResult:
        """Pass/fail of each spec POM for this size (the rule is in the module docstring). A general row
        whose POM the garment type lacks in ``catalog`` (the bundled one by default) is not checked but
        listed in ``not_applicable`` (a sheet for tops and trousers, or a top read as a sling); a row
        written for this category that cannot be measured on it is "not_measured", so the verdict is
        incomplete rather than a pass that skipped it."""
        if size not in self.sizes:
            raise SpecError(f"size {size!r} is not in the spec sheet (sizes: {', '.join(self.sizes)})")
        checks = []
        not_applicable = []
        category_poms: set[str] | None = None
        for entry in self.for_garment(size, category_id):
            if entry.pom not in measurements:
                if entry.category_id is not None:
                    checks.append(PomCheck(entry.pom, entry.target_cm, entry.tolerance_cm, None, "not_measured"))
                    continue
                if category_poms is None:
                    poms = (catalog or load_catalog()).categories.get(int(category_id))
                    category_poms = set(() if poms is None else poms.names)
                if entry.pom not in category_poms:
                    not_applicable.append(entry.pom)
                # else: the category has it but it was not asked for (measure --only): left out as before
                continue
            cm = measurements[entry.pom].cm
            if cm is None:
                status = "not_measured"
            else:
                status = "pass" if within_tolerance(cm, entry.target_cm, entry.tolerance_cm) else "fail"
            checks.append(PomCheck(entry.pom, entry.target_cm, entry.tolerance_cm, cm, status))
        return SpecResult(size, tuple(checks), tuple(not_applicable), category_id)

    def unknown_poms(self, known: Iterable[str]) -> list[str]:
        known = set(known)
        return sorted({e.pom for e in self.entries} - known)

    def validate(self, catalog) -> None:
        """SpecError naming every row the POM catalog cannot measure: an unknown POM name, or a row written
        for a category that has no such POM (chest_width for trousers), which would otherwise never be
        checked."""
        problems = [f"unknown POM {name!r}" for name in self.unknown_poms(catalog.all_names)]
        for e in self.entries:
            if e.category_id is not None and e.pom in catalog.all_names:
                poms = catalog.categories.get(e.category_id)
                if poms is None or e.pom not in poms.names:
                    name = deepfashion2().category(e.category_id).name
                    problems.append(f"{e.pom!r} (size {e.size}) is not measured on a {name}")
        if problems:
            raise SpecError("; ".join(dict.fromkeys(problems)))

    # -- CSV ----------------------------------------------------------------------------------
    @classmethod
    def from_csv_text(cls, text: str, source: str = "spec sheet") -> SpecSheet:
        text = text.removeprefix("\ufeff")
        if "\x00" in text:
            raise SpecError(
                f"{source}: contains NUL characters (UTF-16 without a byte-order mark?); "
                "save it as 'CSV UTF-8' and load it again"
            )
        delimiter = _detect_delimiter(text)
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        header: list[str] = []
        for fields in reader:
            if any(f.strip() for f in fields):
                header = [f.strip().lower() for f in fields]
                break
        warnings = _check_header(header, source)
        entries: list[SpecEntry] = []
        seen: dict[tuple, int] = {}
        for values in reader:
            line = reader.line_num
            where = f"{source} line {line}"
            if not any(v.strip() for v in values):
                continue
            row = _row_dict(header, values, where)
            entries.append(_parse_row(row, where, decimal_comma=delimiter != ","))
            key = (entries[-1].pom, entries[-1].size, entries[-1].category_id)
            if key in seen:
                raise SpecError(f"{where}: {key[0]!r} size {key[1]!r} already given on line {seen[key]}")
            seen[key] = line
        if not entries:
            raise SpecError(f"{source}: no spec rows")
        return cls(tuple(entries), tuple(warnings))

    @classmethod
    def load(cls, path: str | Path) -> SpecSheet:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise SpecError(f"cannot read spec sheet {path}: {exc}") from exc
        return cls.from_csv_text(_decode(data, str(path)), str(path))

    def to_csv_text(self) -> str:
        out = io.StringIO()
        with_category = any(e.category_id is not None for e in self.entries)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(list(REQUIRED_COLUMNS) + (["category"] if with_category else []))
        for e in self.entries:
            row = [e.pom, e.size, repr(float(e.target_cm)), repr(float(e.tolerance_cm))]
            if with_category:
                row.append("" if e.category_id is None else str(e.category_id))
            writer.writerow(row)
        return out.getvalue()

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_csv_text(), encoding="utf-8")


# UTF-32 before UTF-16: the UTF-32-LE mark starts with the UTF-16-LE one
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _decode(data: bytes, source: str) -> str:
    """UTF-8, or UTF-16/32 with a byte-order mark; anything else is a SpecError saying how to save it."""
    codec = next((c for bom, c in _BOMS if data.startswith(bom)), "utf-8")
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        if codec == "utf-8":
            line = data[: exc.start].count(b"\n") + 1
            found = f"byte 0x{data[exc.start]:02x} on line {line}"
        else:
            found = f"invalid {codec.upper()} at byte {exc.start}"
        raise SpecError(
            f"{source}: not UTF-8 text ({found}); save the sheet as 'CSV UTF-8 (comma delimited)' and load it "
            "again"
        ) from None


def _detect_delimiter(text: str) -> str:
    """The delimiter under which the first non-blank line reads as the most known column names (then the
    most columns); comma on a tie."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    known = set(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
    best, best_score = ",", (-1, -1)
    for delimiter in DELIMITERS:
        fields = next(csv.reader([line], delimiter=delimiter), [])
        score = (len({f.strip().lower() for f in fields} & known), len(fields))
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _near_miss(name: str, header: list[str] = ()) -> str | None:
    """The known column a name is a misspelling of (the whole name alike, "categroy"), or None: a name that
    merely contains one ("product_category") is another column."""
    known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    named = [k for k in known if k in name]
    if named:
        # "category_name" beside a "category" column is another column; without one, it is the column meant
        # (ignored, a sheet's category rows would apply to every garment)
        return None if all(k in header for k in named) else named[0]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    return close[0] if close else None


def _check_header(header: list[str], source: str) -> list[str]:
    """SpecError for a header the sheet cannot be read by; the warnings for columns it ignores."""
    named = [h for h in header if h]
    repeated = sorted({h for h in named if named.count(h) > 1})
    if repeated:
        raise SpecError(f"{source}: column(s) {', '.join(map(repr, repeated))} appear more than once in the header")
    for name in named:
        words = set(re.split(r"[^a-z0-9]+", name))
        # unit words count in a name about lengths only: "notes in cm" or "grade_in" are no length columns
        about_lengths = bool(words & {"target", "tolerance", "tol", "value", "length"})
        if words & {"unit", "units"}:
            raise SpecError(
                f"{source}: column {name!r}: spec sheets are in cm only, with no unit column; "
                f"give the lengths in cm as {', '.join(REQUIRED_COLUMNS)}"
            )
        if about_lengths and (words & _OTHER_UNIT_WORDS or '"' in name):
            raise SpecError(
                f"{source}: column {name!r} looks like inches or millimetres; only cm is supported: convert "
                "to target_cm and tolerance_cm"
            )
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        hints = [f"{h!r} for {_near_miss(h)!r}" for h in named if h not in REQUIRED_COLUMNS and _near_miss(h) in missing]
        raise SpecError(
            f"{source}: missing column(s) {', '.join(missing)} (need {','.join(REQUIRED_COLUMNS)}"
            + (f"; did you mean {', '.join(hints)}?" if hints else "")
            + ")"
        )
    warnings = []
    for name in named:
        if name in REQUIRED_COLUMNS or name in OPTIONAL_COLUMNS:
            continue
        # A misspelt known column (a "categroy") would change which garments its rows apply to: refused.
        # Any other column is ignored with a warning rather than refused: sheets exported from a PLM or
        # kept in Excel carry description, notes or grade-rule columns that cannot change a verdict, and
        # a QC user should not have to edit every sheet to load it.
        close = _near_miss(name, header)
        if close is not None:
            raise SpecError(f"{source}: unknown column {name!r}; did you mean {close!r}?")
        warnings.append(f"{source}: column {name!r} is not a spec column and was ignored")
    return warnings


def _row_dict(header: list[str], values: list[str], where: str) -> dict[str, str]:
    extra = [v for v in values[len(header):] if v.strip()]
    if extra:
        raise SpecError(f"{where}: more values than columns")
    row: dict[str, str] = {}
    for index, name in enumerate(header):
        value = values[index] if index < len(values) else ""
        if not name:
            if value.strip():
                raise SpecError(f"{where}: a value ({value.strip()!r}) in column {index + 1}, which has no name")
            continue
        row[name] = value
    return row


def _number(row: dict, key: str, where: str, decimal_comma: bool = False) -> float:
    raw = (row.get(key) or "").strip()
    text = raw.replace(",", ".") if decimal_comma and _DECIMAL_COMMA.fullmatch(raw) else raw
    if not _NUMBER.fullmatch(text):
        if raw.lower().lstrip("+-") in ("nan", "inf", "infinity"):
            hint = ": a length must be a finite number"
        elif "," in raw:
            hint = ": write the decimal point as '.' (a decimal comma needs a ';' or tab separated sheet)"
        elif raw:
            hint = ": write a plain decimal number such as 34.5"
        else:
            hint = ""
        raise SpecError(f"{where}: {key} {raw!r} is not a number{hint}")
    value = float(text)
    if not math.isfinite(value):  # 1e999
        raise SpecError(f"{where}: {key} {raw!r} must be finite")
    return value


def _parse_row(row: dict, where: str, decimal_comma: bool = False) -> SpecEntry:
    pom = (row.get("pom") or "").strip()
    size = (row.get("size") or "").strip()
    if not pom:
        raise SpecError(f"{where}: empty pom")
    if not size:
        raise SpecError(f"{where}: empty size")
    target = _number(row, "target_cm", where, decimal_comma)
    tolerance = _number(row, "tolerance_cm", where, decimal_comma)
    if target <= 0:
        raise SpecError(f"{where}: target_cm must be positive, got {target}")
    if tolerance < 0:
        raise SpecError(f"{where}: tolerance_cm must not be negative, got {tolerance}")
    category_id = None
    raw_category = (row.get("category") or "").strip()
    if raw_category:
        try:
            key = int(raw_category) if raw_category.isdigit() else raw_category
            category_id = deepfashion2().category(key).id
        except SchemaError as exc:
            raise SpecError(f"{where}: {exc}") from None
    return SpecEntry(pom, size, target, tolerance, category_id)
