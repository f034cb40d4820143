"""Frames in, people out: letterboxing, preprocessing and mapping back to frame pixels."""
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from squat.pose.estimator import (
    PAD_VALUE,
    STRIDE,
    fit,
    letterbox,
    load_estimator,
    normalise,
    scaled_box,
    to_grid,
)
from squat.settings import PoseSettings
from squat.skeleton import J

DATA = Path(__file__).parent / "data"


def test_letterbox_keeps_the_aspect_ratio_and_pads_right_and_bottom_to_the_stride():
    image = np.full((1920, 1080, 3), 50, np.uint8)  # portrait phone frame
    box = fit(image.shape[:2], 432)
    assert box.height == 432 and box.width % 8 == 0
    assert box.width == pytest.approx(1080 * 432 / 1920, abs=8)
    canvas = letterbox(image, box)
    assert canvas.shape == (box.height, box.width, 3)
    assert (canvas[:, : round(1080 * box.scale)] == 50).all()
    assert (canvas[:, round(1080 * box.scale):] == PAD_VALUE).all()


def test_network_input_pixels_map_back_to_frame_pixels():
    box = fit((1080, 1920), 480)  # scale 0.25
    corners = np.array([[[-0.5, -0.5, 1.0], [479.5, 269.5, 1.0]]], np.float32)
    np.testing.assert_allclose(box.to_frame(corners)[0, :, :2], [[-0.5, -0.5], [1919.5, 1079.5]])


def test_each_weight_file_gets_its_own_preprocessing():
    pixel = np.array([[[[255, 128, 0]]]], np.uint8)  # B, G, R
    np.testing.assert_allclose(normalise(pixel, "bgr_raw")[0, :, 0, 0], [255, 128, 0])
    np.testing.assert_allclose(normalise(pixel, "bgr_caffe")[0, :, 0, 0], [255 / 256 - 0.5, 0.0, -0.5])
    rgb = normalise(pixel, "rgb_imagenet")[0, :, 0, 0]  # channels now R, G, B
    np.testing.assert_allclose(rgb, [(0 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, (1 - 0.406) / 0.225],
                               rtol=1e-5)


def test_the_model_is_loaded_once_per_process():
    assert load_estimator(PoseSettings()).model is load_estimator(PoseSettings(long_side=656)).model


def test_joints_land_on_the_same_body_parts_whatever_the_frame_size():
    """The footballer found in a frame and in the same frame at 3× size: same joints, scaled by 3."""
    small = cv2.imread(str(DATA / "golden_messi5_192x120.png"))
    large = cv2.resize(small, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    estimator = load_estimator(PoseSettings(long_side=432))
    (a,), (b,) = estimator.detect([small]), estimator.detect([large])
    person_a, person_b = a.keypoints[0], b.keypoints[0]
    compared = [joint for joint in ("neck", "r_shoulder", "l_shoulder", "r_hip", "l_hip", "r_knee", "l_knee")
                if np.isfinite(person_a[J[joint], 0]) and np.isfinite(person_b[J[joint], 0])]
    assert len(compared) >= 4
    for joint in compared:
        j = J[joint]
        # Pixel centres: x_large = 3 x_small + 1; a joint within ~2 small-frame pixels.
        np.testing.assert_allclose(person_b[j, :2], 3 * person_a[j, :2] + 1, atol=6, err_msg=joint)
    assert np.isfinite(person_b[:, 0]).sum() >= 8


def test_maps_of_another_scale_land_on_the_same_frame_points():
    """A map holding each cell's frame x, resampled from 1.25× and 0.8× onto the 1.0 grid, holds the 1.0 cells' x."""
    box = fit((1080, 1920), 432)
    for factor in (0.8, 1.25):
        source = scaled_box((1080, 1920), box, factor)
        assert source.scale == pytest.approx(box.scale * factor)
        x = (STRIDE * np.arange(source.width // STRIDE) + STRIDE / 2) / source.scale - 0.5
        maps = np.broadcast_to(x, (1, 2, source.height // STRIDE, x.size)).astype(np.float32)
        out = to_grid(maps, source, box)
        assert out.shape == (1, 2, box.height // STRIDE, box.width // STRIDE)
        expected = (STRIDE * np.arange(box.width // STRIDE) + STRIDE / 2) / box.scale - 0.5
        np.testing.assert_allclose(out[0, 0, 0, 1:-1], expected[1:-1], rtol=1e-5)


def test_multi_scale_maps_are_a_plain_mean_on_the_single_scale_grid():
    image = cv2.resize(cv2.imread(str(DATA / "golden_messi5_192x120.png")), None, fx=3, fy=3,
                       interpolation=cv2.INTER_CUBIC)
    single = load_estimator(PoseSettings(long_side=432))
    hm, paf, box = single.maps([image])
    same = load_estimator(replace(single.settings, scale_factors=(1.0,))).maps([image])
    twice = load_estimator(replace(single.settings, scale_factors=(1.0, 1.0))).maps([image])
    np.testing.assert_array_equal(same[0], hm)
    np.testing.assert_array_equal(same[1], paf)
    np.testing.assert_array_equal(twice[0], hm)  # the mean of two equal passes is that pass, not 1.5× it
    np.testing.assert_array_equal(twice[1], paf)
    multi = load_estimator(replace(single.settings, scale_factors=(0.8, 1.0, 1.25)))
    mhm, mpaf, mbox = multi.maps([image])
    assert mhm.shape == hm.shape and mpaf.shape == paf.shape and mbox == box


def test_multi_scale_finds_the_same_joints():
    image = cv2.resize(cv2.imread(str(DATA / "golden_messi5_192x120.png")), None, fx=3, fy=3,
                       interpolation=cv2.INTER_CUBIC)
    settings = PoseSettings(long_side=432)
    (a,) = load_estimator(settings).detect([image])
    (b,) = load_estimator(replace(settings, scale_factors=(0.8, 1.0, 1.25))).detect([image])
    person_a, person_b = a.keypoints[0], b.keypoints[0]
    compared = [j for j in range(person_a.shape[0])
                if np.isfinite(person_a[j, 0]) and np.isfinite(person_b[j, 0])]
    assert len(compared) >= 10
    # ~1 network-input pixel is 1.33 frame pixels here; joints within ~4 input pixels.
    np.testing.assert_allclose(person_b[compared, :2], person_a[compared, :2], atol=6)


def test_flipped_maps_are_the_mirror_of_the_frames_own_with_left_and_right_exchanged():
    """With test-time flipping, a mirrored frame's maps are the frame's maps mirrored: heatmap
    channels swap left for right, limb fields swap and their x component changes sign. (432×270
    fills the input exactly, so no padding breaks the mirror symmetry.)"""
    from squat.pose.estimator import unmirror_heatmaps, unmirror_pafs

    image = cv2.resize(cv2.imread(str(DATA / "golden_messi5_192x120.png")), (432, 272), interpolation=cv2.INTER_CUBIC)
    flip = load_estimator(PoseSettings(long_side=432, flip=True))
    hm, paf, _ = flip.maps([image])
    mhm, mpaf, _ = flip.maps([np.ascontiguousarray(image[:, ::-1])])
    np.testing.assert_allclose(unmirror_heatmaps(mhm), hm, atol=1e-4)
    np.testing.assert_allclose(unmirror_pafs(mpaf), paf, atol=1e-4)
    # Unmirroring twice is the identity, and the flipped reading finds the same joints.
    np.testing.assert_array_equal(unmirror_pafs(unmirror_pafs(paf)), paf)
    (plain,), (flipped,) = load_estimator(PoseSettings(long_side=432)).detect([image]), flip.detect([image])
    a, b = plain.keypoints[0], flipped.keypoints[0]
    both = np.isfinite(a[:, 0]) & np.isfinite(b[:, 0])
    assert both.sum() >= 10
    np.testing.assert_allclose(b[both, :2], a[both, :2], atol=4)


def test_a_batch_gives_each_frame_the_maps_it_gets_alone_and_half_precision_stays_close():
    image = cv2.imread(str(DATA / "golden_messi5_192x120.png"))
    other = cv2.flip(image, 1)
    estimator = load_estimator(PoseSettings(long_side=256))
    together, _, _ = estimator.maps([image, other])
    alone, _, _ = estimator.maps([other])
    np.testing.assert_allclose(together[1], alone[0], atol=1e-4)
    half, _, _ = load_estimator(PoseSettings(long_side=256, precision="half")).maps([image])
    assert half.dtype == np.float32 and half.shape == alone.shape
    assert np.abs(half[0] - together[0]).max() < 0.25  # bf16 moves the maps (docs/speed-log.md §5)
