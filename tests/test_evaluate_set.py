"""`python -m squat evaluate --set DIR`, and the eye-label measures, on hand-made cases.

A labelled clip is a folder with clip.mp4 and label.json; its run is a hand-made frames.csv,
reps.csv and summary.json where each number is known, so every measure has a known value.
"""
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from squat.cli import main as cli_main
from squat.eval.labels import bone_cv, evaluate_labels, identity_jumps, match_bottoms
from squat.eval.rendered import is_side_view, load_truth
from squat.eval.sets import set_targets
from tests.test_evaluate import SHORT, perfect_run, write_run

FPS = 30.0


def walking_lifter(seconds: float = 6.0, femur: float = 100.0) -> pd.DataFrame:
    """frames.csv of a side-on lifter: shin 110 px and femur `femur` px, whose hips go down and up."""
    t = np.arange(int(seconds * FPS)) / FPS
    hip_y = 300 + 60 * np.clip(np.sin(2 * np.pi * t / 3.0), 0, None)
    frames = pd.DataFrame({"frame": np.arange(len(t)), "time_s": t, "detected": True})
    ankle = np.stack([np.full_like(t, 400.0), np.full_like(t, 520.0)], 1)
    knee = ankle + [0.0, -110.0]
    # The hip sits one femur from the knee, moving back as it drops.
    dy = np.clip(hip_y - knee[:, 1], -femur, femur)
    hip = np.stack([knee[:, 0] - np.sqrt(femur**2 - dy**2), knee[:, 1] + dy], 1)
    for name, xy in (("r_ankle", ankle), ("r_knee", knee), ("r_hip", hip), ("l_hip", hip + [2, 0])):
        frames[f"{name}_x"], frames[f"{name}_y"] = xy[:, 0], xy[:, 1]
    for name in ("knee_angle", "hip_angle", "trunk_lean", "shin_angle", "hip_moment_arm", "knee_moment_arm"):
        frames[name] = np.nan  # columns every frames.csv has; not read for a labelled clip
    return frames


def reps_table(bottoms: list[float], below: list[bool] | None = None) -> pd.DataFrame:
    below = below or [True] * len(bottoms)
    return pd.DataFrame([{"rep": i + 1, "start_time": b - 1.0, "bottom_time": b, "end_time": b + 1.0,
                          "bottom_frame": int(b * FPS), "depth_knee_angle": 80.0, "hip_below_knee": below[i]}
                         for i, b in enumerate(bottoms)])


def label(bottoms: list[float], view: str = "side", below=None) -> dict:
    return {"view": view, "camera_side": "right", "rep_bottoms_s": bottoms,
            "below_parallel": below if below is not None else [None] * len(bottoms)}


SUMMARY = {"side": "right", "view": {"view": "side"}, "proportions": {"femur_px": 100.0, "femur_to_torso": 0.8}}


def measures(result: dict) -> dict:
    return result["measures"]


def test_a_perfect_labelled_run_passes_every_target():
    result = evaluate_labels(walking_lifter(), reps_table([1.5, 4.5], [True, False]), SUMMARY,
                             label([1.6, 4.4], below=[True, False]))
    m = measures(result)
    assert (m["reps_true"], m["reps_found"], m["reps_missed"], m["reps_invented"]) == (2, 2, 0, 0)
    assert m["bottom_time_max_abs_error_s"] == pytest.approx(0.1)
    assert (m["depth_calls"], m["depth_calls_wrong"]) == (2, 0)
    assert m["shin_cv"] == pytest.approx(0, abs=1e-9) and m["femur_cv"] == pytest.approx(0, abs=1e-6)
    assert m["identity_jumps"] == 0 and m["found_share"] == 1.0
    assert {t["status"] for t in result["targets"]} == {"PASS"}


def test_missed_invented_and_late_reps_and_wrong_depth_calls_are_counted():
    ours = reps_table([1.5, 3.0, 4.9], [False, True, True])  # 3.0 is not a labelled rep; 4.9 is 0.5 s late
    result = evaluate_labels(walking_lifter(), ours, SUMMARY, label([1.5, 4.4, 5.9], below=[True, None, True]))
    m = measures(result)
    assert (m["reps_matched"], m["reps_missed"], m["reps_invented"]) == (2, 1, 1)
    assert result["invented_reps"] == [2]
    assert m["bottom_time_max_abs_error_s"] == pytest.approx(0.5)
    # rep 1 called wrong; rep 3 (labelled below) missed, which counts as wrong too; rep 2 has no call.
    assert (m["depth_calls"], m["depth_calls_wrong"]) == (2, 2)
    failed = {t["name"] for t in result["targets"] if t["status"] == "FAIL"}
    assert failed == {"reps missed", "reps invented", "bottom time, worst rep", "depth calls wrong"}


def test_bottoms_are_matched_one_to_one_nearest_first():
    ours = reps_table([2.0, 2.4])
    assert match_bottoms(ours, [2.3]) == [(0, 1)]
    assert match_bottoms(ours, [2.3, 2.1]) == [(0, 1), (1, 0)]
    assert match_bottoms(reps_table([9.0]), [2.0]) == []


def test_the_view_verdict_must_match_the_label():
    oblique = label([1.5], view="oblique")
    result = evaluate_labels(walking_lifter(), reps_table([1.5]), SUMMARY, oblique)
    assert measures(result)["view_wrong"] == 1
    warned = {**SUMMARY, "view": {"view": "oblique"}}
    result = evaluate_labels(walking_lifter(), reps_table([1.5]), warned, oblique)
    assert measures(result)["view_wrong"] == 0
    # Bone CVs are side-view measures: no target off a side view.
    assert {t["status"] for t in result["targets"] if t["measure"].endswith("_cv")} == {"no target"}


def test_the_measured_leg_must_be_the_one_toward_the_camera():
    result = evaluate_labels(walking_lifter(), reps_table([1.5]), {**SUMMARY, "side": "left"}, label([1.5]))
    assert measures(result)["leg_wrong"] == 1
    assert "near leg wrong" in {t["name"] for t in result["targets"] if t["status"] == "FAIL"}
    assert measures(evaluate_labels(walking_lifter(), reps_table([1.5]), SUMMARY, label([1.5])))["leg_wrong"] == 0
    # A front view has no near leg: nothing to judge.
    front = {**label([1.5], view="front"), "camera_side": "n/a"}
    result = evaluate_labels(walking_lifter(), reps_table([1.5]), {**SUMMARY, "view": {"view": "front"}}, front)
    assert {t["status"] for t in result["targets"] if t["measure"] == "leg_wrong"} == {"no target"}


def test_wandering_keypoints_raise_the_bone_length_cv():
    frames = walking_lifter()
    rng = np.random.default_rng(0)
    frames["r_knee_y"] += rng.normal(0, 11, len(frames))  # ±10 % of the shin
    cv = bone_cv(frames, "right")
    assert 0.07 < cv["shin_cv"] < 0.13
    assert cv["shin_frames"] == len(frames)


def test_a_jump_to_another_person_is_an_identity_jump():
    frames = walking_lifter()
    for name in ("r_hip", "l_hip"):
        frames.loc[90:, f"{name}_x"] += 400  # someone else, four femurs away, from frame 90
    assert identity_jumps(frames, 100.0) == [90]
    frames.loc[40:60, ["r_hip_x", "l_hip_x"]] = np.nan  # a gap: moving on after it is allowed in proportion
    assert identity_jumps(frames, 100.0) == [90]


@pytest.mark.parametrize("azimuth, side", [(90, True), (95, True), (-85, True), (-90, True), (270, True),
                                           (105, True), (106, False), (45, False), (0, False), (-60, False)])
def test_a_camera_within_15_degrees_of_side_on_on_either_side_is_a_side_view(azimuth, side):
    assert is_side_view(azimuth) is side


def make_set(tmp_path: Path) -> tuple[Path, Path]:
    """A set of two clips (the short render, a labelled clip) with their runs already made."""
    set_dir, runs = tmp_path / "set", tmp_path / "runs"
    set_dir.mkdir()
    runs.mkdir()
    render = set_dir / "render_a"
    shutil.copytree(SHORT, render)
    write_run(runs / "render_a", *perfect_run(*load_truth(SHORT)))
    labelled = set_dir / "real_b"
    labelled.mkdir()
    (labelled / "clip.mp4").write_bytes(b"not read: the run exists")
    (labelled / "label.json").write_text(json.dumps(label([1.5, 4.4], below=[True, True])))
    write_run(runs / "real_b", walking_lifter(), reps_table([1.5]), SUMMARY)
    return set_dir, runs


def test_a_set_prints_a_row_per_clip_the_mean_the_worst_and_the_set_targets(tmp_path, capsys):
    set_dir, runs = make_set(tmp_path)
    json_path = tmp_path / "set.json"
    assert cli_main(["evaluate", "--set", str(set_dir), "--runs", str(runs), "--json", str(json_path)]) == 0
    out = capsys.readouterr().out
    for words in ("render_a", "real_b", "mean", "worst", "SET TARGETS", "1 rendered, 1 labelled"):
        assert words in out, words
    report = json.loads(json_path.read_text())
    rows = {r["clip"]: r for r in report["rows"]}
    assert rows["render_a"]["knee_mae"] == pytest.approx(0) and rows["render_a"]["reps_missed"] == 0
    assert rows["real_b"]["reps_missed"] == 1 and rows["real_b"]["depth_calls_wrong"] == 1
    status = {t["name"]: t["status"] for t in report["targets"]}
    assert status["knee MAE, mean"] == "PASS" and status["reps missed"] == "FAIL"
    assert status["depth calls wrong (labels)"] == "FAIL"


def test_set_targets_combine_clips_as_stated():
    side = {"kind": "render", "side_view": True, "reps_true": 10, "reps_missed": 0, "reps_invented": 0,
            "view_wrong": 0, "found_share": 0.97, "knee_mae": 3.0, "knee_mae_at_depth": 5.0, "hip_mae": 4.0,
            "trunk_lean_mae": 3.0}
    rows = [{**side, "hip_below_knee_right": 10, "femur_to_torso_error_pct": 5.0},
            {**side, "hip_below_knee_right": 9, "femur_to_torso_error_pct": -12.0, "knee_mae": 5.2}]
    status = {t["name"]: (t["value"], t["status"]) for t in set_targets(rows)}
    assert status["knee MAE, mean"] == (pytest.approx(4.1), "FAIL")
    assert status["hip below knee right, share of reps"] == (pytest.approx(0.95), "PASS")
    assert status["femur/torso within 8 %, share of clips"] == (pytest.approx(0.5), "FAIL")
    assert status["bottom time (labels), worst"][1] == "no clip"


def test_a_set_with_no_clip_or_both_forms_ends_with_a_one_line_error(tmp_path, capsys):
    assert cli_main(["evaluate", "--set", str(tmp_path)]) == 2
    assert "holds no clip folder" in capsys.readouterr().err
    assert cli_main(["evaluate", "--set", str(tmp_path), str(tmp_path), str(tmp_path)]) == 2
    assert "not both" in capsys.readouterr().err
    assert cli_main(["evaluate"]) == 2
    assert "--set DIR" in capsys.readouterr().err
