"""Dashboard chart specs: marks, encodings, data rows and the selected-time rule, checked via to_dict()."""
from __future__ import annotations

import json

import altair as alt
import numpy as np
import pandas as pd
import pytest

from squat.draw.charts import (
    TIME_FIELD,
    TIME_TITLE,
    angle_chart,
    bar_chart,
    comparison_chart,
    has_bar,
    moment_arm_chart,
    rep_bands,
    rep_depth_chart,
    rep_phase,
)


def frames_table(duration: float = 12.0, fps: float = 30.0) -> pd.DataFrame:
    """Three reps at 1–4 s, 5–8 s, 9–12 s; knee angle dips to 60° at each bottom; a NaN gap at 4.2–4.4 s."""
    t = np.arange(0, duration, 1 / fps)
    rep = np.zeros(len(t), int)
    for i, start in enumerate((1.0, 5.0, 9.0)):
        rep[(t >= start) & (t < start + 3.0)] = i + 1
    depth = np.where(rep > 0, np.sin(np.pi * ((t - 1.0) % 4.0) / 3.0).clip(0), 0.0)
    knee = 175 - 115 * depth
    knee[(t > 4.2) & (t < 4.4)] = np.nan
    return pd.DataFrame({
        "frame": np.arange(len(t)), "time_s": t, "rep": rep,
        "knee_angle": knee, "hip_angle": 178 - 120 * depth, "trunk_lean": 8 + 35 * depth,
        "hip_moment_arm_femur": 0.2 + 0.5 * depth, "knee_moment_arm_femur": -0.1 + 0.4 * depth,
    })


def reps_table() -> pd.DataFrame:
    return pd.DataFrame({
        "rep": [1, 2, 3], "start_time": [1.0, 5.0, 9.0], "bottom_time": [2.5, 6.5, 10.5],
        "end_time": [4.0, 8.0, 11.9], "depth_knee_angle": [60.0, 75.0, 100.0],
        "hip_below_knee": [True, True, False], "descent_s": [1.5] * 3, "pause_s": [0.0] * 3,
        "ascent_s": [1.5] * 3, "max_trunk_lean": [43.0] * 3, "faults": ["", "", "shallow"],
    })


def layers(spec: dict) -> list[dict]:
    return spec.get("layer", [spec])


def marks(spec: dict) -> list[str]:
    return [layer["mark"]["type"] for layer in layers(spec)]


def layer_with(spec: dict, mark: str) -> dict:
    return next(layer for layer in layers(spec) if layer["mark"]["type"] == mark)


def rows(spec: dict, layer: dict) -> list[dict]:
    return spec["datasets"][layer["data"]["name"]]


# ---------------------------------------------------------------- angle chart


def test_angle_chart_layers_rep_bands_lines_and_the_selected_time_rule():
    spec = angle_chart(frames_table(), reps_table(), selected_time=6.5).to_dict()
    assert marks(spec) == ["rect", "line", "point", "rule"]  # point: the invisible click target
    rule = layer_with(spec, "rule")
    assert rows(spec, rule) == [{TIME_FIELD: 6.5}]


def test_angle_chart_draws_knee_hip_and_trunk_lean_from_one_row_per_frame():
    frames = frames_table()
    spec = angle_chart(frames).to_dict()
    line = layer_with(spec, "line")
    fold = next(t["fold"] for t in line["transform"] if "fold" in t)
    assert fold == ["knee angle", "hip angle", "trunk lean"]
    assert len(rows(spec, line)) == len(frames)
    assert line["encoding"]["color"]["field"] == "measure"
    assert line["encoding"]["y"]["title"] == "angle (°)"


def test_every_time_chart_layer_uses_time_s_titled_time_in_seconds():
    for chart in (angle_chart(frames_table(), reps_table(), 3.0), moment_arm_chart(frames_table(), None, 3.0)):
        spec = chart.to_dict()
        for layer in layers(spec):
            if "x" in layer["encoding"]:
                assert layer["encoding"]["x"]["field"] == TIME_FIELD
                assert layer["encoding"]["x"]["title"] == TIME_TITLE


def test_no_selected_time_means_no_rule_and_no_reps_means_no_bands():
    frames = frames_table().drop(columns="rep")
    assert marks(angle_chart(frames).to_dict()) == ["line", "point"]


def test_rep_phases_from_the_rep_table_give_a_descent_and_an_ascent_band_per_rep():
    spec = angle_chart(frames_table(), reps_table()).to_dict()
    bands = rows(spec, layer_with(spec, "rect"))
    assert len(bands) == 2 * len(reps_table())
    assert [b["phase"] for b in bands[:2]] == ["descent", "ascent"]
    assert bands[0][TIME_FIELD] == 1.0 and bands[0]["time_end"] == 2.5


def test_without_a_rep_table_bands_come_from_the_per_frame_rep_column():
    bands = rep_bands(frames_table())
    assert list(bands["rep"]) == [1, 2, 3]
    assert set(bands["phase"]) == {"rep"}
    assert bands[TIME_FIELD].iloc[1] == pytest.approx(5.0) and bands["time_end"].iloc[1] == pytest.approx(7.9667, abs=1e-3)


def test_nan_gaps_become_null_so_lines_break_and_the_spec_is_strict_json():
    spec = angle_chart(frames_table(), reps_table(), 2.0).to_dict()
    json.dumps(spec, allow_nan=False)
    line = layer_with(spec, "line")
    assert any(r["knee angle"] is None for r in rows(spec, line))
    assert line["mark"]["invalid"] == "break-paths-show-domains"


def test_time_series_lines_keep_their_tooltips():
    for chart in (angle_chart(frames_table()), moment_arm_chart(frames_table())):
        tooltip = layer_with(chart.to_dict(), "line")["encoding"]["tooltip"]
        assert TIME_FIELD in [t["field"] for t in tooltip]


def test_long_clips_do_not_hit_altairs_row_limit():
    frames = frames_table(duration=400.0)  # 12000 frames
    spec = angle_chart(frames).to_dict()
    assert len(rows(spec, layer_with(spec, "line"))) == len(frames)


def test_time_chart_needs_time_s():
    with pytest.raises(ValueError, match="time_s"):
        angle_chart(pd.DataFrame({"knee_angle": [90.0]}))


# ---------------------------------------------------------------- moment arm chart


def test_moment_arm_chart_plots_hip_and_knee_as_fraction_of_femur_with_a_midfoot_zero_line():
    frames = frames_table()
    spec = moment_arm_chart(frames, reps_table(), selected_time=2.5).to_dict()
    assert marks(spec) == ["rect", "line", "point", "rule", "rule"]
    line = layer_with(spec, "line")
    assert next(t["fold"] for t in line["transform"] if "fold" in t) == ["hip moment arm", "knee moment arm"]
    assert "femur" in line["encoding"]["y"]["title"]
    assert len(rows(spec, line)) == len(frames)
    zero = layers(spec)[-1]
    assert zero["encoding"]["y"]["field"] == line["encoding"]["y"]["field"]
    assert rows(spec, zero) == [{"arms": 0.0}]


def test_moment_arm_chart_without_arm_columns_still_builds():
    frames = frames_table().drop(columns=["hip_moment_arm_femur", "knee_moment_arm_femur"])
    spec = moment_arm_chart(frames).to_dict()
    assert all(r["hip moment arm"] is None for r in rows(spec, layer_with(spec, "line")))


def test_bar_chart_draws_the_bar_against_the_midfoot_and_only_with_a_bar():
    frames = frames_table()
    assert not has_bar(frames) and not has_bar(frames.assign(bar_midfoot_cm=np.nan))
    with_bar = frames.assign(bar_midfoot_cm=np.linspace(-2.0, 3.0, len(frames)))
    assert has_bar(with_bar)
    spec = bar_chart(with_bar, selected_time=3.0).to_dict()
    line = rows(spec, layer_with(spec, "line"))
    assert [r["bar ahead of the midfoot"] for r in line] == pytest.approx(with_bar["bar_midfoot_cm"].tolist(), abs=1e-5)  # rounded for the page
    rules = [rows(spec, layer)[0] for layer in layers(spec) if layer["mark"]["type"] == "rule"]
    assert {"bar": 0.0} in rules  # the midfoot line
    assert layer_with(spec, "line")["encoding"]["y"]["scale"]["domain"] == [-5.0, 5.0]  # ±5 cm at least
    far = bar_chart(with_bar.assign(bar_midfoot_cm=with_bar["bar_midfoot_cm"] * 3)).to_dict()
    assert layer_with(far, "line")["encoding"]["y"]["scale"]["domain"] == [-9.0, 9.0]


def test_time_charts_concatenate_with_one_shared_time_axis():
    frames = frames_table()
    spec = alt.vconcat(angle_chart(frames, selected_time=3.0), moment_arm_chart(frames, selected_time=3.0)) \
        .resolve_scale(x="shared").to_dict()
    assert spec["resolve"]["scale"]["x"] == "shared"
    assert len(spec["vconcat"]) == 2


# ---------------------------------------------------------------- rep depth chart


def test_rep_depth_chart_has_a_bar_per_rep_and_a_parallel_line():
    spec = rep_depth_chart(reps_table()).to_dict()
    assert marks(spec) == ["bar", "rule", "text"]
    bars = rows(spec, layer_with(spec, "bar"))
    assert [b["rep"] for b in bars] == [1, 2, 3]
    assert [b["knee_flexion"] for b in bars] == [120.0, 105.0, 80.0]  # 180 − knee angle: taller is deeper
    assert [b["depth"] for b in bars] == ["below parallel", "below parallel", "above parallel"]
    rule = layer_with(spec, "rule")
    assert rows(spec, rule)[0]["knee_flexion"] == 90.0
    assert rule["encoding"]["y"]["field"] == layer_with(spec, "bar")["encoding"]["y"]["field"]
    assert "tooltip" in layer_with(spec, "bar")["encoding"]


def test_rep_depth_chart_marks_unknown_depth_without_failing():
    reps = reps_table().astype({"hip_below_knee": float})  # 1.0 / 0.0 / NaN, as a CSV round trip gives
    reps.loc[1, "hip_below_knee"] = np.nan
    reps.loc[1, "depth_knee_angle"] = np.nan
    spec = rep_depth_chart(reps).to_dict()
    bars = rows(spec, layer_with(spec, "bar"))
    assert bars[1]["depth"] == "unknown" and bars[1]["knee_flexion"] is None


# ---------------------------------------------------------------- comparison chart


def test_rep_phase_runs_from_zero_to_one_within_each_rep_and_is_nan_outside():
    frames = frames_table()
    phase = rep_phase(frames)
    assert phase[frames["rep"] == 0].isna().all()
    by_rep = phase.groupby(frames["rep"])
    for rep in (1, 2, 3):
        assert by_rep.get_group(rep).min() == 0.0 and by_rep.get_group(rep).max() == 1.0


def test_rep_phase_of_a_table_without_reps_spans_its_whole_time():
    one_rep = pd.DataFrame({"time_s": [2.0, 2.5, 3.0, 4.0]})
    assert list(rep_phase(one_rep)) == [0.0, 0.25, 0.5, 1.0]


def test_comparison_chart_puts_you_and_reference_on_normalised_rep_phase():
    you = frames_table()
    reference = frames_table(duration=8.0)  # two reps
    spec = comparison_chart(you, reference, "knee_angle").to_dict()
    assert spec["mark"]["type"] == "line"
    enc = spec["encoding"]
    assert enc["x"]["field"] == "phase" and enc["x"]["scale"]["domain"] == [0, 1]
    assert enc["color"]["field"] == "who" and enc["color"]["scale"]["domain"] == ["you", "reference"]
    assert enc["detail"]["field"] == "rep"
    assert enc["y"]["title"] == "knee angle (°)"
    data = rows(spec, spec)
    in_reps = int((you["rep"] > 0).sum() + (reference["rep"] > 0).sum())
    assert len(data) == in_reps
    assert all(0.0 <= r["phase"] <= 1.0 for r in data)


def test_comparison_chart_rejects_a_missing_column():
    with pytest.raises(ValueError, match="hip_angle"):
        comparison_chart(frames_table(), frames_table().drop(columns="hip_angle"), "hip_angle")


def test_clicking_a_time_chart_picks_the_nearest_frame():
    from dashboard.presenters import picked_frame
    from squat.draw.charts import PICK

    frames = pd.DataFrame({"time_s": np.arange(90) / 30, "knee_angle": np.linspace(170, 80, 90),
                           "hip_angle": np.linspace(170, 70, 90), "trunk_lean": np.linspace(5, 40, 90),
                           "rep": np.ones(90, int)})
    spec = angle_chart(frames).to_dict()
    params = spec["params"]
    assert [p["name"] for p in params] == [PICK]
    assert params[0]["select"]["fields"] == ["time_s"] and params[0]["select"]["nearest"] is True
    assert picked_frame({"selection": {PICK: [{"time_s": 1.51}]}}, frames) == 45
    assert picked_frame({"selection": {PICK: []}}, frames) is None
    assert picked_frame(None, frames) is None
