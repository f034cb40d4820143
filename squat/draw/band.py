"""The time-series strip pasted over the top of the annotated video, drawn with OpenCV.

Built once per clip: axes, grid, rep bands and every series line go into a background image.
Per frame, `ChartStrip.at(t)` copies that image and draws only the cursor and the current
values. The strip is drawn on black, which `annotate_frame` reads as its translucent panel.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import pandas as pd

from squat.draw.overlay import PALETTE, Color, OverlayStyle, Palette, chart_size, put_text, text_size

_SHIFT = 4  # sub-pixel bits: smooth anti-aliased polylines
_ONE = 1 << _SHIFT
_AA = cv2.LINE_AA


@dataclass(frozen=True)
class Series:
    """One line on the strip: a per-frame column, its short name and colour."""

    column: str
    label: str
    color: Color
    degrees: bool  # degrees (readout gets a degree sign) or a fraction of femur length


ANGLE_SERIES: tuple[Series, ...] = (
    Series("knee_angle", "knee", PALETTE.knee, True),
    Series("hip_angle", "hip", PALETTE.hip, True),
    Series("trunk_lean", "lean", PALETTE.trunk, True),
)
ARM_SERIES: tuple[Series, ...] = (
    Series("hip_moment_arm_femur", "hip", PALETTE.hip, False),
    Series("knee_moment_arm_femur", "knee", PALETTE.knee, False),
)


@dataclass(frozen=True)
class ChartStyle:
    """Sizes are for a strip `reference_height` pixels tall (the band of a 1080p frame); they scale."""

    palette: Palette = field(default_factory=Palette)
    reference_height: float = 290.0
    reference_width: float = 900.0  # narrow (portrait) strips scale down by width instead
    font_scale: float = 0.5
    min_font_scale: float = 0.33  # Hershey text below this is unreadable
    line_thickness: float = 2.0
    pad: float = 10.0
    angle_share: float = 0.58  # share of the plot height given to the degrees panel
    degree_range: tuple[float, float] = (0.0, 180.0)
    min_time_tick_spacing: float = 100.0
    arm_steps: tuple[float, ...] = (0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0)
    time_steps: tuple[float, ...] = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0)
    band: Color = (70, 52, 38)  # rep bands: dim blue-grey
    grid: Color = (62, 62, 62)
    zero: Color = (55, 115, 45)  # zero moment arm = on the midfoot line: dim midfoot green
    axis: Color = (170, 170, 170)
    cursor: Color = (255, 255, 255)


@dataclass(frozen=True)
class _Layout:
    scale: float
    font_scale: float
    thickness: int
    cap: int  # height of a capital, pixels
    line_step: int  # vertical distance between readout lines
    pad: int
    plot_x: tuple[int, int]
    rep_row: tuple[int, int]
    angle_panel: tuple[int, int]
    arm_panel: tuple[int, int]
    readout_x: tuple[int, int]


def _nice_time_step(span_s: float, width_px: float, min_spacing_px: float, steps: tuple[float, ...]) -> float:
    for step in steps:
        if step / span_s * width_px >= min_spacing_px:
            return step
    return steps[-1]


def _arm_scale(values: np.ndarray, max_ticks: int, steps: tuple[float, ...]) -> tuple[float, float, float]:
    """(low, high, tick step): the data and zero plus a little headroom, ticks at a round step."""
    finite = values[np.isfinite(values)]
    lo = min(0.0, float(finite.min())) if finite.size else 0.0
    hi = max(0.0, float(finite.max())) if finite.size else 0.5
    if hi - lo < 0.1:
        hi = lo + 0.1
    margin = 0.08 * (hi - lo)
    lo, hi = lo - margin, hi + margin
    for step in steps:
        if math.floor(hi / step) - math.ceil(lo / step) + 1 <= max(2, max_ticks):
            return lo, hi, step
    return lo, hi, steps[-1]


def _finite_runs(mask: np.ndarray) -> list[slice]:
    """Slices of consecutive True values: NaN gaps split a line into separate runs."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return [slice(a, b) for a, b in zip(edges[::2], edges[1::2])]


def _rep_spans(times: np.ndarray, reps: np.ndarray) -> list[tuple[int, float, float]]:
    """(rep, start s, end s) for each run of frames with the same rep number > 0."""
    spans = []
    change = np.flatnonzero(np.diff(reps)) + 1
    for a, b in zip(np.concatenate(([0], change)), np.concatenate((change, [len(reps)]))):
        if reps[a] > 0:
            spans.append((int(reps[a]), float(times[a]), float(times[b - 1])))
    return spans


def _column(frames: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frames:
        return np.full(len(frames), np.nan)
    return pd.to_numeric(frames[name], errors="coerce").to_numpy(dtype=np.float64)


class ChartStrip:
    """Angles (degrees) and moment arms (× femur) over the clip, with rep bands, ticks and a readout.

    Build once from the per-frame table and the strip size (width, height) in pixels; `at(t)`
    returns the strip with a cursor at time t seconds and the values there.
    """

    def __init__(self, frames: pd.DataFrame, size: tuple[int, int], style: ChartStyle = ChartStyle()):
        width, height = int(size[0]), int(size[1])
        if width < 120 or height < 60:
            raise ValueError(f"chart strip needs at least 120x60 pixels, got {width}x{height}")
        if "time_s" not in frames or len(frames) == 0:
            raise ValueError("chart strip needs a per-frame table with a time_s column and at least one row")
        table = frames.sort_values("time_s", kind="stable")
        self.size = (width, height)
        self.style = style
        self._times = _column(table, "time_s")
        self._t0 = float(np.nanmin(self._times))
        span = float(np.nanmax(self._times)) - self._t0
        self._span = span if span > 0 else 1.0
        self._values = {s.column: _column(table, s.column) for s in ANGLE_SERIES + ARM_SERIES}
        reps = np.nan_to_num(_column(table, "rep"), nan=0.0).astype(int)
        self._reps = reps
        self._spans = _rep_spans(self._times, reps)
        self._layout, self._arm_range = self._plan(width, height)
        self._background = self._draw_background()

    @classmethod
    def for_frame(cls, frames: pd.DataFrame, frame_width: int, frame_height: int,
                  style: ChartStyle = ChartStyle(), overlay: OverlayStyle = OverlayStyle()) -> "ChartStrip":
        """A strip sized for the top band `annotate_frame` uses on frames of this size."""
        return cls(frames, chart_size(frame_width, frame_height, overlay), style)

    # ------------------------------------------------------------ layout and mapping

    def _plan(self, width: int, height: int) -> tuple[_Layout, tuple[float, float, float]]:
        st = self.style
        scale = min(height / st.reference_height, width / st.reference_width)
        fs = max(st.min_font_scale, st.font_scale * scale)
        th = max(1, int(round(scale)))
        cap = text_size("0", fs, th)[1]
        step = int(round(cap * 1.9))
        pad = max(3, int(round(st.pad * scale)))
        rep_row = (pad, pad + step)
        bottom = height - pad - step  # tick labels live below the plot
        plot_h = bottom - rep_row[1] - pad
        angle_h = int(round(plot_h * st.angle_share))
        angle_panel = (rep_row[1], rep_row[1] + angle_h)
        arm_panel = (angle_panel[1] + pad, bottom)
        arm_range = _arm_scale(
            np.concatenate([self._values[s.column] for s in ARM_SERIES]),
            int((arm_panel[1] - arm_panel[0]) // (cap * 2.4)) + 1, st.arm_steps)
        ticks = [f"{v:g}" for v in _arm_ticks(arm_range)] + ["180"]
        axis_w = max(text_size(t, fs, th)[0] for t in ticks)
        swatch = cap
        label_w = max(text_size(s.label, fs, th)[0] for s in ANGLE_SERIES + ARM_SERIES)
        value_w = max(text_size("-0.00", fs, th)[0], text_size("180", fs, th, degree=True)[0],
                      text_size("00.0 s", fs, th)[0])
        readout_w = max(swatch + pad + label_w + pad + value_w, text_size("00.0 s  rep 00", fs, th)[0])
        readout = (width - pad - readout_w, width - pad)
        plot_x = (pad + axis_w + pad, readout[0] - 2 * pad)
        layout = _Layout(scale, fs, th, cap, step, pad, plot_x, rep_row, angle_panel, arm_panel, readout)
        return layout, arm_range

    def x_at(self, time_s: float) -> float:
        """Horizontal pixel of a time on the strip (clamped to the plot)."""
        x0, x1 = self._layout.plot_x
        frac = min(1.0, max(0.0, (float(time_s) - self._t0) / self._span))
        return x0 + frac * (x1 - x0)

    def _xs(self, times: np.ndarray) -> np.ndarray:
        x0, x1 = self._layout.plot_x
        return x0 + np.clip((times - self._t0) / self._span, 0.0, 1.0) * (x1 - x0)

    def _ys(self, values: np.ndarray, degrees: bool) -> np.ndarray:
        y0, y1 = self._layout.angle_panel if degrees else self._layout.arm_panel
        lo, hi = self.style.degree_range if degrees else self._arm_range[:2]
        return y1 - np.clip((values - lo) / (hi - lo), 0.0, 1.0) * (y1 - y0)

    # ------------------------------------------------------------ static background

    def _draw_background(self) -> np.ndarray:
        lay, st = self._layout, self.style
        width, height = self.size
        img = np.zeros((height, width, 3), np.uint8)
        x0, x1 = lay.plot_x
        thin = max(1, lay.thickness)

        for rep, a, b in self._spans:
            xa, xb = int(round(self.x_at(a))), int(round(self.x_at(b)))
            for y0, y1 in (lay.angle_panel, lay.arm_panel):
                cv2.rectangle(img, (xa, y0), (xb, y1), st.band, -1)
            label = f"rep {rep}"
            tw = text_size(label, lay.font_scale, lay.thickness)[0]
            if tw <= xb - xa + lay.pad:
                put_text(img, label, ((xa + xb - tw) // 2, lay.rep_row[1] - (lay.line_step - lay.cap) // 2),
                         st.axis, lay.font_scale, lay.thickness)

        lo, hi = st.degree_range
        panel_h = lay.angle_panel[1] - lay.angle_panel[0]
        step = 45.0 if panel_h / 4 >= lay.cap * 1.8 else 90.0
        self._y_axis(img, np.arange(lo, hi + 1e-9, step), True, st.grid)
        arm_ticks = _arm_ticks(self._arm_range)
        self._y_axis(img, arm_ticks, False, st.grid)
        if self._arm_range[0] <= 0 <= self._arm_range[1]:
            y0 = int(round(self._ys(np.array([0.0]), False)[0]))
            cv2.line(img, (x0, y0), (x1, y0), st.zero, thin, _AA)

        for y0, y1 in (lay.angle_panel, lay.arm_panel):  # panel frames: left and bottom axes
            cv2.line(img, (x0, y0), (x0, y1), st.axis, thin, _AA)
            cv2.line(img, (x0, y1), (x1, y1), st.axis, thin, _AA)

        t_step = _nice_time_step(self._span, x1 - x0, st.min_time_tick_spacing * lay.scale, st.time_steps)
        first = math.ceil(self._t0 / t_step - 1e-9) * t_step
        for t in np.arange(first, self._t0 + self._span + 1e-9, t_step):
            x = int(round(self.x_at(t)))
            cv2.line(img, (x, lay.arm_panel[1]), (x, lay.arm_panel[1] + lay.pad // 2), st.axis, thin, _AA)
            label = f"{t:.{_decimals(t_step)}f}s"
            tw = text_size(label, lay.font_scale, lay.thickness)[0]
            put_text(img, label, (min(max(x - tw // 2, 0), width - tw), height - lay.pad),
                     st.axis, lay.font_scale, lay.thickness)

        line_w = max(1, int(round(st.line_thickness * lay.scale)))
        xs = self._xs(self._times)
        for series in ANGLE_SERIES + ARM_SERIES:
            values = self._values[series.column]
            valid = np.isfinite(values) & np.isfinite(self._times)
            self._polyline(img, xs, self._ys(values, series.degrees), valid, series.color, line_w)

        self._readout_labels(img)
        return img

    def _y_axis(self, img: np.ndarray, ticks: np.ndarray, degrees: bool, grid: Color) -> None:
        lay = self._layout
        x0, x1 = lay.plot_x
        for v, y in zip(ticks, self._ys(np.asarray(ticks, float), degrees)):
            y = int(round(y))
            cv2.line(img, (x0, y), (x1, y), grid, 1, _AA)
            label = f"{v:g}"
            tw = text_size(label, lay.font_scale, lay.thickness)[0]
            put_text(img, label, (x0 - lay.pad - tw, y + lay.cap // 2), self.style.axis,
                     lay.font_scale, lay.thickness)

    @staticmethod
    def _polyline(img: np.ndarray, xs: np.ndarray, ys: np.ndarray, valid: np.ndarray, color: Color,
                  thickness: int) -> None:
        pts = np.round(np.nan_to_num(np.stack([xs, ys], axis=1)) * _ONE).astype(np.int32)
        runs = _finite_runs(valid)
        lines = [pts[r] for r in runs if r.stop - r.start > 1]
        if lines:
            cv2.polylines(img, lines, False, color, thickness, _AA, _SHIFT)
        for r in runs:  # an isolated sample still shows, as a dot
            if r.stop - r.start == 1:
                cv2.circle(img, tuple(int(v) for v in pts[r.start]), thickness * _ONE, color, -1, _AA, _SHIFT)

    def _readout_rows(self) -> list[tuple[Series, int]]:
        """(series, baseline y) of each readout line, vertically centred in its panel."""
        lay = self._layout
        rows = []
        for group, (y0, y1) in ((ANGLE_SERIES, lay.angle_panel), (ARM_SERIES, lay.arm_panel)):
            top = (y0 + y1) // 2 - len(group) * lay.line_step // 2
            for i, series in enumerate(group):
                rows.append((series, top + i * lay.line_step + (lay.line_step + lay.cap) // 2))
        return rows

    def _readout_labels(self, img: np.ndarray) -> None:
        lay = self._layout
        rx0 = lay.readout_x[0]
        for series, base in self._readout_rows():
            cv2.rectangle(img, (rx0, base - lay.cap), (rx0 + lay.cap, base), series.color, -1)
            put_text(img, series.label, (rx0 + lay.cap + lay.pad, base), self.style.axis,
                     lay.font_scale, lay.thickness)
        unit = "x femur"
        tw = text_size(unit, lay.font_scale * 0.85, lay.thickness)[0]
        arm_top = self._readout_rows()[len(ANGLE_SERIES)][1] - lay.line_step
        if arm_top - lay.cap > lay.arm_panel[0] - lay.pad:
            put_text(img, unit, (lay.readout_x[1] - tw, arm_top), self.style.axis, lay.font_scale * 0.85,
                     lay.thickness)

    # ------------------------------------------------------------ per frame

    @property
    def background(self) -> np.ndarray:
        """The static strip without cursor (a copy)."""
        return self._background.copy()

    def _index_at(self, time_s: float) -> int:
        i = int(np.searchsorted(self._times, time_s))
        if i <= 0:
            return 0
        if i >= len(self._times):
            return len(self._times) - 1
        return i if self._times[i] - time_s < time_s - self._times[i - 1] else i - 1

    def at(self, time_s: float) -> np.ndarray:
        """The strip with a cursor at `time_s` seconds and the nearest frame's values in the readout."""
        lay, st = self._layout, self.style
        img = self._background.copy()
        x = self.x_at(time_s)
        top, bottom = lay.angle_panel[0], lay.arm_panel[1]
        column = int(round(x))  # whole pixel: a crisp cursor, not an anti-aliased smear
        cv2.line(img, (column, top), (column, bottom), st.cursor, max(1, lay.thickness))
        i = self._index_at(float(time_s))
        dot = max(2, lay.cap // 2)
        for series, base in self._readout_rows():
            value = self._values[series.column][i]
            if math.isfinite(value):
                y = float(self._ys(np.array([value]), series.degrees)[0])
                cv2.circle(img, _fp(x, y), (dot + 1) * _ONE, (0, 0, 0), -1, _AA, _SHIFT)
                cv2.circle(img, _fp(x, y), dot * _ONE, series.color, -1, _AA, _SHIFT)
                text = f"{value:.0f}" if series.degrees else f"{value:.2f}"
            else:
                text = "--"
            degree = series.degrees and math.isfinite(value)
            tw = text_size(text, lay.font_scale, lay.thickness, degree)[0]
            put_text(img, text, (lay.readout_x[1] - tw, base), st.palette.text, lay.font_scale,
                     lay.thickness, degree)
        rep = int(self._reps[i])
        status = f"{time_s:.1f} s" + (f"  rep {rep}" if rep > 0 else "")
        tw = text_size(status, lay.font_scale, lay.thickness)[0]
        put_text(img, status, (lay.readout_x[1] - tw, lay.rep_row[1] - (lay.line_step - lay.cap) // 2),
                 st.palette.text, lay.font_scale, lay.thickness)
        return img


def _arm_ticks(arm_range: tuple[float, float, float]) -> np.ndarray:
    lo, hi, step = arm_range
    return np.round(np.arange(math.ceil(lo / step), math.floor(hi / step) + 1) * step, 6)


def _decimals(step: float) -> int:
    return 0 if step >= 1 else 1


def _fp(x: float, y: float) -> tuple[int, int]:
    return int(round(x * _ONE)), int(round(y * _ONE))
