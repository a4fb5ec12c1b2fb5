"""Render packaging/icons/garment-studio.svg to the PNG the .desktop entry uses (Qt's SVG renderer).

    .venv/bin/python packaging/render_icon.py            # writes packaging/icons/garment-studio.png (256 px)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parent / "icons"


def render(svg: Path = ICONS / "garment-studio.svg", png: Path = ICONS / "garment-studio.png", size: int = 256) -> Path:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (QPainter needs it)
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(png)):
        raise SystemExit(f"cannot write {png}")
    return png


if __name__ == "__main__":
    print(render())
