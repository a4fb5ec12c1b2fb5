"""Small, real ONNX graphs that satisfy the model contract, for tests and for benchmarking without weights.

They compute their outputs from the input pixels, so the whole runtime path (letterbox, batched crops,
SimCC decode, inverse affine) can be checked against known geometry:

- detector: the input is cut into ``stripes`` vertical bands; in each band, the box of the bright pixels
  (mean of R, G, B > 150 on 0..255) is one detection with score 0.9 (0 for an empty band). The class index
  is ``floor(mean red of those pixels * 13 / 256)``, so a garment's red value chooses its category.
  Letterbox padding (114) is below the threshold and never detected.
- pose: a 1×1 convolution scores "red marker" pixels (R - (G + B) / 2, rectified); the SimCC logits of all
  81 landmarks are the column / row maxima of that response, at ``split`` bins per pixel. A red dot in a
  crop therefore decodes to its own crop position, with a score near 1; a crop without a dot scores low.
- pose with ``row_ramp=(top, bottom)``: the marker response is weighed by a factor going linearly from
  ``top`` on the crop's first row to ``bottom`` on its last, so a dot low in the crop reads surer than the
  same dot high up: a stand-in for a network that knows which way up a garment lies (orientation check).
- pose with ``category_head``: a third output ``category_logits`` [B, 13] read from a green "tag" patch in
  the crop: the crop's maximum of G - (R + B) / 2 selects class ``floor((level - 128) · 13 / 128)``
  (``draw_category_tag``), so a test can make the crop classifier disagree with the detector.

Needs the ``onnx`` package (dev/train extras); the runtime itself never imports this module.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from inference.model_card import CARD_FORMAT, sha256_file

OPSET = 17
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
FOREGROUND_LEVEL = 150.0
MARKER_GAIN = 0.2  # logit per unit of marker response: a full red dot gives a peak logit of 51
NUM_AGG = 81
NUM_CATEGORIES = 13


def _const(name: str, value, dtype=np.float32):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def build_detector(input_size=(320, 320), stripes: int = 5, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """Detector graph: image [1,3,H,W] → dets [1,stripes,6], sorted by score."""
    from onnx import TensorProto, helper

    w, h = input_size
    if w % stripes:
        raise ValueError(f"input width {w} must be divisible by stripes {stripes}")
    band = w // stripes
    k = stripes
    node = helper.make_node
    inits = [
        _const("std", np.reshape(std, (1, 3, 1, 1))),
        _const("mean", np.reshape(mean, (1, 3, 1, 1))),
        _const("level", FOREGROUND_LEVEL),
        _const("bands_shape", [1, h, k, band], np.int64),
        _const("band_offset", (np.arange(k) * band)[None], np.int64),
        _const("one_i", 1, np.int64),
        _const("red_index", 0, np.int64),
        _const("sum_axes", [1, 3], np.int64),
        _const("eps", 1e-6),
        _const("class_per_level", 13.0 / 256.0),
        _const("max_class", 12.0),
        _const("det_score", 0.9),
        _const("k", [k], np.int64),
        _const("axis2", [2], np.int64),
        _const("axis0", [0], np.int64),
    ]
    nodes = [
        node("Mul", ["image", "std"], ["scaled"]),
        node("Add", ["scaled", "mean"], ["raw"]),
        node("ReduceMean", ["raw"], ["gray"], axes=[1], keepdims=0),
        node("Greater", ["gray", "level"], ["fg_bool"]),
        node("Cast", ["fg_bool"], ["fg"], to=TensorProto.FLOAT),
        node("Reshape", ["fg", "bands_shape"], ["fg_bands"]),
        node("ReduceMax", ["fg_bands"], ["col_profile"], axes=[1], keepdims=0),  # [1,K,band]
        node("ReduceMax", ["fg_bands"], ["row_profile_hk"], axes=[3], keepdims=0),  # [1,H,K]
        node("Transpose", ["row_profile_hk"], ["row_profile"], perm=[0, 2, 1]),  # [1,K,H]
        node("ArgMax", ["col_profile"], ["x_first"], axis=2, keepdims=0),
        node("ArgMax", ["col_profile"], ["x_last"], axis=2, keepdims=0, select_last_index=1),
        node("ArgMax", ["row_profile"], ["y_first"], axis=2, keepdims=0),
        node("ArgMax", ["row_profile"], ["y_last"], axis=2, keepdims=0, select_last_index=1),
        node("Add", ["x_first", "band_offset"], ["x1_i"]),
        node("Add", ["x_last", "band_offset"], ["x2_i0"]),
        node("Add", ["x2_i0", "one_i"], ["x2_i"]),
        node("Add", ["y_last", "one_i"], ["y2_i"]),
        node("ReduceMax", ["col_profile"], ["present"], axes=[2], keepdims=0),  # [1,K] 0 or 1
        node("Mul", ["present", "det_score"], ["score"]),
        # Class from the mean red level of the band's foreground pixels.
        node("Gather", ["raw", "red_index"], ["red"], axis=1),  # [1,H,W]
        node("Mul", ["red", "fg"], ["red_fg"]),
        node("Reshape", ["red_fg", "bands_shape"], ["red_bands"]),
        node("ReduceSum", ["red_bands", "sum_axes"], ["red_sum"], keepdims=0),
        node("ReduceSum", ["fg_bands", "sum_axes"], ["fg_count"], keepdims=0),
        node("Add", ["fg_count", "eps"], ["fg_count_safe"]),
        node("Div", ["red_sum", "fg_count_safe"], ["red_mean"]),
        node("Mul", ["red_mean", "class_per_level"], ["class_raw"]),
        node("Min", ["class_raw", "max_class"], ["class_clip"]),
        node("Floor", ["class_clip"], ["class_index"]),
    ]
    columns = []
    for name in ("x1_i", "y_first", "x2_i", "y2_i"):
        nodes.append(node("Cast", [name], [name + "_f"], to=TensorProto.FLOAT))
        columns.append(name + "_f")
    columns += ["score", "class_index"]
    for name in columns:
        nodes.append(node("Unsqueeze", [name, "axis2"], [name + "_c"]))
    nodes += [
        node("Concat", [c + "_c" for c in columns], ["dets_unsorted"], axis=2),
        node("TopK", ["score", "k"], ["_top_scores", "order2d"], axis=1, largest=1, sorted=1),
        node("Squeeze", ["order2d", "axis0"], ["order"]),
        node("Gather", ["dets_unsorted", "order"], ["dets"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "contract_detector",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, h, w])],
        [helper.make_tensor_value_info("dets", TensorProto.FLOAT, [1, k, 6])],
        inits,
    )
    return _model(graph)


TAG_BASE = 128.0  # tag levels 128..255 carry the class; garments and background stay below
TAG_GAIN = 0.5  # logit per level away from a class centre (adjacent classes ~5 logits apart)


def build_pose(
    input_size=(192, 256),
    split: int = 2,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    category_head: bool = False,
    row_ramp: tuple[float, float] | None = None,
):
    """Pose graph: crops [B,3,H,W] → simcc_x [B,81,W*split], simcc_y [B,81,H*split] (dynamic B)
    (+ category_logits [B,13] with ``category_head``)."""
    from onnx import TensorProto, helper

    w, h = input_size
    # Marker response on raw 0..255 RGB is R - G/2 - B/2; folded into the normalised input.
    raw_weights = np.array([1.0, -0.5, -0.5])
    conv_w = (raw_weights * np.asarray(std)).reshape(1, 3, 1, 1)
    conv_b = np.array([float(np.dot(raw_weights, mean))])
    node = helper.make_node
    inits = [
        _const("marker_w", conv_w),
        _const("marker_b", conv_b),
        _const("gain", MARKER_GAIN),
        _const("zero", 0.0),
        _const("gap_logit", -30.0),  # the bins between pixel centres never win
        _const("axis3", [3], np.int64),
        _const("flat_shape", [0, 1, -1], np.int64),
        _const("expand_shape", [1, NUM_AGG, 1], np.int64),
    ]
    nodes = [
        node("Conv", ["crops", "marker_w", "marker_b"], ["response_raw"], kernel_shape=[1, 1]),
        node("Relu", ["response_raw"], ["response_pos"]),
        node("Mul", ["response_pos", "gain"], ["response_flat" if row_ramp else "response"]),
    ]
    if row_ramp is not None:
        inits.append(_const("row_ramp", np.linspace(row_ramp[0], row_ramp[1], h).reshape(1, 1, h, 1)))
        nodes.append(node("Mul", ["response_flat", "row_ramp"], ["response"]))
    for axis_name, reduce_axis in (("x", 2), ("y", 3)):
        p = f"{axis_name}_"
        nodes += [
            node("ReduceMax", ["response"], [p + "profile"], axes=[reduce_axis], keepdims=0),  # [B,1,L]
            node("Unsqueeze", [p + "profile", "axis3"], [p + "col"]),  # [B,1,L,1]
            node("Mul", [p + "col", "zero"], [p + "zeros"]),
            node("Add", [p + "zeros", "gap_logit"], [p + "gap"]),
            node("Concat", [p + "col"] + [p + "gap"] * (split - 1), [p + "bins"], axis=3),
            node("Reshape", [p + "bins", "flat_shape"], [p + "flat"]),  # [B,1,L*split]
            node("Expand", [p + "flat", "expand_shape"], [f"simcc_{axis_name}"]),
        ]
    outputs = [
        helper.make_tensor_value_info("simcc_x", TensorProto.FLOAT, ["batch", NUM_AGG, w * split]),
        helper.make_tensor_value_info("simcc_y", TensorProto.FLOAT, ["batch", NUM_AGG, h * split]),
    ]
    if category_head:
        tag_weights = np.array([-0.5, 1.0, -0.5])
        centres = TAG_BASE + (np.arange(NUM_CATEGORIES) + 0.5) * (256.0 - TAG_BASE) / NUM_CATEGORIES
        inits += [
            _const("tag_w", (tag_weights * np.asarray(std)).reshape(1, 3, 1, 1)),
            _const("tag_b", np.array([float(np.dot(tag_weights, mean))])),
            _const("tag_centres", centres[None]),
            _const("tag_gain", -TAG_GAIN),
        ]
        nodes += [
            node("Conv", ["crops", "tag_w", "tag_b"], ["tag_response"], kernel_shape=[1, 1]),  # [B,1,H,W]
            node("ReduceMax", ["tag_response"], ["tag_level"], axes=[2, 3], keepdims=0),  # [B,1]
            node("Sub", ["tag_level", "tag_centres"], ["tag_delta"]),  # [B,13]
            node("Abs", ["tag_delta"], ["tag_distance"]),
            node("Mul", ["tag_distance", "tag_gain"], ["category_logits"]),
        ]
        outputs.append(helper.make_tensor_value_info("category_logits", TensorProto.FLOAT, ["batch", NUM_CATEGORIES]))
    graph = helper.make_graph(
        nodes, "contract_pose", [helper.make_tensor_value_info("crops", TensorProto.FLOAT, ["batch", 3, h, w])],
        outputs, inits,
    )
    return _model(graph)


def _model(graph):
    from onnx import checker, helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # readable by every onnxruntime >= 1.17
    checker.check_model(model)
    return model


def write_contract_model(
    folder: str | Path,
    detector_size=(320, 320),
    pose_size=(192, 256),
    split: int = 2,
    per_category: dict[int, str] | None = None,
    name: str = "contract-test",
    category_head: bool = False,
    category_detector_weight: float = 0.0,
    row_ramp: tuple[float, float] | None = None,
    sideways_categories: tuple[int, ...] = (),
) -> Path:
    """Write detector.onnx, pose.onnx (+ per-category copies) and a valid model_card.json; return the card."""
    import onnx

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(build_detector(detector_size), str(folder / "detector.onnx"))
    pose = build_pose(pose_size, split, category_head=category_head, row_ramp=row_ramp)
    onnx.save(pose, str(folder / "pose.onnx"))
    files = ["detector.onnx", "pose.onnx"]
    for file in (per_category or {}).values():
        onnx.save(pose, str(folder / file))
        files.append(file)
    preprocess = {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "channel_order": "RGB"}
    card = {
        "format": CARD_FORMAT,
        "name": name,
        "version": "0.0.1",
        "detector": {
            "file": "detector.onnx",
            "preprocess": {"input_size": list(detector_size), **preprocess},
            "num_classes": 13,
            "score_threshold": 0.3,
        },
        "pose": {
            "file": "pose.onnx",
            "preprocess": {"input_size": list(pose_size), **preprocess},
            "simcc_split_ratio": float(split),
            "num_keypoints": NUM_AGG,
            "layout": "df2-agg81",
            "bbox_padding": 1.25,
            "per_category": {str(k): v for k, v in (per_category or {}).items()},
            "category_output": "category_logits" if category_head else None,
            "category_detector_weight": category_detector_weight,
            "sideways_categories": list(sideways_categories),
        },
        "training": {"note": "hand-built contract graphs (inference/contract_models.py), no training"},
        "metrics": {},
        "sha256": {f: sha256_file(folder / f) for f in files},
    }
    path = folder / "model_card.json"
    path.write_text(json.dumps(card, indent=2), encoding="utf-8")
    return path


def garment_colour(category_id: int) -> tuple[int, int, int]:
    """A BGR colour the contract detector reads as ``category_id`` (bright, red level in the class's bin)."""
    red = int((category_id - 1) * 256 / 13 + 256 / 26)  # middle of the class's red bin
    return (255, 255, min(red, 255))


def draw_category_tag(image, x: int, y: int, category_id: int, half: int = 3) -> None:
    """A green patch the contract pose graph's category head reads as ``category_id`` (centre of its bin)."""
    level = int(TAG_BASE + (category_id - 0.5) * (256.0 - TAG_BASE) / NUM_CATEGORIES)
    image[max(y - half, 0) : y + half + 1, max(x - half, 0) : x + half + 1] = (0, level, 0)


MARKER_BGR = (0, 0, 255)
MARKER_HALO_BGR = (0, 0, 128)


def draw_marker(image, x: int, y: int) -> None:
    """A red dot with a half-red halo, so it still peaks at (x, y) after the crop's bilinear resampling."""
    h, w = image.shape[:2]
    for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        if 0 <= x + dx < w and 0 <= y + dy < h:
            image[y + dy, x + dx] = MARKER_HALO_BGR
    image[y, x] = MARKER_BGR
