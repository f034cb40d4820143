"""Frames the network need not read: everyone still between the reads either side.

Half a squat set is standing still (the set-up, the breath at the top, the pause between reps:
48-50 % of the shared renders' frames have the knee moving under 10°/s). Where two reads a
couple of network periods apart find the same people with the same joints, each within a few
pixels, the read between them would find them there too: it is taken as the two reads'
weighted mean instead of running the network. Judged after both reads, so a rep starting
between them is never missed: the lifter has already moved at the second read.
"""
from __future__ import annotations

import numpy as np

from squat.pose.detections import Detections


def match_people(before: np.ndarray, after: np.ndarray) -> np.ndarray | None:
    """For each person in before (P, J, 3), the index of the same person in after (P, J, 3), or
    None where the two frames do not hold the same people with the same joints found. Matched
    greedily by the mean distance over their joints (a frame holds a handful of people)."""
    if before.shape != after.shape:
        return None
    n = len(before)
    found_a, found_b = np.isfinite(before[..., 0]), np.isfinite(after[..., 0])
    # (P, P): mean joint distance of person i before to person j after; inf where the joints found differ
    gap = np.linalg.norm(before[:, None, :, :2] - after[None, :, :, :2], axis=-1)
    both = np.isfinite(gap)
    mean_gap = np.where(both, gap, 0.0).sum(axis=-1) / np.maximum(both.sum(axis=-1), 1)
    same_joints = (found_a[:, None] == found_b[None, :]).all(axis=-1) & found_a.any(axis=-1)[:, None]
    cost = np.where(same_joints, mean_gap, np.inf)
    order = np.full(n, -1)
    for flat in np.argsort(cost, axis=None):
        i, j = np.unravel_index(flat, cost.shape)
        if not np.isfinite(cost[i, j]):
            break
        if order[i] < 0 and j not in order:
            order[i] = j
    return order if (order >= 0).all() else None


def still_match(before: Detections, after: Detections, tolerance_px: float) -> np.ndarray | None:
    """match_people's order where everyone found in before is found in after, with the same joints,
    none of them moved more than tolerance_px (and nobody else appeared); None where not still."""
    order = match_people(before.keypoints, after.keypoints)
    if order is None:
        return None
    moved = np.linalg.norm(before.keypoints[..., :2] - after.keypoints[order][..., :2], axis=-1)
    return order if np.nan_to_num(moved, nan=0.0).max(initial=0.0) <= tolerance_px else None


def between(before: Detections, after: Detections, weight: float, order: np.ndarray | None = None) -> Detections:
    """The people of two still reads at a frame weight of the way from before to after: positions,
    confidences and scores mixed linearly. order: still_match's (matched here when not given)."""
    order = match_people(before.keypoints, after.keypoints) if order is None else order
    if order is None:
        raise ValueError("between() needs two reads of the same people (still_match)")
    w = np.float32(weight)
    keypoints = (1 - w) * before.keypoints + w * after.keypoints[order]
    scores = (1 - w) * before.scores + w * after.scores[order]
    return Detections(keypoints.astype(np.float32), scores.astype(np.float32))
