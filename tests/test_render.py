"""Video overlay drawing: pixels where they belong, sizes that scale, NaN that draws nothing."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from squat.draw.band import MIN_STRIP, ChartStrip, strip_size
from squat.draw.overlay import (
    PALETTE,
    annotate_frame,
    bar_trail,
    blend_heatmap,
    chart_size,
    draw_angles,
    draw_midfoot_line,
    draw_moment_arms,
    draw_skeleton,
    heatmap_panel,
    stack_chart,
)
from squat.skeleton import J

BACKGROUND = (90, 90, 90)


def blank(width: int = 1920, height: int = 1080) -> np.ndarray:
    return np.full((height, width, 3), BACKGROUND, np.uint8)


def squat_pose(width: int = 1920, height: int = 1080) -> np.ndarray:
    """Side view at parallel, right leg to camera, laid out on a 1080p grid and scaled.

    The right thigh is horizontal (hip (700, 700) → knee (1000, 700)) and the right upper arm
    vertical, so line widths can be measured along one pixel column or row. The left leg is far
    off to the left so it never overlaps the right one.
    """
    s = height / 1080
    dx = (width - 1920 * s) / 2
    points = {
        "neck": (905, 380), "r_shoulder": (900, 420), "r_hip": (700, 700), "r_knee": (1000, 700),
        "r_ankle": (900, 950), "r_elbow": (1300, 420), "r_wrist": (1300, 560), "nose": (960, 330),
        "l_shoulder": (880, 430), "l_hip": (300, 700), "l_knee": (400, 500), "l_ankle": (300, 950),
    }
    kp = np.full((18, 3), np.nan, np.float32)
    for name, (x, y) in points.items():
        kp[J[name]] = (x * s + dx, y * s, 0.9)
    return kp


def squat_row(**overrides: float) -> pd.Series:
    row = {"frame": 10, "time_s": 1.0, "knee_angle": 63.0, "hip_angle": 70.0, "trunk_lean": 42.0,
           "midfoot_x": 900.0, "hip_moment_arm_femur": 0.67, "knee_moment_arm_femur": 0.33, "rep": 1}
    row.update(overrides)
    return pd.Series(row)


def close_to(pixels: np.ndarray, colour: tuple[int, int, int], tol: int = 12) -> np.ndarray:
    return np.all(np.abs(pixels.astype(int) - np.array(colour)) <= tol, axis=-1)


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.any(a != b, axis=-1)


# ---------------------------------------------------------------- skeleton


def test_skeleton_returns_new_image_and_leaves_input_untouched():
    image = blank()
    before = image.copy()
    out = draw_skeleton(image, squat_pose(), "right")
    assert out is not image
    assert np.array_equal(image, before)
    assert changed(out, image).any()


def test_camera_side_chain_is_drawn_in_chain_colour_along_the_thigh():
    out = draw_skeleton(blank(), squat_pose(), "right")
    thigh = out[700, 760:940]  # the horizontal right thigh, away from the joint dots
    assert close_to(thigh, PALETTE.chain).all()


def test_camera_side_chain_is_much_bolder_than_the_faint_limbs():
    image = blank()
    out = draw_skeleton(image, squat_pose(), "right")
    chain_width = changed(out[600:800, 850], image[600:800, 850]).sum()  # across the horizontal thigh
    arm_width = changed(out[490, 1250:1350], image[490, 1250:1350]).sum()  # across the vertical forearm
    assert arm_width >= 1
    assert chain_width >= 3 * arm_width


def test_faint_limbs_are_blended_not_opaque():
    out = draw_skeleton(blank(), squat_pose(), "right")
    centre = out[490, 1300].astype(int)  # middle of the vertical faint forearm
    assert (centre > np.array(BACKGROUND)).all()
    assert (centre < np.array(PALETTE.limb)).all()


def test_side_picks_which_leg_is_bold():
    image = blank()
    kp = squat_pose()
    right = draw_skeleton(image, kp, "right")
    left = draw_skeleton(image, kp, "left")
    assert close_to(right[700, 850], PALETTE.chain)
    assert not close_to(left[700, 850], PALETTE.chain)  # right thigh is faint when the left leg faces us
    width_left_thigh = changed(left[700, 300:420], image[700, 300:420]).sum()
    width_left_thigh_faint = changed(right[700, 300:420], image[700, 300:420]).sum()
    assert width_left_thigh > width_left_thigh_faint


def test_missing_knee_draws_neither_thigh_nor_shin_and_does_not_crash():
    image = blank()
    kp = squat_pose()
    kp[J["r_knee"]] = np.nan
    out = draw_skeleton(image, kp, "right")
    assert not changed(out[650:750, 800:900], image[650:750, 800:900]).any()  # thigh region
    assert not changed(out[800:850, 930:980], image[800:850, 930:980]).any()  # shin region
    assert changed(out, image).any()  # the trunk is still drawn


def test_all_missing_keypoints_give_an_unchanged_copy():
    image = blank()
    out = draw_skeleton(image, np.full((18, 3), np.nan, np.float32), "left")
    assert out is not image and np.array_equal(out, image)


def test_line_thickness_scales_with_frame_size():
    small_img, big_img = blank(960, 540), blank(3840, 2160)
    small = draw_skeleton(small_img, squat_pose(960, 540), "right")
    big = draw_skeleton(big_img, squat_pose(3840, 2160), "right")
    # Count the line's core pixels across the horizontal thigh (y = 700 × scale, x = 850 × scale).
    small_width = close_to(small[300:400, 425], PALETTE.chain, 40).sum()
    big_width = close_to(big[1200:1600, 1700], PALETTE.chain, 40).sum()
    # 4× the frame, 4× the nominal width; anti-aliasing adds ~2 px at any size, so allow less.
    assert 2.4 <= big_width / small_width <= 4.5


@pytest.mark.parametrize("bad", [np.zeros((17, 3)), np.zeros((18, 2))])
def test_wrong_keypoint_shape_is_rejected(bad):
    with pytest.raises(ValueError, match="keypoints"):
        draw_skeleton(blank(), bad, "right")


def test_unknown_side_is_rejected():
    with pytest.raises(ValueError, match="side"):
        draw_skeleton(blank(), squat_pose(), "front")


# ---------------------------------------------------------------- angles


def test_knee_and_hip_angles_are_labelled_near_their_joints_in_their_colours():
    out = draw_angles(blank(), squat_pose(), "right", squat_row())
    near_knee = out[550:850, 880:1200]
    near_hip = out[550:850, 450:800]
    assert close_to(near_knee, PALETTE.knee, 30).sum() > 50
    assert close_to(near_hip, PALETTE.hip, 30).sum() > 50


def test_knee_arc_fills_the_inside_of_the_knee_angle_only():
    image = blank()
    out = draw_angles(image, squat_pose(), "right", squat_row())
    knee = np.array([1000.0, 700.0])
    to_hip = np.array([-1.0, 0.0])
    to_ankle = np.array([-100.0, 250.0]) / np.hypot(100, 250)
    inside = knee + 30 * (to_hip + to_ankle) / np.linalg.norm(to_hip + to_ankle)
    outside = knee - 30 * (to_hip + to_ankle) / np.linalg.norm(to_hip + to_ankle)
    tinted = out[int(inside[1]), int(inside[0])].astype(int)
    assert tinted[2] > BACKGROUND[2] + 20  # red channel up: the orange wedge
    assert np.array_equal(out[int(outside[1]), int(outside[0])], image[int(outside[1]), int(outside[0])])


def test_nan_angle_draws_no_label_or_arc_for_that_joint():
    out = draw_angles(blank(), squat_pose(), "right", squat_row(knee_angle=np.nan))
    assert close_to(out, PALETTE.knee, 30).sum() == 0
    assert close_to(out, PALETTE.hip, 30).sum() > 50


def test_trunk_lean_is_labelled_in_trunk_colour():
    out = draw_angles(blank(), squat_pose(), "right", squat_row(knee_angle=np.nan, hip_angle=np.nan))
    assert close_to(out, PALETTE.trunk, 30).sum() > 50


def test_angle_labels_stay_inside_the_frame_for_joints_at_the_edge():
    kp = squat_pose()
    kp[:, 0] -= 1000  # knee at x=0, hip off-screen to the left
    out = draw_angles(blank(), kp, "right", squat_row())
    assert out.shape == (1080, 1920, 3)
    assert close_to(out[:, :200], PALETTE.knee, 30).sum() > 20


# ---------------------------------------------------------------- midfoot line and moment arms


def test_midfoot_line_is_a_dashed_vertical_in_midfoot_colour():
    out = draw_midfoot_line(blank(), 900.0)
    column = close_to(out[:1000, 900], PALETTE.midfoot, 30)
    assert 0.4 < column.mean() < 0.8  # dashed: mostly line, with gaps
    assert not close_to(out[:, 950:], PALETTE.midfoot, 30).any()


def test_nan_midfoot_draws_nothing():
    image = blank()
    assert np.array_equal(draw_midfoot_line(image, float("nan")), image)
    assert np.array_equal(draw_moment_arms(image, squat_pose(), "right", float("nan")), image)


def test_moment_arms_run_horizontally_from_hip_and_knee_to_the_midfoot_line():
    out = draw_moment_arms(blank(), squat_pose(), "right", 900.0, squat_row())
    assert close_to(out[700, 720:880], PALETTE.hip, 20).mean() > 0.9  # hip (700) → line (900)
    assert close_to(out[700, 920:985], PALETTE.knee, 20).mean() > 0.9  # knee (1000) → line (900)
    assert not close_to(out[700, 1010:1100], PALETTE.knee, 20).any()  # nothing past the knee


def test_moment_arms_are_labelled_even_without_a_table_row():
    image = blank()
    out = draw_moment_arms(image, squat_pose(), "right", 900.0)
    labels = changed(out, image) & ~np.isin(np.arange(1080), np.arange(680, 721))[:, None]
    assert labels.sum() > 200  # text boxes away from the segments' own rows


# ---------------------------------------------------------------- whole frame


@pytest.mark.parametrize("size", [(960, 540), (1920, 1080), (1080, 1920), (3840, 2160)])
def test_annotated_frame_keeps_the_input_size_and_type(size):
    w, h = size
    image = blank(w, h)
    frames = pd.DataFrame([squat_row(time_s=t, frame=i) for i, t in enumerate(np.arange(0, 4, 0.5))])
    strip = ChartStrip.for_frame(frames, w, h)
    out = annotate_frame(image, squat_pose(w, h), "right", squat_row(midfoot_x=900 * h / 1080), strip.at(1.0))
    assert out.shape == image.shape and out.dtype == np.uint8
    assert changed(out, image).any()


def test_chart_is_pasted_over_the_top_band_of_the_frame():
    image = blank()
    cw, ch = chart_size(1920, 1080)
    chart = np.zeros((ch, cw, 3), np.uint8)
    chart[:, :, 2] = 200  # solid red chart
    out = annotate_frame(image, squat_pose(), "right", None, chart)
    x0, y0 = (1920 - cw) // 2, 16
    assert (out[y0:y0 + ch, x0:x0 + cw, 2] == 200).all()
    assert np.array_equal(out[y0 + ch + 5, :200], image[y0 + ch + 5, :200])  # below the band: untouched


def test_black_chart_pixels_show_the_video_through_a_dark_panel():
    image = blank()
    cw, ch = chart_size(1920, 1080)
    out = annotate_frame(image, squat_pose(), "right", None, np.zeros((ch, cw, 3), np.uint8))
    panel = out[40, 960].astype(int)
    assert (panel > 0).all() and (panel < np.array(BACKGROUND) * 0.5).all()


def test_chart_made_for_a_bigger_frame_is_shrunk_to_fit():
    image = blank(960, 540)
    chart = np.full((600, 2000, 3), 255, np.uint8)
    out = annotate_frame(image, squat_pose(960, 540), "right", squat_row(), chart)
    assert out.shape == image.shape


def test_frame_without_any_detection_still_gets_the_chart():
    image = blank()
    cw, ch = chart_size(1920, 1080)
    chart = np.full((ch, cw, 3), 255, np.uint8)
    out = annotate_frame(image, np.full((18, 3), np.nan, np.float32), "right", squat_row(knee_angle=np.nan), chart)
    assert (out[100, 960] == 255).all()


# ---------------------------------------------------------------- heatmaps


def test_heatmap_blend_is_resized_to_the_frame_and_hot_where_the_peak_is():
    image = blank(640, 360)
    heat = np.zeros((46, 82), np.float32)
    heat[:8, :8] = 1.0  # hot top-left corner
    out = blend_heatmap(image, heat)
    assert out.shape == image.shape
    hot, cold = out[10, 10].astype(int), out[350, 630].astype(int)
    assert hot[2] > hot[0]  # red beats blue where the heat is
    assert cold[0] > cold[2]  # blue beats red where it is cold


def test_heatmap_blend_with_zero_alpha_is_the_image():
    image = np.random.default_rng(1).integers(0, 255, (101, 203, 3), np.uint8)
    assert np.array_equal(blend_heatmap(image, np.ones((10, 10)), alpha=0.0), image)


def test_heatmap_blend_ignores_nan():
    out = blend_heatmap(blank(64, 48), np.full((8, 8), np.nan))
    assert out.shape == (48, 64, 3)


def test_heatmap_panel_is_a_labelled_two_by_two_grid_in_dict_order():
    image = blank(641, 361)
    heatmaps = {}
    for name, (r, c) in {"neck": (1, 1), "hip": (1, 6), "knee": (6, 1), "ankle": (6, 6)}.items():
        heat = np.zeros((8, 8), np.float32)
        heat[r, c] = 1.0
        heatmaps[name] = heat
    out = heatmap_panel(image, heatmaps)
    th, tw = 361 // 2, 641 // 2
    assert out.shape == (2 * th, 2 * tw, 3)
    for i, (name, heat) in enumerate(heatmaps.items()):
        tile = out[(i // 2) * th:(i // 2 + 1) * th, (i % 2) * tw:(i % 2 + 1) * tw].astype(int)
        r, c = np.argwhere(heat == 1.0)[0]
        y, x = int((r + 0.5) / 8 * th), int((c + 0.5) / 8 * tw)  # centre of the hot cell in the tile
        hot = tile[y - 2:y + 3, x - 2:x + 3]
        assert (hot[..., 2] > hot[..., 0]).all(), name  # red beats blue only at this part's peak
        other = tile[th - 1 - y - 2:th - 1 - y + 3, tw - 1 - x - 2:tw - 1 - x + 3]
        assert (other[..., 0] > other[..., 2]).all(), name
        assert (tile[2:8, 2:8] < np.array(BACKGROUND)).any()  # dark label box in the corner


def test_heatmap_panel_needs_at_least_one_map():
    with pytest.raises(ValueError):
        heatmap_panel(blank(), {})


# ---------------------------------------------------------------- chart strip


def strip_frames(duration: float = 10.0, fps: float = 30.0, **columns) -> pd.DataFrame:
    t = np.arange(0, duration, 1 / fps)
    data = {"frame": np.arange(len(t)), "time_s": t, "rep": np.zeros(len(t), int)}
    for name in ("knee_angle", "hip_angle", "trunk_lean", "hip_moment_arm_femur", "knee_moment_arm_femur"):
        data[name] = np.full(len(t), np.nan)
    for name, values in columns.items():
        data[name] = values(t) if callable(values) else values
    return pd.DataFrame(data)


def cursor_x(image: np.ndarray, strip: ChartStrip) -> int:
    """Column holding the white cursor: the one with most white pixels inside the plot."""
    x0, x1 = int(strip.x_at(0)) - 2, int(strip.x_at(1e9)) + 3
    white = np.all(image[:, x0:x1] >= 240, axis=-1).sum(axis=0)
    assert white.max() > image.shape[0] // 2  # a cursor spanning most of the height exists
    return x0 + int(np.argmax(white))


@pytest.mark.parametrize("size", [(1888, 292), (944, 146), (1001, 263), (3776, 583)])
def test_chart_strip_has_exactly_the_requested_size(size):
    strip = ChartStrip(strip_frames(knee_angle=lambda t: 120 + 50 * np.cos(t)), size)
    image = strip.at(3.0)
    assert image.shape == (size[1], size[0], 3) and image.dtype == np.uint8


@pytest.mark.parametrize("frame", [(320, 180), (160, 90), (100, 56), (90, 160)])
def test_a_small_clip_still_gets_its_chart_band_stacked_above_the_frame(frame):
    """A 320×180 clip's band would be 49 px tall: it is drawn at the smallest readable size and
    fitted to the frame's width, not refused (issue 17)."""
    band = (frame[0], chart_size(*frame)[1])
    size = strip_size(band)
    assert size[0] >= MIN_STRIP[0] and size[1] >= MIN_STRIP[1]
    stacked = stack_chart(blank(*frame), ChartStrip(strip_frames(), size).at(1.0))
    assert stacked.shape[1] == frame[0] and stacked.shape[0] == frame[1] + round(size[1] * frame[0] / size[0])
    assert strip_size((1920, 292)) == (1920, 292)  # a band big enough is drawn as it is


def test_chart_strip_for_frame_fits_the_band_without_resizing():
    strip = ChartStrip.for_frame(strip_frames(), 1920, 1080)
    assert strip.size == chart_size(1920, 1080)


def test_cursor_moves_right_with_time_and_sits_where_x_at_says():
    strip = ChartStrip(strip_frames(knee_angle=lambda t: 120 + 50 * np.cos(t)), (1888, 292))
    early, late = cursor_x(strip.at(2.0), strip), cursor_x(strip.at(8.0), strip)
    assert late > early
    assert abs(early - strip.x_at(2.0)) <= 1.5 and abs(late - strip.x_at(8.0)) <= 1.5
    assert abs((late - early) - 3 * (strip.x_at(4.0) - strip.x_at(2.0))) <= 2  # linear in time


def test_cursor_does_not_leak_into_later_frames():
    strip = ChartStrip(strip_frames(knee_angle=lambda t: 120 + 50 * np.cos(t)), (1888, 292))
    first = strip.at(2.0)
    strip.at(8.0)
    assert np.array_equal(strip.at(2.0), first)


def test_nan_gap_breaks_the_line_instead_of_bridging_it():
    knee = np.where((np.arange(0, 10, 1 / 30) > 4) & (np.arange(0, 10, 1 / 30) < 6), np.nan, 100.0)
    strip = ChartStrip(strip_frames(knee_angle=knee), (1888, 292))
    chart = strip.background
    def knee_pixels(t: float) -> int:
        return int(close_to(chart[:, int(strip.x_at(t))], PALETTE.knee, 30).sum())
    assert knee_pixels(2.0) > 0 and knee_pixels(8.0) > 0
    assert knee_pixels(5.0) == 0


def test_rep_bands_are_shaded_only_during_reps():
    t = np.arange(0, 10, 1 / 30)
    strip = ChartStrip(strip_frames(rep=np.where((t >= 2) & (t < 4), 1, 0)), (1888, 292))
    chart = strip.background
    band = strip.style.band
    assert close_to(chart[:, int(strip.x_at(3.0))], band, 3).sum() > 50
    assert close_to(chart[:, int(strip.x_at(7.0))], band, 3).sum() == 0


def test_chart_strip_copes_with_missing_columns_and_a_single_frame():
    strip = ChartStrip(pd.DataFrame({"time_s": [0.0]}), (600, 150))
    assert strip.at(0.0).shape == (150, 600, 3)
    assert strip.at(5.0).shape == (150, 600, 3)  # past the end: cursor clamps


def test_chart_strip_rejects_tiny_sizes_and_tables_without_time():
    with pytest.raises(ValueError):
        ChartStrip(strip_frames(), (50, 20))
    with pytest.raises(ValueError):
        ChartStrip(pd.DataFrame({"knee_angle": [90.0]}), (600, 150))


def test_bar_trail_runs_from_the_start_of_this_rep_and_is_empty_between_reps():
    rep = np.array([0, 0, 1, 1, 1, 1, 0, 2, 2])
    plate = np.column_stack([np.arange(9.0) * 10, np.arange(9.0)])
    plate[3] = np.nan  # a frame without the plate is skipped, not a break
    assert bar_trail(plate, rep, 1).shape == (0, 2)
    np.testing.assert_array_equal(bar_trail(plate, rep, 4)[:, 0], [20, 40])
    np.testing.assert_array_equal(bar_trail(plate, rep, 8)[:, 0], [70, 80])
    assert bar_trail(plate, rep, 6).shape == (0, 2) and bar_trail(plate, rep, 99).shape == (0, 2)


def test_the_bar_path_is_drawn_in_its_colour_along_the_points_only():
    image = blank(960, 540)
    path = np.array([[600.0, 100.0], [610.0, 200.0], [605.0, 300.0]])
    out = annotate_frame(image, squat_pose(960, 540), "right", squat_row(), bar_path=path)
    plain = annotate_frame(image, squat_pose(960, 540), "right", squat_row())
    changed = np.abs(out.astype(int) - plain.astype(int)).sum(axis=2) > 0
    ys, xs = np.nonzero(changed)
    assert xs.min() > 580 and xs.max() < 630 and ys.min() > 80 and ys.max() < 320
    assert tuple(int(c) for c in out[250, 608]) == PALETTE.bar_path  # on the line between the points


def test_the_trunk_is_drawn_to_the_bar_only_where_it_was_measured_there():
    from dashboard.presenters import bar_trunk

    image = blank(960, 540)
    with_bar = squat_row(bar_x=500.0, bar_y=150.0)
    to_bar = annotate_frame(image, squat_pose(960, 540), "right", with_bar)
    own_neck = annotate_frame(image, squat_pose(960, 540), "right", with_bar, bar_trunk=False)
    no_bar = annotate_frame(image, squat_pose(960, 540), "right", squat_row())
    assert changed(to_bar, own_neck).any()
    np.testing.assert_array_equal(own_neck, no_bar)
    # A stored analysis says which (summary.json's trunk_line); one written before it said so is
    # judged by its model: the squat-trained model's trunk runs to its own neck.
    assert bar_trunk({"trunk_line": "bar", "model": {"name": "mobilenet_thin_squat"}})
    assert not bar_trunk({"trunk_line": "model", "model": {"name": "mobilenet_thin"}})
    for model, expected in (("mobilenet_thin", True), ("mobilenet_thin_squat", False)):
        assert bar_trunk({"model": {"name": model}, "settings": {"kinematics": {"torso_from_bar": True}}}) is expected
    assert not bar_trunk({"model": {"name": "mobilenet_thin"}, "settings": {"kinematics": {"torso_from_bar": False}}})
