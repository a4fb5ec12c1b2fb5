"""Box tracking between frames so the detector need not run on every frame (as rtmlib's PoseTracker).

The detector runs every ``detect_every`` frames, or at once when a track is lost or there is none. In
between, each garment's box follows its own landmarks of the previous frame: the box moves with the
landmarks' centroid and scales with their spread (clipped to ±25 % a frame). Unlike a bare box around the
landmarks, this cannot collapse when only a few landmarks are confident. Detections are matched to existing
tracks by IoU so track ids (and their smoothing filters) survive re-detection.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

import numpy as np

from inference.annotation import Garment
from inference.boxes import box_iou
from inference.pose_decode import DEFAULT_VISIBLE_THRESHOLD, Detection


@dataclass
class Track:
    id: int
    category_id: int
    bbox: tuple[float, float, float, float]
    detection_score: float
    centroid: np.ndarray  # of the confident landmarks
    spread: np.ndarray  # their (std x, std y)
    quarter_turns: int | None = None  # the orientation check's decision at the last detection frame


class BoxTracker:
    def __init__(
        self,
        detect_every: int = 5,
        iou_threshold: float = 0.3,
        keypoint_min_score: float = DEFAULT_VISIBLE_THRESHOLD,
        # Bootstrap 0.4.0: garments score 0.29-0.37 on rendered frames, boxes on bare table 0.05-0.14.
        min_keypoint_mean: float = 0.18,
    ):
        self.detect_every = max(1, detect_every)
        self.iou_threshold = iou_threshold
        self.keypoint_min_score = keypoint_min_score
        self.min_keypoint_mean = min_keypoint_mean
        self.tracks: list[Track] = []
        self._frames_since_detection = 0
        self._lost = True
        self._ids = count(1)

    def needs_detection(self) -> bool:
        return self._lost or not self.tracks or self._frames_since_detection >= self.detect_every

    def tracked_detections(self) -> list[Detection]:
        """Boxes for the next frame, from the previous frame's landmarks. Their category and orientation are the
        ones decided at the last detection: a crop classifier re-deciding every frame could flip the landmark
        set on screen, and a garment lying on the table does not turn over between detections, so reading it
        only the way up already found saves the orientation check's other passes (6 of 8 with flip test)."""
        return [Detection(t.bbox, t.detection_score, t.category_id, category_fixed=True, quarter_turns=t.quarter_turns)
                for t in self.tracks]

    def update(self, garments: list[Garment], detected: bool) -> list[int]:
        """Take this frame's garments; return one track id per garment."""
        if detected:
            ids = self._match(garments)
            self._frames_since_detection = 1
        else:
            ids = [t.id for t in self.tracks]
            self._frames_since_detection += 1
        self._lost = False
        previous = {t.id: t for t in self.tracks}
        kept: list[Track] = []
        for garment, tid in zip(garments, ids, strict=True):
            pts = np.array([(k.x, k.y) for k in garment.keypoints if (k.score or 0.0) >= self.keypoint_min_score])
            # A tracked box keeps its old detection score, so only the landmarks say the garment is still there.
            keypoint_mean = float(garment.extra.get("keypoint_score", garment.score or 0.0))
            before = previous.get(tid)
            if len(pts) == 0 or keypoint_mean < self.min_keypoint_mean:
                # Re-detect next frame rather than follow a box onto the background; the track stays until then,
                # so the detection that finds the garment again matches it and keeps its id (and smoothing).
                self._lost = True
                x1, y1, x2, y2 = garment.bbox
                centroid = pts.mean(axis=0) if len(pts) else np.array([(x1 + x2) / 2.0, (y1 + y2) / 2.0])
                spread = pts.std(axis=0) if len(pts) else np.zeros(2)
                box = garment.bbox if detected or before is None else before.bbox
            else:
                centroid, spread = pts.mean(axis=0), pts.std(axis=0)
                box = garment.bbox if detected or before is None else _follow(before, centroid, spread)
            det_score = float(garment.extra.get("detection_score", garment.score or 0.0))
            degrees = garment.extra.get("orientation")
            turns = None if degrees is None else int(degrees) // 90
            kept.append(Track(tid, garment.category_id, box, det_score, centroid, spread, turns))
        self.tracks = kept
        return ids

    def _match(self, garments: list[Garment]) -> list[int]:
        free = list(self.tracks)
        ids = []
        for g in garments:
            best = max(free, key=lambda t: box_iou(t.bbox, g.bbox), default=None)
            if best is not None and best.category_id == g.category_id and box_iou(best.bbox, g.bbox) >= self.iou_threshold:
                free.remove(best)
                ids.append(best.id)
            else:
                ids.append(next(self._ids))
        return ids

    def reset(self) -> None:
        self.tracks = []
        self._lost = True


def _follow(track: Track, centroid: np.ndarray, spread: np.ndarray) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = track.bbox
    centre = np.array([(x1 + x2) / 2.0, (y1 + y2) / 2.0]) + (centroid - track.centroid)
    size = np.array([x2 - x1, y2 - y1])
    usable = (track.spread > 2.0) & (spread > 2.0)  # ratios of tiny spreads are noise
    ratio = np.where(usable, spread / np.where(usable, track.spread, 1.0), 1.0)
    size = size * np.clip(ratio, 0.8, 1.25)
    return tuple(float(v) for v in (*(centre - size / 2.0), *(centre + size / 2.0)))
