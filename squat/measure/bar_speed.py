"""Bar speed from the plate: velocity-based training (VBT) from the same clip, no sensor.

The plate's centre is the bar's end and its 45 cm diameter gives metres (px_per_m), so the
plate track, filmed side-on, is a linear position transducer. Pure functions, in order:

- `bar_height_m` (and `bar_forward_m` for x): the plate's centre in metres, cleaned. Video bar
  trackers report 5-8 m/s peaks from one blurred frame, so a frame is dropped when it is a
  Hampel outlier (further than hampel_sigmas robust SDs, and noise_m, from the median of a
  hampel_window_s window) or sits in a short run cut off from the rest by steps implying more
  than max_speed_ms. Gaps up to max_gap_s are interpolated linearly in time (longer ones stay
  NaN: no guessing), then a local quadratic fit in real time smooths.
- `bar_velocity`: the slope of a local quadratic fit over velocity_window_s of real time, i.e.
  a Savitzky-Golay derivative that needs no resampling of variable-frame-rate clips.
- `rep_velocities`: per rep, the concentric phase runs from the rep's lowest bar height to the
  highest after it. Both turns are flat (the bar creeps millimetres for tenths of a second), so
  each end is timed where the bar's upward speed passes concentric_ms, not where it stops.
  MCV (mean concentric velocity) = its displacement / its duration.
  MPV (mean propulsive velocity) = the same over the propulsive part only: from the start until
  the bar's acceleration first drops below -g (Sanchez-Medina, Perez & Gonzalez-Badillo 2010,
  Int J Sports Med 31:123-129: past that point the bar coasts or is braked, the lifter no
  longer pushes it).
- `velocity_loss_pct`: the set's fatigue, 100 x (fastest MCV - last rep's MCV) / fastest MCV.

Without a plate (px_per_m NaN, nothing seen) everything is NaN: never an exception, never a guess.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from squat.settings import BarSpeedSettings

MAD_TO_SD = 1.4826  # the MAD of normal noise is 0.6745 SD
MIN_PX_PER_M = 1.0  # a plate under a pixel a metre is no scale (a 45 cm plate 0.2 px across)

# One row per rep, in this order: velocities m/s, times s, displacements cm.
REP_SPEED_COLUMNS: tuple[str, ...] = (
    "rep", "mcv_ms", "mpv_ms", "peak_velocity_ms", "time_to_peak_s", "concentric_s", "concentric_cm", "eccentric_cm",
    "bar_path_deviation_cm",
)


def bar_height_m(plate: np.ndarray, time_s: np.ndarray, px_per_m: float,
                 settings: BarSpeedSettings = BarSpeedSettings()) -> np.ndarray:
    """(F,) the bar's height in metres, up positive, relative to the first seen frame; NaN where
    not seen (or hidden longer than max_gap_s) and everywhere without a plate.

    plate: (F, 3) the plate's centre x, y and radius in pixels, image y down, NaN where not seen.
    """
    return -_clean_track(_plate_column(plate, time_s, 1), time_s, px_per_m, settings)


def bar_forward_m(plate: np.ndarray, time_s: np.ndarray, px_per_m: float,
                  settings: BarSpeedSettings = BarSpeedSettings()) -> np.ndarray:
    """(F,) the bar's horizontal position in metres along image x, relative to the first seen
    frame, cleaned like the height (bar path drift)."""
    return _clean_track(_plate_column(plate, time_s, 0), time_s, px_per_m, settings)


def bar_velocity(height_m: np.ndarray, time_s: np.ndarray,
                 settings: BarSpeedSettings = BarSpeedSettings()) -> np.ndarray:
    """(F,) the bar's vertical velocity in m/s, up positive; NaN where the height is NaN.

    The slope at each frame of a quadratic fitted to the heights within velocity_window_s of it,
    in real time: a Savitzky-Golay derivative for frames that are not evenly spaced.
    """
    t, h = _as_float(time_s), _as_float(height_m)
    return _local_quadratic(t, h, _fit_window(t, settings.velocity_window_s, settings))[1]


def rep_velocities(height_m: np.ndarray, velocity: np.ndarray, time_s: np.ndarray, reps: pd.DataFrame | Sequence,
                   forward_m: np.ndarray | None = None,
                   settings: BarSpeedSettings = BarSpeedSettings(),
                   acceleration: np.ndarray | None = None) -> pd.DataFrame:
    """One row per rep (REP_SPEED_COLUMNS): the bar's speed, times and range of motion.

    reps: the rep table (columns start_frame, bottom_frame, end_frame, optionally rep) or rows of
    (start, bottom, end) frame indices. forward_m: bar_forward_m, for the bar path deviation.

    mcv_ms: mean concentric velocity, displacement / duration from the rep's lowest bar height to
      the highest after it, timed where its speed passes concentric_ms (_ascent_ends). mpv_ms: mean
      propulsive velocity, the same up to the acceleration first dropping below -g after the peak
      (= mcv_ms when it never does). peak_velocity_ms, and time_to_peak_s from the concentric
      start. concentric_s / concentric_cm: duration and rise. eccentric_cm: from the highest bar
      before the bottom down to it. bar_path_deviation_cm: largest horizontal distance of the bar
      from where it was at the rep's start (NaN without forward_m).
    The lowest bar is searched over the whole rep, not from bottom_frame on: that is the middle of
    the hip's hole, and the bar can already be rising there. A value is NaN where its phase was not
    seen throughout (after max_gap_s filling): a hidden stretch could hide the bottom or the top.
    """
    t, h, v = _as_float(time_s), _as_float(height_m), _as_float(velocity)
    x = np.full_like(h, np.nan) if forward_m is None else _as_float(forward_m)
    numbers, frames = _rep_frames(reps)

    # Acceleration for MPV's -g test: the curvature of the same local quadratic whose slope is the
    # velocity (differentiating the velocity again would smooth twice and hide a 0.1 s braking);
    # given by _bar_track where that fit was made already.
    accel = _local_quadratic(t, h, _fit_window(t, settings.velocity_window_s, settings))[2] \
        if acceleration is None else _as_float(acceleration)
    # The bar can still be rising when the knees lock out (the rep's end): its top is looked for up
    # to top_reach_s later, never past the next rep's start.
    starts = np.append(frames[1:, 0], np.inf)
    rows = [{"rep": n, **_one_rep(t, h, v, accel, x, s, e, _top_limit(t, e, nxt, settings.top_reach_s), settings)}
            for n, (s, _, e), nxt in zip(numbers, frames, starts)]
    return pd.DataFrame(rows, columns=list(REP_SPEED_COLUMNS)).astype({c: float for c in REP_SPEED_COLUMNS[1:]})


def velocity_loss_pct(mcv: np.ndarray | Sequence[float]) -> float:
    """The set's velocity loss, %: 100 x (fastest MCV - last measured rep's MCV) / fastest MCV.

    The common VBT stop rule (e.g. end the set at 20-30 % loss) compares the last rep with the
    best; unmeasured reps (NaN) are skipped. NaN with fewer than 2 measured reps.
    """
    seen = _as_float(mcv)
    seen = seen[np.isfinite(seen)]
    if len(seen) < 2 or seen.max() <= 0:
        return float("nan")
    return float(100.0 * (seen.max() - seen[-1]) / seen.max())


@dataclass(frozen=True, eq=False)  # eq=False: tables have no single truth value
class BarSpeed:
    """The bar's speed in one clip, ready for frames.csv, reps.csv and summary.json."""

    frames: pd.DataFrame  # per frame: FRAME_COLUMNS
    reps: pd.DataFrame  # per rep: rep, then REP_COLUMNS
    velocity_loss_pct: float  # the set's (velocity_loss_pct); NaN under 2 measured reps

    @property
    def available(self) -> bool:
        return bool(np.isfinite(self.frames["bar_velocity_ms"].to_numpy()).any())


FRAME_COLUMNS: tuple[str, ...] = ("bar_height_cm", "bar_velocity_ms")
# What reps.csv keeps of REP_SPEED_COLUMNS (the concentric time is the MCV's denominator, shown
# through it; the rep's ascent time is the body's), plus each rep's loss from the fastest.
REP_COLUMNS: tuple[str, ...] = (
    "mcv_ms", "mpv_ms", "peak_velocity_ms", "time_to_peak_s", "concentric_cm", "eccentric_cm",
    "bar_path_deviation_cm", "velocity_loss_pct",
)


def measure_bar_speed(plate: np.ndarray | None, time_s: np.ndarray, px_per_m: float, reps: pd.DataFrame | Sequence,
                      settings: BarSpeedSettings = BarSpeedSettings()) -> BarSpeed:
    """Per frame the bar's height (cm above the first seen frame) and vertical velocity; per rep
    rep_velocities' measures and each rep's loss from the set's fastest MCV. All NaN without a
    plate or a scale."""
    t = _as_float(time_s)
    height, forward, velocity, accel = _bar_track(plate, t, px_per_m, settings)
    per_rep = rep_velocities(height, velocity, t, reps, forward, settings, accel)
    mcv = per_rep["mcv_ms"].to_numpy()
    best = np.nanmax(mcv) if np.isfinite(mcv).any() else np.nan
    per_rep["velocity_loss_pct"] = 100.0 * (best - mcv) / best if best > 0 else np.nan
    frames = pd.DataFrame({"bar_height_cm": 100.0 * height, "bar_velocity_ms": velocity})
    return BarSpeed(frames, per_rep[["rep", *REP_COLUMNS]], velocity_loss_pct(mcv))


def bar_speed_per_rep(plate: np.ndarray, time_s: np.ndarray, px_per_m: float, reps: pd.DataFrame | Sequence,
                      settings: BarSpeedSettings = BarSpeedSettings()) -> pd.DataFrame:
    """The whole chain: plate track (pixels) and reps → rep_velocities' table."""
    t = _as_float(time_s)
    height, forward, velocity, accel = _bar_track(plate, t, px_per_m, settings)
    return rep_velocities(height, velocity, t, reps, forward, settings, accel)


def _bar_track(plate: np.ndarray | None, t: np.ndarray, px_per_m: float,
               settings: BarSpeedSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The bar's height and forward position (m), and its vertical velocity and acceleration from
    one local quadratic fit (bar_velocity's), for the chain's two entry points."""
    plate = _plate_or_nan(plate, t)
    height = bar_height_m(plate, t, px_per_m, settings)
    _, velocity, accel = _local_quadratic(t, height, _fit_window(t, settings.velocity_window_s, settings))
    return height, bar_forward_m(plate, t, px_per_m, settings), velocity, accel


# ----------------------------------------------------------------------------------------- cleaning


def _clean_track(px: np.ndarray, time_s: np.ndarray, px_per_m: float, settings: BarSpeedSettings) -> np.ndarray:
    """One plate coordinate (pixels) → metres relative to its first seen frame, outliers dropped,
    short gaps filled, smoothed; all NaN without a usable scale."""
    t = _as_float(time_s)
    px_per_m = np.nan if px_per_m is None else float(px_per_m)
    if not (np.isfinite(px_per_m) and px_per_m >= MIN_PX_PER_M) or len(px) != len(t):
        return np.full(len(t), np.nan)
    m = px / px_per_m
    m[~_hampel_inliers(t, m, settings)] = np.nan
    m[_blips(t, m, settings)] = np.nan
    m = _fill_short_gaps(t, m, settings.max_gap_s)
    smooth = _local_quadratic(t, m, _fit_window(t, settings.smooth_window_s, settings))[0]
    m = np.where(np.isfinite(smooth), smooth, m)  # a frame too isolated to fit keeps its (vetted) value
    seen = np.flatnonzero(np.isfinite(m))
    return m - m[seen[0]] if len(seen) else m


def _hampel_inliers(t: np.ndarray, x: np.ndarray, settings: BarSpeedSettings) -> np.ndarray:
    """(F,) True where a seen sample lies within hampel_sigmas robust SDs (or noise_m) of the
    median of its hampel_window_s window: a median is not dragged by a blurred frame, a mean is."""
    window = _window_values(t, x, settings.hampel_window_s / 2)
    median = _row_nanmedian(window)
    spread = MAD_TO_SD * _row_nanmedian(np.abs(window - median[:, None]))
    limit = np.maximum(settings.hampel_sigmas * spread, settings.noise_m)
    with np.errstate(invalid="ignore"):
        return np.abs(x - median) <= limit


def _blips(t: np.ndarray, x: np.ndarray, settings: BarSpeedSettings) -> np.ndarray:
    """(F,) True on seen frames of a run shorter than max_blip_s that impossible steps (faster than
    max_speed_ms, beyond noise_m) cut off from the rest: a misdetection the Hampel window missed.
    The longest run always stays."""
    seen = np.flatnonzero(np.isfinite(x))
    out = np.zeros(len(x), bool)
    if len(seen) < 2:
        return out
    jump = np.abs(np.diff(x[seen])) > settings.max_speed_ms * np.diff(t[seen]) + settings.noise_m
    if not jump.any():
        return out
    run = np.concatenate(([0], np.cumsum(jump)))  # run number of each seen frame
    first = np.flatnonzero(np.r_[True, jump])
    last = np.r_[first[1:] - 1, len(seen) - 1]
    duration = t[seen[last]] - t[seen[first]]
    short = duration < settings.max_blip_s
    short[np.argmax(duration)] = False
    out[seen[short[run]]] = True
    return out


def _fill_short_gaps(t: np.ndarray, x: np.ndarray, max_gap_s: float) -> np.ndarray:
    """Linear interpolation in time across gaps whose seen neighbours are at most max_gap_s apart;
    longer gaps and the clip's ends stay NaN."""
    seen = np.isfinite(x)
    if seen.sum() < 2:
        return x
    i = np.arange(len(x))
    before = np.maximum.accumulate(np.where(seen, i, -1))
    after = np.minimum.accumulate(np.where(seen, i, len(x))[::-1])[::-1]
    inside = ~seen & (before >= 0) & (after < len(x))
    fill = np.zeros(len(x), bool)
    fill[inside] = t[after[inside]] - t[before[inside]] <= max_gap_s + 1e-9
    out = x.copy()
    out[fill] = np.interp(t[fill], t[seen], x[seen])
    return out


# ------------------------------------------------------------------------------------ local fits


def _fit_window(t: np.ndarray, window_s: float, settings: BarSpeedSettings) -> float:
    """Half-width (s) of a fit window: window_s / 2, widened to min_fit_frames frame intervals at
    low frame rates so a quadratic is fitted, not interpolated through 3 points."""
    dt = np.diff(t)
    dt = dt[np.isfinite(dt) & (dt > 0)]
    step = float(np.median(dt)) if len(dt) else 0.0
    return max(window_s, settings.min_fit_frames * step) / 2


def _window_index(t: np.ndarray, half_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(F, W) indices of the frames within ±half_s of each frame (padded), and which are inside."""
    lo = np.searchsorted(t, t - half_s, side="left")
    hi = np.searchsorted(t, t + half_s, side="right")
    width = int((hi - lo).max()) if len(t) else 0
    idx = lo[:, None] + np.arange(width)[None, :]
    return np.minimum(idx, max(len(t) - 1, 0)), idx < hi[:, None]


def _window_values(t: np.ndarray, x: np.ndarray, half_s: float) -> np.ndarray:
    """(F, W) the samples within ±half_s of each frame, NaN-padded."""
    idx, inside = _window_index(t, half_s)
    return np.where(inside, x[idx], np.nan)


def _row_nanmedian(a: np.ndarray) -> np.ndarray:
    """Median of each row's finite values; NaN (without a warning) for rows with none."""
    out = np.full(len(a), np.nan)
    some = np.isfinite(a).any(axis=1)
    if some.any():
        out[some] = np.nanmedian(a[some], axis=1)
    return out


def _local_quadratic(t: np.ndarray, x: np.ndarray, half_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame, the value, slope and second derivative at that frame of a least-squares quadratic
    through the seen samples within ±half_s of it (all frames at once, as batched 3x3 normal equations).

    NaN where the frame itself is not seen or fewer than 3 samples are: no fit, no number.
    """
    idx, inside = _window_index(t, half_s)
    if idx.size == 0:
        return np.full(len(x), np.nan), np.full(len(x), np.nan), np.full(len(x), np.nan)
    y = x[idx]
    use = inside & np.isfinite(y)
    u = np.where(use, (t[idx] - t[:, None]) / half_s, 0.0)  # time scaled to [-1, 1]: a well-conditioned fit
    basis = np.stack([np.ones_like(u), u, u * u], axis=-1) * use[..., None]
    normal = np.einsum("fwi,fwj->fij", basis, basis)
    rhs = np.einsum("fwi,fw->fi", basis, np.where(use, y, 0.0))
    ok = (use.sum(axis=1) >= 3) & np.isfinite(x)
    normal[~ok] = np.eye(3)  # keep the batch solvable; these rows are discarded below
    coef = (np.linalg.pinv(normal) @ rhs[..., None])[..., 0]  # pinv: repeated time stamps do not raise
    coef[~ok] = np.nan
    return coef[:, 0], coef[:, 1] / half_s, 2 * coef[:, 2] / half_s**2


# ---------------------------------------------------------------------------------------- per rep


def _top_limit(t: np.ndarray, end: float, next_start: float, reach_s: float) -> int:
    """The last frame a rep's top is looked for in: reach_s after its end, before the next rep's start."""
    if not np.isfinite(end) or not len(t):
        return -1
    limit = int(np.searchsorted(t, t[min(int(end), len(t) - 1)] + reach_s, side="right")) - 1
    return min(limit, int(next_start) - 1 if np.isfinite(next_start) else limit, len(t) - 1)


def _one_rep(t: np.ndarray, h: np.ndarray, v: np.ndarray, a: np.ndarray, x: np.ndarray, start: float, end: float,
             top_limit: int, settings: BarSpeedSettings) -> dict[str, float]:
    """The measures of one rep spanning frames start..end, its top looked for up to frame top_limit
    (see rep_velocities); NaN where unseen."""
    out = dict.fromkeys(REP_SPEED_COLUMNS[1:], np.nan)
    if not np.isfinite([start, end]).all():
        return out
    start, end = max(int(start), 0), min(int(end), len(h) - 1)
    seen = np.isfinite(h)
    if end - start < settings.min_phase_frames or not seen[start : end + 1].any():
        return out
    low = start + int(np.nanargmin(h[start : end + 1]))
    reach = max(end, top_limit)  # the ascent's search runs on to the bar's top
    high = low + int(np.nanargmax(h[low : reach + 1]))
    top = start + int(np.nanargmax(h[start : low + 1]))

    if seen[start : end + 1].all() and np.isfinite(x[start : end + 1]).all():
        out["bar_path_deviation_cm"] = 100.0 * float(np.max(np.abs(x[start : end + 1] - x[start])))
    # A phase is measured when it and its ends' neighbours were seen: a gap beside the lowest or
    # highest seen frame could hide a lower bottom or a higher top.
    bottom_seen = seen[max(low - 1, start) : min(low + 1, end) + 1].all()
    if low - top >= settings.min_phase_frames and seen[max(top - 1, start) : low + 1].all() and bottom_seen:
        out["eccentric_cm"] = 100.0 * (h[top] - h[low])
    if high - low < settings.min_phase_frames or not (seen[low : min(high + 1, reach) + 1].all() and bottom_seen):
        return out
    if not np.isfinite(v[low : high + 1]).any():
        return out
    peak = low + int(np.nanargmax(v[low : high + 1]))
    # The ascent is timed where the bar's upward speed first rises through the threshold after the
    # lowest bar and last falls through it before the highest (a sticking point mid-ascent stays
    # inside). At the turns a bar creeps: on the renders it spends a quarter of the ascent within
    # 2 mm of its bottom or top, the few pixels of noise a video resolves, so an end timed where it
    # is still can move by 0.15 s; through 0.05 m/s it is timed to a hundredth (docs/accuracy-log.md §20).
    threshold = max(settings.concentric_ms, settings.concentric_peak_share * v[peak])
    t0, t1 = _ascent_ends(t, v, low, high, threshold, float(v[peak]))
    if not (t1 > t0):
        return out
    h0, h1 = np.interp([t0, t1], t[seen], h[seen])
    out.update(mcv_ms=(h1 - h0) / (t1 - t0), concentric_s=t1 - t0, concentric_cm=100.0 * (h[high] - h[low]),
               peak_velocity_ms=v[peak], time_to_peak_s=t[peak] - t0)
    out["mpv_ms"] = _propulsive_velocity(t, h, a, peak, t0, h0, t1, h1, settings.g)
    return out


def _ascent_ends(t: np.ndarray, v: np.ndarray, low: int, high: int, threshold: float,
                 peak_ms: float) -> tuple[float, float]:
    """The times, interpolated between frames, the ascent from frame low (the lowest bar) to frame
    high (the highest) starts and ends: the velocity's last rise through threshold before it first
    reaches half of peak_ms, and its first fall through threshold after it last is at half of
    peak_ms: a flicker of noise in a paused bottom or a standing lifter neither starts nor ends it,
    and a sticking point mid-ascent stays inside. The frames'
    own times where it is already above there; NaN, NaN where it never rises above."""
    j = np.arange(low, high + 1)
    with np.errstate(invalid="ignore"):
        above, fast = v[j] > threshold, v[j] >= peak_ms / 2
    if not above.any() or not fast.any():
        return np.nan, np.nan

    def crossing(i: int) -> float:  # between frames i and i + 1
        return float(t[i] + (t[i + 1] - t[i]) * (v[i] - threshold) / (v[i] - v[i + 1]))

    first_fast, last_fast = int(np.argmax(fast)), len(j) - 1 - int(np.argmax(fast[::-1]))
    slow_before = j[:first_fast][~above[:first_fast]]  # at or below threshold before going fast
    slow_after = j[last_fast:][~above[last_fast:]]  # ... and after
    return (crossing(int(slow_before[-1])) if len(slow_before) else float(t[low]),
            crossing(int(slow_after[0]) - 1) if len(slow_after) else float(t[high]))


def _propulsive_velocity(t: np.ndarray, h: np.ndarray, a: np.ndarray, peak: int, t0: float, h0: float,
                         t1: float, h1: float, g: float) -> float:
    """Mean propulsive velocity: mean velocity from the ascent's start (t0, h0) until the
    acceleration first drops below -g after the peak velocity (before it, the bar speeds up: a
    reading below -g there is noise), interpolated between frames; the whole ascent (to t1, h1)
    when it never does."""
    j = np.arange(peak, np.searchsorted(t, t1, side="left"))
    with np.errstate(invalid="ignore"):
        braking = j[a[j] < -g]
    if not braking.size:
        return (h1 - h0) / (t1 - t0)
    k = int(braking[0])
    if k == peak or not np.isfinite(a[k - 1]):
        tp, hp = t[k], h[k]
    else:
        share = (a[k - 1] + g) / (a[k - 1] - a[k])
        tp, hp = t[k - 1] + share * (t[k] - t[k - 1]), h[k - 1] + share * (h[k] - h[k - 1])
    return (hp - h0) / (tp - t0) if tp > t0 else np.nan


# ------------------------------------------------------------------------------------------ input


def _as_float(x: np.ndarray | Sequence[float]) -> np.ndarray:
    return np.array(x, dtype=np.float64).reshape(-1)


def _plate_or_nan(plate: np.ndarray | None, time_s: np.ndarray) -> np.ndarray:
    """The (F, 3) plate track, or all NaN where there is none (a bodyweight set)."""
    return np.full((len(time_s), 3), np.nan) if plate is None else plate


def _plate_column(plate: np.ndarray | None, time_s: np.ndarray, column: int) -> np.ndarray:
    """One column of the plate track as float64 (a copy); all NaN if there is no such track."""
    arr = np.array(plate, dtype=np.float64) if plate is not None else np.zeros((0, 0))
    if arr.ndim != 2 or arr.shape[1] <= column or len(arr) != len(time_s):
        return np.full(len(time_s), np.nan)
    return arr[:, column].copy()


def _rep_frames(reps: pd.DataFrame | Sequence) -> tuple[list[int], np.ndarray]:
    """Rep numbers and (R, 3) start, bottom, end frames (float: a rep without a frame is NaN) from the
    rep table or plain rows."""
    if isinstance(reps, pd.DataFrame):
        frames = reps[["start_frame", "bottom_frame", "end_frame"]].to_numpy(dtype=np.float64)
        numbers = reps["rep"].astype(int).tolist() if "rep" in reps else list(range(1, len(reps) + 1))
        return numbers, frames
    frames = np.asarray(reps, dtype=np.float64).reshape(-1, 3)
    return list(range(1, len(frames) + 1)), frames
