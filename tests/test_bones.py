"""The hip in the hole from bone lengths: a hip misread up the back is put back where the bones say."""
from __future__ import annotations

import numpy as np
import pytest
from synth_truth import truth_keypoints

from squat.measure.bones import bone_steadiness, circle_meet, hips_from_bones, length_cv
from squat.measure.kinematics import compute_kinematics, trunk_line_hip
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
    # bones model leaves to the pose model's high standing hip (on real model output, see
    # test_evaluate's short render); with the truth's exact standing hip ~7° remain.
    assert np.abs(fixed["knee_angle"] - truth)[deep].mean() < 8.5
    # The trunk is drawn from the misread hip: it rode up along the trunk line, so the lean holds.
    assert np.abs(fixed["trunk_lean"] - table["trunk_lean_2d"])[deep].mean() < 2
    # Standing frames keep the model's hip (to a pixel: above 160° the blend barely starts).
    standing = (table["knee_angle_2d"] > 162).to_numpy()
    assert np.abs(fixed_kp[standing, J["r_hip"]] - misread[standing, J["r_hip"]]).max() < 1.0


def test_a_hip_slid_down_the_thigh_is_found_deep_and_the_trunk_leaves_it():
    """A forward-leaning rep: in the hole the model's hip lands above the thigh, near the knee
    (the small model on the rendered forward-lean rep: ~90 px forward and 80 px up of a 145 px
    femur). The knee angle on it reads shallow, so the depth is judged on the bone-length hip,
    and the trunk line starts there rather than near the knee."""
    table, keypoints, _ = truth_keypoints("side_faults")
    bar = table[["bar_x", "bar_y"]].to_numpy()
    time_s = table["time_s"].to_numpy()
    deep = (table["knee_angle_2d"] < 80).to_numpy()
    misread = keypoints.copy()
    knee = keypoints[:, J["r_knee"], :2]
    femur = np.hypot(*(keypoints[deep, J["r_hip"], :2] - knee[deep]).T)
    for j in (J["r_hip"], J["l_hip"]):
        misread[deep, j, :2] += 0.6 * (knee[deep] - keypoints[deep, j, :2])
        misread[deep, j, 1] -= 0.5 * femur
    model_hip = misread[:, [J["r_hip"], J["l_hip"]], :2].mean(axis=1)
    slid = compute_kinematics(misread, time_s, bar=bar).frames
    fixed = compute_kinematics(hips_from_bones(misread, bar), time_s, bar=bar, trunk_hip=model_hip).frames
    for angle in ("knee_angle", "trunk_lean"):
        truth = table[f"{angle}_2d"]
        assert np.abs(slid[angle] - truth)[deep].mean() > 9, angle
        assert np.abs(fixed[angle] - truth)[deep].mean() < 0.5 * np.abs(slid[angle] - truth)[deep].mean(), angle


def test_trunk_line_hip_moves_from_the_model_hip_to_the_bone_hip_as_it_nears_the_knee():
    knee = np.zeros((4, 2))
    bone = np.tile([[-100.0, 0.0]], (4, 1))
    model = np.array([[-80.0, -60.0], [-80.0, 0.0], [-70.0, 0.0], [np.nan, np.nan]])  # 1.0, 0.8, 0.7 femur away
    line = trunk_line_hip(model, bone, knee, (0.85, 0.7))
    assert line[0] == pytest.approx(model[0]) and line[2] == pytest.approx(bone[2])
    assert line[1] == pytest.approx(model[1] + (0.05 / 0.15) * (bone[1] - model[1]))
    assert np.isnan(line[3]).all()


def test_no_bar_or_switched_off_leaves_the_hips_alone():
    table, keypoints, _ = truth_keypoints("side_bar_good")
    bar = table[["bar_x", "bar_y"]].to_numpy()
    assert np.array_equal(hips_from_bones(keypoints, np.full_like(bar, np.nan)), keypoints)
    off = KinematicsSettings(hip_from_bones=False)
    assert np.array_equal(hips_from_bones(keypoints, bar, off), keypoints)


def test_a_models_measured_hip_bias_in_the_hole_is_taken_back_and_only_there():
    """hips_back_at_depth: both hips move back (against the facing) and down by the registry's
    (ahead, above) × femur at depth, not at all standing, half way at the blend's middle."""
    from squat.measure.body import measure_body
    from squat.measure.bones import hips_back_at_depth
    from squat.measure.points import body_points, joint_angles

    table, keypoints, _ = truth_keypoints("side_bar_good")
    body = measure_body(keypoints, KinematicsSettings())
    moved = hips_back_at_depth(keypoints, body, (0.10, 0.04))
    knee = joint_angles(body_points(keypoints, body.side))["knee_angle"]
    shift = moved[:, [J["r_hip"], J["l_hip"]], :2] - keypoints[:, [J["r_hip"], J["l_hip"]], :2]
    femur = body.proportions.femur_px
    deep, standing = knee < 120, knee > 160
    assert deep.any() and standing.any()
    np.testing.assert_allclose(shift[deep], np.broadcast_to([-body.facing * 0.10 * femur, 0.04 * femur],
                                                            shift[deep].shape), atol=1e-3)
    assert np.abs(shift[standing]).max() == 0
    middle = np.abs(knee - 140) < 1
    np.testing.assert_allclose(shift[middle, 0, 1], 0.04 * femur * (160 - knee[middle]) / 40, atol=1e-3)
    others = [j for j in range(keypoints.shape[1]) if j not in (J["r_hip"], J["l_hip"])]
    np.testing.assert_array_equal(moved[:, others], keypoints[:, others])
    np.testing.assert_array_equal(hips_back_at_depth(keypoints, body, (0.0, 0.0)), keypoints)


def test_a_kept_pass_carries_the_models_hip_bias_and_an_older_one_takes_the_registrys(tmp_path):
    import json

    from squat import passes
    from squat.io.video import VideoInfo
    from squat.pose.detections import Detections
    from squat.pose.weights import load_registry

    video = VideoInfo(path=tmp_path / "clip.mp4", codec="h264", container="mp4", width=64, height=48, rotation=0,
                      fps=30.0, frame_count=1, duration_s=1 / 30, has_audio=False)
    nobody = Detections(np.zeros((0, 18, 3), np.float32), np.zeros(0, np.float32))
    track = passes.PoseTrack(video=video, time_s=np.zeros(1), detections=(nobody,), circles=None, framing=None,
                             model_name="mobilenet_thin_squat", model_sha256="x", device="cpu",
                             hip_bias_at_depth_femur=(0.2, 0.05), toe_short_shin=0.3)
    path = passes.save(track, tmp_path / "p.npz")
    assert passes.load(path).hip_bias_at_depth_femur == (0.2, 0.05) and passes.load(path).toe_short_shin == 0.3
    with np.load(path) as data:  # as a pass kept before the bias was recorded
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"]))
    del meta["hip_bias_at_depth_femur"], meta["toe_short_shin"]
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "old.npz", **arrays)
    registry = tuple(load_registry()["mobilenet_thin_squat"].hip_bias_at_depth_femur)
    assert passes.load(tmp_path / "old.npz").hip_bias_at_depth_femur == registry == (0.10, 0.04)
    assert passes.load(tmp_path / "old.npz").toe_short_shin == 0.10


def test_the_bias_tool_reads_back_offsets_put_on_the_truth():
    """tools/model_biases.py's measures: a hip moved 0.1 femur ahead and 0.04 above in the hole, a
    toe 0.1 shin behind, read so."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
    from model_biases import hip_offset, toe_short

    from squat.eval.rendered import femur_length_px

    table, keypoints, meta = truth_keypoints("side_bar_good")
    side = meta["camera_side_leg"]
    femur = femur_length_px(table, side)
    biased = keypoints.copy()
    biased[:, J[f"{side}_hip"], :2] += [0.10 * femur, -0.04 * femur]  # facing +x: ahead is +x, above is -y
    ahead, above, frames = hip_offset(biased, 1, table, side, 100.0)
    assert frames > 0 and ahead == pytest.approx(0.10, abs=1e-4) and above == pytest.approx(0.04, abs=1e-4)
    toe_x = table[f"{side}_toe_x"].to_numpy(float) - 0.1 * 200.0  # facing +x: behind is -x
    assert toe_short(toe_x, 1, table, side, 200.0) == pytest.approx(0.1)


def test_the_hip_in_the_hole_comes_from_the_bones_with_a_bar_else_from_the_models_bias():
    from squat.measure.body import measure_body
    from squat.measure.bones import hips_back_at_depth, hips_in_the_hole, uses_bones

    table, keypoints, _ = truth_keypoints("side_bar_good")
    bar = table[["bar_x", "bar_y"]].to_numpy()
    body = measure_body(keypoints, KinematicsSettings())
    nobar = np.full_like(bar, np.nan)
    assert uses_bones(bar, KinematicsSettings()) and not uses_bones(nobar, KinematicsSettings())
    assert not uses_bones(bar, KinematicsSettings(hip_from_bones=False))  # a model flagged off
    np.testing.assert_array_equal(hips_in_the_hole(keypoints, bar, body, (0.1, 0.04)),
                                  hips_from_bones(keypoints, bar, KinematicsSettings(), body))
    np.testing.assert_array_equal(hips_in_the_hole(keypoints, nobar, body, (0.1, 0.04)),
                                  hips_back_at_depth(keypoints, body, (0.1, 0.04)))


def test_bones_that_keep_their_length_are_steady_and_a_knee_sliding_along_the_thigh_is_not():
    frames = 40
    bend = np.linspace(0, 1.2, frames)  # the thigh swings forward on a 100 px femur, the shin stays upright
    hip = np.zeros((frames, 2))
    knee = hip + 100 * np.column_stack([np.sin(bend), np.cos(bend)])
    ankle = knee + [0.0, 120.0]
    keypoints = np.full((frames, 18, 3), np.nan, np.float32)
    for name, xy in (("l_hip", hip), ("l_knee", knee), ("l_ankle", ankle)):
        keypoints[:, J[name], :2] = xy
    assert length_cv(ankle, knee) == (pytest.approx(0, abs=1e-6), frames)
    assert bone_steadiness(keypoints, "left") == pytest.approx(0, abs=1e-6)
    slid = keypoints.copy()
    slid[::2, J["l_knee"], :2] = hip[::2] + 0.6 * (knee[::2] - hip[::2])  # every other knee read along the thigh
    assert bone_steadiness(slid, "left") > 0.2
    keypoints[:5, J["l_knee"]] = np.nan  # a knee not found: those frames do not count
    assert length_cv(keypoints[:, J["l_ankle"], :2], keypoints[:, J["l_knee"], :2])[1] == frames - 5
    assert np.isnan(bone_steadiness(keypoints, "right"))  # that leg never seen
