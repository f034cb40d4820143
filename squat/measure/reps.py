"""Reps from the hip's height and the knees, and the faults a coach would call on each one.

A rep is the hip going down by at least RepSettings.min_depth × femur from standing and back
up. Heights are pixels with y down, so a rep's lowest hip is a peak of hip_y; peak prominence
(scipy) demands both the descent and the return, which drops walk-outs, bounces at the bottom
and a last rep the clip cuts off. Two such peaks with no knee lockout between them are one rep
(a misread or hidden hip at depth, not a stand-up).

start = the knees unlock (leave their standing angle), end = they lock out again: the knee
angle moves first and is steady when standing, while the hip barely moves in the first ~0.4 s
of a descent and the pose model misplaces it near standing (hands, plates). Without a seen knee,
the hip's return to standing height decides.
bottom = the middle of the time "in the hole" (the longest stretch with the hip within
RepSettings.hole_band × femur of its lowest, short gaps closed); on a held pause, the middle
of the pause. The truth of the rendered clips calls the deepest frame the bottom, which in a
flat pause is any of its frames: the middle is the one coaching answer that is at most half
the pause from it.
pause = the contiguous stretch around the lowest hip within bottom_band × femur of it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import find_peaks

from squat.measure.kinematics import Kinematics
from squat.measures import REP, REP_MEASURES
from squat.series import fill_gaps, true_runs
from squat.settings import FaultSettings, RepSettings

# Fault name → what it means and what to do about it (one line each, shown to the lifter).
FAULT_CUES: dict[str, str] = {
    "above_parallel": "Hip stayed above the knee at the bottom: sit down until the hip crease passes the knee.",
    "forward_lean": "Chest dropped far past your shin angle: keep the chest up and let the knees travel forward.",
    "hips_shoot_up": "Hips rose before the chest out of the hole (a good-morning): drive the chest and hips up together.",
    "knees_forward": "Knees far ahead of the midfoot: sit the hips back a little so the knees stay nearer the midfoot.",
}

# reps.csv, in order (declared in squat.measures); the columns after `faults` are why a fault was (not) called.
REP_COLUMNS: tuple[str, ...] = tuple(m.column for m in REP_MEASURES)
MEASURE_COLUMNS = REP_COLUMNS[REP_COLUMNS.index("faults") + 1 :]


def smooth(time_s: np.ndarray, values: np.ndarray, window_s: float) -> np.ndarray:
    """Centred moving average over ±window_s/2 seconds: correct for irregular frame times."""
    if window_s <= 0 or len(values) == 0:
        return np.asarray(values, dtype=np.float64).copy()
    cs = np.concatenate(([0.0], np.cumsum(values)))
    lo = np.searchsorted(time_s, time_s - window_s / 2, side="left")
    hi = np.searchsorted(time_s, time_s + window_s / 2, side="right")
    return (cs[hi] - cs[lo]) / (hi - lo)


def _one_bottom_per_rep(hip: np.ndarray, bottoms: np.ndarray, depth_px: float) -> np.ndarray:
    """Merge bottoms the hip did not climb depth_px out of in between (keep the deeper).

    find_peaks gives two equally low bottoms of a bounce full prominence each.
    """
    kept: list[int] = []
    for b in bottoms:
        if kept and min(hip[kept[-1]], hip[b]) - hip[kept[-1] : b + 1].min() < depth_px:
            if hip[b] > hip[kept[-1]]:
                kept[-1] = int(b)
            continue
        kept.append(int(b))
    return np.asarray(kept, dtype=int)


def _merge_without_lockout(hip: np.ndarray, bottoms: np.ndarray, locked: np.ndarray | None) -> np.ndarray:
    """Merge neighbouring bottoms with no knee lockout between them (keep the deeper hip).

    A lifter stands up between reps; two hip peaks without it are one rep whose bottom the pose
    model misread or lost (a hidden hip is interpolated across). locked: (frames,) bool, None
    where the knee is never seen.
    """
    if locked is None or len(bottoms) < 2:
        return bottoms
    kept = [int(bottoms[0])]
    for b in bottoms[1:]:
        if not locked[kept[-1] : b + 1].any():
            if hip[b] > hip[kept[-1]]:
                kept[-1] = int(b)
            continue
        kept.append(int(b))
    return np.asarray(kept, dtype=int)


def _crossing_time(t: np.ndarray, x: np.ndarray, level: float) -> float:
    """Time x (rising, from below level) reaches level the last time, linearly interpolated."""
    below = np.flatnonzero(x < level)
    if not below.size or below[-1] == len(x) - 1:
        return np.nan
    i = int(below[-1])
    return t[i] + (t[i + 1] - t[i]) * (level - x[i]) / (x[i + 1] - x[i])


def _onset_time(t: np.ndarray, bend: np.ndarray, onset_deg: float) -> float:
    """When a bend (deg, 0 at rest, growing towards the end of t) began.

    From rest the bend grows as time²: it reaches onset_deg at t1 and 4 × onset_deg at t2 = 2 ×
    (t1 − t0) after the start t0, so t0 = 2·t1 − t2 (pose noise hides the first few degrees).
    """
    t1, t2 = _crossing_time(t, bend, onset_deg), _crossing_time(t, bend, 4 * onset_deg)
    return 2 * t1 - t2


def _knee_bounds(t: np.ndarray, knee: np.ndarray, bottom: int, lo: int, hi: int, settings: RepSettings) -> tuple[int, int] | None:
    """(start, end) of one rep from the knee angle: the knees leaving and regaining their standing
    angle, each side's onset traced back from its bend (_onset_time). The standing angle of each
    side is the median of its frames within lockout_deg of its straightest (readings drift
    between reps). None when a side never stands (the clip starts or ends mid-rep)."""
    times = []
    for seg, ts, rev in ((knee[lo : bottom + 1], t[lo : bottom + 1], False), (knee[bottom : hi + 1], t[bottom : hi + 1], True)):
        standing = seg >= seg.max() - settings.lockout_deg
        if standing[-1 if not rev else 0]:
            return None
        bend = np.median(seg[standing]) - seg
        onset = -_onset_time(-ts[::-1], bend[::-1], settings.onset_knee_deg) if rev else _onset_time(ts, bend, settings.onset_knee_deg)
        edge = ts[np.flatnonzero(standing)[0 if rev else -1]]  # if the bend never reaches 4× onset_deg
        times.append(onset if np.isfinite(onset) else edge)
    start = lo + int(np.argmin(np.abs(t[lo : bottom + 1] - times[0])))
    end = bottom + int(np.argmin(np.abs(t[bottom : hi + 1] - times[1])))
    return start, end


def _upright_bounds(up: np.ndarray, bottom: int, lo: int, hi: int, margin: float) -> tuple[int, int] | None:
    """(start, end) of one rep from an "uprightness" curve (bigger = more upright): the last frame
    in lo..bottom within `margin` of the most upright there, the first in bottom..hi back within
    `margin` of the most upright there. None when a side never leaves that band."""
    down, rise = up[lo : bottom + 1], up[bottom : hi + 1]
    before = np.flatnonzero(down >= down.max() - margin)
    after = np.flatnonzero(rise >= rise.max() - margin)
    if before[-1] == len(down) - 1 or after[0] == 0:
        return None
    return lo + int(before[-1]), bottom + int(after[0])


def _rep_bounds(t: np.ndarray, hip: np.ndarray, knee: np.ndarray | None, bottoms: np.ndarray, settings: RepSettings, stand_px: float) -> list[tuple[int, int]]:
    """(start, end) frames of each bottom's rep: from the knees (_knee_bounds), else the hip
    leaving and regaining standing height (within stand_px of its highest between bottoms)."""
    cuts = np.concatenate(([0], bottoms, [len(hip) - 1]))
    out = []
    for k, b in enumerate(bottoms):
        lo, hi = int(cuts[k]), int(cuts[k + 2])
        bounds = _knee_bounds(t, knee, b, lo, hi, settings) if knee is not None else None
        out.append(bounds or _upright_bounds(-hip, b, lo, hi, stand_px) or (lo, hi))
    return out


def _hole(t: np.ndarray, hip: np.ndarray, start: int, end: int, band_px: float, gap_s: float) -> tuple[int, int]:
    """First and last frame of the hole in start..end: the longest stretch (in time) with the hip
    within band_px of its lowest there, stretches less than gap_s apart taken as one."""
    firsts, stops = true_runs(hip[start : end + 1] >= hip[start : end + 1].max() - band_px)
    firsts, lasts = start + firsts, start + stops - 1
    joined = np.concatenate(([True], t[firsts[1:]] - t[lasts[:-1]] >= gap_s))  # a new stretch starts
    firsts, lasts = firsts[joined], lasts[np.r_[joined[1:], True]]
    k = int(np.argmax(t[lasts] - t[firsts] + 1e-9 * (lasts - firsts)))
    return int(firsts[k]), int(lasts[k])


def _pause(hip: np.ndarray, start: int, bottom: int, end: int, band_px: float) -> tuple[int, int]:
    """The held bottom: the contiguous run around the lowest hip within band_px of it."""
    low = hip[start : end + 1] >= hip[bottom] - band_px
    left = np.flatnonzero(~low[: bottom - start + 1])
    right = np.flatnonzero(~low[bottom - start :])
    p0 = start + (int(left[-1]) + 1 if left.size else 0)
    p1 = bottom + (int(right[0]) - 1 if right.size else end - bottom)
    return p0, p1


def _early_ascent_end(hip: np.ndarray, bottom: int, end: int, fraction: float) -> int:
    """First frame after the bottom where the hip has regained `fraction` of its depth."""
    target = hip[bottom] - fraction * (hip[bottom] - hip[end])
    risen = np.flatnonzero(hip[bottom : end + 1] <= target)
    return bottom + int(risen[0]) if risen.size else end


def _nanmax(x: np.ndarray) -> float:
    return float(np.nanmax(x)) if np.isfinite(x).any() else np.nan


def fault_measures(frames: pd.DataFrame, start: int, bottom: int, end: int, hip: np.ndarray, fraction: float) -> dict[str, float]:
    """The numbers the faults are judged on, for one rep (row positions; hip = smoothed hip_y).

    The rep is split at the lowest hip: on a noisy or slow turn-around the end of the pause band
    already carries the first centimetres of the ascent, where the hips shooting up show first.

    max_thigh_angle: deg, + when the hip sank below the knee (deepest frame of the rep).
    lean_over_shin: deg, largest trunk lean minus shin angle on the way down to the lowest hip;
      a torso far more horizontal than the shins is a chest that dropped, not long femurs
      (they tilt both). Lean gained in the ascent is left to hips_shoot_up.
    max_lean_down: deg, largest trunk lean on the way down to the lowest hip.
    hip_rise_ratio: hip rise / shoulder (neck) rise from the lowest hip until the hip regains the
      first `fraction` of its depth; 1 = trunk angle kept; inf = shoulders stalled; NaN if hidden.
    ascent_lean_gain: deg of trunk lean gained over that same stretch (first fallback).
    ascent_hip_back: hip moment arm gained over that stretch, × femur: hips shooting up also
      swing back behind the midfoot; needs no trunk point at all (second fallback).
    max_knee_moment_arm_femur: knee ahead of the midfoot, × femur.
    """
    down = frames.iloc[start : bottom + 1]
    k = _early_ascent_end(hip, bottom, end, fraction)
    shoulder = frames["shoulder_y"].to_numpy()
    lean = frames["trunk_lean"].to_numpy()
    arm = frames["hip_moment_arm_femur"].to_numpy()

    def seen_span(values: np.ndarray) -> tuple[int, int] | None:
        """First and last frames of the stretch where `values` is seen, if they still cover half
        the hip's rise over it (the plate hides the trunk now and then)."""
        seen = bottom + np.flatnonzero(np.isfinite(values[bottom : k + 1]))
        if seen.size < 2 or hip[seen[0]] - hip[seen[-1]] < 0.5 * (hip[bottom] - hip[k]):
            return None
        return int(seen[0]), int(seen[-1])

    ratio = lean_gain = hip_back = np.nan
    if (span := seen_span(shoulder)) and hip[span[0]] > hip[span[1]]:
        hip_rise, shoulder_rise = hip[span[0]] - hip[span[1]], shoulder[span[0]] - shoulder[span[1]]
        # Shoulders that sink or stall while the hip rises: an infinitely fast hip.
        ratio = hip_rise / shoulder_rise if shoulder_rise > 0 else np.inf
    if span := seen_span(lean):
        lean_gain = _nanmax(lean[span[0] : span[1] + 1]) - lean[span[0]]
    if span := seen_span(arm):
        hip_back = _nanmax(arm[span[0] : span[1] + 1]) - arm[span[0]]
    return {
        "max_thigh_angle": _nanmax(frames["thigh_angle"].to_numpy()[start : end + 1]),
        "lean_over_shin": _nanmax((down["trunk_lean"] - down["shin_angle"]).to_numpy()),
        "max_lean_down": _nanmax(down["trunk_lean"].to_numpy()),
        "hip_rise_ratio": float(ratio),
        "ascent_lean_gain": float(lean_gain),
        "ascent_hip_back": float(hip_back),
        "max_knee_moment_arm_femur": _nanmax(frames["knee_moment_arm_femur"].to_numpy()[start : end + 1]),
    }


def rep_faults(m: dict[str, float], settings: FaultSettings, side_view: bool = True) -> list[str]:
    """Fault names (keys of FAULT_CUES) from one rep's fault_measures; NaN measures call nothing.

    Off a side view, depth, lean and knee travel are distorted (the view check warns), so only
    hips_shoot_up, which compares vertical rises, is called unless settings.judge_any_view.
    """
    faults = []
    sagittal = side_view or settings.judge_any_view
    if sagittal and m["max_thigh_angle"] < -settings.parallel_margin_deg:
        faults.append("above_parallel")
    if sagittal and (m["lean_over_shin"] > settings.lean_over_shin_deg or m["max_lean_down"] > settings.max_trunk_lean_deg):
        faults.append("forward_lean")
    # Either sign of the trunk: hips rising faster than the shoulders, or the chest dropping out of
    # the hole (the clearer one when the shoulders are a proxy from the bar: a hips-first rep read
    # a 1.6 rise ratio but gained 19° of lean, good reps ≤ 4.5°). With the whole trunk hidden,
    # the hips swinging back.
    ratio, gain = m["hip_rise_ratio"], m["ascent_lean_gain"]
    if np.isfinite(ratio) or np.isfinite(gain):
        shoot = bool(ratio > settings.hips_rise_ratio) or bool(gain > settings.hips_rise_lean_deg)
    else:
        shoot = m["ascent_hip_back"] > settings.hips_back_fraction
    if shoot:
        faults.append("hips_shoot_up")
    if sagittal and m["max_knee_moment_arm_femur"] > settings.knee_forward_fraction:
        faults.append("knees_forward")
    return faults


def segment_reps(
    kin: Kinematics | pd.DataFrame,
    time_s: np.ndarray | None = None,
    settings: RepSettings = RepSettings(),
    fault_settings: FaultSettings = FaultSettings(),
    femur_px: float | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Split the clip into reps; one row per rep (REP_COLUMNS) and each frame's rep (0 = none).

    kin: a Kinematics, or its frames table (needs hip_y, knee_angle, thigh_angle, trunk_lean,
    shin_angle, shoulder_y and the moment-arm columns) with femur_px (a bare table is taken as
    side view). time_s: (frames,) seconds; defaults to the table's time_s column. Times in seconds, moment arms
    in pixels and × femur; time_s must increase. hip_below_knee is False where the hip or knee
    was never seen. The columns after `faults` are the fault_measures that decided them.
    """
    if isinstance(kin, Kinematics):
        frames, femur, side_view = kin.frames, kin.proportions.femur_px, kin.view.view == "side"
    else:
        frames, femur, side_view = kin, femur_px, True
    t = np.asarray(frames["time_s"] if time_s is None else time_s, dtype=np.float64)
    n = len(frames)
    rep_per_frame = np.zeros(n, dtype=int)
    empty = pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in REP_COLUMNS})
    if femur is None or not np.isfinite(femur) or femur <= 0 or n < 3:
        return empty, rep_per_frame
    hip = smooth(t, fill_gaps(frames["hip_y"].to_numpy(), t, hold_edges=True), settings.smoothing_s)
    if not np.isfinite(hip).all():
        return empty, rep_per_frame

    knee = _smoothed_knee(t, frames["knee_angle"].to_numpy(), settings.smoothing_s)
    # Locked out = within lockout_deg of the standing knee (most clips stand a tenth of the time),
    # or open past stand_up_knee_angle: reps done in rhythm stop short of the straightest stand.
    straight = float(np.percentile(knee, 90)) - settings.lockout_deg if knee is not None else np.nan
    straight = min(straight, settings.stand_up_knee_angle)
    bottoms = _one_bottom_per_rep(hip, find_peaks(hip, prominence=settings.min_depth * femur)[0], settings.min_depth * femur)
    bottoms = _merge_without_lockout(hip, bottoms, knee >= straight if knee is not None else None)
    reps = []
    stand_px = settings.stand_band * femur
    bounds = _rep_bounds(t, hip, knee, bottoms, settings, stand_px)
    if not side_view:
        # The knees' image angle can move late off side-on (their bend is toward the camera): the
        # rep starts where the knees or the hips first leave standing, ends where both are back.
        by_hip = _rep_bounds(t, hip, None, bottoms, settings, stand_px)
        bounds = [(min(k[0], h[0]), max(k[1], h[1])) for k, h in zip(bounds, by_hip)]
    for b, (start, end) in zip(bottoms, bounds):
        b = start + int(np.argmax(hip[start : end + 1]))  # the lowest hip of the rep's span
        reps.append((start, b, end, _hole(t, hip, start, end, settings.hole_band * femur, settings.hole_gap_s)))
    reps = [r for r in reps if t[r[2]] - t[r[0]] >= settings.min_duration_s]
    knee_raw = frames["knee_angle"].to_numpy()
    if side_view:
        reps = [r for r in reps if _knees_bend(knee_raw[r[0] : r[2] + 1], settings.squat_knee_angle)]
    else:
        # The knees bend toward the camera and their 2D angle barely moves (a render 34° off the
        # front: 174° at the bottom in the truth itself), so the hip's path alone decides; a hinge
        # (picking up a kettlebell) must not pass for a squat, so the hips must drop further.
        shoulder = smooth(t, fill_gaps(frames["shoulder_y"].to_numpy(), t, hold_edges=True), settings.smoothing_s)
        cuts = [0, *(r[1] for r in reps), n - 1]
        reps = [r for k, r in enumerate(reps)
                if _deep_enough_off_side(hip, shoulder, *_standing_either_side(hip, r[1], cuts[k], cuts[k + 2]), femur, settings)]

    rows = []
    for number, (start, b, end, (h0, h1)) in enumerate(reps, start=1):
        rep = frames.iloc[start : end + 1]
        measures = fault_measures(frames, start, b, end, hip, fault_settings.early_ascent_fraction)
        faults = rep_faults(measures, fault_settings, side_view)
        below = bool(measures["max_thigh_angle"] >= -fault_settings.parallel_margin_deg)  # False if unseen
        rep_per_frame[start : end + 1] = number
        p0, p1 = _pause(hip, start, b, end, settings.bottom_band * femur)
        # Bottom = middle of the time in the hole: where in a flat pause the hip is lowest is noise.
        bottom_time = (t[h0] + t[h1]) / 2
        rows.append(
            {
                "rep": number,
                "start_time": t[start],
                "bottom_time": bottom_time,
                "end_time": t[end],
                "start_frame": start,
                "bottom_frame": h0 + int(np.argmin(np.abs(t[h0 : h1 + 1] - bottom_time))),
                "end_frame": end,
                "depth_knee_angle": float(rep["knee_angle"].min()),
                "hip_below_knee": below,
                "descent_s": t[p0] - t[start],
                "pause_s": t[p1] - t[p0],
                "ascent_s": t[end] - t[p1],
                "max_trunk_lean": float(rep["trunk_lean"].max()),
                "max_hip_moment_arm": float(rep["hip_moment_arm"].max()),
                "max_hip_moment_arm_femur": float(rep["hip_moment_arm_femur"].max()),
                "max_knee_moment_arm": float(rep["knee_moment_arm"].max()),
                "max_knee_moment_arm_femur": float(rep["knee_moment_arm_femur"].max()),
                "bar_off_midfoot_cm": _furthest(rep["bar_midfoot_cm"].to_numpy() if "bar_midfoot_cm" in rep else None),
                "faults": "; ".join(faults),
                **{name: measures[name] for name in MEASURE_COLUMNS},
            }
        )
    if not rows:
        return empty, rep_per_frame
    return pd.DataFrame(rows, columns=list(REP_COLUMNS)), rep_per_frame


def _furthest(values: np.ndarray | None) -> float:
    """The signed value furthest from 0 (the bar's largest excursion off the midfoot); NaN if unseen."""
    if values is None or not np.isfinite(values).any():
        return np.nan
    return float(values[np.nanargmax(np.abs(values))])


def _smoothed_knee(time_s: np.ndarray, knee_angle: np.ndarray, window_s: float) -> np.ndarray | None:
    """Knee angle (deg) with gaps interpolated and smoothed like the hip; None if never seen."""
    knee = smooth(time_s, fill_gaps(knee_angle, time_s, hold_edges=True), window_s)
    return knee if np.isfinite(knee).all() else None


def _drop(y: np.ndarray, start: int, end: int) -> float:
    """How far (px) a point (its image height y, down) went below the lower of its start and end heights."""
    return float(y[start : end + 1].max() - max(y[start], y[end]))


def _standing_either_side(hip: np.ndarray, bottom: int, lo: int, hi: int) -> tuple[int, int]:
    """The frames where the hip stands highest before and after a bottom, within lo..hi (the
    neighbouring bottoms). Off a side view a rep's knee-timed start and end can fall mid-descent
    (the knees' image angle moves late), so its depth is measured between these instead."""
    return lo + int(np.argmin(hip[lo : bottom + 1])), bottom + int(np.argmin(hip[bottom : hi + 1]))


def _deep_enough_off_side(hip: np.ndarray, shoulder: np.ndarray, start: int, end: int, femur: float,
                          settings: RepSettings) -> bool:
    """Off a side view: the hips drop min_depth_off_side × femur, or min_depth_off_side_upright ×
    femur with the trunk kept up (the shoulders' drop at most 1 / upright_drop_ratio × the hips':
    a hinge drops the shoulders far more than the hips). Shoulders never seen: the first rule."""
    drop = _drop(hip, start, end)
    if drop >= settings.min_depth_off_side * femur:
        return True
    if drop < settings.min_depth_off_side_upright * femur or not np.isfinite(shoulder[start : end + 1]).all():
        return False
    return drop >= settings.upright_drop_ratio * _drop(shoulder, start, end)


def _knees_bend(knee_angle: np.ndarray, squat_knee_angle: float) -> bool:
    """A squat bends the knees; a hip 'dip' with straight knees is a mis-read hip, not a rep.
    Where the knee was never seen the hip's path alone decides."""
    seen = knee_angle[np.isfinite(knee_angle)]
    return not len(seen) or bool(seen.min() < squat_knee_angle)


def _dtype(column: str) -> str:
    return {"int": "int64", "bool": "bool", "text": "object"}.get(REP[column].kind, "float64")


def bottoms_at_the_bar(reps: pd.DataFrame, time_s: np.ndarray, hip_seen: np.ndarray, bar_height_m: np.ndarray,
                       settings: RepSettings = RepSettings()) -> pd.DataFrame:
    """The rep table with each rep's bottom moved to the middle of the bar's hole (the longest
    stretch with the bar within bar_hole_m of its lowest in the rep) where the network saw no hip
    within hip_unseen_s of that: between sparse detections the hip's path is an interpolation, and
    its hole lands where the hip was last seen low (a real clip, the plate hiding the hips at the
    bottom: 0.4-0.7 s early), while the plate, seen in every frame, shows where the lifter was
    lowest. Reps whose hip was seen there, or whose bar was not seen throughout, keep their bottom.

    hip_seen: (F,) whether the network saw a hip in the frame; bar_height_m: (F,) NaN where unseen.
    """
    if settings.hip_unseen_s is None or reps.empty:
        return reps
    t, seen, bar = (np.asarray(a) for a in (time_s, hip_seen, bar_height_m))
    out = reps.copy()
    for i, rep in reps.iterrows():
        start, end = int(rep["start_frame"]), int(rep["end_frame"])
        if not np.isfinite(bar[start : end + 1]).all():
            continue
        low = bar[start : end + 1] <= np.min(bar[start : end + 1]) + settings.bar_hole_m
        firsts, stops = true_runs(low)
        k = int(np.argmax(t[start + stops - 1] - t[start + firsts]))
        h0, h1 = start + int(firsts[k]), start + int(stops[k]) - 1
        bottom_time = (t[h0] + t[h1]) / 2
        if seen[np.abs(t - bottom_time) <= settings.hip_unseen_s].any():
            continue
        out.loc[i, "bottom_time"] = bottom_time
        out.loc[i, "bottom_frame"] = h0 + int(np.argmin(np.abs(t[h0 : h1 + 1] - bottom_time)))
    return out
