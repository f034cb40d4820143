"""Side by side with a reference lifter: how alike the builds are, reps lined up by phase, and a ghost.

The article's idea: find a lifter with a skeleton close to yours and compare. Trunk lean and
depth depend on femur, shin and torso lengths, so a reference of similar build is a fair target
and a different build calls for a different shape (`implications` says how much, from a 2D
model of the squat with the bar over the midfoot).

Inputs are what a stored analysis gives the app: the frames table (frames.csv: time_s, the angles,
<joint>_x/_y/_conf), the reps table (reps.csv: start_time, bottom_time, end_time, ...) and
summary.json's "proportions" dict (femur_px, shin_px, torso_px, femur_to_torso, shin_to_femur).
Units: degrees, seconds, pixels, or × femur. A frame index is a row position of the frames table
(= frames.csv's `frame`). Pure functions, no I/O.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from squat.measure.points import POINT_SOURCES, P, body_points
from squat.measures import REP
from squat.numbers import number
from squat.series import fill_gaps
from squat.settings import CompareSettings
from squat.skeleton import JOINTS, MIRROR, J

RATIOS: dict[str, str] = {"femur_to_torso": "femur / torso", "shin_to_femur": "shin / femur"}

# Per-frame columns lined up by align_reps (degrees, then × femur).
ALIGN_COLUMNS: tuple[str, ...] = (
    "knee_angle", "hip_angle", "trunk_lean", "shin_angle", "hip_moment_arm_femur", "knee_moment_arm_femur",
)

# Per-rep column → (what a coach calls it, unit), from squat.measures. Pixel moment arms are left
# out: two clips' pixels are not comparable, × femur is. Below parallel is compared as a share of reps.
REP_METRICS: dict[str, tuple[str, str]] = {
    c: ("reps below parallel", "%") if c == "hip_below_knee" else (REP[c].label, REP[c].unit)
    for c in ("depth_knee_angle", "hip_below_knee", "descent_s", "pause_s", "ascent_s", "max_trunk_lean",
              "max_hip_moment_arm_femur", "max_knee_moment_arm_femur", "bar_off_midfoot_cm",
              "mcv_ms", "peak_velocity_ms", "concentric_cm", "velocity_loss_pct")
}

_EPS_S = 1e-6  # frame times and rep times come from the same rounded CSV values


# ---------------------------------------------------------------- builds


def _ratio(props: Mapping, key: str) -> float:
    """femur_to_torso or shin_to_femur, from the ratio itself or else the segment pixels; NaN if unknown."""
    value = number(props.get(key))
    if not np.isfinite(value):
        top, bottom = {"femur_to_torso": ("femur_px", "torso_px"), "shin_to_femur": ("shin_px", "femur_px")}[key]
        value = number(props.get(top)) / number(props.get(bottom))
    return value if np.isfinite(value) and value > 0 else np.nan


def proportion_distance(you: Mapping, reference: Mapping) -> float:
    """How different two builds are: Euclidean distance of the log-ratios of femur/torso and shin/femur.

    Logs make it symmetric in size (10 % longer counts the same whichever lifter is longer) and
    scale-free; 0 = same build, ≈ 0.1 ≈ one ratio 10 % off. inf if either build lacks a ratio.
    """
    logs = np.log([_ratio(you, k) / _ratio(reference, k) for k in RATIOS])
    return float(np.sqrt(np.sum(logs**2))) if np.isfinite(logs).all() else np.inf


def rank_references(you: Mapping, candidates: Mapping[str, Mapping]) -> pd.DataFrame:
    """Candidate builds, closest to yours first: key, femur_to_torso, shin_to_femur, distance."""
    rows = [
        {"key": key, **{k: _ratio(props, k) for k in RATIOS}, "distance": proportion_distance(you, props)}
        for key, props in candidates.items()
    ]
    table = pd.DataFrame(rows, columns=["key", *RATIOS, "distance"])
    return table.sort_values("distance", kind="stable").reset_index(drop=True)


def proportions_table(you: Mapping, reference: Mapping) -> pd.DataFrame:
    """Rows femur / torso, shin / femur, torso / femur (segments × femur); columns measure, you,
    reference, difference_pct (you / reference − 1, %). Index: the ratio's key."""
    def ratios(props: Mapping) -> dict[str, float]:
        femur_to_torso = _ratio(props, "femur_to_torso")
        return {"femur_to_torso": femur_to_torso, "shin_to_femur": _ratio(props, "shin_to_femur"),
                "torso_to_femur": 1.0 / femur_to_torso}

    labels = {**RATIOS, "torso_to_femur": "torso / femur"}
    a, b = ratios(you), ratios(reference)
    table = pd.DataFrame(
        {"measure": list(labels.values()), "you": [a[k] for k in labels], "reference": [b[k] for k in labels]},
        index=pd.Index(list(labels), name="key"),
    )
    table["difference_pct"] = (table["you"] / table["reference"] - 1.0) * 100.0
    return table


def trunk_lean_for_build(
    femur_to_torso: float | np.ndarray,
    shin_to_femur: float | np.ndarray,
    thigh_angle_deg: float | np.ndarray = 0.0,
    shin_angle_deg: float | np.ndarray = 30.0,
    midfoot_fraction: float = 0.19,
) -> float | np.ndarray:
    """Trunk lean (degrees from vertical) that keeps the bar over the midfoot, for a build at a depth.

    2D stick figure, ankle at the origin, forward +x: knee = shin·(sin θ, cos θ) with θ the shin
    angle; hip = knee − femur·(cos α, sin α) with α the thigh angle below horizontal (0 =
    parallel, + = hip below knee); shoulder = hip + torso·(sin λ, cos λ). The bar on the
    shoulders over the midfoot (midfoot_fraction × shin ahead of the ankle) gives

        sin λ = femur_to_torso · (cos α − shin_to_femur · (sin θ − midfoot_fraction))

    NaN where no lean balances (|sin λ| > 1). On the rendered lifters this predicts the bottom's
    measured lean within 1° (33.0° / 41.0° measured, average / long femurs).
    """
    a, t = np.radians(thigh_angle_deg), np.radians(shin_angle_deg)
    sin_lean = np.asarray(femur_to_torso) * (np.cos(a) - np.asarray(shin_to_femur) * (np.sin(t) - midfoot_fraction))
    lean = np.degrees(np.arcsin(np.where(np.abs(sin_lean) <= 1, sin_lean, np.nan)))
    return float(lean) if np.ndim(lean) == 0 else lean


def shin_angle_for_lean(
    femur_to_torso: float,
    shin_to_femur: float,
    trunk_lean_deg: float,
    thigh_angle_deg: float = 0.0,
    midfoot_fraction: float = 0.19,
) -> float:
    """Shin angle (degrees forward) a build needs to hold `trunk_lean_deg` at a depth: the lean
    model above solved for θ. NaN where no shin angle does."""
    sin_shin = midfoot_fraction + (np.cos(np.radians(thigh_angle_deg))
                                   - np.sin(np.radians(trunk_lean_deg)) / femur_to_torso) / shin_to_femur
    return float(np.degrees(np.arcsin(sin_shin))) if abs(sin_shin) <= 1 else np.nan


def _difference_phrase(pct: float, part: str, relative_to: str) -> str:
    return f"your {part} are {abs(pct):.0f}% {'longer' if pct > 0 else 'shorter'} relative to your {relative_to}"


def implications(you: Mapping, reference: Mapping, settings: CompareSettings = CompareSettings()) -> list[str]:
    """Plain-language lines for a coach: what the difference in build means for trunk lean and depth.

    Numbers come from `trunk_lean_for_build` at settings' squat (thighs parallel, shins 30°
    forward, bar over midfoot): a geometric estimate for a typical squat, not a measurement.
    Empty if either build is unknown.
    """
    a = {k: _ratio(you, k) for k in RATIOS}
    b = {k: _ratio(reference, k) for k in RATIOS}
    if not all(np.isfinite(v) for v in (*a.values(), *b.values())):
        return []
    pct = {k: (a[k] / b[k] - 1.0) * 100.0 for k in RATIOS}
    lead = [
        _difference_phrase(pct[k], part, of)
        for k, part, of in (("femur_to_torso", "femurs", "torso"), ("shin_to_femur", "shins", "femurs"))
        if abs(pct[k]) >= settings.same_build_pct
    ]
    if not lead:
        same = (f"Your femur/torso and shin/femur are within {settings.same_build_pct:.0f}% of the reference's: "
                "the same build, so their trunk lean and depth are a fair target for you.")
        return [same]
    lead_text = " and ".join(lead)
    lead_text = lead_text[0].upper() + lead_text[1:] + " than the reference's"

    squat = {"thigh_angle_deg": settings.thigh_angle_deg, "midfoot_fraction": settings.midfoot_fraction}
    lean_you = trunk_lean_for_build(a["femur_to_torso"], a["shin_to_femur"], shin_angle_deg=settings.shin_angle_deg, **squat)
    lean_ref = trunk_lean_for_build(b["femur_to_torso"], b["shin_to_femur"], shin_angle_deg=settings.shin_angle_deg, **squat)
    depth = ("thighs parallel" if settings.thigh_angle_deg == 0
             else f"thighs {abs(settings.thigh_angle_deg):.0f}° {'below' if settings.thigh_angle_deg > 0 else 'above'} parallel")
    model = (f"({depth}, shins {settings.shin_angle_deg:.0f}° forward, bar over midfoot: "
             f"about {lean_you:.0f}° for you, {lean_ref:.0f}° for them)")
    if not (np.isfinite(lean_you) and np.isfinite(lean_ref)):
        return [f"{lead_text}; the lean model has no balanced position for one of the builds, so compare shapes with care."]
    diff = lean_you - lean_ref
    if abs(diff) < settings.same_lean_deg:
        return [f"{lead_text}, but the differences offset: about the same trunk lean at the same depth {model}."]

    lines = []
    needed = shin_angle_for_lean(a["femur_to_torso"], a["shin_to_femur"], lean_ref, **squat)
    knees = needed - settings.shin_angle_deg
    if diff > 0:
        lines.append(f"{lead_text}: expect about {diff:.0f}° more forward lean at the same depth {model}; "
                     "that is your build, not a fault.")
        if np.isfinite(needed):
            lines.append(f"To reach that depth as upright as the reference you would need about {knees:.0f}° more "
                         f"shin angle (knees further forward, {needed:.0f}° instead of {settings.shin_angle_deg:.0f}°). "
                         "If your ankles do not allow it, the extra lean is the price of depth: raised heels "
                         "(lifting shoes) or a wider stance with the toes out make depth easier.")
        else:
            lines.append("No shin angle lets you reach that depth as upright as the reference: the extra lean "
                         "is the price of depth; raised heels or a wider stance with the toes out make depth easier.")
    else:
        lines.append(f"{lead_text}: expect about {-diff:.0f}° less forward lean at the same depth {model}; "
                     "you can stay more upright than the reference, so copy their depth, not their trunk angle.")
        if np.isfinite(needed):
            lines.append(f"At the reference's trunk angle you would reach that depth with about {-knees:.0f}° less "
                         "shin angle: depth should come easier to you at the same ankle mobility.")
    return lines


# ---------------------------------------------------------------- reps by phase


def _rep_times(rep: Mapping) -> tuple[float, float, float]:
    return float(rep["start_time"]), float(rep["bottom_time"]), float(rep["end_time"])


def _phase_of_time(t: np.ndarray, start: float, bottom: float, end: float) -> np.ndarray:
    """Piecewise-linear phase: start → 0, bottom → 0.5, end → 1 (unclipped outside the rep)."""
    t = np.asarray(t, dtype=np.float64)
    down = 0.5 * np.divide(t - start, bottom - start, out=np.full_like(t, 0.5), where=bottom > start)
    up = 0.5 + 0.5 * np.divide(t - bottom, end - bottom, out=np.full_like(t, 0.5), where=end > bottom)
    return np.where(t <= bottom, down, up)


def _time_of_phase(phase: np.ndarray, start: float, bottom: float, end: float) -> np.ndarray:
    """Inverse of _phase_of_time for phases in 0–1: seconds in the clip."""
    phase = np.asarray(phase, dtype=np.float64)
    return np.where(phase <= 0.5, start + 2 * phase * (bottom - start), bottom + (2 * phase - 1) * (end - bottom))


def rep_phase(frames: pd.DataFrame, rep: Mapping) -> np.ndarray:
    """Phase of every frame in one rep: 0 at start_time, 0.5 at bottom_time, 1 at end_time.

    Linear in time within the descent and within the ascent, so the bottoms of two reps line up
    whatever their tempo. (len(frames),) array, NaN for frames outside the rep.
    """
    start, bottom, end = _rep_times(rep)
    t = frames["time_s"].to_numpy(dtype=np.float64)
    phase = _phase_of_time(t, start, bottom, end)
    inside = (t >= start - _EPS_S) & (t <= end + _EPS_S)
    return np.where(inside, np.clip(phase, 0.0, 1.0), np.nan)


def phase_of_frame(frame_index: int, frames: pd.DataFrame, rep: Mapping) -> float:
    """Phase (0–1, bottom 0.5) of one frame; clamped to 0 before the rep and 1 after it, so a
    slider outside the rep shows the reference standing."""
    t = float(frames["time_s"].iloc[int(frame_index)])
    return float(np.clip(_phase_of_time(np.array([t]), *_rep_times(rep))[0], 0.0, 1.0))


def matching_frame(phase: float, ref_frames: pd.DataFrame, ref_rep: Mapping) -> int:
    """The reference frame (row position) of its rep nearest to `phase` (clamped to 0–1):
    one slider on your rep drives both viewers via phase_of_frame → matching_frame."""
    phases = rep_phase(ref_frames, ref_rep)
    if not np.isfinite(phases).any():
        raise ValueError("the reference rep has no frame in the frames table")
    return int(np.nanargmin(np.abs(phases - float(np.clip(phase, 0.0, 1.0)))))


def _resample(phase: np.ndarray, time_s: np.ndarray, values: np.ndarray, grid: np.ndarray, max_gap_s: float) -> np.ndarray:
    """values (at frame phases) linearly interpolated at grid phases; NaN outside the seen span and
    across gaps between seen frames longer than max_gap_s seconds (never invent a missing stretch)."""
    ok = np.isfinite(phase) & np.isfinite(values)
    out = np.full(np.shape(grid), np.nan)
    if not ok.any():
        return out
    p, t, v = phase[ok], time_s[ok], values[ok]
    if len(p) == 1:
        out[np.abs(grid - p[0]) < 1e-12] = v[0]
        return out
    right = np.clip(np.searchsorted(p, grid, side="left"), 1, len(p) - 1)
    left = right - 1
    exact = np.isclose(grid, p[left], rtol=0, atol=1e-12) | np.isclose(grid, p[right], rtol=0, atol=1e-12)
    bridged = (t[right] - t[left] <= max_gap_s + _EPS_S) | exact
    inside = (grid >= p[0]) & (grid <= p[-1])
    return np.where(inside & bridged, np.interp(grid, p, v), np.nan)


def _rep_samples(frames: pd.DataFrame, rep: Mapping) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """phase, time_s and rows of the frames inside one rep."""
    phase = rep_phase(frames, rep)
    inside = np.isfinite(phase)
    rows = frames.loc[inside]
    return phase[inside], rows["time_s"].to_numpy(dtype=np.float64), rows


def _column(rows: pd.DataFrame, name: str) -> np.ndarray:
    """A numeric column, all NaN if the table lacks it (older runs have no × femur arms)."""
    if name not in rows:
        return np.full(len(rows), np.nan)
    return pd.to_numeric(rows[name], errors="coerce").to_numpy(dtype=np.float64)


def dtw_path(a: np.ndarray, b: np.ndarray, band: int) -> tuple[np.ndarray, np.ndarray]:
    """Dynamic time warping of two sequences, cost |a_i − b_j|, within |i − j| ≤ band (Sakoe–Chiba):
    the matched index pairs (i, j) from (0, 0) to the last of both, in order."""
    n, m = len(a), len(b)
    band = max(int(band), abs(n - m))
    cost = np.abs(a[:, None] - b[None, :])
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(max(1, i - band), min(m, i + band) + 1):
            acc[i, j] = cost[i - 1, j - 1] + min(acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
    i, j, path = n, m, []
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        step = int(np.argmin((acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])))
        i, j = (i - 1, j - 1) if step == 0 else (i - 1, j) if step == 1 else (i, j - 1)
    pairs = np.array(path[::-1])
    return pairs[:, 0], pairs[:, 1]


def align_reps(
    you_frames: pd.DataFrame,
    you_rep: Mapping,
    ref_frames: pd.DataFrame,
    ref_rep: Mapping,
    n: int = 101,
    method: str = "phase",
    columns: tuple[str, ...] = ALIGN_COLUMNS,
    settings: CompareSettings = CompareSettings(),
) -> pd.DataFrame:
    """Your rep and the reference's on one phase grid of n points (0 start, 0.5 bottom, 1 end).

    method "phase": both reps by rep_phase (bottoms meet at 0.5). "dtw": the reference by phase,
    yours warped onto it by dynamic time warping of the knee angle (matches the shape of the
    knee's path, e.g. a slow start or a bounce); falls back to phase without knee angles.
    Columns: phase, you_phase (your phase shown at that row), you_time_s, ref_time_s, then
    you_<col> and ref_<col> for each column; NaN where a lifter's measurement is missing for
    longer than settings.max_gap_s.
    """
    if method not in ("phase", "dtw"):
        raise ValueError(f"method must be 'phase' or 'dtw', not {method!r}")
    grid = np.linspace(0.0, 1.0, n)
    you_p, you_t, you_rows = _rep_samples(you_frames, you_rep)
    ref_p, ref_t, ref_rows = _rep_samples(ref_frames, ref_rep)

    you_grid = grid
    if method == "dtw":
        knees = [_resample(p, t, _column(rows, "knee_angle"), grid, np.inf)
                 for p, t, rows in ((you_p, you_t, you_rows), (ref_p, ref_t, ref_rows))]
        if all(np.isfinite(k).any() for k in knees):
            you_knee, ref_knee = (fill_gaps(k, np.arange(n), hold_edges=True) for k in knees)  # costs need no gaps
            i, j = dtw_path(you_knee, ref_knee, round(settings.dtw_band * n))
            # Each reference sample shows the mean of the phases of yours matched to it (non-decreasing).
            you_grid = np.bincount(j, weights=grid[i], minlength=n) / np.bincount(j, minlength=n)

    out = {"phase": grid, "you_phase": you_grid,
           "you_time_s": _time_of_phase(you_grid, *_rep_times(you_rep)),
           "ref_time_s": _time_of_phase(grid, *_rep_times(ref_rep))}
    for name in columns:
        out[f"you_{name}"] = _resample(you_p, you_t, _column(you_rows, name), you_grid, settings.max_gap_s)
        out[f"ref_{name}"] = _resample(ref_p, ref_t, _column(ref_rows, name), grid, settings.max_gap_s)
    return pd.DataFrame(out)


# ---------------------------------------------------------------- ghost


def _segment_lengths(segments: Mapping) -> tuple[float, float, float]:
    """shin, femur, torso pixels from a proportions dict (…_px keys) or plain shin/femur/torso keys."""
    def get(name: str) -> float:
        value = number(segments.get(f"{name}_px", segments.get(name)))
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"the user's {name} length is unknown ({segments.get(f'{name}_px', segments.get(name))!r})")
        return value
    return get("shin"), get("femur"), get("torso")


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.hypot(*v)


def ghost_skeleton(
    ref_keypoints: np.ndarray,
    ref_side: str,
    you_keypoints: np.ndarray,
    you_side: str,
    you_segments: Mapping,
    you_midfoot_x: float,
    ref_midfoot_x: float,
    facing_you: int,
    facing_ref: int,
    ref_segments: Mapping | None = None,
    ref_trunk_lean: float = np.nan,
) -> np.ndarray:
    """The reference's pose at this moment, rebuilt with your shin, femur and torso on your feet.

    (18, 3) keypoints in your frame and joint vocabulary (your camera side = `you_side`): from the
    anchored ankle up, each camera-side segment keeps the reference's direction (its shin angle,
    knee and hip angles, trunk lean) and takes your length; mirrored left–right when the two
    lifters face opposite ways. Anchor: the ankle at your ankle's height, placed so that the
    ghost's midfoot (the reference's midfoot offset from its ankle, in shin lengths, times your
    shin) is on your midfoot line; at your ankle's x when a midfoot is unknown. ref_segments (the
    reference's proportions) gives the shin length that offset was measured with; without it the
    shin in this frame stands in (a foreshortened shin shifts the ghost by a pixel or two).
    ref_trunk_lean (degrees, frames.csv's trunk_lean) sets the trunk's direction where given: it
    is the measured lean, from the bar where a plate hides the reference's shoulders; else the
    reference's hip → shoulder (or neck) keypoints do.
    Head, neck, other shoulder and arms follow the trunk top rigidly, scaled by torso
    (approximate), where the reference's trunk top was seen; the far leg is NaN. Confidence 1 on
    the rebuilt chain, the reference's elsewhere. All NaN if your ankle, the reference's leg or
    its trunk direction is not known.
    """
    ref = np.asarray(ref_keypoints, dtype=np.float64)
    you = np.asarray(you_keypoints, dtype=np.float64)
    out = np.full((len(JOINTS), 3), np.nan)
    shin, femur, torso = _segment_lengths(you_segments)
    pts = body_points(ref[None], ref_side)[0]
    ankle_r, knee_r, hip_r, top_r = (pts[P[name]] for name in ("ankle", "knee", "hip", "shoulder"))
    if you_side not in ("left", "right"):
        raise ValueError(f"you_side must be 'left' or 'right', not {you_side!r}")
    ys, yo = ("r", "l") if you_side == "right" else ("l", "r")
    you_ankle = you[J[f"{ys}_ankle"], :2]
    if not np.isfinite(you_ankle).all():
        you_ankle = you[J[f"{yo}_ankle"], :2]  # the far ankle stands in the same place side-on
    lean = np.radians(number(ref_trunk_lean))
    # Up, turned forward by the lean: the lean is unsigned and a squatter leans forward.
    trunk_r = np.array([facing_ref * np.sin(lean), -np.cos(lean)]) if np.isfinite(lean) else top_r - hip_r
    if not (np.isfinite(you_ankle).all() and np.isfinite([ankle_r, knee_r, hip_r, trunk_r]).all()):
        return out

    flip = np.array([facing_you * facing_ref, 1.0])  # x sign: the reference's forward becomes yours
    ref_shin = number((ref_segments or {}).get("shin_px", (ref_segments or {}).get("shin")))
    if not (np.isfinite(ref_shin) and ref_shin > 0):
        ref_shin = np.hypot(*(knee_r - ankle_r))
    ref_offset = facing_ref * (ref_midfoot_x - ankle_r[0]) / ref_shin
    anchor_x = you_midfoot_x - facing_you * ref_offset * shin
    ankle = np.array([anchor_x if np.isfinite(anchor_x) else you_ankle[0], you_ankle[1]])
    knee = ankle + shin * flip * _unit(knee_r - ankle_r)
    hip = knee + femur * flip * _unit(hip_r - knee_r)
    top = hip + torso * flip * _unit(trunk_r)

    same_side = (ref_side == you_side)

    def yours(ref_joint: int) -> int:
        return ref_joint if same_side else MIRROR[ref_joint]

    # The trunk top goes where the reference's was seen: its camera-side shoulder, else neck, else
    # far shoulder (kinematics.POINT_SOURCES); your camera-side shoulder where the plate hid them.
    rs, ro = ("r", "l") if ref_side == "right" else ("l", "r")
    top_source = next((J[src.format(s=rs, o=ro)] for src in POINT_SOURCES["shoulder"]
                       if np.isfinite(ref[J[src.format(s=rs, o=ro)], :2]).all()), None)
    top_joint = J[f"{ys}_shoulder"] if top_source is None else yours(top_source)
    chain = {J[f"{ys}_ankle"]: ankle, J[f"{ys}_knee"]: knee, J[f"{ys}_hip"]: hip, top_joint: top}
    if top_source is not None:
        # Head and arms hang rigidly off the trunk top (their positions relative to it, scaled by torso).
        top_seen = ref[top_source, :2]
        scale = torso / np.hypot(*(top_seen - hip_r))
        leg = {J[f"{side}_{part}"] for side in "rl" for part in ("hip", "knee", "ankle")}
        for j in range(len(JOINTS)):
            if j in leg or yours(j) in chain:
                continue
            out[yours(j), :2] = top + scale * flip * (ref[j, :2] - top_seen)
            out[yours(j), 2] = ref[j, 2]
    for j, xy in chain.items():
        out[j] = (*xy, 1.0)
    out[~np.isfinite(out[:, :2]).all(axis=1)] = np.nan
    return out


# ---------------------------------------------------------------- per-rep numbers


def comparison_summary(you_reps: pd.DataFrame, ref_reps: pd.DataFrame) -> pd.DataFrame:
    """Per-rep means, you vs the reference: depth, share below parallel, tempo, max lean, moment
    arms and bar speed (the set's velocity loss: its last rep's). Index: the reps.csv column; columns metric, unit, you, reference, difference
    (you − reference, in the metric's unit). NaN where a side has no rep or no such column; a
    metric neither side has (the bar, without a barbell) is left out."""
    def mean(reps: pd.DataFrame, column: str) -> float:
        if column not in reps or not len(reps):
            return np.nan
        column_values = reps[column]
        if column == "hip_below_knee":  # bools, or "True"/"False" from a CSV read as text
            column_values = column_values.map(lambda v: {"true": 100.0, "false": 0.0}.get(str(v).strip().lower(), np.nan))
        values = column_values.map(number).to_numpy(dtype=np.float64)
        if not np.isfinite(values).any():
            return np.nan
        # the set's velocity loss is its last measured rep's (squat.measure.bar_speed.velocity_loss_pct)
        return float(values[np.isfinite(values)][-1] if column == "velocity_loss_pct" else np.nanmean(values))

    table = pd.DataFrame(
        {
            "metric": [label for label, _ in REP_METRICS.values()],
            "unit": [unit for _, unit in REP_METRICS.values()],
            "you": [mean(you_reps, c) for c in REP_METRICS],
            "reference": [mean(ref_reps, c) for c in REP_METRICS],
        },
        index=pd.Index(list(REP_METRICS), name="key"),
    )
    table["difference"] = table["you"] - table["reference"]
    return table[table[["you", "reference"]].notna().any(axis=1)]  # two bodyweight clips: no bar row
