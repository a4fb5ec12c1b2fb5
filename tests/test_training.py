"""RTFPose modules, training samples, the SimCC round trip and that a few training steps learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_training_fixtures import SkirtSource, skirt_garment, skirt_scene

from app.training.data import DetectionDataset, PoseDataset, collate_pose
from app.training.detector import CenterNetDetector, DetectorConfig, detection_loss
from app.training.rtfpose import CSFF, GAU, MECS, SAFE, PoseConfig, RTFPose, lower_median, simcc_kl_loss
from app.training.samples import PoseAugment, pose_sample
from inference.annotation import Garment, Keypoint
from inference.preprocess import apply_affine, box_to_center_scale, crop_affine, decode_simcc, invert_affine
from inference.schema import deepfashion2

TINY_POSE = PoseConfig(input_size=(64, 64), widths=(8, 16, 32, 32), stem=8, fuse_channels=16, hidden=32, gau_s=16)
TINY_DET = DetectorConfig(input_size=(64, 64), widths=(8, 16, 16, 32), stem=8, neck=16, top_k=10)


def test_attention_and_fusion_modules_keep_shapes():
    torch.manual_seed(0)
    x = torch.randn(2, 24, 5, 7)
    assert MECS(24)(x).shape == x.shape
    assert SAFE(24)(x).shape == x.shape
    c3, c4, c5 = torch.randn(2, 8, 16, 12), torch.randn(2, 16, 8, 6), torch.randn(2, 32, 4, 3)
    assert CSFF((8, 16, 32), 20)(c3, c4, c5).shape == (2, 20, 8, 6)
    tokens = torch.randn(3, 81, 32)
    assert GAU(32, 16)(tokens).shape == tokens.shape


def test_safe_starts_as_identity_and_mecs_gates_within_input_range():
    x = torch.randn(1, 16, 4, 4)
    assert torch.equal(SAFE(16)(x), x)  # zero-initialised residual weight
    assert (MECS(16)(x).abs() <= x.abs() + 1e-6).all()  # sigmoid gates only scale down


@pytest.mark.parametrize("n", [5, 6, 49])
def test_lower_median_matches_torch(n):
    x = torch.randn(3, 4, n)
    assert torch.equal(lower_median(x, -1), x.median(dim=-1).values)


def test_pose_output_shapes_follow_the_contract():
    model = RTFPose(TINY_POSE).eval()
    sx, sy = model(torch.randn(3, 3, 64, 64))
    assert sx.shape == (3, 81, 128) and sy.shape == (3, 81, 128)


def test_simcc_targets_decode_back_to_the_original_image_points():
    size, split = (64, 64), 2.0
    garment = skirt_garment(100.0, 40.0, 50.0, 90.0, 120.0)
    center, scale = box_to_center_scale(garment.bbox, size, 1.25)
    matrix = crop_affine(center, scale, size)
    # Put the landmarks on exact SimCC bins in the crop, then express them in image pixels.
    crop_pts = np.array([[10.5, 8.0], [32.0, 8.0], [53.5, 8.0], [7.0, 25.5], [4.5, 58.0], [32.0, 58.5],
                         [59.5, 58.0], [57.0, 25.5]])
    image_pts = apply_affine(invert_affine(matrix), crop_pts)
    garment = Garment(9, garment.bbox, tuple(Keypoint(float(x), float(y)) for x, y in image_pts))
    image = np.zeros((200, 200, 3), np.uint8)
    sample = pose_sample(image, garment, size, 1.25, split, sigma=2.0)
    coords, _ = decode_simcc(sample["target_x"][None], sample["target_y"][None], split)
    slots = np.asarray(deepfashion2().category(9).agg81)
    back = apply_affine(invert_affine(sample["matrix"]), coords[0, slots])
    assert np.allclose(back, image_pts, atol=1e-9)
    assert sample["weight"].sum() == 8 and sample["weight"][slots].all()


def test_flipped_sample_mirrors_the_crop_and_swaps_left_and_right():
    image, (garment,) = skirt_scene(7)
    size = (64, 64)
    plain = pose_sample(image, garment, size, 1.25, 2.0, 2.0)
    no_jitter = PoseAugment(shift=0.0, scale=(1.0, 1.0), rotation_prob=0.0, full_turn_prob=0.0, flip_prob=1.0)
    rng = np.random.default_rng(0)
    flipped = pose_sample(image, garment, size, 1.25, 2.0, 2.0, rng=rng, aug=no_jitter)
    perm = deepfashion2().agg81_flip_index
    slots = np.asarray(deepfashion2().category(9).agg81)
    mirrored = plain["points"][perm].copy()
    mirrored[:, 0] = size[0] - mirrored[:, 0]
    assert np.allclose(flipped["points"][slots], mirrored[slots], atol=1e-4)
    assert np.array_equal(flipped["weight"], plain["weight"][perm])


def test_full_turn_rotation_keeps_targets_on_the_garment_points():
    image, (garment,) = skirt_scene(7)
    size = (64, 64)
    turn_only = PoseAugment(shift=0.0, scale=(1.0, 1.0), rotation_prob=0.0, full_turn_prob=1.0, flip_prob=0.0)
    slots = np.asarray(deepfashion2().category(9).agg81)
    angles = []
    for seed in range(6):
        sample = pose_sample(image, garment, size, 1.25, 2.0, 2.0, rng=np.random.default_rng(seed), aug=turn_only)
        back = apply_affine(invert_affine(sample["matrix"]), sample["points"][slots].astype(np.float64))
        local = np.array([[k.x, k.y] for k in garment.keypoints])
        assert np.allclose(back, local, atol=1e-3)  # the crop's targets are the garment's own points
        m = sample["matrix"]
        angles.append(np.degrees(np.arctan2(m[1, 0], m[0, 0])))
    assert max(np.abs(angles)) > 60  # full turns, not the small ±30° jitter


def _steps(model, batch, loss_fn, n=12, lr=3e-3):
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    for _ in range(n):
        loss = loss_fn(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def test_a_few_pose_steps_lower_the_masked_simcc_loss():
    torch.manual_seed(0)
    data = PoseDataset(SkirtSource(8), TINY_POSE, sigma=2.0, augment=False)
    batch = collate_pose([data[i] for i in range(len(data))])
    assert batch["weight"].sum() == 8 * 8  # only the skirt's 8 slots carry loss
    losses = _steps(RTFPose(TINY_POSE), batch,
                    lambda m, b: simcc_kl_loss(*m(b["crops"]), b["target_x"], b["target_y"], b["weight"]))
    assert losses[-1] < 0.8 * losses[0]


def test_a_few_detector_steps_lower_the_centernet_loss():
    torch.manual_seed(0)
    data = DetectionDataset(SkirtSource(6), TINY_DET, augment=True, seed=1)
    items = [data[i] for i in range(len(data))]
    batch = {k: torch.stack([it[k] for it in items]) for k in items[0]}
    assert batch["mask"].sum() == 6 and batch["heat"][:, 8].max() == 1.0  # skirt = class index 8
    losses = _steps(CenterNetDetector(TINY_DET), batch, lambda m, b: detection_loss(m(b["image"]), b)[0])
    assert losses[-1] < 0.7 * losses[0]


def test_category_head_learns_the_crop_category_alongside_the_keypoints():
    from app.training.trainer import pose_loss_fn

    torch.manual_seed(0)
    cfg = PoseConfig(**{**TINY_POSE.to_json(), "num_categories": 13})
    data = PoseDataset(SkirtSource(8), cfg, sigma=2.0, augment=False)
    batch = collate_pose([data[i] for i in range(len(data))])
    assert batch["category"].dtype == torch.int64 and set(batch["category"].tolist()) == {8}  # skirt = index 8
    model = RTFPose(cfg)
    sx, sy, logits = model(batch["crops"])
    assert logits.shape == (len(batch["crops"]), 13)
    ce = []

    def loss(m, b):
        total, parts = pose_loss_fn(m, b)
        ce.append(parts["ce"])
        return total

    _steps(model, batch, loss)
    assert ce[-1] < 0.5 * ce[0]
    model.eval()
    with torch.no_grad():
        assert (model(batch["crops"])[2].argmax(1) == 8).all()


def test_init_from_weights_keeps_the_trained_network_and_adds_a_fresh_head(tmp_path):
    from app.training.recipe import init_from_weights

    torch.manual_seed(0)
    plain = RTFPose(TINY_POSE)
    torch.save({"tag": "pose", "model": plain.state_dict()}, tmp_path / "pose.pt")
    headed = RTFPose(PoseConfig(**{**TINY_POSE.to_json(), "num_categories": 13}))
    messages = []
    init_from_weights(headed, tmp_path / "pose.pt", messages.append)
    assert torch.equal(headed.cls_x.weight, plain.cls_x.weight) and "new: category" in messages[0]
    torch.save({"tag": "other", "model": {"encoder.weight": torch.zeros(3)}}, tmp_path / "other.pt")
    with pytest.raises(RuntimeError, match="shares no weights"):
        init_from_weights(headed, tmp_path / "other.pt")


def test_weights_resampled_to_a_larger_input_keep_each_bin_at_its_place_in_the_garment():
    from app.training.rtfpose import resample_to_input_size

    small = PoseConfig(**{**TINY_POSE.to_json(), "input_size": (64, 64)})
    large = PoseConfig(**{**TINY_POSE.to_json(), "input_size": (96, 96)})
    weights = RTFPose(small).state_dict()
    bins = int(64 * small.simcc_split_ratio)
    # Hidden unit 0 votes for a bump at 30 % of the crop's width: after resampling it must still be at 30 %.
    bump = torch.exp(-0.5 * ((torch.arange(bins) - 0.3 * bins) / 3.0) ** 2)
    weights["cls_x.weight"] = torch.zeros_like(weights["cls_x.weight"])
    weights["cls_x.weight"][:, 0] = bump
    resampled = resample_to_input_size(weights, small, large)
    model = RTFPose(large)
    model.load_state_dict(resampled)  # strict: every tensor has the larger network's shape
    new_bins = int(96 * large.simcc_split_ratio)
    peak = int(resampled["cls_x.weight"][:, 0].argmax())
    assert abs(peak / new_bins - 0.3) <= 1.0 / new_bins
    assert resampled["cls_y.weight"].shape == (new_bins, large.hidden)
    # A keypoint map that is the same everywhere gives the same token on both sizes (within bilinear's edges).
    old_token, new_token = RTFPose(small), model
    old_token.load_state_dict(weights)
    flat_old = torch.ones(1, 1, (64 // 16) ** 2)
    flat_new = torch.ones(1, 1, (96 // 16) ** 2)
    with torch.no_grad():
        a, b = old_token.token(flat_old), new_token.token(flat_new)
    assert torch.allclose(a, b, rtol=0.05, atol=0.05 * float(a.abs().mean()))
    assert torch.equal(resampled["final_conv.weight"], weights["final_conv.weight"])  # convolutions carry over
    assert resample_to_input_size(weights, small, small).keys() == weights.keys()


def test_keypoint_score_reference_is_the_peak_of_the_training_target():
    from app.training.samples import simcc_peak_reference, simcc_targets

    tx, _ = simcc_targets(np.array([[64.0, 20.0]]), (128, 128), 2.0, 3.0)  # x = bin 128 of 256, the centre
    target = torch.softmax(torch.from_numpy(tx) * 10.0, dim=-1)
    assert float(target.max()) == pytest.approx(simcc_peak_reference(3.0, 256), rel=1e-5)
    assert simcc_peak_reference(2.0, 256) > simcc_peak_reference(3.0, 256)  # a sharper target: a higher peak
