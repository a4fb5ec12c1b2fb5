"""Printable calibration targets at true physical size: PNG (with its DPI recorded) and PDF.

The PDF is written here directly (one page, one lossless Flate-compressed greyscale image and a
caption line), so no PDF library is needed. By default its page is the board plus a white margin
(300 x 220 mm for the default 7x5:40 board: larger than A4 and US Letter, so it needs A3); with
``paper`` it is that standard sheet, the board centred on it. Either way the page holds a labelled
100 mm check bar: printing at 100 % ("actual size") gives the board's real dimensions, and a ruler on
the bar shows when a printer driver scaled the page ("fit to page" shrinks an oversized page by ~5 %).
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass
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
MARGIN_MM = 10.0  # white margin round the board on a page of its own size
# Standard sheets (portrait width, height in mm) for ``paper``; the board is centred on the sheet, turned to
# landscape when that fits it.
PAPER_MM = {"a4": (210.0, 297.0), "letter": (215.9, 279.4), "a3": (297.0, 420.0)}
PAPER_NAMES = {"a4": "A4", "letter": "US Letter", "a3": "A3"}
# Printers leave 3-5 mm at the sheet's edges unprinted, so nothing is drawn closer to them than this.
PRINT_MARGIN_MM = 5.0
# The check bar: 100 mm long, 2 mm off the board, with 3 mm end ticks (a 5 mm strip beside the board); its
# label runs on along the bar. Below the board when there is room, else at its right, turned upright (the
# default 7x5:40 board on A4 landscape leaves 5 mm above and below it, 8.5 mm left and right).
CHECK_BAR_MM = 100.0
CHECK_GAP_MM = 2.0
CHECK_TICK_MM = 3.0
CHECK_STRIP_MM = CHECK_GAP_MM + CHECK_TICK_MM
CHECK_LABEL_MM = 22.0  # room the label takes after the bar's end
# A larger page image (a board of metres, or an absurd dpi) would only end in an allocation failure inside
# OpenCV: 200 million grey pixels is a page of about 1.4 x 1 m at 300 dpi (the default board at 1200 dpi fits).
MAX_PIXELS = 200_000_000


def _board_size_mm(spec) -> tuple[float, float]:
    size = spec.size_mm
    return (size, size) if isinstance(size, int | float) else size


def _check_pixels(width_mm: float, height_mm: float, dpi: float) -> None:
    if not (dpi > 0 and math.isfinite(dpi)):
        raise ValueError(f"dpi must be a positive number, got {dpi}")
    pixels = width_mm * height_mm * (dpi / MM_PER_INCH) ** 2
    if pixels > MAX_PIXELS:
        raise ValueError(
            f"the board at {dpi:g} dpi would be a {pixels / 1e6:.0f}-megapixel image (at most "
            f"{MAX_PIXELS / 1e6:.0f}): lower the dpi or choose a smaller board"
        )


def board_image(
    spec: CharucoSpec | ArucoSpec | CheckerboardSpec, dpi: float, margin_mm: float = MARGIN_MM
) -> np.ndarray:
    """The board alone at ``dpi`` with a white margin (no check bar)."""
    width_mm, height_mm = _board_size_mm(spec)
    _check_pixels(width_mm + 2 * margin_mm, height_mm + 2 * margin_mm, dpi)
    px_per_mm = dpi / MM_PER_INCH
    if isinstance(spec, CharucoSpec):
        return render_charuco(spec, px_per_mm, margin_mm)
    if isinstance(spec, ArucoSpec):
        return render_aruco(spec, px_per_mm, margin_mm)
    return render_checkerboard(spec, px_per_mm, margin_mm)


@dataclass(frozen=True)
class PageLayout:
    """Where the board and the check bar go on the page, in mm from the page's top-left corner."""

    page_mm: tuple[float, float]  # width, height
    board_at_mm: tuple[float, float]  # the board's top-left corner
    bar_at_mm: tuple[float, float]  # the check bar's start
    bar_upright: bool  # the bar runs down the page (at the board's right) instead of across (below it)
    paper: str | None = None

    @property
    def paper_name(self) -> str:
        return PAPER_NAMES[self.paper] if self.paper else "custom"


def _layout_on(page_mm: tuple[float, float], board_mm: tuple[float, float], margin: float) -> PageLayout | None:
    """The board centred on a page with the check bar below it or at its right; None when it does not fit."""
    (pw, ph), (bw, bh) = page_mm, board_mm
    bar_length = CHECK_BAR_MM + CHECK_LABEL_MM
    slack_w, slack_h = pw - bw - 2 * margin, ph - bh - 2 * margin
    if slack_w >= 0 and slack_h >= CHECK_STRIP_MM and pw - 2 * margin >= bar_length:
        x, y = margin + slack_w / 2, margin + (slack_h - CHECK_STRIP_MM) / 2
        bar_x = x if bw >= bar_length else margin + (pw - 2 * margin - bar_length) / 2
        return PageLayout(page_mm, (x, y), (bar_x, y + bh + CHECK_GAP_MM), False)
    if slack_h >= 0 and slack_w >= CHECK_STRIP_MM and ph - 2 * margin >= bar_length:
        x, y = margin + (slack_w - CHECK_STRIP_MM) / 2, margin + slack_h / 2
        bar_y = y if bh >= bar_length else margin + (ph - 2 * margin - bar_length) / 2
        return PageLayout(page_mm, (x, y), (x + bw + CHECK_GAP_MM, bar_y), True)
    return None


def _on_paper(board_mm: tuple[float, float], key: str) -> PageLayout | None:
    short, long = PAPER_MM[key]
    landscape = board_mm[0] >= board_mm[1]
    for page in ((long, short), (short, long)) if landscape else ((short, long), (long, short)):
        layout = _layout_on(page, board_mm, PRINT_MARGIN_MM)
        if layout is not None:
            return PageLayout(layout.page_mm, layout.board_at_mm, layout.bar_at_mm, layout.bar_upright, key)
    return None


def page_layout(spec: CharucoSpec | ArucoSpec | CheckerboardSpec, paper: str | None = None) -> PageLayout:
    """The page for ``spec``: the board plus MARGIN_MM all round, the check bar in the bottom margin (the page
    widened for it under a board narrower than the bar); or, with ``paper``, that standard sheet."""
    bw, bh = _board_size_mm(spec)
    if paper is None:
        width = max(bw, CHECK_BAR_MM + CHECK_LABEL_MM) + 2 * MARGIN_MM
        x = (width - bw) / 2
        return PageLayout((width, bh + 2 * MARGIN_MM), (x, MARGIN_MM),
                          (min(x, MARGIN_MM), MARGIN_MM + bh + CHECK_GAP_MM), False)
    key = paper.lower()
    if key not in PAPER_MM:
        raise ValueError(f"unknown paper {paper!r}: choose one of {', '.join(PAPER_MM)}")
    layout = _on_paper((bw, bh), key)
    if layout is None:
        fits = fitting_papers(spec)
        where = ("it fits on " + ", ".join(f"{PAPER_NAMES[k]} (--paper {k})" for k in fits)) if fits else (
            "choose smaller squares")
        raise ValueError(
            f"the board {spec} ({bw:g} x {bh:g} mm) does not fit on {PAPER_NAMES[key]} ({PAPER_MM[key][0]:g} x "
            f"{PAPER_MM[key][1]:g} mm) with {PRINT_MARGIN_MM:g} mm margins and the {CHECK_BAR_MM:g} mm check bar; "
            f"{where}"
        )
    return layout


def fitting_papers(spec: CharucoSpec | ArucoSpec | CheckerboardSpec) -> list[str]:
    """The standard sheets (keys of PAPER_MM) the board fits on at true size, with the check bar."""
    return [key for key in PAPER_MM if _on_paper(_board_size_mm(spec), key) is not None]


def _check_bar(length_px: int, strip_px: int, px_per_mm: float, line_at_top: bool = True) -> np.ndarray:
    """The 100 mm bar with end and 10 mm ticks and its label, drawn across (rows: the strip's depth); the
    line runs along the strip's top or bottom edge, the ticks stand off it."""
    label_px = round(CHECK_LABEL_MM * px_per_mm)
    strip = np.full((strip_px, length_px + label_px), 255, np.uint8)
    thick = max(1, round(0.5 * px_per_mm))
    strip[:thick, :length_px] = 0
    for mm in range(0, int(CHECK_BAR_MM) + 1, 10):
        x = min(round(mm * px_per_mm), length_px - thick)
        depth = strip_px if mm in (0, int(CHECK_BAR_MM)) else strip_px // 2
        strip[:depth, x : x + thick] = 0
    if not line_at_top:
        strip = strip[::-1].copy()
    text = f"{CHECK_BAR_MM:g} mm"
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 1)
    scale = (0.6 * strip_px) / th
    width = max(1, round(scale * 1.5))
    cv2.putText(strip, text, (length_px + round(1.5 * px_per_mm), strip_px - 1), cv2.FONT_HERSHEY_SIMPLEX,
                scale, 0, width, cv2.LINE_AA)
    return strip


def page_image(
    spec: CharucoSpec | ArucoSpec | CheckerboardSpec, dpi: float, paper: str | None = None
) -> tuple[np.ndarray, PageLayout]:
    """The printable page at ``dpi``: the board and the labelled 100 mm check bar, laid out by page_layout."""
    layout = page_layout(spec, paper)
    _check_pixels(*layout.page_mm, dpi)
    px_per_mm = dpi / MM_PER_INCH
    page = np.full((round(layout.page_mm[1] * px_per_mm), round(layout.page_mm[0] * px_per_mm)), 255, np.uint8)
    board = board_image(spec, dpi, margin_mm=0)
    x, y = (round(v * px_per_mm) for v in layout.board_at_mm)
    page[y : y + board.shape[0], x : x + board.shape[1]] = board
    bar = _check_bar(round(CHECK_BAR_MM * px_per_mm), round(CHECK_TICK_MM * px_per_mm), px_per_mm,
                     line_at_top=not layout.bar_upright)
    if layout.bar_upright:  # turned clockwise: runs down from its start, the line next to the board
        bar = np.rot90(bar, -1)
    bx, by = (round(v * px_per_mm) for v in layout.bar_at_mm)
    h, w = min(bar.shape[0], page.shape[0] - by), min(bar.shape[1], page.shape[1] - bx)
    page[by : by + h, bx : bx + w] = np.minimum(page[by : by + h, bx : bx + w], bar[:h, :w])
    return page, layout


def print_instructions(spec: CharucoSpec | ArucoSpec | CheckerboardSpec, layout: PageLayout) -> list[str]:
    """How to print the page at true size and check it: the lines `calibrate --print-board` prints."""
    width, height = layout.page_mm
    if layout.paper:
        how = (
            f"print it on {layout.paper_name} at 100 % (actual size): turn off \"fit to page\" and \"shrink to "
            "printable area\", which scale the board"
        )
    else:  # a page of the board's own size: the smallest standard sheet it prints on, and the sheets it fits
        sheets = [k for k, (s, g) in PAPER_MM.items() if s >= min(width, height) and g >= max(width, height)]
        smaller = [PAPER_NAMES[k] for k in ("a4", "letter") if k not in sheets]
        how = (f"the page is larger than {' and '.join(smaller)}: " if smaller else "") + (
            f"print it at 100 % (actual size, not \"fit to page\") on {PAPER_NAMES[sheets[0]]} or larger"
            if sheets else "print it at 100 % (actual size, not \"fit to page\") on a sheet that large"
        )
        fits = [k for k in fitting_papers(spec) if k not in sheets[:1]]
        if fits:
            how += "; or lay it out on " + " or ".join(f"{PAPER_NAMES[k]} with --paper {k}" for k in fits)
    if isinstance(spec, ArucoSpec):
        what = f"the marker must be {spec.size_mm:.1f} mm"
        example = f"--aruco {spec.marker_id}:SIZE_MM:{spec.dictionary}"
    elif isinstance(spec, CharucoSpec):
        what = f"a square must be {spec.square_mm:.1f} mm"
        example = f"--charuco {spec.cols}x{spec.rows}:SQUARE_MM:MARKER_MM:{spec.dictionary}, the marker scaled alike"
    else:
        what = f"a square must be {spec.square_mm:.1f} mm"
        example = f"--checkerboard {spec.cols}x{spec.rows}:SQUARE_MM"
    check = (
        f"then measure the {CHECK_BAR_MM:g} mm bar and the board with a ruler: {what}; if it is not, give the "
        f"measured size in the board spec ({example})"
    )
    return [how, check]


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


def write_pdf(
    image: np.ndarray, path: str | Path, dpi: float, caption: str = "", page_mm: tuple[float, float] | None = None
) -> None:
    """One-page PDF of a single 8-bit grey image at ``dpi``, its top-left corner at the page's. The page is the
    image's size, or ``page_mm`` (a standard sheet, exactly, so a driver has no reason to scale it)."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    image_w, image_h = w / dpi * PT_PER_INCH, h / dpi * PT_PER_INCH
    if page_mm is None:
        page_w, page_h = image_w, image_h
    else:
        page_w, page_h = (v / MM_PER_INCH * PT_PER_INCH for v in page_mm)
    pixels = zlib.compress(np.ascontiguousarray(gray, dtype=np.uint8).tobytes(), 9)
    content = f"q {image_w:.4f} 0 0 {image_h:.4f} 0 {page_h - image_h:.4f} cm /Im0 Do Q\n"
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
    spec: CharucoSpec | ArucoSpec | CheckerboardSpec, path: str | Path, dpi: float = 300.0, paper: str | None = None
) -> tuple[float, float]:
    """Write the board's page (see page_layout) to ``path`` (.png or .pdf); returns the page size in mm."""
    return write_printable_page(spec, path, dpi, paper).page_mm


def write_printable_page(
    spec: CharucoSpec | ArucoSpec | CheckerboardSpec, path: str | Path, dpi: float = 300.0, paper: str | None = None
) -> PageLayout:
    """write_printable, returning the whole layout (page size and the paper it is for)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".pdf"):
        raise ValueError(f"printable board must be .png or .pdf, got {path.name!r}")
    image, layout = page_image(spec, dpi, paper)
    if suffix == ".png":
        write_png(image, path, dpi)
    else:
        w, h = layout.page_mm
        caption = (
            f"{type(spec).__name__.removesuffix('Spec')} {spec} - page {w:g} x {h:g} mm ({layout.paper_name}) - "
            f"print at 100 % (actual size); the bar must measure {CHECK_BAR_MM:g} mm"
        )
        write_pdf(image, path, dpi, caption, layout.page_mm if layout.paper else None)
    return layout
