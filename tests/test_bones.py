"""The hip in the hole from bone lengths: a hip misread up the back is put back where the bones say."""
from __future__ import annotations

import numpy as np
import pytest
from synth_truth import truth_keypoints

from squat.bones import circle_meet, hips_from_bones
from squat.kinematics import compute_kinematics
from squat.settings import KinematicsSettings
from squat.skeleton import J

SIDE_CLIPS = ("side_bar_good", "side_bar_longfemur", "side_faults")


def test_circle_meet_picks_the_point_behind():
    c1, c2 = np.array([[0.0, 0.0]]), np.array([[6.0, 0.0]])
    r = np.array([5.0])
    assert circle_meet(c1, r, c2, r, behind=1)[0] == pytest.approx([3.0, 4.0]) or \
        circle_meet(c1, r, c2, r, behind=1)[0] == pytest.approx([3.0, -4.0])
    # behind = smaller x·facing: vertical chord, so use circles one above the other
    c2 = np.array([[0.0, -6.0]])
    assert circle_meet(c1, r, c2, r, behind=1)[0] == pytest.approx([-4.0, -3.0])
    assert circle_meet(c1, r, c2, r, behind=-1)[0] == pytest.approx([4.0, -3.0])
    assert np.isnan(circle_meet(c1, np.array([1.0]), c2, np.array([1.0]), behind=1)).all()


@pytest.mark.parametrize("clip", SIDE_CLIPS)
def test_a_hip_riding_up_the_back_is_brought_back_down(clip):
    """Truth skeleton with the hip slid 25 % of the way up the back toward the bar at depth (what
    the pose model does): the bone-length hip restores the knee angle in the hole."""
    table, keypoints, _ = truth_keypoints(clip)
    bar = table[["bar_x", "bar_y"]].to_numpy()
    time_s = table["time_s"].to_numpy()
    deep = (table["knee_angle_2d"] < 110).to_numpy()
    misread = keypoints.copy()
    for j in (J["r_hip"], J["l_hip"]):
        misread[deep, j, :2] += 0.25 * (bar[deep] - keypoints[deep, j, :2])
    model_hip = misread[:, [J["r_hip"], J["l_hip"]], :2].mean(axis=1)
    wrong = compute_kinematics(misread, time_s).frames["knee_angle"]
    fixed_kp = hips_from_bones(misread, bar)
    fixed = compute_kinematics(fixed_kp, time_s, bar=bar, trunk_hip=model_hip).frames
    truth = table["knee_angle_2d"]
    assert np.abs(wrong - truth)[deep].mean() > 10
    # Not exact: the truth's hip → bar shortens ~8 % in the hole (the pelvis tucks), which the
    # bones model, with the standing trunk length, does not know.
    assert np.abs(fixed["knee_angle"] - truth)[deep].mean() < 6
    # The trunk is drawn from the misread hip: it rode up along the trunk line, so the lean holds.
    assert np.abs(fixed["trunk_lean"] - table["trunk_lean_2d"])[deep].mean() < 2
    # Standing frames keep the model's hip.
    standing = (table["knee_angle_2d"] > 155).to_numpy()
    assert np.allclose(fixed_kp[standing, J["r_hip"]], misread[standing, J["r_hip"]])


def test_no_bar_or_switched_off_leaves_the_hips_alone():
    table, keypoints, _ = truth_keypoints("side_bar_good")
    bar = table[["bar_x", "bar_y"]].to_numpy()
    assert np.array_equal(hips_from_bones(keypoints, np.full_like(bar, np.nan)), keypoints)
    off = KinematicsSettings(hip_from_bones=False)
    assert np.array_equal(hips_from_bones(keypoints, bar, off), keypoints)
