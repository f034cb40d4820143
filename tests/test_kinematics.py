"""Kinematics: angles, moment arms, proportions, side/facing/view on skeletons with known answers."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import squat_skeleton
from synth_truth import truth_keypoints

from squat.measure.body import detect_side, facing_direction, with_side
from squat.measure.kinematics import check_view, compute_kinematics, midfoot_x
from squat.measure.points import ANGLES, body_points, joint_angles
from squat.pose.weights import load_registry
from squat.settings import KinematicsSettings
from squat.skeleton import J

SIDE_CLIPS = ("side_bar_good", "side_bar_longfemur", "side_faults")
ALL_CLIPS = SIDE_CLIPS + ("oblique45_bw",)


def ramp_squat(n: int = 61) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standing → 120° knee flexion → standing: shin, flexion, lean in degrees."""
    flex = 120.0 * np.sin(np.linspace(0, np.pi, n)) ** 2
    return 0.25 * flex, flex, 0.3 * flex


@pytest.mark.parametrize("facing", [1, -1])
def test_angles_of_a_built_skeleton_are_exact(facing: int) -> None:
    shin, flex, lean = ramp_squat()
    kp = squat_skeleton(shin, flex, lean, facing=facing)
    kin = compute_kinematics(kp, np.arange(len(flex)) / 30)
    f = kin.frames
    assert kin.facing == facing
    np.testing.assert_allclose(f["knee_angle"], 180 - flex, atol=1e-3)
    np.testing.assert_allclose(f["hip_angle"], 180 - (flex - shin) - lean, atol=1e-3)
    np.testing.assert_allclose(f["shin_angle"], shin, atol=1e-3)
    np.testing.assert_allclose(f["trunk_lean"], lean, atol=1e-3)


def test_shin_behind_the_ankle_reads_negative() -> None:
    kp = squat_skeleton(np.full(5, -4.0), np.full(5, 30.0), np.full(5, 10.0))
    angles = joint_angles(body_points(kp, "right"), facing=1)
    np.testing.assert_allclose(angles["shin_angle"], -4.0, atol=1e-3)


def test_angle_table_is_data_and_one_call_computes_all() -> None:
    shin, flex, lean = ramp_squat(11)
    angles = joint_angles(body_points(squat_skeleton(shin, flex, lean), "right"))
    assert set(angles) == set(ANGLES)
    assert all(a.shape == (11,) for a in angles.values())


@pytest.mark.parametrize("facing", [1, -1])
def test_moment_arms_are_horizontal_distances_to_the_midfoot(facing: int) -> None:
    shin_len, femur_len = 180.0, 170.0
    shin, flex, lean = ramp_squat()
    kp = squat_skeleton(shin, flex, lean, femur=femur_len, shin=shin_len, facing=facing)
    settings = KinematicsSettings(midfoot_fraction=0.2)
    kin = compute_kinematics(kp, np.arange(len(flex)) / 30, settings)
    mid = 900.0 + facing * 0.2 * shin_len  # ankle x + fraction × standing shin toward the toes
    np.testing.assert_allclose(kin.frames["midfoot_x"], mid, atol=1e-3)
    np.testing.assert_allclose(kin.frames["hip_moment_arm"], np.abs(kp[:, J["r_hip"], 0] - mid), atol=1e-3)
    np.testing.assert_allclose(kin.frames["knee_moment_arm"], np.abs(kp[:, J["r_knee"], 0] - mid), atol=1e-3)
    np.testing.assert_allclose(kin.frames["hip_moment_arm_femur"], kin.frames["hip_moment_arm"] / femur_len, rtol=1e-6)
    # At the bottom (flexion 120°, shin 30° forward, thigh horizontal) the hip sits a femur behind
    # the knee, which is 180·sin30° ahead of the ankle: 170 − 90 = 80 px behind it, +36 to the midfoot.
    bottom = int(np.argmax(flex))
    assert kin.frames["hip_moment_arm"][bottom] == pytest.approx(femur_len - shin_len * 0.5 + 0.2 * shin_len, abs=1e-3)


def test_midfoot_uses_heel_and_toe_when_given_and_falls_back_per_frame() -> None:
    ankle = np.array([900.0, 900.0, 900.0])
    heel = np.array([[880.0, 910.0], [np.nan, np.nan], [882.0, 910.0]])
    toe = np.array([[1000.0, 915.0], [1000.0, 915.0], [998.0, 915.0]])
    mid = midfoot_x(ankle, facing=1, shin_px=180.0, fraction=0.19, heel=heel, toe=toe)
    np.testing.assert_allclose(mid, [940.0, 900.0 + 0.19 * 180.0, 940.0])
    np.testing.assert_allclose(midfoot_x(ankle, -1, 180.0, 0.19), 900.0 - 0.19 * 180.0)
    # a model whose toe reads 0.1 shin short: its toe is moved forward by that, the midfoot by half
    np.testing.assert_allclose(midfoot_x(ankle, 1, 180.0, 0.19, heel, toe, toe_short=0.1), mid + [9.0, 0.0, 9.0])


def test_the_midfoot_line_of_planted_feet_holds_still_and_follows_a_step() -> None:
    from squat.measure.kinematics import planted

    t = np.arange(300) / 30.0
    rng = np.random.default_rng(1)
    reads = 500.0 + rng.normal(0, 6, len(t))  # an ankle read a few pixels off, frame to frame
    reads[200:] += 80.0  # the lifter steps forward at 6.7 s
    reads[[50, 51, 120]] = np.nan  # frames with no ankle
    line = planted(reads, t, 3.0)
    assert np.nanstd(line[60:150] - 500.0) < 1.5 and np.isnan(line[[50, 51, 120]]).all()
    assert abs(np.nanmedian(line[260:]) - 580.0) < 2.0  # after the step, within half a window
    np.testing.assert_array_equal(planted(reads, t, 0.0), reads)


def test_midfoot_fraction_matches_the_truth_midfoot_within_3_px() -> None:
    for clip in SIDE_CLIPS:
        table, kp, _ = truth_keypoints(clip)
        kin = compute_kinematics(kp, table["time_s"].to_numpy())
        err = np.abs(kin.frames["midfoot_x"] - table["midfoot_x"])
        assert err.max() < 3.0, clip  # ~1 px typical on a 181 px shin


def test_hip_angle_falls_back_from_shoulder_to_neck_to_far_shoulder() -> None:
    shin, flex, lean = ramp_squat(21)
    kp = squat_skeleton(shin, flex, lean)
    expected = 180 - (flex - shin) - lean
    kp[:7, J["r_shoulder"], :2] = np.nan  # plate hides the near shoulder: neck
    kp[7:14, [J["r_shoulder"], J["neck"]], :2] = np.nan  # and the neck: far shoulder
    kin = compute_kinematics(kp, np.arange(21) / 30)
    np.testing.assert_allclose(kin.frames["hip_angle"], expected, atol=1e-3)
    np.testing.assert_allclose(kin.frames["trunk_lean"], lean, atol=1e-3)


def test_missing_points_give_nan_only_where_they_are_needed() -> None:
    shin, flex, lean = ramp_squat(21)
    kp = squat_skeleton(shin, flex, lean)
    kp[3, [J["neck"], J["r_shoulder"], J["l_shoulder"]], :2] = np.nan  # whole trunk top hidden
    kp[5, J["r_ankle"], :2] = np.nan
    kp[8] = np.nan  # lifter lost for a frame
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarnings from all-NaN slices either
        f = compute_kinematics(kp, np.arange(21) / 30).frames
    assert np.isnan(f["trunk_lean"][3]) and np.isnan(f["hip_angle"][3])
    assert f["knee_angle"][3] == pytest.approx(180 - flex[3], abs=1e-3)
    assert np.isnan(f["knee_angle"][5]) and np.isnan(f["shin_angle"][5]) and np.isnan(f["hip_moment_arm"][5])
    assert f["hip_angle"][5] == pytest.approx(180 - (flex[5] - shin[5]) - lean[5], abs=1e-3)
    assert f.iloc[8].drop("time_s").isna().all()


def test_all_missing_clip_does_not_crash() -> None:
    kp = np.full((10, 18, 3), np.nan, np.float32)
    kin = compute_kinematics(kp, np.arange(10) / 30)
    assert len(kin.frames) == 10 and kin.frames["knee_angle"].isna().all()
    assert np.isnan(kin.proportions.femur_px)


def test_input_shapes_are_checked() -> None:
    with pytest.raises(ValueError):
        compute_kinematics(np.zeros((5, 17, 3)), np.arange(5))
    with pytest.raises(ValueError):
        compute_kinematics(np.zeros((5, 18, 3)), np.arange(4))


def test_side_is_the_leg_seen_more_surely() -> None:
    shin, flex, lean = ramp_squat()
    kp = squat_skeleton(shin, flex, lean)
    kp[:, [J["r_hip"], J["r_knee"], J["r_ankle"]], 2] = 0.6  # right leg less sure (0.6 vs 0.9)
    assert detect_side(kp) == "left"
    kp[::2, [J["l_hip"], J["l_knee"], J["l_ankle"]], :] = np.nan  # left missing half the time: 0.45
    assert detect_side(kp) == "right"


def test_side_tie_goes_to_the_longer_looking_leg_and_settings_override() -> None:
    shin, flex, lean = ramp_squat()
    near = squat_skeleton(shin, flex, lean, femur=170, shin=180)
    far = squat_skeleton(shin, flex, lean, femur=150, shin=160)  # further from the camera
    kp = near.copy()
    for name in ("hip", "knee", "ankle"):
        kp[:, J[f"r_{name}"]] = far[:, J[f"r_{name}"]]
    assert detect_side(kp) == "left"
    kin = compute_kinematics(kp, np.arange(len(flex)) / 30, KinematicsSettings(side="right"))
    assert kin.side == "right"
    assert kin.proportions.femur_px == pytest.approx(150, abs=1e-3)
    # Resolved once for every step that follows; a side the user chose is kept.
    assert with_side(kp, KinematicsSettings()).side == "left"
    assert with_side(kp, KinematicsSettings(side="right")).side == "right"


def test_off_side_on_the_longer_looking_leg_is_the_near_one_however_sure_the_network_is() -> None:
    """Filmed 30-60° off the front both legs are in plain view: the network may be surer of the
    far one (the default read two fresh oblique renders that way). Where the hips read apart (the
    far hip seen), the near leg is the one perspective makes longer; side-on, the surer one."""
    shin, flex, lean = ramp_squat()
    near = squat_skeleton(shin, flex, lean, femur=170, shin=180)
    far = squat_skeleton(shin, flex, lean, femur=155, shin=165)
    kp = near.copy()
    for name in ("hip", "knee", "ankle"):
        kp[:, J[f"l_{name}"]] = far[:, J[f"l_{name}"]]
    kp[:, [J["r_hip"], J["r_knee"], J["r_ankle"]], 2] = 0.7  # the near (right) leg read less surely
    assert detect_side(kp) == "left"  # hips on top of each other: a side view, the surer leg
    apart = kp.copy()
    apart[:, [J["l_hip"], J["l_knee"], J["l_ankle"]], 0] += 0.4 * 170  # the far hip seen 0.4 femur away
    assert detect_side(apart) == "right"
    assert detect_side(apart, hips_apart=np.inf) == "left"  # confidence alone


def test_truth_clips_are_filmed_from_the_lifters_right_facing_right() -> None:
    for clip in ALL_CLIPS:
        table, kp, meta = truth_keypoints(clip)
        assert meta["camera_side_leg"] == "r"
        assert detect_side(kp) == "right", clip
        assert facing_direction(kp, "right") == 1, clip  # toes point to +x in these renders
        assert facing_direction(kp[:, :, :] * [-1, 1, 1], "right") == -1, clip  # mirrored clip


def test_proportions_come_from_standing_frames() -> None:
    shin, flex, lean = ramp_squat(61)
    kp = squat_skeleton(shin, flex, lean, femur=160, shin=176, torso=220)
    kp[:, J["r_shoulder"], :2] = np.nan  # only the neck: torso falls back to it
    kin = compute_kinematics(kp, np.arange(61) / 30)
    p = kin.proportions
    assert (p.femur_px, p.shin_px, p.torso_px) == pytest.approx((160, 176, 220), abs=1e-3)
    assert p.femur_to_torso == pytest.approx(160 / 220) and p.shin_to_femur == pytest.approx(176 / 160)
    assert p.torso_to == "neck"
    assert p.standing_frames == int(np.sum(180 - flex > 160))


def test_truth_angles_and_moment_arms_match_the_keypoint_truth() -> None:
    for clip in ALL_CLIPS:
        table, kp, _ = truth_keypoints(clip)
        f = compute_kinematics(kp, table["time_s"].to_numpy()).frames
        for ours, theirs in (("knee_angle", "knee_angle_2d"), ("hip_angle", "hip_angle_2d"),
                             ("shin_angle", "shin_angle_2d"), ("trunk_lean", "trunk_lean_2d")):
            assert np.abs(f[ours] - table[theirs]).max() < 0.05, (clip, ours)  # truth rounded to 0.01
        if clip in SIDE_CLIPS:  # moment arms only mean something side-on; midfoot is estimated
            assert np.abs(f["hip_moment_arm"] - table["hip_moment_arm_px"]).max() < 3.0, clip
            assert np.abs(f["knee_moment_arm"] - table["knee_moment_arm_px"]).max() < 3.0, clip


def test_truth_proportions_match_the_keypoint_body_and_long_femurs_show() -> None:
    props = {}
    for clip in SIDE_CLIPS:
        table, kp, meta = truth_keypoints(clip)
        props[clip] = compute_kinematics(kp, table["time_s"].to_numpy()).proportions
        truth = meta["body"]["segment_lengths_detail"]["keypoints"]
        assert props[clip].torso_to == "shoulder"
        assert props[clip].femur_to_torso == pytest.approx(truth["femur_to_torso"], rel=0.02), clip
        assert props[clip].shin_to_femur == pytest.approx(truth["shin_to_femur"], rel=0.04), clip
    assert props["side_bar_longfemur"].femur_to_torso > props["side_bar_good"].femur_to_torso + 0.1


def test_with_the_bar_seen_standing_the_torso_comes_from_it_where_the_plate_hides_the_shoulders() -> None:
    for clip in SIDE_CLIPS:
        table, kp, meta = truth_keypoints(clip)
        bar = table[["bar_x", "bar_y"]].to_numpy()
        kp[:, [J["neck"], J["r_shoulder"], J["l_shoulder"]], :2] = np.nan  # the plate in the way
        p = compute_kinematics(kp, table["time_s"].to_numpy(), bar=bar).proportions
        truth = meta["body"]["segment_lengths_detail"]["keypoints"]
        assert p.torso_to == "bar"
        assert p.femur_to_torso == pytest.approx(truth["femur_to_torso"], rel=0.03), clip
        # Seen in too few standing frames, the bar is not trusted: back to the keypoints (none here).
        few = np.where((np.arange(len(bar)) % 3 == 0)[:, None], bar, np.nan)
        assert compute_kinematics(kp, table["time_s"].to_numpy(), bar=few).proportions.torso_to == "none"


def test_a_model_that_sees_the_shoulder_behind_the_plate_measures_the_torso_to_it() -> None:
    # The squat-trained model's registry entry says torso_from_bar: false; the bar is then ignored.
    table, kp, meta = truth_keypoints(SIDE_CLIPS[0])
    bar = table[["bar_x", "bar_y"]].to_numpy()
    p = compute_kinematics(kp, table["time_s"].to_numpy(), KinematicsSettings(torso_from_bar=False), bar=bar).proportions
    assert p.torso_to == "shoulder"
    truth = meta["body"]["segment_lengths_detail"]["keypoints"]
    assert p.femur_to_torso == pytest.approx(truth["femur_to_torso"], rel=0.03)
    models = load_registry()
    assert not models["mobilenet_thin_squat"].torso_from_bar and models["mobilenet_thin"].torso_from_bar
    # Its trunk line too (lean, hip angle): a bar read 40 px off moves nothing, as it does the COCO way.
    time_s, off = table["time_s"].to_numpy(), bar + [40.0, 0.0]
    own = compute_kinematics(kp, time_s, KinematicsSettings(torso_from_bar=False), bar=off).frames
    for name in ("trunk_lean", "hip_angle"):
        np.testing.assert_allclose(own[name], compute_kinematics(kp, time_s).frames[name])
    assert np.nanmean(np.abs(own["trunk_lean"] - table["trunk_lean_2d"])) < 1.0
    assert np.nanmean(np.abs(compute_kinematics(kp, time_s, bar=off).frames["trunk_lean"] - own["trunk_lean"])) > 3


def test_a_model_that_puts_hip_and_knee_high_reads_the_torso_true_once_its_bias_is_given() -> None:
    """The small model's standing hip and knee sit ~0.16 femur above the COCO points (registry
    hip_high_femur): the femur keeps its length, the torso up to the bar reads short by that much."""
    for clip in SIDE_CLIPS:
        table, kp, meta = truth_keypoints(clip)
        bar = table[["bar_x", "bar_y"]].to_numpy()
        truth = meta["body"]["segment_lengths_detail"]["keypoints"]
        femur = compute_kinematics(kp, table["time_s"].to_numpy()).proportions.femur_px
        kp[:, [J["neck"], J["r_shoulder"], J["l_shoulder"]], :2] = np.nan
        kp[:, [J["r_hip"], J["l_hip"], J["r_knee"], J["l_knee"]], 1] -= 0.16 * femur
        high = compute_kinematics(kp, table["time_s"].to_numpy(), bar=bar).proportions
        told = compute_kinematics(kp, table["time_s"].to_numpy(), bar=bar, hip_high_femur=0.16).proportions
        assert high.femur_to_torso > 1.1 * truth["femur_to_torso"], clip
        assert told.femur_to_torso == pytest.approx(truth["femur_to_torso"], rel=0.03), clip
        assert told.femur_px == pytest.approx(femur, rel=0.01) and told.hip_high_femur == 0.16


def hide_like_a_pose_model(kp: np.ndarray, seed: int = 0) -> np.ndarray:
    """NaN the far leg in half the frames and neck/shoulders (plate) in about half, in runs."""
    rng = np.random.default_rng(seed)
    kp = kp.copy()
    n = len(kp)
    kp[np.ix_(rng.random(n) < 0.5, [J["l_hip"], J["l_knee"], J["l_ankle"]])] = np.nan
    plate = np.zeros(n, bool)
    for start in rng.integers(0, n, 12):
        plate[start : start + 20] = True
    kp[np.ix_(plate, [J["neck"], J["r_shoulder"], J["l_shoulder"]])] = np.nan
    return kp


@pytest.mark.parametrize("dropout", [False, True])
def test_view_check_tells_side_clips_from_the_45_degree_one(dropout: bool) -> None:
    settings = KinematicsSettings()
    for clip in ALL_CLIPS:
        table, kp, _ = truth_keypoints(clip)
        if dropout:
            kp = hide_like_a_pose_model(kp)
        kin = compute_kinematics(kp, table["time_s"].to_numpy(), settings)
        if clip in SIDE_CLIPS:
            assert kin.view.view == "side" and kin.view.warning == "", clip
            assert kin.view.hip_width_femur < settings.side_view_max_hip_width / 2
            assert kin.view.thigh_in_plane > settings.side_view_min_thigh + 0.15
        else:
            assert kin.view.view == "oblique", clip
            assert kin.view.hip_width_femur > settings.side_view_max_hip_width + 0.1
            assert kin.view.thigh_in_plane < settings.side_view_min_thigh - 0.1
            assert "knee and hip angles" in kin.view.warning and "moment arms" in kin.view.warning


def test_view_check_works_from_the_near_leg_alone_and_says_front_for_square_hips() -> None:
    table, kp, _ = truth_keypoints("oblique45_bw")
    kin = compute_kinematics(kp, table["time_s"].to_numpy())
    lone = kp.copy()
    lone[:, [J["l_hip"], J["l_knee"], J["l_ankle"]]] = np.nan  # far leg never seen
    view = check_view(lone, "right", kin.proportions.femur_px, KinematicsSettings())
    assert view.view == "oblique" and np.isnan(view.hip_width_femur)
    front = kp.copy()
    front[:, J["l_hip"], 0] = front[:, J["r_hip"], 0] + 0.6 * kin.proportions.femur_px
    assert check_view(front, "right", kin.proportions.femur_px, KinematicsSettings()).view == "front"


def test_a_thigh_moving_in_the_image_plane_keeps_a_side_view_whose_far_hip_reads_wide() -> None:
    """Filmed close, or with the far hip hidden and guessed, the hips can read 0.2-0.3 × femur
    apart side-on; the thigh swinging in the image plane still shows the camera is side-on.
    The 45° render's thigh does not swing in the plane: its wide hips still read oblique."""
    settings = KinematicsSettings()
    for clip, expected in (("side_bar_good", "side"), ("oblique45_bw", "oblique")):
        table, kp, _ = truth_keypoints(clip)
        kin = compute_kinematics(kp, table["time_s"].to_numpy())
        wide = kp.copy()
        wide[:, J["l_hip"], 0] = wide[:, J["r_hip"], 0] + 0.25 * kin.proportions.femur_px
        view = check_view(wide, "right", kin.proportions.femur_px, settings)
        assert view.view == expected, clip
        assert 0.2 < view.hip_width_femur < 0.3
    table, kp, _ = truth_keypoints("side_bar_good")
    kin = compute_kinematics(kp, table["time_s"].to_numpy())
    wider = kp.copy()
    wider[:, J["l_hip"], 0] = wider[:, J["r_hip"], 0] + 0.35 * kin.proportions.femur_px
    assert check_view(wider, "right", kin.proportions.femur_px, settings).view == "oblique"


def test_a_model_that_sees_the_far_hip_calls_hips_wider_than_15_degrees_oblique_even_with_the_thigh_in_plane() -> None:
    """The squat-trained model reads the hips 0.01-0.08 × femur apart side-on: no allowance for a
    guessed far hip, so hips 0.24 apart (a real goblet clip ~45° off read so) are not side-on."""
    table, kp, _ = truth_keypoints("side_bar_good")
    kin = compute_kinematics(kp, table["time_s"].to_numpy())
    femur = kin.proportions.femur_px
    seen = KinematicsSettings(far_hip_guessed=False)
    for width, guessed, own in ((0.24, "side", "oblique"), (0.12, "side", "side")):
        wide = kp.copy()
        wide[:, J["l_hip"], 0] = wide[:, J["r_hip"], 0] + width * femur
        assert check_view(wide, "right", femur, KinematicsSettings()).view == guessed
        assert check_view(wide, "right", femur, seen).view == own
    models = load_registry()
    assert not models["mobilenet_thin_squat"].far_hip_guessed and models["mobilenet_thin"].far_hip_guessed


def test_side_from_feet_reads_the_near_leg_from_where_the_toes_point():
    from squat.measure.body import side_from_feet

    feet = np.full((10, 4, 3), np.nan)
    feet[:, 0, :2], feet[:, 1, :2] = (100, 300), (130, 305)  # r heel → toe: image-right
    feet[:, 2, :2], feet[:, 3, :2] = (104, 298), (133, 302)
    assert side_from_feet(feet) == "right"  # a lifter facing image-right is filmed from their right
    feet[..., 0] *= -1
    assert side_from_feet(feet) == "left"
    feet[:, 1, :2], feet[:, 3, :2] = feet[:, 0, :2] + (3, 20), feet[:, 2, :2] + (3, 20)  # toes at the camera
    assert side_from_feet(feet) is None
    assert side_from_feet(np.full((10, 4, 3), np.nan)) is None  # no feet seen


def test_a_nose_seen_in_a_few_frames_does_not_outvote_the_knees():
    """A nose read in a tenth of the frames (the rest behind a plate), far behind the neck, against
    knees forward in every deep frame: the lifter faces where the knees go (rendered s1007)."""
    shin, flex, lean = ramp_squat()
    kp = squat_skeleton(shin, flex, lean)
    kp[:, [J["nose"], J["r_ear"]], :2] = np.nan
    few = np.arange(0, len(kp), 10)
    kp[few, J["nose"], :2] = kp[few, J["neck"], :2] - [600.0, 0.0]
    assert facing_direction(kp, "right") == 1
    kp[:, J["nose"], :2] = kp[:, J["neck"], :2] - [600.0, 0.0]  # seen in every frame, it wins
    assert facing_direction(kp, "right") == -1


def test_toes_that_point_against_the_knees_give_way_to_the_body_facing():
    """Feet cut off by the frame (a close-up) are read pointing anywhere: where the toes say the
    lifter faces left while the knees go forward to the right, the near leg is the right one."""
    shin, flex, lean = ramp_squat()
    kp = squat_skeleton(shin, flex, lean)
    assert facing_direction(kp, "right") == 1
    feet = np.full((len(kp), 4, 3), np.nan)
    feet[:, 0, :2], feet[:, 1, :2] = (100, 300), (130, 305)  # heel → toe image-right
    feet[:, 2, :2], feet[:, 3, :2] = (104, 298), (133, 302)
    assert with_side(kp, KinematicsSettings(), feet).side == "right"
    feet[..., 0] *= -1  # the toes now point left, against the knees
    assert with_side(kp, KinematicsSettings(), feet).side == "right"
    assert with_side(kp[:, :, :] * [-1, 1, 1], KinematicsSettings(), feet).side == "left"  # mirrored body agrees


def test_the_body_is_decided_once_and_kinematics_measure_with_it():
    """measure_body: the leg, facing, proportions and the trunk line, which the kinematics then use."""
    from squat.measure.body import measure_body

    shin, flex, lean = ramp_squat()
    kp = squat_skeleton(shin, flex, lean, facing=-1)
    body = measure_body(kp, KinematicsSettings(side="left"))
    assert (body.side, body.facing, body.trunk_line) == ("left", -1, "model")  # no bar: the model's neck
    assert body.proportions.femur_px == pytest.approx(170.0, abs=0.01)
    kin = compute_kinematics(kp, np.arange(len(flex)) / 30, KinematicsSettings(side="left"), body=body)
    assert kin.body is body and kin.side == "left" and kin.proportions is body.proportions
    bar = kp[:, J["neck"], :2].astype(float)
    assert measure_body(kp, KinematicsSettings(), bar=bar).trunk_line == "bar"
    assert measure_body(kp, KinematicsSettings(torso_from_bar=False), bar=bar).trunk_line == "model"
