"""Decoding synthetic OpenPose maps: Gaussian part blobs and unit-vector PAF bands built here."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from squat.pose.decode import STRIDE, People, decode, find_peaks, upsample
from squat.settings import PoseSettings
from squat.skeleton import JOINTS, LIMB_JOINTS, N_HEATMAPS, N_JOINTS, N_PAFS, PAF_CHANNELS, J

H, W = 46, 82  # stride-8 maps of a 656x368 network input
SETTINGS = PoseSettings()

# A person facing the camera, input pixels relative to the hip centre; ~280 px tall in a 368 px input.
STANDING = {
    "nose": (0, -130), "neck": (0, -100),
    "r_shoulder": (-36, -96), "r_elbow": (-46, -50), "r_wrist": (-52, -6),
    "l_shoulder": (36, -96), "l_elbow": (46, -50), "l_wrist": (52, -6),
    "r_hip": (-20, 0), "r_knee": (-22, 66), "r_ankle": (-24, 132),
    "l_hip": (20, 0), "l_knee": (22, 66), "l_ankle": (24, 132),
    "r_eye": (-9, -139), "l_eye": (9, -139), "r_ear": (-19, -133), "l_ear": (19, -133),
}


def person_at(cx: float, cy: float, rng: np.random.Generator, joints=JOINTS) -> dict[str, np.ndarray]:
    """Joint positions in input pixels, jittered so they fall at arbitrary sub-cell positions."""
    return {n: np.array([cx, cy]) + STANDING[n] + rng.uniform(-4, 4, 2) for n in joints}


def to_cells(xy) -> np.ndarray:
    """Input pixel → stride-8 cell coordinates (cell j is centred on input pixel 8j + 3.5)."""
    return (np.asarray(xy, float) - (STRIDE - 1) / 2) / STRIDE


def render(people: list[dict[str, np.ndarray]], reversed_limbs: tuple[int, ...] = (),
           sigma: float = 1.0, band: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Heatmaps (19, H, W) and PAFs (38, H, W) as the network is trained to produce them."""
    gy, gx = np.mgrid[0:H, 0:W].astype(float)
    heatmaps = np.zeros((N_HEATMAPS, H, W), np.float32)
    pafs = np.zeros((N_PAFS, H, W), np.float32)
    for person in people:
        for name, xy in person.items():
            x, y = to_cells(xy)
            blob = np.exp(-((gx - x) ** 2 + (gy - y) ** 2) / (2 * sigma**2))
            heatmaps[J[name]] = np.maximum(heatmaps[J[name]], blob)
        for k, ((ja, jb), (cx, cy)) in enumerate(zip(LIMB_JOINTS, PAF_CHANNELS)):
            if JOINTS[ja] not in person or JOINTS[jb] not in person:
                continue
            a, b = to_cells(person[JOINTS[ja]]), to_cells(person[JOINTS[jb]])
            length = np.linalg.norm(b - a)
            u = (b - a) / length * (-1 if k in reversed_limbs else 1)
            along = (gx - a[0]) * (b - a)[0] / length + (gy - a[1]) * (b - a)[1] / length
            across = np.abs((gx - a[0]) * (b - a)[1] / length - (gy - a[1]) * (b - a)[0] / length)
            inside = (along >= 0) & (along <= length) & (across <= band)
            pafs[cx][inside], pafs[cy][inside] = u
    heatmaps[-1] = 1 - heatmaps[:-1].max(axis=0)
    return heatmaps, pafs


def limb(a: str, b: str) -> int:
    return LIMB_JOINTS.index((J[a], J[b]))


def test_two_people_side_by_side_are_two_people_with_every_joint_within_1_5_px():
    rng = np.random.default_rng(1)
    truth = [person_at(180, 190, rng), person_at(470, 185, rng)]
    people = decode(*render(truth), SETTINGS)

    assert len(people) == 2
    assert people.keypoints.shape == (2, N_JOINTS, 3) and people.keypoints.dtype == np.float32
    assert list(people.n_parts) == [18, 18]
    by_x = np.argsort(np.nanmean(people.keypoints[:, :, 0], axis=1))  # left person first, like truth
    errors = []
    for found, true in zip(people.keypoints[by_x], truth):
        expected = np.array([true[n] for n in JOINTS])
        errors.append(np.linalg.norm(found[:, :2] - expected, axis=1))
        assert errors[-1].max() < 1.5, dict(zip(JOINTS, errors[-1].round(2)))  # a swapped joint is ~290 px off
        assert np.all(found[:, 2] > 0.9)  # confidence is the heatmap peak value (~1 for these blobs)
    # Sub-pixel refinement: ~0.16 px mean; whole pixels of the ×4 map alone give ~0.8 px.
    assert np.mean(errors) < 0.5


def test_lone_leg_chain_hip_knee_ankle_is_kept_as_a_person():
    # Side view at depth: the plate hides neck and shoulders, COCO-18 has no hip–hip limb.
    rng = np.random.default_rng(2)
    leg = person_at(300, 190, rng, joints=("r_hip", "r_knee", "r_ankle"))
    people = decode(*render([leg]), SETTINGS)

    assert len(people) == 1 and people.n_parts[0] == 3
    found = people.keypoints[0]
    for name in ("r_hip", "r_knee", "r_ankle"):
        assert np.linalg.norm(found[J[name], :2] - leg[name]) < 1.5
    missing = [j for j in range(N_JOINTS) if JOINTS[j] not in leg]
    assert np.isnan(found[missing]).all()


@pytest.mark.parametrize("change", [{"min_parts": 4}, {"min_person_score": 2.0}])
def test_leg_chain_is_dropped_when_settings_ask_for_more(change):
    leg = person_at(300, 190, np.random.default_rng(2), joints=("r_hip", "r_knee", "r_ankle"))
    people = decode(*render([leg]), dataclasses.replace(SETTINGS, **change))
    assert len(people) == 0


def test_limbs_whose_paf_points_the_wrong_way_are_not_connected():
    truth = person_at(300, 190, np.random.default_rng(3))
    reversed_legs = (limb("r_hip", "r_knee"), limb("r_knee", "r_ankle"))
    people = decode(*render([truth], reversed_limbs=reversed_legs), SETTINGS)

    # The knee–ankle pair alone (2 parts) makes no person, and neither joins the body.
    assert len(people) == 1 and people.n_parts[0] == 16
    assert np.isnan(people.keypoints[0, [J["r_knee"], J["r_ankle"]]]).all()
    assert not np.isnan(people.keypoints[0, J["r_hip"]]).any()


def test_neckless_arm_and_face_fragments_merge_through_the_shoulder_ear_limbs():
    # Plate over the neck: arms and face start as separate people; shoulder–ear joins them.
    rng = np.random.default_rng(4)
    upper = person_at(300, 200, rng, joints=tuple(n for n in JOINTS if n != "neck" and "hip" not in n
                                                  and "knee" not in n and "ankle" not in n))
    people = decode(*render([upper]), SETTINGS)

    assert len(people) == 1 and people.n_parts[0] == len(upper) == 11
    for name, xy in upper.items():
        assert np.linalg.norm(people.keypoints[0, J[name], :2] - xy) < 1.5, name


def test_strong_peak_that_joins_no_limb_makes_no_person_and_people_are_sorted_by_score():
    rng = np.random.default_rng(5)
    full = person_at(170, 190, rng)
    leg = person_at(460, 190, rng, joints=("l_hip", "l_knee", "l_ankle"))
    stray = {"r_wrist": np.array([600.0, 40.0])}  # no PAF leads to it
    people = decode(*render([leg, full, stray]), dataclasses.replace(SETTINGS, min_parts=1))  # not filtered out

    assert list(people.n_parts) == [18, 3]
    assert people.score[0] > people.score[1] > 0
    assert np.nanmax(people.keypoints[:, :, 0]) < 560  # the stray wrist is nowhere


def test_empty_maps_give_zero_people_with_the_right_shapes():
    people = decode(np.zeros((N_HEATMAPS, H, W), np.float32), np.zeros((N_PAFS, H, W), np.float32), SETTINGS)
    assert isinstance(people, People) and len(people) == 0
    assert people.keypoints.shape == (0, N_JOINTS, 3) and people.keypoints.dtype == np.float32
    assert people.score.shape == (0,) and people.n_parts.shape == (0,)


@pytest.mark.parametrize("factor", [1, 2, 4])
def test_blob_centred_on_cell_decodes_to_input_pixel_8j_plus_3_5(factor):
    cells = {"r_hip": (20, 10), "r_knee": (22, 18), "r_ankle": (23, 27)}  # (j, i): column, row
    leg = {n: STRIDE * np.array(c, float) + 3.5 for n, c in cells.items()}
    people = decode(*render([leg]), dataclasses.replace(SETTINGS, upsample=factor))

    assert len(people) == 1
    for name, xy in leg.items():
        np.testing.assert_allclose(people.keypoints[0, J[name], :2], xy, atol=0.05)


def test_flat_topped_peak_counts_once():
    heatmap = np.zeros((1, 10, 10), np.float32)
    heatmap[0, 4:6, 3:6] = 0.8  # a 2x3 plateau
    (peaks,) = find_peaks(heatmap, 0.1)
    assert len(peaks) == 1 and peaks[0, 2] == pytest.approx(0.8)


def test_upsample_keeps_channels_apart_and_multiplies_the_size():
    maps = np.stack([np.full((H, W), v, np.float32) for v in (0.0, 0.5, -1.0)])
    up = upsample(maps, 4)
    assert up.shape == (3, 4 * H, 4 * W)
    np.testing.assert_allclose(up.reshape(3, -1).mean(axis=1), [0.0, 0.5, -1.0], atol=1e-6)


def test_maps_of_different_sizes_are_refused():
    with pytest.raises(ValueError, match="expected heatmaps"):
        decode(np.zeros((N_HEATMAPS, H, W), np.float32), np.zeros((N_PAFS, H, W + 1), np.float32), SETTINGS)
