"""Altair chart specs for the dashboard: pure functions, tables in, charts out, no I/O.

Every time chart puts `time_s` on x titled "time (s)", so charts concatenate with a shared
x scale (`alt.vconcat(a, b).resolve_scale(x="shared")`) and one selected time marks them all.
Data is embedded as inline records (NaN as null, so lines break at gaps), which also keeps
long clips clear of Altair's 5000-row limit.
"""
from __future__ import annotations

import json

import altair as alt
import numpy as np
import pandas as pd

from squat.measures import COLOURS, FRAME, PANELS, REP, on_panel
from squat.numbers import is_finite_number
from squat.series import rep_spans

TIME_FIELD = "time_s"
TIME_TITLE = "time (s)"

PHASE_COLORS: dict[str, str] = {"descent": "#7f9cc4", "ascent": "#c4ad7f", "rep": "#9a9a9a"}
BAND_OPACITY = 0.18
SELECTED_COLOR = "#d62728"
YOU_COLOR = "#ff8c00"
REFERENCE_COLOR = "#7a7a7a"


def series(panel: str) -> dict[str, str]:
    """Per-frame column → legend name (the measure's label) of a panel's lines, in legend order."""
    return {m.column: m.label for m in on_panel(panel)}


# Legend name → colour, for the lines of every panel (squat.measures: one joint, one colour).
SERIES_COLORS: dict[str, str] = {m.label: m.colour for p in PANELS for m in on_panel(p)}


def _inline(table: pd.DataFrame) -> dict:
    """Inline records with NaN as null (JSON-safe; a null breaks a line).

    A plain {"values": [...]} skips Altair's 5000-row limit and its per-record schema
    validation (seconds on a long clip); pandas' JSON writer converts NaN and numpy types in C.
    """
    return {"values": json.loads(table.to_json(orient="records", double_precision=6))}


def _time_x() -> alt.X:
    return alt.X(f"{TIME_FIELD}:Q", title=TIME_TITLE)


def _require_time(frames: pd.DataFrame) -> None:
    if TIME_FIELD not in frames:
        raise ValueError(f"per-frame table needs a {TIME_FIELD!r} column")


def _wide(frames: pd.DataFrame, series: dict[str, str]) -> pd.DataFrame:
    """time_s, rep and the series columns renamed to their legend names (NaN where absent)."""
    out = pd.DataFrame({TIME_FIELD: pd.to_numeric(frames[TIME_FIELD], errors="coerce")})
    out["rep"] = frames["rep"].fillna(0).astype(int) if "rep" in frames else 0
    for column, name in series.items():
        out[name] = pd.to_numeric(frames[column], errors="coerce") if column in frames else np.nan
    return out.reset_index(drop=True)


def rep_bands(frames: pd.DataFrame, reps: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per shaded band: time_s (start), time_end, rep, phase.

    With the per-rep table: descent (start→bottom) and ascent (bottom→end) per rep. Without it:
    one "rep" band per run of frames sharing a rep number > 0.
    """
    columns = [TIME_FIELD, "time_end", "rep", "phase"]
    rows: list[dict] = []
    if reps is not None and len(reps):
        for rec in reps.to_dict(orient="records"):
            start, bottom, end = (rec.get(k) for k in ("start_time", "bottom_time", "end_time"))
            if is_finite_number(start) and is_finite_number(bottom):
                rows.append({TIME_FIELD: start, "time_end": bottom, "rep": int(rec["rep"]), "phase": "descent"})
            if is_finite_number(bottom) and is_finite_number(end):
                rows.append({TIME_FIELD: bottom, "time_end": end, "rep": int(rec["rep"]), "phase": "ascent"})
            if not is_finite_number(bottom) and is_finite_number(start) and is_finite_number(end):
                rows.append({TIME_FIELD: start, "time_end": end, "rep": int(rec["rep"]), "phase": "rep"})
    elif "rep" in frames and len(frames):
        table = frames.sort_values(TIME_FIELD)
        spans = rep_spans(table[TIME_FIELD].to_numpy(dtype=float), table["rep"].fillna(0).astype(int).to_numpy())
        rows = [{TIME_FIELD: a, "time_end": b, "rep": rep, "phase": "rep"} for rep, a, b in spans]
    return pd.DataFrame(rows, columns=columns)


def _band_layer(bands: pd.DataFrame) -> alt.Chart:
    phases = [p for p in PHASE_COLORS if p in set(bands["phase"])]
    return (
        alt.Chart(_inline(bands))
        .mark_rect(opacity=BAND_OPACITY)
        .encode(
            x=_time_x(),
            x2=alt.X2("time_end:Q"),
            fill=alt.Fill("phase:N", title="phase",
                          scale=alt.Scale(domain=phases, range=[PHASE_COLORS[p] for p in phases])),
            tooltip=[alt.Tooltip("rep:O", title="rep"), alt.Tooltip("phase:N"),
                     alt.Tooltip(f"{TIME_FIELD}:Q", title="from (s)", format=".2f"),
                     alt.Tooltip("time_end:Q", title="to (s)", format=".2f")],
        )
    )


def _selected_rule(selected_time: float) -> alt.Chart:
    return (
        alt.Chart(_inline(pd.DataFrame({TIME_FIELD: [float(selected_time)]})))
        .mark_rule(color=SELECTED_COLOR, strokeWidth=2)
        .encode(x=_time_x(), tooltip=[alt.Tooltip(f"{TIME_FIELD}:Q", title="selected (s)", format=".2f")])
    )


PICK = "pick"  # name of the time charts' click selection: {"pick": [{"time_s": ...}]}


def _time_series_chart(frames: pd.DataFrame, series: dict[str, str], value_field: str, y_title: str,
                       value_format: str, reps: pd.DataFrame | None, selected_time: float | None,
                       height: int, y_domain: tuple[float, float] | None = None) -> alt.LayerChart:
    _require_time(frames)
    names = list(series.values())
    lines = (
        alt.Chart(_inline(_wide(frames, series)))
        .transform_fold(names, as_=["measure", value_field])
        .mark_line(strokeWidth=2, invalid="break-paths-show-domains")  # NaN gaps break the line
        .encode(
            x=_time_x(),
            y=alt.Y(f"{value_field}:Q", title=y_title,
                    scale=alt.Scale(domain=list(y_domain)) if y_domain else alt.Undefined),
            color=alt.Color("measure:N", title=None, sort=names,
                            scale=alt.Scale(domain=names, range=[SERIES_COLORS[n] for n in names])),
            tooltip=[alt.Tooltip(f"{TIME_FIELD}:Q", title=TIME_TITLE, format=".2f"), alt.Tooltip("measure:N"),
                     alt.Tooltip(f"{value_field}:Q", format=value_format), alt.Tooltip("rep:O")],
        )
    )
    layers: list[alt.Chart] = []
    bands = rep_bands(frames, reps)
    if len(bands):
        layers.append(_band_layer(bands))
    layers.append(lines)
    # Clicking anywhere near a line picks the nearest frame's time (the app moves its viewer there).
    pick = alt.selection_point(name=PICK, fields=[TIME_FIELD], on="click", nearest=True, empty=False)
    layers.append(lines.mark_point(opacity=0, size=80).encode(tooltip=alt.value(None)).add_params(pick))
    if selected_time is not None and is_finite_number(selected_time):
        layers.append(_selected_rule(selected_time))
    return alt.layer(*layers).properties(height=height)


def panel_chart(frames: pd.DataFrame, panel: str, reps: pd.DataFrame | None = None,
                selected_time: float | None = None, height: int = 200) -> alt.LayerChart:
    """One panel of squat.measures.PANELS over time: its measures' lines, rep phases shaded, a rule
    at the selected time, a dashed rule at 0 (on the midfoot line) where the panel has one, and a
    symmetric axis of at least ±min_reach where it has one (a centimetre of noise must not look
    like a drifting bar)."""
    spec = PANELS[panel]
    lines = series(panel)
    domain = None
    if spec.min_reach:
        values = np.concatenate([pd.to_numeric(frames[c], errors="coerce").to_numpy(float)
                                 for c in lines if c in frames] or [np.array([])])
        reach = (max(spec.min_reach, float(np.ceil(np.nanmax(np.abs(values)))))
                 if np.isfinite(values).any() else spec.min_reach)
        domain = (-reach, reach)
    chart = _time_series_chart(frames, lines, panel, spec.axis, spec.fmt, reps, selected_time, height, domain)
    return _with_midfoot_line(chart, panel, height) if spec.zero_line else chart


def has_panel(frames: pd.DataFrame, panel: str) -> bool:
    """Whether any of a panel's measures has a value in this clip (no barbell: no bar panel)."""
    return any(c in frames and bool(pd.to_numeric(frames[c], errors="coerce").notna().any()) for c in series(panel))


def angle_chart(frames: pd.DataFrame, reps: pd.DataFrame | None = None, selected_time: float | None = None,
                height: int = 220) -> alt.LayerChart:
    """Knee angle, hip angle and trunk lean (degrees) over time."""
    return panel_chart(frames, "angles", reps, selected_time, height)


def moment_arm_chart(frames: pd.DataFrame, reps: pd.DataFrame | None = None, selected_time: float | None = None,
                     height: int = 160) -> alt.LayerChart:
    """Hip and knee moment arms (fraction of femur length; 0 = on the midfoot line) over time."""
    return panel_chart(frames, "arms", reps, selected_time, height)


def has_bar(frames: pd.DataFrame) -> bool:
    """Whether a barbell was seen: frames.csv has the bar's distance from the midfoot somewhere."""
    return has_panel(frames, "bar")


def bar_chart(frames: pd.DataFrame, reps: pd.DataFrame | None = None, selected_time: float | None = None,
              height: int = 140) -> alt.LayerChart:
    """The bar ahead (+) of or behind (−) the midfoot, cm, over time: a good squat keeps it near 0."""
    return panel_chart(frames, "bar", reps, selected_time, height)


def _with_midfoot_line(chart: alt.LayerChart, value_field: str, height: int) -> alt.LayerChart:
    """The chart with a dashed rule at 0 of value_field: on the midfoot line."""
    midfoot = (
        alt.Chart(_inline(pd.DataFrame({value_field: [0.0]})))
        .mark_rule(color=COLOURS["midfoot"], strokeDash=[4, 4])
        .encode(y=f"{value_field}:Q")
    )
    # Altair keeps a layer's selections on the layer chart itself: carry them over.
    return alt.layer(*chart.layer, midfoot, params=chart.params).properties(height=height)


def rep_depth_chart(reps: pd.DataFrame, parallel_knee_angle: float = 90.0, height: int = 200) -> alt.LayerChart:
    """Bars per rep of depth (knee flexion at the bottom, 180° − knee angle: taller is deeper).

    The dashed rule marks `parallel_knee_angle` (a conventional 90° knee angle); bar colour is the
    actual test, hip crease below the knee at the bottom (`hip_below_knee`).
    """
    def status(v: object) -> str:
        if pd.isna(v):
            return "unknown"
        return "below parallel" if bool(v) else "above parallel"

    table = pd.DataFrame({
        "rep": reps["rep"].astype(int).to_numpy() if "rep" in reps else np.arange(1, len(reps) + 1),
        "depth_knee_angle": pd.to_numeric(reps["depth_knee_angle"], errors="coerce").to_numpy(),
    }).reset_index(drop=True)
    table["knee_flexion"] = 180.0 - table["depth_knee_angle"]
    below = reps["hip_below_knee"] if "hip_below_knee" in reps else pd.Series([None] * len(reps))
    table["depth"] = [status(v) for v in below.tolist()]
    table["faults"] = reps["faults"].fillna("").astype(str).tolist() if "faults" in reps else ""
    domain = ["below parallel", "above parallel", "unknown"]
    bars = (
        alt.Chart(_inline(table))
        .mark_bar()
        .encode(
            x=alt.X("rep:O", title="rep"),
            y=alt.Y("knee_flexion:Q", title="depth: knee flexion at bottom (°)", scale=alt.Scale(domain=[0, 180])),
            color=alt.Color("depth:N", title=None,
                            scale=alt.Scale(domain=domain, range=[COLOURS["midfoot"], "#e45756", "#9a9a9a"])),
            tooltip=[alt.Tooltip("rep:O"), alt.Tooltip("depth_knee_angle:Q", title="knee angle (°)", format=".0f"),
                     alt.Tooltip("knee_flexion:Q", title="knee flexion (°)", format=".0f"),
                     alt.Tooltip("depth:N"), alt.Tooltip("faults:N")],
        )
    )
    parallel = pd.DataFrame({"knee_flexion": [180.0 - parallel_knee_angle], "label": ["parallel"]})
    rule = alt.Chart(_inline(parallel)).mark_rule(strokeDash=[6, 4], color="#333333").encode(
        y="knee_flexion:Q", tooltip=[alt.Tooltip("label:N")])
    text = alt.Chart(_inline(parallel)).mark_text(align="left", dx=4, dy=-6, color="#333333").encode(
        y="knee_flexion:Q", x=alt.value(0), text="label:N")
    return alt.layer(bars, rule, text).properties(height=height)


def has_bar_speed(reps: pd.DataFrame) -> bool:
    """Whether any rep's mean concentric velocity was measured (a plate was seen through its ascent)."""
    return "mcv_ms" in reps and bool(np.isfinite(pd.to_numeric(reps["mcv_ms"], errors="coerce")).any())


def rep_velocity_chart(reps: pd.DataFrame, height: int = 200) -> alt.LayerChart:
    """Bars per rep of the mean concentric velocity (MCV), each labelled with its loss from the
    set's fastest rep: the velocity-based training view of a set slowing down. A rep whose MCV was
    not measured has no bar (its label says so)."""
    mcv, loss = REP["mcv_ms"], REP["velocity_loss_pct"]
    table = pd.DataFrame({
        "rep": reps["rep"].astype(int).to_numpy() if "rep" in reps else np.arange(1, len(reps) + 1),
        "mcv_ms": pd.to_numeric(reps["mcv_ms"], errors="coerce").to_numpy(),
        "velocity_loss_pct": pd.to_numeric(reps.get("velocity_loss_pct"), errors="coerce").to_numpy()
        if "velocity_loss_pct" in reps else np.nan,
    }).reset_index(drop=True)
    table["label"] = [("fastest" if loss_pct == 0 else f"−{loss_pct:.0f}%") if np.isfinite(loss_pct) else
                      ("" if np.isfinite(v) else "not measured")
                      for v, loss_pct in zip(table["mcv_ms"], table["velocity_loss_pct"])]
    table["label_at"] = table["mcv_ms"].fillna(0.0)
    top = float(np.nanmax(table["mcv_ms"])) if np.isfinite(table["mcv_ms"]).any() else 1.0
    y = alt.Y("mcv_ms:Q", title=mcv.title, scale=alt.Scale(domain=[0, round(top * 1.25, 2)]))
    bars = alt.Chart(_inline(table)).mark_bar(color=mcv.colour).encode(
        x=alt.X("rep:O", title="rep"), y=y,
        tooltip=[alt.Tooltip("rep:O"), alt.Tooltip("mcv_ms:Q", title=mcv.title, format=mcv.fmt),
                 alt.Tooltip("velocity_loss_pct:Q", title=loss.title, format=loss.fmt)])
    text = alt.Chart(_inline(table)).mark_text(dy=-8, color="#333333").encode(
        x="rep:O", y=alt.Y("label_at:Q"), text="label:N")
    return alt.layer(bars, text).properties(height=height)


def rep_phase(frames: pd.DataFrame) -> pd.Series:
    """Normalised position in the rep, 0 at its start and 1 at its end, for every frame.

    Frames with rep > 0 are normalised within their rep; a table without reps (or with rep 0
    only) is treated as one rep over its whole time span. Frames outside reps get NaN.
    """
    _require_time(frames)
    t = pd.to_numeric(frames[TIME_FIELD], errors="coerce")
    rep = frames["rep"].fillna(0).astype(int) if "rep" in frames else pd.Series(0, index=frames.index)
    if not (rep > 0).any():
        rep = pd.Series(1, index=frames.index)
    grouped = t.where(rep > 0).groupby(rep)
    start, end = grouped.transform("min"), grouped.transform("max")
    span = (end - start).where(end > start)
    phase = ((t - start) / span).where(span.notna(), 0.0)  # a one-frame rep sits at 0
    return phase.where((rep > 0) & t.notna())


def comparison_chart(you: pd.DataFrame, reference: pd.DataFrame, column: str, height: int = 220) -> alt.Chart:
    """`column` over normalised rep phase (0..1), you vs a reference lifter; one line per rep."""
    parts = []
    for who, frames in (("you", you), ("reference", reference)):
        if column not in frames:
            raise ValueError(f"{who} table has no {column!r} column")
        parts.append(pd.DataFrame({
            "who": who,
            "rep": frames["rep"].fillna(0).astype(int).to_numpy() if "rep" in frames else 0,
            "phase": rep_phase(frames).to_numpy(),
            column: pd.to_numeric(frames[column], errors="coerce").to_numpy(),
        }))
    table = pd.concat(parts, ignore_index=True)
    table = table[table["phase"].notna()]
    title = FRAME[column].title if column in FRAME else column
    return (
        alt.Chart(_inline(table))
        .mark_line(strokeWidth=2, invalid="break-paths-show-domains")
        .encode(
            x=alt.X("phase:Q", title="rep phase (0 = start, 1 = end)", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y(f"{column}:Q", title=title),
            color=alt.Color("who:N", title=None,
                            scale=alt.Scale(domain=["you", "reference"], range=[YOU_COLOR, REFERENCE_COLOR])),
            detail="rep:N",
            tooltip=[alt.Tooltip("who:N"), alt.Tooltip("rep:O"), alt.Tooltip("phase:Q", format=".2f"),
                     alt.Tooltip(f"{column}:Q", title=title, format=".2f")],
        )
        .properties(height=height)
    )
