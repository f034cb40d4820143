"""The hip in the hole, from bone lengths.

Side-on at depth the small pose model's hip rides up the lifter's back toward the bar (by
30-80 px on the rendered 1080p squats, and near the knee in a forward-leaning rep), so the
knee angle reads shallow and the hip never gets below the knee. Two distances do not change
during a squat: knee → hip (the femur) and hip → bar (the trunk, with the bar on the upper
back). The hip is where the circle of femur length around the knee meets the circle of trunk
length around the bar, on the side behind the lifter. Both lengths are measured while the
lifter stands (where the model's hip is good); the seen femur shortens a little at depth as
the knees go out over the toes (KinematicsSettings.femur_shrink_at_depth). Not modelled: the
hip → bar distance of the rendered lifters shortens ~8 % in the hole as the pelvis tucks. The
small model's standing hip sits ~0.16 femur high (hip_high_femur in weights/registry.json),
which shortens the standing trunk about as much (modelling the tuck as well read the hole 2-6°
shallower on the renders; docs/accuracy-log.md).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from squat.measure.body import Body, measure_body
from squat.measure.points import _side_letters, body_points, joint_angles
from squat.settings import KinematicsSettings
from squat.skeleton import J


def circle_meet(c1: np.ndarray, r1: np.ndarray, c2: np.ndarray, r2: np.ndarray, behind: int) -> np.ndarray:
    """(F, 2) where the circles (c1, r1) and (c2, r2) meet, the point with the smaller `behind`·x.

    NaN where they do not meet. Vectorised over frames; radii may be per frame.
    """
    d_vec = c2 - c1
    d = np.hypot(d_vec[:, 0], d_vec[:, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        along = (r1**2 - r2**2 + d**2) / (2 * d)
        half_chord = np.sqrt(r1**2 - along**2)  # NaN when they do not meet
        unit = d_vec / d[:, None]
    foot = c1 + along[:, None] * unit
    normal = np.column_stack([-unit[:, 1], unit[:, 0]])
    a, b = foot + half_chord[:, None] * normal, foot - half_chord[:, None] * normal
    return np.where((behind * a[:, 0] < behind * b[:, 0])[:, None], a, b)


def in_the_hole(knee_angle: np.ndarray, settings: KinematicsSettings) -> np.ndarray:
    """How far each frame is in the hole, 0 above the first of bone_hip_knee_angles to 1 below the
    second: the weight a corrected hip is blended in by."""
    top, bottom = settings.bone_hip_knee_angles
    return np.clip((top - knee_angle) / (top - bottom), 0.0, 1.0)


def hips_from_bones(keypoints: np.ndarray, bar: np.ndarray, settings: KinematicsSettings = KinematicsSettings(),
                    body: Body | None = None) -> np.ndarray:
    """The keypoints with both hips moved to the bone-length hip at depth (see the module doc).

    bar: (F, 2) the bar's middle in pixels (squat.measure.plate.bar_centre), NaN where not seen. The
    model's hip is kept standing, the bone-length hip is used below the second of
    bone_hip_knee_angles, blended in between; frames without a bar or where the circles do not
    meet keep the model's hip. Unchanged without a bar or a standing frame. body: the clip's Body
    (measured from these keypoints when not given).
    """
    kp = np.array(keypoints, dtype=np.float32, copy=True)
    bar = np.asarray(bar, dtype=np.float64)
    if not uses_bones(bar, settings):
        return kp
    body = body or measure_body(kp, settings)
    side, facing = body.side, body.facing
    s, _ = _side_letters(side)
    hip = kp[:, J[f"{s}_hip"], :2].astype(np.float64)
    knee = kp[:, J[f"{s}_knee"], :2].astype(np.float64)
    knee_angle = joint_angles(body_points(kp, side))["knee_angle"]
    standing = knee_angle > settings.standing_knee_angle
    femur = body.proportions.femur_px  # the standing median
    trunk = np.hypot(*(hip - bar)[standing].T)
    trunk = trunk[np.isfinite(trunk)]
    if not standing.any() or not np.isfinite(femur) or not len(trunk):
        return kp
    trunk = np.full(len(kp), np.median(trunk))

    def meet_at(angle: np.ndarray) -> np.ndarray:
        bend = np.clip((180.0 - angle) / 110.0, 0.0, 1.0)  # 1 at a 70° knee: 110° of bend
        return circle_meet(knee, femur * (1.0 - settings.femur_shrink_at_depth * bend), bar, trunk, behind=facing)

    # The model's hip can slide toward the knee (a forward-leaning rep), which reads the knee as
    # opened up: the knee angle on the bone-length hip says how deep the lifter really is.
    meet = meet_at(knee_angle)
    on_bones = kp.copy()
    on_bones[:, J[f"{s}_hip"], :2] = meet
    deeper = np.fmin(knee_angle, joint_angles(body_points(on_bones, side))["knee_angle"])
    meet = meet_at(deeper)
    weight = in_the_hole(deeper, settings)
    # The model errs toward the bar (up the back): a bone-length hip nearer the bar than the
    # model's is a wrong length (a cropped or zoomed clip breaks the parallax model), not a fix.
    away = np.hypot(*(meet - bar).T) > np.hypot(*(hip - bar).T)
    usable = np.isfinite(meet).all(axis=1) & away
    shift = np.where(usable[:, None], (meet - hip) * weight[:, None], 0.0)
    shift[~np.isfinite(shift)] = 0.0
    for j in (J["r_hip"], J["l_hip"]):  # the far hip moves with the near one: side-on they overlap
        kp[:, j, :2] += shift.astype(np.float32)
    return kp


def hips_back_at_depth(keypoints: np.ndarray, body: Body, bias_femur: tuple[float, float],
                       settings: KinematicsSettings = KinematicsSettings()) -> np.ndarray:
    """The keypoints with both hips moved back and down by a pose model's measured bias in the hole:
    bias_femur = (ahead, above), how far its hip keypoint sits ahead of the truth's (toward the knee)
    and above it at depth, × the standing femur (weights/registry.json `hip_bias_at_depth_femur`).
    Blended in over bone_hip_knee_angles, as the bone-length hip is; unchanged at (0, 0) or
    without a femur."""
    kp = np.array(keypoints, dtype=np.float32, copy=True)
    ahead, above = bias_femur
    femur = body.proportions.femur_px
    if (ahead == 0 and above == 0) or not np.isfinite(femur):
        return kp
    weight = in_the_hole(joint_angles(body_points(kp, body.side))["knee_angle"], settings)
    shift = np.array([-body.facing * ahead, above])[None] * (femur * weight)[:, None]  # image y points down
    shift[~np.isfinite(shift)] = 0.0
    for j in (J["r_hip"], J["l_hip"]):  # the pelvis moves as one
        kp[:, j, :2] += shift.astype(np.float32)
    return kp


def uses_bones(bar: np.ndarray, settings: KinematicsSettings) -> bool:
    """Whether hips_from_bones places the hip in the hole: a model whose hip rides up the back
    (settings.hip_from_bones, the registry's flag applied) and a bar seen somewhere in the clip."""
    return bool(settings.hip_from_bones and np.isfinite(np.asarray(bar, dtype=np.float64)).all(axis=1).any())


def hips_in_the_hole(keypoints: np.ndarray, bar: np.ndarray, body: Body, bias_femur: tuple[float, float],
                     settings: KinematicsSettings = KinematicsSettings()) -> np.ndarray:
    """The hips at depth: the bone-length hip where it can be found (uses_bones), else the model's
    hips moved back by its measured bias (hips_back_at_depth; nothing where none is registered)."""
    if uses_bones(bar, settings):
        return hips_from_bones(keypoints, bar, settings, body)
    return hips_back_at_depth(keypoints, body, bias_femur, settings)


# The bones whose length a side view keeps through a squat: camera-side shin and femur (from, to).
SIDE_ON_BONES = {"shin": ("ankle", "knee"), "femur": ("knee", "hip")}


def length_cv(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """How much the distance between two points (F, 2) varies: its coefficient of variation (std /
    mean) over the frames where both are known, and how many frames that is (NaN under two)."""
    length = np.hypot(*(np.asarray(a, np.float64) - np.asarray(b, np.float64)).T)
    length = length[np.isfinite(length)]
    cv = float(np.std(length) / np.mean(length)) if len(length) > 1 and np.mean(length) > 0 else np.nan
    return cv, int(len(length))


def bone_length_cvs(point: Callable[[str], np.ndarray], side: str) -> dict[str, tuple[float, int]]:
    """The camera-side SIDE_ON_BONES' length_cv, by bone; point(name) gives a joint's (F, 2) pixels."""
    s, _ = _side_letters(side)
    return {bone: length_cv(point(f"{s}_{a}"), point(f"{s}_{b}")) for bone, (a, b) in SIDE_ON_BONES.items()}


def bone_steadiness(keypoints: np.ndarray, side: str) -> float:
    """The camera-side shin's and femur's length CVs over the clip, summed: a label-free measure of
    how well a pose model reads this lifter (side-on the bones keep their length; a knee read
    along the thigh, or a hip up the back, changes them). NaN where a bone is never seen whole."""
    return sum(cv for cv, _ in bone_length_cvs(lambda name: keypoints[:, J[name], :2], side).values())
