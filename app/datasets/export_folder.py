"""The folder an export writes into: refused when it holds anything, unless overwriting is asked for.

Overwriting deletes what earlier exports of this tool wrote there (listed in ``MANIFEST``, images included)
and the chosen format's annotation files (also from exports older than the manifest), so nothing stale is
re-imported or trained on. Nothing else is touched, and never an image the project itself uses.
"""

from __future__ import annotations

import json
from pathlib import Path

from .common import DatasetError, ExportReport, atomic_write_json

MANIFEST = ".garment-studio-export.json"
ANNOTATION_FILES = {
    "coco": ("annotations.json",),
    "deepfashion2": ("annos/*.json",),
    "yolo-pose": ("labels/*.txt", "data.yaml", "train.txt", "val.txt"),
    "csv": ("measurements.csv",),
    "fld": ("list_landmarks.txt",),
}


def is_empty(folder: Path) -> bool:
    """True for a missing folder or one with no entries (a file in its place is not empty)."""
    folder = Path(folder)
    if not folder.exists():
        return True
    return folder.is_dir() and next(folder.iterdir(), None) is None


def prepare(folder: Path, fmt: str, overwrite: bool, keep: set[Path]) -> None:
    """Make ``folder`` ready for an export; ``keep``: resolved paths never to delete (the project's images)."""
    if not is_empty(folder) and not overwrite:
        raise DatasetError(f"{folder} is not empty: choose an empty folder, or overwrite (--overwrite) to "
                           "replace an earlier export there")
    if overwrite and folder.is_dir():
        clear_previous(folder, fmt, keep)
    folder.mkdir(parents=True, exist_ok=True)


def clear_previous(folder: Path, fmt: str, keep: set[Path]) -> None:
    root = folder.resolve()
    doomed = set(_listed(root))
    for pattern in ANNOTATION_FILES.get(fmt, ()):
        doomed.update(root.glob(pattern))
    for path in sorted(doomed):
        if path.resolve() not in keep and (path.is_file() or path.is_symlink()):
            path.unlink()
    for sub in {p.parent for p in doomed} - {root}:
        if sub.is_dir() and next(sub.iterdir(), None) is None:
            sub.rmdir()
    (root / MANIFEST).unlink(missing_ok=True)


def _listed(root: Path) -> list[Path]:
    """Files an earlier export recorded; entries that lead out of the folder are ignored."""
    try:
        names = json.loads((root / MANIFEST).read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return []
    out = []
    for name in names if isinstance(names, list) else []:
        path = root / str(name)
        if path.resolve().is_relative_to(root) and path.parent.resolve().is_relative_to(root):
            out.append(path.parent.resolve() / path.name)
    return out


def write_manifest(folder: Path, fmt: str, report: ExportReport) -> None:
    root = folder.resolve()
    names = sorted({p.resolve().relative_to(root).as_posix() for p in (*report.files, *report.copies)})
    atomic_write_json(root / MANIFEST, {"written_by": "Garment Keypoint Studio export", "format": fmt, "files": names})
