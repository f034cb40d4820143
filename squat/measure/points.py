"""The body points and joint angles of a side-view squat: the geometry every measure is built on.

Input is the tracked, smoothed COCO-18 skeleton (frames, 18, 3): x, y in pixels of the
upright frame (y grows down), confidence; NaN where missing. Like Sports2D/Pose2Sim, angles are
data: `ANGLES` names (point a, vertex, point b) and `joint_angles` computes them all at once with
atan2(cross, dot). The points themselves are data too (`POINT_SOURCES`): each is the first
available of a list of keypoints, because in a side-view barbell clip the plate often hides the
camera-side shoulder and the neck.
"""
from __future__ import annotations

import numpy as np

from squat.skeleton import J

# Body points used below → candidate keypoints, first present wins per frame.
# {s} = camera side ("r"/"l"), {o} = the other side; mid_* = mean of both sides when both present.
POINT_SOURCES: dict[str, tuple[str, ...]] = {
    "hip": ("{s}_hip",),
    "knee": ("{s}_knee",),
    "ankle": ("{s}_ankle",),
    # Trunk line for the hip angle: same-plane shoulder first, the neck (= mid-shoulder) next.
    "shoulder": ("{s}_shoulder", "neck", "{o}_shoulder"),
    # Trunk line for the lean: mid-hip → neck, as the truth's trunk_lean_2d and OpenPose define it.
    "trunk_base": ("mid_hip", "{s}_hip"),
    "trunk_top": ("neck", "mid_shoulder", "{s}_shoulder", "{o}_shoulder"),
    # Hip height for rep counting: the far hip is at the same height when the near one drops out.
    "hip_any": ("{s}_hip", "{o}_hip"),
}


POINTS: tuple[str, ...] = tuple(POINT_SOURCES)


P = {name: i for i, name in enumerate(POINTS)}


# name → (a, vertex, b), degrees. "vertical" is the image's up direction, not a point.
ANGLES: dict[str, tuple[str, str, str]] = {
    "knee_angle": ("hip", "knee", "ankle"),  # interior; 180 = straight leg
    "hip_angle": ("shoulder", "hip", "knee"),  # interior trunk–thigh; 180 = standing tall
    "shin_angle": ("vertical", "ankle", "knee"),  # shin against vertical; knee forward of ankle = +
    "trunk_lean": ("vertical", "trunk_base", "trunk_top"),  # 0 = upright; unsigned, as the truth
}


SIGNED_ANGLES = frozenset({"shin_angle"})  # signed by facing direction: forward positive


LEG = ("hip", "knee", "ankle")


def _xy(keypoints: np.ndarray) -> np.ndarray:
    """x, y as float64 (frames, 18, 2) with a missing x or y making the point NaN."""
    xy = np.asarray(keypoints, dtype=np.float64)[..., :2].copy()
    xy[~np.isfinite(xy).all(axis=-1)] = np.nan
    return xy


def _present(keypoints: np.ndarray) -> np.ndarray:
    """(frames, 18) bool: the joint has finite x and y."""
    return np.isfinite(np.asarray(keypoints)[..., :2]).all(axis=-1)


def _length(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pixel distance between (…, 2) points."""
    return np.hypot(*(a - b).T)


def _side_letters(side: str) -> tuple[str, str]:
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', not {side!r}")
    return ("r", "l") if side == "right" else ("l", "r")


def body_points(keypoints: np.ndarray, side: str) -> np.ndarray:
    """(frames, len(POINTS), 2) pixels: each POINT_SOURCES entry, first present candidate per frame."""
    s, o = _side_letters(side)
    xy = _xy(keypoints)
    named = {name: xy[:, i] for name, i in J.items()}
    named["mid_hip"] = (xy[:, J["r_hip"]] + xy[:, J["l_hip"]]) / 2  # NaN unless both present
    named["mid_shoulder"] = (xy[:, J["r_shoulder"]] + xy[:, J["l_shoulder"]]) / 2
    out = np.full((xy.shape[0], len(POINTS), 2), np.nan)
    for k, sources in enumerate(POINT_SOURCES.values()):
        for src in sources:
            cand = named[src.format(s=s, o=o)]
            gap = np.isnan(out[:, k, 0])
            out[gap, k] = cand[gap]
    return out


def joint_angles(points: np.ndarray, facing: int = 1, table: dict[str, tuple[str, str, str]] = ANGLES) -> dict[str, np.ndarray]:
    """Every angle in `table`, degrees, per frame, in one vectorised atan2(cross, dot).

    points: (frames, len(POINTS), 2) from body_points. Interior angles are unsigned (0–180);
    angles in SIGNED_ANGLES are positive toward the facing direction.
    """
    names = list(table)
    vertex = points[:, [P[table[n][1]] for n in names]]
    b = points[:, [P[table[n][2]] for n in names]] - vertex
    a = np.empty_like(b)
    for k, n in enumerate(names):
        a[:, k] = (0.0, -1.0) if table[n][0] == "vertical" else points[:, P[table[n][0]]] - vertex[:, k]
    cross = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    dot = (a * b).sum(axis=-1)
    # With a = up = (0, -1) the cross product is +x of b, so cross × facing is "forward".
    signed = np.array([n in SIGNED_ANGLES for n in names])
    cross = np.where(signed, cross * facing, np.abs(cross))
    deg = np.degrees(np.arctan2(cross, dot))
    return {n: deg[:, k] for k, n in enumerate(names)}
