"""The model card: the JSON file beside the ONNX files that says how to feed and read them.

Training writes it, the runtime validates it on load. Pre-processing facts (input size, mean/std,
channel order) live only here, so training, export and inference cannot drift apart.

Contract of the two ONNX graphs (see docs/ARCHITECTURE.md):
- detector: input ``image`` float32 [1, 3, H, W] (letterboxed, normalised); output ``dets``
  float32 [1, K, 6] = (x1, y1, x2, y2, score, class_index 0..12) in network-input pixels.
- pose: input ``crops`` float32 [B, 3, H, W] (affine crops, normalised); outputs ``simcc_x``
  [B, 81, W*split] and ``simcc_y`` [B, 81, H*split] (SimCC logits over the 81 aggregated landmarks);
  optionally ``category_logits`` [B, 13] when the card names it in ``pose.category_output``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

CARD_FORMAT = "garment-studio-model-card/1"


class ModelCardError(ValueError):
    """A model card is missing, malformed, or does not match its ONNX files."""


@dataclass(frozen=True)
class Preprocess:
    input_size: tuple[int, int]  # (width, height) of the network input
    mean: tuple[float, float, float]  # on 0..255 pixel values, in channel_order
    std: tuple[float, float, float]
    channel_order: str = "RGB"


@dataclass(frozen=True)
class DetectorSpec:
    file: str
    preprocess: Preprocess
    num_classes: int = 13
    score_threshold: float = 0.3


@dataclass(frozen=True)
class PoseSpec:
    file: str
    preprocess: Preprocess
    simcc_split_ratio: float = 2.0
    num_keypoints: int = 81
    layout: str = "df2-agg81"
    bbox_padding: float = 1.25
    # Optional per-category fine-tuned pose graphs: category id (str) -> file
    per_category: dict[str, str] = field(default_factory=dict)
    # Output name of the crop category classifier (None: the graph has none; the detector decides).
    category_output: str | None = None
    # category = argmax(crop probabilities + this × one-hot(detector class)); see inference.category_fusion
    category_detector_weight: float = 0.0
    # The SimCC softmax peak of a perfectly confident prediction (the training target's own peak); keypoint
    # scores are divided by it, so 1 means "as sure as training asked for" whatever the sigma and split.
    keypoint_score_reference: float = 1.0
    # Categories whose garments the orientation check may read sideways (90°/270°, square crops only), as
    # tuned by app.training.orientation_eval (ADR 0006); every category may be read upside down (180°).
    sideways_categories: tuple[int, ...] = ()
    # A turned reading that names another category than the plain reading must be surer than it by this
    # much (mean landmark score) to be kept: real photos are mostly upright, and a top read upside down
    # tends to come back as a skirt. 0 = the surest reading wins (cards before 0.9.0). ADR 0006.
    turned_category_margin: float = 0.0


@dataclass(frozen=True)
class ModelCard:
    name: str
    version: str
    detector: DetectorSpec
    pose: PoseSpec
    path: Path  # the card file itself
    parent: str | None = None
    # garment score = alpha * detection score + (1 - alpha) * mean keypoint score (DeepMark++ eq. 1)
    score_alpha: float = 0.8
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.path.parent

    def file_path(self, name: str) -> Path:
        return self.folder / name

    def to_json(self) -> dict:
        doc = asdict(self)
        doc.pop("path")
        doc["format"] = CARD_FORMAT
        return doc

    def save(self, path: Path | None = None) -> Path:
        target = Path(path or self.path)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2), encoding="utf-8")
        tmp.replace(target)
        return target


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_KINDS = {dict: "a JSON object", list: "a JSON list", str: "a string"}


def _field(doc: dict, key: str, kind: type, where: str, default=None, optional: bool = False):
    """doc[key] (default when absent), refused unless it is the JSON kind expected: a string where an
    object or list belongs would otherwise be read letter by letter or fail later with an AttributeError."""
    value = doc.get(key, default)
    if value is None and optional:
        return None
    if not isinstance(value, kind):
        raise ModelCardError(f"{where}: {key} must be {_KINDS[kind]}, not {json.dumps(value)[:40]}")
    return value


def _preprocess(doc: dict, where: str) -> Preprocess:
    if not isinstance(doc, dict):
        raise ModelCardError(f"{where}: preprocess must be a JSON object, not {json.dumps(doc)[:40]}")
    try:
        size = tuple(int(v) for v in doc["input_size"])
        mean = tuple(float(v) for v in doc["mean"])
        std = tuple(float(v) for v in doc["std"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelCardError(f"{where}: preprocess needs input_size, mean and std ({exc})") from exc
    if len(size) != 2 or len(mean) != 3 or len(std) != 3 or min(size) <= 0 or min(std) <= 0:
        raise ModelCardError(f"{where}: bad input_size/mean/std {size} {mean} {std}")
    order = doc.get("channel_order", "RGB")
    if order not in ("RGB", "BGR"):
        raise ModelCardError(f"{where}: channel_order must be RGB or BGR, not {order!r}")
    return Preprocess(size, mean, std, order)  # type: ignore[arg-type]


def load_card(path: str | Path, verify_hashes: bool = True) -> ModelCard:
    """Read and validate a card; with verify_hashes, every listed ONNX file must match its sha256."""
    path = Path(path)
    if path.is_dir():
        path = path / "model_card.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelCardError(f"model card not found: {path}") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelCardError(f"model card {path} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ModelCardError(f"model card {path} must be a JSON object, not {json.dumps(doc)[:40]}")
    if doc.get("format") != CARD_FORMAT:
        raise ModelCardError(f"{path}: unknown card format {doc.get('format')!r} (expected {CARD_FORMAT})")
    try:
        det, pose = doc["detector"], doc["pose"]  # a missing one is named by the KeyError below
        _field(doc, "detector", dict, str(path))
        _field(doc, "pose", dict, str(path))
        training = _field(doc, "training", dict, str(path), {})
        where = f"{path} pose"
        card = ModelCard(
            name=str(doc["name"]),
            version=str(doc["version"]),
            detector=DetectorSpec(
                file=str(det["file"]),
                preprocess=_preprocess(det["preprocess"], f"{path} detector"),
                num_classes=int(det.get("num_classes", 13)),
                score_threshold=float(det.get("score_threshold", 0.3)),
            ),
            pose=PoseSpec(
                file=str(pose["file"]),
                preprocess=_preprocess(pose["preprocess"], f"{path} pose"),
                simcc_split_ratio=float(pose.get("simcc_split_ratio", 2.0)),
                num_keypoints=int(pose.get("num_keypoints", 81)),
                layout=str(pose.get("layout", "df2-agg81")),
                bbox_padding=float(pose.get("bbox_padding", 1.25)),
                per_category={str(k): str(v) for k, v in _field(pose, "per_category", dict, where, {}).items()},
                category_output=_field(pose, "category_output", str, where, optional=True) or None,
                category_detector_weight=float(pose.get("category_detector_weight", 0.0)),
                keypoint_score_reference=float(pose.get("keypoint_score_reference", 1.0)),
                sideways_categories=tuple(int(c) for c in _field(pose, "sideways_categories", list, where, [])),
                turned_category_margin=float(pose.get("turned_category_margin", 0.0)),
            ),
            path=path,
            parent=_field(doc, "parent", str, str(path), optional=True),
            score_alpha=float(doc.get("score_alpha", training.get("score_alpha", 0.8))),
            training=dict(training),
            metrics=dict(_field(doc, "metrics", dict, str(path), {})),
            sha256={str(k): str(v) for k, v in _field(doc, "sha256", dict, str(path), {}).items()},
        )
    except ModelCardError:
        raise  # already names the file and the field
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelCardError(f"{path}: missing or malformed field: {exc}") from exc
    if not 0.0 <= card.detector.score_threshold <= 1.0:  # NaN fails too: every frame would come back empty
        raise ModelCardError(f"{path}: detector score_threshold must be between 0 and 1, "
                             f"got {card.detector.score_threshold}")
    if not 1.0 <= card.pose.bbox_padding <= 4.0:  # 0 gives NaN landmarks; under 1 crops inside the garment
        raise ModelCardError(f"{path}: pose bbox_padding must be between 1 and 4, got {card.pose.bbox_padding}")
    if not 0.0 < card.pose.simcc_split_ratio <= 16.0:
        raise ModelCardError(f"{path}: simcc_split_ratio must be in (0, 16], got {card.pose.simcc_split_ratio}")
    bad_keys = [k for k in card.pose.per_category if not (k.isdigit() and 1 <= int(k) <= card.detector.num_classes)]
    if bad_keys:
        raise ModelCardError(f"{path}: per_category keys must be category ids 1..{card.detector.num_classes}, "
                             f"got {bad_keys}")
    if not 0.0 < card.pose.keypoint_score_reference <= 1.0:
        raise ModelCardError(f"{path}: keypoint_score_reference must be in (0, 1], got {card.pose.keypoint_score_reference}")
    if any(not 1 <= c <= card.detector.num_classes for c in card.pose.sideways_categories):
        raise ModelCardError(f"{path}: sideways_categories must be category ids 1..{card.detector.num_classes}, "
                             f"got {list(card.pose.sideways_categories)}")
    if not 0.0 <= card.pose.turned_category_margin <= 1.0:
        raise ModelCardError(f"{path}: turned_category_margin must be between 0 and 1, "
                             f"got {card.pose.turned_category_margin}")
    if card.pose.category_detector_weight < 0.0:
        raise ModelCardError(f"{path}: category_detector_weight must be ≥ 0, got {card.pose.category_detector_weight}")
    if not 0.0 <= card.score_alpha <= 1.0:
        raise ModelCardError(f"{path}: score_alpha must be between 0 and 1, got {card.score_alpha}")
    files = [card.detector.file, card.pose.file, *card.pose.per_category.values()]
    for name in files:
        fpath = card.file_path(name)
        if not fpath.is_file():
            raise ModelCardError(f"{path}: model file {fpath} is missing")
        if verify_hashes:
            expected = card.sha256.get(name)
            if expected is None:
                raise ModelCardError(f"{path}: no sha256 recorded for {name}")
            actual = sha256_file(fpath)
            if actual != expected:
                raise ModelCardError(
                    f"{fpath} does not match its card (sha256 {actual[:12]}… != {expected[:12]}…): "
                    "the file is corrupt or was replaced"
                )
    return card
