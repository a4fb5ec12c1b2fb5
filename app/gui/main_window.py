"""The main window: wires the canvas, image list, inspector, measurements, jobs and actions.

It holds no annotation state; the store is the single source of truth and each component reads
what it shows from it (see editor.py for how edits flow).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox

from app.gui import retrain_dialog
from app.gui.actions import Actions, ShortcutsDialog
from app.gui.backend import entries, garment_or_none
from app.gui.canvas import CanvasView
from app.gui.commands import EditSession
from app.gui.editor import Editor
from app.gui.garment_reading import GarmentReading
from app.gui.image_cache import PhotoPrefetcher
from app.gui.image_list import ImageListPanel
from app.gui.inspector import InspectorPanel
from app.gui.jobs import JobRunner, JobsWidget
from app.gui.measure_panel import MeasurementsPanel
from app.gui.measuring import Measuring
from app.gui.model_service import ModelService, annotate_job, images_to_annotate, import_job
from app.gui.settings import APPLICATION, ORGANISATION, settings  # noqa: F401  (re-exported)
from app.gui.style import FAIL_COLOUR
from app.store.database import StoreError, write_problem
from app.store.repository import ImageStatus, ProjectStore
from inference.annotation import Visibility

# Actions that act on an open project: greyed out without one, rather than answering "select a garment"
NEEDS_PROJECT = (
    "add_images", "add_folder", "export", "new_window", "cycle_visibility", "set_visible", "set_occluded",
    "set_absent", "place_point", "draw_box", "delete_garment", "revert_garment", "verify_next", "next_garment",
    "next_image", "prev_image", "next_unverified", "annotate_current", "annotate_missing", "annotate_all",
    "reread_garment", "retrain", "calibrate_image", "reference_line",
)
IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.tif *.tiff *.webp)"


class MainWindow(QMainWindow):
    def __init__(self, load_model: bool = True, restore_layout: bool = True):
        super().__init__()
        self.setWindowTitle(APPLICATION)
        self.store: ProjectStore | None = None
        self.session: EditSession | None = None
        self.image_id: int | None = None
        self._empty_verify_armed: int | None = None
        self._seen_mark = 0  # the project's change mark when this window last caught up (see catch_up)  # the photo a first Space on an unread, empty photo named
        self._stepping_history = False  # inside an undo or redo (see _on_session_change)
        self.actions = Actions(self)
        self.canvas = CanvasView(self)
        self.setCentralWidget(self.canvas)
        self.editor = Editor(self.canvas, self)
        self.images = ImageListPanel()
        self.photos = PhotoPrefetcher(self)
        self.inspector = InspectorPanel(self.actions)
        self.measurements = MeasurementsPanel()
        self.jobs = JobRunner(self)
        self.reading = GarmentReading(self)  # a drawn box, a garment read again
        self.measuring = Measuring(self)  # calibrations, spec sheets, the measurement overlay
        self.box_jobs = self.reading.jobs
        self.model = ModelService(self)
        self.model.flip_test = bool(settings().value("model/flip_test", True, type=bool))
        self.model.orientation_check = bool(settings().value("model/orientation_check", True, type=bool))
        self.auto_model = load_model  # opening a project loads its active model version
        self._build_docks()
        self._build_menus()
        self._build_status_bar()
        self._connect()
        self._enable_project_actions(False)
        if restore_layout:
            self._restore_settings()
        else:
            self.resize(1480, 900)
        if load_model:
            self.model.load(settings().value("model/card") or None, str(settings().value("model/provider", "auto")))

    # Layout -------------------------------------------------------------------------------------------
    def _build_docks(self) -> None:
        images = QDockWidget("Images", self)
        images.setObjectName("images")
        images.setWidget(self.images)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, images)
        side = QDockWidget("Garment", self)
        side.setObjectName("inspector")
        side.setWidget(self.inspector)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, side)
        measures = QDockWidget("Measurements", self)
        measures.setObjectName("measurements")
        measures.setWidget(self.measurements)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, measures)
        self.measurements_dock = measures
        self.resizeDocks([images, side], [220, 380], Qt.Orientation.Horizontal)
        # The measurements (a QC verdict, its warnings, the failing POMs) need the room more than the point list
        self.resizeDocks([side, measures], [400, 440], Qt.Orientation.Vertical)

    def _build_menus(self) -> None:
        for menu_name, actions in self.actions.menus().items():
            menu = self.menuBar().addMenu(menu_name)
            for action in actions:
                menu.addAction(action)
                self.addAction(action)  # shortcuts work wherever the focus is
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        a = self.actions
        for action in (a.open_project, a.add_folder, None, a.undo, a.redo, None, a.fit, a.draw_box,
                       a.annotate_current, a.annotate_missing, None, a.verify_next, a.next_unverified, a.live):
            toolbar.addSeparator() if action is None else toolbar.addAction(action)

    def _build_status_bar(self) -> None:
        self.model_label = QLabel()
        self.cursor_label = QLabel()
        self.jobs_widget = JobsWidget(self.jobs)
        bar = self.statusBar()
        bar.addPermanentWidget(self.jobs_widget)
        bar.addPermanentWidget(self.cursor_label)
        bar.addPermanentWidget(self.model_label)
        self._update_model_label()

    def _connect(self) -> None:
        a, c = self.actions, self.canvas
        a.new_project.triggered.connect(self.new_project_dialog)
        a.open_project.triggered.connect(self.open_project_dialog)
        a.add_images.triggered.connect(self.add_images_dialog)
        a.add_folder.triggered.connect(self.add_folder_dialog)
        a.export.triggered.connect(self.export_dialog)
        a.new_window.triggered.connect(self.open_second_window)
        a.quit.triggered.connect(self.close)
        a.precise_landmarks.setCheckable(True)
        a.precise_landmarks.setChecked(self.model.flip_test)
        a.precise_landmarks.toggled.connect(self.set_precise_landmarks)
        a.upside_down_check.setCheckable(True)
        a.upside_down_check.setChecked(self.model.orientation_check)
        a.upside_down_check.toggled.connect(self.set_upside_down_check)
        a.cycle_visibility.triggered.connect(lambda: self.editor.set_visibility(None))
        a.set_visible.triggered.connect(lambda: self.editor.set_visibility(Visibility.VISIBLE))
        a.set_occluded.triggered.connect(lambda: self.editor.set_visibility(Visibility.OCCLUDED))
        a.set_absent.triggered.connect(lambda: self.editor.set_visibility(Visibility.ABSENT))
        a.place_point.triggered.connect(lambda: self.editor.place_next_missing())
        a.draw_box.triggered.connect(lambda: self.canvas.set_draw_mode("box"))
        a.reference_line.triggered.connect(self.measuring.start_reference_line)
        a.delete_garment.triggered.connect(self.editor.delete_selected)
        a.revert_garment.triggered.connect(self.editor.revert_selected)
        a.reread_garment.triggered.connect(self.reading.reread_selected)
        a.verify_next.triggered.connect(self.verify_and_next)
        a.next_garment.triggered.connect(self.editor.next_garment)
        a.next_image.triggered.connect(lambda: self.step_image(1))
        a.prev_image.triggered.connect(lambda: self.step_image(-1))
        a.next_unverified.triggered.connect(self.go_next_unverified)
        a.fit.triggered.connect(c.fit)
        a.zoom_in.triggered.connect(lambda: c.zoom(1.25))
        a.zoom_out.triggered.connect(lambda: c.zoom(0.8))
        a.annotate_current.triggered.connect(self.annotate_current)
        a.annotate_missing.triggered.connect(lambda: self.annotate_many(only_new=True))
        a.annotate_all.triggered.connect(lambda: self.annotate_many(only_new=False))
        a.cancel_job.triggered.connect(self.cancel)
        a.retrain.triggered.connect(self.open_retrain_dialog)
        a.calibrate_image.triggered.connect(self.measuring.calibrate_from_image)
        a.live.triggered.connect(self.open_live_view)
        a.shortcuts.triggered.connect(lambda: ShortcutsDialog(self).exec())
        self.images.imageActivated.connect(self.show_image)
        self.images.filterChanged.connect(self.refresh_images)
        c.garmentSelected.connect(lambda _gid: self._refresh_selection())
        c.pointDragging.connect(lambda *_: self.measuring.update())
        c.boxDrawn.connect(self.reading.add_from_box)
        c.lineDrawn.connect(self.measuring.set_reference_line)
        c.cursorMoved.connect(lambda p: self.cursor_label.setText(f"x {p.x():.1f}  y {p.y():.1f}  ·  {c.zoom_level() * 100:.0f}%"))
        self.editor.garmentReloaded.connect(self._on_garment_reloaded)
        self.editor.message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self.inspector.categoryChosen.connect(self.reading.change_category)
        self.inspector.pointRowActivated.connect(self.show_point)
        self.measurements.changed.connect(self.measuring.update)
        self.measurements.changed.connect(self._sync_live_measuring)
        self.measurements.profile.activated.connect(self.measuring.remember_profile)
        self.measurements.calibrationRequested.connect(self.measuring.calibrate_from_image)
        self.measurements.specLoaded.connect(self.measuring.save_spec_sheet)
        self.model.changed.connect(self._update_model_label)
        self.jobs.itemDone.connect(self._on_job_item)
        self.jobs.finished.connect(self._on_job_finished)
        self.jobs.failed.connect(lambda name, err: QMessageBox.warning(self, name, err))
        self.jobs.refused.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.reading.message.connect(self.statusBar().showMessage)

    # Project ----------------------------------------------------------------------------------------------
    def open_project(self, path: str | Path, create: bool = False) -> None:
        try:
            store = ProjectStore.create(path) if create else ProjectStore.open(path)
        except (StoreError, OSError) as exc:
            QMessageBox.critical(self, "Open project", str(exc))
            return
        self.close_project()
        self.store = store
        self.session = EditSession(store, self)
        self.editor.attach(self.session)
        self._enable_project_actions(True)
        self.actions.undo.triggered.connect(self.undo)
        self.actions.redo.triggered.connect(self.redo)
        self.session.garmentChanged.connect(self._on_session_change)
        self.session.wrote.connect(self._saw_own_change)
        self.session.stack.canUndoChanged.connect(self.actions.undo.setEnabled)
        self.session.stack.canRedoChanged.connect(self.actions.redo.setEnabled)
        self.session.stack.undoTextChanged.connect(lambda t: self._name_step(self.actions.undo, "Undo", t))
        self.session.stack.redoTextChanged.connect(lambda t: self._name_step(self.actions.redo, "Redo", t))
        read_only = write_problem(Path(path))  # opened read-only: reading works, saving is refused
        self.setWindowTitle(f"{Path(path).name}{' (read-only)' if read_only else ''} — {APPLICATION}")
        if read_only:
            self.statusBar().showMessage(f"Opened read-only ({read_only}): edits cannot be saved", 15000)
        settings().setValue("project/last", str(Path(path).resolve()))
        self.measuring.open_project()  # this project's profiles and spec sheets, nothing of the last one's
        if self.auto_model:
            self.load_project_model()
        self.refresh_images()
        self._show_first_image()
        self._seen_mark = self.store.change_mark()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self.catch_up()

    def catch_up(self) -> None:
        """Back in this window: show what another window (or program) changed in the project meanwhile: new
        photos, statuses, the photo's garments. Nobody edits or verifies a stale picture of the project."""
        if self.store is None:
            return
        mark = self.store.change_mark()
        if mark == self._seen_mark:
            return
        self._seen_mark = mark
        self.refresh_images()  # keeps the current row; a photo added elsewhere appears
        if self.image_id is not None:
            self._on_job_item(self.image_id)  # redraws the photo's garments, after any drag in progress

    def _saw_own_change(self, before: int) -> None:
        """This window wrote: not a reason to redraw everything when it is next activated, unless someone else
        wrote first (the mark had moved past what this window saw before its own write)."""
        if self.store is not None and before == self._seen_mark:
            self._seen_mark = self.store.change_mark()

    def _show_first_image(self) -> None:
        ids = self.images.image_ids()
        if ids:
            self.images.select_image(ids[0], emit=False)
            self.show_image(ids[0])

    def close_project(self) -> None:
        if self.session is not None:
            self.actions.undo.triggered.disconnect(self.undo)
            self.actions.redo.triggered.disconnect(self.redo)
            self.session.garmentChanged.disconnect(self._on_session_change)
            self.editor.attach(None)
            # Deleting the stack clears it, which emits its text signals into this window's actions: at
            # quit those are gone before it, and the lambdas above would raise.
            self.session.stack.blockSignals(True)
            self.session.deleteLater()
        if self.store is not None:
            self.store.close()
        self.photos.clear()  # another project's photos
        self.store = self.session = self.image_id = None
        # Nothing of the closed project may stay on screen: an edit on a garment still drawn would go to the
        # garment of the same id in the next project.
        self._enable_project_actions(False)
        self.images.reset()
        self.editor.show_image(None)
        self.canvas.set_image(None, [])
        self.inspector.show_garment(None, None)
        self.measurements.reset()  # its calibration, spec sheet and size were the closed project's
        retrain_dialog.project_closed(self)  # an idle dialog closes; a running one stays on its project

    def _enable_project_actions(self, enabled: bool) -> None:
        for key in NEEDS_PROJECT:
            self.actions.by_key[key].setEnabled(enabled)
        if not enabled:  # nothing to undo; a project's edit stack enables them as it fills
            for action, verb in ((self.actions.undo, "Undo"), (self.actions.redo, "Redo")):
                action.setEnabled(False)
                self._name_step(action, verb, "")

    @staticmethod
    def _name_step(action, verb: str, what: str) -> None:
        """The menu names the step ("Undo Move left cuff"); the toolbar button keeps its one word, so the
        buttons after it do not shift (and fall into the overflow menu) after every edit."""
        action.setText(f"&{verb} {what}".strip())
        action.setIconText(verb)
        action.setToolTip(f"{verb} {what}".strip())

    def undo(self) -> None:
        self._step_history(self.session.stack.undo)

    def redo(self) -> None:
        self._step_history(self.session.stack.redo)

    def _step_history(self, step) -> None:
        self._stepping_history = True
        try:
            self.session.step(step)
        finally:
            self._stepping_history = False

    def _on_session_change(self, image_id: int, _garment_id: int) -> None:
        """Any edit, undo or redo: the photo's row shows its new status. An undo or redo of an edit made on
        another photo brings that photo up, so the person sees what changed."""
        if self.store is None:
            return
        if self.images.has_image(image_id):
            self.images.update_status(image_id, str(self.store.image(image_id).status))
        if self._stepping_history and image_id != self.image_id:
            if self.images.has_image(image_id):
                self.images.select_image(image_id, emit=False)
            self.show_image(image_id)

    def refresh_images(self) -> None:
        if self.store is None:
            return
        status, category = self.images.filters()
        shown = entries(self.store, status, category)
        total = len(self.store.list_images()) if (status or category) else len(shown)
        self.images.set_entries(shown, total)

    def show_image(self, image_id: int) -> None:
        if self.store is None:
            return
        self.image_id = image_id
        self._empty_verify_armed = None
        self.editor.show_image(image_id)
        info = self.store.image(image_id)
        path = self.store.resolve_path(info.path)
        image, error = self.photos.read(str(path))  # upright, as cv2.imread gives it to the model
        self.canvas.set_image(image, self.store.garments(image_id))  # the annotations show even without it
        self.measuring.use_image_calibration(image_id)
        self._refresh_selection()
        if image.isNull():  # moved, deleted or damaged since it was added
            self.statusBar().showMessage(f"Cannot read {path}: {error}")
        else:
            self.statusBar().showMessage(f"{path.name}  {info.width}×{info.height}  {info.status}", 4000)
        self._prefetch_around(image_id)

    def _prefetch_around(self, image_id: int) -> None:
        """Decode the photos a person goes to next: the next and previous in the list, the next unverified."""
        if self.store is None or not self.images.has_image(image_id):
            return
        previous, following = self.images.neighbours(image_id)
        unverified = self.store.next_unverified_image(image_id)
        wanted = [following, None if unverified is None else unverified.id, previous]
        self.photos.prefetch([str(self.store.resolve_path(self.store.image(i).path))
                              for i in dict.fromkeys(wanted) if i is not None])

    def _refresh_selection(self) -> None:
        gid = self.canvas.selected_id
        garment = None if gid is None or self.store is None else garment_or_none(self.store, gid)
        self.inspector.show_garment(gid, garment)
        self.measuring.update()

    def _on_garment_reloaded(self, garment_id: int, _garment) -> None:
        if self.store is not None and self.image_id is not None:
            self.images.update_status(self.image_id, str(self.store.image(self.image_id).status))
        self._refresh_selection()

    # Navigation -----------------------------------------------------------------------------------------------
    def step_image(self, delta: int) -> None:
        ids = self.images.image_ids()
        if ids:
            pos = ids.index(self.image_id) + delta if self.image_id in ids else 0
            self.images.select_image(ids[max(0, min(len(ids) - 1, pos))])

    def go_next_unverified(self) -> bool:
        if self.store is None:
            return False
        info = self.store.next_unverified_image(self.image_id)
        if info is None:
            self.statusBar().showMessage("Every image is verified", 5000)
            return False
        if not self.images.select_image(info.id):
            self.images.status_filter.setCurrentIndex(0)
            self.images.category_filter.setCurrentIndex(0)
            self.images.select_image(info.id)
        return True

    def show_point(self, garment_id: int, index: int) -> None:
        """A landmark row double-clicked in the inspector: bring the point into view (or say it is missing)."""
        item = self.canvas.garment_item(garment_id)
        if item is None or not 0 <= index < len(item.points):
            return
        point = item.points[index]
        if point.visibility == Visibility.ABSENT:
            self.statusBar().showMessage(
                f"Landmark {index + 1} ({point.name}) is not placed (A places the missing landmarks in order, at the cursor)", 6000)
            return
        self.canvas.centerOn(point)
        self.canvas.choose_point(garment_id, index)  # V, 0, 1, 2, Del act on it until the mouse is back
        self.statusBar().showMessage(f"Landmark {index + 1} ({point.name})", 3000)

    def verify_and_next(self) -> None:
        if self.session is None or self.image_id is None:
            return
        info = self.store.image(self.image_id)
        if info.status == ImageStatus.NEW and self._empty_verify_armed != self.image_id:
            # Verified empty, a photo leaves the work queue (auto-annotate and verified exports skip it): a
            # stray Space on a photo nobody has looked at must not do that. A second press confirms.
            self._empty_verify_armed = self.image_id
            self.statusBar().showMessage(
                "The model has not read this photo and it has no garments: Ctrl+P runs the model, B draws a box; "
                "press again to mark it verified as empty", 8000)
            return
        self._empty_verify_armed = None
        self.session.verify_image(self.image_id)
        self.measuring.store_verified(self.image_id)  # the QC report's values (with a saved calibration)
        self.images.update_status(self.image_id, str(self.store.image(self.image_id).status))
        self.go_next_unverified()

    # Model ------------------------------------------------------------------------------------------------
    def _update_model_label(self) -> None:
        text = self.model.describe()
        self.model_label.setToolTip(text)
        self.model_label.setText(text if len(text) < 70 else text[:67] + "…")
        self.model_label.setStyleSheet("" if self.model.pipeline or self.model.loading else f"color: {FAIL_COLOUR.name()}")

    def require_model(self) -> bool:
        if self.model.pipeline is not None:
            return True
        self.statusBar().showMessage(self.model.describe(), 8000)
        return False

    def annotate_current(self) -> None:
        if self.store is not None and self.image_id is not None and self.require_model():
            self.jobs.start("Auto-annotate image", annotate_job, str(self.store.path), self.model.pipeline, [self.image_id])

    def annotate_many(self, only_new: bool) -> bool:
        if self.store is None or not self.require_model():
            return False
        ids = images_to_annotate(self.store, only_new)
        if not ids:
            self.statusBar().showMessage("Nothing to annotate", 4000)
            return False
        name = "Auto-annotate new images" if only_new else "Auto-annotate all images"
        return self.jobs.start(name, annotate_job, str(self.store.path), self.model.pipeline, ids)

    def _on_job_item(self, image_id) -> None:
        if self.store is None:
            return
        if self.images.has_image(image_id):
            self.images.update_status(image_id, str(self.store.image(image_id).status))
        if image_id == self.image_id:
            if self.canvas.scene().mouseGrabberItem() is not None:
                # a point or box being dragged: rebuilding the items now would drop the drag; a box being
                # drawn is no garment item and may stay (skipping the refresh then left the canvas stale)
                QTimer.singleShot(150, lambda: self._on_job_item(image_id))
                return
            self.canvas.set_garments(self.store.garments(image_id))
            self._refresh_selection()

    def _on_job_finished(self, name: str, result: dict) -> None:
        if "garments" in result:
            if result.get("images"):
                self.model.record_latency(result["seconds"] / result["images"])
            images, garments = result["images"], result["garments"]
            text = (f"{name}: {images} image{'s' * (images != 1)}, {garments} garment{'s' * (garments != 1)} "
                    f"in {result['seconds']:.1f} s")
        else:
            self.refresh_images()
            text = f"{name}: {result.get('added', 0)} of {result.get('files', 0)} files added"
            if self.image_id is None:  # a new project's first photos: show one, not an empty canvas
                self._show_first_image()
        if result.get("cancelled"):
            text += " (cancelled)"
        self.statusBar().showMessage(text, 10000)
        if result.get("errors"):
            errors = result["errors"]
            more = f"\n… and {len(errors) - 20} more" if len(errors) > 20 else ""
            QMessageBox.warning(self, name, "\n".join(errors[:20]) + more)

    def cancel(self) -> None:
        if self.canvas.draw_mode:
            self.canvas.set_draw_mode(None)
            self.statusBar().clearMessage()  # the drawing hint
        else:
            self.jobs.cancel()

    # Dialogs ------------------------------------------------------------------------------------------------
    def _last_dir(self) -> str:
        return str(settings().value("paths/last_dir", str(Path.home())))

    def new_project_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "New project", self._last_dir(), "Projects (*.db)")
        if path:
            self.open_project(path if path.endswith(".db") else path + ".db", create=True)

    def open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", self._last_dir(), "Projects (*.db)")
        if path:
            settings().setValue("paths/last_dir", str(Path(path).parent))
            self.open_project(path)

    def add_images_dialog(self) -> None:
        if self.store is None:
            return
        paths, _ = QFileDialog.getOpenFileNames(self, "Add images", self._last_dir(), IMAGE_FILTER)
        if paths:
            settings().setValue("paths/last_dir", str(Path(paths[0]).parent))
            self.import_paths(paths)

    def add_folder_dialog(self) -> None:
        if self.store is not None:
            folder = QFileDialog.getExistingDirectory(self, "Add folder", self._last_dir())
            if folder:
                settings().setValue("paths/last_dir", folder)
                self.import_paths([folder])

    def import_paths(self, paths: list[str]) -> bool:
        return self.store is not None and self.jobs.start("Add images", import_job, str(self.store.path), list(paths))

    def export_dialog(self) -> None:
        if self.store is not None:
            from app.gui.export_dialog import ExportDialog

            ExportDialog(self.store.path, self).exec()

    def open_live_view(self):
        from app.gui.live_view import LiveWindow

        live = getattr(self, "_live", None)
        if live is None:  # one live window: a second would fight the first for the camera
            live = self._live = LiveWindow(self.model, self._capture_folder(), self.measurements.calibration, self)
            live.captured.connect(self._on_live_capture)
        live.capture_dir = self._capture_folder()  # the project open now
        self._sync_live_measuring()
        live.show()
        live.raise_()
        live.activateWindow()
        return live

    def _capture_folder(self) -> Path:
        """Where the live view saves captures: the open project's folder (kept in step when another opens)."""
        return self.store.folder / "captures" if self.store is not None else Path.home()

    def _sync_live_measuring(self) -> None:
        """The live view measures with the panel's calibration and checks against its spec sheet and size."""
        live = getattr(self, "_live", None)
        if live is not None:
            panel = self.measurements
            live.set_measuring(panel.calibration, panel.spec, panel.size.currentText())
            live.capture_dir = self._capture_folder()  # the panel changes with the project: so do captures

    def _on_live_capture(self, path: str, garments: list) -> None:
        """A frozen live frame becomes a project image with the live garments as predictions."""
        if self.store is None:
            self.statusBar().showMessage(f"No project open: the frame is saved as {path} only", 10000)
            if getattr(self, "_live", None) is not None:
                self._live.stats.setText(f"No project open: saved as {Path(path).name} only")
            return
        try:
            image_id = self.store.add_image(Path(path).resolve(), source="live").image_id
            if garments:
                version = getattr(self.model.pipeline, "model_version", None)
                self.store.store_predictions(image_id, garments, version)
        except (StoreError, ValueError) as exc:  # a read-only project, a busy one
            self.statusBar().showMessage(f"The frame is saved as {path} but not added: {exc}", 12000)
            return
        self.refresh_images()
        self.images.select_image(image_id)
        self.statusBar().showMessage(f"Captured frame {Path(path).name} added to the project", 6000)

    def load_project_model(self) -> None:
        if self.store is not None:
            default = settings().value("model/card") or None
            self.model.load_for_project(self.store, default, str(settings().value("model/provider", "auto")))

    def open_retrain_dialog(self) -> None:
        retrain_dialog.show_for(self)  # one dialog while a run goes on; says so without a project

    def open_second_window(self) -> None:
        if self.store is not None:
            window = MainWindow(load_model=False)
            window.model = self.model
            window.open_project(self.store.path)
            window.show()
            self._windows = [*getattr(self, "_windows", []), window]

    # Settings -----------------------------------------------------------------------------------------------------
    def set_precise_landmarks(self, on: bool) -> None:
        settings().setValue("model/flip_test", bool(on))
        self.model.set_flip_test(on)

    def set_upside_down_check(self, on: bool) -> None:
        settings().setValue("model/orientation_check", bool(on))
        self.model.set_orientation_check(on)

    def _restore_settings(self) -> None:
        s = settings()
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1480, 900)
        state = s.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)

    def closeEvent(self, event) -> None:
        if not retrain_dialog.confirm_quit(self):  # a training would be killed: asked first
            return event.ignore()
        s = settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        self.jobs.cancel()
        self.jobs.wait(10000)
        self.box_jobs.wait(10000)
        if getattr(self, "_live", None) is not None:
            self._live.close()  # its camera and worker stop with the window that captures into the project
        self.images.shutdown()
        self.photos.shutdown()
        self.close_project()
        super().closeEvent(event)
