"""Frame sources (camera, video file, image folder) read on their own thread into a latest-frame slot.

The slot holds one frame: a new frame replaces an untaken one (counted as dropped), so a consumer slower
than the source always works on the newest frame and latency stays bounded, where a queue would fall
further behind every frame. Qt-free: the GUI wraps the consumer loop in a worker thread.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


class FrameSourceError(RuntimeError):
    """A camera, video file or image folder cannot be opened."""


@dataclass(frozen=True)
class Frame:
    index: int  # position in the source; gaps between processed frames are the dropped ones
    image: np.ndarray  # BGR uint8
    captured_at: float  # time.monotonic() when read from the source


class FrameSource(ABC):
    """Blocking reader: ``read()`` returns the next BGR frame or None at the end of the source."""

    fps: float | None = None
    name: str = "source"

    @abstractmethod
    def read(self) -> np.ndarray | None:
        """The next BGR frame, or None at the end of the source."""

    def close(self) -> None:  # noqa: B027 - optional hook: sources without a handle need not override it
        """Release the device or file."""


class CameraSource(FrameSource):
    def __init__(self, index: int, width: int | None = None, height: int | None = None):
        self.name = f"camera {index}"
        self.capture = cv2.VideoCapture(index)
        if not self.capture.isOpened():
            raise FrameSourceError(f"cannot open camera {index}")
        self.capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the driver must not queue old frames either
        if width and height:
            self.capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self.capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self.fps = self.capture.get(cv2.CAP_PROP_FPS) or None

    def read(self):
        ok, frame = self.capture.read()
        return frame if ok else None

    def close(self):
        self.capture.release()


class _Paced(FrameSource):
    """Delivers frames no faster than ``fps``, as a camera would (None: as fast as they decode)."""

    def __init__(self, fps: float | None):
        self.fps = fps
        self._start: float | None = None
        self._count = 0

    def _wait_turn(self) -> None:
        if not self.fps:
            return
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self._count / self.fps
        if due > now:
            time.sleep(due - now)
        self._count += 1


class VideoFileSource(_Paced):
    def __init__(self, path: str | Path, realtime: bool = True, fps: float | None = None):
        self.path = Path(path)
        self.name = str(self.path)
        if not self.path.is_file():
            raise FrameSourceError(f"video file {self.path} does not exist")
        self.capture = cv2.VideoCapture(str(self.path))
        if not self.capture.isOpened():
            raise FrameSourceError(f"cannot decode video file {self.path}")
        native = self.capture.get(cv2.CAP_PROP_FPS) or 30.0
        super().__init__((fps or native) if realtime else None)

    def read(self):
        self._wait_turn()
        ok, frame = self.capture.read()
        return frame if ok else None

    def close(self):
        self.capture.release()


class ImageFolderSource(_Paced):
    """A folder of photos, in name order. Unlike a camera's, none of its frames goes stale: each photo waits
    until the one before was read (a folder of 20 photos showed 11 of them when treated as 30 fps frames)."""

    every_frame = True

    def __init__(self, folder: str | Path, fps: float | None = 30.0, loop: bool = False):
        self.folder = Path(folder)
        self.name = str(self.folder)
        if not self.folder.is_dir():
            raise FrameSourceError(f"image folder {self.folder} does not exist")
        self.files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise FrameSourceError(f"image folder {self.folder} has no images")
        self.loop = loop
        self._next = 0
        super().__init__(fps)

    def read(self):
        while True:
            if self._next >= len(self.files):
                if not self.loop:
                    return None
                self._next = 0
            path = self.files[self._next]
            self._next += 1
            self._wait_turn()
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                return image
            log.warning("skipping unreadable image %s", path)


def open_source(spec: str | int | Path, fps: float | None = None, realtime: bool = True) -> FrameSource:
    """Camera index (int or digits), video file, or image folder."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        return CameraSource(int(spec))
    path = Path(spec)
    if path.is_dir():
        return ImageFolderSource(path, fps=fps or 30.0)
    return VideoFileSource(path, realtime=realtime, fps=fps)


class LatestFrameSlot:
    """A one-frame mailbox: ``put`` overwrites, ``take`` waits for a frame it has not handed out yet."""

    def __init__(self):
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._closed = False
        self.produced = 0
        self.dropped = 0

    def put(self, frame: Frame) -> None:
        with self._cond:
            if self._frame is not None:
                self.dropped += 1  # never taken: a newer frame makes it stale
            self._frame = frame
            self.produced += 1
            self._cond.notify_all()

    def wait_for_room(self, stop: threading.Event) -> bool:
        """Wait until the last frame was taken (a source whose every frame counts); False when stopped or
        closed first. Only the reader puts frames, so the room is still there when it puts the next."""
        with self._cond:
            while self._frame is not None and not self._closed and not stop.is_set():
                self._cond.wait(0.1)  # ``stop`` is an Event, not this condition: look again now and then
            return not (self._closed or stop.is_set())

    def take(self, timeout: float | None = None) -> Frame | None:
        """The newest untaken frame; None when closed and empty, or after ``timeout`` seconds."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._frame is not None or self._closed, timeout):
                return None
            frame, self._frame = self._frame, None
            self._cond.notify_all()  # room for a source that waits for its frame to be taken
            return frame

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


class FrameReader:
    """Reads a source on a daemon thread into a LatestFrameSlot until the source ends or ``stop()``."""

    def __init__(self, source: FrameSource, slot: LatestFrameSlot | None = None):
        self.source = source
        self.slot = slot or LatestFrameSlot()
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"frames:{source.name}", daemon=True)

    def start(self) -> FrameReader:
        self._thread.start()
        return self

    def _run(self) -> None:
        index = 0
        try:
            while not self._stop.is_set():
                image = self.source.read()
                if image is None:
                    break
                if getattr(self.source, "every_frame", False):
                    if not self.slot.wait_for_room(self._stop):
                        break
                # stamped when handed over: time spent waiting for room is not the frame's latency
                self.slot.put(Frame(index, image, time.monotonic()))
                index += 1
        except Exception as exc:  # surfaced to the consumer through .error
            self.error = exc
            log.exception("frame source %s failed", self.source.name)
        finally:
            self.source.close()
            self.slot.close()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()
