"""The image list decodes thumbnails for the rows in view only, so a project of thousands opens at once."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import cv2
import numpy as np
import pytest

from app.gui.backend import ImageEntry
from app.gui.image_list import ROW_MARGIN, ImageListPanel

pytest.importorskip("pytestqt")

N = 400


@pytest.fixture(scope="module")
def entries(tmp_path_factory):
    folder = tmp_path_factory.mktemp("many")
    out = []
    for i in range(N):
        path = folder / f"{i:04d}.png"
        cv2.imwrite(str(path), np.full((24, 32, 3), i % 250, np.uint8))
        out.append(ImageEntry(i + 1, str(path), "new"))
    return out


@pytest.fixture
def panel(qtbot):
    widget = ImageListPanel()
    qtbot.addWidget(widget)
    widget.resize(260, 500)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.shutdown()


def _settle(qtbot, panel):
    panel.wait_for_thumbnails()
    qtbot.waitUntil(lambda: not panel._pending, timeout=10000)  # queued signals delivered


def test_only_the_rows_in_view_and_a_margin_are_decoded(qtbot, panel, entries):
    panel.set_entries(entries)
    _settle(qtbot, panel)
    rows = panel.visible_rows()
    assert 0 < len(rows) < 20
    loaded = set(panel._thumbs)
    assert {entries[r].id for r in rows} <= loaded
    assert len(loaded) <= len(rows) + 2 * ROW_MARGIN < N
    last = entries[-1].id
    assert last not in loaded
    panel.list.scrollToBottom()
    qtbot.waitUntil(lambda: last in panel._thumbs or last in panel._pending, timeout=5000)
    _settle(qtbot, panel)
    assert last in panel._thumbs and not panel._thumbs[last].isNull()
    assert panel._thumbs[last].width() == 96  # scaled to the thumbnail size, aspect kept (32×24 → 96×72)


def test_refiltering_reuses_decoded_thumbnails_and_a_status_change_keeps_the_photo(qtbot, panel, entries):
    panel.set_entries(entries)
    _settle(qtbot, panel)
    first = dict(panel._thumbs)
    panel.set_entries(entries[:50])  # a filter: the rows in view are already decoded
    assert not panel._pending
    _settle(qtbot, panel)
    assert all(panel._thumbs[i] is first[i] for i in first)
    panel.update_status(entries[0].id, "verified")
    assert panel.list.item(0).text().endswith("verified")


def test_closing_drops_queued_decodes(qtbot, panel, entries, monkeypatch):
    monkeypatch.setattr("app.gui.image_list.ROW_MARGIN", N)  # queue every row
    panel._pool.setMaxThreadCount(1)
    panel.set_entries(entries)
    assert len(panel._pending) == N
    panel.shutdown()
    assert panel._pool.activeThreadCount() == 0 and not panel._pending
    qtbot.wait(50)
    assert len(panel._thumbs) < N  # most were never decoded


def test_a_status_change_far_out_of_view_does_not_decode_its_photo(qtbot, panel, entries):
    """Auto-annotating thousands of photos updates every row's status: only rows near the view decode."""
    panel.set_entries(entries)
    _settle(qtbot, panel)
    far = entries[-1].id
    panel.update_status(far, "predicted")
    assert far not in panel._pending and far not in panel._thumbs
    assert panel.list.item(N - 1).text().endswith("predicted")
