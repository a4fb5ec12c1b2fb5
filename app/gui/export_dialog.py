"""Export the project to a dataset format (app/datasets), in the background with its own connection."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.jobs import JobContext, JobRunner
from app.store.database import StoreError
from inference.schema import deepfashion2

FORMAT_LABELS = {
    "coco": "COCO keypoints (DeepFashion2 294 layout)",
    "deepfashion2": "DeepFashion2 per-image JSON",
    "yolo-pose": "YOLO pose",
    "csv": "Measurements CSV",
    "fld": "FLD landmark list",
}


def export_job(
    ctx: JobContext, project_path: str, out_dir: str, fmt: str, status: str, category: int | None,
    overwrite: bool = False,
):
    from app.datasets.common import Selection
    from app.datasets.formats import export_project
    from app.store.repository import ProjectStore

    store = ProjectStore.open(project_path)
    try:
        ctx.progress(0, 1, fmt)
        selection = Selection.parse(status, [category] if category else None)
        report = export_project(store, Path(out_dir), fmt, selection, overwrite=overwrite)
        ctx.progress(1, 1, fmt)
        return report
    finally:
        store.close()


class ExportDialog(QDialog):
    def __init__(self, project_path: Path, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Export annotations")
        self.project_path = Path(project_path)
        self.runner = JobRunner(self)
        self.format = QComboBox()
        from app.datasets.formats import EXPORT_FORMATS

        for fmt in EXPORT_FORMATS:
            self.format.addItem(FORMAT_LABELS.get(fmt, fmt), fmt)
        self.status = QComboBox()
        for value, text in (
            ("verified", "Verified only"), ("corrected,verified", "Verified and corrected (reviewed)"),
            ("all", "All garments"), ("corrected", "Corrected only"), ("predicted", "Predicted only"),
        ):
            self.status.addItem(text, value)
        self.status.setToolTip("With a status chosen, an image is exported only when all its garments have it: "
                               "a garment left out would read as background. The images left out are counted.")
        self.category = QComboBox()
        self.category.addItem("All categories", None)
        for cat in deepfashion2().categories:
            self.category.addItem(cat.name, cat.id)
        self.out_dir = QLineEdit(str(self.project_path.parent / f"{self.project_path.stem}-export"))
        browse = QPushButton("…")
        browse.clicked.connect(self._browse)
        folder = QWidget()
        row = QHBoxLayout(folder)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.out_dir)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Format", self.format)
        form.addRow("Garments", self.status)
        form.addRow("Category", self.category)
        form.addRow("Folder", folder)
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.result)
        layout.addWidget(self.buttons)
        self.runner.finished.connect(self._on_done)
        self.runner.failed.connect(lambda _n, err: self._show(f"Export failed: {err}"))
        self.resize(560, 240)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export folder", self.out_dir.text())
        if folder:
            self.out_dir.setText(folder)

    def start(self) -> bool:
        from app.datasets.export_folder import is_empty

        text = self.out_dir.text().strip()
        out_dir = Path(text)
        if not text or (out_dir.exists() and not out_dir.is_dir()):  # "" would be the working folder
            self.result.setText("Choose a folder to export into.")
            return False
        # A non-empty folder is overwritten only when the user says so (an earlier export's files are deleted).
        try:
            overwrite = not is_empty(out_dir)
        except OSError as exc:
            self.result.setText(f"Cannot use {out_dir}: {exc.strerror or exc}")
            return False
        if overwrite and not self._confirm_overwrite(out_dir):
            return False
        self.export_button.setEnabled(False)
        self.result.setText("Exporting…")
        return self.runner.start(
            "Export", export_job, str(self.project_path), self.out_dir.text(), self.format.currentData(),
            self.status.currentData(), self.category.currentData(), overwrite,
        )

    def _confirm_overwrite(self, out_dir: Path) -> bool:
        answer = QMessageBox.question(
            self, "Export annotations",
            f"{out_dir} is not empty.\n\nReplace the earlier export there? The files it wrote and this format's "
            "annotation files are deleted first; other files are kept.",
        )
        return answer == QMessageBox.StandardButton.Yes

    def _on_done(self, _name: str, report) -> None:
        if self.format.currentData() == "csv" and not report.garments:
            self._show(self._no_measurements())  # not "0 images, 0 garments written": say why
            return
        text = f"{report.images} images, {report.garments} garments written to {self.out_dir.text()}"
        if report.skipped:
            text += f"; {report.skipped} garments this format cannot hold were skipped"
        from app.datasets.formats import left_out_note, status_warning

        note = left_out_note(report)
        if note:
            text += f"\n{note[0].upper()}{note[1:]}."
        warning = status_warning(self.format.currentData(), report)
        if warning:
            text += f"\nWarning: {warning}. Choose 'Verified and corrected' to export reviewed garments only."
        if not report.garments and self.format.currentData() != "csv":
            text += "\nNo garment matched the chosen status and category: nothing to train on in this export."
        if report.errors:
            text += "\n" + "\n".join(report.errors[:10])
        self._show(text)

    def _no_measurements(self) -> str:
        """Why a measurements CSV came out empty: none stored in the project, or none of the chosen garments."""
        from app.store.repository import ProjectStore

        try:
            with ProjectStore.open(self.project_path) as store:
                stored = len(store.measurements())
        except (StoreError, OSError):
            stored = None
        where = f"measurements.csv in {self.out_dir.text()} has its header only"
        if stored == 0:
            return (f"No measurements are stored in this project, so {where}. The app stores a photo's "
                    "measurements when you verify it (Space) while it is measured with a calibration saved in the "
                    "project: a profile, From image (Ctrl+K) or a reference line (R). "
                    "`garment-studio measure --project` stores them too.")
        return (f"None of the garments chosen (status and category) has stored measurements, so {where}. "
                "Measurements are stored when a photo is verified with a saved calibration; try 'All garments'.")

    def _show(self, text: str) -> None:
        self.result.setText(text)
        self.export_button.setEnabled(True)
