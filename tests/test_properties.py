"""Property tests (issue 17): the series, tracking-filter and bar-speed functions take any series a
clip can give (empty, one sample, all NaN, NaN runs, constant, extreme values, uneven frame times),
the lifter's tracking any detections, and the body, kinematics and reps any lifter track; each
returns its documented shape without raising."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from squat.measure.bar_speed import REP_SPEED_COLUMNS, bar_height_m, bar_velocity, measure_bar_speed, velocity_loss_pct
from squat.measure.body import measure_body
from squat.measure.kinematics import compute_kinematics
from squat.measure.reps import REP_COLUMNS, segment_reps
from squat.pose.detections import Detections
from squat.series import fill_gaps, true_runs
from squat.settings import KinematicsSettings, TrackingSettings
from squat.skeleton import N_JOINTS
from squat.track.lifter import select_lifter
from squat.track.rate import fill_between
from squat.track.smoothing import butterworth, smooth_track

FAST = settings(max_examples=60, deadline=None)
values = st.one_of(st.just(np.nan), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))


@st.composite
def series(draw, min_size: int = 0, max_size: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """(time_s, values): increasing frame times 1/240-1/10 s apart, values with NaN runs."""
    n = draw(st.integers(min_size, max_size))
    steps = draw(arrays(np.float64, n, elements=st.floats(1 / 240, 1 / 10)))
    y = draw(arrays(np.float64, n, elements=values))
    if n and draw(st.booleans()):  # a run of NaN, as where a plate or a person is hidden
        a = draw(st.integers(0, n - 1))
        y[a : a + draw(st.integers(1, n))] = np.nan
    return np.cumsum(steps), y


@FAST
@given(series(), st.floats(0.0, 1.0), st.booleans())
def test_fill_gaps_keeps_what_was_seen_and_the_length(data, max_gap, hold_edges):
    t, y = data
    out = fill_gaps(y, t, max_gap, hold_edges)
    assert out.shape == y.shape and out.dtype == np.float64
    seen = np.isfinite(y)
    np.testing.assert_array_equal(out[seen], y[seen])


@FAST
@given(arrays(np.bool_, st.integers(0, 200)))
def test_true_runs_cover_exactly_the_true_samples(mask):
    starts, stops = true_runs(mask)
    rebuilt = np.zeros(len(mask), bool)
    for a, b in zip(starts, stops):
        assert a < b
        rebuilt[a:b] = True
    np.testing.assert_array_equal(rebuilt, mask)


@FAST
@given(series())
def test_butterworth_returns_the_series_shape_and_nan_where_it_was_nan(data):
    t, y = data
    out = butterworth(y, t, TrackingSettings())
    assert out.shape == y.shape
    assert np.isnan(out[np.isnan(y)]).all()


@FAST
@given(series(min_size=1), st.integers(1, 4))
def test_fill_between_gives_every_frame_a_value_or_nan(data, every):
    t, y = data
    known = np.arange(0, len(t), every)
    out = fill_between(y[known], t[known], t)
    assert out.shape == (len(t),)
    np.testing.assert_array_equal(out[known][np.isfinite(y[known])], y[known][np.isfinite(y[known])])


@FAST
@given(series(), st.one_of(st.just(np.nan), st.floats(-10, 1e4)), st.integers(0, 3))
@example((np.zeros(0), np.zeros(0)), np.nan, 1)  # a rep row on a clip of no frame: it raised
@example((np.arange(1, 31) / 30, np.full(30, 5.0)), 1e-300, 1)  # a scale of no size: it overflowed
def test_bar_speed_takes_any_plate_track(data, px_per_m, n_reps):
    t, y = data
    plate = np.column_stack([np.full(len(t), 500.0), y, np.full(len(t), 90.0)])
    height = bar_height_m(plate, t, px_per_m)
    velocity = bar_velocity(height, t)
    assert height.shape == velocity.shape == (len(t),)
    assert np.isnan(velocity[np.isnan(height)]).all()
    rng = np.random.default_rng(len(t))
    frames = np.sort(rng.integers(0, max(len(t), 1), (n_reps, 3)), axis=1)
    reps = pd.DataFrame(frames, columns=["start_frame", "bottom_frame", "end_frame"]).assign(rep=range(1, n_reps + 1))
    speed = measure_bar_speed(plate, t, px_per_m, reps)
    assert len(speed.frames) == len(t) and len(speed.reps) == n_reps
    assert set(speed.reps.columns) >= {"rep", "mcv_ms", "velocity_loss_pct"}
    assert set(REP_SPEED_COLUMNS) >= set(speed.reps.columns) - {"velocity_loss_pct"}


@FAST
@given(arrays(np.float64, st.integers(0, 10), elements=values))
def test_velocity_loss_is_a_share_of_the_fastest_or_nan(mcv):
    loss = velocity_loss_pct(mcv)
    finite = mcv[np.isfinite(mcv)]
    if len(finite) < 2 or finite.max() <= 0:
        assert np.isnan(loss)
    else:
        assert loss == 100 * (finite.max() - finite[-1]) / finite.max()


@st.composite
def detections(draw, max_frames: int = 40) -> tuple[list, np.ndarray]:
    """Per frame 0-3 people with any of their 18 joints missing, anywhere in a 640x360 frame."""
    n = draw(st.integers(0, max_frames))
    frames = []
    for _ in range(n):
        people = draw(st.integers(0, 3))
        xy = draw(arrays(np.float32, (people, N_JOINTS, 2), elements=st.floats(-50, 700, width=32)))
        conf = draw(arrays(np.float32, (people, N_JOINTS, 1), elements=st.floats(0, 1, width=32)))
        kp = np.concatenate([xy, conf], axis=2)
        kp[draw(arrays(np.bool_, (people, N_JOINTS)))] = np.nan
        frames.append(Detections(kp, np.ones(people, np.float32)))
    return frames, np.arange(n) / 30.0


@FAST
@given(detections())
def test_the_lifter_and_the_smoothed_track_take_any_detections(data):
    frames, t = data
    raw = select_lifter(frames, t, 640, 360, TrackingSettings())
    assert raw.shape == (len(frames), N_JOINTS, 3)
    smoothed = smooth_track(raw, t, TrackingSettings())
    assert smoothed.shape == raw.shape


# A side-on lifter standing (pixels, y down), joint by joint in COCO-18 order: what the squat below moves.
STANDING = np.array([[300, 100], [300, 130], [300, 130], [310, 180], [320, 220], [300, 130], [310, 180],
                     [320, 220], [300, 240], [310, 330], [300, 420], [300, 240], [310, 330], [300, 420],
                     [305, 95], [305, 95], [295, 100], [295, 100]], np.float64)


@st.composite
def lifter_tracks(draw, max_frames: int = 90) -> tuple[np.ndarray, np.ndarray]:
    """(keypoints (F, 18, 3), time_s): a lifter squatting 0-3 times, or standing still, at any
    scale and place (a phone's 160 px to an 8K frame, far off the frame), with joints and whole
    frames missing in runs, and now and then any values at all."""
    n = draw(st.integers(1, max_frames))
    t = np.cumsum(draw(arrays(np.float64, n, elements=st.floats(1 / 240, 1 / 10))))
    reps = draw(st.integers(0, 3))
    dip = 0.5 * (1 - np.cos(2 * np.pi * reps * np.arange(n) / max(n, 1)))  # 0 standing .. 1 at the bottom
    xy = np.repeat(STANDING[None], n, axis=0)
    xy[:, :9, 1] += 120 * dip[:, None]  # the hips and all above them go down
    xy[:, [9, 12], 0] += 60 * dip[:, None]  # the knees forward
    xy = xy * draw(st.floats(0.01, 40)) + draw(st.floats(-1e5, 1e5))
    conf = np.full((n, 18, 1), 0.8)
    kp = np.concatenate([xy, conf], axis=2)
    if draw(st.booleans()):  # joints missing at random
        kp[draw(arrays(bool, (n, 18)))] = np.nan
    if draw(st.booleans()):  # the lifter hidden for a run of frames
        a = draw(st.integers(0, n - 1))
        kp[a : a + draw(st.integers(1, n))] = np.nan
    if draw(st.booleans()):  # anything at all
        kp[..., :2] = draw(arrays(np.float64, (n, 18, 2), elements=values))
    return kp.astype(np.float32), t


@FAST
@given(lifter_tracks())
@example((np.full((1, 18, 3), np.nan, np.float32), np.array([0.0])))  # one frame, nobody
@example((np.tile(np.concatenate([STANDING, np.ones((18, 1))], 1), (30, 1, 1)).astype(np.float32),
          np.arange(30) / 30))  # standing still: no rep
def test_the_body_kinematics_and_reps_take_any_lifter_track(data):
    kp, t = data
    settings = KinematicsSettings()
    body = measure_body(kp, settings)
    kin = compute_kinematics(kp, t, replace(settings, side=body.side), body=body)
    assert len(kin.frames) == len(t) and {"knee_angle", "hip_angle", "trunk_lean"} <= set(kin.frames.columns)
    angles = kin.frames[["knee_angle", "hip_angle"]].to_numpy()
    assert (angles[np.isfinite(angles)] >= 0).all() and (angles[np.isfinite(angles)] <= 180).all()
    reps, rep_of_frame = segment_reps(kin, t)
    assert rep_of_frame.shape == (len(t),) and set(np.unique(rep_of_frame)) <= set(range(len(reps) + 1))
    assert tuple(reps.columns) == REP_COLUMNS
    assert (reps["start_time"] <= reps["bottom_time"]).all() and (reps["bottom_time"] <= reps["end_time"]).all()
