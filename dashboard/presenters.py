"""Small pure helpers behind the dashboard's pages: settings from the sidebar's choices, progress
text, the frame viewer's inputs, and the tables and texts the results view shows.

No Streamlit here: everything takes tables and dicts and returns values, so it is tested directly.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import altair as alt
import numpy as np
import pandas as pd

from squat.compare import comparison_summary, ghost_skeleton, matching_frame, proportions_table, rank_references
from squat.draw.charts import PHASE_COLORS, SELECTED_COLOR, TIME_FIELD, comparison_chart, has_panel, panel_chart
from squat.draw.overlay import bar_trail
from squat.measure.reps import FAULT_CUES
from squat.measures import PANELS, REP, on_panel
from squat.numbers import is_finite_number
from squat.pipeline import side_heatmap_parts, trunk_measured_to_bar
from squat.pose.weights import describe_models, downloads_dir, fetch_command, load_registry
from squat.results import keypoints_at
from squat.settings import PLATE_CM_RANGE, PoseSettings, Settings, settings_from_dict
from squat.skeleton import HEATMAP_PARTS

SIDES: tuple[str, ...] = ("auto", "left", "right")
HEATMAP_PART_NAMES: tuple[str, ...] = tuple(HEATMAP_PARTS)  # neck, hip, knee, ankle

CHART_HEIGHTS: dict[str, int] = {"angles": 250, "arms": 190, "bar": 140, "speed": 160}  # px per time chart
STAGE_LABELS: dict[str, str] = {
    "pose": "Finding the lifter",
    "render": "Drawing the annotated video",
    "heatmaps": "Heatmaps",
}
# Share of the whole bar each stage fills (pose is the network, by far the slowest part on a CPU).
STAGE_SPANS: dict[str, tuple[float, float]] = {"pose": (0.0, 0.8), "render": (0.8, 0.99), "heatmaps": (0.99, 1.0)}


# --------------------------------------------------------------------------- settings and models


def analysis_settings(model: str, side: str, base: Settings = Settings(), plate_cm: Optional[float] = None) -> Settings:
    """The engine's settings for the sidebar's choices (model name, camera-side leg auto/left/right,
    the plate's diameter in cm: the bar speed's metres)."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {', '.join(SIDES)}, not {side!r}")
    if plate_cm is not None and not PLATE_CM_RANGE[0] <= plate_cm <= PLATE_CM_RANGE[1]:
        raise ValueError(f"plate diameter must be {PLATE_CM_RANGE[0]}-{PLATE_CM_RANGE[1]} cm, not {plate_cm}")
    plate = base.plate if plate_cm is None else replace(base.plate, diameter_m=round(plate_cm / 100, 4))  # no float dust
    # The default model falls back where it loses the lifter; another model chosen reads as chosen.
    fallback = base.pose.fallback_model if model == base.pose.model else None
    return replace(base, pose=replace(base.pose, model=model, fallback_model=fallback),
                   kinematics=replace(base.kinematics, side=side), plate=plate)


def settings_from_summary(summary: Mapping[str, Any]) -> Settings:
    """The Settings a stored run was analysed with (summary.json's "settings"); unknown keys are ignored."""
    return settings_from_dict(summary.get("settings") or {})


def network_pose(summary: Mapping[str, Any]) -> PoseSettings:
    """The pose settings that make the network see a stored run's frames exactly as the analysis
    did (the framing step may have chosen another input size than settings.long_side)."""
    pose = settings_from_summary(summary).pose
    scale = (summary.get("model", {}).get("input") or {}).get("scale")
    video = summary.get("video", {})
    if not scale or not video.get("width") or not video.get("height"):
        return pose
    return replace(pose, long_side=int(round(scale * max(video["width"], video["height"]))), framing="full")


@dataclass(frozen=True)
class ModelChoice:
    """A registry model as the sidebar offers it."""

    name: str
    installed: bool
    size_mb: float
    licence: str
    licence_note: str
    description: str
    fetch_command: str  # how to download it when not installed


def model_choices(weights_dir: str | Path | None = None) -> list[ModelChoice]:
    """Every registry model, the default first, then the shipped ones, with whether its weights
    are on disk (downloads in weights_dir, default $SQUAT_WEIGHTS_DIR or weights/)."""
    registry = load_registry()
    rows = {row.name: row for row in describe_models(registry, weights_dir or downloads_dir())}
    choices = [
        ModelChoice(spec.name, rows[spec.name].installed, rows[spec.name].size_mb, spec.licence, spec.licence_note,
                    spec.description, fetch_command(spec))
        for spec in registry.values()
    ]
    default = PoseSettings().model
    return sorted(choices, key=lambda c: (c.name != default, not registry[c.name].shipped, c.name))


# --------------------------------------------------------------------------- progress


class ProgressMeter:
    """Turns the pipeline's progress(stage, done, total) calls into a bar fraction (0..1) and one line:
    "Finding the lifter: frame 57 of 141 · 12.3 frames/s · about 7 s left"."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.stage: Optional[str] = None
        self._start_time = 0.0
        self._start_done = 0

    def update(self, stage: str, done: int, total: int) -> tuple[float, str]:
        now = self.clock()
        if stage != self.stage:
            self.stage, self._start_time, self._start_done = stage, now, done
        label = STAGE_LABELS.get(stage, stage)
        lo, hi = STAGE_SPANS.get(stage, (0.0, 1.0))
        share = min(1.0, done / total) if total > 0 else 0.0
        fraction = lo + (hi - lo) * share
        if stage == "heatmaps":
            return fraction, label
        parts = [f"{label}: frame {done} of {total}" if total > 0 else f"{label}: frame {done}"]
        elapsed = now - self._start_time
        counted = done - self._start_done
        if counted > 0 and elapsed > 0:
            rate = counted / elapsed
            parts.append(f"{rate:.1f} frames/s")
            if total > done:
                parts.append(f"about {format_seconds((total - done) / rate)} left")
        return fraction, " · ".join(parts)


def video_progress(meter: ProgressMeter, stage: str, done: int, total: int) -> tuple[float, str]:
    """How far the annotated video of an analysis shown early is: a bar fraction (0..1) for the render
    alone and one line ("Drawing the annotated video: frame 57 of 141 · … · about 7 s left")."""
    if stage == "render":
        _, text = meter.update(stage, done, total)
        return (min(1.0, done / total) if total > 0 else 0.0), text
    if stage == "heatmaps":
        return 1.0, "The annotated video is drawn: finishing the heatmaps…"
    return 0.0, "Starting the annotated video…"


def format_seconds(seconds: float) -> str:
    """12 s, 3 min 05 s, 1 h 02 min."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


# --------------------------------------------------------------------------- frame viewer


def clamp_frame(index: int, frame_count: int) -> int:
    return int(min(max(int(index), 0), max(frame_count - 1, 0)))


def bar_path_at(frames: pd.DataFrame, index: int) -> np.ndarray:
    """(K, 2) where the plate went this rep up to frame `index` (render.bar_trail); empty without a plate."""
    if "plate_x" not in frames or "rep" not in frames:
        return np.zeros((0, 2))
    return bar_trail(frames[["plate_x", "plate_y"]].to_numpy(np.float64), frames["rep"].to_numpy(), index)


def bar_trunk(summary: Mapping[str, Any]) -> bool:
    """Whether a stored analysis measured the trunk to the bar (so the overlay draws it there)."""
    if "trunk_line" in summary:
        return summary["trunk_line"] == "bar"
    model = (summary.get("model") or {}).get("name", "")
    kinematics = (summary.get("settings") or {}).get("kinematics") or {}
    return trunk_measured_to_bar(model, bool(kinematics.get("torso_from_bar", True)))


def frame_row(frames: pd.DataFrame, index: int) -> dict[str, Any]:
    """One line of frames.csv as a dict (what annotate_frame reads angles and midfoot_x from)."""
    return frames.iloc[index].to_dict()


def frame_caption(frames: pd.DataFrame, index: int) -> str:
    """"frame 77 · 2.57 s · rep 1 · knee 68° · hip 71° · lean 35°" (missing angles are left out)."""
    row = frames.iloc[index]
    parts = [f"frame {index}", f"{float(row['time_s']):.2f} s"]
    rep = int(row["rep"]) if "rep" in row and is_finite_number(row["rep"]) else 0
    parts.append(f"rep {rep}" if rep > 0 else "between reps")
    for m in on_panel("angles"):
        if m.column in row and is_finite_number(row[m.column]):
            parts.append(f"{m.short} {m.text(row[m.column])}")
    if "detected" in row and not bool(row["detected"]):
        parts.append("lifter not found in this frame (interpolated or missing)")
    return " · ".join(parts)


def heatmap_joint(side: str, part: str) -> dict[str, int]:
    """{part: joint index} of a heatmap part (neck, hip, knee, ankle) on the camera-side leg."""
    parts = side_heatmap_parts(side)
    if part not in parts:
        raise ValueError(f"part must be one of {', '.join(parts)}, not {part!r}")
    return {part: parts[part]}


def time_charts(frames: pd.DataFrame, reps: Optional[pd.DataFrame], selected_time: Optional[float],
                axis_width: int = 44, heights: Mapping[str, int] = CHART_HEIGHTS) -> list[alt.LayerChart]:
    """One chart per panel of squat.measures.PANELS that has data in this clip (angles, moment arms,
    and with a barbell the bar against the midfoot), over time with a rule at the selected time,
    drawn to line up when shown one above the other at the same width: identical time data (so
    identical x scales), a fixed y-axis width and no legends (`chart_legend_html` is their shared
    legend), so all plot areas span the same pixels.

    Separate charts rather than one vconcat: Streamlit cannot stretch a vconcat of layered charts to
    its column, and legends of different widths would shift the plot areas apart.
    """
    return [panel_chart(frames, panel, reps, selected_time, height=heights.get(panel, 160))
            .configure_axisY(minExtent=axis_width, maxExtent=axis_width).configure_legend(disable=True)
            for panel in chart_panels(frames)]


SELECTED_DATA = "selected_time"  # the time charts' specs name the selected-frame rule's one-row data


def vega_spec(chart: alt.TopLevelMixin) -> dict:
    """An Altair chart as the Vega-Lite spec the page shows (st.vega_lite_chart), converted once to
    be cached: without Altair's default 300 px view, the page sizes its charts."""
    spec = chart.to_dict()
    spec.get("config", {}).pop("view", None)
    return spec


def time_chart_specs(frames: pd.DataFrame, reps: Optional[pd.DataFrame], axis_width: int = 44,
                     heights: Mapping[str, int] = CHART_HEIGHTS) -> list[dict]:
    """time_charts as Vega-Lite specs whose selected-frame rule reads the data named SELECTED_DATA
    (`at_time` moves it): built once per clip, not on every rerun. Building and converting the
    Altair charts took 0.3 s of the web server per click or frame step, under a lock that every
    session's Altair conversion shares."""
    specs = []
    for chart in time_charts(frames, reps, 0.0, axis_width, heights):
        spec = vega_spec(chart)
        (rule,) = [layer for layer in spec["layer"] if layer.get("mark", {}).get("type") == "rule"
                   and layer["mark"].get("color") == SELECTED_COLOR]
        placeholder, rule["data"] = rule["data"]["name"], {"name": SELECTED_DATA}
        if all(layer.get("data", {}).get("name") != placeholder for layer in spec["layer"]):
            del spec["datasets"][placeholder]
        specs.append(spec)
    return specs


def at_time(spec: dict, selected_time: Optional[float]) -> dict:
    """A time chart spec (time_chart_specs) with its rule at selected_time (none when None); the
    spec itself is left as it was (it is cached)."""
    rows = [{TIME_FIELD: float(selected_time)}] if is_finite_number(selected_time) else []
    return {**spec, "datasets": {**spec["datasets"], SELECTED_DATA: rows}}


def chart_panels(frames: pd.DataFrame) -> list[str]:
    """The panels with data in this clip, in their declared order."""
    return [panel for panel in PANELS if has_panel(frames, panel)]


def picked_frame(selection: Mapping[str, Any] | None, frames: pd.DataFrame) -> Optional[int]:
    """The frame nearest the time clicked on a time chart (its `pick` selection), or None."""
    points = ((selection or {}).get("selection") or {}).get("pick") or []
    times = [p.get("time_s") for p in points if isinstance(p, Mapping) and p.get("time_s") is not None]
    if not times or not len(frames):
        return None
    return int(np.argmin(np.abs(frames["time_s"].to_numpy(float) - float(times[0]))))


def chart_legend_html(bar: bool = False, panels: Optional[list[str]] = None) -> str:
    """One line of coloured names for the time charts: every plotted measure, rep phases and the
    selected-frame rule. `panels`: those shown (chart_panels; default: angles and moment arms,
    plus the bar's panel and the bar speed's when `bar`)."""
    def swatch(colour: str, name: str, shape: str = "line") -> str:
        style = (f"display:inline-block;width:14px;height:3px;background:{colour};vertical-align:middle"
                 if shape == "line" else
                 f"display:inline-block;width:12px;height:12px;background:{colour};opacity:0.45;vertical-align:middle")
        return f'<span style="white-space:nowrap;margin-right:12px"><span style="{style}"></span> {name}</span>'

    shown = panels if panels is not None else [p for p in PANELS if p not in ("bar", "speed") or bar]
    lines = [swatch(m.colour, m.label) for p in shown for m in on_panel(p)]
    phases = [swatch(PHASE_COLORS[p], p, "box") for p in ("descent", "ascent")]
    return ('<div style="font-size:0.85rem;line-height:1.8">'
            + "".join(lines + phases + [swatch(SELECTED_COLOR, "this frame")]) + "</div>")


# --------------------------------------------------------------------------- results


def fault_label(name: str) -> str:
    return name.replace("_", " ")


def fault_names(faults: object) -> list[str]:
    """reps.csv's "a; b" fault text → ["a", "b"] (empty or missing → [])."""
    if faults is None or (isinstance(faults, float) and math.isnan(faults)):
        return []
    return [f.strip() for f in str(faults).split(";") if f.strip()]


@dataclass(frozen=True)
class FaultNote:
    fault: str  # key of FAULT_CUES
    label: str
    reps: tuple[int, ...]
    cue: str  # what to do about it


def fault_notes(reps: pd.DataFrame) -> list[FaultNote]:
    """Each fault seen, the reps it was seen in and its coaching cue, in FAULT_CUES order."""
    seen: dict[str, list[int]] = {}
    if "faults" in reps:
        for rep, faults in zip(reps["rep"], reps["faults"]):
            for fault in fault_names(faults):
                seen.setdefault(fault, []).append(int(rep))
    order = list(FAULT_CUES) + sorted(set(seen) - set(FAULT_CUES))
    return [FaultNote(f, fault_label(f), tuple(seen[f]), FAULT_CUES.get(f, "")) for f in order if f in seen]


@dataclass(frozen=True)
class Metric:
    label: str
    value: str
    help: str = ""


def _mean(values: pd.Series) -> float:
    v = pd.to_numeric(values, errors="coerce")
    return float(v.mean()) if v.notna().any() else math.nan


def _fmt(value: float, fmt: str, unit: str = "") -> str:
    return f"{value:{fmt}}{unit}" if is_finite_number(value) else "—"


def tempo_text(descent_s: float, pause_s: float, ascent_s: float) -> str:
    """"1.6 / 0.3 / 1.2": seconds down / at the bottom / up."""
    if not any(is_finite_number(v) for v in (descent_s, pause_s, ascent_s)):
        return "—"
    return f"{_fmt(descent_s, '.1f')} / {_fmt(pause_s, '.1f')} / {_fmt(ascent_s, '.1f')}"


def headline_metrics(summary: Mapping[str, Any], reps: pd.DataFrame) -> list[Metric]:
    """The numbers at the top of the results: reps, depth, tempo, proportions."""
    proportions = summary.get("proportions") or {}
    n = len(reps)
    below = int(reps["hip_below_knee"].astype(bool).sum()) if n and "hip_below_knee" in reps else 0
    depth = _mean(reps["depth_knee_angle"]) if n else math.nan
    deepest = float(pd.to_numeric(reps["depth_knee_angle"], errors="coerce").min()) if n else math.nan
    tempo = tempo_text(*(_mean(reps[c]) if n else math.nan for c in ("descent_s", "pause_s", "ascent_s")))
    return [
        Metric("reps", str(n), "squats counted from the hip's path (down, bottom, up)"),
        Metric("depth (mean)", _fmt(depth, ".0f", "°"),
               "knee angle at the bottom, mean over reps (180° = straight leg; smaller is deeper)"
               + (f"; deepest rep {deepest:.0f}°" if is_finite_number(deepest) else "")),
        Metric("below parallel", f"{below} of {n}" if n else "—", "reps whose hip crease went below the knee"),
        Metric("tempo (s)", tempo, "mean seconds down / paused at the bottom / up"),
        Metric("femur / torso", _fmt(proportions.get("femur_to_torso", math.nan), ".2f"),
               "thigh length over trunk length, measured standing: long femurs mean more trunk lean at the same depth"),
        Metric("shin / femur", _fmt(proportions.get("shin_to_femur", math.nan), ".2f"),
               "shin length over thigh length, measured standing"),
        *bar_speed_metrics(summary, reps),
    ]


def bar_speed_metrics(summary: Mapping[str, Any], reps: pd.DataFrame) -> list[Metric]:
    """The set's bar speed: the fastest rep's MCV and the velocity loss to the last rep; one
    "bar speed —" saying why where no plate was seen."""
    speed = summary.get("bar_speed") or {}
    if not speed.get("available"):
        note = speed.get("note") or "no bar speed in this analysis (analysed before bar speed was measured)"
        return [Metric("bar speed", "—", note)] if len(reps) else []
    mcv, loss = REP["mcv_ms"], REP["velocity_loss_pct"]
    return [
        Metric(f"best {mcv.short}", mcv.text(speed.get("best_mcv_ms")),
               "mean concentric velocity of the fastest rep: the bar's rise over the time from the bottom to the top, "
               "from the plate's centre"),
        Metric(loss.short, loss.text(speed.get("velocity_loss_pct")),
               "how much slower the last rep was than the fastest (mean concentric velocity); "
               "velocity-based training often ends a set at 20-30 % loss"),
    ]


# reps.csv columns the results table shows, in order; headers and formats come from squat.measures.
REP_TABLE_COLUMNS: tuple[str, ...] = (
    "rep", "depth_knee_angle", "hip_below_knee", "descent_s", "pause_s", "ascent_s", "max_trunk_lean",
    "max_hip_moment_arm_femur", "max_knee_moment_arm_femur", "bar_off_midfoot_cm", "mcv_ms", "peak_velocity_ms",
    "concentric_cm", "velocity_loss_pct", "faults",
)
# Bar columns shown only where the clip has them (no plate seen: a bodyweight set has none).
BAR_TABLE_COLUMNS = frozenset({"bar_off_midfoot_cm", "mcv_ms", "peak_velocity_ms", "concentric_cm",
                               "velocity_loss_pct"})


def rep_table_formats() -> dict[str, str]:
    """Display format per rep_table header, from each measure's declared format."""
    return {REP[c].short_title: f"{{:{REP[c].fmt}}}" for c in REP_TABLE_COLUMNS if REP[c].kind == "float"}


def rep_table(reps: pd.DataFrame) -> pd.DataFrame:
    """reps.csv as the results view shows it: coach-readable column names, faults spelled out, rounded."""
    out = pd.DataFrame(index=range(len(reps)))
    for column in REP_TABLE_COLUMNS:
        m = REP[column]
        if column not in reps or (column in BAR_TABLE_COLUMNS and reps[column].isna().all()):
            continue  # no barbell seen: no bar columns
        values = reps[column].reset_index(drop=True)
        if column == "faults":
            values = values.map(lambda f: ", ".join(fault_label(x) for x in fault_names(f)))
        elif m.kind == "bool":
            values = values.map(lambda v: "yes" if v is True or str(v).lower() == "true" else "no")
        elif m.kind == "int":
            values = values.astype(int)
        else:
            values = pd.to_numeric(values, errors="coerce").round(m.decimals)
        out[m.short_title] = values
    return out


def rep_bottom_frame(reps: pd.DataFrame, row: int) -> int:
    """The bottom frame of the rep in row `row` of the rep table."""
    return int(reps["bottom_frame"].iloc[row])


def entry_label(clip_name: str, created_local: str, rep_count: int, mean_depth: Optional[float]) -> str:
    """"squat_side.mp4 · 25 Nov 14:03 · 1 rep · 67°" for the list of past analyses."""
    reps = f"{rep_count} rep" + ("" if rep_count == 1 else "s")
    depth = f" · {mean_depth:.0f}°" if mean_depth is not None and is_finite_number(mean_depth) else ""
    return f"{clip_name} · {created_local} · {reps}{depth}"


# --------------------------------------------------------------------------- reference lifter


COMPARE_COLUMNS: tuple[str, ...] = ("knee_angle", "hip_angle", "trunk_lean")
ALIGN_METHODS: dict[str, str] = {"phase": "by phase (bottoms meet)", "dtw": "by knee path (DTW)"}


def reference_settings(summary: Mapping[str, Any]) -> Settings:
    """Settings to analyse a reference clip with: the user's run's, camera-side leg detected anew
    (the reference may face the other way)."""
    settings = settings_from_summary(summary)
    return replace(settings, kinematics=replace(settings.kinematics, side="auto"))


def reference_candidates(you_key: str, you_proportions: Mapping[str, Any],
                         candidates: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Other stored analyses ranked by build closeness to yours (compare.rank_references); your own
    analysis is left out. Columns key, femur_to_torso, shin_to_femur, distance."""
    return rank_references(you_proportions or {}, {k: p or {} for k, p in candidates.items() if k != you_key})


def reference_label(clip_name: str, created_local: str, distance: float) -> str:
    """"squat_side.mp4 · 25 Nov 14:03 · build distance 0.05" (unknown build: "build unknown")."""
    build = f"build distance {distance:.2f}" if is_finite_number(distance) else "build unknown"
    return f"{clip_name} · {created_local} · {build}"


def rep_label(reps: pd.DataFrame, row: int) -> str:
    """"rep 2 · 1.6 s down" style label of row `row` of a reps table."""
    rep = int(reps["rep"].iloc[row]) if "rep" in reps else row + 1
    depth = reps["depth_knee_angle"].iloc[row] if "depth_knee_angle" in reps else math.nan
    return f"rep {rep}" + (f" · depth {float(depth):.0f}°" if is_finite_number(depth) else "")


def rep_record(reps: pd.DataFrame, row: int) -> dict[str, Any]:
    """One rep (row position) as the dict squat.compare reads (start_time, bottom_time, end_time, …)."""
    return reps.iloc[int(row)].to_dict()


def synced_frames(aligned: pd.DataFrame, phase: float, you_frames: pd.DataFrame, you_rep: Mapping[str, Any],
                  ref_frames: pd.DataFrame, ref_rep: Mapping[str, Any]) -> tuple[int, int, float]:
    """The two viewers' frames at one slider phase (0..1, the reference's phase in `aligned`):
    (your frame, the reference's frame, your phase). With phase alignment your phase is the
    slider's; with DTW it is the phase of yours matched to that moment of the reference."""
    phase = float(np.clip(phase, 0.0, 1.0))
    you_phase = float(np.interp(phase, aligned["phase"].to_numpy(float), aligned["you_phase"].to_numpy(float)))
    return (matching_frame(you_phase, you_frames, you_rep), matching_frame(phase, ref_frames, ref_rep), you_phase)


def aligned_chart_tables(aligned: pd.DataFrame, column: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """align_reps' table as two one-rep frames tables for charts.comparison_chart: time_s is the
    aligned phase (0..1), so the chart's phase axis is the alignment's (bottoms at 0.5)."""
    def table(who: str) -> pd.DataFrame:
        return pd.DataFrame({"time_s": aligned["phase"].to_numpy(float), "rep": 1,
                             column: aligned[f"{who}_{column}"].to_numpy(float)})
    return table("you"), table("ref")


def comparison_charts(aligned: pd.DataFrame, phase: Optional[float],
                      columns: tuple[str, ...] = COMPARE_COLUMNS, height: int = 200) -> list[alt.LayerChart]:
    """You vs the reference over the aligned rep, one chart per column, with a rule at `phase`."""
    charts = []
    for column in columns:
        if f"you_{column}" not in aligned or f"ref_{column}" not in aligned:
            continue
        chart = comparison_chart(*aligned_chart_tables(aligned, column), column, height=height)
        layers = [chart]
        if phase is not None:
            layers.append(alt.Chart(pd.DataFrame({"phase": [float(phase)]}))
                          .mark_rule(color=SELECTED_COLOR, strokeWidth=2).encode(x="phase:Q"))
        charts.append(alt.layer(*layers))
    return charts


def ghost_keypoints(you_frames: pd.DataFrame, you_index: int, you_summary: Mapping[str, Any],
                    ref_frames: pd.DataFrame, ref_index: int, ref_summary: Mapping[str, Any]) -> Optional[np.ndarray]:
    """The reference's pose at ref_index rebuilt on your segments at your midfoot
    (compare.ghost_skeleton), or None when it cannot be built (unknown lengths or side)."""
    you_side, ref_side = you_summary.get("side"), ref_summary.get("side")
    if you_side not in ("left", "right") or ref_side not in ("left", "right"):
        return None
    try:
        ghost = ghost_skeleton(
            keypoints_at(ref_frames, ref_index), ref_side, keypoints_at(you_frames, you_index), you_side,
            you_summary.get("proportions") or {},
            float(you_frames["midfoot_x"].iloc[you_index]) if "midfoot_x" in you_frames else math.nan,
            float(ref_frames["midfoot_x"].iloc[ref_index]) if "midfoot_x" in ref_frames else math.nan,
            int(you_summary.get("facing") or 1), int(ref_summary.get("facing") or 1),
            ref_segments=ref_summary.get("proportions") or {},
            ref_trunk_lean=float(ref_frames["trunk_lean"].iloc[ref_index]) if "trunk_lean" in ref_frames else math.nan,
        )
    except ValueError:
        return None
    return ghost if np.isfinite(ghost[:, :2]).any() else None


def proportions_display(you: Mapping[str, Any], reference: Mapping[str, Any]) -> pd.DataFrame:
    """compare.proportions_table for the page: measure, you, reference, difference (%), rounded."""
    table = proportions_table(you or {}, reference or {}).reset_index(drop=True)
    return pd.DataFrame({"measure": table["measure"], "you": table["you"].round(2),
                         "reference": table["reference"].round(2),
                         "difference (%)": table["difference_pct"].round(0)})


def torso_caveat(you: Mapping[str, Any], reference: Mapping[str, Any]) -> str:
    """A note when the two torsos were measured to different points (the bar on one clip, the
    shoulders on the other): the bar rides above the shoulders and the small model reads each
    differently, so femur/torso compares only roughly across the two. Empty when alike or unknown."""
    ends = {"bar": "the bar", "shoulder": "the shoulder", "neck": "the neck", "far_shoulder": "the far shoulder"}
    a, b = (p.get("torso_to") if p else None for p in (you, reference))
    if a not in ends or b not in ends or (a == "bar") == (b == "bar"):
        return ""
    return (f"Your torso was measured to {ends[a]}, the reference's to {ends[b]} (one clip has a barbell, the "
            "other not): femur/torso compares only roughly. Compare with a lifter filmed the same way.")


def summary_display(you_reps: pd.DataFrame, ref_reps: pd.DataFrame) -> pd.DataFrame:
    """compare.comparison_summary for the page: metric (unit), you, reference, difference, rounded."""
    table = comparison_summary(you_reps, ref_reps)
    decimals = table["unit"].map({"°": 0, "%": 0, "s": 1}).fillna(2).astype(int).to_numpy()
    def rounded(column: str) -> list[float]:
        return [round(float(v), int(d)) if is_finite_number(v) else math.nan for v, d in zip(table[column], decimals)]
    return pd.DataFrame({"metric": [f"{m} ({u})" for m, u in zip(table["metric"], table["unit"])],
                         "you": rounded("you"), "reference": rounded("reference"),
                         "difference": rounded("difference")})
