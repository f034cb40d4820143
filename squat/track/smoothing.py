"""Smoothing the lifter's track: weak joints dropped, left/right swaps corrected, feet planted,
short gaps filled, every coordinate low-passed."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import butter, filtfilt

from squat.series import fill_gaps, true_runs
from squat.settings import TrackingSettings
from squat.skeleton import FOOT, N_JOINTS, J, mirror_index

# A left/right relabelling is accepted when it fits the previous frame this much better.
SWAP_MARGIN = 0.7
# Left/right labels flip per chain (a leg can swap while the arms do not), so each
# chain is checked on its own.
SWAP_GROUPS = tuple(
    tuple(J[f"{side}_{part}"] for side in ("r", "l") for part in parts)
    for parts in (("hip", "knee", "ankle"), ("shoulder", "elbow", "wrist"), ("eye", "ear"))
)
# With foot points the heel and toe swap with their leg.
LEG_WITH_FEET = SWAP_GROUPS[0] + tuple(FOOT.values())


def fix_left_right_swaps(keypoints: np.ndarray) -> np.ndarray:
    """Relabel a chain's left and right joints when the mirrored labels fit the last known pose better."""
    out = keypoints.copy()
    mirror = np.array(mirror_index(out.shape[1]))
    groups = SWAP_GROUPS if out.shape[1] == N_JOINTS else (LEG_WITH_FEET, *SWAP_GROUPS[1:])
    reference = np.full(out.shape[1:], np.nan, np.float32)  # last known position of every joint
    for f in range(len(out)):
        for group in groups:
            idx = np.array(group)
            xy = out[f, idx, :2]
            same = _mean_distance(xy, reference[idx, :2])
            swapped = _mean_distance(out[f, mirror[idx], :2], reference[idx, :2])
            if swapped < SWAP_MARGIN * same:
                out[f, idx] = keypoints[f, mirror[idx]]
        seen = ~np.isnan(out[f, :, 0])
        reference[seen] = out[f, seen]
    return out


def _mean_distance(a: np.ndarray, b: np.ndarray) -> float:
    d = np.linalg.norm(a - b, axis=1)
    d = d[~np.isnan(d)]
    return float(d.mean()) if len(d) else np.inf


def butterworth(values: np.ndarray, time_s: np.ndarray, settings: TrackingSettings) -> np.ndarray:
    """Zero-phase low-pass of a 1-D series, run on each NaN-free segment separately.

    filtfilt runs the filter_order Butterworth forward then backward: the gain is squared, so the
    effective order is twice filter_order (8 for 4) and cutoff_hz is where the gain is -6 dB, not -3 dB.
    Variable frame rate is treated at its median rate: phones jitter by a few ms, which
    shifts a 6 Hz cut-off by a few percent at most.
    """
    out = values.copy()
    if len(time_s) < 2:
        return out
    fs = 1.0 / np.median(np.diff(time_s))
    if settings.cutoff_hz >= fs / 2:
        return out
    b, a = butter(settings.filter_order, settings.cutoff_hz / (fs / 2))
    padlen = 3 * max(len(a), len(b))
    for start, stop in zip(*true_runs(~np.isnan(values))):
        if stop - start > padlen:
            out[start:stop] = filtfilt(b, a, values[start:stop], padlen=padlen)
    return out


def running_median(values: np.ndarray, time_s: np.ndarray, window_s: float) -> np.ndarray:
    """Centred running median (NaN ignored) over ±window_s/2 of (F, ...) values; NaN where the
    window holds fewer than a third of its frames' readings."""
    rate = 1.0 / np.median(np.diff(time_s)) if len(time_s) > 1 else 1.0
    size = max(1, int(round(window_s * rate)) | 1)
    flat = pd.DataFrame(values.reshape(len(values), -1))
    med = flat.rolling(size, center=True, min_periods=max(1, size // 3)).median()
    return med.to_numpy(np.float64).reshape(values.shape)


def plant_feet(keypoints: np.ndarray, time_s: np.ndarray, settings: TrackingSettings) -> np.ndarray:
    """Feet stay planted and shins keep their length: an ankle read further than
    planted_tolerance × the shin from its running median (planted_window_s) moves there, with
    that foot's heel and toe, where that brings the shin nearer its usual length (an ankle misread
    up the shin). A foot that really steps (a walk-out) carries its knee along: it stays."""
    if settings.planted_tolerance <= 0 or len(keypoints) < 2:
        return keypoints
    out = keypoints.copy()
    for side in ("r", "l"):
        knee, ankle = out[:, J[f"{side}_knee"], :2], out[:, J[f"{side}_ankle"], :2]
        shin_now = np.linalg.norm(knee - ankle, axis=1)
        if not np.isfinite(shin_now).any():
            continue
        shin = float(np.nanmedian(shin_now))
        feet = [J[f"{side}_ankle"]] + ([FOOT[f"{side}_heel"], FOOT[f"{side}_toe"]] if out.shape[1] > N_JOINTS else [])
        planted = running_median(out[:, feet, :2], time_s, settings.planted_window_s)
        shin_planted = np.linalg.norm(knee - planted[:, 0], axis=1)
        with np.errstate(invalid="ignore"):
            misread = (np.linalg.norm(ankle - planted[:, 0], axis=1) > settings.planted_tolerance * shin) & (
                np.abs(shin_planted - shin) < np.abs(shin_now - shin))
        move = misread[:, None] & np.isfinite(planted[..., 0])  # (F, points)
        out[:, feet, :2] = np.where(move[..., None], planted, out[:, feet, :2])
    return out


def smooth_track(keypoints: np.ndarray, time_s: np.ndarray, settings: TrackingSettings) -> np.ndarray:
    """Drop weak joints, correct left/right swaps, plant the feet, fill short gaps, low-pass
    every coordinate."""
    kp = keypoints.astype(np.float32).copy()
    weak = ~(kp[..., 2] >= settings.min_joint_conf)
    kp[weak] = np.nan
    kp = fix_left_right_swaps(kp)
    kp = plant_feet(kp, time_s, settings)
    flat = kp.reshape(len(kp), -1) if len(kp) else kp.reshape(0, kp.shape[1] * kp.shape[2])  # a clip of no frame
    for c in range(flat.shape[1]):
        filled = fill_gaps(flat[:, c], time_s, settings.max_gap_s)
        if c % 3 != 2:  # positions are filtered; confidences only gap-filled
            filled = butterworth(filled, time_s, settings)
        flat[:, c] = filled
    return flat.reshape(kp.shape).astype(np.float32)
