"""The squat-trained network with feet (issue 18): shipped, registered, and its foot points land
on a rendered foot in a short render kept in tests/data (a clip training never saw)."""
from pathlib import Path

import numpy as np
import pytest

from squat.io.video import iter_frames
from squat.pipeline import camera_side_foot
from squat.pose.estimator import load_estimator
from squat.pose.weights import load_registry, sha256_of, weights_path
from squat.results import frame_table
from squat.settings import PoseSettings
from squat.skeleton import FOOT, FOOT_POINTS, N_JOINTS, J

REPO = Path(__file__).parents[1]
WEIGHTS = REPO / "weights"
CLIP = REPO / "tests" / "data" / "synth_new" / "side_left_lowbar"  # seed 2000: never trained on
MODEL = "mobilenet_thin_squat"


def truth_points(frame: int) -> dict[str, np.ndarray]:
    import pandas as pd

    row = pd.read_csv(CLIP / "truth.csv").iloc[frame]
    return {p: np.array([row[f"{p}_x"], row[f"{p}_y"]]) for p in ("l_heel", "l_toe", "l_ankle", "l_knee")}


def test_the_model_is_shipped_with_its_checksum():
    spec = load_registry()[MODEL]
    path = weights_path(spec, WEIGHTS)
    assert spec.shipped and spec.arch == "mobilenet_thin_feet" and spec.licence == "Apache-2.0"
    assert path.stat().st_size == spec.size < 20e6
    assert sha256_of(path) == spec.sha256


@pytest.fixture(scope="module")
def estimator():
    return load_estimator(PoseSettings(model=MODEL, device="cpu"), WEIGHTS)


@pytest.mark.parametrize("frame", [0, 45])  # standing, and on the way down
def test_foot_points_land_on_the_rendered_foot(estimator, frame):
    image = next(f.image for f in iter_frames(CLIP / "clip.mp4") if f.index == frame)
    heatmaps, pafs, _ = estimator.maps([image])
    assert heatmaps.shape[1] == 23 and pafs.shape[1] == 38  # 19 body maps + 4 foot maps
    people = estimator.detect([image])[0]
    assert people.keypoints.shape[1:] == (N_JOINTS + len(FOOT_POINTS), 3)
    truth = truth_points(frame)
    ours = people.keypoints[0]
    shin = np.hypot(*(truth["l_ankle"] - truth["l_knee"]))
    for name in ("l_heel", "l_toe"):  # the camera is on the lifter's left
        assert np.hypot(*(ours[FOOT[name], :2] - truth[name])) < 0.25 * shin, name
    midfoot = (ours[FOOT["l_heel"], 0] + ours[FOOT["l_toe"], 0]) / 2
    assert abs(midfoot - (truth["l_heel"][0] + truth["l_toe"][0]) / 2) < 0.15 * shin


def test_the_camera_side_foot_feeds_the_midfoot_and_frames_csv():
    feet = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
    heel, toe = camera_side_foot(feet, "left")
    np.testing.assert_array_equal(heel, feet[:, 2]) and np.testing.assert_array_equal(toe, feet[:, 3])
    assert camera_side_foot(feet[:, :0], "left") == (None, None)  # a model without feet
    import pandas as pd

    kin = pd.DataFrame({c: np.zeros(2) for c in ("knee_angle", "hip_angle", "shin_angle", "trunk_lean",
                                                  "hip_moment_arm", "knee_moment_arm")})
    table = frame_table(np.array([0.0, 0.1]), np.ones(2, bool), np.zeros((2, N_JOINTS, 3), np.float32), kin,
                        np.zeros(2, int), feet=feet)
    assert table["l_toe_x"].tolist() == feet[:, 3, 0].tolist() and "r_heel_conf" in table
    assert J["l_ankle"] < FOOT["r_heel"]  # foot columns follow the 18 joints
