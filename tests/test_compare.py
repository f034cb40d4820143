"""Comparison with a reference lifter: build distance, lean model, phase alignment, ghost, rep summary.

Real lifters: the rendered average build (side_bar_good) and long femurs (side_bar_longfemur),
same squat otherwise, through compute_kinematics and segment_reps on their truth keypoints.
"""
from __future__ import annotations

import re
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest
from synth_truth import truth_keypoints

from squat.compare import (
    ALIGN_COLUMNS,
    align_reps,
    comparison_summary,
    ghost_skeleton,
    implications,
    matching_frame,
    phase_of_frame,
    proportion_distance,
    proportions_table,
    rank_references,
    rep_phase,
    trunk_lean_for_build,
)
from squat.measure.kinematics import compute_kinematics
from squat.measure.reps import segment_reps
from squat.skeleton import J


@pytest.fixture(scope="module")
def lifters() -> dict[str, tuple]:
    """clip → (kinematics, reps) of the two rendered builds."""
    out = {}
    for clip in ("side_bar_good", "side_bar_longfemur"):
        table, kp, _ = truth_keypoints(clip)
        kin = compute_kinematics(kp, table["time_s"].to_numpy())
        reps, _ = segment_reps(kin)
        assert len(reps) == 3
        out[clip] = (kin, reps)
    return out


@pytest.fixture(scope="module")
def builds(lifters) -> tuple[dict, dict]:
    """summary.json-style proportions: (average, long femurs)."""
    return tuple(asdict(lifters[c][0].proportions) for c in ("side_bar_good", "side_bar_longfemur"))


# ---------------------------------------------------------------- builds


def test_distance_is_zero_for_the_same_build_symmetric_and_grows_with_the_difference(builds) -> None:
    average, long_femur = builds
    near = {**average, "femur_to_torso": average["femur_to_torso"] * 1.02}
    assert proportion_distance(average, average) == 0.0
    assert proportion_distance(average, long_femur) == pytest.approx(proportion_distance(long_femur, average), abs=1e-12)
    assert proportion_distance(average, near) == pytest.approx(np.log(1.02), rel=1e-9)
    assert proportion_distance(average, long_femur) > 5 * proportion_distance(average, near)
    # A ratio 10 % longer or 10 % shorter (as a log) counts the same either way round.
    longer = {**average, "shin_to_femur": average["shin_to_femur"] * 1.1}
    shorter = {**average, "shin_to_femur": average["shin_to_femur"] / 1.1}
    assert proportion_distance(average, longer) == pytest.approx(proportion_distance(average, shorter), rel=1e-12)


def test_missing_proportions_are_infinitely_far_and_pixels_stand_in_for_ratios(builds) -> None:
    average, _ = builds
    assert proportion_distance(average, {**average, "femur_to_torso": None, "femur_px": None}) == np.inf
    assert proportion_distance(average, {"femur_to_torso": float("nan")}) == np.inf
    pixels_only = {k: average[k] for k in ("femur_px", "shin_px", "torso_px")}
    assert proportion_distance(average, pixels_only) == pytest.approx(0.0, abs=1e-12)


def test_references_are_ranked_closest_build_first(builds) -> None:
    average, long_femur = builds
    candidates = {
        "long_femur": long_femur,
        "unknown": {"femur_to_torso": None, "shin_to_femur": None},
        "twin": {**average, "femur_to_torso": average["femur_to_torso"] * 0.99},
        "between": {**average, "femur_to_torso": average["femur_to_torso"] * 1.08},
    }
    table = rank_references(average, candidates)
    assert list(table.columns) == ["key", "femur_to_torso", "shin_to_femur", "distance"]
    assert list(table["key"]) == ["twin", "between", "long_femur", "unknown"]
    assert table["distance"].is_monotonic_increasing
    assert table["distance"].iloc[-1] == np.inf


def test_proportions_table_rows_and_percent_differences(builds) -> None:
    average, long_femur = builds
    table = proportions_table(long_femur, average)
    assert list(table.index) == ["femur_to_torso", "shin_to_femur", "torso_to_femur"]
    assert list(table.columns) == ["measure", "you", "reference", "difference_pct"]
    # The renders: 0.894 vs 0.755 femur/torso (+18.5 %), 0.950 vs 1.066 shin/femur (−10.9 %).
    assert table.loc["femur_to_torso", "difference_pct"] == pytest.approx(18.5, abs=1.0)
    assert table.loc["shin_to_femur", "difference_pct"] == pytest.approx(-10.9, abs=1.0)
    assert table.loc["torso_to_femur", "you"] == pytest.approx(1 / long_femur["femur_to_torso"])


def test_lean_model_predicts_the_rendered_lifters_lean_at_the_bottom(lifters) -> None:
    """Bar over midfoot, each build's own thigh and shin angle at each bottom → its measured lean."""
    for kin, reps in lifters.values():
        p = kin.proportions
        bottom = kin.frames.iloc[reps["bottom_frame"].to_numpy()]
        predicted = trunk_lean_for_build(p.femur_to_torso, p.shin_to_femur, bottom["thigh_angle"].to_numpy(),
                                         bottom["shin_angle"].to_numpy())
        np.testing.assert_allclose(predicted, bottom["trunk_lean"].to_numpy(), atol=1.5)


def test_long_femurs_against_an_average_build_mean_more_forward_lean(lifters, builds) -> None:
    average, long_femur = builds
    lines = implications(long_femur, average)
    lean = next(line for line in lines if "more forward lean" in line)
    assert "femurs are 19% longer relative to your torso" in lean
    assert "not a fault" in lean
    # The stated degrees match the rendered lifters' measured difference (same squat, 8.1°).
    stated = float(re.search(r"about (\d+)° more forward lean", lean).group(1))
    measured = lifters["side_bar_longfemur"][1]["max_trunk_lean"].mean() - lifters["side_bar_good"][1]["max_trunk_lean"].mean()
    assert stated == pytest.approx(measured, abs=1.5)
    assert any("more shin angle" in line for line in lines)  # what depth at their trunk angle would take
    assert any("less forward lean" in line for line in implications(average, long_femur))
    same = implications(average, {**average, "femur_to_torso": average["femur_to_torso"] * 1.02})
    assert len(same) == 1 and "same build" in same[0]


# ---------------------------------------------------------------- reps by phase


def test_phase_is_zero_at_the_start_half_at_the_bottom_one_at_the_end() -> None:
    frames = pd.DataFrame({"time_s": np.arange(0.0, 5.0, 0.1)})
    rep = {"start_time": 1.0, "bottom_time": 3.0, "end_time": 4.0}
    phase = rep_phase(frames, rep)
    t = frames["time_s"].to_numpy()
    assert np.isnan(phase[t < 0.95]).all() and np.isnan(phase[t > 4.05]).all()
    np.testing.assert_allclose(phase[[10, 20, 30, 35, 40]], [0.0, 0.25, 0.5, 0.75, 1.0], atol=1e-9)
    assert phase_of_frame(2, frames, rep) == 0.0 and phase_of_frame(45, frames, rep) == 1.0


def _bottom_phase(phase: np.ndarray, knee: np.ndarray, within_deg: float = 0.2) -> float:
    """Middle of the held bottom: the phases where the knee angle is within `within_deg` of its minimum
    (in a pause the knee angle is flat to 0.1°, so its argmin alone is any frame of the pause)."""
    held = knee <= np.nanmin(knee) + within_deg
    return float((phase[held].min() + phase[held].max()) / 2)


@pytest.mark.parametrize("method", ["phase", "dtw"])
def test_alignment_puts_both_lifters_bottoms_at_half_phase(lifters, method) -> None:
    (you, you_reps), (ref, ref_reps) = lifters["side_bar_good"], lifters["side_bar_longfemur"]
    for k in range(3):
        aligned = align_reps(you.frames, you_reps.iloc[k], ref.frames, ref_reps.iloc[(k + 1) % 3], method=method)
        assert list(aligned.columns[:4]) == ["phase", "you_phase", "you_time_s", "ref_time_s"]
        assert {f"{w}_{c}" for w in ("you", "ref") for c in ALIGN_COLUMNS} <= set(aligned.columns)
        assert len(aligned) == 101 and aligned[[f"you_{c}" for c in ALIGN_COLUMNS]].notna().all().all()
        phase = aligned["phase"].to_numpy()
        for who in ("you", "ref"):
            knee = aligned[f"{who}_knee_angle"].to_numpy()
            assert _bottom_phase(phase, knee) == pytest.approx(0.5, abs=0.03)
            if method == "phase":  # DTW may stretch the flat bottom to either side
                assert phase[np.nanargmin(knee)] == pytest.approx(0.5, abs=0.03)
        # Same squat, different builds: the knee paths agree once lined up (the builds differ in lean).
        assert np.nanmax(np.abs(aligned["you_knee_angle"] - aligned["ref_knee_angle"])) < 6.0


def _warped(frames: pd.DataFrame, rep: pd.Series, descent: float, ascent: float) -> tuple[pd.DataFrame, dict]:
    """The same rep with its descent `descent` × and its ascent `ascent` × as long (a different tempo)."""
    start, bottom = rep["start_time"], rep["bottom_time"]
    def warp(t):
        t = np.asarray(t, dtype=np.float64)
        return np.where(t <= bottom, start + (t - start) * descent, start + (bottom - start) * descent + (t - bottom) * ascent)
    slow = frames.assign(time_s=warp(frames["time_s"]))
    times = {k: float(warp(rep[k])) for k in ("start_time", "bottom_time", "end_time")}
    return slow, times


def test_a_slower_descent_and_faster_ascent_align_onto_the_same_curves(lifters) -> None:
    kin, reps = lifters["side_bar_good"]
    rep = reps.iloc[1]
    slow, slow_rep = _warped(kin.frames, rep, descent=1.8, ascent=0.6)
    same = align_reps(kin.frames, rep, kin.frames, rep)
    tempo = align_reps(kin.frames, rep, slow, slow_rep)
    for c in ALIGN_COLUMNS:
        np.testing.assert_allclose(tempo[f"ref_{c}"], same[f"ref_{c}"], atol=1e-9)
    # Time is what changed: the warped bottom is 1.8 × further from the start.
    descent_s = tempo["ref_time_s"].iloc[50] - tempo["ref_time_s"].iloc[0]
    assert descent_s == pytest.approx(1.8 * (rep["bottom_time"] - rep["start_time"]))


def test_short_gaps_are_bridged_and_long_gaps_stay_missing(lifters) -> None:
    kin, reps = lifters["side_bar_good"]
    rep = reps.iloc[0]
    frames = kin.frames.copy()
    t = frames["time_s"].to_numpy()
    short = (t > rep["start_time"] + 0.4) & (t < rep["start_time"] + 0.5)  # 2 frames, 0.1 s
    long = (t > rep["bottom_time"] + 0.2) & (t < rep["bottom_time"] + 0.8)  # 0.6 s of the ascent
    frames.loc[short | long, "knee_angle"] = np.nan
    aligned = align_reps(frames, rep, kin.frames, rep)
    phase = aligned["phase"].to_numpy()
    missing = aligned["you_knee_angle"].isna().to_numpy()
    p = rep_phase(frames, rep)
    seen = p[np.isfinite(p) & ~(short | long)]
    # NaN exactly between the last frame seen before the long gap and the first one after it.
    before, after = seen[seen < p[long].min()].max(), seen[seen > p[long].max()].min()
    gap = (phase > before) & (phase < after)
    assert gap.sum() >= 10
    np.testing.assert_array_equal(missing, gap)
    assert aligned["ref_knee_angle"].notna().all()  # the other lifter is untouched


def test_matching_frame_round_trips_through_phase(lifters) -> None:
    (you, you_reps), (ref, ref_reps) = lifters["side_bar_good"], lifters["side_bar_longfemur"]
    you_rep, ref_rep = you_reps.iloc[0], ref_reps.iloc[2]
    for k in range(int(ref_rep["start_frame"]), int(ref_rep["end_frame"]) + 1):
        assert matching_frame(phase_of_frame(k, ref.frames, ref_rep), ref.frames, ref_rep) == k
    ref_phase = rep_phase(ref.frames, ref_rep)
    step = np.nanmax(np.diff(ref_phase[np.isfinite(ref_phase)]))  # phase between two reference frames
    for k in range(int(you_rep["start_frame"]), int(you_rep["end_frame"]) + 1):
        phase = phase_of_frame(k, you.frames, you_rep)
        match = matching_frame(phase, ref.frames, ref_rep)
        assert ref_rep["start_frame"] <= match <= ref_rep["end_frame"]
        assert abs(phase_of_frame(match, ref.frames, ref_rep) - phase) <= step / 2 + 1e-9
    assert matching_frame(0.5, ref.frames, ref_rep) == ref_rep["bottom_frame"]


# ---------------------------------------------------------------- ghost


def _pose(ankle: tuple[float, float], facing: int, side: str, shin_deg: float, thigh_deg: float, lean_deg: float,
          shin: float, femur: float, torso: float) -> np.ndarray:
    """Camera-side chain (and neck, nose) with known segment directions: shin and trunk forward of
    vertical, thigh below horizontal (+ = hip under the knee), facing ±x; y grows down."""
    s = "r" if side == "right" else "l"
    a = np.radians([shin_deg, thigh_deg, lean_deg])
    ankle = np.array(ankle, dtype=np.float64)
    knee = ankle + shin * np.array([facing * np.sin(a[0]), -np.cos(a[0])])
    hip = knee + femur * np.array([-facing * np.cos(a[1]), np.sin(a[1])])
    shoulder = hip + torso * np.array([facing * np.sin(a[2]), -np.cos(a[2])])
    kp = np.full((18, 3), np.nan)
    for name, xy in (("ankle", ankle), ("knee", knee), ("hip", hip), ("shoulder", shoulder)):
        kp[J[f"{s}_{name}"]] = (*xy, 0.9)
    kp[J["neck"]] = (*(shoulder + [-facing * 5.0, -8.0]), 0.9)
    kp[J["nose"]] = (*(shoulder + [facing * 40.0, -50.0]), 0.8)
    return kp


def _segments(kp: np.ndarray, side: str, facing: int) -> tuple[np.ndarray, np.ndarray]:
    """Lengths (px) and directions (deg, from up, + toward the facing direction) of shin, femur, torso."""
    s = "r" if side == "right" else "l"
    chain = kp[[J[f"{s}_{n}"] for n in ("ankle", "knee", "hip", "shoulder")], :2]
    d = np.diff(chain, axis=0)
    return np.hypot(d[:, 0], d[:, 1]), np.degrees(np.arctan2(facing * d[:, 0], -d[:, 1]))


REF = {"shin_deg": 28.0, "thigh_deg": 3.0, "lean_deg": 41.0, "shin": 180.0, "femur": 189.0, "torso": 212.0}
YOU = {"shin_px": 150.0, "femur_px": 140.0, "torso_px": 200.0, "femur_to_torso": 0.7, "shin_to_femur": 150 / 140}


@pytest.mark.parametrize("you_side, facing_you", [("right", 1), ("left", -1), ("right", -1)])
def test_ghost_has_your_lengths_their_angles_and_stands_on_your_feet(you_side, facing_you) -> None:
    ref = _pose((1200.0, 950.0), 1, "right", **REF)
    ref_midfoot = 1200.0 + 0.19 * REF["shin"]
    you = _pose((400.0, 800.0), facing_you, you_side, 20.0, -10.0, 30.0, 150.0, 140.0, 200.0)
    s = "r" if you_side == "right" else "l"
    you_ankle = you[J[f"{s}_ankle"], :2]
    you_midfoot = you_ankle[0] + facing_you * 0.19 * YOU["shin_px"]
    ghost = ghost_skeleton(ref, "right", you, you_side, YOU, you_midfoot, ref_midfoot, facing_you, 1)

    lengths, directions = _segments(ghost, you_side, facing_you)
    _, ref_directions = _segments(ref, "right", 1)
    np.testing.assert_allclose(lengths, [YOU["shin_px"], YOU["femur_px"], YOU["torso_px"]], atol=1e-3)
    np.testing.assert_allclose(directions, ref_directions, atol=1e-3)
    np.testing.assert_allclose(ghost[J[f"{s}_ankle"], :2], you_ankle, atol=1e-3)
    # Mirrored when facing differs: the knee goes toward your toes, the hip behind your ankle.
    knee_x, ankle_x, hip_x = (ghost[J[f"{s}_{n}"], 0] for n in ("knee", "ankle", "hip"))
    assert facing_you * (knee_x - ankle_x) > 0 and facing_you * (hip_x - ankle_x) < 0
    # Head and neck ride on the trunk top; the far leg is not drawn.
    assert np.isfinite(ghost[[J["neck"], J["nose"]], :2]).all()
    assert facing_you * (ghost[J["nose"], 0] - ghost[J[f"{s}_shoulder"], 0]) > 0
    o = "l" if s == "r" else "r"
    assert np.isnan(ghost[[J[f"{o}_hip"], J[f"{o}_knee"], J[f"{o}_ankle"]]]).all()


def test_ghost_midfoot_is_on_your_midfoot_line_and_falls_back_to_your_ankle() -> None:
    ref = _pose((1200.0, 950.0), -1, "left", **REF)
    you = _pose((400.0, 800.0), 1, "right", 20.0, -10.0, 30.0, 150.0, 140.0, 200.0)
    ref_midfoot = 1200.0 - 0.25 * REF["shin"]  # a model with feet: midfoot 0.25 shin ahead
    ghost = ghost_skeleton(ref, "left", you, "right", YOU, 470.0, ref_midfoot, 1, -1)
    assert ghost[J["r_ankle"], 0] + 0.25 * YOU["shin_px"] == pytest.approx(470.0, abs=1e-3)
    assert ghost[J["r_ankle"], 1] == pytest.approx(800.0, abs=1e-3)
    no_midfoot = ghost_skeleton(ref, "left", you, "right", YOU, np.nan, ref_midfoot, 1, -1)
    np.testing.assert_allclose(no_midfoot[J["r_ankle"], :2], [400.0, 800.0], atol=1e-3)
    you[[J["r_ankle"], J["l_ankle"]]] = np.nan
    assert np.isnan(ghost_skeleton(ref, "left", you, "right", YOU, 470.0, ref_midfoot, 1, -1)).all()


def test_ghost_of_the_rendered_long_femur_lifter_on_the_average_one(lifters) -> None:
    """At the same phase, the long-femur lifter's angles on the average lifter's segments."""
    (you, you_reps), (ref, ref_reps) = lifters["side_bar_good"], lifters["side_bar_longfemur"]
    _, you_kp, _ = truth_keypoints("side_bar_good")
    _, ref_kp, _ = truth_keypoints("side_bar_longfemur")
    k = int(you_reps.iloc[0]["bottom_frame"])
    r = matching_frame(phase_of_frame(k, you.frames, you_reps.iloc[0]), ref.frames, ref_reps.iloc[0])
    ghost = ghost_skeleton(ref_kp[r], ref.side, you_kp[k], you.side, asdict(you.proportions),
                           you.frames["midfoot_x"].iloc[k], ref.frames["midfoot_x"].iloc[r], you.facing, ref.facing,
                           ref_segments=asdict(ref.proportions))
    ghost_kin = compute_kinematics(np.repeat(ghost[None], 2, axis=0).astype(np.float32), np.array([0.0, 0.1]))
    for angle in ("knee_angle", "hip_angle", "shin_angle"):
        assert ghost_kin.frames[angle].iloc[0] == pytest.approx(ref.frames[angle].iloc[r], abs=1e-3)
    # Both midfoots are 0.19 × the standing shin ahead of the ankle (planted: a running median, so
    # within a pixel of this frame's read on truth keypoints): the ghost stands on your ankle.
    assert ghost_kin.frames["midfoot_x"].iloc[0] == pytest.approx(you.frames["midfoot_x"].iloc[k], abs=1.0)
    np.testing.assert_allclose(ghost[J["r_ankle"], :2], you_kp[k, J["r_ankle"], :2], atol=0.05)


# ---------------------------------------------------------------- per-rep numbers


def test_comparison_summary_means_and_differences(lifters) -> None:
    you_reps, ref_reps = lifters["side_bar_longfemur"][1], lifters["side_bar_good"][1]
    table = comparison_summary(you_reps, ref_reps)
    assert list(table.columns) == ["metric", "unit", "you", "reference", "difference"]
    assert table.loc["max_trunk_lean", "you"] == pytest.approx(you_reps["max_trunk_lean"].mean())
    assert table.loc["max_trunk_lean", "difference"] == pytest.approx(8.1, abs=1.0)  # long femurs lean more
    assert abs(table.loc["depth_knee_angle", "difference"]) < 1.0  # same depth rendered
    assert table.loc["hip_below_knee", "you"] == 100.0
    # From CSV text, and against nobody: NaN, not an error.
    csv_reps = you_reps.assign(hip_below_knee=["True", "False", "True"])
    assert comparison_summary(csv_reps, ref_reps).loc["hip_below_knee", "you"] == pytest.approx(200 / 3)
    empty = comparison_summary(you_reps, ref_reps.iloc[0:0])
    assert empty["reference"].isna().all() and empty["you"].notna().all()
