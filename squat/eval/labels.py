"""How an analysis of a real clip compares with labels made by eye (`label.json`).

Real clips have no joint-angle truth; what a person can label and what needs no label is
checked instead (../shared/data/real/README.md says how the labels were made):
- reps: every labelled rep found once, its bottom near the labelled one, nothing invented
  (a labelled `partial_reps` entry may be reported or not);
- depth calls (hip below knee) where the label makes one;
- the view verdict: a side clip must not be warned as oblique, an oblique or front one must;
- label-free: the share of frames with the lifter, the coefficient of variation of the
  camera-side shin and femur length (side-on both keep their length, so a large CV means the
  keypoints wander), and identity jumps (the track moving faster than a body can).
Like `evaluate`, this reads only the files `analyze` wrote.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from squat.errors import SquatError
from squat.eval.rendered import _bool, _xy, one_to_one
from squat.measure.bones import bone_length_cvs
from squat.numbers import number
from squat.results import jsonable

# A labelled bottom is good to about ±0.15 s; ours may be this far from it.
BOTTOM_TOLERANCE_S = 0.3
# Our rep matches a labelled one when the labelled bottom lies inside our rep, or our bottom
# lies this close to it (a rep we cut short still counts as found, with its bottom error).
MATCH_WINDOW_S = 0.6
# Identity jump: the track's hips move further between two detected frames than
# JUMP_FEMUR × femur + JUMP_SPEED_FEMUR × femur per second (a squatting lifter's hips move at
# most ~2 femur lengths a second).
JUMP_FEMUR = 0.5
JUMP_SPEED_FEMUR = 4.0
VIEWS = ("side", "oblique", "front")
# name → (measure key, "<=" or ">=", limit); side-only measures are judged on side clips only.
LABEL_TARGETS: dict[str, tuple[str, str, float]] = {
    "reps missed": ("reps_missed", "<=", 0),
    "reps invented": ("reps_invented", "<=", 0),
    "bottom time, worst rep": ("bottom_time_max_abs_error_s", "<=", BOTTOM_TOLERANCE_S),
    "depth calls wrong": ("depth_calls_wrong", "<=", 0),
    "view verdict wrong": ("view_wrong", "<=", 0),
    "near leg wrong": ("leg_wrong", "<=", 0),
    "lifter found": ("found_share", ">=", 0.95),
    "shin length CV": ("shin_cv", "<=", 0.06),
    "femur length CV": ("femur_cv", "<=", 0.10),
    "identity jumps": ("identity_jumps", "<=", 0),
}
SIDE_ONLY = {"shin_cv", "femur_cv"}


def meets(value: float, op: str, limit: float) -> bool:
    """Whether a measured value meets a target `op limit` ("<=" or ">="); NaN or None never does."""
    if value is None or not np.isfinite(value):
        return False
    return value <= limit if op == "<=" else value >= limit


def load_label(folder: str | Path) -> dict:
    path = Path(folder) / "label.json"
    try:
        label = json.loads(path.read_text())
    except FileNotFoundError:
        raise SquatError(f"{path} not found: a labelled clip's folder holds label.json") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SquatError(f"{path} is not readable JSON ({exc.__class__.__name__})") from None
    for key in ("view", "rep_bottoms_s"):
        if key not in label:
            raise SquatError(f"{path} has no {key!r}: not a squat label")
    if label["view"] not in VIEWS:
        raise SquatError(f"{path}: view {label['view']!r} is not one of {', '.join(VIEWS)}")
    return label


def match_bottoms(reps: pd.DataFrame, bottoms_s: list[float], window_s: float = MATCH_WINDOW_S) -> list[tuple[int, int]]:
    """Pairs (label index, our index), one to one, nearest bottoms first: the labelled bottom
    inside our rep (start..end), or our bottom within window_s of it."""
    pairs = []
    for i, b in enumerate(bottoms_s):
        for j, r in enumerate(reps.itertuples()):
            inside = float(r.start_time) <= b <= float(r.end_time)
            gap = abs(float(r.bottom_time) - b)
            if inside or gap <= window_s:
                pairs.append((gap, i, j))
    return one_to_one(pairs)


def bone_cv(frames: pd.DataFrame, side: str) -> dict:
    """Coefficient of variation (std / mean) of the camera-side shin (ankle → knee) and femur
    (knee → hip) lengths over the frames where both ends are known."""
    out = {}
    for name, (cv, n) in bone_length_cvs(lambda joint: _xy(frames, joint), side).items():
        out[f"{name}_cv"], out[f"{name}_frames"] = cv, n
    return out


def identity_jumps(frames: pd.DataFrame, femur_px: float) -> list[int]:
    """Frames where the tracked hips move further from the previous detected frame than a body can."""
    hips = np.stack([_xy(frames, "r_hip"), _xy(frames, "l_hip")])
    # The mean of the hips seen (side-on one is often hidden); NaN where neither.
    seen_hips = np.isfinite(hips).sum(axis=0)
    centre = np.nansum(hips, axis=0) / np.where(seen_hips, seen_hips, np.nan)
    t = frames["time_s"].to_numpy(float)
    seen = np.flatnonzero(np.isfinite(centre).all(axis=1))
    if len(seen) < 2 or not np.isfinite(femur_px) or femur_px <= 0:
        return []
    step = np.hypot(*np.diff(centre[seen], axis=0).T)
    allowed = femur_px * (JUMP_FEMUR + JUMP_SPEED_FEMUR * np.diff(t[seen]))
    return [int(f) for f in frames["frame"].to_numpy()[seen[1:][step > allowed]]]


def evaluate_labels(frames: pd.DataFrame, reps: pd.DataFrame, summary: dict, label: dict) -> dict:
    """All the numbers of a labelled clip, as a JSON-ready dict."""
    bottoms = [float(b) for b in label["rep_bottoms_s"]]
    below = list(label.get("below_parallel") or [None] * len(bottoms))
    pairs = match_bottoms(reps, bottoms)
    partial = [float(b) for b in label.get("partial_reps_bottoms_s", [])]
    per_rep, calls_wrong, calls = [], 0, 0
    for i, j in pairs:
        ours = reps.iloc[j]
        call = _bool(ours["hip_below_knee"])
        truth = below[i] if i < len(below) else None
        if truth is not None:
            calls += 1
            calls_wrong += int(call != bool(truth))
        per_rep.append({"label_rep": i + 1, "our_rep": int(ours["rep"]), "bottom_label_s": bottoms[i],
                        "bottom_ours_s": float(ours["bottom_time"]),
                        "bottom_error_s": float(ours["bottom_time"]) - bottoms[i],
                        "depth_knee_angle": float(ours["depth_knee_angle"]),
                        "hip_below_knee": call, "below_parallel_label": truth})
    matched_j = {j for _, j in pairs}
    unmatched = [j for j in range(len(reps)) if j not in matched_j]
    partial_found = [j for j in unmatched if any(
        float(reps.iloc[j]["start_time"]) - 0.5 <= b <= float(reps.iloc[j]["end_time"]) + 0.5 for b in partial)]
    invented = [int(reps.iloc[j]["rep"]) for j in unmatched if j not in partial_found]
    # Depth calls on missed reps count as wrong: the lifter is told nothing about them.
    matched_i = {i for i, _ in pairs}
    missed_calls = sum(1 for i, call in enumerate(below[: len(bottoms)]) if i not in matched_i and call is not None)
    labelled_side = label.get("camera_side") if label.get("camera_side") in ("left", "right") else None
    side = labelled_side or summary.get("side", "right")
    props = summary.get("proportions") or {}
    jumps = identity_jumps(frames, number(props.get("femur_px")))
    detected = frames["detected"].map(_bool).to_numpy(bool) if "detected" in frames else np.zeros(len(frames), bool)
    ours_view = (summary.get("view") or {}).get("view")
    side_view = label["view"] == "side"
    errors = [abs(p["bottom_error_s"]) for p in per_rep]
    measures = {
        "reps_true": len(bottoms), "reps_found": int(len(reps)), "reps_matched": len(pairs),
        "reps_missed": len(bottoms) - len(pairs), "reps_invented": len(invented),
        "bottom_time_mae_s": float(np.mean(errors)) if errors else math.nan,
        "bottom_time_max_abs_error_s": float(np.max(errors)) if errors else math.nan,
        "depth_calls": calls + missed_calls, "depth_calls_wrong": calls_wrong + missed_calls,
        "view_ours": ours_view, "view_label": label["view"],
        "view_wrong": int((ours_view == "side") != side_view),
        # the leg measured is the one toward the camera (no label: a front view)
        "leg_ours": summary.get("side"), "leg_label": labelled_side,
        "leg_wrong": math.nan if labelled_side is None else int(summary.get("side") != labelled_side),
        "found_share": float(detected.mean()) if len(detected) else math.nan,
        **bone_cv(frames, side),
        "identity_jumps": len(jumps),
        "femur_to_torso": number(props.get("femur_to_torso")),
    }
    targets = []
    for name, (key, op, limit) in LABEL_TARGETS.items():
        value = measures.get(key, math.nan)
        if key in SIDE_ONLY and not side_view:
            status = "no target"
        elif (key == "depth_calls_wrong" and not measures["depth_calls"]) or (key == "leg_wrong" and labelled_side is None):
            status = "no target"
        else:
            status = "PASS" if meets(value, op, limit) else "FAIL"
        targets.append({"name": name, "measure": key, "value": value, "op": op, "limit": limit, "status": status})
    return jsonable({
        "kind": "label", "view": label["view"], "side_view": side_view, "camera_side": side,
        "measures": measures, "per_rep": per_rep, "invented_reps": invented,
        "partial_reps_found": [int(reps.iloc[j]["rep"]) for j in partial_found],
        "identity_jump_frames": jumps[:20], "targets": targets,
    })
