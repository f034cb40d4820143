"""The network at most 30 Hz: a 60 fps clip is read every other frame and the frames between filled."""
from dataclasses import replace
from pathlib import Path

import numpy as np

from squat.pipeline import detect_poses, measure
from squat.settings import Settings
from squat.skeleton import J
from squat.track.rate import RateGate, fill_between

CLIP_60FPS = Path(__file__).parent / "data" / "pose2sim_cam01.mp4"  # a real person, 100 frames at 60 fps


def gate(times: np.ndarray, hz: float) -> np.ndarray:
    due = RateGate(hz)
    return np.array([due(t) for t in times])


def test_the_network_runs_at_most_network_hz():
    jitter = np.random.default_rng(0).uniform(-0.001, 0.001, 300)  # timestamps rounded to ms
    assert gate(np.arange(300) / 30 + jitter, 30).all()  # a 30 fps clip: every frame, despite jitter
    assert gate(np.arange(300) / 60, 30).sum() == 150  # 60 fps: every other frame
    assert gate(np.arange(300) / 60, 30)[::2].all()
    assert gate(np.arange(500) / 50, 30).sum() in (300, 301)  # 50 fps: 30 Hz on average
    assert gate(np.arange(480) / 240, 30).sum() in (60, 61)  # slow motion: every eighth
    assert gate(np.arange(60) / 60, 0).all()  # 0: every frame
    vfr = np.cumsum(np.r_[0, np.tile([1 / 60, 1 / 20], 20)])  # a phone's variable rate
    read = gate(vfr, 30)
    assert read[0] and read.sum() <= 30 * vfr[-1] + 1
    assert read.sum() >= len(vfr) - 2  # 30 fps on average: (nearly) every frame read


def test_frames_between_are_filled_from_both_neighbours():
    known_s = np.array([0.0, 0.1, 0.2, 0.3])
    values = np.array([[0.0, 1.0], [10.0, np.nan], [20.0, 3.0], [30.0, 4.0]], np.float32)
    all_s = np.array([0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.45])
    out = fill_between(values, known_s, all_s)
    assert out.shape == (9, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], [0, 5, 10, 15, 20, 25, 30, 30, np.nan])
    # a sample's own frame keeps it; between a missing one and another: missing
    np.testing.assert_allclose(out[:, 1], [1, np.nan, np.nan, np.nan, 3, 3.5, 4, 4, np.nan])
    assert np.isnan(fill_between(values, known_s, np.array([-0.2]))).all()  # beyond one period before
    assert fill_between(values[:0], known_s[:0], all_s).shape == (9, 2)  # nothing read: all missing
    keypoints = np.zeros((4, 18, 3), np.float32)
    assert fill_between(keypoints, known_s, all_s).shape == (9, 18, 3)


def test_a_60fps_clip_costs_half_the_network_and_keeps_every_frame():
    every = detect_poses(CLIP_60FPS, replace(Settings(), pose=replace(Settings().pose, network_hz=0)))
    half = detect_poses(CLIP_60FPS)
    assert len(every.detections) == len(every.time_s) == 100 and every.network_frames is None
    assert len(half.detections) == 50 and list(half.network_frames) == list(range(0, 100, 2))
    np.testing.assert_array_equal(half.time_s, every.time_s)
    a, b = measure(every), measure(half)
    assert len(b.keypoints) == len(b.frames) == 100
    assert abs(a.detected.mean() - b.detected.mean()) <= 0.03
    both = a.detected & b.detected
    for joint in ("r_knee", "r_hip", "r_ankle"):
        gap = np.hypot(*(a.keypoints[both, J[joint], :2] - b.keypoints[both, J[joint], :2]).T)
        assert np.nanmedian(gap) < 3  # px of a 960-line frame
