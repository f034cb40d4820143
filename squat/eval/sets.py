"""A whole set of clips in one command: `python -m squat evaluate --set DIR [--runs RUNS]`.

Every sub-folder of DIR holding `clip.mp4` and either a rendered truth (`truth.csv`,
`truth.json`) or eye labels (`label.json`) is one clip. Its analysis is read from RUNS/NAME
when that folder holds one, else made there first (`pipeline.run`, the CLI's `analyze`).
Prints one row per clip, the mean and the worst, and the set's targets:
- rendered side views (camera within ±15° of side-on, either side): mean knee, hip and lean
  MAE, lifter found, every rep found and none invented, hip below knee right on ≥ 95 % of
  reps, femur/torso within 8 % on ≥ 90 % of clips;
- labelled real clips: every rep found once with its bottom within 0.3 s, nothing invented,
  every depth call right, shin and femur CV on side clips, lifter found;
- every clip: the view verdict right.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Callable, Optional, TextIO

import numpy as np

from squat.errors import SquatError
from squat.eval.labels import bone_cv, evaluate_labels, identity_jumps, load_label, meets
from squat.eval.rendered import _g, _pct, evaluate, is_side_view, load_run, load_truth
from squat.numbers import number
from squat.results import jsonable
from squat.settings import Settings

# Set targets: name → (row key, how the clips combine, "<=" or ">=", limit, which clips).
SET_TARGETS: dict[str, tuple[str, str, str, float, str]] = {
    "knee MAE, mean": ("knee_mae", "mean", "<=", 4.0, "render_side"),
    "knee MAE at depth, mean": ("knee_mae_at_depth", "mean", "<=", 6.0, "render_side"),
    "hip angle MAE, mean": ("hip_mae", "mean", "<=", 5.0, "render_side"),
    "trunk lean MAE, mean": ("trunk_lean_mae", "mean", "<=", 4.0, "render_side"),
    "lifter found, mean": ("found_share", "mean", ">=", 0.95, "render_side"),
    "reps missed": ("reps_missed", "sum", "<=", 0, "all"),
    "reps invented": ("reps_invented", "sum", "<=", 0, "all"),
    "hip below knee right, share of reps": ("hip_below_knee_right", "share_of_reps", ">=", 0.95, "render_side"),
    "femur/torso within 8 %, share of clips": ("femur_to_torso_error_pct", "share_within_8", ">=", 0.9, "render_side"),
    "view verdict wrong": ("view_wrong", "sum", "<=", 0, "all"),
    "near leg wrong": ("leg_wrong", "sum", "<=", 0, "all"),
    "bottom time (labels), worst": ("bottom_time_max_abs_error_s", "max", "<=", 0.3, "label"),
    "depth calls wrong (labels)": ("depth_calls_wrong", "sum", "<=", 0, "label"),
    "shin CV (labelled side clips), worst": ("shin_cv", "max", "<=", 0.06, "label_side"),
    "femur CV (labelled side clips), worst": ("femur_cv", "max", "<=", 0.10, "label_side"),
    "lifter found (labels), worst": ("found_share", "min", ">=", 0.95, "label"),
}
COLUMNS = (  # key, header, format
    ("found_share", "found", "pct"), ("knee_mae", "knee", ".1f"), ("knee_mae_at_depth", "@depth", ".1f"),
    ("hip_mae", "hip", ".1f"), ("trunk_lean_mae", "lean", ".1f"), ("reps", "reps", "s"),
    ("bottom_time_max_abs_error_s", "bottom", ".2f"), ("depth_calls", "depth ok", "s"),
    ("femur_to_torso_error_pct", "f/t %", "+.0f"), ("view", "view", "s"), ("leg", "leg", "s"), ("shin_cv", "shinCV", ".3f"),
    ("femur_cv", "femCV", ".3f"), ("identity_jumps", "jumps", "d"), ("hip_at_depth_femur", "hip@d", ".2f"),
    ("midfoot_cm", "midfoot", ".1f"), ("mcv_max_abs_error_ms", "MCV err", ".3f"),
    ("velocity_loss_error_pct", "VL err", "+.1f"), ("passed", "targets", "s"),
)
# For the mean / worst rows: which way is worse.
WORSE_HIGH = ("knee_mae", "knee_mae_at_depth", "hip_mae", "trunk_lean_mae", "bottom_time_max_abs_error_s",
              "shin_cv", "femur_cv", "identity_jumps", "hip_at_depth_femur", "midfoot_cm", "mcv_max_abs_error_ms")
# Signed errors: the mean and the worst rows take their size.
SIGNED = ("femur_to_torso_error_pct", "velocity_loss_error_pct")


def clip_folders(set_dir: Path) -> list[Path]:
    """The clips of a set: sub-folders with clip.mp4 and a truth or a label, sorted by name."""
    if not set_dir.is_dir():
        raise SquatError(f"{set_dir} is not a folder: give a folder of clip folders (clip.mp4 + truth or label)")
    clips = sorted(p for p in set_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
                   and not p.name.endswith(".part") and (p / "clip.mp4").is_file()
                   and ((p / "truth.json").is_file() or (p / "label.json").is_file()))
    if not clips:
        raise SquatError(f"{set_dir} holds no clip folder (clip.mp4 with truth.json or label.json)")
    return clips


def ensure_run(clip: Path, run_dir: Path, analyse: Callable[[Path, Path], object]) -> Path:
    """The clip's analysis folder: kept when complete, else made with `analyse(video, run_dir)`."""
    if not all((run_dir / n).is_file() for n in ("frames.csv", "reps.csv", "summary.json")):
        analyse(clip / "clip.mp4", run_dir)
    return run_dir


def render_row(result: dict) -> dict:
    """One rendered clip's row from evaluate()'s result."""
    measures = {t["measure"]: t["value"] for t in result["targets"]}
    angles, reps = result["frames"]["angles"], result["reps"]
    speed = (result.get("bar_speed") or {}).get("summary", {})  # renders with the bar's height only
    side_view = result["clip"]["side_view"]
    return {
        "kind": "render", "side_view": side_view,
        "found_share": result["frames"]["detected_share"],
        "knee_mae": angles["knee_angle"]["mae"], "knee_mae_at_depth": angles["knee_angle"]["mae_at_depth"],
        "hip_mae": angles["hip_angle"]["mae"], "trunk_lean_mae": angles["trunk_lean"]["mae"],
        "reps_true": reps["true"], "reps_found": reps["found"], "reps_missed": reps["missed"],
        "reps_invented": reps["invented"],
        "bottom_time_max_abs_error_s": measures.get("bottom_time_max_abs_error_s"),
        "hip_below_knee_right": reps["summary"]["hip_below_knee_right"],
        "depth_calls_n": reps["true"], "depth_calls_right": reps["summary"]["hip_below_knee_right"],
        "femur_to_torso_error_pct": result["proportions"]["femur_to_torso"]["error_pct"],
        "view_ours": result["view"]["ours"], "view_truth": result["view"]["truth"],
        "view_wrong": int(not result["view"]["right"]),
        "leg_ours": result["clip"]["our_side"], "leg_truth": result["clip"]["camera_side"],
        "leg_wrong": int(result["clip"]["our_side"] != result["clip"]["camera_side"]),
        # the camera-side hip keypoint's distance from the truth's at depth, × femur; the midfoot line's error
        "hip_at_depth_femur": result["frames"]["keypoints"]["hip"]["mean_femur_at_depth"],
        "midfoot_cm": result["frames"]["midfoot"]["mae_cm"],
        # bar speed: the worst rep's MCV error (m/s) and the set's velocity loss error (percentage points)
        "mcv_max_abs_error_ms": speed.get("mcv_max_abs_error_ms"),
        "velocity_loss_error_pct": speed.get("velocity_loss_error_pct"),
        "passed": sum(t["status"] == "PASS" for t in result["targets"]),
        "judged": sum(t["status"] != "no target" for t in result["targets"]),
    }


def label_row(result: dict) -> dict:
    m = result["measures"]
    return {
        "kind": "label", "side_view": result["side_view"], "found_share": m["found_share"],
        "knee_mae": None, "knee_mae_at_depth": None, "hip_mae": None, "trunk_lean_mae": None,
        "reps_true": m["reps_true"], "reps_found": m["reps_found"], "reps_missed": m["reps_missed"],
        "reps_invented": m["reps_invented"], "bottom_time_max_abs_error_s": m["bottom_time_max_abs_error_s"],
        "depth_calls_n": m["depth_calls"], "depth_calls_right": m["depth_calls"] - m["depth_calls_wrong"],
        "depth_calls_wrong": m["depth_calls_wrong"], "femur_to_torso_error_pct": None,
        "view_ours": m["view_ours"], "view_truth": m["view_label"], "view_wrong": m["view_wrong"],
        "leg_ours": m["leg_ours"], "leg_truth": m["leg_label"], "leg_wrong": m["leg_wrong"],
        "shin_cv": m["shin_cv"], "femur_cv": m["femur_cv"], "identity_jumps": m["identity_jumps"],
        "passed": sum(t["status"] == "PASS" for t in result["targets"]),
        "judged": sum(t["status"] != "no target" for t in result["targets"]),
    }


def evaluate_clip(clip: Path, run_dir: Path) -> tuple[dict, dict]:
    """(row, full result) of one clip against its truth or its label."""
    frames, reps, summary = load_run(run_dir)
    if (clip / "truth.json").is_file():
        truth, meta = load_truth(clip)
        result = evaluate(frames, reps, summary, truth, meta)
        row = render_row(result)
        side = result["clip"]["camera_side"]
        femur = (summary.get("proportions") or {}).get("femur_px") or math.nan
        row.update(bone_cv(frames, side), identity_jumps=len(identity_jumps(frames, femur)))
    else:
        result = evaluate_labels(frames, reps, summary, load_label(clip))
        row = label_row(result)
    return jsonable({"clip": clip.name, **row}), result


def _group(rows: list[dict], which: str) -> list[dict]:
    return [r for r in rows if which == "all"
            or (which == "render_side" and r["kind"] == "render" and r["side_view"])
            or (which == "label" and r["kind"] == "label")
            or (which == "label_side" and r["kind"] == "label" and r["side_view"])]


def set_targets(rows: list[dict]) -> list[dict]:
    """Each SET_TARGET over the clips it applies to, with PASS / FAIL ("no clip" when none)."""
    out = []
    for name, (key, how, op, limit, which) in SET_TARGETS.items():
        group = _group(rows, which)
        values = np.array([number(r.get(key)) for r in group], float)
        if not group:
            out.append({"name": name, "value": None, "op": op, "limit": limit, "status": "no clip", "clips": 0})
            continue
        if how == "share_of_reps":
            total = sum(r["reps_true"] for r in group)
            value = float(np.nansum(values) / total) if total else math.nan
        elif how == "share_within_8":
            value = float(np.mean(np.abs(np.nan_to_num(values, nan=np.inf)) <= 8.0))
        elif how == "sum":
            value = float(np.nansum(values))
        elif how == "mean":
            value = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
        else:  # max / min: a clip without the value fails
            finite = values[np.isfinite(values)]
            value = math.nan if len(finite) < len(values) or not len(finite) else float(getattr(np, how)(finite))
        out.append({"name": name, "value": value, "op": op, "limit": limit,
                    "status": "PASS" if meets(value, op, limit) else "FAIL",
                    "clips": len(group)})
    return jsonable(out)


def _cell(row: dict, key: str, fmt: str) -> str:
    if key == "reps":
        extra = "".join(f" {sign}{row[k]}" for sign, k in (("-", "reps_missed"), ("+", "reps_invented")) if row[k])
        return f"{row['reps_found']}/{row['reps_true']}{extra}"
    if key == "depth_calls":
        return f"{row['depth_calls_right']}/{row['depth_calls_n']}" if row["depth_calls_n"] else "—"
    if key == "view":
        return f"{row['view_ours']}" + ("" if not row["view_wrong"] else f"≠{row['view_truth']}")
    if key == "leg":
        return "—" if not row.get("leg_truth") else f"{row['leg_ours']}" + ("≠" + row["leg_truth"] if row["leg_wrong"] else "")
    if key == "passed":
        return f"{row['passed']}/{row['judged']}" if row["judged"] else "—"
    value = row.get(key)
    if fmt == "pct":
        return _pct(value)
    if fmt == "d":
        return "—" if value is None else str(int(value))
    return _g(value, fmt)


def summary_rows(rows: list[dict]) -> list[dict]:
    """The mean and the worst of each numeric column over the clips that have it."""
    mean, worst = {"clip": "mean"}, {"clip": "worst"}
    for key, _, fmt in COLUMNS:
        if fmt == "s":
            continue
        values = np.array([number(r.get(key)) for r in rows], float)
        values = values[np.isfinite(values)]
        if key in SIGNED:
            values = np.abs(values)
        mean[key] = float(values.mean()) if len(values) else None
        if len(values):
            worst[key] = float(values.max() if key in WORSE_HIGH or key in SIGNED else values.min())
        else:
            worst[key] = None
    return [mean, worst]


def format_set(set_dir: str, rows: list[dict], targets: list[dict]) -> str:
    width = max([len(r["clip"]) for r in rows] + [10])
    head = f"{'clip':{width}}  " + " ".join(f"{h:>8}" for _, h, _ in COLUMNS)
    lines = [f"evaluate --set {set_dir}: {len(rows)} clips "
             f"({sum(r['kind'] == 'render' for r in rows)} rendered, {sum(r['kind'] == 'label' for r in rows)} labelled)",
             "", head]
    for r in rows:
        kind = "" if r["kind"] == "render" and r["side_view"] else " (not side)" if r["kind"] == "render" else ""
        lines.append(f"{r['clip']:{width}}  " + " ".join(f"{_cell(r, k, f):>8}" for k, _, f in COLUMNS) + kind)
    for s in summary_rows(rows):
        cells = [_pct(s.get(k)) if f == "pct" else _g(s.get(k), ".1f" if f == "d" else f) if f != "s" else ""
                 for k, _, f in COLUMNS]
        lines.append(f"{s['clip']:{width}}  " + " ".join(f"{c:>8}" for c in cells))
    lines += ["", "  knee/hip/lean: angle MAE (°) against the rendered truth; bottom: worst rep's bottom time error (s);",
              "  depth ok: hip-below-knee calls right / made; f/t %: femur/torso error; CV: bone-length variation;",
              "  jumps: frames where the track moved faster than a body can; MCV err: worst rep's mean concentric",
              "  velocity error (m/s), VL err: the set's velocity loss error (percentage points), on renders with the",
              "  bar's height; worst f/t and VL err are the largest |error|.",
              "", "SET TARGETS"]
    for t in targets:
        value = "—" if t["value"] is None else (_pct(t["value"]) if "share" in t["name"] or "found" in t["name"]
                                               else _g(t["value"], ".3f" if "CV" in t["name"] else ".2f"))
        limit = _pct(t["limit"]) if "share" in t["name"] or "found" in t["name"] else _g(t["limit"], "g")
        lines.append(f"  {t['name']:42} {value:>8}  {t['op']} {limit:<7} {t['status']}  ({t['clips']} clips)")
    return "\n".join(lines)


def main(set_dir: str | Path, runs_dir: Optional[str | Path] = None, json_path: Optional[str | Path] = None,
         video: bool = True, stream: Optional[TextIO] = None, settings: Optional[Settings] = None) -> dict:
    """Evaluate every clip of set_dir (analysing those without a run in runs_dir first, with settings)."""
    from squat.pipeline import run  # only when a clip still needs analysing

    set_dir = Path(set_dir)
    runs = Path(runs_dir) if runs_dir is not None else Path("runs") / "evaluate" / set_dir.name
    if json_path is not None and not Path(json_path).parent.is_dir():
        raise SquatError(f"{Path(json_path).parent} does not exist: give --json a file in an existing folder")
    rows, results = [], {}
    out = stream or sys.stdout
    for clip in clip_folders(set_dir):
        run_dir = runs / clip.name
        try:
            ensure_run(clip, run_dir, lambda v, d: run(v, d, settings or Settings(), annotated=video))
            row, result = evaluate_clip(clip, run_dir)
        except SquatError as exc:  # one clip that cannot be analysed is a row, not the end of the set
            print(f"  {clip.name}: {exc}", file=sys.stderr)
            row, result = _failed_row(clip), {"error": str(exc)}
        rows.append(row)
        results[clip.name] = result
    targets = set_targets(rows)
    print(format_set(str(set_dir), rows, targets), file=out)
    report = {"set": str(set_dir), "runs": str(runs), "rows": rows, "summary": jsonable(summary_rows(rows)),
              "targets": targets, "clips": results}
    if json_path is not None:
        Path(json_path).write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    return report


def _failed_row(clip: Path) -> dict:
    """A clip with no analysis (nobody found): every rep missed, the view unknown."""
    label = clip / "label.json"
    if label.is_file():
        meta = load_label(clip)
        true, side_view = len(meta["rep_bottoms_s"]), meta["view"] == "side"
    else:
        meta = json.loads((clip / "truth.json").read_text())
        true, side_view = len(meta.get("reps", [])), is_side_view(meta.get("camera_azimuth_deg", 0))
    return {"clip": clip.name, "kind": "label" if label.is_file() else "render", "side_view": bool(side_view),
            "found_share": 0.0, "reps_true": true, "reps_found": 0, "reps_missed": true, "reps_invented": 0,
            "depth_calls_n": 0, "depth_calls_right": 0, "hip_below_knee_right": 0, "view_ours": None,
            "view_truth": None, "view_wrong": 1, "leg_ours": None, "leg_truth": None, "leg_wrong": math.nan,
            "passed": 0, "judged": 0}
