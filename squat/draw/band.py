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

from squat.draw.overlay import Color, OverlayStyle, Palette, bgr, chart_size, put_text, text_size
from squat.measures import PANELS, Measure, Panel, on_panel
from squat.series import rep_spans, true_runs

_SHIFT = 4  # sub-pixel bits: smooth anti-aliased polylines
_ONE = 1 << _SHIFT
_AA = cv2.LINE_AA


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
    angle_share: float = 0.58  # share of the plot height given to the degrees panel (the rest share the other panels)
    degree_range: tuple[float, float] = (0.0, 180.0)
    min_time_tick_spacing: float = 100.0
    value_steps: tuple[float, ...] = tuple(sorted(m * 10.0**e for e in range(-2, 4) for m in (1.0, 2.0, 2.5, 5.0)))
    time_steps: tuple[float, ...] = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0)
    band: Color = (70, 52, 38)  # rep bands: dim blue-grey
    grid: Color = (62, 62, 62)
    zero: Color = (55, 115, 45)  # zero on a panel with a zero line = on the midfoot line: dim midfoot green
    axis: Color = (170, 170, 170)
    cursor: Color = (255, 255, 255)


@dataclass(frozen=True)
class _Lane:
    """One panel of the strip: its measures, where it sits and what range it shows."""

    panel: Panel
    measures: tuple[Measure, ...]
    span: tuple[int, int]  # top and bottom pixel rows
    range: tuple[float, float, float]  # low, high, tick step

    @property
    def degrees(self) -> bool:
        return all(m.unit == "°" for m in self.measures)


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
    readout_x: tuple[int, int]


def _nice_time_step(span_s: float, width_px: float, min_spacing_px: float, steps: tuple[float, ...]) -> float:
    for step in steps:
        if step / span_s * width_px >= min_spacing_px:
            return step
    return steps[-1]


def _value_scale(values: np.ndarray, max_ticks: int, steps: tuple[float, ...]) -> tuple[float, float, float]:
    """(low, high, tick step): the data and zero plus a little headroom, ticks at a round step."""
    finite = values[np.isfinite(values)]
    lo = min(0.0, float(finite.min())) if finite.size else 0.0
    hi = max(0.0, float(finite.max())) if finite.size else 0.5
    if hi - lo < 0.1:  # a flat line still gets an axis
        hi = lo + 0.1
    margin = 0.08 * (hi - lo)
    lo, hi = lo - margin, hi + margin
    for step in steps:
        if math.floor(hi / step) - math.ceil(lo / step) + 1 <= max(2, max_ticks):
            return lo, hi, step
    return lo, hi, steps[-1]


def _column(frames: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frames:
        return np.full(len(frames), np.nan)
    return pd.to_numeric(frames[name], errors="coerce").to_numpy(dtype=np.float64)


MIN_STRIP = (120, 60)  # (width, height) px: smaller, the panels' labels and lines no longer fit


def strip_size(band: tuple[int, int]) -> tuple[int, int]:
    """The size to draw a band of `band` pixels at: at least MIN_STRIP (a 320×180 clip's band is
    49 px tall), the same shape otherwise; `stack_chart` fits it to the frame's width."""
    width, height = int(band[0]), int(band[1])
    grow = max(1.0, MIN_STRIP[0] / max(width, 1))
    return max(round(width * grow), MIN_STRIP[0]), max(round(height * grow), MIN_STRIP[1])


class ChartStrip:
    """The time panels of squat.measures (angles in degrees, moment arms × femur, and the bar against
    the midfoot in cm where a bar was seen) over the clip, with rep bands, ticks and a readout.

    Build once from the per-frame table and the strip size (width, height) in pixels; `at(t)`
    returns the strip with a cursor at time t seconds and the values there.
    """

    def __init__(self, frames: pd.DataFrame, size: tuple[int, int], style: ChartStyle = ChartStyle()):
        width, height = int(size[0]), int(size[1])
        if width < MIN_STRIP[0] or height < MIN_STRIP[1]:
            raise ValueError(f"chart strip needs at least {MIN_STRIP[0]}x{MIN_STRIP[1]} pixels, got {width}x{height}"
                             " (strip_size gives one that fits)")
        if "time_s" not in frames or len(frames) == 0:
            raise ValueError("chart strip needs a per-frame table with a time_s column and at least one row")
        table = frames.sort_values("time_s", kind="stable")
        self.size = (width, height)
        self.style = style
        self._times = _column(table, "time_s")
        self._t0 = float(np.nanmin(self._times))
        span = float(np.nanmax(self._times)) - self._t0
        self._span = span if span > 0 else 1.0
        # the first panel (angles) always shows; the others meant for the video where this clip has data for them
        shown = [name for i, (name, panel) in enumerate(PANELS.items()) if i == 0 or (
                 panel.in_video and any(np.isfinite(_column(table, m.column)).any() for m in on_panel(name)))]
        self._measures = tuple(m for name in shown for m in on_panel(name))
        self._values = {m.column: _column(table, m.column) for m in self._measures}
        reps = np.nan_to_num(_column(table, "rep"), nan=0.0).astype(int)
        self._reps = reps
        self._spans = rep_spans(self._times, reps)
        self._layout, self._lanes = self._plan(width, height, shown)
        self._background = self._draw_background()

    @classmethod
    def for_frame(cls, frames: pd.DataFrame, frame_width: int, frame_height: int,
                  style: ChartStyle = ChartStyle(), overlay: OverlayStyle = OverlayStyle()) -> "ChartStrip":
        """A strip sized for the top band `annotate_frame` uses on frames of this size."""
        return cls(frames, chart_size(frame_width, frame_height, overlay), style)

    @property
    def panels(self) -> tuple[str, ...]:
        """The panels drawn, top to bottom."""
        return tuple(lane.panel.name for lane in self._lanes)

    # ------------------------------------------------------------ layout and mapping

    def _plan(self, width: int, height: int, shown: list[str]) -> tuple[_Layout, tuple[_Lane, ...]]:
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
        first_h = int(round(plot_h * st.angle_share)) if len(shown) > 1 else plot_h
        rest_h = (plot_h - first_h - pad * (len(shown) - 2)) / max(1, len(shown) - 1) if len(shown) > 1 else 0
        lanes, top = [], rep_row[1]
        for i, name in enumerate(shown):
            measures = on_panel(name)
            lane_bottom = top + first_h if i == 0 else (bottom if i == len(shown) - 1 else int(round(top + rest_h)))
            if all(m.unit == "°" for m in measures):
                value_range = (*st.degree_range, 45.0)
            else:
                values = np.concatenate([self._values[m.column] for m in measures])
                value_range = _value_scale(values, int((lane_bottom - top) // (cap * 2.4)) + 1, st.value_steps)
            lanes.append(_Lane(PANELS[name], measures, (top, lane_bottom), value_range))
            top = lane_bottom + pad
        ticks = [f"{v:g}" for lane in lanes for v in _ticks(lane.range)] + ["180"]
        axis_w = max(text_size(t, fs, th)[0] for t in ticks)
        label_w = max(text_size(m.short, fs, th)[0] for m in self._measures)
        value_w = max(text_size("-0.00", fs, th)[0], text_size("180", fs, th, degree=True)[0],
                      text_size("00.0 s", fs, th)[0])
        readout_w = max(cap + pad + label_w + pad + value_w, text_size("00.0 s  rep 00", fs, th)[0])
        readout = (width - pad - readout_w, width - pad)
        plot_x = (pad + axis_w + pad, readout[0] - 2 * pad)
        return _Layout(scale, fs, th, cap, step, pad, plot_x, rep_row, readout), tuple(lanes)

    def x_at(self, time_s: float) -> float:
        """Horizontal pixel of a time on the strip (clamped to the plot)."""
        x0, x1 = self._layout.plot_x
        frac = min(1.0, max(0.0, (float(time_s) - self._t0) / self._span))
        return x0 + frac * (x1 - x0)

    def _xs(self, times: np.ndarray) -> np.ndarray:
        x0, x1 = self._layout.plot_x
        return x0 + np.clip((times - self._t0) / self._span, 0.0, 1.0) * (x1 - x0)

    @staticmethod
    def _ys(values: np.ndarray, lane: _Lane) -> np.ndarray:
        (y0, y1), (lo, hi, _) = lane.span, lane.range
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
            for lane in self._lanes:
                cv2.rectangle(img, (xa, lane.span[0]), (xb, lane.span[1]), st.band, -1)
            label = f"rep {rep}"
            tw = text_size(label, lay.font_scale, lay.thickness)[0]
            if tw <= xb - xa + lay.pad:
                put_text(img, label, ((xa + xb - tw) // 2, lay.rep_row[1] - (lay.line_step - lay.cap) // 2),
                         st.axis, lay.font_scale, lay.thickness)

        for lane in self._lanes:
            if lane.degrees:  # every 45° where the panel is tall enough to label them, else every 90°
                lo, hi, _ = lane.range
                tick = 45.0 if (lane.span[1] - lane.span[0]) / 4 >= lay.cap * 1.8 else 90.0
                self._y_axis(img, np.arange(lo, hi + 1e-9, tick), lane, st.grid)
            else:
                self._y_axis(img, _ticks(lane.range), lane, st.grid)
            if lane.panel.zero_line and lane.range[0] <= 0 <= lane.range[1]:
                y0 = int(round(self._ys(np.array([0.0]), lane)[0]))
                cv2.line(img, (x0, y0), (x1, y0), st.zero, thin, _AA)
            cv2.line(img, (x0, lane.span[0]), (x0, lane.span[1]), st.axis, thin, _AA)  # left and bottom axes
            cv2.line(img, (x0, lane.span[1]), (x1, lane.span[1]), st.axis, thin, _AA)

        last = self._lanes[-1].span[1]
        t_step = _nice_time_step(self._span, x1 - x0, st.min_time_tick_spacing * lay.scale, st.time_steps)
        first = math.ceil(self._t0 / t_step - 1e-9) * t_step
        for t in np.arange(first, self._t0 + self._span + 1e-9, t_step):
            x = int(round(self.x_at(t)))
            cv2.line(img, (x, last), (x, last + lay.pad // 2), st.axis, thin, _AA)
            label = f"{t:.{_decimals(t_step)}f}s"
            tw = text_size(label, lay.font_scale, lay.thickness)[0]
            put_text(img, label, (min(max(x - tw // 2, 0), width - tw), height - lay.pad),
                     st.axis, lay.font_scale, lay.thickness)

        line_w = max(1, int(round(st.line_thickness * lay.scale)))
        xs = self._xs(self._times)
        for lane in self._lanes:
            for m in lane.measures:
                values = self._values[m.column]
                valid = np.isfinite(values) & np.isfinite(self._times)
                self._polyline(img, xs, self._ys(values, lane), valid, bgr(m.colour), line_w)

        self._readout_labels(img)
        return img

    def _y_axis(self, img: np.ndarray, ticks: np.ndarray, lane: _Lane, grid: Color) -> None:
        lay = self._layout
        x0, x1 = lay.plot_x
        for v, y in zip(ticks, self._ys(np.asarray(ticks, float), lane)):
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
        runs = [slice(a, b) for a, b in zip(*true_runs(valid))]  # NaN gaps split the line
        lines = [pts[r] for r in runs if r.stop - r.start > 1]
        if lines:
            cv2.polylines(img, lines, False, color, thickness, _AA, _SHIFT)
        for r in runs:  # an isolated sample still shows, as a dot
            if r.stop - r.start == 1:
                cv2.circle(img, tuple(int(v) for v in pts[r.start]), thickness * _ONE, color, -1, _AA, _SHIFT)

    def _readout_rows(self) -> list[tuple[Measure, _Lane, int]]:
        """(measure, its lane, baseline y) of each readout line, vertically centred in its panel."""
        lay = self._layout
        rows = []
        for lane in self._lanes:
            y0, y1 = lane.span
            top = (y0 + y1) // 2 - len(lane.measures) * lay.line_step // 2
            for i, m in enumerate(lane.measures):
                rows.append((m, lane, top + i * lay.line_step + (lay.line_step + lay.cap) // 2))
        return rows

    def _readout_labels(self, img: np.ndarray) -> None:
        lay = self._layout
        rx0 = lay.readout_x[0]
        rows = self._readout_rows()
        for m, _, base in rows:
            cv2.rectangle(img, (rx0, base - lay.cap), (rx0 + lay.cap, base), bgr(m.colour), -1)
            put_text(img, m.short, (rx0 + lay.cap + lay.pad, base), self.style.axis, lay.font_scale, lay.thickness)
        for lane in self._lanes:  # the unit above a panel's readout, where it fits (Hershey has no "×")
            if lane.degrees:
                continue
            unit = lane.measures[0].unit.replace("×", "x")
            tw = text_size(unit, lay.font_scale * 0.85, lay.thickness)[0]
            lane_top = min(base for _, row_lane, base in rows if row_lane is lane) - lay.line_step
            if lane_top - lay.cap > lane.span[0] - lay.pad:
                put_text(img, unit, (lay.readout_x[1] - tw, lane_top), self.style.axis, lay.font_scale * 0.85,
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
        top, bottom = self._lanes[0].span[0], self._lanes[-1].span[1]
        column = int(round(x))  # whole pixel: a crisp cursor, not an anti-aliased smear
        cv2.line(img, (column, top), (column, bottom), st.cursor, max(1, lay.thickness))
        i = self._index_at(float(time_s))
        dot = max(2, lay.cap // 2)
        for m, lane, base in self._readout_rows():
            value = self._values[m.column][i]
            if math.isfinite(value):
                y = float(self._ys(np.array([value]), lane)[0])
                cv2.circle(img, _fp(x, y), (dot + 1) * _ONE, (0, 0, 0), -1, _AA, _SHIFT)
                cv2.circle(img, _fp(x, y), dot * _ONE, bgr(m.colour), -1, _AA, _SHIFT)
                text = f"{value:{m.fmt}}"
            else:
                text = "--"
            degree = m.unit == "°" and math.isfinite(value)
            tw = text_size(text, lay.font_scale, lay.thickness, degree)[0]
            put_text(img, text, (lay.readout_x[1] - tw, base), st.palette.text, lay.font_scale,
                     lay.thickness, degree)
        rep = int(self._reps[i])
        status = f"{time_s:.1f} s" + (f"  rep {rep}" if rep > 0 else "")
        tw = text_size(status, lay.font_scale, lay.thickness)[0]
        put_text(img, status, (lay.readout_x[1] - tw, lay.rep_row[1] - (lay.line_step - lay.cap) // 2),
                 st.palette.text, lay.font_scale, lay.thickness)
        return img


def _ticks(value_range: tuple[float, float, float]) -> np.ndarray:
    lo, hi, step = value_range
    return np.round(np.arange(math.ceil(lo / step), math.floor(hi / step) + 1) * step, 6)


def _decimals(step: float) -> int:
    return 0 if step >= 1 else 1


def _fp(x: float, y: float) -> tuple[int, int]:
    return int(round(x * _ONE)), int(round(y * _ONE))
