"""What every dataset reader and writer shares: reports, selection filters, atomic file writes."""

from __future__ import annotations

import errno
import filecmp
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from inference.annotation import Garment, GarmentStatus
from inference.schema import deepfashion2

LAYOUT_KEY = "layout"  # Garment.extra key of FLD garments (see app.store.convert and ADR 0003)


class DatasetError(ValueError):
    """A dataset file or item cannot be read or written; the message names it."""


@dataclass
class ImportReport:
    images_added: int = 0
    images_duplicate: int = 0  # same content already in the project
    garments_added: int = 0
    sources_ok: int = 0
    sources_failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def imported_anything(self) -> bool:
        return self.images_added > 0 or self.garments_added > 0 or self.images_duplicate > 0

    def merge(self, other: ImportReport) -> None:
        for name in ("images_added", "images_duplicate", "garments_added", "sources_ok", "sources_failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)


@dataclass
class ExportReport:
    images: int = 0
    garments: int = 0
    skipped: int = 0  # garments this format cannot carry (FLD layouts in DF2 formats)
    predicted: int = 0  # exported garments that are a model's unreviewed predictions
    images_left_out: int = 0  # images with chosen garments left out for also holding garments of other statuses
    files: list[Path] = field(default_factory=list)
    copies: list[Path] = field(default_factory=list)  # images this export linked or copied into the folder
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Selection:
    """Which garments an export takes: statuses (None = all) and DF2 category ids (None = all)."""

    statuses: frozenset[GarmentStatus] | None = None
    categories: frozenset[int] | None = None

    @classmethod
    def parse(cls, status: str | Iterable[str] | None = "all", categories: Iterable[int | str] | None = None) -> Selection:
        """``status``: "all" (or None), one status, or several, comma-separated ("corrected,verified") or listed."""
        return cls(parse_statuses(status), _categories(categories))

    @property
    def everything(self) -> bool:
        return self.statuses is None and self.categories is None

    def takes_category(self, garment: Garment) -> bool:
        return self.categories is None or garment.category_id in self.categories

    def takes(self, garment: Garment) -> bool:
        return (self.statuses is None or garment.status in self.statuses) and self.takes_category(garment)


STATUS_CHOICES = ("all", *(str(s) for s in GarmentStatus))


def parse_statuses(status: str | Iterable[str] | None) -> frozenset[GarmentStatus] | None:
    """The statuses a ``--status`` value names; None for all of them. Raises DatasetError naming a bad one."""
    if status is None:
        return None
    names = status.split(",") if isinstance(status, str) else list(status)
    names = [str(n).strip().lower() for n in names if str(n).strip()]
    if not names:
        raise DatasetError(f"no status given: use one of {', '.join(STATUS_CHOICES)}, or several joined by commas")
    chosen = set()
    for name in names:
        if name == "all":
            return None
        try:
            chosen.add(GarmentStatus(name))
        except ValueError:
            raise DatasetError(f"status {name!r} is not one of {', '.join(STATUS_CHOICES)}") from None
    return None if chosen == set(GarmentStatus) else frozenset(chosen)


def _categories(categories: Iterable[int | str] | None) -> frozenset[int] | None:
    if not categories:
        return None
    return frozenset(deepfashion2().category(_as_key(c)).id for c in categories)


def _as_key(value: int | str) -> int | str:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def is_fld(garment: Garment) -> bool:
    return str(garment.extra.get(LAYOUT_KEY, "df2")).startswith("fld")


def selected_images(store, selection: Selection, report: ExportReport | None = None, whole_images: bool = True):
    """Yield (ImageInfo, [(garment_id, Garment)]) in image order; images without a chosen garment are left
    out unless the selection is everything (then empty images stay, as negatives).

    An image is the unit of a dataset: with a status filter (and ``whole_images``) an image is taken only when
    every garment of the chosen categories on it has a chosen status. Otherwise its other garments would be
    missing from the labels and read as background, and a detector's correct finds there as false positives.
    Such images are counted in ``report.images_left_out``. Garments of other categories do not matter: a
    category-filtered dataset treats them as background by design. A photo a person verified as empty is a
    reviewed negative: it goes with a filter that takes verified garments (and no category filter).
    """
    for info in store.list_images():
        pairs = store.garments(info.id)
        chosen = [(gid, g) for gid, g in pairs if selection.takes(g)]
        if whole_images and selection.statuses is not None and any(
            g.status not in selection.statuses for _, g in pairs if selection.takes_category(g)
        ):
            if chosen and report is not None:
                report.images_left_out += 1
            continue
        verified_empty = not pairs and info.status == "verified" and selection.categories is None and (
            selection.statuses is None or GarmentStatus.VERIFIED in selection.statuses)
        if chosen or selection.everything or verified_empty:
            yield info, chosen


def count_predicted(garments) -> int:
    """How many of these garments are a model's predictions nobody reviewed."""
    return sum(1 for g in garments if g.status == GarmentStatus.PREDICTED)


def _read_umask() -> int:
    current = os.umask(0)  # the only way to read it is to set it; put back at once
    os.umask(current)
    return current


# Read once, at import (single-threaded then): os.umask is process-wide, and setting it to 0 for a moment on
# every file written let other threads' new files come out world-writable.
_UMASK = _read_umask()


def atomic_write_text(path: Path, text: str) -> Path:
    """Write beside the target and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        # mkstemp makes the file owner-only (0600); an exported file is read by teammates and training jobs
        # as any other file is: the permissions the umask gives a new file
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(path: Path, doc) -> Path:
    return atomic_write_text(path, json.dumps(doc, indent=1, allow_nan=False) + "\n")


def export_image(src: Path, folder: Path, stem: str, report: ExportReport) -> str:
    """Put an exported annotation's image into ``folder`` and return the stem it got, which names its annotation
    file too (DF2 and YOLO pair them by stem). A stem that names another file there, by any suffix, is taken:
    the image gets ``stem_2``, ``stem_3``… A failed copy is reported, not fatal."""
    suffix = src.suffix.lower()
    chosen, n = stem, 1
    while _stem_taken(folder, chosen, src, suffix):
        n += 1
        chosen = f"{stem}_{n}"
    try:
        if copy_image(src, folder / f"{chosen}{suffix}"):
            report.copies.append(folder / f"{chosen}{suffix}")
    except OSError as exc:
        report.errors.append(f"{src}: cannot copy image ({exc.strerror or exc})")
    return chosen


def _stem_taken(folder: Path, stem: str, src: Path, suffix: str) -> bool:
    from app.store.images import IMAGE_SUFFIXES

    for ext in {suffix, *IMAGE_SUFFIXES, *(e.upper() for e in IMAGE_SUFFIXES)}:
        other = folder / f"{stem}{ext}"
        if other.exists() and (ext != suffix or not same_content(src, other)):
            return True
    return False


def same_content(a: Path, b: Path) -> bool:
    """The same file, or two files with the same bytes (a size match alone is not enough)."""
    try:
        return os.path.samefile(a, b) or filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def copy_image(src: Path, dst: Path) -> bool:
    """Put an image into an export folder as a copy of its own: a hard link (tried before) shared the file with
    the project, so resizing or re-encoding an exported image changed the project's photo under its
    annotations. Returns whether a file was written; a ``dst`` holding these bytes already is kept, one
    holding others is refused."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists() and not os.path.samefile(src, dst):  # an earlier export's hard link is made a copy
        if same_content(src, dst):
            return False
        raise FileExistsError(errno.EEXIST, "a different file of that name is in the way", str(dst))
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
    return True


def unique_stems(infos) -> dict[int, str]:
    """File stems for exported images; a repeated stem (in any case: some file systems ignore it) gets the
    image id appended."""
    seen: set[str] = set()
    out = {}
    for info in infos:
        stem = Path(info.path).stem
        while stem.lower() in seen:
            stem = f"{stem}_{info.id}"
        seen.add(stem.lower())
        out[info.id] = stem
    return out


def recorded_status(record: dict, default: GarmentStatus) -> GarmentStatus:
    """The status an annotation carries: as written by our exports; a model's ``score`` without one marks a
    prediction; neither means a label from an outside dataset (``default``)."""
    value = record.get("status")
    if value is not None:
        try:
            return GarmentStatus(value)
        except ValueError:
            raise DatasetError(f"status {value!r} is not one of {', '.join(GarmentStatus)}") from None
    return GarmentStatus.PREDICTED if record.get("score") is not None else default


def finite_score(value) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise DatasetError(f"score {value!r} is not a finite number")
    return float(value)


def read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from exc


def find_image(stem_or_name: str, folders: Iterable[Path]) -> Path | None:
    """An image by exact file name, or by stem with any common image suffix, in the first folder having it."""
    from app.store.images import IMAGE_SUFFIXES

    for folder in folders:
        exact = folder / stem_or_name
        if Path(stem_or_name).suffix.lower() in IMAGE_SUFFIXES:
            if exact.is_file():
                return exact
            continue
        for suffix in sorted(IMAGE_SUFFIXES):
            for candidate in (folder / f"{stem_or_name}{suffix}", folder / f"{stem_or_name}{suffix.upper()}"):
                if candidate.is_file():
                    return candidate
    return None


def ingest(store, image_path: Path, garments: list[Garment], report: ImportReport, source: str,
           attributes: dict | None = None) -> None:
    """Add one image and its annotations in one transaction (a killed import leaves no image without its
    labels). An image already in the project keeps the garments it has: importing the same dataset twice
    adds nothing twice (``ProjectStore.import_image``)."""
    from app.store.images import ImageReadError

    try:
        # absolute, not resolved: the store keeps a file inside the project folder relative to it, and a
        # symlinked folder there should stay the link it is
        result = store.import_image(image_path.absolute(), garments, source=source, attributes=attributes)
    except ImageReadError as exc:
        report.errors.append(f"{source}: {exc}")
        return
    if result.added:
        report.images_added += 1
    else:
        report.images_duplicate += 1
    report.garments_added += len(result.garment_ids)
