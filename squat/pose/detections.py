"""Everyone the network found in one frame: the pose stage's output per frame."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from squat.skeleton import N_JOINTS


@dataclass(frozen=True)
class Detections:
    """All people found in one frame: keypoints (P, 18, 3) in frame pixels, scores (P,)."""

    keypoints: np.ndarray
    scores: np.ndarray

    @staticmethod
    def empty() -> "Detections":
        return Detections(np.full((0, N_JOINTS, 3), np.nan, np.float32), np.zeros(0, np.float32))
