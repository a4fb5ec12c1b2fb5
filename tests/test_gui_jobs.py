"""Background work in the desktop application: model loading, auto-annotation, import, live video, screenshot."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QRectF

from app.gui.main_window import MainWindow
from app.store.repository import ProjectStore
from inference.annotation import GarmentStatus, Visibility
from inference.contract_models import draw_marker, garment_colour, write_contract_model
from inference.schema import deepfashion2

pytest.importorskip("onnx")

SKIRT = 9


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    return write_contract_model(tmp_path_factory.mktemp("model"))


def scene(category: int, marker=(150, 200)) -> np.ndarray:
    img = np.full((320, 360, 3), 20, np.uint8)
    img[40:280, 60:260] = garment_colour(category)
    draw_marker(img, *marker)
    return img


@pytest.fixture
def project(tmp_path):
    path = tmp_path / "project.db"
    store = ProjectStore.create(path)
    for i, cat in enumerate((1, 9, 7)):
        cv2.imwrite(str(tmp_path / f"img{i}.png"), scene(cat, (150 + 3 * i, 200)))
    store.add_images(sorted(tmp_path.glob("img*.png")))
    store.close()
    return path


@pytest.fixture
def window(qtbot, project, card):
    win = MainWindow(load_model=False)
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.model.changed, timeout=30000, check_params_cb=lambda *a: not win.model.loading):
        win.model.load(str(card), "cpu")
    assert win.model.pipeline is not None, win.model.error
    win.open_project(project)
    win.show()
    return win


def test_model_status_names_model_and_provider(window):
    text = window.model_label.toolTip()
    assert "contract-test@0.0.1" in text and "cpu" in text


@pytest.mark.parametrize(
    ("action", "option", "shown_as", "other_option"),
    [("precise_landmarks", "flip_test", "precise", "orientation_check"),
     ("upside_down_check", "orientation_check", "upside-down check", "flip_test")],
)
def test_test_time_option_switches_now_and_for_later_loads(qtbot, window, card, action, option, shown_as, other_option):
    from app.gui.main_window import settings

    toggle = getattr(window.actions, action)
    assert toggle.isChecked() and getattr(window.model.pipeline, option)  # default on
    assert shown_as in window.model_label.toolTip()
    toggle.trigger()
    assert getattr(window.model.pipeline, option) is False
    assert settings().value(f"model/{option}", True, type=bool) is False
    assert shown_as not in window.model_label.toolTip()
    with qtbot.waitSignal(window.model.changed, timeout=30000, check_params_cb=lambda *a: not window.model.loading):
        window.model.load(str(card), "cpu")
    assert getattr(window.model.pipeline, option) is False  # a reloaded model keeps the choice
    assert getattr(window.model.pipeline, other_option) is True  # the two options are independent
    toggle.trigger()
    assert getattr(window.model.pipeline, option) is True and shown_as in window.model_label.toolTip()


def test_auto_annotate_job_predicts_all_new_images_and_keeps_corrections(qtbot, window, project):
    # A human correction on image 1 first: the job must not overwrite it.
    store = ProjectStore.open(project)
    first = store.list_images()[0].id
    store.close()
    with qtbot.waitSignal(window.jobs.finished, timeout=60000):
        window.annotate_current()
    gid = window.canvas.selected_id
    window.session.move_point(first, gid, 0, 10.5, 20.25)

    with qtbot.waitSignal(window.jobs.finished, timeout=60000) as done:
        assert window.annotate_many(only_new=False)
    name, result = done.args
    assert result["images"] == 3 and not result["cancelled"]
    store = ProjectStore.open(project)
    try:
        statuses = {i.id: str(i.status) for i in store.list_images()}
        cats = {i.id: i.categories for i in store.list_images()}
        kept = store.garment(gid)
    finally:
        store.close()
    assert statuses[first] == "corrected" and (kept.keypoints[0].x, kept.keypoints[0].y) == (10.5, 20.25)
    assert sorted(c for cs in cats.values() for c in cs) == [1, 7, 9]
    assert [s for i, s in statuses.items() if i != first] == ["predicted", "predicted"]
    # the list shows the new statuses without a reload
    texts = [window.images.list.item(i).text() for i in range(window.images.list.count())]
    assert sum(t.endswith("predicted") for t in texts) == 2
    assert "ms/image" in window.model_label.toolTip()


def test_auto_annotation_skips_a_photo_gone_since_it_was_added_and_says_which(qtbot, window, project, monkeypatch):
    store = ProjectStore.open(project)
    infos = store.list_images()
    gone = store.resolve_path(infos[1].path)
    store.close()
    gone.unlink()
    warnings = []
    monkeypatch.setattr("app.gui.main_window.QMessageBox.warning", lambda _parent, title, text: warnings.append(text))
    with qtbot.waitSignal(window.jobs.finished, timeout=60000) as done:
        assert window.annotate_many(only_new=False)
    _, result = done.args
    assert result["images"] == 2 and result["errors"] == [f"cannot read image {gone}"]
    qtbot.waitUntil(lambda: len(warnings) == 1)
    assert str(gone) in warnings[0]
    store = ProjectStore.open(project)
    try:
        statuses = [str(i.status) for i in store.list_images()]
    finally:
        store.close()
    assert statuses == ["predicted", "new", "predicted"]


def test_auto_annotation_keeps_a_photos_best_weak_box_and_the_inspector_flags_it(qtbot, window, project):
    from dataclasses import replace

    pipeline = window.model.pipeline
    card = pipeline.card
    # Real photos score lower than renders: here no box passes the card's threshold.
    pipeline.card = replace(card, detector=replace(card.detector, score_threshold=0.999))
    try:
        with qtbot.waitSignal(window.jobs.finished, timeout=60000):
            window.annotate_current()
    finally:
        pipeline.card = card
    store = ProjectStore.open(project)
    try:
        image_id = store.list_images()[0].id
        ((gid, garment),) = store.garments(image_id)
    finally:
        store.close()
    assert garment.extra["weak_detection"] and garment.category_id == 1
    window.canvas.select_garment(gid)
    assert "best guess" in window.inspector.category_note.text()


def test_cancelled_job_stops_early_and_keeps_finished_images(qtbot, window, project):
    from app.gui.model_service import annotate_job

    ids = [i.id for i in ProjectStore.open(project).list_images()] * 4  # 12 images, 3 chunks
    window.jobs.cancel()  # nothing running: harmless
    with qtbot.waitSignal(window.jobs.finished, timeout=60000) as done:
        window.jobs.start("annotate", annotate_job, str(project), window.model.pipeline, ids)
        window.jobs.cancel()
    result = done.args[1]
    assert result["cancelled"] and result["images"] < len(ids)


def test_drawn_box_gets_predicted_landmarks(qtbot, window, project):
    window.editor.new_garment_category = 9
    with qtbot.waitSignal(window.box_jobs.finished, timeout=30000):
        window.canvas.boxDrawn.emit(QRectF(60.0, 40.0, 200.0, 240.0))
    gid = window.canvas.selected_id
    store = ProjectStore.open(project)
    g = store.garment(gid)
    store.close()
    assert g.category_id == 9 and g.status == GarmentStatus.CORRECTED
    assert g.bbox == (60.0, 40.0, 260.0, 280.0)
    marker = np.array([150, 200])
    pts = np.array([(k.x, k.y) for k in g.keypoints if k.visibility == Visibility.VISIBLE])
    assert len(pts) and np.abs(pts - marker).max() < 2.5  # the contract pose graph finds the marker


def test_a_new_category_is_read_again_and_shift_p_rereads_keeping_a_persons_points(qtbot, window, project):
    with qtbot.waitSignal(window.jobs.finished, timeout=60000):
        window.annotate_current()  # a short sleeve top with its landmarks on the marker at (150, 200)
    gid = window.canvas.selected_id
    image_id = window.image_id

    def garment():
        store = ProjectStore.open(project)
        try:
            return store.garment(gid)
        finally:
            store.close()

    def placed(g):
        return np.array([(k.x, k.y) for k in g.keypoints if k.visibility != Visibility.ABSENT])

    remapped_count = None
    with qtbot.waitSignal(window.box_jobs.finished, timeout=30000):
        window.inspector.categoryChosen.emit(gid, SKIRT)
        remapped_count = len(placed(garment()))  # only the landmarks a top shares with a skirt carry over
    g = garment()
    skirt = deepfashion2().category(SKIRT)
    assert g.category_id == SKIRT and len(g.keypoints) == skirt.num_keypoints
    assert remapped_count < skirt.num_keypoints == len(placed(g))  # the new reading places every landmark
    assert np.abs(placed(g) - [150, 200]).max() < 2.5
    stack = window.session.stack
    assert [stack.text(i) for i in range(stack.count())][-2:] == ["Change category", f"Re-read as {skirt.name}"]

    window.session.move_point(image_id, gid, 3, 100.25, 90.5)  # a person's point
    path = window.store.resolve_path(window.store.image(image_id).path)
    cv2.imwrite(str(path), scene(SKIRT, (170, 220)))  # the marker moves: a new reading lands elsewhere
    with qtbot.waitSignal(window.box_jobs.finished, timeout=30000):
        window.actions.reread_garment.trigger()
    g = garment()
    assert (g.keypoints[3].x, g.keypoints[3].y) == (100.25, 90.5)
    others = np.array([(k.x, k.y) for i, k in enumerate(g.keypoints) if i != 3])
    assert np.abs(others - [170, 220]).max() < 2.5
    stack.undo()
    assert np.abs(placed(garment())[[i for i in range(skirt.num_keypoints) if i != 3]] - [150, 200]).max() < 2.5
    assert (garment().keypoints[3].x, garment().keypoints[3].y) == (100.25, 90.5)


def test_import_folder_job_adds_images_in_background(qtbot, window, tmp_path, monkeypatch):
    folder = tmp_path / "more"
    folder.mkdir()
    for i in range(2):
        cv2.imwrite(str(folder / f"extra{i}.jpg"), scene(3, (100 + i, 120)))
    (folder / "notes.txt").write_text("not an image")
    for name in ("IMG_1.HEIC", "IMG_2.heic"):  # iPhone photos OpenCV cannot decode: reported, not ignored
        (folder / name).write_bytes(b"\x00\x00\x00\x18ftypheic")
    warnings = []  # the modal box would block the offscreen test: record what it would say
    monkeypatch.setattr("app.gui.main_window.QMessageBox.warning", lambda _parent, title, text: warnings.append(text))
    with qtbot.waitSignal(window.jobs.finished, timeout=30000) as done:
        assert window.import_paths([str(folder)])
    assert done.args[1]["added"] == 2
    (note,) = done.args[1]["errors"]
    assert "skipped 2 photos" in note and "2 .heic" in note and "convert them to JPEG" in note
    qtbot.waitUntil(lambda: len(warnings) == 1)
    assert note in warnings[0]
    assert len(window.images.image_ids()) == 5


def test_a_new_project_shows_its_first_photo_once_a_folder_is_added(qtbot, window, tmp_path):
    folder = tmp_path / "new_photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.jpg"), scene(3, (100, 120)))
    window.open_project(tmp_path / "fresh.db", create=True)
    assert window.image_id is None
    with qtbot.waitSignal(window.jobs.finished, timeout=30000):
        assert window.import_paths([str(folder)])
    assert window.image_id is not None and window.images.current_image_id() == window.image_id


def test_live_view_on_a_video_file_overlays_keypoints_and_captures_a_frame(qtbot, window, project, tmp_path):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30, (320, 240))
    assert writer.isOpened()
    for i in range(20):
        img = np.full((240, 320, 3), 20, np.uint8)
        img[40:200, 60 + i : 160 + i] = garment_colour(1)
        draw_marker(img, 110 + i, 120)
        writer.write(img)
    writer.release()
    live = window.open_live_view()
    qtbot.addWidget(live)
    assert live.start(str(video))
    qtbot.waitUntil(lambda: live.frames_shown >= 3, timeout=30000)
    assert live.last_garments and live.last_garments[0].category_id == 1
    assert "frames/s" in live.stats.text()
    live.freeze_button.setChecked(True)
    shown = live.frames_shown
    path = live.capture()
    assert live.frames_shown == shown and path is not None and path.is_file()
    live.stop()
    qtbot.waitUntil(lambda: live.stats.text().endswith("stopped"), timeout=5000)  # not a view that just froze
    store = ProjectStore.open(project)
    try:
        captured = [i for i in store.list_images() if i.source == "live"]
        assert len(captured) == 1 and captured[0].status == "predicted"
    finally:
        store.close()
    assert window.image_id == captured[0].id
    assert window.open_live_view() is live  # Ctrl+L again: the same window, not a second on one camera

    window.close_project()
    path = live.capture()  # the frozen frame, with no project to take it
    assert path.is_file() and "No project open" in live.stats.text()
    window.close()
    assert not live.isVisible()  # closing the main window closes its live view


SPEC_CSV = "pom,size,target_cm,tolerance_cm,category\nchest_width,M,0.3,0.5,1\nshoulder_width,M,50,1,1\n"


def _near_colour(image, colour, tolerance=40) -> np.ndarray:
    """Mask of the pixels of an RGB888 image within ``tolerance`` (sum of channel differences) of a colour."""
    arr = np.frombuffer(image.constBits(), np.uint8)
    rgb = arr.reshape(image.height(), image.bytesPerLine())[:, : 3 * image.width()].reshape(image.height(), -1, 3)
    target = np.array([colour.red(), colour.green(), colour.blue()])
    return np.abs(rgb.astype(int) - target).sum(axis=-1) < tolerance


def test_live_overlay_draws_each_pom_in_its_spec_colour(qapp):  # painting text needs the application
    from PySide6.QtGui import QImage

    from app.gui.live_view import paint_garments
    from app.gui.style import FAIL_COLOUR, PASS_COLOUR
    from inference.annotation import Garment, Keypoint
    from measure.calibration import Calibration
    from measure.spec import SpecSheet

    n = deepfashion2().category(1).num_keypoints
    rng = np.random.default_rng(3)
    points = tuple(Keypoint(float(x), float(y), Visibility.VISIBLE, 0.9) for x, y in rng.uniform(40, 280, (n, 2)))
    garment = Garment(1, (40.0, 40.0, 280.0, 280.0), points, 0.9)
    spec = SpecSheet.from_csv_text(SPEC_CSV)
    plain, checked = (QImage(320, 320, QImage.Format.Format_RGB888) for _ in range(2))
    for image in (plain, checked):
        image.fill(0)
    calibration = Calibration.from_scale(1.0)
    assert paint_garments(plain, [garment], calibration) == [None]
    (result,) = paint_garments(checked, [garment], calibration, spec, "M")
    assert {c.pom: c.status for c in result.checks} == {"chest_width": "fail", "shoulder_width": "fail"}
    # The failing POMs' lines and labels are drawn in the fail colour where the plain overlay has none of it
    # (the category's own colour may be close to it: compare the two paintings).
    assert (_near_colour(checked, FAIL_COLOUR) & ~_near_colour(plain, FAIL_COLOUR)).sum() > 100
    assert (_near_colour(checked, PASS_COLOUR) & ~_near_colour(plain, PASS_COLOUR)).sum() < 20  # blends only
    other_camera = Calibration.from_scale(1.0, image_size=(640, 480))  # made on frames of another size
    mismatched, unmeasured = (QImage(320, 320, QImage.Format.Format_RGB888) for _ in range(2))
    for image in (mismatched, unmeasured):
        image.fill(0)
    paint_garments(unmeasured, [garment])
    assert paint_garments(mismatched, [garment], other_camera, spec, "M") == [None]  # no centimetres...
    reason = _near_colour(mismatched, FAIL_COLOUR) & ~_near_colour(unmeasured, FAIL_COLOUR)
    assert reason[290:].sum() > 100 and reason[:290].sum() == 0  # ...and the reason, along the bottom
    (unknown_size,) = paint_garments(plain, [garment], calibration, spec, "XXL")  # values only, no verdict
    assert unknown_size is None


def test_live_view_checks_the_spec_sheet_chosen_in_the_main_window(qtbot, window, tmp_path):
    from measure.calibration import Calibration
    from measure.spec import SpecSheet

    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30, (320, 240))
    for _ in range(30):
        img = np.full((240, 320, 3), 20, np.uint8)
        img[40:200, 60:160] = garment_colour(1)
        draw_marker(img, 110, 120)
        writer.write(img)
    writer.release()
    panel = window.measurements
    panel.set_calibration(Calibration.from_scale(1.0), "test")
    panel.set_spec_sheets({"style 42": SpecSheet.from_csv_text(SPEC_CSV)})
    panel.spec_combo.setCurrentIndex(panel.spec_combo.findData("style 42"))
    panel._on_spec(panel.spec_combo.currentIndex())
    live = window.open_live_view()
    qtbot.addWidget(live)
    assert live.spec is panel.spec and live.size == "M"
    assert live.start(str(video))
    # The contract pose graph puts every landmark on the marker: every POM measures 0 cm, so the chest
    # (0.3 ± 0.5 cm) passes and the shoulders (50 ± 1 cm) fail.
    qtbot.waitUntil(lambda: live.frames_shown >= 2 and bool(live.last_spec_results), timeout=30000)
    for result in live.last_spec_results:
        assert {c.pom: c.status for c in result.checks} == {"chest_width": "pass", "shoulder_width": "fail"}
        assert result.passed is False
    panel.spec_combo.setCurrentIndex(0)  # "No spec sheet": the running view stops checking
    panel._on_spec(0)
    shown = live.frames_shown
    qtbot.waitUntil(lambda: live.frames_shown > shown + 1, timeout=30000)
    assert live.last_spec_results and set(live.last_spec_results) == {None}
    live.stop()


def test_screenshot_command_renders_the_window(tmp_path, project):
    from app.cli.main import main

    out = tmp_path / "shot.png"
    assert main(["gui", str(project), "--screenshot", str(out), "--no-model", "--size", "1000x700"]) == 0
    image = cv2.imread(str(out))
    assert image is not None and image.shape[:2] == (700, 1000)
    assert image.std() > 10  # a real rendering, not a blank surface


def test_gui_command_rejects_a_missing_project(tmp_path, capsys):
    from app.cli.main import main

    assert main(["gui", str(tmp_path / "absent.db"), "--screenshot", str(tmp_path / "x.png")]) == 2
    assert "absent.db does not exist" in capsys.readouterr().err


def test_export_dialog_writes_coco_in_background(qtbot, window, project, tmp_path):
    import json

    from app.gui.export_dialog import ExportDialog

    window.session.verify_image(window.image_id)  # one verified (empty) image
    dialog = ExportDialog(project)
    qtbot.addWidget(dialog)
    dialog.format.setCurrentIndex(dialog.format.findData("coco"))
    dialog.status.setCurrentIndex(dialog.status.findData("all"))
    dialog.out_dir.setText(str(tmp_path / "out"))
    with qtbot.waitSignal(dialog.runner.finished, timeout=30000):
        assert dialog.start()
    written = [p for p in (tmp_path / "out").rglob("*.json")]
    assert written, dialog.result.text()
    doc = json.loads(written[0].read_text())
    assert len(doc["images"]) >= 1 and "written to" in dialog.result.text()


def test_live_view_in_qc_mode_shows_the_chosen_category_and_switches_while_running(qtbot, window, tmp_path):
    video = tmp_path / "long.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30, (320, 240))
    img = np.full((240, 320, 3), 20, np.uint8)
    img[40:200, 60:160] = garment_colour(1)  # the detector reads short sleeve top
    draw_marker(img, 110, 120)
    for _ in range(300):  # a still garment, long enough to switch the category while it plays
        writer.write(img)
    writer.release()
    live = window.open_live_view()
    qtbot.addWidget(live)
    live.category.setCurrentIndex(live.category.findData(9))  # the style under test is a skirt
    assert live.start(str(video)) and live.source.text() == str(video)
    qtbot.waitUntil(lambda: live.frames_shown >= 2, timeout=30000)
    assert live.last_garments[0].category_id == 9 and len(live.last_garments[0].keypoints) == 8
    live.category.setCurrentIndex(live.category.findData(None))  # back to Auto while running
    qtbot.waitUntil(lambda: live.last_garments and live.last_garments[0].category_id == 1, timeout=30000)
    assert len(live.last_garments[0].keypoints) == deepfashion2().category(1).num_keypoints
    live.stop()


def test_live_overlay_draws_every_garments_box_as_an_outline(qapp):
    """The first garment's keypoint dots left the painter's brush set: the second box was painted solid."""
    from PySide6.QtGui import QImage

    from app.gui.live_view import paint_garments
    from inference.annotation import Garment, Keypoint

    def garment(category, x0):
        n = deepfashion2().category(category).num_keypoints
        points = tuple(Keypoint(x0 + 10.0 + i, 30.0 + i, Visibility.VISIBLE, 0.9) for i in range(n))
        return Garment(category, (x0, 20.0, x0 + 120.0, 200.0), points, 0.9)

    image = QImage(320, 240, QImage.Format.Format_RGB888)
    image.fill(0)
    paint_garments(image, [garment(1, 20.0), garment(9, 180.0)])
    arr = np.frombuffer(image.constBits(), np.uint8).reshape(240, image.bytesPerLine())[:, : 3 * 320]
    inside_second_box = arr.reshape(240, 320, 3)[150:190, 220:280]  # below its dots and label
    assert inside_second_box.max() == 0  # the photo shows through: an outline, not a filled box


def _clip(path, frames=12):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (320, 240))
    for i in range(frames):
        img = np.full((240, 320, 3), 20, np.uint8)
        img[40:200, 60 + i : 160 + i] = garment_colour(1)
        draw_marker(img, 110 + i, 120)
        writer.write(img)
    writer.release()
    return path


def test_live_view_says_why_it_stopped_and_captures_into_the_project_open_now(qtbot, window, tmp_path):
    live = window.open_live_view()
    qtbot.addWidget(live)
    assert live.capture() is None and "Nothing to capture yet" in live.stats.text()
    assert live.start(str(_clip(tmp_path / "clip.avi")))
    qtbot.waitUntil(lambda: live.worker is None, timeout=30000)  # the video runs out by itself
    assert "end of the video" in live.stats.text()
    assert "garment ·" in live.stats.text() or "garments ·" in live.stats.text()

    other = tmp_path / "other" / "second.db"
    other.parent.mkdir()
    window.open_project(other, create=True)  # the live window stays open on the camera
    path = live.capture()
    assert path is not None and path.parent == other.parent / "captures"
