"""Detect → batched top-down pose → decode, on ONNX Runtime. Qt-free; the GUI and CLI call it.

Stages per image: letterbox + detector session; one ``cv2.warpAffine`` per detected box into one crop batch;
one pose session call per graph (per-category graphs when the card lists them); SimCC decode and inverse
affine back to image pixels; the category's landmarks picked from the 81 with ``agg81_to_local``.
Scores and visibility are described in ``inference.pose_decode``. When the pose graph has a category head,
the category of each detected (not user-fixed) garment is decided by ``inference.category_fusion``; a crop
whose decided category has its own fine-tuned graph is then run again through that graph. Test-time
options: ``flip_test`` (each crop also read mirrored, ADR 0005) and ``orientation_check`` (each crop also read
turned, the surest reading kept, ADR 0006).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from inference.annotation import Garment, Visibility
from inference.boxes import box_around, box_iou
from inference.category_fusion import fuse_categories
from inference.duplicates import merge_read_twice
from inference.model_card import ModelCard, ModelCardError, load_card
from inference.pose_decode import (
    DEFAULT_VISIBLE_THRESHOLD,
    CropView,
    Detection,
    build_garment,
    decode_landmarks,
)
from inference.preprocess import box_to_center_scale, crop_affine, letterbox, normalize, warp_crop
from inference.runtime import ModelLoadError, OnnxModel, check_tensor
from inference.schema import NUM_AGG_KEYPOINTS, deepfashion2
from inference.timing import StageTimings

BUNDLED_CARD = ("models", "bootstrap", "model_card.json")
FALLBACK_THRESHOLD = 0.05  # the weakest box still offered as a photo's best guess


class PipelineResult(list):
    """The garments of one image (a plain list of Garment) plus how long each stage took and where it ran."""

    def __init__(self, garments=(), timings: StageTimings | None = None, provider: str = ""):
        super().__init__(garments)
        self.timings = timings or StageTimings()
        self.provider = provider


def bundled_card_path() -> Path:
    from resources import resource_path

    return resource_path(*BUNDLED_CARD)


def as_bgr(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Accept gray, BGR or BGRA uint8; return contiguous BGR uint8."""
    import cv2

    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or arr.size == 0:
        raise ValueError(f"{name}: expected a uint8 image (H×W, H×W×3 or H×W×4), got {arr.dtype} {arr.shape}")
    if arr.ndim == 2:
        return cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR)
    if arr.shape[2] == 4:
        return cv2.cvtColor(arr, cv2.COLOR_BGRA2BGR)
    if arr.shape[2] != 3:
        raise ValueError(f"{name}: expected 1, 3 or 4 channels, got {arr.shape[2]}")
    return np.ascontiguousarray(arr)


class GarmentPipeline:
    def __init__(
        self,
        card: ModelCard,
        provider: str = "auto",
        threads: int | None = None,
        flip_test: bool = False,
        orientation_check: bool = False,
        visible_threshold: float = DEFAULT_VISIBLE_THRESHOLD,
        max_detections: int = 20,
        max_pose_batch: int = 64,
        warm_up: bool = True,
        merge_categories: bool = True,
        merge_shown_from: float | None = None,
    ):
        self.card = card
        # One garment, one box: overlapping detections of different categories keep only the best one.
        # Evaluation may turn this off to score every category hypothesis, as DF2's protocol allows.
        self.merge_categories = merge_categories
        # After pose, a shown garment read twice is merged (inference.duplicates). Shown = detector score at or
        # above this; default the card's threshold (evaluation lowers that one and passes the original here).
        self.merge_shown_from = card.detector.score_threshold if merge_shown_from is None else merge_shown_from
        self.flip_test = flip_test
        # Also read every crop turned by 90°, 180° and 270° (180° only for non-square crops) and keep the
        # reading the network is surest of: training turns crops by at most ±30°, so a garment laid upside
        # down or sideways is otherwise misread (ADR 0006). Costs a pose pass per turn.
        self.orientation_check = orientation_check
        self.visible_threshold = visible_threshold
        self.max_detections = max_detections
        self.max_pose_batch = max_pose_batch
        self.model_version = f"{card.name}@{card.version}"
        if card.pose.num_keypoints != NUM_AGG_KEYPOINTS or card.pose.layout != "df2-agg81":
            raise ModelLoadError(
                f"{card.path}: pose layout {card.pose.layout!r} with {card.pose.num_keypoints} keypoints "
                f"is not supported (expected df2-agg81 with {NUM_AGG_KEYPOINTS})"
            )
        self._flip_index = deepfashion2().agg81_flip_index
        self.detector = OnnxModel(card.file_path(card.detector.file), provider, threads)
        self._check_detector()
        self.pose_models: dict[str, OnnxModel] = {}  # file name → session (shared by categories)
        self.pose_for_category: dict[int, str] = {}
        pw, ph = card.pose.preprocess.input_size
        crop_shapes = {"crops": ((1, 3, ph, pw), (8, 3, ph, pw), (max(1, max_pose_batch) * 8, 3, ph, pw))}
        for file in dict.fromkeys([card.pose.file, *card.pose.per_category.values()]):
            self.pose_models[file] = OnnxModel(card.file_path(file), provider, threads, crop_shapes)
            self._check_pose(self.pose_models[file])
        for cat, file in card.pose.per_category.items():
            self.pose_for_category[int(cat)] = file
        if warm_up:
            self.warm_up()

    @classmethod
    def from_card(cls, card_path: str | Path | None = None, provider: str = "auto", **options):
        """Load and validate a card (None → the bundled model) and open its sessions."""
        path = Path(card_path) if card_path is not None else bundled_card_path()
        if card_path is None and not path.is_file():
            raise ModelCardError(
                f"no bundled model at {path}; pass a model card (--model) or install the bootstrap model"
            )
        return cls(load_card(path), provider=provider, **options)

    # -- reporting -------------------------------------------------------------------------------------
    @property
    def provider(self) -> str:
        """Short name of the provider that runs the graphs ('cpu', 'cuda', 'tensorrt'; 'a+b' if they differ)."""
        names = dict.fromkeys([self.detector.provider_short] + [m.provider_short for m in self.pose_models.values()])
        return "+".join(names)

    # -- contract checks -------------------------------------------------------------------------------
    def _check_detector(self) -> None:
        w, h = self.card.detector.preprocess.input_size
        m = self.detector
        check_tensor(m, m.input("image"), "image", (1, 3, h, w), "input")
        check_tensor(m, m.output("dets"), "dets", (1, None, 6), "output")

    def _check_pose(self, model: OnnxModel) -> None:
        w, h = self.card.pose.preprocess.input_size
        split = self.card.pose.simcc_split_ratio
        k = self.card.pose.num_keypoints
        check_tensor(model, model.input("crops"), "crops", (None, 3, h, w), "input")
        check_tensor(model, model.output("simcc_x"), "simcc_x", (None, k, round(w * split)), "output")
        check_tensor(model, model.output("simcc_y"), "simcc_y", (None, k, round(h * split)), "output")
        name = self.card.pose.category_output
        if name is not None and model is self.pose_models.get(self.card.pose.file):
            check_tensor(model, model.output(name), name, (None, self.card.detector.num_classes), "output")

    def warm_up(self) -> None:
        w, h = self.card.detector.preprocess.input_size
        self.detector.warm_up({"image": np.zeros((1, 3, h, w), np.float32)})
        pw, ph = self.card.pose.preprocess.input_size
        for model in self.pose_models.values():
            model.warm_up({"crops": np.zeros((1, 3, ph, pw), np.float32)})

    # -- public API ------------------------------------------------------------------------------------
    def __call__(self, image: np.ndarray, at_least_one: bool = False) -> PipelineResult:
        """Detect every garment in a BGR image and estimate its landmarks.

        ``at_least_one`` is for photos given to be annotated: when no box passes the card's threshold, the
        best box above ``FALLBACK_THRESHOLD`` is kept, marked ``extra["weak_detection"]`` (see
        ``detect_with_fallback``). A live camera frame of an empty table must stay empty, so it is off by
        default.
        """
        timings = StageTimings()
        with timings.measure("pre"):
            image = as_bgr(image)
        detections, weak = self._photo_detections(image, timings, at_least_one)
        return _mark_weak(self._merged(self.estimate(image, detections, timings)), weak)

    @property
    def reads_categories(self) -> bool:
        """Whether the pose graph has a crop classifier, so a box can be read without naming its category."""
        return self.card.pose.category_output is not None

    def predict_boxes(
        self, image: np.ndarray, boxes: Sequence[tuple[Sequence[float], int | None]], score: float = 1.0
    ) -> PipelineResult:
        """Landmarks inside given boxes [(x1,y1,x2,y2), category_id] (e.g. a box the user drew); no detector.
        A category of None is left to the crop classifier (``reads_categories``)."""
        timings = StageTimings()
        schema = deepfashion2()
        with timings.measure("pre"):
            image = as_bgr(image)
            detections = []
            for bbox, category_id in boxes:
                if category_id is None and not self.reads_categories:
                    raise ValueError(f"{self.model_version} has no category classifier: name the box's category")
                if category_id is not None:
                    if int(category_id) != category_id:
                        raise ValueError(f"category id must be a whole number 1..13, got {category_id!r}")
                    schema.category(int(category_id))  # clear error for an unknown category
                x1, y1, x2, y2 = _box_in_image(bbox, image.shape[1], image.shape[0])
                detections.append(
                    Detection((x1, y1, x2, y2), score,
                              1 if category_id is None else int(category_id), category_fixed=category_id is not None)
                )
        return self.estimate(image, detections, timings, landmark_boxes=False)  # a given box stays as given

    def predict_known_category(
        self, image: np.ndarray, category_id: int, fallback_threshold: float = FALLBACK_THRESHOLD
    ) -> PipelineResult:
        """QC mode: the style under test fixes the category, so keep the detector's boxes, not its labels.

        Boxes above the card's threshold are relabelled; if there are none, the single best box above
        ``fallback_threshold`` is used (a workstation photo shows the garment being checked).
        """
        timings = StageTimings()
        with timings.measure("pre"):
            image = as_bgr(image)
        detections, weak = self._known_category_detections(image, category_id, timings, fallback_threshold)
        return _mark_weak(self._merged(self.estimate(image, detections, timings)), weak)

    def _merged(self, result: PipelineResult) -> PipelineResult:
        with result.timings.measure("post"):
            garments = merge_read_twice(result, self.merge_shown_from)
        return PipelineResult(garments, result.timings, result.provider)

    def detect_known_category(
        self, image: np.ndarray, category_id: int, timings: StageTimings | None = None,
        fallback_threshold: float = FALLBACK_THRESHOLD,
    ) -> list[Detection]:
        """QC mode's boxes for a BGR uint8 image: see ``predict_known_category``."""
        return self._known_category_detections(image, category_id, timings, fallback_threshold)[0]

    def _known_category_detections(self, image, category_id: int, timings, fallback_threshold: float):
        """(``detect_with_fallback``'s boxes relabelled with the fixed category, whether they are a fallback)."""
        deepfashion2().category(int(category_id))  # clear error for an unknown category
        detections, weak = self.detect_with_fallback(image, timings, fallback_threshold)
        return [Detection(d.bbox, d.score, int(category_id), category_fixed=True) for d in detections], weak

    def _photo_detections(self, image, timings: StageTimings, at_least_one: bool):
        """(detections, whether they are a fallback) for ``__call__`` and ``predict_many``."""
        if at_least_one:
            return self.detect_with_fallback(image, timings)
        return self.detect(image, timings), False

    def detect_with_fallback(
        self,
        image: np.ndarray,
        timings: StageTimings | None = None,
        fallback_threshold: float = FALLBACK_THRESHOLD,
    ) -> tuple[list[Detection], bool]:
        """(detections above the card's threshold, False) or, when there are none, (the single best one above
        ``fallback_threshold``, True): a photo someone asks to annotate or measure shows a garment, and a
        weak best guess to correct is more use than an empty photo. Real photos score lower than renders."""
        candidates = self.detect(image, timings, score_threshold=fallback_threshold)
        confident = [d for d in candidates if d.score >= self.card.detector.score_threshold]
        return (confident, False) if confident else (candidates[:1], bool(candidates))

    def estimate(
        self,
        image: np.ndarray,
        detections: Sequence[Detection],
        timings: StageTimings | None = None,
        batch: int | None = None,
        landmark_boxes: bool = True,
    ) -> PipelineResult:
        """Pose for known detections of a BGR uint8 image (the tracker's boxes; ``batch`` crops per call).

        With ``landmark_boxes`` each garment's box becomes the extent of its landmarks (see
        ``with_landmark_box``); without, it keeps the box it was given.
        """
        timings = timings if timings is not None else StageTimings()
        garments = self._estimate([(image, list(detections))], timings, batch, landmark_boxes)[0]
        return PipelineResult(garments, timings, self.provider)

    def predict_many(
        self, images: Sequence[np.ndarray], pose_batch: int = 16, at_least_one: bool = False
    ) -> list[PipelineResult]:
        """Auto-annotation: detect per image, then pose for the crops of all images in batches.

        Each result's timings hold its own pre/detect time and a share of the pooled pose/post time
        proportional to its number of garments. ``at_least_one`` as for ``__call__``.
        """
        per_image = []
        pooled = StageTimings()
        for i, img in enumerate(images):
            own = StageTimings()
            with own.measure("pre"):
                img = as_bgr(img, f"image {i}")
            detections, weak = self._photo_detections(img, own, at_least_one)
            per_image.append((img, detections, own, weak))
        batch = max(1, min(pose_batch, self.max_pose_batch))
        garment_lists = self._estimate([(img, dets) for img, dets, _, _ in per_image], pooled, batch)
        total = max(1, sum(len(d) for _, d, _, _ in per_image))
        results = []
        for (_, dets, own, weak), garments in zip(per_image, garment_lists, strict=True):
            share = pooled.scaled(len(dets) / total)
            own.pre += share.pre
            own.pose, own.post = share.pose, share.post
            results.append(_mark_weak(self._merged(PipelineResult(garments, own, self.provider)), weak))
        return results

    # -- stages ----------------------------------------------------------------------------------------
    def detect(
        self, image: np.ndarray, timings: StageTimings | None = None, score_threshold: float | None = None
    ) -> list[Detection]:
        timings = timings if timings is not None else StageTimings()
        spec = self.card.detector
        with timings.measure("pre"):
            boxed, lb = letterbox(image, spec.preprocess.input_size)
            tensor = normalize(boxed[None], spec.preprocess.mean, spec.preprocess.std,
                               spec.preprocess.channel_order == "RGB")
        with timings.measure("detect"):
            dets = self.detector.run({"image": tensor})["dets"]
        with timings.measure("post"):
            return self._decode_detections(dets, lb.scale, image.shape, score_threshold)

    def _decode_detections(
        self, dets: np.ndarray, scale: float, shape, score_threshold: float | None = None
    ) -> list[Detection]:
        h, w = shape[:2]
        threshold = self.card.detector.score_threshold if score_threshold is None else score_threshold
        rows = np.asarray(dets, dtype=np.float64).reshape(-1, 6)
        keep = rows[:, 4] >= threshold
        rows = rows[keep][np.argsort(-rows[keep][:, 4], kind="stable")]
        out: list[Detection] = []
        for x1, y1, x2, y2, score, cls in rows:
            cls = int(round(cls))
            if not 0 <= cls < self.card.detector.num_classes:
                continue
            box = np.clip(np.array([x1, y1, x2, y2]) / scale, 0.0, [w, h, w, h])
            if box[2] - box[0] < 2.0 or box[3] - box[1] < 2.0:
                continue
            if self.merge_categories and any(box_iou(box, kept.bbox) >= MERGE_IOU for kept in out):
                continue  # rows are sorted by score: a better hypothesis for this garment is already kept
            out.append(Detection(tuple(float(v) for v in box), float(score), cls + 1))
            if len(out) >= self.max_detections:
                break
        return out

    def _estimate(
        self, jobs, timings: StageTimings, batch: int | None = None, landmark_boxes: bool = True
    ) -> list[list[Garment]]:
        """Pose for all (image, detections) jobs; crops grouped by pose graph, ``batch`` crops per call."""
        batch = batch or self.max_pose_batch
        results: list[list[Garment | None]] = [[None] * len(dets) for _, dets in jobs]
        groups: dict[str, list[tuple[int, int, Detection]]] = {}
        for j, (_, dets) in enumerate(jobs):
            for n, d in enumerate(dets):
                groups.setdefault(self._first_graph(d), []).append((j, n, d))
        for (j, n), g in self._run_groups(groups, jobs, timings, batch):
            results[j][n] = g
        # The classifier may have moved a garment to a category with its own fine-tuned graph: run it there.
        redo: dict[str, list[tuple[int, int, Detection]]] = {}
        for file, group in groups.items():
            for j, n, d in group:
                g = results[j][n]
                target = self.pose_for_category.get(g.category_id, self.card.pose.file)
                if target != file:
                    score = float(g.extra["detection_score"])  # already weighed by the category's probability
                    redo.setdefault(target, []).append((j, n, Detection(d.bbox, score, g.category_id, True)))
        for (j, n), g in self._run_groups(redo, jobs, timings, batch):
            first = results[j][n].extra
            g.extra.update({k: v for k, v in first.items() if k.startswith("category_") or k == "detector_score"})
            results[j][n] = g
        if landmark_boxes:
            with timings.measure("post"):
                for j, (image, _) in enumerate(jobs):
                    h, w = image.shape[:2]
                    results[j] = [with_landmark_box(g, w, h) for g in results[j]]
        return [list(r) for r in results]

    def _first_graph(self, detection: Detection) -> str:
        """The pose graph that reads a crop first. A category still to be decided is decided by the main
        graph's classifier, which was trained on every category; a per-category graph's head was fine-tuned
        on its own category alone and would claim every crop for it. The second pass in ``_estimate`` then
        moves the garment to its category's graph."""
        if self.card.pose.category_output is not None and not detection.category_fixed:
            return self.card.pose.file
        return self.pose_for_category.get(detection.category_id, self.card.pose.file)

    def _run_groups(self, groups, jobs, timings: StageTimings, batch: int):
        """Yield ((job, index), garment) for {pose file: [(job, index, detection)]}, ``batch`` crops per call.
        With the orientation check on, garments whose orientation is already decided are read apart from
        the others, in that orientation only."""
        for file, group in groups.items():
            by_turn: dict[int | None, list] = {}
            for item in group:
                by_turn.setdefault(item[2].quarter_turns if self.orientation_check else None, []).append(item)
            for turns, subgroup in by_turn.items():
                for start in range(0, len(subgroup), batch):
                    chunk = subgroup[start : start + batch]
                    crops = [(jobs[j][0], d) for j, _, d in chunk]
                    garments = self._pose_chunk(self.pose_models[file], crops, timings, turns)
                    for (j, n, _), g in zip(chunk, garments, strict=True):
                        yield (j, n), g

    def _views(self, quarter_turns: int | None = None) -> list[list[CropView]]:
        """Every pass, grouped by orientation (the plain crop's group first); only ``quarter_turns``'s group
        when the orientation is already decided."""
        turns = [0]
        if self.orientation_check:
            w, h = self.card.pose.preprocess.input_size
            turns = [0, 1, 2, 3] if w == h and self.card.pose.sideways_categories else [0, 2]
            if quarter_turns is not None and quarter_turns % 4 in turns:
                turns = [quarter_turns % 4]
        return [[CropView(k, False)] + ([CropView(k, True)] if self.flip_test else []) for k in turns]

    def _pose_chunk(
        self, model: OnnxModel, crops, timings: StageTimings, quarter_turns: int | None = None
    ) -> list[Garment]:
        spec = self.card.pose
        size = spec.preprocess.input_size
        orientations = self._views(quarter_turns)
        with timings.measure("pre"):
            buffer = np.empty((len(crops), size[1], size[0], 3), np.uint8)
            inverses = np.empty((len(crops), 2, 3))
            for i, (image, det) in enumerate(crops):
                center, scale = box_to_center_scale(det.bbox, size, spec.bbox_padding)
                matrix = crop_affine(center, scale, size)
                buffer[i] = warp_crop(image, matrix, size)
                inverses[i] = _invert(matrix)
            tensor = normalize(buffer, spec.preprocess.mean, spec.preprocess.std,
                               spec.preprocess.channel_order == "RGB")
            views = [view for group in orientations for view in group]
            if views != [CropView()]:  # a single turned view (a tracked garment's kept turn) is turned too
                tensor = np.concatenate([view.apply(tensor) for view in views])
        with timings.measure("pose"):
            out = model.run({"crops": tensor})
        with timings.measure("post"):
            n = len(crops)
            readings, start = [], 0
            for group in orientations:
                readings.append(self._read(out, group, start, n, [d for _, d in crops], inverses))
                start += len(group) * n
            chosen = readings[0]
            if len(readings) > 1:
                chosen = self._pick_orientation(readings, [group[0].degrees for group in orientations])
            elif self.orientation_check:  # decided before (a tracked garment): say which turn was read
                chosen[2][:] = [{**extra, "orientation": orientations[0][0].degrees, "orientation_kept": True}
                                for extra in chosen[2]]
            garments = []
            for (xy, scores), det, extra, (image, _) in zip(*chosen, crops, strict=True):
                # A padded crop reaches past the photo's edge, and so can its landmarks: they are kept on the
                # photo, as an annotator's are (a point off the photo has no pixel to check it against).
                height, width = image.shape[:2]
                xy = np.clip(xy, 0.0, [float(width), float(height)])
                g = build_garment(det, xy, scores, self.model_version, self.visible_threshold,
                                  self.card.score_alpha)
                g.extra.update(extra)
                garments.append(g)
            return garments

    def _read(self, out: dict, views, start: int, n: int, detections: list[Detection], inverses):
        """One orientation's passes (``n`` crops each, from row ``start``) averaged in the upright crop frame
        → (decoded landmarks with reference-scaled scores, detections with decided categories, extras)."""
        spec = self.card.pose
        sx_sum = sy_sum = logit_sum = None
        for v, view in enumerate(views):
            rows = slice(start + v * n, start + (v + 1) * n)
            sx, sy = view.to_upright(out["simcc_x"][rows], out["simcc_y"][rows], spec.simcc_split_ratio,
                                     self._flip_index)
            sx_sum = sx if sx_sum is None else sx_sum + sx
            sy_sum = sy if sy_sum is None else sy_sum + sy
            if spec.category_output is not None and spec.category_output in out:
                logits = out[spec.category_output][rows]  # mirrors and turns keep the category
                logit_sum = logits if logit_sum is None else logit_sum + logits
        extras: list[dict] = [{} for _ in detections]
        if logit_sum is not None:
            detections, extras = self._decide_categories(logit_sum / len(views), detections)
        decoded = decode_landmarks(sx_sum / len(views), sy_sum / len(views), spec.simcc_split_ratio, inverses,
                                   [d.category_id for d in detections])
        reference = spec.keypoint_score_reference
        decoded = [(xy, np.minimum(scores / reference, 1.0)) for xy, scores in decoded]
        return decoded, detections, extras

    def _pick_orientation(self, readings, degrees: list[int]):
        """Per crop, the reading with the highest mean landmark score (a tie keeps the plain reading, ADR 0006).
        A sideways reading counts only if both the category it decided and the plain reading's are ones the
        card lets be read sideways (else shorts, not allowed, could come back sideways as a skirt). A turned
        reading that changes the category competes with its score lowered by the card's
        ``turned_category_margin``. Records the turn kept and every turn's score."""
        sideways = set(self.card.pose.sideways_categories)
        margin = self.card.pose.turned_category_margin
        picked = ([], [], [])
        for i in range(len(readings[0][0])):
            scores = [float(reading[0][i][1].mean()) for reading in readings]
            plain_category = readings[0][1][i].category_id
            eligible = []
            for s, d, reading in zip(scores, degrees, readings, strict=True):
                category = reading[1][i].category_id
                if d % 180 and not {plain_category, category} <= sideways:
                    s = -np.inf
                elif d and category != plain_category:
                    s -= margin
                eligible.append(s)
            best = int(np.argmax(eligible))  # ties keep the first, the plain reading
            for part, source in zip(picked, readings[best], strict=True):
                part.append(source[i])
            picked[2][-1] = {**picked[2][-1], "orientation": degrees[best],
                             "orientation_scores": {str(d): s for d, s in zip(degrees, scores, strict=True)}}
        return picked

    def _decide_categories(self, logits: np.ndarray, detections: list[Detection]):
        """Detections relabelled by the crop classifier (user-fixed ones kept), with what the decision was.

        The detection score becomes P(garment) × P(category | crop): DF2's AP and the app's threshold are per
        category, so a box whose category is a coin toss should not rank as a sure one.
        """
        ids, probs = fuse_categories(
            logits, [d.category_id for d in detections], self.card.pose.category_detector_weight
        )
        decided, extras = [], []
        for d, c, p in zip(detections, ids, probs, strict=True):
            if d.category_fixed:
                decided.append(d)
                extras.append({})
                continue
            decided.append(Detection(d.bbox, d.score * float(p), int(c), False))
            extras.append({"category_detector_id": d.category_id, "category_probability": float(p),
                           "detector_score": float(d.score)})  # before the category factor
        return decided, extras


MERGE_IOU = 0.6


def _box_in_image(bbox, width: int, height: int) -> tuple[float, float, float, float]:
    """A given box ordered and clipped to the photo: a box partly outside is read where it overlaps, one
    with no overlap or non-finite corners is an error (it would give landmarks off the photo, or NaN)."""
    try:
        x1, y1, x2, y2 = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise ValueError(f"a box is four numbers x1, y1, x2, y2, got {bbox!r}") from None
    if not all(np.isfinite((x1, y1, x2, y2))):
        raise ValueError(f"box {bbox!r} has a corner that is not a finite number")
    x1, x2 = sorted((x1, x2))
    y1, y2 = sorted((y1, y2))
    if x1 >= width or y1 >= height or x2 <= 0 or y2 <= 0:
        raise ValueError(f"box {bbox!r} lies outside the {width}×{height} photo")
    return max(x1, 0.0), max(y1, 0.0), min(x2, float(width)), min(y2, float(height))


def _mark_weak(result: PipelineResult, weak: bool) -> PipelineResult:
    """Flag the garments of a fallback detection, where nothing passed the card's threshold (the inspector
    says so)."""
    if weak:
        for g in result:
            g.extra["weak_detection"] = True
    return result


def with_landmark_box(garment: Garment, width: int, height: int) -> Garment:
    """The garment with its box redrawn around its landmarks (clipped to the image), as KGDet derives boxes
    from keypoints: the landmarks lie on the outline, so their extent fits the garment better than the
    detector's stride-8 box (box AP 0.57 → 0.72 on 150 validation scenes, bootstrap 0.8.0, ADR 0007). The detector's
    box is kept in ``extra["detector_box"]``."""
    placed = [(k.x, k.y) for k in garment.keypoints if k.visibility != Visibility.ABSENT]
    box = box_around(placed, width, height)
    if box is None:
        return garment
    detector_box = [float(v) for v in garment.bbox]
    return replace(garment, bbox=box, extra={**garment.extra, "detector_box": detector_box})


def _invert(matrix: np.ndarray) -> np.ndarray:
    # Closed form for the axis-aligned crop affine (no rotation at inference): exact and cheap.
    sx, sy = matrix[0, 0], matrix[1, 1]
    return np.array([[1.0 / sx, 0.0, -matrix[0, 2] / sx], [0.0, 1.0 / sy, -matrix[1, 2] / sy]])
