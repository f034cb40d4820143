"""Reps from the hip's height, and the faults a coach would call on each one.

A rep is the hip going down by at least RepSettings.min_depth × femur from standing and back
up: start = the hip leaves its standing height, bottom = the lowest hip (the pause = frames
within bottom_band × femur of it), end = back at standing height. Heights are pixels with y
down, so the bottom is a peak of hip_y; peak prominence (scipy) demands both the descent and
the return, which drops walk-outs, bounces at the bottom and a last rep the clip cuts off.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import find_peaks

from squat.kinematics import Kinematics
from squat.settings import FaultSettings, RepSettings

# Fault name → what it means and what to do about it (one line each, shown to the lifter).
FAULT_CUES: dict[str, str] = {
    "above_parallel": "Hip stayed above the knee at the bottom: sit down until the hip crease passes the knee.",
    "forward_lean": "Chest dropped far past your shin angle: keep the chest up and let the knees travel forward.",
    "hips_shoot_up": "Hips rose before the chest out of the hole (a good-morning): drive the chest and hips up together.",
    "knees_forward": "Knees far ahead of the midfoot: sit the hips back a little so the knees stay nearer the midfoot.",
}

REP_COLUMNS: tuple[str, ...] = (
    "rep", "start_time", "bottom_time", "end_time", "start_frame", "bottom_frame", "end_frame",
    "depth_knee_angle", "hip_below_knee", "descent_s", "pause_s", "ascent_s",
    "max_trunk_lean", "max_hip_moment_arm", "max_hip_moment_arm_femur",
    "max_knee_moment_arm", "max_knee_moment_arm_femur", "faults",
    # why a fault was (not) called, see fault_measures
    "max_thigh_angle", "lean_over_shin", "hip_rise_ratio", "ascent_lean_gain", "ascent_hip_back",
)
MEASURE_COLUMNS = REP_COLUMNS[REP_COLUMNS.index("faults") + 1 :]


def fill_gaps(time_s: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN in time (edges hold the nearest value); all NaN stays NaN."""
    values = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(values)
    if ok.all() or not ok.any():
        return values.copy()
    return np.interp(time_s, time_s[ok], values[ok])


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


def _phases(hip: np.ndarray, bottoms: np.ndarray, band_px: float, stand_px: float) -> list[tuple[int, int, int, int, int]]:
    """(start, pause_start, bottom, pause_end, end) frames for each bottom, on the smoothed hip_y."""
    n = len(hip)
    # Standing reference of each rep: the highest hip (smallest y) between neighbouring bottoms.
    cuts = np.concatenate(([0], bottoms, [n - 1]))
    stands = [int(cuts[k] + np.argmin(hip[cuts[k] : cuts[k + 1] + 1])) for k in range(len(cuts) - 1)]
    out = []
    for k, b in enumerate(bottoms):
        before, after = stands[k], stands[k + 1]
        # start: last frame still at standing height before the bottom; end: first one after.
        up_before = np.flatnonzero(hip[before : b + 1] <= hip[before] + stand_px)
        up_after = np.flatnonzero(hip[b : after + 1] <= hip[after] + stand_px)
        start, end = before + int(up_before[-1]), b + int(up_after[0])
        # The band is crossed a little after the hip starts moving: walk back to where it was
        # still rising backwards in time (its highest point), and forward to where it stops rising.
        while start > before and hip[start - 1] < hip[start]:
            start -= 1
        while end < after and hip[end + 1] < hip[end]:
            end += 1
        # The pause: the contiguous run around the bottom within band_px of the lowest hip.
        low = hip >= hip[b] - band_px
        p0 = b
        while p0 > start and low[p0 - 1]:
            p0 -= 1
        p1 = b
        while p1 < end and low[p1 + 1]:
            p1 += 1
        out.append((start, p0, b, p1, end))
    return out


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
    # Best sign available: hip vs shoulder rise; else the chest dropping; with the whole trunk
    # hidden (plate), the hips swinging back.
    if np.isfinite(m["hip_rise_ratio"]):
        shoot = m["hip_rise_ratio"] > settings.hips_rise_ratio
    elif np.isfinite(m["ascent_lean_gain"]):
        shoot = m["ascent_lean_gain"] > settings.hips_rise_lean_deg
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
    hip = smooth(t, fill_gaps(t, frames["hip_y"].to_numpy()), settings.smoothing_s)
    if not np.isfinite(hip).all():
        return empty, rep_per_frame

    bottoms = _one_bottom_per_rep(hip, find_peaks(hip, prominence=settings.min_depth * femur)[0], settings.min_depth * femur)
    phases = _phases(hip, bottoms, settings.bottom_band * femur, settings.stand_band * femur)
    phases = [p for p in phases if t[p[4]] - t[p[0]] >= settings.min_duration_s]
    knee = frames["knee_angle"].to_numpy()
    phases = [p for p in phases if _knees_bend(knee[p[0] : p[4] + 1], settings.squat_knee_angle)]

    rows = []
    for number, (start, p0, b, p1, end) in enumerate(phases, start=1):
        rep = frames.iloc[start : end + 1]
        measures = fault_measures(frames, start, b, end, hip, fault_settings.early_ascent_fraction)
        faults = rep_faults(measures, fault_settings, side_view)
        below = bool(measures["max_thigh_angle"] >= -fault_settings.parallel_margin_deg)  # False if unseen
        rep_per_frame[start : end + 1] = number
        # Bottom = middle of the pause: where in a flat pause the hip is lowest is noise.
        bottom_time = (t[p0] + t[p1]) / 2
        rows.append(
            {
                "rep": number,
                "start_time": t[start],
                "bottom_time": bottom_time,
                "end_time": t[end],
                "start_frame": start,
                "bottom_frame": p0 + int(np.argmin(np.abs(t[p0 : p1 + 1] - bottom_time))),
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
                "faults": "; ".join(faults),
                **{name: measures[name] for name in MEASURE_COLUMNS},
            }
        )
    if not rows:
        return empty, rep_per_frame
    return pd.DataFrame(rows, columns=list(REP_COLUMNS)), rep_per_frame


def _knees_bend(knee_angle: np.ndarray, squat_knee_angle: float) -> bool:
    """A squat bends the knees; a hip 'dip' with straight knees is a mis-read hip, not a rep.
    Where the knee was never seen the hip's path alone decides."""
    seen = knee_angle[np.isfinite(knee_angle)]
    return not len(seen) or bool(seen.min() < squat_knee_angle)


def _dtype(column: str) -> str:
    if column in ("rep", "start_frame", "bottom_frame", "end_frame"):
        return "int64"
    return {"hip_below_knee": "bool", "faults": "object"}.get(column, "float64")
