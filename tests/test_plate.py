"""The barbell plate as shoulder proxy and scale: found on rendered frames, chosen on the lifter."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from synth_truth import truth_keypoints

from squat.io.video import iter_frames, probe
from squat.measure.kinematics import compute_kinematics, shoulders_from_bar
from squat.measure.plate import (
    bar_centre,
    choose_plate,
    find_circles,
    pixels_per_metre,
    pixels_per_metre_at_bar,
    refine_circle,
    search_region,
    search_scale,
)
from squat.pose.estimator import load_estimator
from squat.reading import plate_in_scout
from squat.settings import PlateSettings, Settings
from squat.skeleton import J
from squat.track.framing import scout_clip

SHORT = Path(__file__).parent / "data" / "synth_side_short"
SIDE_CLIPS = ("side_bar_good", "side_bar_longfemur", "side_faults")


def test_isoluminant_plate_is_found_by_colour():
    """A cyan disc on a grey wall of the same brightness: invisible in grey, found in Lab."""
    wall = np.full((360, 640, 3), 129, np.uint8)
    cyan = np.array([200, 170, 20], np.uint8)  # BGR, luma 129, as the wall
    assert int(cv2.cvtColor(cyan[None, None], cv2.COLOR_BGR2GRAY)[0, 0]) == 129
    cv2.circle(wall, (400, 150), 60, tuple(int(c) for c in cyan), -1, cv2.LINE_AA)
    circles = find_circles(wall, 1.0, lifter_height_px=300)
    best = circles[np.argmax(circles[:, 3])]
    assert np.hypot(best[0] - 400, best[1] - 150) < 2 and abs(best[2] - 60) < 3
    assert best[3] > 0.9


def test_the_search_stays_near_the_people_found():
    """Only the frame around someone's keypoints is searched, and circles come back in frame pixels."""
    wall = np.full((540, 960, 3), 90, np.uint8)
    cv2.circle(wall, (300, 200), 50, (30, 30, 220), -1, cv2.LINE_AA)  # a plate near the lifter
    cv2.circle(wall, (880, 450), 50, (220, 30, 30), -1, cv2.LINE_AA)  # one on a rack far away
    person = np.full((1, 18, 3), np.nan, np.float32)
    person[0, :3] = [[300, 250, 0.9], [310, 300, 0.9], [320, 400, 0.8]]
    region = search_region(person, lifter_height_px=200, frame_size=(540, 960))
    assert region == (100, 50, 520, 540)  # keypoints ± one lifter height, clipped to the frame
    circles = find_circles(wall, 1.0, 200, region=region)
    best = circles[np.argmax(circles[:, 3])]
    assert np.hypot(best[0] - 300, best[1] - 200) < 2 and abs(best[2] - 50) < 3
    assert not (np.hypot(circles[:, 0] - 880, circles[:, 1] - 450) < 20).any()
    assert search_region(np.full((1, 18, 3), np.nan), 200, (540, 960)) is None  # nobody: whole frame
    assert len(find_circles(wall, 1.0, 200, region=(0, 0, 4, 540))) == 0


def _disc(centre: tuple[float, float], radius: float, size=(360, 480)) -> np.ndarray:
    """A red plate on a grey wall at a centre and radius between pixels, each pixel's colour mixed by
    how much of it the disc covers (8 × 8 samples; pixel (i, j) spans i ± 0.5, j ± 0.5)."""
    sub = (np.arange(8) + 0.5) / 8 - 0.5
    ys, xs = np.arange(size[0])[:, None] + sub[None], np.arange(size[1])[:, None] + sub[None]
    inside = (xs[None, None, :, :] - centre[0]) ** 2 + (ys[:, :, None, None] - centre[1]) ** 2 <= radius ** 2
    cover = inside.mean(axis=(1, 3))[..., None]
    return np.rint(cover * np.array([40, 40, 200]) + (1 - cover) * 90).astype(np.uint8)


def test_a_rough_circle_is_refined_onto_the_rim_to_a_tenth_of_a_pixel():
    """The Hough circle is found at a third of the frame's size: a pixel or two off. On the full frame
    the rim puts it back, where the plate was drawn between pixels."""
    for centre, radius in (((401.3, 150.7), 60.4), ((250.55, 300.2), 33.8)):
        wall = _disc(centre, radius)
        x, y, r = refine_circle(wall, np.array([centre[0] + 1.8, centre[1] - 1.2, radius * 0.93]))
        assert abs(x - centre[0]) < 0.1 and abs(y - centre[1]) < 0.1 and r == pytest.approx(radius * 0.93)
    # with a hand over a quarter of the rim, the fit leaves the hand out
    wall = _disc((401.3, 150.7), 60.4)
    wall[150:230, 380:470] = (60, 90, 120)
    x, y, _ = refine_circle(wall, np.array([402.5, 149.9, 58.0]))
    assert abs(x - 401.3) < 0.3 and abs(y - 150.7) < 0.3
    # no rim there at all (a flat wall): the rough circle is kept, not moved onto noise
    flat = np.full((360, 480, 3), 90, np.uint8)
    assert refine_circle(flat, np.array([400.0, 150.0, 60.0])) == pytest.approx([400.0, 150.0, 60.0])


def test_plate_of_the_short_render_is_tracked_within_a_few_pixels():
    truth = pd.read_csv(SHORT / "truth.csv")
    _, keypoints, _ = truth_keypoints("side_bar_good")
    keypoints = keypoints[: len(truth)] * 0.5  # the short clip is the first frames, halved
    height = 270.0  # the lifter in the 960×540 clip, px
    scale = search_scale(height)
    with iter_frames(SHORT / "clip.mp4") as reader:
        candidates = [find_circles(f.image, scale, height) for f in reader]
    plate = choose_plate(candidates, keypoints, truth["time_s"].to_numpy())
    error = np.hypot(plate[:, 0] - truth["plate_x"], plate[:, 1] - truth["plate_y"])
    assert np.isfinite(error).all()
    assert np.median(error) < 3 and error.max() < 8  # px of a 540-line frame
    # 45 cm plate → the scale: the plate face is nearer the camera than the lifter, so it reads large
    femur_m = 0.406  # keypoint femur of this body (truth.json), ~85 px here
    femur_px = np.median(np.hypot(*(keypoints[:, J["r_hip"], :2] - keypoints[:, J["r_knee"], :2]).T))
    assert 0.95 < pixels_per_metre(plate) / (femur_px / femur_m) < 1.35
    # Undoing the parallax gives the scale at the lifter's midline: the camera's focal length over
    # its distance to the midline (world x = 0, t_z of truth.json's camera).
    camera = json.loads((SHORT / "truth.json").read_text())["camera"]
    at_midline = camera["fx"] / camera["t_world_to_cam"][2]
    assert pixels_per_metre_at_bar(plate, (540, 960)) == pytest.approx(at_midline, rel=0.04)


def _candidates(frames: int, *rows) -> list[np.ndarray]:
    return [np.array(rows, np.float32).reshape(-1, 4) for _ in range(frames)]


def test_a_ball_on_the_floor_is_not_the_plate():
    _, keypoints, _ = truth_keypoints("oblique45_bw")
    hip = np.nanmean(keypoints[:, [J["r_hip"], J["l_hip"]], :2], axis=1).mean(axis=0)
    ball = (hip[0] - 300, hip[1] + 250, 41.0, 0.97)  # the render's floor ball: small, below the hips
    plate = choose_plate(_candidates(len(keypoints), ball), keypoints, np.arange(len(keypoints)) / 30)
    assert np.isnan(plate).all()


def test_the_circle_on_the_shoulders_wins_over_a_better_one_elsewhere():
    _, keypoints, _ = truth_keypoints("side_bar_good")
    n = len(keypoints)
    hip = keypoints[:, J["r_hip"], :2]
    circles = [np.array([[x - 20, y - 250, 118.0, 0.8],  # on the shoulders
                         [x + 700, y - 250, 118.0, 1.0]],  # a plate on a rack, far from the lifter
                        np.float32) for x, y in hip]
    plate = choose_plate(circles, keypoints, np.arange(n) / 30)
    assert np.allclose(plate[:, 0], hip[:, 0] - 20, atol=1.0)


def test_a_plate_seen_in_too_few_frames_is_no_plate():
    _, keypoints, _ = truth_keypoints("side_bar_good")
    n = len(keypoints)
    hip = keypoints[:, J["r_hip"], :2].mean(axis=0)
    circles = [np.zeros((0, 4), np.float32)] * n
    for f in range(0, n, 10):  # 10% of frames
        circles[f] = np.array([[hip[0], hip[1] - 250, 118.0, 0.9]], np.float32)
    assert np.isnan(choose_plate(circles, keypoints, np.arange(n) / 30)).all()
    assert choose_plate(circles, keypoints, np.arange(n) / 30, PlateSettings(min_share=0.05))[::10].size


def test_the_plate_is_followed_where_the_lifter_is_lost_behind_it():
    """The network loses the lifter for 1.5 s at the bottom (two plates a side hide the trunk): the
    plate's circle, seen all along, is followed by size and reach; a same-size circle on a rack
    2 m away is not taken, and with no reach nothing is followed."""
    _, keypoints, _ = truth_keypoints("side_bar_good")
    t = np.arange(len(keypoints)) / 30
    hip = keypoints[:, J["r_hip"], :2]
    circles = [np.array([[x - 20, y - 250, 118.0, 0.8], [x + 700, y - 250, 118.0, 1.0]], np.float32) for x, y in hip]
    lost = keypoints.copy()
    hidden = slice(60, 105)  # 1.5 s: longer than PlateSettings.hip_gap_s
    lost[hidden] = np.nan
    plate = choose_plate(circles, lost, t)
    assert np.isfinite(plate[:, 0]).all()
    assert np.allclose(plate[hidden, 1], hip[hidden, 1] - 250, atol=3.0)  # the shoulders' circle, not the rack's
    no_reach = choose_plate(circles, lost, t, PlateSettings(max_speed_ms=0.0, radius_tolerance=0.0))
    assert np.isnan(no_reach[hidden.start + 10 : hidden.stop - 10, 0]).all()  # beyond the 0.25 s gap filling


def test_shoulders_from_bar_turns_the_hip_bar_line_forward():
    base = np.array([[0.0, 0.0]])
    bar = np.array([[0.0, -100.0]])  # straight above
    ahead = shoulders_from_bar(bar, base, facing=1, behind_deg=10.0)
    assert ahead[0, 0] == pytest.approx(100 * np.sin(np.radians(10)))
    assert ahead[0, 1] == pytest.approx(-100 * np.cos(np.radians(10)))
    assert shoulders_from_bar(bar, base, facing=-1, behind_deg=10.0)[0, 0] == pytest.approx(-ahead[0, 0])


@pytest.mark.parametrize("clip", SIDE_CLIPS)
def test_plate_gives_the_trunk_when_the_shoulders_are_hidden(clip):
    """Truth keypoints with neck and shoulders hidden (as under a plate) + the truth plate centre:
    trunk lean and hip angle still match the truth's image angles."""
    table, keypoints, _ = truth_keypoints(clip)
    hidden = keypoints.copy()
    hidden[:, [J["neck"], J["r_shoulder"], J["l_shoulder"]], :] = np.nan
    bar = table[["plate_x", "plate_y"]].to_numpy()
    kin = compute_kinematics(hidden, table["time_s"].to_numpy(), bar=bar).frames
    lean_error = np.abs(kin["trunk_lean"] - table["trunk_lean_2d"])
    hip_error = np.abs(kin["hip_angle"] - table["hip_angle_2d"])
    assert lean_error.mean() < 1.5 and lean_error.max() < 5
    assert hip_error.mean() < 2.5 and hip_error.max() < 7
    assert (kin["bar_midfoot"].abs() < 0.25 * np.nanmedian(kin["hip_moment_arm"] / kin["hip_moment_arm_femur"])).all()


def test_bar_centre_undoes_the_plate_face_parallax():
    """The rendered camera (f = 0.77 × width) and bar: the face-to-middle correction brings the
    detected plate centre to within a few pixels of the true bar middle."""
    table, _, info = truth_keypoints("side_bar_good")
    plate = np.column_stack([table["plate_x"], table["plate_y"], np.full(len(table), 118.0)])
    bar = bar_centre(plate, (info["height"], info["width"]))
    before = np.hypot(table["plate_x"] - table["bar_x"], table["plate_y"] - table["bar_y"])
    after = np.hypot(bar[:, 0] - table["bar_x"], bar[:, 1] - table["bar_y"])
    assert before.mean() > 35 and after.mean() < 10  # what is left: the camera tilts 1.7° down


def test_the_scout_tells_a_barbell_set_from_a_bodyweight_one():
    """The plate is looked for in the scout's frames first: with none on the lifter's shoulders
    in any of them, the full pass searches no frame (a bodyweight set costs no plate search)."""
    settings = Settings()
    clip = SHORT / "clip.mp4"
    estimator = load_estimator(settings.pose)
    scouted = scout_clip(clip, probe(clip), estimator, settings.tracking)
    assert scouted.box is not None and len(scouted.images) == len(scouted.lifter) > 0
    height = estimator.settings.person_height_px / scouted.box.scale
    assert plate_in_scout(scouted, height, settings.plate)
    plain = replace(scouted, images=tuple(np.full_like(im, 128) for im in scouted.images))  # no plate anywhere
    assert not plate_in_scout(plain, height, settings.plate)
