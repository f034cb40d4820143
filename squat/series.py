"""Runs and gaps over 1-D series of frames: stretches of seen samples or of one rep number; filling gaps."""
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


def fill_gaps(values: np.ndarray, x: np.ndarray, max_gap: float = np.inf, hold_edges: bool = False) -> np.ndarray:
    """Linear interpolation along x (increasing) over the missing (non-finite) samples of a 1-D series,
    as float64.

    A gap is filled where the seen samples either side are at most max_gap apart in x; longer gaps stay
    NaN. Missing samples before the first seen one or after the last take its value with hold_edges,
    else stay NaN. Seen samples are kept as they are.
    """
    out = np.array(values, dtype=np.float64)
    valid = np.isfinite(out)
    if not valid.any():
        return out
    idx = np.flatnonzero(valid)
    # Each missing sample lies between two seen ones (inside) or beyond the first or last (an edge).
    nxt = np.searchsorted(idx, np.arange(len(out)))
    inside = ~valid & (nxt > 0) & (nxt < len(idx))
    before = idx[np.clip(nxt - 1, 0, len(idx) - 1)]
    after = idx[np.clip(nxt, 0, len(idx) - 1)]
    fill = inside & (x[after] - x[before] <= max_gap + 1e-9)
    if hold_edges:
        fill |= ~valid & ~inside
    out[fill] = np.interp(x[fill], x[valid], out[valid])  # np.interp holds the end values beyond them
    return out
