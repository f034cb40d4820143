"""Bar speed against the rendered truth (issue 16): part of `python -m squat evaluate`.

Renders by the current renderer carry the bar's exact height per frame (truth.csv `bar_height_m`,
metres above the floor); older renders and bodyweight clips do not, and then there is no
bar-speed part at all. Per rep, matched one to one with the truth's (rendered.match_reps), our
reps.csv MCV, peak velocity and concentric range (bar rise) are put beside:
- "truth" (judged): squat.measure.bar_speed's rep_velocities on the exact height with the true
  reps' frames, i.e. what our timing rule reads on a perfect plate track, independent of our rep
  detection. The renderer's own ascent cannot be the judged truth: it is timed by the knees, and
  the bar spends a quarter of it within 2 mm of its bottom or top (a 1.01 s ascent: within 2 mm of
  its lowest for the first 0.10 s, of its top for the last 0.15 s), which no bar sensor and no
  video can time. The engine times the ascent where the bar's upward speed passes
  max(0.05 m/s, 0.1 × the rep's peak), and its MCV reads ~1.4× the knee-timed one on the renders.
- "phase" (reference): the renderer's knee-timed ascent, from the last bottom / descent frame
  before the rep's first `ascent` frame to its last ascent frame: MCV = rise / truth.json's exact
  `ascent_duration_s` (frame times where it is absent: up to a frame off, 3 % of a 1 s ascent),
  peak = the largest finite-difference velocity of the exact height in between.
Errors are ours − truth. The set's velocity loss (fastest MCV to the last) is ours against the
truth's over all true reps, the phase's beside it.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from squat.measure.bar_speed import bar_velocity, rep_velocities, velocity_loss_pct
from squat.numbers import number

# Issue 16's targets, for side views of renders with the bar's height: name → (measure key, limit,
# unit), read by rendered.check_targets. A missing value (nothing measured) fails.
BAR_SPEED_TARGETS: dict[str, tuple[str, float, str]] = {
    "MCV, worst rep": ("mcv_max_abs_error_ms", 0.03, " m/s"),
    "MCV missing (true reps)": ("mcv_missing", 0, ""),
    "concentric range, worst rep": ("concentric_max_abs_error_cm", 2.0, " cm"),
    "set velocity loss error": ("velocity_loss_error_pct", 3.0, " pp"),
}
# The per-rep measures compared, (name, unit suffix): the column in reps.csv and in the truths' tables.
REP_MEASURES: tuple[tuple[str, str], ...] = (("mcv", "_ms"), ("peak_velocity", "_ms"), ("concentric", "_cm"))
PHASE_COLUMNS = ("rep", "start_frame", "end_frame", "concentric_s", *(n + u for n, u in REP_MEASURES))
REP_FRAME_COLUMNS = ("rep", "start_frame", "bottom_frame", "end_frame")


def has_bar_truth(truth: pd.DataFrame) -> bool:
    """Whether truth.csv gives the bar's height (a barbell render by the current renderer)."""
    return "bar_height_m" in truth and bool(np.isfinite(truth["bar_height_m"].to_numpy(float)).any())


def true_rep_frames(true_reps: list[dict]) -> pd.DataFrame:
    """truth.json's reps as a rep table (REP_FRAME_COLUMNS; NaN where a frame is not given)."""
    rows = [{c: r.get(c, math.nan) for c in REP_FRAME_COLUMNS} for r in true_reps]
    return pd.DataFrame(rows, columns=list(REP_FRAME_COLUMNS)).astype(float).astype({"rep": int})


def bar_truth(truth: pd.DataFrame, true_reps: list[dict]) -> pd.DataFrame:
    """The judged truth, one row per true rep (rep_velocities' columns): our timing rule, default
    settings, on the exact bar height with the true reps' frames, so neither our plate track nor
    our rep detection is in it.

    truth: truth.csv sorted by frame, one row per frame (frame = row index)."""
    t, h = truth["time_s"].to_numpy(float), truth["bar_height_m"].to_numpy(float)
    return rep_velocities(h, bar_velocity(h, t), t, true_rep_frames(true_reps))


def phase_ascents(truth: pd.DataFrame, true_reps: list[dict]) -> pd.DataFrame:
    """The reference, one row per true rep (PHASE_COLUMNS): the renderer's knee-timed ascent from its
    last bottom / descent frame to its last ascent frame, with rise / time as MCV (m/s), the exact
    height's largest finite-difference velocity in it as the peak, and the rise in cm. The time is
    truth.json's exact ascent_duration_s where given (frame times are up to a frame off). NaN where
    the rep has no ascent, or no bottom / descent frame before it (a clip that starts mid-rep).

    truth: truth.csv sorted by frame, one row per frame (frame = row index)."""
    t, h = truth["time_s"].to_numpy(float), truth["bar_height_m"].to_numpy(float)
    phase, rep_of = truth["phase"].astype(str).to_numpy(), truth["rep"].to_numpy()
    velocity = np.gradient(h, t) if len(t) > 1 else np.full(len(t), np.nan)
    rows = []
    for r in true_reps:
        mine = rep_of == r["rep"]
        ascent = np.flatnonzero(mine & (phase == "ascent"))
        before = np.flatnonzero(mine & np.isin(phase, ("bottom", "descent")))
        before = before[before < ascent[0]] if len(ascent) else before[:0]
        row = dict.fromkeys(PHASE_COLUMNS, math.nan) | {"rep": int(r["rep"])}
        if len(before):
            first, last = int(before[-1]), int(ascent[-1])
            rise, exact = h[last] - h[first], number(r.get("ascent_duration_s"))
            duration = exact if math.isfinite(exact) and exact > 0 else t[last] - t[first]
            row.update(start_frame=first, end_frame=last, concentric_s=duration, mcv_ms=rise / duration,
                       peak_velocity_ms=float(np.nanmax(velocity[first:last + 1])), concentric_cm=100.0 * rise)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(PHASE_COLUMNS)).astype(float).astype({"rep": int})


def our_velocity_loss(summary: dict, our_reps: pd.DataFrame) -> float:
    """The set's velocity loss as summary.json reports it; from reps.csv's MCV for a run without it."""
    if isinstance(summary.get("bar_speed"), dict):
        return number(summary["bar_speed"].get("velocity_loss_pct"))
    return velocity_loss_pct(_column(our_reps, "mcv_ms"))


def bar_speed_errors(our_reps: pd.DataFrame, summary: dict, truth: pd.DataFrame, true_reps: list[dict],
                     pairs: list[tuple[int, int]]) -> dict | None:
    """Per matched rep (pairs of true index, our index) ours, the truth (bar_truth) and the phase
    reference (phase_ascents) of MCV, peak velocity and rise, with errors ours − truth; the set's
    velocity loss; the target measures. None when the truth has no bar height (the part is left out)."""
    if not has_bar_truth(truth):
        return None
    truth = truth.sort_values("frame").reset_index(drop=True)
    judged, phase = bar_truth(truth, true_reps), phase_ascents(truth, true_reps)
    per_rep = []
    for i, j in pairs:
        row = {"true_rep": int(true_reps[i]["rep"]), "our_rep": int(our_reps["rep"].iloc[j])}
        for name, unit in REP_MEASURES:
            o, t = float(_column(our_reps, name + unit)[j]), float(judged[name + unit].iloc[i])
            row |= {f"{name}{unit}": o, f"{name}_truth{unit}": t, f"{name}_error{unit}": o - t,
                    f"{name}_phase{unit}": float(phase[name + unit].iloc[i])}
        row |= {"concentric_s_truth": float(judged["concentric_s"].iloc[i]),
                "concentric_s_phase": float(phase["concentric_s"].iloc[i])}
        per_rep.append(row)
    rows = pd.DataFrame(per_rep)
    true_mcv = judged["mcv_ms"].to_numpy()
    # A true rep we did not find, or found without an MCV, is a rep the lifter gets no speed for.
    given = {i for i, j in pairs if np.isfinite(_column(our_reps, "mcv_ms")[j])}
    missing = sum(1 for i, m in enumerate(true_mcv) if np.isfinite(m) and i not in given)
    loss = {"ours": our_velocity_loss(summary, our_reps), "truth": velocity_loss_pct(true_mcv),
            "phase": velocity_loss_pct(phase["mcv_ms"].to_numpy())}
    loss["error"] = loss["ours"] - loss["truth"]
    return {
        "per_rep": per_rep,
        "velocity_loss_pct": loss,
        "summary": {
            "mcv_max_abs_error_ms": _worst(rows, "mcv_error_ms"), "mcv_mae_ms": _mae(rows, "mcv_error_ms"),
            "mcv_bias_ms": _mean(rows, "mcv_error_ms"),
            "mcv_missing": missing,
            "peak_velocity_max_abs_error_ms": _worst(rows, "peak_velocity_error_ms"),
            "concentric_max_abs_error_cm": _worst(rows, "concentric_error_cm"),
            "velocity_loss_error_pct": loss["error"],
        },
    }


def bar_speed_targets(speed: dict | None) -> dict[str, tuple[str, float, str]]:
    """The BAR_SPEED_TARGETS this clip is judged on: none without the bar's truth, and the set's
    velocity loss only where the truth has one (two reps or more)."""
    if speed is None:
        return {}
    has_loss = math.isfinite(number(speed["velocity_loss_pct"]["truth"]))
    return {k: v for k, v in BAR_SPEED_TARGETS.items() if has_loss or v[0] != "velocity_loss_error_pct"}


def format_bar_speed(speed: dict | None) -> list[str]:
    """The report's BAR SPEED lines (none without the bar's truth)."""
    if speed is None:
        return []
    lines = ["BAR SPEED   ours / truth / phase, against the render's exact bar height",
             "  truth = our timing rule on the render's exact bar height, judged; "
             "phase = the renderer's knee-timed ascent, for reference",
             f"  {'rep':7} {'MCV (m/s) ours / truth / phase':>30} {'error':>7}   "
             f"{'peak (m/s) ours / truth / phase':>31} {'error':>7}   {'rise (cm) ours / truth / phase':>30} "
             f"{'error':>6}"]
    for p in speed["per_rep"]:
        lines.append(
            f"  {str(p['true_rep']) + '→' + str(p['our_rep']):7} "
            f"{_trio(p, 'mcv', '_ms', '.3f'):>30} {_num(p['mcv_error_ms'], '+.3f'):>7}   "
            f"{_trio(p, 'peak_velocity', '_ms', '.3f'):>31} {_num(p['peak_velocity_error_ms'], '+.3f'):>7}   "
            f"{_trio(p, 'concentric', '_cm', '.1f'):>30} {_num(p['concentric_error_cm'], '+.1f'):>6}")
    v = speed["velocity_loss_pct"]
    lines += [f"  set velocity loss (fastest rep to last): ours {_num(v['ours'])} %, truth {_num(v['truth'])} % "
              f"(phase {_num(v['phase'])} %), error {_num(v['error'], '+.1f')} pp",
              "  (errors are ours − truth)", ""]
    return lines


# ----------------------------------------------------------------------------- helpers

def _column(table: pd.DataFrame, name: str) -> np.ndarray:
    return table[name].to_numpy(float) if name in table else np.full(len(table), np.nan)


def _finite(rows: pd.DataFrame, column: str) -> np.ndarray:
    x = _column(rows, column)
    return x[np.isfinite(x)]


def _worst(rows: pd.DataFrame, column: str) -> float:
    x = _finite(rows, column)
    return float(np.abs(x).max()) if len(x) else math.nan


def _mae(rows: pd.DataFrame, column: str) -> float:
    x = _finite(rows, column)
    return float(np.abs(x).mean()) if len(x) else math.nan


def _mean(rows: pd.DataFrame, column: str) -> float:
    x = _finite(rows, column)
    return float(x.mean()) if len(x) else math.nan


def _num(x, fmt: str = ".1f") -> str:
    x = number(x)
    return format(x, fmt) if math.isfinite(x) else "—"


def _trio(p: dict, name: str, unit: str, fmt: str) -> str:
    return " / ".join(_num(p[f"{name}{k}{unit}"], fmt) for k in ("", "_truth", "_phase"))
