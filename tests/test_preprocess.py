import numpy as np

from inference.preprocess import (
    apply_affine,
    box_to_center_scale,
    crop_affine,
    decode_simcc,
    invert_affine,
    letterbox,
    warp_crop,
)


def test_crop_affine_round_trips_sub_pixel_points():
    center, scale = box_to_center_scale((100.3, 50.7, 260.9, 400.1), (192, 256), 1.25)
    m = crop_affine(center, scale, (192, 256))
    pts = np.array([[120.37, 60.11], [250.5, 399.99], [center[0], center[1]]])
    crop_pts = apply_affine(m, pts)
    assert np.allclose(crop_pts[2], [96.0, 128.0])
    assert np.allclose(apply_affine(invert_affine(m), crop_pts), pts, atol=1e-9)


def test_crop_region_keeps_input_aspect_and_contains_the_box():
    center, scale = box_to_center_scale((0, 0, 300, 100), (192, 256), 1.25)
    assert np.isclose(scale[0] / scale[1], 192 / 256)
    assert scale[0] >= 300 * 1.25 and scale[1] >= 100 * 1.25


def test_warp_places_a_marked_pixel_where_the_affine_says():
    img = np.zeros((480, 640, 3), np.uint8)
    img[200, 300] = 255
    center, scale = box_to_center_scale((250, 150, 350, 250), (64, 64), 1.0)
    m = crop_affine(center, scale, (64, 64))
    crop = warp_crop(img, m, (64, 64))
    expected = apply_affine(m, np.array([[300.0, 200.0]]))[0]
    ys, xs = np.nonzero(crop[..., 0])
    weights = crop[ys, xs, 0].astype(float)
    assert np.allclose([np.average(xs, weights=weights), np.average(ys, weights=weights)], expected, atol=0.3)


def test_letterbox_scale_maps_back_to_image():
    img = np.zeros((480, 640, 3), np.uint8)
    boxed, lb = letterbox(img, (320, 320))
    assert boxed.shape == (320, 320, 3) and np.isclose(lb.scale, 0.5)
    assert np.allclose(lb.to_image(np.array([[160.0, 120.0]])), [[320.0, 240.0]])
    assert (boxed[240:, :] == 114).all()


def test_decode_simcc_keeps_the_sub_bin_position_of_a_peak():
    # Logits shaped like the training target (a Gaussian of 4 bins, sharpened ×10), centred between bins.
    bins = np.arange(256, dtype=np.float64)
    centres = np.array([100.3, 37.75, 0.0, 255.0, 128.5])
    logits = 10.0 * np.exp(-((bins[None] - centres[:, None]) ** 2) / (2 * 4.0**2))
    coords, _ = decode_simcc(logits[None], logits[None], 2.0)
    assert np.abs(coords[0, :, 0] * 2.0 - centres).max() < 0.05  # argmax alone would be up to 0.5 bin off
    assert coords[0, 2, 0] == 0.0 and coords[0, 3, 0] == 127.5  # a peak on the last bin is not pulled inward
    assert np.allclose(coords[0, :, 0], coords[0, :, 1])


def test_decode_simcc_finds_peaks_and_scales_by_split():
    sx = np.full((1, 2, 384), -10.0, np.float32)
    sy = np.full((1, 2, 512), -10.0, np.float32)
    sx[0, 0, 101], sy[0, 0, 37] = 10.0, 10.0
    sx[0, 1, 5], sy[0, 1, 500] = 10.0, 10.0
    coords, scores = decode_simcc(sx, sy, 2.0)
    assert np.allclose(coords[0], [[50.5, 18.5], [2.5, 250.0]])
    assert (scores > 0.9).all()
