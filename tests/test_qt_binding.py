"""The Qt binding itself: calls the app makes thousands of times must not release references they do not own.

PySide6 6.12.0 on Python 3.11 drops a reference to None in each of many void calls (QGraphicsItem.setPos,
QListWidget.addItem, QTableWidget.setItem, QComboBox.addItem…); None's count falls to zero after a few
thousand and the interpreter aborts with "none_dealloc". On Python ≥ 3.12 None is immortal and the
count does not move either way.
"""

from __future__ import annotations

import gc
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QComboBox, QGraphicsEllipseItem, QListWidget, QTableWidget, QTableWidgetItem

pytest.importorskip("pytestqt")

CALLS = 2000


def _none_references_lost(call) -> int:
    gc.collect()
    before = sys.getrefcount(None)
    for i in range(CALLS):
        call(i)
    gc.collect()
    return before - sys.getrefcount(None)


@pytest.mark.parametrize("name", ["setPos", "addItem", "setItem", "combo"])
def test_repeated_qt_calls_do_not_release_none(qapp, name):
    point = QGraphicsEllipseItem(0, 0, 4, 4)
    listing, table, combo = QListWidget(), QTableWidget(4, 4), QComboBox()
    calls = {
        "setPos": lambda i: point.setPos(QPointF(i * 0.5, i * 0.25)),  # every point drag
        "addItem": lambda i: listing.addItem(str(i)),  # every image in the list
        "setItem": lambda i: table.setItem(i % 4, i % 4, QTableWidgetItem(str(i))),  # measurement rows
        "combo": lambda i: combo.addItem(str(i), i),
    }
    assert _none_references_lost(calls[name]) < CALLS // 10
