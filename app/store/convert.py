"""Conversions between ORM rows, ``inference.annotation`` types and the JSON kept in snapshots/history."""

from __future__ import annotations

from dataclasses import replace

from inference.annotation import Garment, GarmentStatus, Keypoint, PointSource, Visibility
from inference.boxes import box_around
from inference.schema import deepfashion2, fld

from .models import FLD_LAYOUTS, LAYOUT_DF2, GarmentRow, KeypointRow

LAYOUT_KEY = "layout"  # Garment.extra key naming a non-DF2 layout (FLD)
DETECTOR_BOX_KEY = "detector_box"  # the detector's box, kept when the shown box is drawn round the landmarks
BOX_BY_HAND_KEY = "box_by_hand"  # a person set this garment's box: the model reads inside it and keeps it


def garment_layout(garment: Garment) -> str:
    return str(garment.extra.get(LAYOUT_KEY, LAYOUT_DF2))


def expected_keypoints(category_id: int, layout: str) -> int:
    if layout == LAYOUT_DF2:
        return deepfashion2().category(category_id).num_keypoints
    if layout in FLD_LAYOUTS:
        return len(fld().clothes_type(FLD_LAYOUTS[layout]).landmarks)
    raise ValueError(f"unknown keypoint layout {layout!r} (df2, {', '.join(FLD_LAYOUTS)})")


def validate_garment(garment: Garment) -> None:
    """Raise ValueError when the garment does not fit its category (or FLD layout)."""
    layout = garment_layout(garment)
    if layout == LAYOUT_DF2:
        deepfashion2().category(garment.category_id)  # SchemaError (a ValueError) names it
    n = expected_keypoints(garment.category_id, layout)
    if len(garment.keypoints) != n:
        raise ValueError(f"{layout} garment of category {garment.category_id} needs {n} keypoints, got {len(garment.keypoints)}")
    if len(garment.bbox) != 4:
        raise ValueError(f"a box is (x1, y1, x2, y2), got {garment.bbox!r}")


def keypoint_to_dict(kp: Keypoint) -> dict:
    return {"x": float(kp.x), "y": float(kp.y), "v": int(kp.visibility), "score": kp.score, "source": str(kp.source)}


def keypoint_from_dict(d: dict) -> Keypoint:
    score = d.get("score")
    return Keypoint(
        float(d["x"]), float(d["y"]), Visibility(int(d["v"])), None if score is None else float(score),
        PointSource(d.get("source", PointSource.MODEL)),
    )


def garment_to_dict(g: Garment) -> dict:
    return {
        "category_id": int(g.category_id),
        "bbox": [float(v) for v in g.bbox],
        "keypoints": [keypoint_to_dict(k) for k in g.keypoints],
        "score": None if g.score is None else float(g.score),
        "status": str(g.status),
        "model_version": g.model_version,
        "extra": dict(g.extra),
    }


def garment_from_dict(d: dict) -> Garment:
    score = d.get("score")
    return Garment(
        category_id=int(d["category_id"]),
        bbox=tuple(float(v) for v in d["bbox"]),
        keypoints=tuple(keypoint_from_dict(k) for k in d["keypoints"]),
        score=None if score is None else float(score),
        status=GarmentStatus(d.get("status", GarmentStatus.PREDICTED)),
        model_version=d.get("model_version"),
        extra=dict(d.get("extra") or {}),
    )


def keypoint_from_row(row: KeypointRow) -> Keypoint:
    return Keypoint(row.x, row.y, Visibility(row.visibility), row.score, PointSource(row.source))


def garment_from_row(row: GarmentRow) -> Garment:
    extra = dict(row.attributes or {})
    if row.layout != LAYOUT_DF2:
        extra[LAYOUT_KEY] = row.layout
    return Garment(
        category_id=row.category_id,
        bbox=(row.x1, row.y1, row.x2, row.y2),
        keypoints=tuple(keypoint_from_row(k) for k in row.keypoints),
        score=row.score,
        status=GarmentStatus(row.status),
        model_version=row.model_version,
        extra=extra,
    )


def write_garment(row: GarmentRow, g: Garment) -> None:
    """Copy a Garment's fields (not the prediction snapshot) onto a row, replacing its keypoints."""
    row.category_id = int(g.category_id)
    row.layout = garment_layout(g)
    row.x1, row.y1, row.x2, row.y2 = (float(v) for v in g.bbox)
    row.score = None if g.score is None else float(g.score)
    row.status = str(g.status)
    row.model_version = g.model_version
    row.attributes = {k: v for k, v in g.extra.items() if k != LAYOUT_KEY}
    by_index = {k.idx: k for k in row.keypoints}
    for i, kp in enumerate(g.keypoints):
        krow = by_index.pop(i, None)
        if krow is None:
            krow = KeypointRow(idx=i)
            row.keypoints.append(krow)
        write_keypoint(krow, kp)
    for extra_row in by_index.values():
        row.keypoints.remove(extra_row)


def write_keypoint(row: KeypointRow, kp: Keypoint) -> None:
    row.x, row.y = float(kp.x), float(kp.y)
    row.visibility = int(kp.visibility)
    row.score = None if kp.score is None else float(kp.score)
    row.source = str(kp.source)


def remap_category(keypoints: tuple[Keypoint, ...], old_id: int, new_id: int) -> tuple[Keypoint, ...]:
    """Carry points to another category: same landmark name first, then the same 81-slot aggregate."""
    schema = deepfashion2()
    old, new = schema.category(old_id), schema.category(new_id)
    out: list[Keypoint] = [Keypoint.absent() for _ in new.landmarks]
    used: set[int] = set()
    for j, name in enumerate(new.landmarks):
        if name in old.landmarks:
            i = old.landmarks.index(name)
            out[j] = keypoints[i]
            used.add(i)
    agg_to_old = {slot: i for i, slot in enumerate(old.agg81)}
    for j, slot in enumerate(new.agg81):
        i = agg_to_old.get(slot)
        if out[j].visibility == 0 and i is not None and i not in used:
            out[j] = keypoints[i]
            used.add(i)
    return tuple(out)


def reading_box(garment: Garment) -> tuple[float, float, float, float]:
    """The box the model should read a garment in again: the person's box when they set one, else the
    detector's (the network was trained on detector boxes; the shown box is the tighter landmark box)."""
    if garment.extra.get(BOX_BY_HAND_KEY) or DETECTOR_BOX_KEY not in garment.extra:
        return tuple(float(v) for v in garment.bbox)
    return tuple(float(v) for v in garment.extra[DETECTOR_BOX_KEY])


def merge_reading(current: Garment, reading: Garment, width: float, height: float) -> Garment:
    """``current`` with the model's points replaced by a new reading of the same category.

    Points a person placed, moved or marked (source human) are kept: a new reading never overwrites a
    correction. A box the model drew round the landmarks is redrawn round the new ones (clipped to the
    width × height image); a box a person set or drew stays. Category, status and history are the caller's.
    """
    if garment_layout(current) != LAYOUT_DF2:
        raise ValueError(f"a {garment_layout(current)} garment cannot be read again by the DF2 model")
    if reading.category_id != current.category_id or len(reading.keypoints) != len(current.keypoints):
        raise ValueError(
            f"the reading is a category {reading.category_id} garment with {len(reading.keypoints)} landmarks; "
            f"this one is category {current.category_id} with {len(current.keypoints)}"
        )
    points = tuple(
        old if old.source == PointSource.HUMAN else new
        for old, new in zip(current.keypoints, reading.keypoints, strict=True)
    )
    bbox = current.bbox
    if DETECTOR_BOX_KEY in current.extra and not current.extra.get(BOX_BY_HAND_KEY):
        placed = [(k.x, k.y) for k in points if k.visibility != Visibility.ABSENT]
        bbox = box_around(placed, width, height) or bbox
    return replace(current, bbox=tuple(float(v) for v in bbox), keypoints=points, score=reading.score,
                   model_version=reading.model_version)
