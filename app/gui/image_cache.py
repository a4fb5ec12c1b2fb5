"""Photos decoded ahead of need: the canvas's next and previous photos are read on a worker thread, so
stepping through a project of 24-megapixel photos (about 0.2 s each to decode here) shows each at once.

A cached photo is used only if its file has not changed since it was read (same size and modification
time); otherwise it is read again. Qt's image reader is safe to use off the GUI thread.
"""

from __future__ import annotations

import os
from collections import OrderedDict

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage, QImageReader

CACHED_PHOTOS = 3  # a 24 MP photo holds ~96 MB decoded: the next, the previous and the next unverified


def file_stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def read_photo(path: str) -> tuple[QImage, str]:
    """The photo upright (EXIF orientation applied, as cv2.imread gives it to the model) and any error."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    image = reader.read()
    return image, ("" if not image.isNull() else reader.errorString())


class _Signals(QObject):
    decoded = Signal(str, object, QImage)  # path, file stamp at read time, image


class _Decode(QRunnable):
    def __init__(self, path: str, signals: _Signals):
        super().__init__()
        self.path, self.signals = path, signals

    def run(self) -> None:
        stamp = file_stamp(self.path)
        image, _ = read_photo(self.path)
        try:
            self.signals.decoded.emit(self.path, stamp, image)
        except RuntimeError:  # the window closed meanwhile
            pass


class PhotoPrefetcher(QObject):
    def __init__(self, parent=None, capacity: int = CACHED_PHOTOS):
        super().__init__(parent)
        self.capacity = capacity
        self.hits = self.misses = 0
        self._cache: OrderedDict[str, tuple[tuple[int, int] | None, QImage]] = OrderedDict()
        self._pending: set[str] = set()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # one photo at a time: the GUI and the model keep the other core
        self._signals = _Signals(self)
        self._signals.decoded.connect(self._on_decoded)

    def read(self, path: str) -> tuple[QImage, str]:
        """The photo from the cache when it was decoded ahead and is unchanged, else read now."""
        cached = self._cache.pop(path, None)
        if cached is not None and not cached[1].isNull() and cached[0] == file_stamp(path):
            self.hits += 1
            return cached[1], ""
        self.misses += 1
        return read_photo(path)

    def prefetch(self, paths) -> None:
        """Decode these photos in the background (most wanted first); older cached ones make room."""
        for path in paths:
            if path and path not in self._cache and path not in self._pending:
                self._pending.add(path)
                self._pool.start(_Decode(path, self._signals))

    def wait(self, msecs: int = 10000) -> bool:
        return self._pool.waitForDone(msecs)

    def clear(self) -> None:
        self._pool.clear()
        self._cache.clear()
        self._pending.clear()

    def shutdown(self, msecs: int = 3000) -> None:
        """Drop queued decodes, wait for the running one, forget everything (closing the window)."""
        self._pool.clear()
        self._pool.waitForDone(msecs)
        self.clear()

    def _on_decoded(self, path: str, stamp, image: QImage) -> None:
        self._pending.discard(path)
        self._cache[path] = (stamp, image)
        self._cache.move_to_end(path)
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
