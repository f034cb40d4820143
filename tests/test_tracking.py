import warnings

import numpy as np
import pytest

from squat.pose.detections import Detections
from squat.series import fill_gaps
from squat.settings import TrackingSettings
from squat.skeleton import N_JOINTS, J
from squat.track.lifter import body_centre_and_size, clip_body_size, merge_fragments, select_lifter
from squat.track.smoothing import butterworth, fix_left_right_swaps, plant_feet, smooth_track

WIDTH, HEIGHT = 1280, 720


def standing_person(cx: float, feet_y: float, height: float) -> np.ndarray:
    """A rough side-on standing skeleton (18, 3) of the given pixel height, legs a little apart."""
    kp = np.full((N_JOINTS, 3), np.nan, np.float32)
    top = feet_y - height
    points = {
        "nose": (cx + 0.05, 0.06), "neck": (cx, 0.17), "r_shoulder": (cx - 0.02, 0.18), "l_shoulder": (cx + 0.02, 0.18),
        "r_hip": (cx - 0.02, 0.50), "l_hip": (cx + 0.02, 0.50), "r_knee": (cx - 0.08, 0.74),
        "l_knee": (cx + 0.08, 0.74), "r_ankle": (cx - 0.12, 1.0), "l_ankle": (cx + 0.12, 1.0),
    }
    for name, (x, y) in points.items():
        dx = (x - cx) * height if isinstance(x, float) else 0
        kp[J[name]] = (cx + dx, top + y * height, 0.9)
    return kp


def test_lifter_is_kept_when_a_bystander_walks_past():
    time_s = np.arange(60) / 30
    frames = []
    for f in range(60):
        lifter = standing_person(640, 650, 500)
        walker = standing_person(100 + 20 * f, 600, 300)  # crosses the whole frame, in front of the lifter
        order = [walker, lifter] if f % 2 else [lifter, walker]
        frames.append(Detections(np.stack(order), np.array([0.8, 0.8], np.float32)))
    track = select_lifter(frames, time_s, WIDTH, HEIGHT, TrackingSettings())
    assert np.allclose(track[:, J["neck"], 0], 640, atol=1)


def test_lifter_split_by_an_occluder_is_merged_into_one_person():
    body = standing_person(640, 650, 500)
    legs, trunk = body.copy(), body.copy()
    legs[[J["nose"], J["neck"], J["r_shoulder"], J["l_shoulder"]]] = np.nan
    trunk[[J["r_hip"], J["r_knee"], J["r_ankle"], J["l_hip"], J["l_knee"], J["l_ankle"]]] = np.nan
    merged = merge_fragments(Detections(np.stack([legs, trunk]), np.array([0.5, 0.6], np.float32)))
    assert len(merged.scores) == 1
    np.testing.assert_allclose(merged.keypoints[0], body, equal_nan=True)


def test_at_the_bottom_the_legs_and_the_head_a_plate_leaves_are_one_lifter():
    """A rendered lifter at depth (960x540): the plate hides the trunk, the network gives the camera-side
    leg and the face as two people, each too small to judge the 140 px between them by; the clip's
    whole people (standing, ~280 px) are the measure."""
    legs, head = np.full((2, N_JOINTS, 3), np.nan, np.float32)
    for name, xy in {"r_hip": (440, 370), "r_knee": (500, 380), "r_ankle": (470, 450)}.items():
        legs[J[name]] = (*xy, 0.8)
    for name, xy in {"nose": (530, 255), "r_eye": (526, 250), "r_ear": (515, 256)}.items():
        head[J[name]] = (*xy, 0.8)
    pieces = Detections(np.stack([legs, head]), np.array([1.9, 1.2], np.float32))
    assert len(merge_fragments(pieces).scores) == 2  # judged by their own sizes: two people
    standing = [Detections(standing_person(480, 470, 280)[None], np.ones(1, np.float32)) for _ in range(9)]
    body = clip_body_size(standing + [pieces])
    assert body == pytest.approx(280 * np.hypot(0.24, 0.94), rel=0.01)  # the standing skeleton's diagonal
    merged = merge_fragments(pieces, body)
    assert len(merged.scores) == 1 and np.isfinite(merged.keypoints[0, [J["r_knee"], J["nose"]], 0]).all()


def test_two_people_are_not_merged():
    a, b = standing_person(400, 650, 500), standing_person(900, 650, 500)
    merged = merge_fragments(Detections(np.stack([a, b]), np.ones(2, np.float32)))
    assert len(merged.scores) == 2


def test_left_right_swap_is_corrected():
    kp = np.stack([standing_person(640, 650, 500) for _ in range(10)])
    swapped = kp.copy()
    for f in (3, 4, 7):
        for a, b in ((J["r_knee"], J["l_knee"]), (J["r_ankle"], J["l_ankle"]), (J["r_hip"], J["l_hip"])):
            swapped[f, [a, b]] = swapped[f, [b, a]]
    np.testing.assert_allclose(fix_left_right_swaps(swapped), kp, equal_nan=True)


def test_only_short_gaps_are_filled():
    time_s = np.arange(40) / 30
    values = np.linspace(0, 39, 40)
    values[5:8] = np.nan  # 0.13 s gap: filled
    values[20:35] = np.nan  # 0.5 s gap: left alone
    filled = fill_gaps(values, time_s, max_gap=0.25)
    np.testing.assert_allclose(filled[5:8], [5, 6, 7])
    assert np.isnan(filled[20:35]).all()


def test_smoothing_removes_jitter_but_keeps_the_motion_and_the_gaps():
    rng = np.random.default_rng(0)
    time_s = np.arange(300) / 30
    kp = np.stack([standing_person(640, 650, 500) for _ in time_s])
    motion = 80 * np.sin(2 * np.pi * 0.4 * time_s)  # a 2.5 s squat cycle
    kp[:, :, 1] += motion[:, None]
    noisy = kp.copy()
    noisy[..., :2] += rng.normal(0, 4, noisy[..., :2].shape)
    noisy[100:130, J["r_knee"]] = np.nan  # 1 s hidden: must stay hidden
    smooth = smooth_track(noisy, time_s, TrackingSettings())
    assert np.isnan(smooth[100:130, J["r_knee"], 0]).all()
    valid = ~np.isnan(smooth[..., 0])
    err_before = np.abs(noisy[..., :2] - kp[..., :2])[valid].mean()
    err_after = np.abs(smooth[..., :2] - kp[..., :2])[valid].mean()
    assert err_after < 0.7 * err_before  # white noise above 6 Hz of a 15 Hz band is gone
    assert np.abs(smooth[:, J["r_hip"], 1] - kp[:, J["r_hip"], 1]).max() < 8  # the squat itself is not flattened


def test_the_butterworth_runs_twice_so_its_cutoff_halves_the_amplitude():
    # filtfilt squares the gain: filter_order 4 runs as order 8, the cut-off at -6 dB, not -3 dB.
    settings = TrackingSettings()
    time_s = np.arange(600) / 30
    wave = np.cos(2 * np.pi * settings.cutoff_hz * time_s)  # samples hit the peaks at 30 fps
    middle = slice(200, 400)  # clear of the edges
    amplitude = np.abs(butterworth(wave, time_s, settings)[middle]).max()
    assert amplitude == pytest.approx(0.5, abs=0.02)


def squatting_legs(time_s: np.ndarray, shin: float = 170.0) -> np.ndarray:
    """(F, 18, 3) side-on legs squatting every 3 s: ankles planted, knees swinging forward and down."""
    kp = np.stack([standing_person(640, 650, 500) for _ in time_s])
    bend = np.radians(50) * (1 - np.cos(2 * np.pi * time_s / 3)) / 2  # shin tilt, 0 standing
    for side in ("r", "l"):
        ankle = kp[:, J[f"{side}_ankle"], :2]
        kp[:, J[f"{side}_knee"], 0] = ankle[:, 0] + shin * np.sin(bend)
        kp[:, J[f"{side}_knee"], 1] = ankle[:, 1] - shin * np.cos(bend)
    return kp


def test_an_ankle_misread_up_the_shin_at_every_bottom_goes_back_to_where_the_foot_stands():
    # A real close-up: at every bottom the model read the ankle 80 px up the shin for ~1 s.
    time_s = np.arange(300) / 30
    truth = squatting_legs(time_s)
    seen = truth.copy()
    deep = np.abs((time_s % 3) - 1.5) < 0.5
    knee, ankle = J["r_knee"], J["r_ankle"]
    seen[deep, ankle, :2] += 0.45 * (seen[deep, knee, :2] - seen[deep, ankle, :2])
    planted = plant_feet(seen, time_s, TrackingSettings())
    assert np.abs(planted[:, ankle, :2] - truth[:, ankle, :2]).max() < 1
    np.testing.assert_array_equal(planted[:, knee], seen[:, knee])  # only the feet move


def test_a_lifter_walking_keeps_every_ankle_reading():
    time_s = np.arange(150) / 30
    walk = np.stack([standing_person(300 + 120 * t, 650, 500) for t in time_s])  # 120 px/s to the right
    np.testing.assert_array_equal(plant_feet(walk, time_s, TrackingSettings()), walk)
    assert plant_feet(walk, time_s, TrackingSettings(planted_tolerance=0)) is walk


def test_the_person_who_squats_is_the_lifter_even_when_a_bigger_walker_is_in_view():
    time_s = np.arange(90) / 30
    frames = []
    for f, t in enumerate(time_s):
        dip = 120 * np.sin(np.pi * t / 3) ** 2  # one slow squat: hips 120 px down and back up
        squatter = standing_person(900, 600, 360)
        squatter[[J["nose"], J["neck"], J["r_shoulder"], J["l_shoulder"], J["r_hip"], J["l_hip"]], 1] += dip
        walker = standing_person(200 + 2 * f, 680, 560)  # larger, closer to the camera, walking slowly
        frames.append(Detections(np.stack([walker, squatter]), np.array([0.9, 0.7], np.float32)))
    track = select_lifter(frames, time_s, WIDTH, HEIGHT, TrackingSettings())
    assert np.allclose(track[:, J["neck"], 0], 900, atol=1)


def test_framing_scales_the_frame_so_the_lifter_is_the_size_the_model_reads_best():
    from squat.settings import PoseSettings
    from squat.track.framing import frame_lifter, lifter_height
    from squat.track.lifter import Lifter

    kp = np.stack([standing_person(960, 1000, 600) for _ in range(10)])
    nose_to_ankle = 0.94 * 600
    assert lifter_height(kp) == pytest.approx(nose_to_ankle, rel=0.05)
    box = frame_lifter(Lifter(kp, 1.0, False), (1080, 1920), PoseSettings(person_height_px=120))
    assert box.scale == pytest.approx(120 / nose_to_ankle, rel=0.05)
    # A plate hides the head and trunk: the legs alone still tell the lifter's height.
    legs_only = kp.copy()
    legs_only[:, [J[n] for n in ("nose", "neck", "r_shoulder", "l_shoulder")]] = np.nan
    assert lifter_height(legs_only) == pytest.approx(nose_to_ankle, rel=0.05)
    small = frame_lifter(Lifter(kp / 10, 1.0, False), (1080, 1920), PoseSettings(person_height_px=120))
    assert max(small.width, small.height) <= PoseSettings().max_long_side  # never beyond the bound
    assert frame_lifter(Lifter(np.full_like(kp, np.nan), 0.0, False), (1080, 1920),
                        PoseSettings(person_height_px=120)) is None


def test_each_model_reads_the_lifter_at_its_own_size_unless_told():
    """The squat model was trained on lifters up to ~200 px tall and reads them best at 160
    (accuracy log §31); the COCO model at 120. A height given in the settings wins."""
    from squat.pose.estimator import with_model_framing
    from squat.settings import PoseSettings

    assert with_model_framing(PoseSettings()).person_height_px == 120
    assert with_model_framing(PoseSettings(model="mobilenet_thin_squat")).person_height_px == 160
    assert with_model_framing(PoseSettings(model="mobilenet_thin_squat", person_height_px=100)).person_height_px == 100


def test_the_scout_never_looks_at_more_frames_than_the_pass_reads():
    from dataclasses import replace

    from squat.settings import PoseSettings
    from squat.track.framing import scout_frame_count

    settings = PoseSettings()  # 24 frames, the network at 15 Hz
    assert scout_frame_count(13.0, settings) == 24  # a set: its 24 frames spread over it
    assert scout_frame_count(0.4, settings) == 6  # part of a rep: the 6 frames its pass reads
    assert scout_frame_count(1 / 30, settings) == 1  # a still
    assert scout_frame_count(float("nan"), settings) == 24  # no duration in the header: as before
    assert scout_frame_count(0.4, replace(settings, network_hz=0)) == 24  # every frame read: as before


def test_the_scout_sees_the_lifter_squat_on_a_long_set_whose_looks_are_far_apart():
    """24 looks over a 30 s set are 1.3 s apart, further than a track may go unseen in the pass:
    linked look to look, the squatter's hips dip; tracked as the pass tracks, nobody squats."""
    from squat.track.framing import sample_indices, scout_tracking
    from squat.track.lifter import find_lifter

    time_s = sample_indices(900, 24) / 30  # a 30 s set at 30 fps
    frames = [Detections(squatting_person(960, 900, 500, t, period=2.6)[None], np.array([0.8], np.float32))
              for t in time_s]
    pass_tracking = TrackingSettings()
    assert np.diff(time_s).min() > pass_tracking.max_track_gap_s
    assert not find_lifter(frames, time_s, WIDTH, HEIGHT, pass_tracking).squats
    scout = scout_tracking(list(time_s), pass_tracking)
    lifter = find_lifter(frames, time_s, WIDTH, HEIGHT, scout)
    assert lifter.squats and np.isfinite(lifter.keypoints[:, J["neck"], 0]).all()
    short = sample_indices(390, 24) / 30  # a 13 s set: its looks 0.55 s apart, tracked as before
    assert scout_tracking(list(short), pass_tracking) == pass_tracking


def squatting_person(cx: float, feet_y: float, height: float, t: float, period: float = 3.0) -> np.ndarray:
    """standing_person whose hips, shoulders and head drop by up to 0.3 × height in a squat cycle."""
    kp = standing_person(cx, feet_y, height)
    drop = 0.3 * height * 0.5 * (1 - np.cos(2 * np.pi * t / period))
    upper = [J[n] for n in ("nose", "neck", "r_shoulder", "l_shoulder", "r_hip", "l_hip")]
    kp[upper, 1] += drop
    kp[[J["r_knee"], J["l_knee"]], 0] += 0.3 * drop
    return kp


def test_a_person_crossing_in_front_of_the_lifter_never_takes_the_track():
    """The walker hides the lifter for a few frames as they cross; the detector then sees only the
    walker where the lifter was. The lifter's track has a gap there, never the walker's joints."""
    time_s = np.arange(180) / 30
    frames, walker_x = [], 100 + 7 * np.arange(180)  # crosses x = 640 around frame 77
    for f, t in enumerate(time_s):
        people = [standing_person(walker_x[f], 660, 480)]
        if abs(walker_x[f] - 640) > 40:  # hidden while the walker passes in front
            people.append(squatting_person(640, 650, 500, t))
        frames.append(Detections(np.stack(people), np.full(len(people), 0.8, np.float32)))
    track = select_lifter(frames, time_s, WIDTH, HEIGHT, TrackingSettings())
    ankle_x = track[:, J["r_ankle"], 0]
    seen = np.isfinite(ankle_x)
    assert seen.mean() > 0.9
    assert np.allclose(ankle_x[seen], 640 - 0.12 * 500, atol=1), "the track took the walker's joints"


def test_the_track_ends_when_the_lifter_leaves_and_a_newcomer_is_not_the_lifter():
    """The lifter squats, then walks out of the frame at the right; a second person walks in from
    the left afterwards and stands where the lifter stood. Their frames stay NaN."""
    time_s = np.arange(240) / 30
    frames = []
    for f, t in enumerate(time_s):
        if t < 4.0:
            people = [squatting_person(640, 650, 500, t)]
        elif t < 5.0:
            people = [standing_person(640 + 700 * (t - 4.0), 650, 500)]  # walks out to the right
        elif t < 6.0:
            people = []
        else:
            people = [standing_person(min(100 + 600 * (t - 6.0), 640), 650, 470)]  # walks in, stops
        dets = Detections(np.stack(people), np.full(len(people), 0.8, np.float32)) if people else Detections.empty()
        frames.append(dets)
    track = select_lifter(frames, time_s, WIDTH, HEIGHT, TrackingSettings())
    later = time_s >= 6.0
    assert np.isnan(track[later, :, 0]).all(), "the newcomer became the lifter"
    assert np.isfinite(track[time_s < 4.0, J["r_hip"], 0]).all()


def test_of_two_equal_people_the_one_near_the_middle_of_the_frame_is_the_lifter():
    """Centrality is measured against the frame's width, whatever the number of keypoints."""
    time_s = np.arange(30) / 30
    for edge_first in (True, False):
        people = [standing_person(1150, 650, 500), standing_person(660, 650, 500)]
        if not edge_first:
            people.reverse()
        frames = [Detections(np.stack(people), np.array([0.8, 0.8], np.float32)) for _ in time_s]
        track = select_lifter(frames, time_s, WIDTH, HEIGHT, TrackingSettings())
        assert np.allclose(track[:, J["neck"], 0], 660, atol=1)


def test_the_scout_reads_only_the_frames_a_damaged_clip_decodes(tmp_path, monkeypatch):
    """Where the decoder gives up before the frames the file's packets promise (here: any refused
    packet ends the clip), the scout looks at the frames there are instead of asking for the rest."""
    from dataclasses import replace

    from awkward_clips import CLIPS, source_frames, write

    from squat.io import seek, video
    from squat.pose.estimator import load_estimator
    from squat.settings import Settings
    from squat.track.framing import scout_clip

    (damaged,) = [c for c in CLIPS if c.name == "damaged_packets"]
    clip = write(damaged, source_frames(), tmp_path)
    monkeypatch.setattr(video, "MAX_DAMAGED_RUN", 0)
    with video.iter_frames(clip) as reader:
        decoded = sum(1 for _ in reader)
    assert decoded < seek.count_frames(clip)  # the index promises more than the decoder gives
    settings = Settings()
    # The network reading every frame, the scout asks for all 21 the packets promise.
    pose = replace(settings.pose, network_hz=0)
    scouted = scout_clip(clip, video.probe(clip), load_estimator(pose), settings.tracking)
    assert scouted.box is not None and len(scouted.images) == decoded  # every frame there is, no error


def test_a_body_centre_is_the_median_joint_and_its_size_the_box_diagonal_whatever_is_missing():
    # Tracking asks every frame; the answer is np.nanmedian's to the bit, with no warning for a
    # person of whom nothing is seen (their centre and size are NaN).
    rng = np.random.default_rng(5)
    for _ in range(200):
        people = (rng.random((int(rng.integers(1, 5)), 18, 3)) * 1000).astype(np.float32)
        people[rng.random(people.shape[:2]) < rng.random()] = np.nan
        people[0] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            centre, size = body_centre_and_size(people)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            assert np.array_equal(centre, np.nanmedian(people[..., :2], axis=1), equal_nan=True)
            span = np.nanmax(people[..., :2], axis=1) - np.nanmin(people[..., :2], axis=1)
        assert np.array_equal(size, np.hypot(span[:, 0], span[:, 1]), equal_nan=True)
        assert centre.dtype == size.dtype == np.float32 and np.isnan(centre[0]).all() and np.isnan(size[0])


def test_the_lifter_before_a_track_wanders_to_someone_behind_is_still_the_lifter():
    """side_bb_gym_greenplate read by a network trained with plates in front: under the bar the
    lifter is only legs; when the whole body shows, the network also gives the near leg on its own,
    the legs' track follows that piece and then wanders to a person behind the rack, and the whole
    lifter starts a track of its own. The first second is the lifter's all the same."""
    time_s = np.arange(120) / 30
    legs = [J[n] for n in ("r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle")]
    frames = []
    for f, t in enumerate(time_s):
        lifter = squatting_person(640, 650, 500, max(t - 1.0, 0.0))
        behind = standing_person(820, 560, 300)
        if t < 1.0:  # standing under the bar: the plate leaves the legs
            only_legs = np.full_like(lifter, np.nan)
            only_legs[legs] = lifter[legs]
            people = [only_legs]
        elif f == 30:  # the whole lifter, the near hip misplaced, and the near leg found again on its own
            whole, leg = lifter.copy(), np.full_like(lifter, np.nan)
            leg[legs[:3]] = lifter[legs[:3]]
            whole[J["r_hip"], 0] -= 200
            people = [whole, leg]
        elif 80 <= f < 86:  # the lifter missed for a moment: the person behind must not fill it
            people = [behind]
        else:
            people = [lifter, behind]
        frames.append(Detections(np.stack(people), np.full(len(people), 0.8, np.float32)))
    track = select_lifter(frames, time_s, WIDTH, HEIGHT, TrackingSettings())
    missed = (np.arange(len(time_s)) >= 80) & (np.arange(len(time_s)) < 86)
    assert np.isfinite(track[~missed, J["r_knee"], 0]).all() and np.isnan(track[missed]).all()
    assert np.allclose(track[time_s < 1.0, J["r_knee"], 0], 640 - 0.08 * 500, atol=1)
    assert not np.isclose(track[:, J["neck"], 0], 820, atol=60).any(), "the person behind took the track"
