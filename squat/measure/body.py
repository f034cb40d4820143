"""The lifter's body, decided once per clip: which leg faces the camera, which way the lifter
faces, the segment lengths and their ratios, and where the trunk line is measured from.

Every later step (the hip from the bones, the per-frame kinematics, the reps) reads the same
`Body`, so no step decides the side or measures the femur again.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from squat.measure.points import LEG, _length, _present, _side_letters, _xy, body_points, joint_angles
from squat.settings import KinematicsSettings
from squat.skeleton import J


@dataclass(frozen=True)
class Proportions:
    """Segment lengths (pixels) and ratios from the frames where the lifter stands tall (medians)."""

    femur_px: float  # camera-side hip → knee
    shin_px: float  # knee → ankle
    torso_px: float  # camera-side hip → camera-side shoulder (or from the bar, the neck, see torso_to)
    femur_to_torso: float
    shin_to_femur: float
    torso_to: str  # "bar" | "shoulder" | "neck" | "far_shoulder" | "none": what the torso's top came from
    standing_frames: int  # frames the medians came from (0: no standing frame, all frames used)
    hip_high_femur: float = 0.0  # the torso was lengthened by this × femur: the pose model's hip sits high


def with_side(keypoints: np.ndarray, settings: KinematicsSettings, feet: np.ndarray | None = None
              ) -> KinematicsSettings:
    """The settings with side "auto" resolved on these keypoints (and the foot points of a model
    with feet), so that every later step (the bone-length hip, the angles) measures the same leg."""
    if settings.side != "auto":
        return settings
    side = side_from_feet(feet) if feet is not None else None
    if side is not None:
        # Where the toes point against the knees and the nose (feet cut off by the frame, or
        # misread), the body's facing wins: it is the same fact, and confidence cannot tell the
        # legs apart for a model that places the hidden one (side_from_feet).
        side = side_of_facing(facing_direction(keypoints, side))
    return replace(settings, side=side or detect_side(keypoints, settings.side_tie, settings.side_hips_apart))


def side_of_facing(facing: int) -> str:
    """The leg toward the camera of a lifter facing +x (+1) or -x (-1): right × forward = up, so a
    lifter filmed from their right faces image-right."""
    return "right" if facing > 0 else "left"


def side_from_feet(feet: np.ndarray, min_along: float = 0.3) -> str | None:
    """The leg facing the camera from where the toes point: a lifter filmed from their right
    faces image-right (right × forward = up), from their left image-left; the same in an oblique
    view. feet: (F, 4, 2+) r_heel, r_toe, l_heel, l_toe. None when the toes point at or away
    from the camera (heel → toe along x under min_along × the foot's length) or too few feet
    were seen: a model trained to place hidden joints gives the far leg full confidence, so
    confidence (detect_side) cannot tell the legs apart, but the feet can."""
    f = np.asarray(feet, dtype=np.float64)
    if f.ndim != 3 or f.shape[1] < 4:
        return None
    step = np.concatenate([f[:, 1, :2] - f[:, 0, :2], f[:, 3, :2] - f[:, 2, :2]])
    step = step[np.isfinite(step).all(axis=1)]
    if len(step) < 5:
        return None
    along, length = float(np.median(step[:, 0])), float(np.median(np.hypot(*step.T)))
    if abs(along) < min_along * length:
        return None
    return side_of_facing(1 if along > 0 else -1)


def detect_side(keypoints: np.ndarray, tie: float = 0.05, hips_apart: float = 0.3) -> str:
    """The leg facing the camera: "left" or "right".

    Score per side = mean over frames of hip, knee and ankle confidence, 0 where missing: side-on,
    a pose model sees the near leg more often and more surely. When both scores are within `tie`
    (relative), e.g. for ground-truth keypoints with confidence 1 everywhere, or when the hips read
    `hips_apart` × femur apart or more (the camera sees the far hip: filmed off side-on, both legs
    are in plain view and their confidence says nothing), the nearer leg is the one that looks
    longer (median hip→knee→ankle pixels; perspective makes it ~5-15 % longer).
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    score = {}
    legs = {}
    xy = _xy(kp)
    for side, s in (("right", "r"), ("left", "l")):
        idx = [J[f"{s}_{j}"] for j in LEG]
        conf = np.where(_present(kp[:, idx]), np.nan_to_num(kp[:, idx, 2], nan=0.0), 0.0)
        score[side] = float(conf.mean()) if conf.size else 0.0
        legs[side] = _length(xy[:, idx[0]], xy[:, idx[1]]) + _length(xy[:, idx[1]], xy[:, idx[2]])
    top = max(score.values())
    both = np.isfinite(legs["right"]) & np.isfinite(legs["left"])
    seen_alike = both.any() and _hips_apart_femur(xy) >= hips_apart
    if not seen_alike and top > 0 and abs(score["right"] - score["left"]) > tie * top:
        return max(score, key=score.get)
    if both.any() and np.median(legs["left"][both]) > np.median(legs["right"][both]):
        return "left"
    return "right"


def _hips_apart_femur(xy: np.ndarray) -> float:
    """How far apart the two hips read, × femur (medians over the clip; both thighs pooled)."""
    apart = _length(xy[:, J["r_hip"]], xy[:, J["l_hip"]])
    femur = np.concatenate([_length(xy[:, J[f"{s}_hip"]], xy[:, J[f"{s}_knee"]]) for s in "rl"])
    if not (np.isfinite(apart).any() and np.isfinite(femur).any()):
        return np.nan
    thigh = float(np.nanmedian(femur))
    return float(np.nanmedian(apart)) / thigh if thigh > 0 else np.nan  # all joints on one pixel: no measure


def facing_direction(keypoints: np.ndarray, side: str) -> int:
    """+1 if the lifter faces +x (toes point right in the image), -1 if left.

    Votes in pixels, each weighted by the share of its frames where it is seen, summed: the knee
    ahead of the hip and of the ankle in the deepest quarter of the frames (a squat always sends
    the knees forward), and the nose ahead of the neck and of the camera-side ear (works while
    standing). Ties and missing cues give +1.
    """
    s, _ = _side_letters(side)
    xy = _xy(keypoints)
    pts = body_points(keypoints, side)
    knee_angle = joint_angles(pts)["knee_angle"]
    deep = np.isfinite(knee_angle)
    if deep.any():
        deep &= knee_angle <= np.nanpercentile(knee_angle, 25)
    cues = (
        xy[deep, J[f"{s}_knee"], 0] - xy[deep, J[f"{s}_hip"], 0],
        xy[deep, J[f"{s}_knee"], 0] - xy[deep, J[f"{s}_ankle"], 0],
        xy[:, J["nose"], 0] - xy[:, J["neck"], 0],
        xy[:, J["nose"], 0] - xy[:, J[f"{s}_ear"], 0],
    )
    # Each cue votes as much as it is seen: a nose found in a tenth of the frames (the rest behind
    # a plate) is more often a misread than the knees of every deep frame (accuracy log §30).
    vote = sum(float(np.nanmedian(c)) * float(np.isfinite(c).mean()) for c in cues if np.isfinite(c).any())
    return -1 if vote < 0 else 1


def segment_proportions(keypoints: np.ndarray, side: str, knee_angle: np.ndarray, settings: KinematicsSettings,
                        bar: np.ndarray | None = None, hip_high_femur: float = 0.0) -> Proportions:
    """Femur, shin, torso pixels and their ratios: medians over the standing-tall frames.

    Torso = camera-side hip → camera-side shoulder: both lie in the near plane, so perspective
    shrinks them alike (on the synth truth this matches the 3D keypoint femur_to_torso within 1 %;
    hip → neck reads ~4 % high because the neck is mid-shoulder, further away). With a bar
    (F, 2) seen in most standing frames, the plate hides the shoulders (what the model reports
    there sits on the arm, 45 px low at 1080p), so the torso is hip → bar × torso_of_hip_to_bar
    (unless settings.torso_from_bar is off: a model that sees the shoulder behind the plate).
    Else falls back to the neck, then the far shoulder, when the near shoulder is never seen.

    hip_high_femur: how far the pose model puts the standing hip above the COCO hip, × femur
    (weights/registry.json). The torso grows by it; the femur keeps its length, as the knee sits
    about as high (the small model on the renders: hip 27-30 px, knee 21-34 px high at 1080p).
    """
    s, o = _side_letters(side)
    xy = _xy(keypoints)
    standing = knee_angle > settings.standing_knee_angle
    rows = standing if standing.any() else np.ones_like(standing)  # never stands tall: use all

    def median_length(a: np.ndarray, b: np.ndarray) -> float:
        d = _length(a[rows], b[rows])
        d = d[np.isfinite(d) & (d > 0)]  # two joints on one pixel are a misread, not a bone
        return float(np.median(d)) if d.size else np.nan

    hip = xy[:, J[f"{s}_hip"]]
    femur = median_length(hip, xy[:, J[f"{s}_knee"]])
    shin = median_length(xy[:, J[f"{s}_knee"]], xy[:, J[f"{s}_ankle"]])
    torso, torso_to = np.nan, "none"
    if settings.torso_from_bar and bar is not None and np.isfinite(bar[rows]).all(axis=1).mean() >= 0.5:
        torso, torso_to = settings.torso_of_hip_to_bar * median_length(hip, np.asarray(bar, np.float64)), "bar"
    for top, name in ((f"{s}_shoulder", "shoulder"), ("neck", "neck"), (f"{o}_shoulder", "far_shoulder")):
        if np.isfinite(torso):
            break
        torso = median_length(hip, xy[:, J[top]])
        torso_to = name if np.isfinite(torso) else "none"
    torso += hip_high_femur * femur
    return Proportions(
        femur_px=femur,
        shin_px=shin,
        torso_px=torso,
        femur_to_torso=femur / torso,
        shin_to_femur=shin / femur,
        torso_to=torso_to,
        standing_frames=int(standing.sum()),
        hip_high_femur=hip_high_femur,
    )


@dataclass(frozen=True)
class Body:
    """What the clip says about the lifter, once: every later step measures this leg, this way."""

    side: str  # "left" | "right": the leg facing the camera
    facing: int  # +1: the lifter faces +x (right in the image), -1: faces left
    proportions: Proportions  # standing segment lengths and ratios
    # Where the trunk line (lean, hip angle) is measured: "bar" (from the hips toward the bar where
    # it is seen, for a model that loses the shoulders behind a plate) or "model" (its own neck).
    trunk_line: str


def measure_body(keypoints: np.ndarray, settings: KinematicsSettings, feet: np.ndarray | None = None,
                 bar: np.ndarray | None = None, hip_high_femur: float = 0.0) -> Body:
    """The Body of a clip from its tracked keypoints (and the foot points of a model with feet, the
    bar where a plate was seen). settings: with the model's registry flags already applied (a flag
    can only switch a measure off)."""
    side = with_side(keypoints, settings, feet).side
    facing = facing_direction(keypoints, side)
    knee_angle = joint_angles(body_points(keypoints, side))["knee_angle"]
    has_bar = bar is not None and bool(np.isfinite(bar).all(axis=1).any())
    return Body(
        side=side, facing=facing,
        proportions=segment_proportions(keypoints, side, knee_angle, settings, bar, hip_high_femur),
        trunk_line="bar" if settings.torso_from_bar and has_bar else "model",
    )
