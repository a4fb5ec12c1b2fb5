"""Point-of-measure definitions: data in ``resources/poms/``, validated against the DF2 schema.

Landmark ids in the files are 1-based (as the DeepFashion2 figure); the objects here keep them
1-based too, so a message can quote exactly what the file says. A user file in the same format is
merged over the bundled one: a POM with an existing name replaces it, a new name is added.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from inference.schema import SchemaError, deepfashion2
from resources import resource_path

FORMAT = "garment-studio-poms/1"
KINDS = ("straight", "polyline", "perpendicular", "offset_chord")


class PomError(ValueError):
    """A POM file is malformed or names a landmark or POM that does not exist."""


@dataclass(frozen=True)
class PomDefinition:
    name: str
    kind: str
    landmarks: tuple[int, ...]  # 1-based DF2 ids
    description: str = ""
    convention: str = ""
    offset_mm: float = 0.0  # offset_chord only
    toward: tuple[int, ...] = ()  # offset_chord only: shift towards the centroid of these landmarks

    @property
    def required(self) -> tuple[int, ...]:
        """Every landmark (1-based) the construction cannot do without, outline excluded. A perpendicular's
        points between the two ends of its hem line (a hem centre) refine it and may be absent."""
        ends = self.landmarks[:2] + self.landmarks[-1:] if self.kind == "perpendicular" else self.landmarks
        return tuple(dict.fromkeys(ends + self.toward))

    def to_dict(self) -> dict:
        out = {"name": self.name, "kind": self.kind, "landmarks": list(self.landmarks)}
        if self.kind == "offset_chord":
            out.update(offset_mm=self.offset_mm, toward=list(self.toward))
        out.update(description=self.description, convention=self.convention)
        return out


@dataclass(frozen=True)
class CategoryPoms:
    category_id: int
    category: str
    outline: tuple[int, ...]  # 1-based ids around the garment's outer edge
    poms: tuple[PomDefinition, ...] = field(default_factory=tuple)

    def get(self, name: str) -> PomDefinition:
        for pom in self.poms:
            if pom.name == name:
                return pom
        known = ", ".join(p.name for p in self.poms)
        raise PomError(f"unknown POM {name!r} for {self.category!r} (known: {known})")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.poms)


@dataclass(frozen=True)
class PomCatalog:
    categories: dict[int, CategoryPoms]

    def for_category(self, category_id: int) -> CategoryPoms:
        try:
            return self.categories[int(category_id)]
        except KeyError:
            raise PomError(f"no points of measure defined for category {category_id}") from None

    @property
    def all_names(self) -> set[str]:
        return {p.name for c in self.categories.values() for p in c.poms}


def _ids(value, where: str, what: str, count: int, minimum: int = 1) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise PomError(f"{where}: {what} must be a list of 1-based landmark ids")
    if len(value) < minimum:
        raise PomError(f"{where}: {what} needs at least {minimum} landmark ids, got {len(value)}")
    for v in value:
        if not 1 <= v <= count:
            raise PomError(f"{where}: unknown landmark {v} in {what} (this category has landmarks 1-{count})")
    return tuple(value)


def _parse_pom(raw, where: str, count: int) -> PomDefinition:
    if not isinstance(raw, dict):
        raise PomError(f"{where}: a POM must be an object")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise PomError(f"{where}: a POM needs a non-empty 'name'")
    where = f"{where} POM {name!r}"
    kind = raw.get("kind")
    if kind not in KINDS:
        raise PomError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    needed = {"straight": 2, "polyline": 2, "perpendicular": 3, "offset_chord": 2}[kind]
    landmarks = _ids(raw.get("landmarks"), where, "landmarks", count, needed)
    if kind in ("straight", "offset_chord") and len(landmarks) != needed:
        raise PomError(f"{where}: a {kind} POM takes exactly {needed} landmarks, got {len(landmarks)}")
    offset, toward = 0.0, ()
    if kind == "offset_chord":
        try:
            offset = float(raw.get("offset_mm"))
        except (TypeError, ValueError):
            raise PomError(f"{where}: offset_chord needs a numeric 'offset_mm'") from None
        if not math.isfinite(offset):
            raise PomError(f"{where}: offset_mm must be finite")
        toward = _ids(raw.get("toward"), where, "toward", count, 1)
    return PomDefinition(
        name=name.strip(),
        kind=kind,
        landmarks=landmarks,
        description=str(raw.get("description", "")),
        convention=str(raw.get("convention", "")),
        offset_mm=offset,
        toward=toward,
    )


def _read(path: Path) -> dict:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PomError(f"cannot read POM file {path}: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise PomError(f'{path}: not a POM file (expected "format": "{FORMAT}")')
    if not isinstance(doc.get("categories"), list):
        raise PomError(f"{path}: 'categories' must be a list")
    return doc


def _merge(base: dict[int, CategoryPoms], doc: dict, source: str) -> dict[int, CategoryPoms]:
    schema = deepfashion2()
    merged = dict(base)
    for index, raw in enumerate(doc["categories"]):
        if not isinstance(raw, dict):
            raise PomError(f"{source}: categories[{index}] must be an object")
        try:
            cat = schema.category(raw.get("category_id", raw.get("category")))
        except SchemaError as exc:
            raise PomError(f"{source}: categories[{index}]: {exc}") from None
        where = f"{source}: {cat.name!r}"
        previous = merged.get(cat.id)
        if "outline" in raw:
            outline = _ids(raw["outline"], where, "outline", cat.num_keypoints, 3)
        elif previous is not None:
            outline = previous.outline
        else:
            raise PomError(f"{where}: a new category entry needs an 'outline'")
        poms = {p.name: p for p in (previous.poms if previous else ())}
        raw_poms = raw.get("poms", [])
        if not isinstance(raw_poms, list):
            raise PomError(f"{where}: 'poms' must be a list")
        seen: set[str] = set()
        for i, raw_pom in enumerate(raw_poms):
            pom = _parse_pom(raw_pom, f"{where} poms[{i}]", cat.num_keypoints)
            if pom.name in seen:
                raise PomError(f"{where}: POM {pom.name!r} is defined twice")
            seen.add(pom.name)
            poms[pom.name] = pom
        merged[cat.id] = CategoryPoms(cat.id, cat.name, outline, tuple(poms.values()))
    return merged


def bundled_path() -> Path:
    return resource_path("poms", "deepfashion2.json")


def load_catalog(user_file: str | Path | None = None) -> PomCatalog:
    """The bundled POMs, with ``user_file`` (same format) merged over them."""
    categories = _merge({}, _read(bundled_path()), str(bundled_path()))
    if user_file is not None:
        categories = _merge(categories, _read(Path(user_file)), str(user_file))
    return PomCatalog(categories)
