"""Still frames: a read between two that show everyone still is their mean, not a network pass."""
from dataclasses import replace
from pathlib import Path

import numpy as np

from squat.io.video import probe
from squat.pipeline import load_estimator, measure
from squat.pose.detections import Detections
from squat.reading import read_clip, scout
from squat.settings import Settings
from squat.skeleton import N_JOINTS
from squat.track.still import between, match_people, still_match

RENDER = Path(__file__).parent / "data" / "synth_new" / "portrait_bw_5deg"  # stands 0.6 s, one rep, stands


def people(*offsets: float, missing: tuple[int, ...] = ()) -> Detections:
    """One standing person per offset (x shift in pixels), joints on a vertical line."""
    keypoints = np.zeros((len(offsets), N_JOINTS, 3), np.float32)
    keypoints[..., 0] = np.array(offsets, np.float32)[:, None] + 100
    keypoints[..., 1] = np.arange(N_JOINTS) * 10
    keypoints[..., 2] = 0.8
    keypoints[:, list(missing)] = np.nan
    return Detections(keypoints, np.full(len(offsets), 20.0, np.float32))


def test_still_means_the_same_people_with_the_same_joints_within_the_tolerance():
    assert still_match(people(0, 300), people(1.5, 299), tolerance_px=2) is not None
    assert still_match(people(0, 300), people(299, 1.5), tolerance_px=2) is not None  # found in another order
    assert still_match(people(0, 300), people(5, 300), tolerance_px=2) is None  # someone moved
    assert still_match(people(0), people(0, 300), tolerance_px=2) is None  # someone walked in
    assert still_match(people(0), people(0, missing=(9,)), tolerance_px=2) is None  # a knee lost
    assert still_match(people(0, missing=(9,)), people(1, missing=(9,)), tolerance_px=2) is not None
    assert still_match(Detections.empty(), Detections.empty(), tolerance_px=2) is not None  # nobody, nobody


def test_the_read_between_is_the_weighted_mean_of_the_same_person():
    before, after = people(0, 300), people(302, 2)
    np.testing.assert_array_equal(match_people(before.keypoints, after.keypoints), [1, 0])
    mid = between(before, after, 0.25)
    np.testing.assert_allclose(mid.keypoints[:, 0, 0], [100.5, 400.5])
    np.testing.assert_allclose(mid.keypoints[..., 2], 0.8)


def test_a_pass_skipping_still_reads_finds_what_the_full_pass_finds():
    settings = Settings()
    estimator = load_estimator(settings.pose)
    looked = scout(RENDER / "clip.mp4", probe(RENDER / "clip.mp4"), settings, estimator)
    full = read_clip(RENDER / "clip.mp4", replace(settings, pose=replace(settings.pose, still_within=0.0)),
                     None, estimator, looked)
    fast = read_clip(RENDER / "clip.mp4", settings, None, estimator, looked)
    assert settings.pose.still_within > 0 and full.still_reads == 0
    # the same frames have people, a fifth of them taken from their neighbours (it stands still
    # for 0.6 s at each end)
    assert len(fast.detections) == len(full.detections) and (fast.network_frames == full.network_frames).all()
    assert 0.1 * len(full.detections) <= fast.still_reads <= 0.5 * len(full.detections)
    tolerance = settings.pose.still_within * estimator.settings.person_height_px / looked.box.scale
    changed = [k for k, (a, b) in enumerate(zip(full.detections, fast.detections))
               if not np.array_equal(a.keypoints, b.keypoints, equal_nan=True)]
    assert len(changed) == fast.still_reads and all(k % 2 for k in changed)  # every other read, no other
    for k in changed:
        order = match_people(full.detections[k].keypoints, fast.detections[k].keypoints)
        gap = np.linalg.norm(full.detections[k].keypoints[..., :2] - fast.detections[k].keypoints[order][..., :2],
                             axis=-1)
        assert np.nanmax(gap) <= tolerance
    a, b = measure(full, settings), measure(fast, settings)
    knee = "knee_angle"
    gap = np.abs(a.frames[knee] - b.frames[knee]).dropna()
    assert gap.median() < 0.5 and gap.max() < 3
    assert len(a.reps) == len(b.reps) == 1
    assert abs(a.reps["depth_knee_angle"].iloc[0] - b.reps["depth_knee_angle"].iloc[0]) < 1
