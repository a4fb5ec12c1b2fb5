"""Live garment landmarks: newest frame → (detect or track) → pose → smoothing, with per-stage timings.

``LiveEstimator`` is the per-frame logic without threads; ``LiveLoop`` couples it to a FrameReader and
always processes the newest frame. Qt-free: the GUI runs ``LiveLoop.run`` in a worker thread and forwards
each ``LiveResult`` to the UI thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from inference.annotation import Garment
from inference.duplicates import merge_read_twice
from inference.pipeline import GarmentPipeline
from inference.smoothing import KeypointSmoother
from inference.timing import StageTimings
from inference.tracking import BoxTracker
from inference.video import FrameReader, FrameSource


@dataclass
class LiveResult:
    frame_index: int
    garments: list[Garment]
    track_ids: list[int]
    detected: bool  # the detector ran on this frame (else boxes came from the previous landmarks)
    timings: StageTimings
    captured_at: float  # time.monotonic() when the frame was read
    finished_at: float
    dropped: int = 0  # frames the source delivered that were never processed, so far
    backlog: int = 0  # frames the source delivered after this one, by the time it finished
    extra: dict = field(default_factory=dict)
    image: np.ndarray | None = None  # the BGR frame these garments belong to (for the overlay)

    @property
    def latency_ms(self) -> float:
        return (self.finished_at - self.captured_at) * 1000.0


class LiveEstimator:
    def __init__(
        self,
        pipeline: GarmentPipeline,
        detect_every: int = 5,
        smooth: bool = True,
        min_cutoff: float = 1.0,
        beta: float = 0.02,
        known_category: int | None = None,
    ):
        self.pipeline = pipeline
        # QC mode: the style under test fixes the category (None: the model decides). May be changed between
        # frames; the next frame re-detects so no garment keeps the old category.
        self.known_category = known_category
        self._category_in_use = known_category
        self.tracker = BoxTracker(detect_every=detect_every) if detect_every > 1 else None
        self.smoother = KeypointSmoother(min_cutoff, beta) if smooth else None
        self._plain_ids = 0

    def process(self, image: np.ndarray, t: float) -> tuple[list[Garment], list[int], bool, StageTimings]:
        timings = StageTimings()
        tracker = self.tracker
        changed = self.known_category != self._category_in_use
        self._category_in_use = self.known_category
        detected = tracker is None or tracker.needs_detection() or changed
        if detected and self._category_in_use is not None:
            # No weak best guess live: an empty table must stay empty, not show a garment to pass or fail
            detections = self.pipeline.detect_known_category(
                image, self._category_in_use, timings, fallback_threshold=self.pipeline.card.detector.score_threshold
            )
        elif detected:
            detections = self.pipeline.detect(image, timings)
        else:
            detections = tracker.tracked_detections()
        garments = list(self.pipeline.estimate(image, detections, timings))
        with timings.measure("post"):
            if detected:  # fresh boxes may hold one garment twice (ADR 0008); tracked boxes are one per track
                garments = merge_read_twice(garments, self.pipeline.merge_shown_from)
            if tracker is not None:
                ids = tracker.update(garments, detected)
            else:  # no tracking: ids are only positions, so smoothing needs a stable order
                ids = list(range(len(garments)))
            if self.smoother is not None:
                garments = self.smoother(garments, ids, t)
        return garments, ids, detected, timings


class LiveLoop:
    def __init__(self, estimator: LiveEstimator, source: FrameSource):
        self.estimator = estimator
        self.reader = FrameReader(source)
        self._stop = threading.Event()

    def results(self, max_frames: int | None = None) -> Iterator[LiveResult]:
        """Start reading and yield one result per processed (always the newest) frame until the end/stop."""
        slot = self.reader.slot
        self.reader.start()
        processed = 0
        try:
            while not self._stop.is_set() and (max_frames is None or processed < max_frames):
                frame = slot.take(timeout=0.25)
                if frame is None:
                    if slot.closed:
                        break
                    continue
                garments, ids, detected, timings = self.estimator.process(frame.image, frame.captured_at)
                processed += 1
                yield LiveResult(
                    frame_index=frame.index,
                    garments=garments,
                    track_ids=ids,
                    detected=detected,
                    timings=timings,
                    captured_at=frame.captured_at,
                    finished_at=time.monotonic(),
                    dropped=slot.dropped,
                    backlog=slot.produced - 1 - frame.index,
                    image=frame.image,
                )
            if self.reader.error is not None:
                raise self.reader.error
        finally:
            self.reader.stop()

    def run(self, on_result: Callable[[LiveResult], None], max_frames: int | None = None) -> int:
        """Blocking loop for a worker thread; returns the number of processed frames."""
        n = 0
        for result in self.results(max_frames):
            on_result(result)
            n += 1
        return n

    def stop(self) -> None:
        self._stop.set()
        self.reader.stop()
