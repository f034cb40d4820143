"""A second look where the lifter is lost: those frames read again with the lifter at other sizes.

The network finds a person best at one size in its input, and the size that suits the whole clip
can miss them in a few frames: a plate over the head as they stand under the bar, a crouched
frame the larger read misreads. Where the lifter is found before and after such frames, those
frames (only those) are read again with the lifter smaller or larger in the input; a read is kept
where it gives the lifter back, the frame's first read otherwise.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from squat.errors import VideoError
from squat.io.seek import frames_as_decoded
from squat.passes import PoseTrack
from squat.pose.detections import Detections
from squat.pose.estimator import Letterbox, PoseEstimator, fit
from squat.settings import Settings
from squat.track.lifter import select_lifter

# A factor the input's bounds pull this close to 1 would read the frame as the pass did.
SAME_SIZE = 0.05


def lost_reads(lifter: np.ndarray) -> np.ndarray:
    """The reads (indices into the pass) without the lifter between the first and the last with
    them: before and after, the lifter may simply not be there yet, or have left."""
    seen = np.isfinite(lifter[..., 0]).any(axis=1)
    found = np.flatnonzero(seen)
    if found.size < 2:
        return np.zeros(0, np.int64)
    inside = np.arange(found[0] + 1, found[-1])
    return inside[~seen[inside]]


def look_box(frame_size: tuple[int, int], box: Letterbox, factor: float, max_long_side: int) -> Letterbox | None:
    """The pass's box at factor × its scale, its long side at most max_long_side; None where that
    leaves it about the pass's own size. A smaller look may go below the pass's lower bound on the
    input (`min_long_side`, there for the detail a whole clip is read with): it only reads the few
    frames the pass found nobody in (on the tuning renders read at that bound, 0.75 × gave the
    lifter back where the bound kept it; docs/accuracy-log.md §33)."""
    long_side = max(frame_size) * box.scale
    wanted = min(long_side * factor, max_long_side)
    if abs(wanted / long_side - 1) < SAME_SIZE:
        return None
    return fit(frame_size, round(wanted))


def second_look(track: PoseTrack, video: str | Path, settings: Settings, estimator: PoseEstimator) -> PoseTrack:
    """The pass with its lost reads read again at each of `pose.second_look` × its size in turn
    (each factor tries the reads still lost); a new read replaces the first only where the lifter
    is then found in it. The pass's plate circles are kept."""
    pose = settings.pose
    if not pose.second_look or track.framing is None:
        return track
    detections = list(track.detections)
    frames = track.network_frames if track.network_frames is not None else np.arange(len(detections))
    size = (track.video.height, track.video.width)
    lifter = select_lifter(detections, track.seen_s, track.video.width, track.video.height, settings.tracking)
    lost, taken = lost_reads(lifter), 0
    for factor in pose.second_look:
        if not lost.size:
            break
        box = look_box(size, track.framing, factor, pose.max_long_side)
        if box is None:
            continue
        tried = detections.copy()
        for read, people in _read_again(video, frames, lost, box, estimator, pose.batch_frames).items():
            if len(people.scores):
                tried[read] = people
        lifter = select_lifter(tried, track.seen_s, track.video.width, track.video.height, settings.tracking)
        back = np.isfinite(lifter[lost, :, 0]).any(axis=1)
        for read in lost[back]:
            detections[read] = tried[read]
        taken += int(back.sum())
        lost = lost[~back]
    if not taken:
        return track
    return replace(track, detections=tuple(detections), second_looks=track.second_looks + taken)


def _read_again(video: str | Path, frames: np.ndarray, reads: np.ndarray, box: Letterbox,
                estimator: PoseEstimator, batch: int) -> dict[int, Detections]:
    """The people in these reads' frames seen through `box`, by read index."""
    read_of = {int(frames[r]): int(r) for r in reads}
    found: dict[int, Detections] = {}
    pending: list = []

    def run() -> None:
        for frame, people in zip(pending, estimator.detect([f.image for f in pending], box)):
            found[read_of[frame.index]] = people
        pending.clear()

    try:
        for frame in frames_as_decoded(video, read_of):
            pending.append(frame)
            if len(pending) == batch:
                run()
    except VideoError:  # damage the pass read past: the frames decoded are read, the rest keep their first read
        pass
    if pending:
        run()
    return found
