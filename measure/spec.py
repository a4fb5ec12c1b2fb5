"""Spec sheets: target and symmetric tolerance per POM and size, with pass/fail against measurements.

CSV columns: ``pom,size,target_cm,tolerance_cm`` plus an optional ``category`` (DF2 id or name) for
sheets that cover several garment types. Bad rows raise ``SpecError`` naming the file and line.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from inference.schema import SchemaError, deepfashion2
from measure.measurements import Measurement

REQUIRED_COLUMNS = ("pom", "size", "target_cm", "tolerance_cm")


class SpecError(ValueError):
    """A spec sheet is malformed; the message names the file and row."""


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
        return None if self.measured_cm is None else self.measured_cm - self.target_cm

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

    @property
    def passed(self) -> bool | None:
        """True if every POM passes, False if any fails, None if nothing failed but some were not measured."""
        statuses = {c.status for c in self.checks}
        if "fail" in statuses:
            return False
        if "not_measured" in statuses or not self.checks:
            return None
        return True

    def to_dict(self) -> dict:
        return {"size": self.size, "passed": self.passed, "poms": {c.pom: c.to_dict() for c in self.checks}}


@dataclass(frozen=True)
class SpecSheet:
    entries: tuple[SpecEntry, ...]

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

    def check(self, measurements: Mapping[str, Measurement], size: str, category_id: int) -> SpecResult:
        """Pass/fail of each spec POM for this size. A general row whose POM the garment type lacks is left
        out (a sheet for tops and trousers); a row written for this category that cannot be measured on it
        is "not_measured", so the verdict is incomplete rather than a pass that skipped it."""
        if size not in self.sizes:
            raise SpecError(f"size {size!r} is not in the spec sheet (sizes: {', '.join(self.sizes)})")
        checks = []
        for entry in self.for_garment(size, category_id):
            if entry.pom not in measurements:
                if entry.category_id is not None:
                    checks.append(PomCheck(entry.pom, entry.target_cm, entry.tolerance_cm, None, "not_measured"))
                continue
            cm = measurements[entry.pom].cm
            if cm is None:
                status = "not_measured"
            else:
                # a hair of slack so a value printed as exactly on the limit is not failed by rounding
                status = "pass" if abs(cm - entry.target_cm) <= entry.tolerance_cm + 1e-9 else "fail"
            checks.append(PomCheck(entry.pom, entry.target_cm, entry.tolerance_cm, cm, status))
        return SpecResult(size, tuple(checks))

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
        reader = csv.DictReader(io.StringIO(text))
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise SpecError(
                f"{source}: missing column(s) {', '.join(missing)} (need {','.join(REQUIRED_COLUMNS)})"
            )
        reader.fieldnames = header
        entries: list[SpecEntry] = []
        seen: dict[tuple, int] = {}
        for row in reader:
            line = reader.line_num
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue
            entries.append(_parse_row(row, f"{source} line {line}"))
            key = (entries[-1].pom, entries[-1].size, entries[-1].category_id)
            if key in seen:
                raise SpecError(
                    f"{source} line {line}: {key[0]!r} size {key[1]!r} already given on line {seen[key]}"
                )
            seen[key] = line
        if not entries:
            raise SpecError(f"{source}: no spec rows")
        return cls(tuple(entries))

    @classmethod
    def load(cls, path: str | Path) -> SpecSheet:
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError(f"cannot read spec sheet {path}: {exc}") from exc
        return cls.from_csv_text(text, str(path))

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


def _number(row: dict, key: str, where: str) -> float:
    raw = (row.get(key) or "").strip()
    try:
        value = float(raw)
    except ValueError:
        raise SpecError(f"{where}: {key} {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise SpecError(f"{where}: {key} must be finite")
    return value


def _parse_row(row: dict, where: str) -> SpecEntry:
    if None in row:
        raise SpecError(f"{where}: more values than columns")
    pom = (row.get("pom") or "").strip()
    size = (row.get("size") or "").strip()
    if not pom:
        raise SpecError(f"{where}: empty pom")
    if not size:
        raise SpecError(f"{where}: empty size")
    target = _number(row, "target_cm", where)
    tolerance = _number(row, "tolerance_cm", where)
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
