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
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read image ({exc.strerror or exc})") from exc
    # imdecode from bytes: one read serves hash and size, and non-ASCII paths work on every OS.
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if img is None:
        raise ImageReadError(f"{path}: not a readable image")
    return ImageProbe(hashlib.sha256(data).hexdigest(), int(img.shape[1]), int(img.shape[0]))


IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
