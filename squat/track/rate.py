"""The network at most network_hz: a clip costs what it would at that rate, whatever its own.

A squat has nothing faster than ~5 Hz in it (a fast rep's ascent still takes ~0.5 s), and the
track is low-pass filtered at a few hertz anyway, so the network reading every other (or every
fourth) frame loses little the filter keeps. The frames between are filled from their
neighbours, after the lifter has been chosen and the track smoothed at the network's rate: the
joints linearly (fill_between), the plate along a cubic through its samples (fill_smoothly),
since its speed comes from its track's slope, and a straight line between two samples bends the
bar's turns into corners.
"""
from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline

# A frame this share of a network period early still counts as on time (timestamp jitter): a
# 30 fps clip at 30 Hz keeps every frame.
EARLY = 0.2


class RateGate:
    """Called with each frame's time in order: whether the network reads that frame. Reads are
    due every 1 / network_hz seconds; the first frame at (or just before) each due time is read,
    so the network runs at network_hz on average whatever the clip's rate (0: every frame)."""

    def __init__(self, network_hz: float):
        self.period = 1.0 / network_hz if network_hz > 0 else 0.0
        self.due: float | None = None

    def __call__(self, time_s: float) -> bool:
        if self.due is not None and time_s < self.due - EARLY * self.period:
            return False
        # never more than one period behind the clip (after a gap in a variable-rate clip)
        self.due = time_s + self.period if self.due is None else max(self.due + self.period, time_s)
        return True


def fill_between(values: np.ndarray, known_s: np.ndarray, all_s: np.ndarray) -> np.ndarray:
    """values (K, ...) at times known_s (K,) → (F, ...) at times all_s (F,), each linearly
    interpolated between the two known samples around it. NaN where either neighbour is NaN;
    before the first or after the last known sample the nearest one is held, for at most one
    network period (the gap to its neighbour), and NaN beyond."""
    values = np.asarray(values)
    known_s, all_s = np.asarray(known_s, np.float64), np.asarray(all_s, np.float64)
    if len(known_s) == 0:
        return np.full((len(all_s), *values.shape[1:]), np.nan, np.float32)
    if len(known_s) == 1:
        return np.repeat(values[:1], len(all_s), axis=0)
    right = np.clip(np.searchsorted(known_s, all_s, side="left"), 1, len(known_s) - 1)
    left = right - 1
    span = known_s[right] - known_s[left]
    w = np.clip((all_s - known_s[left]) / span, 0.0, 1.0)
    w = w.reshape(-1, *([1] * (values.ndim - 1))).astype(np.float32)
    a, b = values[left], values[right]
    # exactly on a sample: that sample, even where its neighbour is missing
    out = np.where(w == 0, a, np.where(w == 1, b, (1 - w) * a + w * b))
    beyond = (all_s < known_s[0] - (known_s[1] - known_s[0])) | (all_s > known_s[-1] + (known_s[-1] - known_s[-2]))
    out[beyond] = np.nan
    return out.astype(values.dtype, copy=False)


# A run of at least this many samples seen in a row is filled along a cubic; a shorter one linearly.
CUBIC_MIN_SAMPLES = 4


def fill_smoothly(values: np.ndarray, known_s: np.ndarray, all_s: np.ndarray) -> np.ndarray:
    """fill_between for a (K, C) track whose slope matters (the plate: bar speed): between samples
    inside a run of CUBIC_MIN_SAMPLES or more seen in a row (every column finite), a cubic spline
    through that run's samples; elsewhere fill_between's line, its NaN and its held ends."""
    out = fill_between(values, known_s, all_s)
    known_s, all_s = np.asarray(known_s, np.float64), np.asarray(all_s, np.float64)
    values = np.asarray(values)
    if values.ndim != 2 or len(known_s) < CUBIC_MIN_SAMPLES:
        return out
    seen = np.flatnonzero(np.isfinite(values).all(axis=1))
    for run in np.split(seen, np.flatnonzero(np.diff(seen) > 1) + 1):
        if len(run) < CUBIC_MIN_SAMPLES:
            continue
        t = known_s[run]
        inside = (all_s >= t[0]) & (all_s <= t[-1])
        out[inside] = CubicSpline(t, values[run].astype(np.float64), axis=0)(all_s[inside])
    return out
