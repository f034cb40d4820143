"""Joint angles, moment arms and the camera view of a side-view squat, per frame.

Measured on the leg facing the camera of a `Body` (squat.measure.body). Units: degrees, seconds,
pixels, or body-relative (× femur).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from squat.measure.body import Body, Proportions, measure_body
from squat.measure.plate import bar_columns
from squat.measure.points import P, _length, _side_letters, _xy, body_points, joint_angles
from squat.settings import KinematicsSettings
from squat.skeleton import J
from squat.track.smoothing import running_median


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
    body: Body  # the leg, facing, proportions and trunk line they were measured with
    view: ViewCheck

    @property
    def side(self) -> str:
        return self.body.side

    @property
    def facing(self) -> int:
        return self.body.facing

    @property
    def proportions(self) -> Proportions:
        return self.body.proportions


def midfoot_x(
    ankle_x: np.ndarray,
    facing: int,
    shin_px: float,
    fraction: float,
    heel: np.ndarray | None = None,
    toe: np.ndarray | None = None,
    toe_short: float = 0.0,
) -> np.ndarray:
    """Midfoot x per frame, pixels: the balance point the bar should stay over.

    Midpoint of heel and toe where a model gives them ((frames, ≥2) arrays, NaN where missing),
    the toe moved forward by toe_short × shin (the model's measured shortfall), else ankle +
    fraction × standing shin length toward the toes (the foot is flat and its length scales with
    the shin; see KinematicsSettings.midfoot_fraction).
    """
    estimate = np.asarray(ankle_x, dtype=np.float64) + facing * fraction * shin_px
    if heel is None or toe is None:
        return estimate
    toe_x = np.asarray(toe, dtype=np.float64)[:, 0] + facing * toe_short * shin_px
    measured = (np.asarray(heel, dtype=np.float64)[:, 0] + toe_x) / 2
    return np.where(np.isfinite(measured), measured, estimate)


def planted(x: np.ndarray, time_s: np.ndarray, window_s: float) -> np.ndarray:
    """A planted foot's line: the running median of its per-frame reads over window_s; the read
    itself where the window holds too few (a clip shorter than a third of it), NaN where the frame
    has none (window_s 0: the reads as they are)."""
    if window_s <= 0 or len(x) < 2:
        return x
    median = running_median(x[:, None], time_s, window_s)[:, 0]
    return np.where(np.isfinite(x) & np.isfinite(median), median, x)


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
    body: Body | None = None,
    toe_short_shin: float = 0.0,
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
    body: the clip's Body (squat.measure.body.measure_body); measured here from these keypoints,
    the bar and hip_high_femur when not given.
    toe_short_shin: how far the pose model's toe reads behind the truth's, × shin (midfoot_x).
    """
    keypoints = np.asarray(keypoints)
    if keypoints.ndim != 3 or keypoints.shape[1:] != (18, 3):
        raise ValueError(f"keypoints must be (frames, 18, 3), got {keypoints.shape}")
    time_s = np.asarray(time_s, dtype=np.float64)
    if time_s.shape != (keypoints.shape[0],):
        raise ValueError(f"time_s must be ({keypoints.shape[0]},), got {time_s.shape}")

    body = body or measure_body(keypoints, settings, bar=bar, hip_high_femur=hip_high_femur)
    side, facing, props = body.side, body.facing, body.proportions
    pts = body_points(keypoints, side)
    if bar is not None and body.trunk_line == "bar":
        base = pts[:, P["trunk_base"]]
        line_from = base if trunk_hip is None else trunk_line_hip(
            np.asarray(trunk_hip, dtype=np.float64), pts[:, P["hip"]], pts[:, P["knee"]], settings.hip_on_thigh_femur)
        proxy = base + shoulders_from_bar(bar, line_from, facing, settings.bar_behind_trunk_deg) - line_from
        seen = np.isfinite(proxy).all(axis=1)
        for name in ("shoulder", "trunk_top"):
            pts[seen, P[name]] = proxy[seen]
    angles = joint_angles(pts, facing)
    view = check_view(keypoints, side, props.femur_px, settings)

    hip, knee, ankle = pts[:, P["hip"]], pts[:, P["knee"]], pts[:, P["ankle"]]
    mid = planted(midfoot_x(ankle[:, 0], facing, props.shin_px, settings.midfoot_fraction, heel, toe, toe_short_shin),
                  time_s, settings.midfoot_window_s)
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
        frames = frames.assign(**bar_columns(bar, mid, facing, bar_px_per_m))
    return Kinematics(frames=frames, body=body, view=view)
