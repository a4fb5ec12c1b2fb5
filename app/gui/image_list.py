"""The project's image list: thumbnails loaded off the GUI thread, status colours, filters.

Thumbnails are decoded lazily, for the rows in view and a margin around them, so opening a project of
thousands of photos queues tens of decodes, not thousands; the most recent ``MAX_THUMBNAILS`` are kept.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QPoint, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QImageReader, QPainter, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.backend import ImageEntry
from app.gui.style import narrow_combo, status_colour
from inference.schema import deepfashion2

THUMB = QSize(96, 96)
MAX_THUMBNAILS = 2000  # ~55 MB of decoded thumbnails; rows scrolled out of view longest ago are dropped
ROW_MARGIN = 24  # rows above and below the view whose thumbnails are decoded ahead of scrolling
STATUSES = ("new", "predicted", "corrected", "verified")
ID_ROLE = Qt.ItemDataRole.UserRole
STATUS_ROLE = Qt.ItemDataRole.UserRole + 1



class _ThumbSignals(QObject):
    loaded = Signal(int, int, QImage)  # image id, list generation, thumbnail; delivered (queued) on the GUI thread


class _ThumbLoader(QRunnable):
    """Decodes one thumbnail at reduced size (QImageReader scales JPEGs while decoding)."""

    def __init__(self, image_id: int, path: str, generation: int, signals: _ThumbSignals):
        super().__init__()
        self.image_id, self.path, self.generation, self.signals = image_id, path, generation, signals

    def run(self) -> None:
        reader = QImageReader(self.path)
        reader.setAutoTransform(True)
        size = reader.size()
        if size.isValid():
            reader.setScaledSize(size.scaled(THUMB, Qt.AspectRatioMode.KeepAspectRatio))
        image = reader.read()
        if not image.isNull():
            image = image.convertToFormat(QImage.Format.Format_RGB888)  # 3 bytes a pixel, not 4
        try:
            self.signals.loaded.emit(self.image_id, self.generation, image)
        except RuntimeError:  # the list was closed while this decode ran: nobody to tell
            pass


class ImageListPanel(QWidget):
    imageActivated = Signal(int)  # image id
    filterChanged = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.status_filter = narrow_combo(QComboBox())
        self.status_filter.addItem("All statuses", None)
        for status in STATUSES:
            self.status_filter.addItem(status.capitalize(), status)
        self.category_filter = narrow_combo(QComboBox())
        self.category_filter.addItem("All categories", None)
        for cat in deepfashion2().categories:
            self.category_filter.addItem(cat.name, cat.id)
        self.list = QListWidget()
        self.list.setIconSize(THUMB)
        self.list.setUniformItemSizes(True)
        self.list.setSpacing(2)
        self.count_label = QLabel()
        filters = QHBoxLayout()
        filters.addWidget(self.status_filter)
        filters.addWidget(self.category_filter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(filters)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.count_label)
        self._thumbs: OrderedDict[int, QImage] = OrderedDict()  # least recently loaded first
        self._pending: set[int] = set()  # queued or decoding
        self._blank_icons: dict[str, QIcon] = {}
        self._items: dict[int, QListWidgetItem] = {}
        # Image ids are per project: a decode queued for the project before must not land on this one's row
        self._generation = 0
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._signals = _ThumbSignals(self)
        self._signals.loaded.connect(self._on_thumb)
        self.status_filter.currentIndexChanged.connect(self.filterChanged)
        self.category_filter.currentIndexChanged.connect(self.filterChanged)
        self.list.currentItemChanged.connect(self._on_current)
        self.list.verticalScrollBar().valueChanged.connect(self._load_visible_thumbnails)

    def filters(self) -> tuple[str | None, int | None]:
        return self.status_filter.currentData(), self.category_filter.currentData()

    def set_entries(self, entries: list[ImageEntry], total: int | None = None) -> None:
        current = self.current_image_id()
        self.list.blockSignals(True)
        self.list.clear()
        self._items.clear()
        for entry in entries:
            item = QListWidgetItem(Path(entry.path).name)
            item.setData(ID_ROLE, entry.id)
            item.setToolTip(entry.path)
            self._items[entry.id] = item
            self.list.addItem(item)
            self._set_status(item, entry.status, load=False)
        self.list.blockSignals(False)
        # Decodes queued for the old rows are dropped. The (at most two) running ones still report and are
        # kept; forgetting them as pending can only make a photo in view decode twice.
        self._pool.clear()
        self._pending.clear()
        total = len(entries) if total is None else total
        noun = "image" if total == 1 else "images"
        shown = f"{len(entries)} {noun}" if total == len(entries) else f"{len(entries)} of {total} {noun}"
        self.count_label.setText(shown)
        if current in self._items:
            self.select_image(current, emit=False)
        self._load_visible_thumbnails()

    def has_image(self, image_id: int) -> bool:
        return image_id in self._items

    def neighbours(self, image_id: int) -> tuple[int | None, int | None]:
        """The ids of the rows before and after this image's (None at either end or if it is not listed)."""
        item = self._items.get(image_id)
        if item is None:
            return None, None
        row = self.list.row(item)
        before, after = self.list.item(row - 1), self.list.item(row + 1)
        return (None if before is None else int(before.data(ID_ROLE)),
                None if after is None else int(after.data(ID_ROLE)))

    def visible_rows(self) -> range:
        """The rows in view (an empty range when the list is empty)."""
        count = self.list.count()
        if not count:
            return range(0)
        viewport = self.list.viewport()
        top = max(0, self.list.indexAt(QPoint(4, 2)).row())
        bottom = self.list.indexAt(QPoint(4, viewport.height() - 2)).row()
        if bottom < 0:  # below the last row, or not laid out yet: as many rows as the view's height holds
            per_view = viewport.height() // max(1, self.list.sizeHintForRow(0)) + 1
            bottom = min(count - 1, top + per_view)
        return range(top, bottom + 1)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._load_visible_thumbnails()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._load_visible_thumbnails()

    def _load_visible_thumbnails(self, *_args) -> None:
        rows = self.visible_rows()
        if not rows:
            return
        start, stop = max(0, rows.start - ROW_MARGIN), min(self.list.count(), rows.stop + ROW_MARGIN)
        for row in range(start, stop):
            item = self.list.item(row)
            self._queue_thumbnail(int(item.data(ID_ROLE)), item.toolTip())

    def _queue_thumbnail(self, image_id: int, path: str) -> None:
        if image_id in self._thumbs or image_id in self._pending:
            return
        self._pending.add(image_id)
        self._pool.start(_ThumbLoader(image_id, path, self._generation, self._signals))

    def reset(self) -> None:
        """Forget every row and thumbnail (another project is opened: its image ids mean other photos)."""
        self._generation += 1
        self._pool.clear()
        self._pending.clear()
        self._thumbs.clear()
        self.list.blockSignals(True)
        self.list.clear()
        self.list.blockSignals(False)
        self._items.clear()
        self.count_label.setText("")

    def shutdown(self, msecs: int = 3000) -> None:
        """Drop queued decodes and wait for the running ones (closing the window)."""
        self._pool.clear()
        self._pool.waitForDone(msecs)
        self._pending.clear()

    def image_ids(self) -> list[int]:
        return [self.list.item(i).data(ID_ROLE) for i in range(self.list.count())]

    def current_image_id(self) -> int | None:
        item = self.list.currentItem()
        return None if item is None else int(item.data(ID_ROLE))

    def select_image(self, image_id: int, emit: bool = True) -> bool:
        item = self._items.get(image_id)
        if item is None:
            return False
        self.list.blockSignals(not emit)
        self.list.setCurrentItem(item)
        self.list.scrollToItem(item)
        self.list.blockSignals(False)
        return True

    def update_status(self, image_id: int, status: str) -> None:
        item = self._items.get(image_id)
        if item is not None:
            self._set_status(item, status)

    def wait_for_thumbnails(self, msecs: int = 5000) -> None:
        self._pool.waitForDone(msecs)

    def _on_current(self, current: QListWidgetItem | None, _previous) -> None:
        if current is not None:
            self.imageActivated.emit(int(current.data(ID_ROLE)))

    def _on_thumb(self, image_id: int, generation: int, image: QImage) -> None:
        if generation != self._generation:
            return  # decoded for a project since closed
        self._pending.discard(image_id)
        self._thumbs[image_id] = image
        self._thumbs.move_to_end(image_id)
        while len(self._thumbs) > MAX_THUMBNAILS:
            self._thumbs.popitem(last=False)  # its row keeps the icon it has; a status change reloads it
        item = self._items.get(image_id)
        if item is not None:
            self._set_status(item, item.data(STATUS_ROLE), load=False)

    def _set_status(self, item: QListWidgetItem, status: str, load: bool = True) -> None:
        item.setData(STATUS_ROLE, status)
        name = Path(item.toolTip()).name
        item.setText(f"{name}\n{status}")
        image_id = int(item.data(ID_ROLE))
        thumb = self._thumbs.get(image_id)
        if thumb is None:  # one shared icon per status: 10 000 rows must not hold 10 000 blank pixmaps
            icon = self._blank_icons.get(status)
            if icon is None:
                icon = self._blank_icons[status] = QIcon(self._badge(None, status))
            item.setIcon(icon)
        else:
            item.setIcon(QIcon(self._badge(thumb, status)))
        if load and image_id not in self._thumbs and self._near_view(self.list.row(item)):
            self._queue_thumbnail(image_id, item.toolTip())  # e.g. evicted, and its status just changed

    def _near_view(self, row: int) -> bool:
        rows = self.visible_rows()
        return bool(rows) and rows.start - ROW_MARGIN <= row < rows.stop + ROW_MARGIN

    @staticmethod
    def _badge(thumb: QImage | None, status: str) -> QPixmap:
        """The thumbnail with a status-coloured strip along its bottom edge."""
        pixmap = QPixmap(THUMB)
        pixmap.fill(QColor(50, 52, 56))
        painter = QPainter(pixmap)
        if thumb is not None and not thumb.isNull():
            x = (THUMB.width() - thumb.width()) // 2
            y = (THUMB.height() - thumb.height()) // 2
            painter.drawImage(x, y, thumb)
        painter.fillRect(0, THUMB.height() - 8, THUMB.width(), 8, status_colour(status))
        painter.end()
        return pixmap
