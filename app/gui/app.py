"""Starting the desktop application, or rendering its window to a PNG (``--screenshot``)."""

from __future__ import annotations

import sys
from pathlib import Path

from app.gui.main_window import APPLICATION, ORGANISATION, MainWindow


def application():
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setStyle("Fusion")
    return app


def render_screenshot(window: MainWindow, out: Path, wait_model_ms: int = 60000) -> Path:
    """Wait for what the window shows at start (thumbnails, model), then grab it to ``out``."""
    from PySide6.QtWidgets import QApplication

    window.model.wait(wait_model_ms)
    QApplication.processEvents()
    window.images.wait_for_thumbnails()
    for _ in range(5):
        QApplication.processEvents()
    window._update_model_label()
    window.canvas.fit()
    QApplication.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        raise OSError(f"cannot write screenshot {out}")
    return out


def run(project: str | None = None, screenshot: str | None = None, create: bool = False,
        load_model: bool = True, size: tuple[int, int] = (1480, 900)) -> int:
    app = application()
    # A screenshot shows the default layout, whatever this user last arranged.
    window = MainWindow(load_model=load_model, restore_layout=not screenshot)
    if project:
        window.open_project(project, create=create)
    if screenshot:
        window.resize(*size)
        window.show()
        render_screenshot(window, Path(screenshot))
        window.close()
        return 0
    window.show()
    return app.exec()
