"""`python -m squat evaluate`: the error measures on hand-made runs, and the command end to end.

The hand-made runs are built from the short rendered clip's truth (tests/data/synth_side_short):
a perfect run copies the truth, then one thing at a time is spoiled by a known amount.
"""
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from squat.cli import main as cli_main
from squat.eval.rendered import (
    TARGETS,
    error_stats,
    evaluate,
    femur_length_px,
    load_truth,
    match_reps,
    swapped_frames,
)

REPO = Path(__file__).parents[1]
SHORT = REPO / "tests" / "data" / "synth_side_short"
COCO = ("nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist", "r_hip", "r_knee",
        "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear")


@pytest.fixture(scope="module")
def truth():
    return load_truth(SHORT)


def perfect_run(truth_frames: pd.DataFrame, meta: dict) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """frames.csv, reps.csv and summary.json as an engine that saw the truth exactly would write them."""
    t = truth_frames
    frames = pd.DataFrame({"frame": t["frame"], "time_s": t["time_s"], "detected": True})
    for name in COCO:
        frames[f"{name}_x"], frames[f"{name}_y"], frames[f"{name}_conf"] = t[f"{name}_x"], t[f"{name}_y"], 1.0
    for ours in ("knee_angle", "hip_angle", "shin_angle", "trunk_lean"):
        frames[ours] = t[f"{ours}_2d"]
    frames["hip_moment_arm"], frames["knee_moment_arm"] = t["hip_moment_arm_px"], t["knee_moment_arm_px"]
    frames["bar_midfoot_cm"] = 100.0 * t["bar_minus_midfoot_m"]
    frames["rep"] = t["rep"]
    reps = pd.DataFrame([{
        "rep": r["rep"], "start_time": r["start_time_s"], "bottom_time": r["bottom_time_s"],
        "end_time": r["end_time_s"],
        "start_frame": r["start_frame"], "bottom_frame": r["bottom_frame"], "end_frame": r["end_frame"],
        "depth_knee_angle": t["knee_angle_2d"][r["start_frame"]: r["end_frame"] + 1].min(),
        "hip_below_knee": r["hip_below_knee_at_bottom"],
    } for r in meta["reps"]])
    keypoints = meta["body"]["segment_lengths_detail"]["keypoints"]
    summary = {"video": {"width": meta["width"], "height": meta["height"]}, "side": "right",
               "view": {"view": "side"},
               "proportions": {"femur_to_torso": keypoints["femur_to_torso"], "shin_to_femur": keypoints["shin_to_femur"]}}
    return frames, reps, summary


def target(result: dict, name: str) -> dict:
    return next(t for t in result["targets"] if t["name"] == name)


def test_perfect_run_has_zero_errors_and_passes_every_target(truth):
    result = evaluate(*perfect_run(*truth), *truth)
    for name, a in result["frames"]["angles"].items():
        assert a["mae"] == pytest.approx(0, abs=1e-9), name
        assert a["mae_at_depth"] == pytest.approx(0, abs=1e-9), name
        assert a["coverage"] == 1.0
    assert result["clip"]["frames_at_depth"] > 20  # the rep goes well below 110°
    for joint, k in result["frames"]["keypoints"].items():
        assert k["mean_px"] == pytest.approx(0, abs=1e-9), joint
    assert result["frames"]["swaps"]["swapped_frames"] == 0
    assert result["frames"]["bar_midfoot"]["mae_cm"] == pytest.approx(0, abs=1e-9)
    assert result["frames"]["detected_share"] == 1.0
    r = result["reps"]
    assert (r["true"], r["found"], r["matched"], r["missed"], r["invented"]) == (1, 1, 1, 0, 0)
    (rep,) = r["per_rep"]
    for key in ("start_time_error_s", "bottom_time_error_s", "end_time_error_s", "depth_error",
                "trunk_lean_at_bottom_error", "hip_moment_arm_at_bottom_error_femur"):
        assert rep[key] == pytest.approx(0, abs=1e-9), key
    assert rep["hip_below_knee_right"]
    assert result["proportions"]["femur_to_torso"]["error_pct"] == pytest.approx(0, abs=1e-9)
    assert result["view"] == {"ours": "side", "truth": "side", "right": True}
    assert [t["status"] for t in result["targets"]] == ["PASS"] * len(TARGETS)


def test_the_bottom_is_judged_against_the_true_pause_at_the_bottom(truth):
    """The rendered knees hold still through the pause: any frame of it is the bottom."""
    frames, reps, summary = perfect_run(*truth)
    true_bottom = truth[1]["reps"][0]["bottom_time_s"]
    pause = truth[0].loc[(truth[0]["rep"] == 1) & (truth[0]["phase"] == "bottom"), "time_s"]
    first, last = min(pause.min(), true_bottom), max(pause.max(), true_bottom)  # the truth's frame counts too
    assert last - first >= 0.1
    for when, error in ((first, 0.0), ((first + last) / 2, 0.0), (first - 0.2, -0.2), (last + 0.1, 0.1)):
        (rep,) = evaluate(frames, reps.assign(bottom_time=when), summary, *truth)["reps"]["per_rep"]
        assert rep["bottom_time_error_s"] == pytest.approx(error, abs=1e-9), when
        assert rep["bottom_frame_time_error_s"] == pytest.approx(when - true_bottom, abs=1e-9)


def test_constant_knee_offset_of_5_degrees_reads_as_knee_mae_5(truth):
    frames, reps, summary = perfect_run(*truth)
    frames["knee_angle"] += 5.0
    reps["depth_knee_angle"] += 5.0
    result = evaluate(frames, reps, summary, *truth)
    knee = result["frames"]["angles"]["knee_angle"]
    assert knee["mae"] == pytest.approx(5.0, abs=1e-6)
    assert knee["bias"] == pytest.approx(5.0, abs=1e-6)
    assert knee["p90"] == pytest.approx(5.0, abs=1e-6)
    assert knee["mae_at_depth"] == pytest.approx(5.0, abs=1e-6)
    assert result["frames"]["angles"]["hip_angle"]["mae"] == pytest.approx(0, abs=1e-9)
    assert result["reps"]["per_rep"][0]["depth_error"] == pytest.approx(5.0, abs=1e-6)
    assert target(result, "knee MAE, all frames")["status"] == "FAIL"  # 5° > 4°
    assert target(result, "knee MAE, at depth")["status"] == "PASS"  # 5° <= 6°


def test_missing_angles_lower_coverage_and_are_left_out_of_the_mae():
    stats = error_stats(np.array([10.0, np.nan, 12.0, np.nan]), np.array([10.0, 50.0, 10.0, 80.0]),
                        at_depth=np.array([False, False, True, True]))
    assert stats["coverage"] == 0.5
    assert stats["mae"] == pytest.approx(1.0)  # |0| and |2|
    assert stats["mae_at_depth"] == pytest.approx(2.0)
    assert stats["coverage_at_depth"] == 0.5
    assert (stats["frames"], stats["frames_at_depth"]) == (2, 1)


def test_swapped_legs_are_counted_in_the_frames_they_happen(truth):
    truth_frames, meta = truth
    frames, _, _ = perfect_run(truth_frames, meta)
    swapped = frames.index[60:90]  # frames 60..89, around the bottom, where the legs lie furthest apart
    for joint in ("hip", "knee", "ankle"):
        for axis in ("x", "y"):
            right, left = f"r_{joint}_{axis}", f"l_{joint}_{axis}"
            frames.loc[swapped, [right, left]] = frames.loc[swapped, [left, right]].to_numpy()
    femur = femur_length_px(truth_frames, "r")
    counted = swapped_frames(frames, truth_frames, "r", femur)
    assert counted["swapped_frames"] == 30
    assert counted["frames"] == list(range(60, 90))
    assert counted["decidable_frames"] == len(truth_frames)  # side-on, the legs still lie 0.13 femur apart

    # An offset shared by both legs is not a swap: all points 30 px up (more than the legs lie apart).
    shifted, _, _ = perfect_run(truth_frames, meta)
    shifted[[c for c in shifted.columns if c.endswith("_y")]] -= 30
    assert swapped_frames(shifted, truth_frames, "r", femur)["swapped_frames"] == 0

    # Only the camera-side leg seen, and it sits on the far leg: swapped by the plain definition.
    one_leg, _, _ = perfect_run(truth_frames, meta)
    for joint in ("hip", "knee", "ankle"):
        for axis in ("x", "y"):
            one_leg.loc[swapped, f"r_{joint}_{axis}"] = one_leg.loc[swapped, f"l_{joint}_{axis}"]
            one_leg[f"l_{joint}_{axis}"] = np.nan
    counted = swapped_frames(one_leg, truth_frames, "r", femur)
    assert (counted["swapped_frames"], counted["one_leg_frames"]) == (30, len(truth_frames))


def test_an_invented_and_a_missed_rep_are_counted(truth):
    frames, reps, summary = perfect_run(*truth)
    (true_rep,) = truth[1]["reps"]  # 0.8 s .. 4.0 s, bottom at 2.5 s
    # Our only rep bottoms after the true rep ended: the true one is missed, ours invented.
    late = reps.assign(start_time=3.9, bottom_time=4.3, end_time=4.6, bottom_frame=129)
    result = evaluate(frames, late, summary, *truth)
    r = result["reps"]
    assert (r["matched"], r["missed"], r["invented"]) == (0, 1, 1)
    assert (r["missed_reps"], r["invented_reps"]) == ([1], [1])
    assert target(result, "reps missed")["status"] == "FAIL"
    assert target(result, "reps invented")["status"] == "FAIL"
    assert target(result, "hip below knee, reps wrong")["value"] == 1  # nothing said about the missed rep
    assert target(result, "bottom time, worst rep")["status"] == "FAIL"  # nothing matched: nothing to pass

    # Two of ours inside the one true rep: the nearer bottom is matched, the other invented.
    twice = pd.concat([reps, reps.assign(rep=2, bottom_time=true_rep["bottom_time_s"] + 0.5)], ignore_index=True)
    r = evaluate(frames, twice, summary, *truth)["reps"]
    assert (r["matched"], r["missed"], r["invented"], r["invented_reps"]) == (1, 0, 1, [2])
    assert r["per_rep"][0]["our_rep"] == 1


def test_reps_are_matched_one_to_one_by_bottom_time():
    true_reps = [{"start_time_s": 0.0, "bottom_time_s": 1.0, "end_time_s": 2.0},
                 {"start_time_s": 3.0, "bottom_time_s": 4.0, "end_time_s": 5.0}]
    ours = pd.DataFrame({"bottom_time": [4.2, 1.05, 7.0]})
    assert match_reps(ours, true_reps) == [(0, 1), (1, 0)]


def test_proportions_are_compared_as_relative_error(truth):
    frames, reps, summary = perfect_run(*truth)
    keypoints = truth[1]["body"]["segment_lengths_detail"]["keypoints"]
    summary["proportions"] = {"femur_to_torso": keypoints["femur_to_torso"] * 1.10,
                              "shin_to_femur": keypoints["shin_to_femur"] * 0.95}
    result = evaluate(frames, reps, summary, *truth)
    assert result["proportions"]["femur_to_torso"]["error_pct"] == pytest.approx(10.0)
    assert result["proportions"]["shin_to_femur"]["error_pct"] == pytest.approx(-5.0)
    assert target(result, "femur/torso error")["status"] == "FAIL"  # 10% > 8%
    summary["proportions"]["femur_to_torso"] = keypoints["femur_to_torso"] * 0.93
    assert target(evaluate(frames, reps, summary, *truth), "femur/torso error")["status"] == "PASS"


def test_an_oblique_camera_has_no_targets_and_its_view_verdict_is_checked(truth):
    truth_frames, meta = truth
    oblique = {**meta, "camera_azimuth_deg": 45.0}
    frames, reps, summary = perfect_run(truth_frames, meta)
    result = evaluate(frames, reps, summary, truth_frames, oblique)
    assert {t["status"] for t in result["targets"]} == {"no target"}
    assert result["view"] == {"ours": "side", "truth": "not side", "right": False}
    summary["view"] = {"view": "oblique"}
    assert evaluate(frames, reps, summary, truth_frames, oblique)["view"]["right"]
    from_the_left = {**meta, "camera_azimuth_deg": 270.0}
    assert evaluate(frames, reps, summary, truth_frames, from_the_left)["view"]["truth"] == "side"


def write_run(folder: Path, frames: pd.DataFrame, reps: pd.DataFrame, summary: dict) -> Path:
    folder.mkdir()
    frames.to_csv(folder / "frames.csv", index=False)
    reps.to_csv(folder / "reps.csv", index=False)
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def test_cli_reads_the_files_prints_a_table_and_writes_strict_json(truth, tmp_path, capsys):
    frames, reps, summary = perfect_run(*truth)
    frames.loc[:9, ["knee_angle", "hip_angle"]] = np.nan  # empty cells in frames.csv
    run = write_run(tmp_path / "run", frames, reps, summary)
    assert cli_main(["evaluate", str(run), str(SHORT), "--json", str(tmp_path / "eval.json")]) == 0
    out = capsys.readouterr().out
    assert "knee_angle" in out and "TARGETS" in out and "PASS" in out
    result = json.loads((tmp_path / "eval.json").read_text())  # strict: NaN would not parse as null
    assert result["frames"]["angles"]["knee_angle"]["coverage"] == pytest.approx(1 - 10 / len(frames))


def test_missing_files_or_another_clip_end_with_a_one_line_error(truth, tmp_path, capsys):
    frames, reps, summary = perfect_run(*truth)
    run = write_run(tmp_path / "run", frames, reps, summary)
    (tmp_path / "incomplete").mkdir()
    cases = [
        ([str(tmp_path / "incomplete"), str(SHORT)], "frames.csv"),
        ([str(run), str(tmp_path / "nowhere")], "not a folder"),
        ([str(run), str(run)], "truth.csv"),
    ]
    other = write_run(tmp_path / "other", frames.iloc[:100], reps, summary)
    cases.append(([str(other), str(SHORT)], "not the same clip"))
    for args, words in cases:
        assert cli_main(["evaluate", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and words in err and err.count("\n") == 1, err


def analyse_and_evaluate(render: Path, base: Path, timeout_s: int) -> tuple[subprocess.CompletedProcess, Path]:
    """`squat analyze` on a render's clip.mp4 into base/run, then `squat evaluate` of that run
    against the render's truth, as a user would: the evaluate run and its JSON report."""
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    analyze = subprocess.run([sys.executable, "-m", "squat", "analyze", str(render / "clip.mp4"), "--out",
                              str(base / "run"), "--quiet"], cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=timeout_s, check=False)
    assert analyze.returncode == 0, analyze.stderr
    evaluated = subprocess.run([sys.executable, "-m", "squat", "evaluate", str(base / "run"), str(render), "--json",
                                str(base / "eval.json")], cwd=REPO, env=env, capture_output=True, text=True,
                               timeout=120, check=False)
    return evaluated, base / "eval.json"


@pytest.fixture(scope="module")
def analysed_short(tmp_path_factory):
    """The real engine on the short clip (about 15 s on 2 cores), then evaluate on its folder."""
    return analyse_and_evaluate(SHORT, tmp_path_factory.mktemp("evaluate"), timeout_s=600)


def test_evaluate_runs_end_to_end_on_the_engines_own_output(analysed_short):
    evaluated, json_path = analysed_short
    assert evaluated.returncode == 0, evaluated.stderr
    assert evaluated.stderr == ""
    for words in ("PER FRAME", "PER REP", "PER CLIP", "TARGETS", "knee_angle", "femur/torso"):
        assert words in evaluated.stdout, words
    result = json.loads(json_path.read_text())
    assert set(result) >= {"run", "truth", "clip", "frames", "reps", "proportions", "view", "targets"}
    assert set(result["frames"]["angles"]) == {"knee_angle", "hip_angle", "trunk_lean", "shin_angle"}
    assert set(result["frames"]["keypoints"]) == {"hip", "knee", "ankle", "neck", "shoulder"}
    assert result["clip"]["frames"] == 141 and result["clip"]["side_view"]
    assert result["reps"]["true"] == 1
    assert result["reps"]["found"] == 1
    assert math.isfinite(result["frames"]["angles"]["knee_angle"]["mae"])
    assert [t["name"] for t in result["targets"]] == list(TARGETS)
    assert {t["status"] for t in result["targets"]} <= {"PASS", "FAIL"}


def test_the_engine_meets_the_accuracy_targets_on_the_short_side_view_render(analysed_short):
    """One rep of the side-view barbell render, 960×540: the numbers a coach reads are within target.

    Measured at this commit: knee 2.4° (2.8° at depth), hip 2.9°, lean 1.6°, bottom inside the
    true pause, hip below knee right, hip moment arm 0.05 × femur, femur/torso +5.8 % (from the
    bar with the model's standing hip bias; +21 % without it, +42-58 % from the plate-hidden
    shoulder keypoints); the margins below leave room for BLAS noise."""
    _, json_path = analysed_short
    result = json.loads(json_path.read_text())
    assert {t["name"] for t in result["targets"] if t["status"] != "PASS"} == set()
    angles = result["frames"]["angles"]
    assert angles["knee_angle"]["mae_at_depth"] < 5 and angles["trunk_lean"]["mae"] < 3
    assert result["frames"]["bar_midfoot"]["mae_cm"] < 2  # measured 0.6 cm
