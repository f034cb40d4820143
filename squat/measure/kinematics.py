"""Joint angles, moment arms and body proportions of a side-view squat, per frame.

Input is the tracked, smoothed COCO-18 skeleton (frames, 18, 3): x, y in pixels of the
upright frame (y grows down), confidence; NaN where missing. Everything is measured on
the leg facing the camera. Units: degrees, seconds, pixels, or body-relative (× femur).

Like Sports2D/Pose2Sim, angles are data: `ANGLES` names (point a, vertex, point b) and
`joint_angles` computes them all at once with atan2(cross, dot). The points themselves are
data too (`POINT_SOURCES`): each is the first available of a list of keypoints, because in a
side-view barbell clip the plate often hides the camera-side shoulder and the neck.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from squat.settings import KinematicsSettings
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


@dataclass(frozen=True)
class ViewCheck:
    """Is the camera side-on? Angles and moment arms are only true in a side view."""

    view: str  # "side" | "oblique" | "front"
    hip_width_femur: float  # apparent hip width / femur length (≈0 side-on); NaN if never both hips
    thigh_in_plane: float  # thigh's seen / expected horizontal reach at depth (≈1 side-on); NaN if no depth
    warning: str  # empty for a side view; else what not to trust


@dataclass(frozen=True, eq=False)  # eq=False: a DataFrame field has no truth value to compare
class Kinematics:
    """Per-frame measurements plus what they were measured on."""

    frames: pd.DataFrame  # one row per frame, see compute_kinematics
    side: str  # "left" | "right": the leg facing the camera
    facing: int  # +1: the lifter faces +x (right in the image), -1: faces left
    proportions: Proportions
    view: ViewCheck


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


def with_side(keypoints: np.ndarray, settings: KinematicsSettings, feet: np.ndarray | None = None
              ) -> KinematicsSettings:
    """The settings with side "auto" resolved on these keypoints (and the foot points of a model
    with feet), so that every later step (the bone-length hip, the angles) measures the same leg."""
    if settings.side != "auto":
        return settings
    side = side_from_feet(feet) if feet is not None else None
    return replace(settings, side=side or detect_side(keypoints, settings.side_tie))


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
    return "right" if along > 0 else "left"


def detect_side(keypoints: np.ndarray, tie: float = 0.05) -> str:
    """The leg facing the camera: "left" or "right".

    Score per side = mean over frames of hip, knee and ankle confidence, 0 where missing: a pose
    model sees the near leg more often and more surely. When both scores are within `tie`
    (relative), e.g. for ground-truth keypoints with confidence 1 everywhere, the nearer leg is
    the one that looks longer (median hip→knee→ankle pixels; perspective makes it ~5-15 % longer).
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
    if top > 0 and abs(score["right"] - score["left"]) > tie * top:
        return max(score, key=score.get)
    both = np.isfinite(legs["right"]) & np.isfinite(legs["left"])
    if both.any() and np.median(legs["left"][both]) > np.median(legs["right"][both]):
        return "left"
    return "right"


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


def facing_direction(keypoints: np.ndarray, side: str) -> int:
    """+1 if the lifter faces +x (toes point right in the image), -1 if left.

    Votes in pixels, summed: the knee ahead of the hip and of the ankle in the deepest quarter of
    the frames (a squat always sends the knees forward), and the nose ahead of the neck and of the
    camera-side ear (works while standing). Ties and missing cues give +1.
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
    vote = sum(float(np.nanmedian(c)) for c in cues if np.isfinite(c).any())
    return -1 if vote < 0 else 1


def midfoot_x(
    ankle_x: np.ndarray,
    facing: int,
    shin_px: float,
    fraction: float,
    heel: np.ndarray | None = None,
    toe: np.ndarray | None = None,
) -> np.ndarray:
    """Midfoot x per frame, pixels: the balance point the bar should stay over.

    Midpoint of heel and toe where a model gives them ((frames, ≥2) arrays, NaN where missing),
    else ankle + fraction × standing shin length toward the toes (the foot is flat and its
    length scales with the shin; see KinematicsSettings.midfoot_fraction).
    """
    estimate = np.asarray(ankle_x, dtype=np.float64) + facing * fraction * shin_px
    if heel is None or toe is None:
        return estimate
    measured = (np.asarray(heel, dtype=np.float64)[:, 0] + np.asarray(toe, dtype=np.float64)[:, 0]) / 2
    return np.where(np.isfinite(measured), measured, estimate)


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
        return float(np.median(d[np.isfinite(d)])) if np.isfinite(d).any() else np.nan

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


def check_view(keypoints: np.ndarray, side: str, femur_px: float, settings: KinematicsSettings) -> ViewCheck:
    """Side, oblique or front camera, from two cues that need no calibration.

    - hip_width_femur: apparent distance between the hips / femur. Side-on the hips overlap (≈0.02
      on the synth clips); a 45° camera shows ≈0.37, a front camera ≈0.6 (needs both hips).
    - thigh_in_plane: at depth the thigh reaches forward; its horizontal reach in the image vs
      what a thigh of the standing femur length would show at the same vertical drop,
      sqrt(femur² − drop²). 1 when the thigh moves in the image plane; ≈cos of how far it points
      at the camera (synth: 0.87 side-on with 20° toe-out, 0.29 at 45°). Needs the camera-side leg only.
    The less side-on verdict of the available cues wins.
    """
    s, o = _side_letters(side)
    xy = _xy(keypoints)
    hip_width = _length(xy[:, J[f"{s}_hip"]], xy[:, J[f"{o}_hip"]]) / femur_px
    hip_width_femur = float(np.nanmedian(hip_width)) if np.isfinite(hip_width).any() else np.nan

    hip, knee = xy[:, J[f"{s}_hip"]], xy[:, J[f"{s}_knee"]]
    drop = np.abs(hip[:, 1] - knee[:, 1])
    expected = np.sqrt(np.clip(femur_px**2 - drop**2, 0.0, None))
    deep = np.isfinite(drop) & np.isfinite(hip[:, 0]) & np.isfinite(knee[:, 0])
    deep &= expected >= settings.view_min_thigh_reach * femur_px  # thigh well off vertical
    thigh = float(np.median(np.abs(hip[deep, 0] - knee[deep, 0]) / expected[deep])) if deep.any() else np.nan

    verdicts = []
    # A thigh swinging in the image plane shows a side-on camera even where the far hip (hidden,
    # so guessed by the network, or pushed apart by a close camera's perspective) reads wider.
    in_plane = np.isfinite(thigh) and thigh >= settings.side_view_thigh_in_plane
    max_hip_width = settings.side_view_max_hip_width_in_plane if in_plane else settings.side_view_max_hip_width
    if not settings.far_hip_guessed:  # a model that sees the far hip: geometry alone
        max_hip_width = settings.side_view_max_hip_width_seen
    if np.isfinite(hip_width_femur):
        verdicts.append(
            "side" if hip_width_femur < max_hip_width
            else "front" if hip_width_femur >= settings.front_view_min_hip_width
            else "oblique"
        )
    if np.isfinite(thigh):
        verdicts.append("side" if thigh >= settings.side_view_min_thigh else "oblique")
    order = ("side", "oblique", "front")
    view = max(verdicts, key=order.index) if verdicts else "side"
    if not verdicts:
        warning = "Could not check the camera view (no depth and never both hips): film side-on at hip height."
    elif view == "side":
        warning = ""
    else:
        seen = [f"{label} {value:.2f}" for label, value in (("hip width", hip_width_femur), ("thigh in plane", thigh))
                if np.isfinite(value)]
        warning = (
            f"Camera looks {view}, not side-on ({', '.join(seen)}): knee and hip angles, trunk lean, "
            "moment arms and depth (hip below knee) are distorted. Film from the side at hip height."
        )
    return ViewCheck(view=view, hip_width_femur=hip_width_femur, thigh_in_plane=thigh, warning=warning)


def shoulders_from_bar(bar: np.ndarray, base: np.ndarray, facing: int, behind_deg: float) -> np.ndarray:
    """(frames, 2) a point on the trunk line, from the bar: base → bar turned forward by behind_deg.

    The bar sits on the upper back, behind the shoulder joints, so the line from the hips to the
    bar runs a few degrees more upright than the trunk; turning it forward (toward `facing`)
    gives the trunk's direction. NaN where the bar or the base is missing.
    """
    a = np.radians(behind_deg) * facing
    d = np.asarray(bar, dtype=np.float64) - base
    # Image axes (x right, y down): this turns "up" (0, -1) toward +x for a positive angle.
    turned = np.column_stack([d[:, 0] * np.cos(a) - d[:, 1] * np.sin(a), d[:, 0] * np.sin(a) + d[:, 1] * np.cos(a)])
    return base + turned


def trunk_line_hip(model_hip: np.ndarray, hip: np.ndarray, knee: np.ndarray,
                   on_thigh: tuple[float, float]) -> np.ndarray:
    """(F, 2) where the trunk line starts: the model's hip while it rides up the back, moving to
    `hip` (the bone-length hip) as the model's hip slides down the thigh, i.e. comes nearer the
    knee than `on_thigh` (start, full) × the femur seen now (|hip − knee|)."""
    femur_now = np.hypot(*(hip - knee).T)
    with np.errstate(invalid="ignore", divide="ignore"):
        reach = np.hypot(*(model_hip - knee).T) / femur_now
    start, full = on_thigh
    weight = np.nan_to_num(np.clip((start - reach) / (start - full), 0.0, 1.0))
    step = np.nan_to_num(hip - model_hip)
    return model_hip + weight[:, None] * step


def compute_kinematics(
    keypoints: np.ndarray,
    time_s: np.ndarray,
    settings: KinematicsSettings = KinematicsSettings(),
    heel: np.ndarray | None = None,
    toe: np.ndarray | None = None,
    bar: np.ndarray | None = None,
    trunk_hip: np.ndarray | None = None,
    bar_px_per_m: float = float("nan"),
    hip_high_femur: float = 0.0,
) -> Kinematics:
    """Per-frame angles (deg), moment arms (px and × femur) and heights (px) of the camera-side leg.

    heel, toe: optional (frames, 2+) pixels of the camera-side foot, for models that give feet.
    bar: optional (frames, 2) pixels of the bar (the plate's centre, squat.measure.plate), NaN where not
    seen: where present it gives the trunk line (see shoulders_from_bar), which a plate hides
    from the pose model, unless settings.torso_from_bar is off (a model that sees the shoulders
    behind the plate); bar_x, bar_y and bar_midfoot (bar ahead of the midfoot, px) are added.
    trunk_hip: optional (frames, 2) the model's hip, when the hips were moved (squat.measure.bones): the
    trunk line is drawn from it while it rides up along the back (it stays on the trunk line
    while no longer being the hip), from the moved hip where it slid down the thigh
    (trunk_line_hip); default the trunk base (mid-hip).
    frames columns: time_s, knee_angle, hip_angle, shin_angle, trunk_lean, thigh_angle (thigh
    against horizontal, + when the hip is below the knee), hip_moment_arm, knee_moment_arm (px,
    unsigned horizontal distance to the vertical through the midfoot), hip_moment_arm_femur,
    knee_moment_arm_femur, midfoot_x, hip_x, hip_y, knee_y, shoulder_y (neck or shoulder).
    bar_px_per_m: the scale at the bar (squat.measure.plate.pixels_per_metre_at_bar): adds bar_midfoot_cm.
    hip_high_femur: the pose model's standing hip bias (see segment_proportions).
    """
    keypoints = np.asarray(keypoints)
    if keypoints.ndim != 3 or keypoints.shape[1:] != (18, 3):
        raise ValueError(f"keypoints must be (frames, 18, 3), got {keypoints.shape}")
    time_s = np.asarray(time_s, dtype=np.float64)
    if time_s.shape != (keypoints.shape[0],):
        raise ValueError(f"time_s must be ({keypoints.shape[0]},), got {time_s.shape}")

    side = with_side(keypoints, settings).side
    facing = facing_direction(keypoints, side)
    pts = body_points(keypoints, side)
    if bar is not None and settings.torso_from_bar:
        base = pts[:, P["trunk_base"]]
        line_from = base if trunk_hip is None else trunk_line_hip(
            np.asarray(trunk_hip, dtype=np.float64), pts[:, P["hip"]], pts[:, P["knee"]], settings.hip_on_thigh_femur)
        proxy = base + shoulders_from_bar(bar, line_from, facing, settings.bar_behind_trunk_deg) - line_from
        seen = np.isfinite(proxy).all(axis=1)
        for name in ("shoulder", "trunk_top"):
            pts[seen, P[name]] = proxy[seen]
    angles = joint_angles(pts, facing)
    props = segment_proportions(keypoints, side, angles["knee_angle"], settings, bar, hip_high_femur)
    view = check_view(keypoints, side, props.femur_px, settings)

    hip, knee, ankle = pts[:, P["hip"]], pts[:, P["knee"]], pts[:, P["ankle"]]
    mid = midfoot_x(ankle[:, 0], facing, props.shin_px, settings.midfoot_fraction, heel, toe)
    hip_arm = np.abs(hip[:, 0] - mid)
    knee_arm = np.abs(knee[:, 0] - mid)
    # Thigh against horizontal: how far the hip sits below (+) or above (−) the knee, degrees.
    thigh = np.degrees(np.arctan2(hip[:, 1] - knee[:, 1], np.abs(hip[:, 0] - knee[:, 0])))
    frames = pd.DataFrame(
        {
            "time_s": time_s,
            **angles,
            "thigh_angle": thigh,
            "hip_moment_arm": hip_arm,
            "knee_moment_arm": knee_arm,
            "hip_moment_arm_femur": hip_arm / props.femur_px,
            "knee_moment_arm_femur": knee_arm / props.femur_px,
            "midfoot_x": mid,
            "hip_x": hip[:, 0],
            "hip_y": pts[:, P["hip_any"], 1],
            "knee_y": knee[:, 1],
            "shoulder_y": pts[:, P["trunk_top"], 1],
        }
    )
    if bar is not None:
        frames["bar_x"], frames["bar_y"] = bar[:, 0], bar[:, 1]
        frames["bar_midfoot"] = facing * (bar[:, 0] - mid)  # + ahead of the midfoot
        frames["bar_midfoot_cm"] = 100.0 * frames["bar_midfoot"] / bar_px_per_m
    return Kinematics(frames=frames, side=side, facing=facing, proportions=props, view=view)
