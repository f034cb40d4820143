"""Every measure the engine writes, declared once: its column, what a coach calls it, unit, colour,
format, and whether it is per frame or per rep.

frames.csv and reps.csv take their measure columns from here, in this order; the Altair charts,
the video's chart band, the app's tables and captions and the comparison read their names, units,
colours and formats from here. Adding a measure is one `Measure` line and the function that
computes it; putting it on a chart panel is its `panel`.
"""
from __future__ import annotations

from dataclasses import dataclass

from squat.numbers import is_finite_number

# One joint, one colour, everywhere: the video overlay, the chart band, the app's charts.
COLOURS: dict[str, str] = {
    "knee": "#ffa500",  # orange
    "hip": "#28c3ff",  # sky blue
    "trunk": "#ff64aa",  # pink
    "midfoot": "#5ae16e",  # green: the ideal bar path / centre-of-gravity line
    "bar": "#ff4646",  # red: the bar's actual path
    "plain": "#9a9a9a",  # a measure without a joint of its own
}


@dataclass(frozen=True)
class Measure:
    column: str  # the frames.csv / reps.csv column
    label: str  # what a lifter or coach calls it: table headers, chart titles and legends, reports
    short: str  # the name where space is tight: the video's chart band, captions
    unit: str  # "°", "× femur", "px", "cm", "s", "" (a count or a yes/no)
    fmt: str = ".1f"  # format spec of one value
    colour: str = COLOURS["plain"]
    panel: str = ""  # the time-chart panel that plots it (see PANELS); "" = not plotted
    per: str = "frame"  # "frame" (frames.csv) or "rep" (reps.csv)
    kind: str = "float"  # "float", "int", "bool" or "text": the column's type when a table is empty

    @property
    def title(self) -> str:
        """"knee angle (°)": the label with its unit, for axes and table headers."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    @property
    def short_title(self) -> str:
        """"max lean (°)": the short name with its unit, for narrow table headers."""
        return f"{self.short} ({self.unit})" if self.unit else self.short

    @property
    def decimals(self) -> int:
        """Decimal places of the format (".2f" → 2; 0 for whole numbers and text)."""
        return int(self.fmt[1:-1]) if self.fmt.startswith(".") and self.fmt.endswith("f") else 0

    def text(self, value: object) -> str:
        """One value as shown to a lifter: "68°", "0.31 × femur", "—" where missing."""
        if not is_finite_number(value):
            return "—"
        unit = self.unit if self.unit in ("°", "%") else f" {self.unit}" if self.unit else ""
        return f"{float(value):{self.fmt}}{unit}"


@dataclass(frozen=True)
class Panel:
    """One time chart (app) or strip panel (video): what its y axis shows."""

    name: str
    axis: str  # y-axis title
    fmt: str  # tooltip and readout format
    zero_line: bool = False  # a dashed rule at 0: on the midfoot line
    min_reach: float = 0.0  # > 0: a symmetric axis of at least ±min_reach (else the data's own range)
    # False: only the app charts it; the video's band is too short for another lane and writes
    # this panel's number on the frame instead (the bar's speed at the bar)
    in_video: bool = True


_F, _R = "frame", "rep"
K, H, T, B, M = (COLOURS[c] for c in ("knee", "hip", "trunk", "bar", "midfoot"))

MEASURES: tuple[Measure, ...] = (
    # per frame, in frames.csv order (after the keypoint columns)
    Measure("knee_angle", "knee angle", "knee", "°", ".0f", K, "angles"),
    Measure("hip_angle", "hip angle", "hip", "°", ".0f", H, "angles"),
    Measure("shin_angle", "shin angle", "shin", "°", ".0f"),
    Measure("trunk_lean", "trunk lean", "lean", "°", ".0f", T, "angles"),
    Measure("hip_moment_arm", "hip moment arm", "hip", "px", ".0f", H),
    Measure("knee_moment_arm", "knee moment arm", "knee", "px", ".0f", K),
    Measure("rep", "rep", "rep", "", "d", kind="int"),
    Measure("hip_moment_arm_femur", "hip moment arm", "hip", "× femur", ".2f", H, "arms"),
    Measure("knee_moment_arm_femur", "knee moment arm", "knee", "× femur", ".2f", K, "arms"),
    Measure("midfoot_x", "midfoot", "midfoot", "px", ".0f", M),
    Measure("bar_x", "bar x", "bar x", "px", ".0f", B),
    Measure("bar_y", "bar y", "bar y", "px", ".0f", B),
    Measure("bar_midfoot", "bar ahead of the midfoot", "bar", "px", ".0f", B),
    Measure("bar_midfoot_cm", "bar ahead of the midfoot", "bar", "cm", ".1f", B, "bar"),
    Measure("plate_x", "plate centre x", "plate x", "px", ".0f", B),  # the visible plate's face
    Measure("plate_y", "plate centre y", "plate y", "px", ".0f", B),
    Measure("plate_radius", "plate radius", "plate", "px", ".0f", B),
    # bar speed from the plate (squat.measure.bar_speed): height above the first seen frame, up +
    Measure("bar_height_cm", "bar height", "bar height", "cm", ".1f", B),
    Measure("bar_velocity_ms", "bar velocity (vertical)", "bar speed", "m/s", ".2f", B, "speed"),
    # per rep, in reps.csv order
    Measure("rep", "rep", "rep", "", "d", per=_R, kind="int"),
    Measure("start_time", "start", "start", "s", ".2f", per=_R),
    Measure("bottom_time", "bottom", "bottom", "s", ".2f", per=_R),
    Measure("end_time", "end", "end", "s", ".2f", per=_R),
    Measure("start_frame", "start frame", "start", "", "d", per=_R, kind="int"),
    Measure("bottom_frame", "bottom frame", "bottom", "", "d", per=_R, kind="int"),
    Measure("end_frame", "end frame", "end", "", "d", per=_R, kind="int"),
    Measure("depth_knee_angle", "depth (knee angle at the bottom)", "depth", "°", ".0f", K, per=_R),
    Measure("hip_below_knee", "below parallel", "below parallel", "", "", M, per=_R, kind="bool"),
    Measure("descent_s", "descent", "down", "s", ".1f", per=_R),
    Measure("pause_s", "pause at the bottom", "pause", "s", ".1f", per=_R),
    Measure("ascent_s", "ascent", "up", "s", ".1f", per=_R),
    Measure("max_trunk_lean", "max trunk lean", "max lean", "°", ".0f", T, per=_R),
    Measure("max_hip_moment_arm", "max hip moment arm", "max hip arm", "px", ".0f", H, per=_R),
    Measure("max_hip_moment_arm_femur", "max hip moment arm", "max hip arm", "× femur", ".2f", H, per=_R),
    Measure("max_knee_moment_arm", "max knee moment arm", "max knee arm", "px", ".0f", K, per=_R),
    Measure("max_knee_moment_arm_femur", "max knee moment arm", "max knee arm", "× femur", ".2f", K, per=_R),
    Measure("bar_off_midfoot_cm", "bar's furthest off the midfoot (+ ahead)", "bar off midfoot", "cm", ".1f", B,
            per=_R),
    # bar speed, velocity-based training (squat.measure.bar_speed); NaN without a plate
    Measure("mcv_ms", "mean concentric velocity", "MCV", "m/s", ".2f", B, per=_R),
    Measure("mpv_ms", "mean propulsive velocity", "MPV", "m/s", ".2f", B, per=_R),
    Measure("peak_velocity_ms", "peak concentric velocity", "peak", "m/s", ".2f", B, per=_R),
    Measure("time_to_peak_s", "time to peak velocity", "to peak", "s", ".2f", per=_R),
    Measure("concentric_cm", "bar rise (concentric range)", "rise", "cm", ".0f", B, per=_R),
    Measure("eccentric_cm", "bar drop (eccentric range)", "drop", "cm", ".0f", B, per=_R),
    Measure("bar_path_deviation_cm", "bar path's furthest forward or back", "bar drift", "cm", ".1f", B, per=_R),
    Measure("velocity_loss_pct", "velocity loss from the fastest rep", "velocity loss", "%", ".0f", B, per=_R),
    Measure("faults", "faults", "faults", "", "", per=_R, kind="text"),
    # why a fault was (not) called: squat.measure.reps.fault_measures
    Measure("max_thigh_angle", "thigh below horizontal at the bottom", "thigh", "°", ".0f", per=_R),
    Measure("lean_over_shin", "trunk lean over shin angle", "lean − shin", "°", ".0f", per=_R),
    Measure("hip_rise_ratio", "hip rise over shoulder rise", "hip rise ratio", "", ".2f", per=_R),
    Measure("ascent_lean_gain", "trunk lean gained on the way up", "lean gain", "°", ".0f", per=_R),
    Measure("ascent_hip_back", "hip moving back on the way up", "hip back", "× femur", ".2f", per=_R),
)

FRAME_MEASURES: tuple[Measure, ...] = tuple(m for m in MEASURES if m.per == _F)
REP_MEASURES: tuple[Measure, ...] = tuple(m for m in MEASURES if m.per == _R)
FRAME: dict[str, Measure] = {m.column: m for m in FRAME_MEASURES}
REP: dict[str, Measure] = {m.column: m for m in REP_MEASURES}

PANELS: dict[str, Panel] = {
    "angles": Panel("angles", "angle (°)", ".0f"),
    "arms": Panel("arms", "moment arm (× femur)", ".2f", zero_line=True),
    "bar": Panel("bar", "bar (cm)", ".1f", zero_line=True, min_reach=5.0),
    "speed": Panel("speed", "bar velocity (m/s)", ".2f", zero_line=True, min_reach=0.5, in_video=False),
}


def on_panel(name: str) -> tuple[Measure, ...]:
    """The per-frame measures a time-chart panel plots, in legend order."""
    return tuple(m for m in FRAME_MEASURES if m.panel == name)
