"""How large the network sees the frame: the scale at which the lifter is the size the model reads best.

The small OpenPose reads a person best when they are ~110-140 px tall in its input: a
side-view lifter filling a 1080p frame is misread when seen larger, and a lifter filling a
quarter of the frame is missed when the whole frame is shrunk to the usual size. So a
quick look at a few frames finds the lifter and their height, and the full pass sees the
whole frame (the network needs the context: tight crops were worse on the rendered side
views) at the scale that makes the lifter person_height_px tall.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from squat.errors import VideoError
from squat.io.seek import count_frames, frames_as_decoded
from squat.io.video import Frame, VideoInfo, iter_frames
from squat.pose.detections import Detections
from squat.pose.estimator import Letterbox, PoseEstimator, fit
from squat.settings import PoseSettings, TrackingSettings
from squat.skeleton import J
from squat.track.lifter import Lifter, find_lifter


def sample_indices(frame_count: int, n: int) -> np.ndarray:
    """n frame indices spread evenly over the clip (all of them for a short clip)."""
    return np.unique(np.linspace(0, max(frame_count - 1, 0), min(n, max(frame_count, 1))).round().astype(int))


# Standing height (nose to ankle keypoints) over the leg (hip → knee → ankle keypoints): the
# rendered bodies' COCO keypoints give shin 0.21-0.24 and femur 0.21-0.26 of stature, and the
# keypoints span ~0.9 of it, so ≈ 1.9. Where a plate hides the head and trunk only the legs
# are seen, and their extent alone read a 370 px lifter as 186 px tall (a render, 960×540).
HEIGHT_OVER_LEG = 1.9
# A person whose keypoints span less than this × their leg is seen as legs only (hips to feet
# span ~1 leg; with the trunk up to the shoulders ~1.5).
LEGS_ONLY_EXTENT = 1.3


def lifter_height(keypoints: np.ndarray) -> float | None:
    """The lifter's standing height in pixels: the 90th percentile over the frames they were seen
    of their keypoints' vertical extent, or of HEIGHT_OVER_LEG × their longer leg where the clip
    shows only the legs (a plate hiding the head and trunk)."""
    xy = np.asarray(keypoints, np.float64)[..., :2]
    seen = np.isfinite(xy[..., 1]).sum(axis=1) >= 2
    if not seen.any():
        return None
    xy = xy[seen]
    extent = np.nanmax(xy[:, :, 1], axis=1) - np.nanmin(xy[:, :, 1], axis=1)
    legs = [np.linalg.norm(xy[:, J[f"{s}_hip"]] - xy[:, J[f"{s}_knee"]], axis=1)
            + np.linalg.norm(xy[:, J[f"{s}_knee"]] - xy[:, J[f"{s}_ankle"]], axis=1) for s in "rl"]
    with np.errstate(invalid="ignore"):
        leg = np.fmax(legs[0], legs[1])
    # Only where the clip shows little more than the legs: with the trunk in view the extent is
    # the measure person_height_px was chosen with (on renders whose plate hides the head).
    height = float(np.percentile(extent, 90))
    long_leg = float(np.nanpercentile(leg, 90)) if np.isfinite(leg).any() else np.nan
    if height < LEGS_ONLY_EXTENT * long_leg:  # False where no leg was seen (NaN)
        height = HEIGHT_OVER_LEG * long_leg
    return height if height > 0 else None


def frame_lifter(lifter: Lifter, frame_size: tuple[int, int], settings: PoseSettings) -> Letterbox | None:
    """The whole frame at the scale that shows this lifter person_height_px tall."""
    height = lifter_height(lifter.keypoints)
    if height is None:
        return None
    long_side = max(frame_size) * settings.person_height_px / height
    return fit(frame_size, int(np.clip(long_side, settings.min_long_side, settings.max_long_side)))


# The scout's frames are kept this small (long side, px) for a first look for the plate:
# 24 of them are ~37 MB whatever the clip's size.
KEPT_LONG_SIDE = 960


@dataclass(frozen=True, eq=False)
class Scouted:
    """What the scout saw: the framing for the full pass, and the lifter in its frames."""

    box: Letterbox | None  # None: nobody found (the full pass looks at the whole frame)
    lifter: np.ndarray | None  # (N, J, 3) the lifter in the scout's frames, frame pixels
    images: tuple[np.ndarray, ...] = ()  # those frames, shrunk by image_scale (KEPT_LONG_SIDE)
    image_scale: float = 1.0


def scout_frame_count(duration_s: float, settings: PoseSettings) -> int:
    """How many frames the scout looks at: scout_frames, but never more than the pass will read
    (a clip of a second or less at network_hz: its first look would cost more than the pass)."""
    if settings.network_hz <= 0 or not np.isfinite(duration_s) or duration_s <= 0:
        return settings.scout_frames
    reads = math.ceil(duration_s * settings.network_hz - 1e-6)  # 0.4 s × 15 is 6.000000000000001: 6 reads
    return int(min(settings.scout_frames, max(1, reads)))


def scout_clip(video: str | Path, info: VideoInfo, estimator: PoseEstimator, tracking: TrackingSettings
               ) -> Scouted:
    """Look at a few frames at a couple of scales, find the lifter, and frame them for the full pass."""
    settings = estimator.settings
    wanted = sample_indices(info.frame_count, scout_frame_count(info.duration_s, settings))
    # Seek to them rather than decode the clip (issue 13). The header's count can exceed the
    # frames decoded (an edit list cuts some): those past the end are skipped, as before.
    wanted = wanted[wanted < count_frames(video)]
    sides = sorted(settings.scout_long_sides)
    frames, first_look = _first_look(video, wanted, estimator, sides[0])
    images, times = [f.image for f in frames], [f.time_s for f in frames]
    if not images:
        return Scouted(None, None)
    shape, best = images[0].shape[:2], None
    can_squat = times[-1] - times[0] >= SHORTEST_SQUAT_S
    for long_side in sides:
        box = fit(shape, long_side)
        lifter = _look(images, times, info, estimator, tracking, box, first_look if long_side == sides[0] else None)
        if best is None or (lifter.squats, lifter.score) > (best.squats, best.score):
            best = lifter
        if seen_well(best, box, settings, can_squat):
            break  # the larger looks are for small lifters (and cost 4x this one)
    framing = frame_lifter(best, shape, settings)
    if framing is None and settings.scout_close_long_side:
        # Nobody at those sizes: a lifter filling the frame (a still, deep in a rep). The pass reads
        # them at the size they were found at: one crouched frame's height would frame them too large.
        framing = fit(shape, settings.scout_close_long_side)
        best = _look(images, times, info, estimator, tracking, framing)
        if lifter_height(best.keypoints) is None:
            return Scouted(None, None)
    if framing is None:
        return Scouted(None, None)
    h, w = shape
    scale = min(1.0, KEPT_LONG_SIDE / max(h, w))
    kept = tuple(cv2.resize(im, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
                 if scale < 1 else im for im in images)
    return Scouted(framing, best.keypoints, kept, scale)


def _first_look(video: str | Path, wanted: np.ndarray, estimator: PoseEstimator, long_side: int
                ) -> tuple[list[Frame], list[Detections]]:
    """The scout's frames (in order) and the people in them at the smallest look, each looked at as
    soon as it is decoded: the network runs while the later frames decode (speed log §31)."""
    seen: dict[int, tuple[Frame, Detections]] = {}
    box: Letterbox | None = None

    def look(frame: Frame) -> None:
        nonlocal box
        box = box or fit(frame.image.shape[:2], long_side)
        seen[frame.index] = frame, estimator.detect([frame.image], box)[0]

    try:
        for frame in frames_as_decoded(video, wanted):
            look(frame)
    except VideoError:  # the file's packets promise frames its damage does not decode: those there are
        keep = set(wanted.tolist()) - set(seen)
        with iter_frames(video) as reader:
            for frame in reader:
                if frame.index in keep:
                    look(frame)
    ordered = [seen[i] for i in sorted(seen)]
    return [frame for frame, _ in ordered], [people for _, people in ordered]


def _look(images: list[np.ndarray], times: list[float], info: VideoInfo, estimator: PoseEstimator,
          tracking: TrackingSettings, box: Letterbox, seen: list[Detections] | None = None) -> Lifter:
    """The lifter in the scout's frames, seen through `box` (the people in them where already `seen`)."""
    detections = seen if seen is not None else [estimator.detect([im], box)[0] for im in images]
    return find_lifter(detections, np.asarray(times), info.width, info.height, scout_tracking(times, tracking))


def scout_tracking(times: list[float], tracking: TrackingSettings) -> TrackingSettings:
    """Tracking across the scout's frames: one look and the next are linked however far apart they
    are. Its frames are 1.3 s apart on a 30 s set, beyond max_track_gap_s (1 s): each look started
    everyone's track afresh, nobody squatted, and the scout looked again at four times the cost.
    A clip under ~24 s (its looks at most 1 s apart) is tracked as before."""
    if len(times) < 2:
        return tracking
    spacing = float(np.median(np.diff(times)))
    return replace(tracking, max_track_gap_s=max(tracking.max_track_gap_s, 1.5 * spacing))


# A squatting lifter seen at least this × person_height_px tall in a look is read well enough
# there to be framed from it: larger looks only misread them (the plate-hidden body).
SEEN_WELL = 0.75
# Seconds a clip must last to hold a squat's dip (a fast rep down and up). A shorter clip (a still,
# part of a rep) cannot show one, so there the person seen is the lifter, squatting or not.
SHORTEST_SQUAT_S = 1.0


def seen_well(lifter: Lifter, box: Letterbox, settings: PoseSettings, can_squat: bool = True) -> bool:
    """Whether the scout can stop: the lifter was found (squatting, where the clip is long enough
    to show a squat), tall enough in this look's input."""
    height = lifter_height(lifter.keypoints) if lifter.squats or not can_squat else None
    return height is not None and height * box.scale >= SEEN_WELL * settings.person_height_px
