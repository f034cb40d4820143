"""How close an analysis is to the rendered truth: `python -m squat evaluate RUN_DIR TRUTH_DIR`.

Kept apart from the engine: it reads the files `python -m squat analyze` wrote (frames.csv,
reps.csv, summary.json) and a truth folder of the rendered squats (truth.csv, truth.json),
as any user could, and imports nothing of the pose or tracking code.

What is compared with what (errors are ours − truth unless named "abs"):
- per frame: our knee_angle, hip_angle, trunk_lean, shin_angle against the truth's `*_2d`
  columns (the same angles on the true image keypoints), over all frames and at depth (truth
  knee_angle_2d below DEPTH_KNEE_ANGLE); keypoint distances in pixels and × the true femur
  (camera-side hip → knee in the truth's standing frames, pixels); left/right swaps;
- per rep: reps matched one to one by bottom time (ours inside the true rep, nearest first);
  start / bottom / end time (the bottom against the true pause at the bottom: the rendered
  knees hold still to the hundredth of a degree for 0.2-0.3 s and the truth's bottom frame is
  just one of those frames; 0 inside the pause), depth (our depth_knee_angle against the true minimum of
  knee_angle_2d over the rep's frames), hip below knee (against truth.json's 3D verdict and
  truth.csv's image verdict), trunk lean and hip / knee moment arms at the bottom (ours at our
  bottom frame, the truth's at its bottom frame; moment-arm errors × the true femur);
  the bar's distance ahead of the midfoot in cm (barbell clips);
- per clip: femur/torso and shin/femur against the truth's keypoint proportions, the view;
- bar speed (MCV, peak velocity, bar rise, the set's velocity loss) against the bar's exact height,
  for renders whose truth.csv has `bar_height_m` (squat.eval.bar_speed; absent otherwise).
Targets (TARGETS, and BAR_SPEED_TARGETS where the bar's height is known) apply to side-view clips only.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Optional, TextIO

import numpy as np
import pandas as pd

from squat import results
from squat.errors import SquatError
from squat.eval.bar_speed import bar_speed_errors, bar_speed_targets, format_bar_speed
from squat.numbers import number

# Truth knee_angle_2d below this (degrees) is "at depth".
DEPTH_KNEE_ANGLE = 110.0
# Our angle column → the truth's column it is measured against.
ANGLE_PAIRS: dict[str, str] = {
    "knee_angle": "knee_angle_2d",
    "hip_angle": "hip_angle_2d",
    "trunk_lean": "trunk_lean_2d",
    "shin_angle": "shin_angle_2d",
}
# Joints whose position is checked; "{s}" is the truth's camera side ("r"/"l").
KEYPOINTS: dict[str, str] = {
    "hip": "{s}_hip", "knee": "{s}_knee", "ankle": "{s}_ankle", "neck": "neck", "shoulder": "{s}_shoulder",
}
# A swap is only decidable where the truth's two legs lie apart in the image: mean distance
# between the left and right hip, knee and ankle at least this × femur. Side-on and standing
# the legs nearly overlap (synth: hips 0.01, knees 0.1, ankles 0.25 femur apart).
SWAP_MIN_SEPARATION = 0.1
SWAP_JOINTS = ("hip", "knee", "ankle")
# Our two legs must lie apart by at least this share of the truth's separation, along it, for a
# frame to count as right or swapped (else undecided: our legs overlap).
SWAP_MARGIN = 0.5
# Issue targets for side-view clips: name → (measure key, limit, unit). A measure passes when
# |value| <= limit; a missing value (nothing measured) fails.
TARGETS: dict[str, tuple[str, float, str]] = {
    "knee MAE, all frames": ("knee_mae", 4.0, "°"),
    "knee MAE, at depth": ("knee_mae_at_depth", 6.0, "°"),
    "hip angle MAE": ("hip_mae", 5.0, "°"),
    "trunk lean MAE": ("trunk_lean_mae", 4.0, "°"),
    "reps missed": ("reps_missed", 0, ""),
    "reps invented": ("reps_invented", 0, ""),
    "bottom time, worst rep": ("bottom_time_max_abs_error_s", 0.1, " s"),
    "hip below knee, reps wrong": ("hip_below_knee_wrong", 0, ""),
    "femur/torso error": ("femur_to_torso_error_pct", 8.0, "%"),
    "hip moment arm at bottom, worst": ("hip_moment_arm_max_abs_error_femur", 0.10, " ×femur"),
}
TRUTH_FILES = ("truth.csv", "truth.json")


# ----------------------------------------------------------------------------- reading

def load_run(run_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """frames.csv, reps.csv and summary.json of an analysis folder (read through squat.results)."""
    run = results.read(run_dir)
    _require_columns(run.path("frames.csv"), run.frames, ("frame", "time_s", "detected", *ANGLE_PAIRS,
                                                          "hip_moment_arm", "knee_moment_arm"))
    _require_columns(run.path("reps.csv"), run.reps, ("rep", "start_time", "bottom_time", "end_time",
                                                      "bottom_frame", "depth_knee_angle", "hip_below_knee"))
    return run.frames, run.reps, dict(run.summary.raw)


def load_truth(truth_dir: str | Path) -> tuple[pd.DataFrame, dict]:
    """truth.csv and truth.json of a rendered clip."""
    truth = Path(truth_dir)
    _require(truth, TRUTH_FILES, "give a folder of the rendered squats (truth.csv, truth.json)")
    meta = _read_json(truth / "truth.json")
    for key in ("camera_side_leg", "camera_azimuth_deg", "reps", "body"):
        if key not in meta:
            raise SquatError(f"{truth / 'truth.json'} has no {key!r}: not a rendered squat's truth")
    frames = _read_csv(truth / "truth.csv", ("frame", "time_s", "phase", *ANGLE_PAIRS.values(),
                                              "hip_moment_arm_px", "knee_moment_arm_px", "hip_below_knee_2d"))
    return frames, meta


def _require(folder: Path, names: tuple[str, ...], hint: str) -> None:
    if not folder.is_dir():
        raise SquatError(f"{folder} is not a folder: {hint}")
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise SquatError(f"{folder} has no {', '.join(missing)}: {hint}")


def _read_csv(path: Path, needed: tuple[str, ...]) -> pd.DataFrame:
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SquatError(f"{path} is not a readable CSV ({exc.__class__.__name__})") from None
    return _require_columns(path, table, needed)


def _require_columns(path: Path, table: pd.DataFrame, needed: tuple[str, ...]) -> pd.DataFrame:
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise SquatError(f"{path} lacks the column(s) {', '.join(missing)}")
    return table


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SquatError(f"{path} is not readable JSON ({exc.__class__.__name__})") from None


# ----------------------------------------------------------------------------- measures

def error_stats(ours: np.ndarray, truth: np.ndarray, at_depth: Optional[np.ndarray] = None) -> dict:
    """Errors of one per-frame angle (degrees): MAE, 90th percentile of |error| and mean signed
    error (bias) over the frames where both are known, the same at depth, and coverage (share of
    frames where we have a value)."""
    ours, truth = np.asarray(ours, float), np.asarray(truth, float)
    err = ours - truth
    ok = np.isfinite(err)
    depth = np.zeros_like(ok) if at_depth is None else np.asarray(at_depth, bool)
    out = {
        "mae": _mean(np.abs(err[ok])), "p90": _p90(np.abs(err[ok])), "bias": _mean(err[ok]),
        "mae_at_depth": _mean(np.abs(err[ok & depth])), "p90_at_depth": _p90(np.abs(err[ok & depth])),
        "coverage": float(np.isfinite(ours).mean()) if len(ours) else math.nan,
        "coverage_at_depth": float(np.isfinite(ours[depth]).mean()) if depth.any() else math.nan,
        "frames": int(ok.sum()), "frames_at_depth": int((ok & depth).sum()),
    }
    return out


def femur_length_px(truth: pd.DataFrame, side: str) -> float:
    """The true femur (camera-side hip → knee keypoints, pixels): median over the standing frames
    (all frames if none stand)."""
    stand = truth[truth["phase"] == "stand"]
    rows = stand if len(stand) else truth
    return float(np.nanmedian(_dist(_xy(rows, f"{side}_hip"), _xy(rows, f"{side}_knee"))))


def keypoint_errors(ours: pd.DataFrame, truth: pd.DataFrame, side: str, femur_px: float,
                    at_depth: Optional[np.ndarray] = None) -> dict:
    """Per joint of KEYPOINTS: distance from ours to the truth's point of the same name (pixels and
    × femur): mean, median, 90th percentile, and the mean × femur in the frames at depth; the
    mean offset in x and y (pixels, image axes: +y is down); coverage = share of frames where we
    have the point."""
    out = {}
    deep = np.zeros(len(truth), bool) if at_depth is None else at_depth
    for joint, pattern in KEYPOINTS.items():
        name = pattern.format(s=side)
        offset = _xy(ours, name) - _xy(truth, name)
        d = np.hypot(*offset.T)
        ok = d[np.isfinite(d)]
        out[joint] = {
            "keypoint": name, "mean_px": _mean(ok), "median_px": _median(ok), "p90_px": _p90(ok),
            "bias_x_px": _mean(offset[:, 0]), "bias_y_px": _mean(offset[:, 1]),
            "mean_femur": _mean(ok) / femur_px, "p90_femur": _p90(ok) / femur_px,
            "mean_femur_at_depth": _mean(_finite(d[deep])) / femur_px,
            "coverage": float(np.isfinite(d).mean()) if len(d) else math.nan,
        }
    return out


def midfoot_errors(ours: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """Our midfoot line (midfoot_x) against the truth's midfoot (midpoint of the camera-side heel
    and big toe): pixels, and cm at the lifter's plane (pixels per metre from the truth's hip
    moment arm, in pixels and in metres, where it is over 5 cm)."""
    if "midfoot_x" not in ours or "midfoot_x" not in truth:
        return {"mae_px": math.nan, "mae_cm": math.nan, "bias_cm": math.nan}
    err = ours["midfoot_x"].to_numpy(float) - truth["midfoot_x"].to_numpy(float)
    arm_px, arm_m = truth["hip_moment_arm_px"].to_numpy(float), truth["hip_moment_arm_m"].to_numpy(float)
    long_arm = arm_m > 0.05
    px_per_m = float(np.median(arm_px[long_arm] / arm_m[long_arm])) if long_arm.any() else math.nan
    mae = _mean(np.abs(_finite(err)))
    return {"mae_px": mae, "mae_cm": 100 * mae / px_per_m, "bias_cm": 100 * _mean(_finite(err)) / px_per_m}


def swapped_frames(ours: pd.DataFrame, truth: pd.DataFrame, side: str, femur_px: float,
                   min_separation: float = SWAP_MIN_SEPARATION, margin: float = SWAP_MARGIN) -> dict:
    """Frames where our camera-side hip, knee and ankle sit on the truth's other leg.

    With Δ the truth's other-side minus same-side point of each joint (hip, knee, ankle), summed
    over the joints we have:
    - both our legs: r = Σ (ours same-side − ours other-side)·Δ / Σ |Δ|², -1 when our legs are
      labelled right, +1 when the other way round, 0 when our two legs coincide. Swapped when
      r > margin, right when r < -margin, else undecided (our legs overlap along Δ). All our
      points off in one direction do not change r.
    - only our camera-side leg: swapped when it lies nearer the truth's other-side joints than
      the same side's (Σ squared distances), as the plain definition says; an offset of all our
      points towards the far leg reads as a swap here.
    Only frames where the truth's legs are at least min_separation × femur apart (mean over the
    three joints) count; side-on they are 0.13-0.17 × femur apart in the rendered clips.
    """
    other = "l" if side == "r" else "r"
    n = len(truth)
    both_num, both_den, one_num, one_den, apart = (np.zeros(n) for _ in range(5))
    for joint in SWAP_JOINTS:
        a, b = _xy(ours, f"{side}_{joint}"), _xy(ours, f"{other}_{joint}")
        t_s = _xy(truth, f"{side}_{joint}")
        delta = _xy(truth, f"{other}_{joint}") - t_s
        d2 = np.sum(delta**2, axis=1)
        both = np.isfinite(a).all(1) & np.isfinite(b).all(1) & np.isfinite(d2)
        one = np.isfinite(a).all(1) & ~np.isfinite(b).all(1) & np.isfinite(d2)
        both_num += np.where(both, np.sum(np.nan_to_num(a - b) * np.nan_to_num(delta), axis=1), 0)
        both_den += np.where(both, d2, 0)
        one_num += np.where(one, np.sum(np.nan_to_num(a - t_s) * np.nan_to_num(delta), axis=1), 0)
        one_den += np.where(one, d2, 0)
        apart += np.nan_to_num(np.sqrt(d2)) / len(SWAP_JOINTS)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = both_num / both_den  # both legs: -1 right, +1 swapped
        u = one_num / one_den  # one leg: 0 on the same side's joints, 1 on the other side's
    legs_apart = apart >= min_separation * femur_px
    use_both = (both_den > 0) & legs_apart
    use_one = (both_den == 0) & (one_den > 0) & legs_apart
    swapped = (use_both & (r > margin)) | (use_one & (u > 0.5))
    decided = (use_both & (np.abs(r) > margin)) | use_one
    undecided = use_both & ~decided
    frames = truth["frame"].to_numpy()[swapped]
    return {
        "swapped_frames": int(swapped.sum()), "decidable_frames": int(decided.sum()),
        "undecided_frames": int(undecided.sum()), "one_leg_frames": int(use_one.sum()),
        "share": float(swapped.sum() / decided.sum()) if decided.any() else math.nan,
        "frames": [int(f) for f in frames],
    }


def bar_midfoot_errors(ours: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """Our bar_midfoot_cm against the truth's bar_minus_midfoot_m (cm, + ahead of the midfoot) in
    the frames both have; empty (NaN) for a clip without a bar."""
    if "bar_midfoot_cm" not in ours or "bar_minus_midfoot_m" not in truth \
            or not np.isfinite(truth["bar_minus_midfoot_m"].to_numpy(float)).any():
        return {"mae_cm": math.nan, "bias_cm": math.nan, "coverage": 0.0, "truth_range_cm": [math.nan, math.nan]}
    true_cm = 100.0 * truth["bar_minus_midfoot_m"].to_numpy(float)
    err = ours["bar_midfoot_cm"].to_numpy(float) - true_cm
    seen = np.isfinite(err)
    return {
        "mae_cm": float(np.abs(err[seen]).mean()) if seen.any() else math.nan,
        "bias_cm": float(err[seen].mean()) if seen.any() else math.nan,
        "coverage": float(seen.mean()) if len(seen) else 0.0,
        "truth_range_cm": [float(np.nanmin(true_cm)), float(np.nanmax(true_cm))],
    }


def match_reps(ours: pd.DataFrame, true_reps: list[dict]) -> list[tuple[int, int]]:
    """Pairs (true index, our index): our bottom time must fall inside the true rep
    (start..end time); one to one, nearest bottom times first."""
    pairs = []
    for i, t in enumerate(true_reps):
        for j, bottom in enumerate(ours["bottom_time"].to_numpy(float)):
            if t["start_time_s"] <= bottom <= t["end_time_s"]:
                pairs.append((abs(bottom - t["bottom_time_s"]), i, j))
    return one_to_one(pairs)


def one_to_one(pairs: list[tuple[float, int, int]]) -> list[tuple[int, int]]:
    """From candidate (cost, i, j) pairs, each i and each j used once, cheapest first; sorted (i, j)."""
    used_i, used_j, out = set(), set(), []
    for _, i, j in sorted(pairs):
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            out.append((i, j))
    return sorted(out)


def rep_errors(ours: pd.DataFrame, our_reps: pd.DataFrame, truth: pd.DataFrame, true_reps: list[dict],
               femur_px: float) -> dict:
    """Rep counts and, per matched rep, the timing, depth, hip-below-knee and bottom errors."""
    pairs = match_reps(our_reps, true_reps)
    per_rep = []
    frame_of = {int(f): k for k, f in enumerate(truth["frame"])}
    ours_by_frame = ours.set_index("frame")
    for i, j in pairs:
        t, o = true_reps[i], our_reps.iloc[j]
        span = truth[(truth["frame"] >= t["start_frame"]) & (truth["frame"] <= t["end_frame"])]
        tb = truth.iloc[frame_of[int(t["bottom_frame"])]]
        ob = ours_by_frame.loc[int(o["bottom_frame"])] if int(o["bottom_frame"]) in ours_by_frame.index else None
        at_bottom = {c: float(ob[c]) if ob is not None else math.nan
                     for c in ("trunk_lean", "hip_moment_arm", "knee_moment_arm")}
        below = _bool(o["hip_below_knee"])
        # The true pause at the bottom, with the truth's own bottom frame (it can sit just outside).
        window = [*span.loc[span["phase"] == "bottom", "time_s"], t["bottom_time_s"]]
        first, last = min(window), max(window)
        bottom = float(o["bottom_time"])
        true_below_2d = bool(span["hip_below_knee_2d"].max() > 0)

        per_rep.append({
            "true_rep": int(t["rep"]), "our_rep": int(o["rep"]),
            "start_time_error_s": float(o["start_time"]) - t["start_time_s"],
            "bottom_time_error_s": bottom - float(np.clip(bottom, first, last)),  # to the pause
            "bottom_frame_time_error_s": bottom - t["bottom_time_s"],  # to the truth's one bottom frame
            "end_time_error_s": float(o["end_time"]) - t["end_time_s"],
            "depth_ours": float(o["depth_knee_angle"]), "depth_truth_2d": float(span["knee_angle_2d"].min()),
            "depth_error": float(o["depth_knee_angle"]) - float(span["knee_angle_2d"].min()),
            "hip_below_knee": below, "hip_below_knee_truth": bool(t["hip_below_knee_at_bottom"]),
            "hip_below_knee_truth_2d": true_below_2d,
            "hip_below_knee_right": below == bool(t["hip_below_knee_at_bottom"]),
            "hip_below_knee_right_2d": below == true_below_2d,
            "trunk_lean_at_bottom_error": at_bottom["trunk_lean"] - float(tb["trunk_lean_2d"]),
            "hip_moment_arm_at_bottom_error_femur":
                (at_bottom["hip_moment_arm"] - float(tb["hip_moment_arm_px"])) / femur_px,
            "knee_moment_arm_at_bottom_error_femur":
                (at_bottom["knee_moment_arm"] - float(tb["knee_moment_arm_px"])) / femur_px,
        })
    matched_t, matched_o = {i for i, _ in pairs}, {j for _, j in pairs}
    rows = pd.DataFrame(per_rep)

    def worst(column: str) -> float:
        return _max(np.abs(rows[column].to_numpy(float))) if len(rows) else math.nan

    def mae(column: str) -> float:
        return _mean(np.abs(rows[column].to_numpy(float))) if len(rows) else math.nan

    right = int(rows["hip_below_knee_right"].sum()) if len(rows) else 0
    right_2d = int(rows["hip_below_knee_right_2d"].sum()) if len(rows) else 0
    return {
        "true": len(true_reps), "found": len(our_reps), "matched": len(pairs),
        "missed": len(true_reps) - len(pairs), "invented": len(our_reps) - len(pairs),
        "missed_reps": [int(t["rep"]) for i, t in enumerate(true_reps) if i not in matched_t],
        "invented_reps": [int(r) for j, r in enumerate(our_reps["rep"]) if j not in matched_o],
        "per_rep": per_rep,
        "summary": {
            "start_time_mae_s": mae("start_time_error_s"), "bottom_time_mae_s": mae("bottom_time_error_s"),
            "end_time_mae_s": mae("end_time_error_s"), "bottom_time_max_abs_error_s": worst("bottom_time_error_s"),
            "depth_mae": mae("depth_error"), "depth_max_abs_error": worst("depth_error"),
            "hip_below_knee_right": right, "hip_below_knee_right_2d": right_2d,
            # A missed rep counts as a wrong verdict: the lifter is told nothing about it.
            "hip_below_knee_wrong": len(true_reps) - right,
            "trunk_lean_at_bottom_mae": mae("trunk_lean_at_bottom_error"),
            "hip_moment_arm_mae_femur": mae("hip_moment_arm_at_bottom_error_femur"),
            "hip_moment_arm_max_abs_error_femur": worst("hip_moment_arm_at_bottom_error_femur"),
            "knee_moment_arm_mae_femur": mae("knee_moment_arm_at_bottom_error_femur"),
            "knee_moment_arm_max_abs_error_femur": worst("knee_moment_arm_at_bottom_error_femur"),
        },
    }


def proportion_errors(summary: dict, meta: dict) -> dict:
    """summary.json's femur/torso and shin/femur against the truth's keypoint proportions (% error)."""
    ours = summary.get("proportions") or {}
    truth = meta["body"].get("segment_lengths_detail", {}).get("keypoints", {})
    out = {}
    for name in ("femur_to_torso", "shin_to_femur"):
        o, t = number(ours.get(name)), number(truth.get(name))
        out[name] = {"ours": o, "truth": t, "error_pct": 100 * (o - t) / t if t else math.nan}
    return out


# A camera this close to side-on (degrees), on either side of the lifter, films a side view: a
# phone a few degrees off square, or on the lifter's left (azimuth −90°), is how lifters film.
SIDE_VIEW_TOLERANCE_DEG = 15.0


def is_side_view(azimuth_deg: float) -> bool:
    """The truth's view: side-on when the camera is within SIDE_VIEW_TOLERANCE_DEG of 90° or 270° azimuth."""
    a = float(azimuth_deg) % 360
    return min(abs(a - 90), abs(a - 270)) <= SIDE_VIEW_TOLERANCE_DEG


def view_verdict(summary: dict, meta: dict) -> dict:
    ours = (summary.get("view") or {}).get("view")
    truth_side = is_side_view(meta["camera_azimuth_deg"])
    return {"ours": ours, "truth": "side" if truth_side else "not side",
            "right": (ours == "side") == truth_side}


def check_targets(measures: dict, side_view: bool,
                  targets: dict[str, tuple[str, float, str]] = TARGETS) -> list[dict]:
    """Each target (TARGETS unless given) with its measured value and PASS / FAIL ("no target" off a side view)."""
    out = []
    for name, (key, limit, unit) in targets.items():
        value = measures.get(key, math.nan)
        if not side_view:
            status = "no target"
        else:
            status = "PASS" if value is not None and np.isfinite(value) and abs(value) <= limit else "FAIL"
        out.append({"name": name, "measure": key, "value": value, "limit": limit, "unit": unit, "status": status})
    return out


def evaluate(frames: pd.DataFrame, reps: pd.DataFrame, summary: dict, truth: pd.DataFrame, meta: dict) -> dict:
    """All the numbers, as a JSON-ready dict (NaN where nothing could be measured)."""
    if len(frames) != len(truth):
        raise SquatError(f"the run has {len(frames)} frames and the truth {len(truth)}: not the same clip")
    size, true_size = (summary.get("video") or {}), (meta.get("width"), meta.get("height"))
    if None not in true_size and (size.get("width"), size.get("height")) not in ((None, None), true_size):
        raise SquatError(f"the run is {size.get('width')}x{size.get('height')} and the truth "
                         f"{true_size[0]}x{true_size[1]}: not the same clip")
    frames = frames.sort_values("frame").reset_index(drop=True)
    truth = truth.sort_values("frame").reset_index(drop=True)
    side = meta["camera_side_leg"]
    femur = femur_length_px(truth, side)
    at_depth = truth["knee_angle_2d"].to_numpy(float) < DEPTH_KNEE_ANGLE
    angles = {ours: error_stats(frames[ours].to_numpy(float), truth[col].to_numpy(float), at_depth)
              for ours, col in ANGLE_PAIRS.items()}
    rep = rep_errors(frames, reps, truth, list(meta["reps"]), femur)
    speed = bar_speed_errors(reps, summary, truth, list(meta["reps"]), match_reps(reps, list(meta["reps"])))
    props = proportion_errors(summary, meta)
    view = view_verdict(summary, meta)
    side_view = is_side_view(meta["camera_azimuth_deg"])
    measures = {
        "knee_mae": angles["knee_angle"]["mae"], "knee_mae_at_depth": angles["knee_angle"]["mae_at_depth"],
        "hip_mae": angles["hip_angle"]["mae"], "trunk_lean_mae": angles["trunk_lean"]["mae"],
        "reps_missed": rep["missed"], "reps_invented": rep["invented"],
        "femur_to_torso_error_pct": props["femur_to_torso"]["error_pct"], **rep["summary"],
        **(speed["summary"] if speed else {}),
    }
    detected = frames["detected"].map(_bool).to_numpy(bool)
    return results.jsonable({
        "clip": {
            "frames": len(truth), "duration_s": float(truth["time_s"].iloc[-1]) if len(truth) else 0.0,
            "width": meta.get("width"), "height": meta.get("height"),
            "camera_azimuth_deg": meta["camera_azimuth_deg"], "side_view": side_view,
            "camera_side": _side_word(side), "our_side": summary.get("side"),
            "femur_px": femur, "frames_at_depth": int(at_depth.sum()),
        },
        "frames": {
            "detected_share": float(detected.mean()) if len(detected) else math.nan,
            "angles": angles,
            "keypoints": keypoint_errors(frames, truth, side, femur, at_depth),
            "midfoot": midfoot_errors(frames, truth),
            "swaps": swapped_frames(frames, truth, side, femur),
            "bar_midfoot": bar_midfoot_errors(frames, truth),
        },
        "reps": rep,
        "proportions": props,
        "view": view,
        **({"bar_speed": speed} if speed else {}),  # left out for renders without the bar's height
        "targets": check_targets(measures, side_view, {**TARGETS, **bar_speed_targets(speed)}),
    })


# ----------------------------------------------------------------------------- the report

def format_report(result: dict, run_dir: str = "", truth_dir: str = "") -> str:
    """The plain-text table the CLI prints."""
    c, f, r = result["clip"], result["frames"], result["reps"]
    lines = [
        f"evaluate {run_dir} against {truth_dir}".rstrip(),
        f"clip: {c['frames']} frames, {c['width']}x{c['height']}, camera at {_g(c['camera_azimuth_deg'], '.0f')}° "
        f"({'side view' if c['side_view'] else 'not a side view'}), camera-side leg {c['camera_side']} "
        f"(ours: {c['our_side']}), true femur {_g(c['femur_px'], '.1f')} px, {c['frames_at_depth']} frames at depth "
        f"(true knee < {DEPTH_KNEE_ANGLE:.0f}°)",
        "",
        f"PER FRAME   lifter found in {_pct(f['detected_share'])} of frames",
        f"  {'angle (°)':12} {'MAE':>6} {'p90':>6} {'bias':>6}  {'MAE@depth':>9} {'p90@depth':>9}  {'coverage':>8}",
    ]
    for name, a in f["angles"].items():
        lines.append(f"  {name:12} {_g(a['mae'])!s:>6} {_g(a['p90'])!s:>6} {_g(a['bias'], '+.1f')!s:>6}  "
                     f"{_g(a['mae_at_depth'])!s:>9} {_g(a['p90_at_depth'])!s:>9}  {_pct(a['coverage']):>8}")
    lines += ["", f"  {'keypoint':22} {'mean px':>7} {'p90 px':>7} {'mean ×femur':>12} {'p90 ×femur':>11} "
                  f"{'offset x,y px':>14} {'coverage':>9}"]
    for name, k in f["keypoints"].items():
        lines.append(f"  {name + ' (' + k['keypoint'] + ')':22} {_g(k['mean_px'])!s:>7} {_g(k['p90_px'])!s:>7} "
                     f"{_g(k['mean_femur'], '.3f')!s:>12} {_g(k['p90_femur'], '.3f')!s:>11} "
                     f"{_g(k['bias_x_px'], '+.1f') + ',' + _g(k['bias_y_px'], '+.1f'):>14} {_pct(k['coverage']):>9}")
    s = f["swaps"]
    lines += [f"  left/right swapped: {s['swapped_frames']} of {s['decidable_frames']} decidable frames"
              + (f" ({_pct(s['share'])})" if s["decidable_frames"] else "")
              + f"; undecided (our legs overlap) {s['undecided_frames']}{_frame_ranges(s['frames'])}"]
    b = f.get("bar_midfoot") or {}
    if b.get("coverage"):
        low, high = b["truth_range_cm"]
        lines.append(f"  bar over the midfoot: MAE {_g(b['mae_cm'], '.1f')} cm, bias {_g(b['bias_cm'], '+.1f')} cm, "
                     f"coverage {_pct(b['coverage'])} (truth {low:+.1f} to {high:+.1f} cm)")
    lines.append("")

    lines.append(f"PER REP   true {r['true']}, found {r['found']}, matched {r['matched']}, missed {r['missed']}"
                 + (f" {r['missed_reps']}" if r["missed_reps"] else "") + f", invented {r['invented']}"
                 + (f" (our reps {r['invented_reps']})" if r["invented_reps"] else ""))
    if r["per_rep"]:
        lines += [
            f"  {'rep':7} {'start':>6} {'bottom':>6} {'end':>6}   {'depth ours/true':>15} {'error':>5}   "
            f"{'hip<knee ours/3D/2D':>19}   {'lean@bottom':>11} {'hip MA':>7} {'knee MA':>7}",
            f"  {'true→ours':9} {'time error (s)':>18}   {'(° knee, true in 2D)':>21}   {'':19}   "
            f"{'error (°)':>11} {'error (×femur)':>15}",
        ]
        for p in r["per_rep"]:
            below = "/".join(_yn(p[k]) for k in ("hip_below_knee", "hip_below_knee_truth", "hip_below_knee_truth_2d"))
            lines.append(
                f"  {str(p['true_rep']) + '→' + str(p['our_rep']):7} {_g(p['start_time_error_s'], '+.2f'):>6} "
                f"{_g(p['bottom_time_error_s'], '+.2f'):>6} {_g(p['end_time_error_s'], '+.2f'):>6}   "
                f"{_g(p['depth_ours']) + ' / ' + _g(p['depth_truth_2d']):>15} {_g(p['depth_error'], '+.1f'):>5}   "
                f"{below + ('  ' if p['hip_below_knee_right'] else ' ✗'):>19}   "
                f"{_g(p['trunk_lean_at_bottom_error'], '+.1f'):>11} "
                f"{_g(p['hip_moment_arm_at_bottom_error_femur'], '+.3f'):>7} "
                f"{_g(p['knee_moment_arm_at_bottom_error_femur'], '+.3f'):>7}")
        m = r["summary"]
        lines.append(
            f"  {'|mean|':7} {_g(m['start_time_mae_s'], '.2f'):>6} {_g(m['bottom_time_mae_s'], '.2f'):>6} "
            f"{_g(m['end_time_mae_s'], '.2f'):>6}   {'':15} {_g(m['depth_mae']):>5}   "
            f"{str(m['hip_below_knee_right']) + ' of ' + str(r['true']) + ' right':>19}   "
            f"{_g(m['trunk_lean_at_bottom_mae']):>11} {_g(m['hip_moment_arm_mae_femur'], '.3f'):>7} "
            f"{_g(m['knee_moment_arm_mae_femur'], '.3f'):>7}")
        lines.append("  (errors are ours − truth; ✗: our hip-below-knee verdict differs from the 3D truth)")
    lines.append("")
    lines += format_bar_speed(result.get("bar_speed"))

    p, v = result["proportions"], result["view"]
    lines.append("PER CLIP")
    for name, label in (("femur_to_torso", "femur/torso"), ("shin_to_femur", "shin/femur")):
        x = p[name]
        lines.append(f"  {label:12} ours {_g(x['ours'], '.3f')}  truth {_g(x['truth'], '.3f')}  "
                     f"error {_g(x['error_pct'], '+.1f')}%")
    lines += [f"  {'view':12} ours {v['ours']}, truth {v['truth']}: {'right' if v['right'] else 'WRONG'}", ""]

    lines.append("TARGETS" + ("" if c["side_view"] else "   (not a side view: no targets)"))
    for t in result["targets"]:
        value = _g(t["value"], ".3f" if "femur" in t["unit"] or t["unit"] == " m/s" else ".2f" if t["unit"] == " s"
                   else ".1f")
        if isinstance(t["value"], int):
            value = str(t["value"])
        limit = f"{_g(t['limit'], 'g')}{t['unit']}"
        lines.append(f"  {t['name']:34} {value + t['unit']:>12}  ≤ {limit:<12} {t['status']}")
    return "\n".join(lines)


def main(run_dir: str | Path, truth_dir: str | Path, json_path: Optional[str | Path] = None,
         stream: Optional[TextIO] = None) -> dict:
    """Read both folders, print the table to stream (stdout), write every number to json_path."""
    if json_path is not None and not Path(json_path).parent.is_dir():
        raise SquatError(f"{Path(json_path).parent} does not exist: give --json a file in an existing folder")
    frames, reps, summary = load_run(run_dir)
    truth, meta = load_truth(truth_dir)
    result = evaluate(frames, reps, summary, truth, meta)
    result = {"run": str(run_dir), "truth": str(truth_dir), **result}
    print(format_report(result, str(run_dir), str(truth_dir)), file=stream or sys.stdout)
    if json_path is not None:
        Path(json_path).write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
    return result


# ----------------------------------------------------------------------------- helpers

def _xy(table: pd.DataFrame, name: str) -> np.ndarray:
    cols = (f"{name}_x", f"{name}_y")
    if not all(c in table.columns for c in cols):
        return np.full((len(table), 2), np.nan)
    return table[list(cols)].to_numpy(float)


def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.hypot(*(a - b).T)


def _finite(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, float)
    return x[np.isfinite(x)]


def _mean(x: np.ndarray) -> float:
    x = _finite(x)
    return float(np.mean(x)) if len(x) else math.nan


def _median(x: np.ndarray) -> float:
    x = _finite(x)
    return float(np.median(x)) if len(x) else math.nan


def _p90(x: np.ndarray) -> float:
    x = _finite(x)
    return float(np.percentile(x, 90)) if len(x) else math.nan


def _max(x: np.ndarray) -> float:
    x = _finite(x)
    return float(np.max(x)) if len(x) else math.nan


def _bool(x) -> bool:
    if isinstance(x, str):
        return x.strip().lower() in ("true", "1", "yes")
    return bool(x) if x is not None and not (isinstance(x, float) and math.isnan(x)) else False


def _side_word(letter: str) -> str:
    return {"r": "right", "l": "left"}.get(letter, letter)


def _g(x, fmt: str = ".1f") -> str:
    return "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _yn(x: bool) -> str:
    return "yes" if x else "no"


def _frame_ranges(frames: list[int], most: int = 6) -> str:
    """' at frames 3-7, 40' (the first few runs of consecutive frames)."""
    if not frames:
        return ""
    runs, start, prev = [], frames[0], frames[0]
    for f in frames[1:] + [None]:
        if f is not None and f == prev + 1:
            prev = f
            continue
        runs.append(f"{start}-{prev}" if prev > start else str(start))
        if f is not None:
            start = prev = f
    more = f", … ({len(runs) - most} more)" if len(runs) > most else ""
    return " at frames " + ", ".join(runs[:most]) + more
