"""The rendered squats' ground truth (tests/data/synth_truth) as the engine's keypoint contract."""
import json
from pathlib import Path

import numpy as np
import pandas as pd

from squat.skeleton import JOINTS

TRUTH = Path(__file__).parent / "data" / "synth_truth"


def truth_keypoints(clip: str) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """truth.csv as a (frames, 18, 3) float32 skeleton with confidence 1, plus the tables."""
    table = pd.read_csv(TRUTH / clip / "truth.csv")
    kp = np.ones((len(table), 18, 3), np.float32)
    for i, name in enumerate(JOINTS):
        kp[:, i, 0], kp[:, i, 1] = table[f"{name}_x"], table[f"{name}_y"]
    return table, kp, json.loads((TRUTH / clip / "truth.json").read_text())
