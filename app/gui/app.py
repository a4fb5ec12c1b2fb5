"""Starting the desktop application, or rendering its window to a PNG (``--screenshot``).

Started without a project it reopens the last one, or on first run builds and opens the bundled
sample project (see app/first_run.py) behind a progress dialog.
"""

from __future__ import annotations

import sys
from pathlib import Path

from app.first_run import data_dir, prepare_sample_project, remembered_project, sample_project_path
from app.gui.main_window import APPLICATION, ORGANISATION, MainWindow, settings

# The frozen build ships packaging/icons under the same relative path (see packaging/garment-studio.spec).
ICON = Path(__file__).resolve().parents[2] / "packaging" / "icons" / "garment-studio.svg"


def application():
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setStyle("Fusion")
    app.setDesktopFileName("garment-studio")  # matches packaging/garment-studio.desktop
    if ICON.is_file():  # source tree and frozen build; a plain wheel install has no icon
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(ICON)))
    return app


def user_data_dir() -> Path:
    from PySide6.QtCore import QStandardPaths

    return data_dir(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))


def open_start_project(window: MainWindow, model_card: str | None = None) -> Path | None:
    """Open the last project, else the sample project (built on first use); returns what was opened."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QProgressDialog

    last = remembered_project(settings().value("project/last"))
    if last is not None:
        window.open_project(last)
        return last if window.store is not None else None
    card = model_card or settings().value("model/card") or None
    dialog = QProgressDialog("Preparing the sample project…", "", 0, 0, window)
    dialog.setWindowTitle("First run")
    dialog.setCancelButton(None)  # the build is short and leaves nothing half-done worth keeping
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(0)
    dialog.show()

    def progress(n: int, total: int, name: str) -> None:
        dialog.setMaximum(total)
        dialog.setValue(n - 1)
        dialog.setLabelText(f"Preparing the sample project: {name} ({n} of {total})")
        QApplication.processEvents()

    QApplication.processEvents()
    try:
        outcome = prepare_sample_project(
            sample_project_path(user_data_dir()), card, str(settings().value("model/provider", "auto")), progress,
            flip_test=bool(settings().value("model/flip_test", True, type=bool)),
            orientation_check=bool(settings().value("model/orientation_check", True, type=bool)),
        )
    except OSError as exc:  # an unwritable data folder: start empty, say why
        window.statusBar().showMessage(f"Cannot prepare the sample project: {exc}")
        return None
    finally:
        dialog.close()
    window.open_project(outcome.path)
    # After open_project, whose own status message would otherwise replace this one.
    window.statusBar().showMessage(outcome.message, 15000 if outcome.predicted else 0)
    return outcome.path if window.store is not None else None


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
        load_model: bool = True, size: tuple[int, int] = (1480, 900), model_card: str | None = None) -> int:
    app = application()
    # A screenshot shows the default layout, whatever this user last arranged.
    window = MainWindow(load_model=load_model, restore_layout=not screenshot)
    if project:
        window.open_project(project, create=create)
    else:
        open_start_project(window, model_card)
    if screenshot:
        window.resize(*size)
        window.show()
        render_screenshot(window, Path(screenshot))
        window.close()
        return 0
    window.show()
    return app.exec()
