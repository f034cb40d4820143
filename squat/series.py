"""Runs over 1-D series of frames: stretches of seen samples, of one rep number."""
from __future__ import annotations

import numpy as np


def true_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and stops (exclusive) of the runs of consecutive True in a 1-D mask."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], np.asarray(mask).astype(np.int8), [0]))))
    return edges[0::2], edges[1::2]


def rep_spans(times: np.ndarray, reps: np.ndarray) -> list[tuple[int, float, float]]:
    """(rep, first time, last time) of each run of frames sharing a rep number > 0."""
    change = np.flatnonzero(np.diff(reps)) + 1
    starts, stops = np.concatenate(([0], change)), np.concatenate((change, [len(reps)]))
    return [(int(reps[a]), float(times[a]), float(times[b - 1])) for a, b in zip(starts, stops) if reps[a] > 0]
