"""The network at most network_hz (15 Hz): a 60 fps clip is read every fourth frame and the frames between filled."""
from dataclasses import replace
from pathlib import Path

import numpy as np

from squat.io.video import probe
from squat.pipeline import load_estimator, measure
from squat.reading import read_clip, scout
from squat.settings import Settings
from squat.skeleton import J
from squat.track.rate import RateGate, fill_between, fill_smoothly

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


def test_the_plate_is_filled_along_its_turns_not_across_them():
    # The bar's height through a rep's bottom (a parabola), read at 15 Hz and filled at 60 fps:
    # the cubic follows the turn, where straight lines cut its corner.
    known_s, all_s = np.arange(16) / 15, np.arange(61) / 60
    height = lambda t: 0.3 * (t - 0.5) ** 2  # noqa: E731
    values = np.stack([np.zeros_like(known_s), height(known_s), np.full_like(known_s, 20)], axis=1).astype(np.float32)
    smooth, straight = fill_smoothly(values, known_s, all_s), fill_between(values, known_s, all_s)
    assert np.abs(smooth[:, 1] - height(all_s)).max() < 1e-5 < np.abs(straight[:, 1] - height(all_s)).max()
    np.testing.assert_allclose(smooth[::4], values, atol=1e-6)  # every read frame keeps its sample
    values[[3, 9, 10]] = np.nan  # a missed frame and a gap: NaN where the line would be, as fill_between
    smooth = fill_smoothly(values, known_s, all_s)
    np.testing.assert_array_equal(np.isnan(smooth), np.isnan(fill_between(values, known_s, all_s)))
    assert np.abs(smooth[44:, 1] - height(all_s[44:])).max() < 1e-3  # the run of five after the gap: cubic


def test_a_60fps_clip_costs_a_quarter_of_the_network_and_keeps_every_frame():
    settings = Settings()
    estimator = load_estimator(settings.pose)
    looked = scout(CLIP_60FPS, probe(CLIP_60FPS), settings, estimator)  # one first look for both passes
    every = read_clip(CLIP_60FPS, replace(settings, pose=replace(settings.pose, network_hz=0)), None, estimator, looked)
    quarter = read_clip(CLIP_60FPS, settings, None, estimator, looked)
    assert settings.pose.network_hz == 15
    assert len(every.detections) == len(every.time_s) == 100 and every.network_frames is None
    assert len(quarter.detections) == 25 and list(quarter.network_frames) == list(range(0, 100, 4))
    np.testing.assert_array_equal(quarter.time_s, every.time_s)
    a, b = measure(every), measure(quarter)
    assert len(b.keypoints) == len(b.frames) == 100
    assert abs(a.detected.mean() - b.detected.mean()) <= 0.03
    both = a.detected & b.detected
    for joint in ("r_knee", "r_hip", "r_ankle"):
        gap = np.hypot(*(a.keypoints[both, J[joint], :2] - b.keypoints[both, J[joint], :2]).T)
        # px of a 960-line frame. This person steps about (not a squat's planted feet): the ankle,
        # the fastest joint, is 4.6 px from the every-frame reading at 15 Hz, 1.3 at 30 (accuracy log §26).
        assert np.nanmedian(gap) < 6
