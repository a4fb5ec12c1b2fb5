"""Torch-free evaluation of a shipped model (ONNX Runtime through inference.pipeline.GarmentPipeline).

Metrics, all overall and per category:
- keypoint AP: pycocotools COCOeval, iouType 'keypoints', OKS with the official DF2 sigmas over the 294
  slots, maxDets 20, GT area = box area (DeepFashion2's convention);
- box AP: COCOeval 'bbox' with its standard maxDets (1, 10, 100);
- PCK@0.2 and AUC on GT boxes (pose network alone): a labelled landmark is correct when its distance to the
  truth is below t × the longer side of the GT box; AUC = mean PCK over t = 0, 0.025, …, 0.5 (21 steps);
- keypoint AP on GT boxes: the same COCOeval with the pose model run on the GT boxes and categories (a
  perfect detector), to tell pose errors from detection errors;
- NE (FLD style): mean distance normalised per axis by the image width and height, on labelled landmarks;
- OKS diagnosis on GT boxes: mean OKS per garment, the share of landmarks with OKS < 0.1 ("gross" errors:
  a landmark on the wrong part), overall and for occluded landmarks, and mean OKS of garments that overlap
  another garment's box against garments alone;
- category accuracy: for each GT garment, the detection with the highest box IoU (≥ 0.5, any category)
  has the right category; ``detection_recall`` is the share of GT garments with such a detection, and
  class-agnostic box AP tells localisation from classification.
Garment scores for AP are DeepMark++ eq. (1): α·detector score + (1-α)·mean keypoint score.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import replace

import numpy as np

from app.datasets.coco import build_document, encode_garment
from inference.annotation import Garment, Visibility
from inference.boxes import box_iou
from inference.schema import deepfashion2

PCK_THRESHOLD = 0.2
MATCH_IOU = 0.5
AUC_THRESHOLDS = np.linspace(0.0, 0.5, 21)
MAX_DETS = 20
GROSS_OKS = 0.1  # a landmark this far off sits on another part of the garment, not near its own


def rescore(garment: Garment, alpha: float) -> Garment:
    """DeepMark++ score from the pipeline's detection and keypoint scores (kept in garment.extra)."""
    det = garment.extra.get("detection_score", garment.score or 0.0)
    kps = garment.extra.get("keypoint_score")
    if kps is None:
        scores = [k.score for k in garment.keypoints if k.score is not None]
        kps = float(np.mean(scores)) if scores else 0.0
    return replace(garment, score=float(alpha * det + (1 - alpha) * kps))


def _coco_eval(gt_doc: dict, results: list[dict], iou_type: str) -> dict:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not results:
        return {"AP": 0.0, "AP50": 0.0, "AP75": 0.0, "per_category": {}}
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = gt_doc
        gt.createIndex()
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, iou_type)
        if iou_type == "keypoints":
            ev.params.kpt_oks_sigmas = deepfashion2().sigmas294
            ev.params.maxDets = [MAX_DETS]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    precision = ev.eval["precision"]  # [T, R, K, A, M]
    per_cat = {}
    present = {a["category_id"] for a in gt_doc["annotations"]}
    for k, cat_id in enumerate(ev.params.catIds):
        if cat_id not in present:
            continue
        p = precision[:, :, k, 0, -1]
        per_cat[deepfashion2().category(cat_id).name] = float(p[p > -1].mean()) if (p > -1).any() else 0.0
    return {"AP": float(ev.stats[0]), "AP50": float(ev.stats[1]), "AP75": float(ev.stats[2]), "per_category": per_cat}


def keypoint_distances(gt: Garment, pred: Garment) -> tuple[np.ndarray, np.ndarray]:
    """Distances (n,) and per-axis normalised-ready deltas (n,2) over the GT's labelled landmarks."""
    labelled = np.array([k.visibility != Visibility.ABSENT for k in gt.keypoints])
    g = np.array([[k.x, k.y] for k in gt.keypoints])[labelled]
    p = np.array([[k.x, k.y] for k in pred.keypoints])[labelled]
    delta = p - g
    return np.linalg.norm(delta, axis=1), delta


def landmark_oks(gt: Garment, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-landmark OKS term exp(-d²/(2·area·k²)) (k = 2σ, DF2 sigmas, area = GT box area, as COCOeval) from
    ``keypoint_distances``' distances, and the GT visibility, over the GT's labelled landmarks."""
    sigmas = np.asarray(deepfashion2().category(gt.category_id).sigmas, dtype=np.float64)
    visibility = np.array([int(k.visibility) for k in gt.keypoints])
    labelled = visibility != int(Visibility.ABSENT)
    x1, y1, x2, y2 = gt.bbox
    area = max((x2 - x1) * (y2 - y1), np.spacing(1))
    return np.exp(-(dist**2) / (2.0 * area * (2.0 * sigmas[labelled]) ** 2)), visibility[labelled]


class Accumulator:
    """Collects per-image predictions and GT, then computes every metric."""

    def __init__(self, alpha: float):
        self.alpha = alpha
        self.images: list[dict] = []
        self.gt_anns: list[dict] = []
        self.kp_results: list[dict] = []
        self.box_results: list[dict] = []
        self.detector_box_results: list[dict] = []  # the detector's own boxes, before ADR 0007's redraw
        self.gt_box_kp_results: list[dict] = []  # pose on GT boxes (a perfect detector), for diagnosis
        self.pck: dict[int, list[np.ndarray]] = {}  # category → normalised distances
        self.ne: dict[int, list[np.ndarray]] = {}
        self.category_hits: dict[int, list[bool]] = {}  # GT category → matched detection had it right
        self.landmark_oks: list[np.ndarray] = []  # pose on GT boxes, per garment
        self.landmark_visibility: list[np.ndarray] = []
        self.overlaps_other: list[bool] = []
        self.unmatched = 0

    def add(
        self, info: dict, gt: list[Garment], detected: list[Garment], on_gt_boxes: list[Garment] | None = None
    ) -> None:
        """One image; ``on_gt_boxes`` (pose on the true boxes) feeds the pose-only metrics when given."""
        image_id = len(self.images) + 1
        h, w = int(info["height"]), int(info["width"])
        self.images.append({"id": image_id, "file_name": info.get("file_name", ""), "width": w, "height": h})
        for g in gt:
            self.gt_anns.append(encode_garment(g, image_id, len(self.gt_anns) + 1))
        for g in gt:
            ious = [box_iou(g.bbox, d.bbox) for d in detected[:MAX_DETS]]
            if not ious or max(ious) < MATCH_IOU:
                self.unmatched += 1
                continue
            best = detected[int(np.argmax(ious))]
            self.category_hits.setdefault(g.category_id, []).append(best.category_id == g.category_id)
        for pred in detected[:MAX_DETS]:
            pred = rescore(pred, self.alpha)
            ann = encode_garment(pred, image_id, 0)
            x, y, bw, bh = ann["bbox"]
            self.kp_results.append({k: ann[k] for k in ("image_id", "category_id", "keypoints", "score")})
            self.box_results.append({"image_id": image_id, "category_id": ann["category_id"],
                                     "bbox": [x, y, bw, bh], "score": ann["score"]})
            dx1, dy1, dx2, dy2 = pred.extra.get("detector_box", pred.bbox)
            self.detector_box_results.append({"image_id": image_id, "category_id": ann["category_id"],
                                              "bbox": [dx1, dy1, dx2 - dx1, dy2 - dy1], "score": ann["score"]})
        for index, (g, p) in enumerate(
            zip(gt, on_gt_boxes if on_gt_boxes is not None else [], strict=on_gt_boxes is not None)
        ):
            ann = encode_garment(rescore(p, self.alpha), image_id, 0)
            self.gt_box_kp_results.append({k: ann[k] for k in ("image_id", "category_id", "keypoints", "score")})
            dist, delta = keypoint_distances(g, p)
            if not len(dist):
                continue
            oks, visibility = landmark_oks(g, dist)
            self.landmark_oks.append(oks)
            self.landmark_visibility.append(visibility)
            self.overlaps_other.append(any(box_iou(g.bbox, o.bbox) > 0 for j, o in enumerate(gt) if j != index))
            x1, y1, x2, y2 = g.bbox
            self.pck.setdefault(g.category_id, []).append(dist / max(x2 - x1, y2 - y1, 1e-6))
            self.ne.setdefault(g.category_id, []).append(np.hypot(delta[:, 0] / w, delta[:, 1] / h))

    def summary(self) -> dict:
        gt_doc = build_document(self.images, self.gt_anns)
        kp = _coco_eval(gt_doc, self.kp_results, "keypoints")
        box = _coco_eval(gt_doc, self.box_results, "bbox")
        detector_box = _coco_eval(gt_doc, self.detector_box_results, "bbox")
        agnostic_doc = build_document(self.images, [{**a, "category_id": 1} for a in self.gt_anns])
        box_agnostic = _coco_eval(agnostic_doc, [{**r, "category_id": 1} for r in self.box_results], "bbox")
        hits = [h for v in self.category_hits.values() for h in v]
        kp_gt_boxes = _coco_eval(gt_doc, self.gt_box_kp_results, "keypoints")
        names = {c.id: c.name for c in deepfashion2().categories}

        def pck_block(values: list[np.ndarray]) -> dict:
            d = np.concatenate(values) if values else np.zeros(0)
            if not len(d):
                return {"PCK@0.2": 0.0, "AUC": 0.0, "NE": 0.0, "landmarks": 0}
            return {"PCK@0.2": float((d < PCK_THRESHOLD).mean()),
                    "AUC": float(np.mean([(d < t).mean() for t in AUC_THRESHOLDS])), "landmarks": int(len(d))}

        per_cat = {}
        for cat_id in sorted(set(self.pck) | set(self.category_hits)):
            block = pck_block(self.pck.get(cat_id, []))
            block["NE"] = float(np.concatenate(self.ne[cat_id]).mean()) if cat_id in self.ne else 0.0
            block["keypoint_AP"] = kp["per_category"].get(names[cat_id], 0.0)
            block["box_AP"] = box["per_category"].get(names[cat_id], 0.0)
            if self.category_hits.get(cat_id):
                block["category_accuracy"] = float(np.mean(self.category_hits[cat_id]))
            per_cat[names[cat_id]] = block
        overall = pck_block([v for vs in self.pck.values() for v in vs])
        all_ne = [v for vs in self.ne.values() for v in vs]
        overall["NE"] = float(np.concatenate(all_ne).mean()) if all_ne else 0.0
        return {
            "images": len(self.images),
            "oks_on_gt_boxes": self._oks_diagnosis(),
            "garments": len(self.gt_anns),
            "keypoint_AP": kp["AP"], "keypoint_AP50": kp["AP50"], "keypoint_AP75": kp["AP75"],
            "box_AP": box["AP"], "box_AP50": box["AP50"],
            "box_AP_detector": detector_box["AP"],  # boxes as the detector drew them (ADR 0007)
            "box_AP_class_agnostic": box_agnostic["AP"], "box_AP50_class_agnostic": box_agnostic["AP50"],
            "category_accuracy": float(np.mean(hits)) if hits else 0.0,
            "detection_recall": len(hits) / max(len(hits) + self.unmatched, 1),
            "keypoint_AP_on_gt_boxes": kp_gt_boxes["AP"],
            **overall,
            "pck_normalisation": "longer side of the GT box; pose on GT boxes",
            "score": f"{self.alpha}*det + {1 - self.alpha:.2f}*mean keypoint score (DeepMark++ eq. 1)",
            "per_category": per_cat,
        }

    def _oks_diagnosis(self) -> dict:
        if not self.landmark_oks:
            return {}
        per_garment = np.array([o.mean() for o in self.landmark_oks])
        oks, vis = np.concatenate(self.landmark_oks), np.concatenate(self.landmark_visibility)
        occluded = vis == int(Visibility.OCCLUDED)
        overlapping = np.array(self.overlaps_other)

        def mean(values: np.ndarray) -> float | None:
            return float(values.mean()) if len(values) else None

        return {
            "mean_oks": float(per_garment.mean()),
            "gross_error_rate": float((oks < GROSS_OKS).mean()),
            "gross_error_rate_occluded": mean(oks[occluded] < GROSS_OKS),
            "occluded_landmarks": int(occluded.sum()),
            "mean_oks_overlapping": mean(per_garment[overlapping]),
            "mean_oks_alone": mean(per_garment[~overlapping]),
            "garments_overlapping": int(overlapping.sum()),
            "gross_threshold": GROSS_OKS,
        }


EVAL_SCORE_THRESHOLD = 0.05  # AP wants the low-confidence tail too (the card's threshold is for display)


def open_pipeline(
    card_path, flip_test: bool = False, score_threshold: float = EVAL_SCORE_THRESHOLD, orientation_check: bool = False
):
    """GarmentPipeline on CPU for a card, with the detector threshold lowered for AP."""
    from inference.model_card import load_card
    from inference.pipeline import GarmentPipeline

    card = load_card(card_path)
    shown_from = card.detector.score_threshold  # garments the app would show are still merged as in the app
    card = replace(card, detector=replace(card.detector, score_threshold=float(score_threshold)))
    return GarmentPipeline(card, provider="cpu", threads=2, flip_test=flip_test, orientation_check=orientation_check,
                           merge_shown_from=shown_from)


def evaluate_source(pipeline, source, alpha: float, limit: int | None = None, progress=None) -> dict:
    """Run the pipeline over a source (COCO file or renders) and summarise."""
    acc = Accumulator(alpha)
    n = len(source) if limit is None else min(limit, len(source))
    for i in range(n):
        image, gt, info = source.load(i)
        info = {**info, "height": image.shape[0], "width": image.shape[1]}
        detected = list(pipeline(image))
        on_gt = list(pipeline.predict_boxes(image, [(g.bbox, g.category_id) for g in gt])) if gt else []
        acc.add(info, gt, detected, on_gt)
        if progress and (i + 1) % 20 == 0:
            progress(f"evaluated {i + 1}/{n} images")
    return acc.summary()
