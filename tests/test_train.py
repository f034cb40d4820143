"""The training tools (issue 18) on a tiny real set: crops from a rendered clip kept in tests/data,
targets made from its truth, and a few fine-tuning steps on them whose loss falls."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO = Path(__file__).parents[1]
sys.path.insert(0, str(REPO / "tools"))

import synth_composite  # noqa: E402
import train_data  # noqa: E402
import train_pose  # noqa: E402

from squat.pose.decode import attach_feet  # noqa: E402
from squat.pose.mobilenet_thin import MobileNetThinFeet  # noqa: E402
from squat.skeleton import FOOT, N_HEATMAPS, N_JOINTS, J  # noqa: E402

CLIP = REPO / "tests" / "data" / "synth_new" / "side_left_lowbar"


@pytest.fixture(scope="module")
def crops():
    images, points = train_data.clip_crops(CLIP, np.random.default_rng(0), every=10)
    return images, points


def test_crops_hold_the_lifter_with_its_truth(crops):
    images, points = crops
    truth = train_data.read_truth(CLIP)
    assert images.shape == (len(points), train_data.CROP, train_data.CROP, 3) and images.dtype == np.uint8
    assert points.shape == (len(images), 23, 2) and len(images) == (len(truth) + 9) // 10
    # the body lies inside its crop (an offset crop may cut a hand or a toe), framed by standing height
    inside = (points > 0) & (points < train_data.CROP)
    assert inside.all(axis=2).mean() > 0.97
    assert 0.5 * 360 < train_data.standing_height(truth) < 360  # a 640x360 clip, the lifter ~68 % tall
    ankle_to_nose = np.abs(points[0, J["nose"], 1] - points[0, J["l_ankle"], 1])
    assert 0.45 * train_data.CROP < ankle_to_nose < 0.9 * train_data.CROP  # standing: 1.05-1.6x height


def test_heatmap_targets_peak_at_the_point_and_background_fills_the_rest():
    points = np.full((22, 2), np.nan, np.float32)
    points[J["r_knee"]] = (43.5, 83.5)  # the centre of cell (5, 10)
    points[FOOT["l_toe"]] = (11.5, 11.5)
    maps = train_pose.heatmap_targets(points, 160)
    assert maps.shape == (23, 20, 20)
    assert np.unravel_index(maps[J["r_knee"]].argmax(), (20, 20)) == (10, 5)
    assert maps[J["r_knee"]].max() == pytest.approx(1.0)
    assert maps[N_HEATMAPS + 3].max() == pytest.approx(1.0)  # l_toe is the 4th foot channel
    assert maps[J["nose"]].max() == 0  # missing point: an empty map
    np.testing.assert_allclose(maps[N_JOINTS], 1 - maps[:N_JOINTS].max(axis=0))


def test_paf_targets_point_along_the_limb_near_it_only():
    points = np.full((22, 2), np.nan, np.float32)
    points[J["r_hip"]], points[J["r_knee"]] = (20.0, 80.0), (140.0, 80.0)  # a horizontal thigh
    pafs = train_pose.paf_targets(points, 160)
    limb = [(J["r_hip"], J["r_knee"])].pop()
    from squat.skeleton import LIMB_JOINTS, PAF_CHANNELS

    cx, cy = PAF_CHANNELS[LIMB_JOINTS.index(limb)]
    assert pafs[cx, 10, 10] == pytest.approx(1.0) and pafs[cy, 10, 10] == 0
    assert pafs[cx, 2, 10] == 0  # far from the thigh
    assert np.count_nonzero(pafs) == np.count_nonzero(pafs[cx])  # no other limb exists


def test_flip_mirrors_x_and_exchanges_left_and_right():
    image = np.zeros((160, 160, 3), np.uint8)
    points = np.zeros((22, 2), np.float32)
    points[J["r_ankle"]] = (10, 50)
    points[FOOT["r_heel"]] = (5, 60)
    flipped, p = train_pose.flip(image, points)
    assert tuple(p[J["l_ankle"]]) == (149, 50) and tuple(p[FOOT["l_heel"]]) == (154, 60)


def test_foot_branch_starts_at_the_ankles(crops):
    """Before training, the copied branch (one stage later) peaks where the ankle maps peak."""
    model = train_pose.student(REPO / "weights" / "mobilenet_thin.pth", None).eval()
    with torch.no_grad():
        heatmaps, _ = model(train_pose.to_input(crops[0][:1], torch.device("cpu")))
    maps = heatmaps[0].numpy()

    def peak(c):
        return np.array(np.unravel_index(maps[c].argmax(), maps[c].shape))

    for foot, ankle in ((N_HEATMAPS + 2, J["l_ankle"]), (N_HEATMAPS + 3, J["l_ankle"])):  # the near (left) leg
        assert np.abs(peak(foot) - peak(ankle)).max() <= 1


def test_a_few_steps_on_rendered_and_real_crops_lower_the_loss(crops, tmp_path):
    images, points = crops
    np.savez(tmp_path / "synth.npz", images=images, keypoints=points)
    np.savez(tmp_path / "real.npz", images=images[:4, ::-1].copy())  # stand-in people, distilled
    out = tmp_path / "feet.pth"
    args = train_pose.parser().parse_args([
        "--synth", str(tmp_path / "synth.npz"), "--real", str(tmp_path / "real.npz"), "--out", str(out),
        "--steps", "24", "--batch", "4", "--real-batch", "2", "--lr", "3e-4", "--log-every", "8",
        "--first-stage", "5"])
    result = train_pose.train(args)
    assert result["steps"] == 24
    first, last = result["first"], result["last"]
    assert last["body"] + last["pafs"] + last["feet"] < first["body"] + first["pafs"] + first["feet"]
    model = MobileNetThinFeet()
    model.load_state_dict(torch.load(out, weights_only=True))  # the saved file loads strictly


def test_attach_feet_gives_each_person_the_foot_under_their_own_ankle():
    people = np.full((2, N_JOINTS, 3), np.nan, np.float32)
    people[0, J["r_knee"]], people[0, J["r_ankle"]] = (10, 0, 1), (10, 40, 1)
    people[1, J["r_knee"]], people[1, J["r_ankle"]] = (100, 0, 1), (100, 40, 1)
    heel = np.array([[8, 46, 0.9], [98, 45, 0.5], [300, 45, 0.99]], np.float32)  # the third is nobody's
    toe = np.array([[40, 47, 0.7]], np.float32)
    empty = np.empty((0, 3), np.float32)
    out = attach_feet(people, [heel, toe, empty, empty], reach=0.9)
    assert out.shape == (2, 22, 3)
    np.testing.assert_array_equal(out[0, FOOT["r_heel"]], heel[0])
    np.testing.assert_array_equal(out[1, FOOT["r_heel"]], heel[1])
    np.testing.assert_array_equal(out[0, FOOT["r_toe"]], toe[0])  # 31 px < 0.9 × 40 px shin
    assert np.isnan(out[1, FOOT["r_toe"]]).all() and np.isnan(out[:, FOOT["l_heel"]]).all()


def test_a_composite_background_covers_the_frame_from_the_photo(tmp_path):
    # A photo smaller than the frame, in a known colour ramp: the backdrop fills the frame, at
    # a brightness within the drawn range, and the same seed draws the same backdrop.
    ramp = np.tile(np.linspace(40, 200, 64, dtype=np.uint8)[None, :, None], (48, 1, 3))
    path = tmp_path / "photo.png"
    Image.fromarray(ramp).save(path)
    one = synth_composite.background(path, (160, 90), np.random.default_rng(3))
    two = synth_composite.background(path, (160, 90), np.random.default_rng(3))
    assert one.shape == (90, 160, 3) and one.dtype == np.uint8 and np.array_equal(one, two)
    assert 40 * 0.6 - 1 <= one.min() and one.max() <= 255
    assert np.ptp(one[45].astype(int)) > 20  # the ramp is there, not a flat fill
