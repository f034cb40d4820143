"""The measure registry (squat.measures) is the one place a measure is declared: the written tables,
the video's chart band, the app's charts and tables all follow it."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from dashboard.presenters import (
    at_time,
    chart_legend_html,
    frame_caption,
    rep_table,
    rep_table_formats,
    time_chart_specs,
    time_charts,
)
from squat.draw.band import ChartStrip
from squat.draw.charts import SERIES_COLORS
from squat.measure.reps import REP_COLUMNS, segment_reps
from squat.measures import FRAME, MEASURES, PANELS, REP, Measure, on_panel
from squat.results import frame_table


def clip_table(n: int = 90, bar: bool = True, speed: bool = False) -> pd.DataFrame:
    t = np.arange(n) / 30.0
    dip = np.sin(np.pi * t / t[-1]) ** 2
    frames = pd.DataFrame({
        "time_s": t, "rep": np.where((dip > 0.05), 1, 0),
        "knee_angle": 175 - 110 * dip, "hip_angle": 170 - 100 * dip, "trunk_lean": 10 + 35 * dip,
        "hip_moment_arm_femur": 0.1 + 0.4 * dip, "knee_moment_arm_femur": 0.05 + 0.3 * dip,
    })
    if bar:
        frames["bar_midfoot_cm"] = 2.0 * np.sin(6 * t)
    if speed:
        frames["bar_velocity_ms"] = -np.gradient(0.5 * dip, t)
    return frames


def test_each_column_is_declared_once_per_table_with_a_known_panel_and_kind():
    for per in ("frame", "rep"):
        columns = [m.column for m in MEASURES if m.per == per]
        assert len(columns) == len(set(columns)), per
    assert {m.panel for m in MEASURES} - {""} <= set(PANELS)
    assert {m.kind for m in MEASURES} <= {"float", "int", "bool", "text"}
    assert all(m.colour.startswith("#") and len(m.colour) == 7 for m in MEASURES)


def test_a_measure_formats_its_own_values():
    assert FRAME["knee_angle"].text(68.4) == "68°"
    assert FRAME["hip_moment_arm_femur"].text(0.314) == "0.31 × femur"
    assert FRAME["bar_midfoot_cm"].text(float("nan")) == "—"
    assert FRAME["knee_angle"].title == "knee angle (°)"
    assert REP["max_trunk_lean"].short_title == "max lean (°)"


def test_reps_csv_columns_are_the_declared_per_rep_measures_in_order():
    reps, _ = segment_reps(clip_table().assign(hip_y=lambda f: 400 + 200 * (175 - f["knee_angle"]) / 110,
                                               thigh_angle=0.0, shin_angle=20.0, shoulder_y=100.0,
                                               hip_moment_arm=10.0, knee_moment_arm=5.0),
                           femur_px=200.0)
    assert tuple(reps.columns) == REP_COLUMNS == tuple(m.column for m in MEASURES if m.per == "rep")


def test_frames_csv_writes_the_declared_measures_in_their_order_and_only_those():
    n = 5
    kin = pd.DataFrame({m.column: np.linspace(0, 1, n) for m in MEASURES if m.per == "frame"} | {"thigh_angle": 0.0})
    table = frame_table(np.arange(n) / 30, np.ones(n, bool), np.zeros((n, 18, 3), np.float32), kin,
                        np.ones(n, int), plate=np.ones((n, 3)))
    measure_columns = [c for c in table.columns if c in FRAME]
    assert measure_columns == [m.column for m in MEASURES if m.per == "frame"]
    assert "thigh_angle" not in table  # an internal column is not a measure


def test_the_video_band_draws_every_panel_with_data_so_the_bar_panel_comes_from_the_registry_alone():
    with_bar = ChartStrip(clip_table(bar=True), (900, 290))
    without = ChartStrip(clip_table(bar=False), (900, 290))
    assert with_bar.panels == tuple(p for p in PANELS if PANELS[p].in_video) == ("angles", "arms", "bar")
    assert without.panels == ("angles", "arms")
    # the bar speed is charted in the app, written at the bar in the video: no lane for it in the band
    assert ChartStrip(clip_table(bar=True, speed=True), (900, 290)).panels == ("angles", "arms", "bar")
    # the bar's line is drawn in its declared colour in the band
    colour = tuple(int(FRAME["bar_midfoot_cm"].colour[i:i + 2], 16) for i in (5, 3, 1))  # BGR
    near = np.abs(with_bar.background.astype(int) - colour).sum(axis=2) < 30
    assert near.sum() > 100
    assert (np.abs(without.background.astype(int) - colour).sum(axis=2) < 30).sum() < near.sum() / 5


def test_the_app_shows_one_chart_per_panel_with_data_and_a_legend_entry_per_line():
    charts = time_charts(clip_table(bar=True), None, 1.0)
    assert len(charts) == 3 and len(time_charts(clip_table(bar=False), None, 1.0)) == 2
    assert len(time_charts(clip_table(bar=True, speed=True), None, 1.0)) == 4  # the bar's velocity on the time axis
    legend = chart_legend_html(bar=True)
    for panel in PANELS:
        for m in on_panel(panel):
            assert m.label in legend and SERIES_COLORS[m.label] == m.colour


def test_cached_chart_specs_move_only_their_selected_frame_rule():
    specs = time_chart_specs(clip_table(bar=True), None)
    built = [json.dumps(s, sort_keys=True) for s in specs]
    for spec, fresh in zip(specs, time_charts(clip_table(bar=True), None, 1.25)):
        moved = at_time(spec, 1.25)
        assert moved["datasets"]["selected_time"] == [{"time_s": 1.25}]
        # the same lines, bands and click selection as a chart built at that time
        assert sorted(map(json.dumps, moved["datasets"].values())) == sorted(map(json.dumps, fresh.to_dict()["datasets"].values()))
        assert at_time(spec, None)["datasets"]["selected_time"] == []
    assert [json.dumps(s, sort_keys=True) for s in specs] == built  # the cached specs untouched


def test_the_app_tables_read_headers_and_formats_from_the_registry():
    reps = pd.DataFrame([{c: 1.234 for c in REP_COLUMNS} | {"rep": 1, "hip_below_knee": True, "faults": ""}])
    table = rep_table(reps)
    assert REP["max_trunk_lean"].short_title in table and table[REP["max_trunk_lean"].short_title][0] == 1.0
    assert rep_table_formats()[REP["max_hip_moment_arm_femur"].short_title] == "{:.2f}"
    assert "knee 65°" in frame_caption(clip_table().assign(knee_angle=65.0), 10)


def test_a_new_measure_is_one_declaration():
    m = Measure("bar_speed", "bar speed", "speed", "m/s", ".2f", panel="bar")
    assert m.title == "bar speed (m/s)" and m.text(0.456) == "0.46 m/s"
