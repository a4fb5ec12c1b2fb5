"""The model reading one box of the current photo, off the GUI thread: a box the person drew (B), or a garment
read again in its category after a category change or Shift+P (ADR 0010).

One box at a time, on its own runner so it never waits behind a long auto-annotation job. Each job carries
what to do with its result; a result that arrives after its photo, garment or project changed is dropped.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QRectF, Signal

from app.gui.backend import garment_or_none
from app.gui.jobs import JobRunner
from app.gui.model_service import predict_box_job
from app.store.convert import garment_layout, reading_box
from app.store.models import LAYOUT_DF2
from inference.schema import deepfashion2


class GarmentReading(QObject):
    message = Signal(str, int)  # status-bar text, milliseconds

    def __init__(self, window):
        super().__init__(window)
        self.window = window  # the store, session, photo, model and editor it reads for
        self.jobs = JobRunner(self)
        self.jobs.finished.connect(self._finished)
        self.jobs.failed.connect(lambda name, err: self.message.emit(f"{name}: {err}", 8000))
        self._then: Callable[[dict], None] | None = None

    def _start(self, name: str, then: Callable[[dict], None], box, category_id: int | None, score: float = 1.0) -> bool:
        w = self.window
        path = str(w.store.resolve_path(w.store.image(w.image_id).path))
        if not self.jobs.start(name, predict_box_job, w.model.pipeline, path, box, category_id, score):
            return False
        self._then = then
        return True

    def _finished(self, _name: str, result: dict) -> None:
        then, self._then = self._then, None
        if then is not None:
            self.window.model.record_latency(result["seconds"])
            then(result)

    # A drawn box ------------------------------------------------------------------------------------------
    def add_from_box(self, rect: QRectF) -> None:
        w = self.window
        if w.store is None or w.image_id is None:
            return
        if w.model.pipeline is None:
            w.editor.add_garment_from_box(rect, None)
            name = deepfashion2().category(w.editor.new_garment_category).name
            self.message.emit(f"No model: an empty {name} added; set its category in the inspector and press A to "
                              "place its landmarks", 8000)
            return
        image_id = w.image_id
        box = (rect.left(), rect.top(), rect.right(), rect.bottom())
        # The model names what is in the box when it can; else the category last chosen, said in the status bar
        category = None if w.model.pipeline.reads_categories else w.editor.new_garment_category

        def add(result: dict) -> None:
            if image_id != w.image_id:
                return
            garments = result["garments"]
            w.editor.add_garment_from_box(rect, garments[0] if garments else None)
            if garments:
                name = deepfashion2().category(garments[0].category_id).name
                self.message.emit(f"Added a {name}: change the category in the inspector if it is not one", 8000)

        self._start("Predict in box", add, box, category)

    # A garment read again ---------------------------------------------------------------------------------
    def change_category(self, garment_id: int, category_id: int) -> None:
        """The inspector's category. The points are carried over by landmark name at once (one undo step);
        then, with a model loaded, the garment is read again in its new category (a second step), since a
        trousers reading's hem is not where a pair of shorts has it."""
        w = self.window
        if w.store is None:
            return
        # Keys go back to the photo: left on the box, an arrow key would change the category again and Space
        # would verify it unseen
        w.canvas.setFocus()
        before = garment_or_none(w.store, garment_id)
        w.editor.change_category(garment_id, category_id)
        after = garment_or_none(w.store, garment_id)
        if before is not None and after is not None and before.category_id != after.category_id:
            if w.model.pipeline is not None:
                self.reread(garment_id)

    def reread_selected(self) -> None:
        if self.window.editor.selected is None:
            self.message.emit("Select a garment to read it again", 4000)
            return
        self.reread(self.window.editor.selected)

    def reread(self, garment_id: int) -> bool:
        """The model reads one garment again in its category, inside its box; the result replaces the model's
        points and keeps the person's (``ProjectStore.reread_landmarks``)."""
        w = self.window
        if w.store is None or w.image_id is None or not w.require_model():
            return False
        garment = garment_or_none(w.store, garment_id)
        if garment is None:
            return False
        if garment_layout(garment) != LAYOUT_DF2:
            self.message.emit("This garment has FLD landmarks; the model reads DeepFashion2 ones", 6000)
            return False
        session, image_id, category_id = w.session, w.image_id, garment.category_id

        def store(result: dict) -> None:
            if session is not w.session or w.store is None:
                return  # the project was closed meanwhile
            current = garment_or_none(w.store, session.resolve(garment_id))
            if not result["garments"] or current is None or current.category_id != category_id:
                return  # deleted or given another category meanwhile (that change is read in its own turn)
            info = w.store.image(image_id)
            session.reread(image_id, garment_id, result["garments"][0], info.width, info.height)
            self.message.emit("Read again: the model's points are new, yours are kept (Ctrl+Z undoes)", 6000)

        # The person chose the category, so the garment's score is the detector's alone (no category factor).
        score = float(garment.extra.get("detector_score", garment.score if garment.score is not None else 1.0))
        if not self._start("Re-read garment", store, reading_box(garment), category_id, score):
            self.message.emit("The model is still reading a box: press Shift+P in a moment", 6000)
            return False
        self.message.emit("Reading the garment again…", 3000)
        return True
