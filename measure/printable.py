"""Printable calibration targets at true physical size: PNG (with its DPI recorded) and PDF.

The PDF is written here directly (one page, one lossless Flate-compressed greyscale image and a
caption line), so no PDF library is needed. Its page is exactly the board plus a white margin, so
printing at 100 % ("actual size") gives the board's real dimensions.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np

from measure.boards import (
    ArucoSpec,
    CharucoSpec,
    CheckerboardSpec,
    render_aruco,
    render_charuco,
    render_checkerboard,
)

MM_PER_INCH = 25.4
PT_PER_INCH = 72.0
MARGIN_MM = 10.0
# A larger page image (a board of metres, or an absurd dpi) would only end in an allocation failure inside
# OpenCV: 200 million grey pixels is a page of about 1.4 x 1 m at 300 dpi (the default board at 1200 dpi fits).
MAX_PIXELS = 200_000_000


def board_image(
    spec: CharucoSpec | ArucoSpec | CheckerboardSpec, dpi: float, margin_mm: float = MARGIN_MM
) -> np.ndarray:
    if not (dpi > 0 and math.isfinite(dpi)):
        raise ValueError(f"dpi must be a positive number, got {dpi}")
    px_per_mm = dpi / MM_PER_INCH
    size = spec.size_mm
    width_mm, height_mm = (size, size) if isinstance(size, int | float) else size
    pixels = (width_mm + 2 * margin_mm) * (height_mm + 2 * margin_mm) * px_per_mm**2
    if pixels > MAX_PIXELS:
        raise ValueError(
            f"the board at {dpi:g} dpi would be a {pixels / 1e6:.0f}-megapixel image (at most "
            f"{MAX_PIXELS / 1e6:.0f}): lower the dpi or choose a smaller board"
        )
    if isinstance(spec, CharucoSpec):
        return render_charuco(spec, px_per_mm, margin_mm)
    if isinstance(spec, ArucoSpec):
        return render_aruco(spec, px_per_mm, margin_mm)
    return render_checkerboard(spec, px_per_mm, margin_mm)


def _with_png_dpi(png: bytes, dpi: float) -> bytes:
    """Insert a pHYs chunk after IHDR so viewers and printers know the physical size."""
    per_metre = round(dpi / MM_PER_INCH * 1000.0)
    body = b"pHYs" + struct.pack(">IIB", per_metre, per_metre, 1)
    chunk = struct.pack(">I", 9) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def write_png(image: np.ndarray, path: str | Path, dpi: float) -> None:
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise OSError(f"cannot encode PNG for {path}")
    Path(path).write_bytes(_with_png_dpi(encoded.tobytes(), dpi))


def _pdf_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def write_pdf(image: np.ndarray, path: str | Path, dpi: float, caption: str = "") -> None:
    """One-page PDF whose page size is the image at ``dpi`` (a single 8-bit grey image)."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    page_w, page_h = w / dpi * PT_PER_INCH, h / dpi * PT_PER_INCH
    pixels = zlib.compress(np.ascontiguousarray(gray, dtype=np.uint8).tobytes(), 9)
    content = f"q {page_w:.4f} 0 0 {page_h:.4f} 0 0 cm /Im0 Do Q\n"
    if caption:
        content += f"BT /F1 7 Tf 8 6 Td ({_pdf_text(caption)}) Tj ET\n"
    content_bytes = content.encode("latin-1", errors="replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {page_w:.4f} {page_h:.4f}] "
            "/Resources << /XObject << /Im0 4 0 R >> /Font << /F1 6 0 R >> >> /Contents 5 0 R >>"
        ).encode(),
        (
            f"<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceGray "
            f"/BitsPerComponent 8 /Filter /FlateDecode /Length {len(pixels)} >>\nstream\n"
        ).encode()
        + pixels
        + b"\nendstream",
        f"<< /Length {len(content_bytes)} >>\nstream\n".encode() + content_bytes + b"endstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{off:010d} 00000 n \n".encode() for off in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    Path(path).write_bytes(bytes(out))


def write_printable(
    spec: CharucoSpec | ArucoSpec | CheckerboardSpec, path: str | Path, dpi: float = 300.0
) -> tuple[float, float]:
    """Write the board to ``path`` (.png or .pdf); returns the page size in mm."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".pdf"):
        raise ValueError(f"printable board must be .png or .pdf, got {path.name!r}")
    image = board_image(spec, dpi)
    if suffix == ".png":
        write_png(image, path, dpi)
    else:
        caption = f"{type(spec).__name__.removesuffix('Spec')} {spec} - print at 100 % (actual size) and check a square with a ruler"
        write_pdf(image, path, dpi, caption)
    h, w = image.shape[:2]
    return w / dpi * MM_PER_INCH, h / dpi * MM_PER_INCH
