"""Reading an image file once for its content hash and pixel size (no Qt; OpenCV decodes)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


class ImageReadError(ValueError):
    """An image file is missing or cannot be decoded; the message names the file."""


@dataclass(frozen=True)
class ImageProbe:
    sha256: str
    width: int
    height: int


def probe_image(path: Path) -> ImageProbe:
    """Hash and size of the image as everything else sees it: turned upright by its EXIF orientation, as
    ``cv2.imread`` (the model) and Qt's auto-transform (the canvas) do, so keypoints, exports and the stored
    size share one frame. A phone photo stored sideways with an orientation tag is taller than it is wide."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read image ({exc.strerror or exc})") from exc
    # imdecode from bytes: one read serves hash and size, and non-ASCII paths work on every OS. IMREAD_COLOR
    # applies the EXIF orientation; IMREAD_UNCHANGED would not.
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR) if data else None
    if img is None:
        raise ImageReadError(f"{path}: not a readable image")
    return ImageProbe(hashlib.sha256(data).hexdigest(), int(img.shape[1]), int(img.shape[0]))


# EXIF orientations 5-8 turn the stored pixels by a quarter turn (or transpose them): width and height swap.
SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})
EXIF_HEADER_BYTES = 256 * 1024  # APP1 (EXIF) is at most 64 KiB and comes before the image data


def exif_orientation(data: bytes) -> int:
    """The EXIF orientation tag (1-8) of a JPEG's leading bytes; 1 (as stored) when there is none."""
    if data[:2] != b"\xff\xd8":
        return 1
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no EXIF after this point
            return 1
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if marker == 0xE1 and data[i + 4 : i + 10] == b"Exif\x00\x00":
            return _tiff_orientation(data[i + 10 : i + 2 + length])
        i += 2 + length
    return 1


def _tiff_orientation(tiff: bytes) -> int:
    order = {b"II": "little", b"MM": "big"}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return 1
    ifd = int.from_bytes(tiff[4:8], order)
    count = int.from_bytes(tiff[ifd : ifd + 2], order)
    for entry in range(ifd + 2, min(ifd + 2 + 12 * count, len(tiff) - 11), 12):
        if int.from_bytes(tiff[entry : entry + 2], order) == 0x0112:  # Orientation, a SHORT
            value = int.from_bytes(tiff[entry + 8 : entry + 10], order)
            return value if 1 <= value <= 8 else 1
    return 1


IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
# Photo formats people have but OpenCV cannot decode: a folder of them is reported, not silently empty.
UNREADABLE_PHOTO_SUFFIXES = frozenset(
    {".heic", ".heif", ".avif", ".jxl", ".gif", ".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2"}
)


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def image_files_under(folder: Path) -> tuple[list[Path], list[str]]:
    """Image files under a folder (recursively, in name order), and a note on photos skipped because their
    format cannot be read (empty when there are none)."""
    images, unreadable = [], {}
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file():
            continue
        suffix = path.suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            images.append(path)
        elif suffix in UNREADABLE_PHOTO_SUFFIXES:
            unreadable[suffix] = unreadable.get(suffix, 0) + 1
    notes = []
    if unreadable:
        kinds = ", ".join(f"{n} {suffix}" for suffix, n in sorted(unreadable.items()))
        notes.append(f"{folder}: skipped {sum(unreadable.values())} photos in a format this app cannot read "
                     f"({kinds}); convert them to JPEG or PNG")
    return images, notes
