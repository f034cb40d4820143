"""Whole-network training (tools/train_whole.py): packs, the GPU-side augmentation and targets, and a
few steps, on crops of a rendered clip kept in tests/data (run on the CPU here)."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).parents[1]
sys.path.insert(0, str(REPO / "tools"))

import train_data  # noqa: E402
import train_pose  # noqa: E402
import train_whole  # noqa: E402

from squat.pose.mobilenet_thin import MobileNetThinFeet  # noqa: E402
from squat.skeleton import FOOT, J  # noqa: E402

CLIP = REPO / "tests" / "data" / "synth_new" / "side_left_lowbar"


@pytest.fixture(scope="module")
def packs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("packs")
    images, points = train_data.clip_crops(CLIP, np.random.default_rng(0), every=10)
    np.savez(tmp / "synth.npz", images=images, keypoints=points)
    np.savez(tmp / "real.npz", images=images[:6, ::-1].copy(), origin=np.array([0, 0, 0, 1, 1, 2], np.int16))
    train_data.pack([tmp / "synth.npz"], tmp / "synth.pack.npz", None, [])
    train_data.pack([tmp / "real.npz"], tmp / "real.pack.npz", None, [2])
    train_data.pack([tmp / "real.npz"], tmp / "real_val.pack.npz", [2], [])
    return tmp, images, points


def test_a_pack_keeps_the_crops_and_their_keypoints_and_splits_real_ones_by_source(packs):
    tmp, images, points = packs
    got, kp = train_whole.load_pack(tmp / "synth.pack.npz")
    assert got.shape == images.shape and np.abs(got.astype(int) - images).mean() < 3  # JPEG at quality 92
    np.testing.assert_array_equal(kp, points)
    real, none = train_whole.load_pack(tmp / "real.pack.npz")
    assert len(real) == 5 and none is None
    assert len(train_whole.load_pack(tmp / "real_val.pack.npz")[0]) == 1
    assert (tmp / "synth.pack.npz").stat().st_size < images.nbytes / 4


def test_batched_targets_equal_the_per_crop_ones(packs):
    _, _, points = packs
    p = points[:5, :train_pose.N_POINTS].copy()
    p[1, J["nose"]] = np.nan  # a missing point: an empty map and no limb
    hm = train_whole.heatmap_targets(torch.from_numpy(p), 160).numpy()
    paf = train_whole.paf_targets(torch.from_numpy(p), 160).numpy()
    np.testing.assert_allclose(hm, np.stack([train_pose.heatmap_targets(q, 160) for q in p]), atol=1e-6)
    np.testing.assert_allclose(paf, np.stack([train_pose.paf_targets(q, 160) for q in p]), atol=1e-6)


def test_the_points_move_with_the_pixels_and_a_mirror_exchanges_left_and_right():
    """A white dot drawn at each point lands where the warped point says it is."""
    gen = torch.Generator().manual_seed(3)
    n, size = 16, 160
    points = torch.full((n, train_pose.N_POINTS, 2), float("nan"))
    points[:, J["r_knee"]] = torch.tensor([60.0, 90.0])
    points[:, FOOT["l_heel"]] = torch.tensor([100.0, 130.0])
    A, b, mirror = train_whole.random_similarity(n, gen, torch.device("cpu"))
    assert mirror.any() and (~mirror).any()
    warped = train_whole.warp_points(points, A, b, mirror, size)
    for name, (x, y) in (("r_knee", (60, 90)), ("l_heel", (100, 130))):
        image = torch.full((n, 3, size, size), train_whole.GREY)
        image[:, :, y - 2:y + 3, x - 2:x + 3] = 255.0
        out = train_whole.warp(image, A, b)[:, 0]
        ys, xs = np.unravel_index(out.reshape(n, -1).argmax(dim=1).numpy(), (size, size))
        index = {**J, **FOOT}
        mirrored = {"r_knee": "l_knee", "l_heel": "r_heel"}[name]
        where = torch.where(mirror[:, None], warped[:, index[mirrored]], warped[:, index[name]])
        assert np.abs(np.stack([xs, ys], 1) - where.numpy()).max() <= 2.5


def test_a_few_whole_network_steps_run_and_save_a_strictly_loadable_file(packs):
    tmp, _, _ = packs
    out = tmp / "run.pth"
    args = train_whole.parser().parse_args([
        "--synth", str(tmp / "synth.pack.npz"), "--real", str(tmp / "real.pack.npz"),
        "--real-val", str(tmp / "real_val.pack.npz"), "--out", str(out), "--steps", "3", "--batch", "2",
        "--real-batch", "1", "--warmup", "1", "--log-every", "1", "--keep-at", "0.0", "--occlude", "0.5",
        "--deep", "2"])
    result = train_whole.train(args)
    assert result["steps"] == 3
    assert result["real_val_distil"]["before"] == 0  # the student starts as the original network
    assert result["real_val_distil"]["after"] > 0
    for path in (out, tmp / "run_0.pth"):
        MobileNetThinFeet().load_state_dict(torch.load(path, weights_only=True))


def test_a_rack_upright_or_plate_goes_over_the_thigh_of_the_chosen_crops_and_the_joints_stay():
    gen = torch.Generator().manual_seed(5)
    n, size = 64, 160
    x = torch.full((n, 3, size, size), 200.0)
    points = torch.full((n, train_pose.N_POINTS, 2), float("nan"))
    points[:, J["r_hip"]] = torch.tensor([70.0, 80.0])
    points[:, J["r_knee"]] = torch.tensor([100.0, 90.0])
    assert torch.equal(train_whole.gym_in_front(x, points, gen, 0.0), x)
    out = train_whole.gym_in_front(x, points, gen, 1.0)
    covered = (out != 200.0).any(dim=1)  # (n, S, S)
    share = covered.flatten(1).float().mean(1)
    assert 0.3 < (share > 0).float().mean() < 0.95  # each crop: an upright, a plate, both or neither
    assert share.max() < 0.15  # an upright or a plate, not a wall: the lifter stays mostly seen
    # what is drawn lies within reach of the thigh, hip x 70 to knee x 100 (the upright runs down from the top)
    ys, xs = torch.nonzero(covered.any(dim=0), as_tuple=True)
    assert xs.min() >= 70 - 0.25 * size and xs.max() <= 100 + 0.25 * size


def test_folded_knees_are_drawn_more_often():
    points = np.full((3, train_pose.N_POINTS, 2), np.nan, np.float32)
    for i, ankle in enumerate(([100, 140], [60, 100], [80, 65])):  # straight, 90°, folded tight
        points[i, J["r_hip"]], points[i, J["r_knee"]], points[i, J["r_ankle"]] = [100, 60], [100, 100], ankle
    np.testing.assert_array_equal(train_whole.deep_weights(points, 3.0), [1.0, 1.0, 3.0])


def test_the_frame_edge_cuts_the_shins_or_head_of_the_chosen_crops_and_what_it_hides_has_no_target():
    gen = torch.Generator().manual_seed(3)
    n, size = 64, 160
    x = torch.full((n, 3, size, size), 200.0)
    points = torch.full((n, train_pose.N_POINTS, 2), float("nan"))
    for name, y in (("nose", 10.0), ("neck", 30.0), ("r_knee", 100.0), ("r_ankle", 140.0)):
        points[:, J[name]] = torch.tensor([80.0, y])
    points[:, FOOT["r_toe"]] = torch.tensor([95.0, 150.0])
    same_x, same_p = train_whole.frame_edges(x, points, gen, 0.0)
    assert torch.equal(same_x, x) and torch.equal(same_p.isnan(), points.isnan())
    out, cut = train_whole.frame_edges(x, points, gen, 1.0)
    grey_rows = (out == train_whole.GREY).all(dim=1).all(dim=2)  # (n, S): whole rows greyed
    # from just below the ankle at the lowest, never above mid-shin
    assert grey_rows[:, 145:].all() and not grey_rows[:, 31:120].any()
    assert cut[:, FOOT["r_toe"]].isnan().all() and not cut[:, J["r_knee"]].isnan().any()
    head_cut = grey_rows[:, 0]
    assert 0.3 < head_cut.float().mean() < 0.7  # half the crops lose the top of the head as well
    # a point hidden by the edge has no target; one still in the frame keeps its own
    hidden = grey_rows[:, 10]
    assert torch.equal(cut[:, J["nose"], 1].isnan(), hidden)
