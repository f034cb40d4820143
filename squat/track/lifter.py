"""From per-frame detections to one lifter's keypoint track.

The lifter is chosen once for the whole clip (largest, most present, most central
person), so a spotter or someone walking past never takes over the skeleton.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from squat.pose.detections import Detections
from squat.settings import TrackingSettings
from squat.skeleton import MIRROR, N_JOINTS, J

HIPS = [J["r_hip"], J["l_hip"]]
# Weight of a track's mean distance from the frame centre in its score: a lifter
# filmed slightly off-centre still wins over a bystander of the same size.
CENTRALITY_WEIGHT = 0.5
# Two fragments of one body (e.g. a leg chain cut off from the trunk by a plate)
# are merged when their nearest joints are closer than this × the larger body size.
FRAGMENT_MERGE_DISTANCE = 0.75
# Matching cost added for the share of a track's known joints a detection lacks: a stray
# arm fragment that fits three joints perfectly must not beat the whole body beside it.
COVERAGE_WEIGHT = 0.3


def body_centre_and_size(keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre (P, 2) and size (P,) in pixels of each person: median joint and bounding-box diagonal
    (NaN for a person with no joint). np.nanmedian's answer, 5x sooner on a few people: tracking
    asks for it every frame (speed log §31)."""
    xy = keypoints[..., :2]
    ordered = np.sort(xy, axis=1)  # NaN sorts last
    seen = np.count_nonzero(~np.isnan(ordered), axis=1)[:, None, :]  # (P, 1, 2)
    low = np.take_along_axis(ordered, np.maximum(seen - 1, 0) // 2, axis=1)[:, 0]
    high = np.take_along_axis(ordered, seen // 2, axis=1)[:, 0]  # NaN where none seen
    centre = ((low + high) / 2).astype(xy.dtype)
    span = np.fmax.reduce(xy, axis=1) - np.fmin.reduce(xy, axis=1)  # NaN, without a warning, where none seen
    return centre, np.hypot(span[:, 0], span[:, 1])


def merge_fragments(det: Detections, body_size: float = 0.0) -> Detections:
    """Join people that share no joint and sit close together: one body split by an occluder.

    Close = nearest joints within FRAGMENT_MERGE_DISTANCE × the larger of the two pieces, or of
    body_size (the clip's whole-body size, clip_body_size): at the bottom of a squat a plate can
    leave only the legs and the head, pieces too small to measure the gap between them by."""
    kps, scores = det.keypoints.copy(), det.scores.copy()
    alive = list(range(len(kps)))
    merged = True
    while merged:
        merged = False
        centre, size = body_centre_and_size(kps[alive]) if alive else (None, None)
        for a_i, a in enumerate(alive):
            for b_i in range(a_i + 1, len(alive)):
                b = alive[b_i]
                has_a, has_b = ~np.isnan(kps[a, :, 0]), ~np.isnan(kps[b, :, 0])
                if (has_a & has_b).any():
                    continue
                scale = max(size[a_i], size[b_i], body_size, 1.0)
                if _nearest_joint_distance(kps[a], kps[b]) > FRAGMENT_MERGE_DISTANCE * scale:
                    continue
                kps[a, has_b] = kps[b, has_b]
                scores[a] = max(scores[a], scores[b])
                alive.pop(b_i)
                merged = True
                break
            if merged:
                break
    return Detections(kps[alive], scores[alive])


def clip_body_size(frames: list[Detections]) -> float:
    """The size (bounding-box diagonal, px) of the clip's whole people: the 90th percentile of every
    detection's size (pieces are the smaller ones); 0 without detections."""
    sizes = np.concatenate([body_centre_and_size(d.keypoints)[1] for d in frames if len(d.scores)] or [np.zeros(0)])
    sizes = sizes[np.isfinite(sizes)]
    return float(np.percentile(sizes, 90)) if len(sizes) else 0.0


def _nearest_joint_distance(a: np.ndarray, b: np.ndarray) -> float:
    pa, pb = a[~np.isnan(a[:, 0]), :2], b[~np.isnan(b[:, 0]), :2]
    if not len(pa) or not len(pb):
        return np.inf
    return float(np.linalg.norm(pa[:, None] - pb[None], axis=2).min())


def pose_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean pixel distance between the joints two poses share (either left/right labelling).

    Comparing shared joints, not body centres, keeps a person matched when parts come and
    go: at depth a lifter may be seen as legs only, which moves the centre but not the knees.
    """
    dist = np.inf
    a, b = a[:N_JOINTS], b[:N_JOINTS]  # the body decides; foot points follow their ankles
    for other in (b, b[list(MIRROR)]):
        d = np.linalg.norm(a[:, :2] - other[:, :2], axis=1)
        d = d[~np.isnan(d)]
        if len(d):
            dist = min(dist, float(d.mean()))
    if np.isinf(dist):  # nothing shared: compare centres
        (ca, cb), _ = body_centre_and_size(np.stack([a, b]))
        dist = float(np.linalg.norm(ca - cb))
    return dist


def link_tracks(frames: list[Detections], time_s: np.ndarray, settings: TrackingSettings) -> list[dict[int, int]]:
    """Greedy frame-to-frame association; returns tracks as {frame: detection index}."""
    tracks: list[dict[int, int]] = []
    last: dict[int, tuple[int, np.ndarray, float]] = {}  # live tracks: frame, last seen joints, size
    for f, det in enumerate(frames):
        if len(det.scores) == 0:
            continue
        # Tracks unseen for too long end here, so a long clip's work stays per frame, not per track ever made.
        last = {t: v for t, v in last.items() if time_s[f] - time_s[v[0]] <= settings.max_track_gap_s}
        _, size = body_centre_and_size(det.keypoints)
        candidates = []
        for t, (lf, lkp, ls) in last.items():
            known = (~np.isnan(lkp[:, 0])).sum()
            for p in range(len(det.scores)):
                d = pose_distance(det.keypoints[p], lkp) / max(size[p], ls, 1.0)
                if d < settings.max_jump:
                    shared = (~np.isnan(det.keypoints[p, :, 0]) & ~np.isnan(lkp[:, 0])).sum()
                    candidates.append((d + COVERAGE_WEIGHT * (1 - shared / max(known, 1)), t, p))
        taken_t, taken_p = set(), set()
        for _, t, p in sorted(candidates):
            if t in taken_t or p in taken_p:
                continue
            tracks[t][f] = p
            kp = det.keypoints[p]
            last[t] = (f, np.where(np.isnan(kp), last[t][1], kp), max(size[p], 0.8 * last[t][2]))
            taken_t.add(t)
            taken_p.add(p)
        for p in range(len(det.scores)):
            if p not in taken_p:
                last[len(tracks)] = (f, det.keypoints[p].copy(), size[p])
                tracks.append({f: p})
    return tracks


def track_score(track: dict[int, int], frames: list[Detections], width: float, height: float) -> float:
    """Presence × size × centrality: the lifter fills the frame, stays in it, and stands near its middle."""
    kps = np.stack([frames[f].keypoints[p] for f, p in track.items()])
    centre, size = body_centre_and_size(kps)
    off_centre = np.abs(centre[:, 0] - width / 2) / (width / 2)
    return float(np.nansum(size / height * (1 - CENTRALITY_WEIGHT * np.clip(off_centre, 0, 1))))


def mean_hip(keypoints: np.ndarray) -> np.ndarray:
    """(F, 2) per frame the mean of the hips seen (side-on one often hides the other); NaN where neither."""
    with warnings.catch_warnings():  # frames without a hip are normal
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.asarray(keypoints, dtype=np.float64)[:, HIPS, :2], axis=1)


def hip_dip(track: dict[int, int], frames: list[Detections]) -> float:
    """How far the hips go down and up over the track, as a fraction of the person's standing size."""
    kps = np.stack([frames[f].keypoints[p] for f, p in track.items()])
    hip_y = mean_hip(kps)[:, 1]
    _, size = body_centre_and_size(kps)
    if np.isfinite(hip_y).sum() < 2 or not np.isfinite(size).any():
        return 0.0
    low, high = np.nanpercentile(hip_y, [5, 95])
    return float((high - low) / max(np.nanpercentile(size, 90), 1.0))


@dataclass(frozen=True)
class Lifter:
    """The chosen person: keypoints (F, 18 or 22, 3), NaN where not found; how strongly they won."""

    keypoints: np.ndarray
    score: float  # presence × size × centrality of the chosen track (0 when nobody was found)
    squats: bool  # the hips dip like a squat


def find_lifter(frames: list[Detections], time_s: np.ndarray, width: float, height: float,
                settings: TrackingSettings) -> Lifter:
    """Choose the lifter once for the clip and collect their detections frame by frame.

    A squat check follows the person who squats: tracks whose hips dip like a squat rank
    first, then presence × size × centrality decides (a bystander, a spotter standing by
    and a passer-by all lose to the lifter).
    """
    body = clip_body_size(frames)
    frames = [merge_fragments(d, body) for d in frames]
    tracks = link_tracks(frames, time_s, settings)
    n_points = max((d.keypoints.shape[1] for d in frames), default=N_JOINTS)  # 22 with foot points
    out = np.full((len(frames), n_points, 3), np.nan, np.float32)
    if not tracks:
        return Lifter(out, 0.0, False)
    scores = np.array([track_score(t, frames, width, height) for t in tracks])
    substantial = scores >= settings.min_track_share * scores.max()
    squats = np.array([hip_dip(t, frames) >= settings.squat_dip for t in tracks]) & substantial
    order = np.lexsort((-scores, ~squats))
    chosen = dict(tracks[order[0]])
    # Pieces of the lifter's path that tracking cut off (a long occlusion, a mislabelled
    # frame) fill the frames the lifter is missing when they sit where the lifter was.
    # Repeated until nothing joins: a piece that joins can bring the next one within reach.
    left = [tracks[t] for t in order[1:]]
    while True:
        whole = [t for t in left if _continues(chosen, t, frames, time_s, settings)]
        left = [t for t in left if all(t is not w for w in whole)]
        span = min(chosen), max(chosen)
        pieces = [p for t in left for p in _outside(t, *span) if _continues(chosen, p, frames, time_s, settings)]
        if not whole and not pieces:
            break
        for t in whole + pieces:
            chosen.update({f: p for f, p in t.items() if f not in chosen})
    for f, p in chosen.items():
        out[f, : frames[f].keypoints.shape[1]] = frames[f].keypoints[p]
    return Lifter(out, float(scores[order[0]]), bool(squats[order[0]]))


def select_lifter(frames: list[Detections], time_s: np.ndarray, width: float, height: float,
                  settings: TrackingSettings) -> np.ndarray:
    """The lifter's raw keypoints (F, 18 or 22, 3), NaN in frames where they were not found."""
    return find_lifter(frames, time_s, width, height, settings).keypoints


def _continues(chosen: dict[int, int], other: dict[int, int], frames: list[Detections], time_s: np.ndarray,
               settings: TrackingSettings) -> bool:
    """Whether `other` is the chosen person again: it starts where the chosen track left off, or
    ends where it resumes, within max_rejoin_gap_s, and where both are seen at once they lie on
    one body (the network found the lifter twice). A person seen beside the lifter is someone
    else: a walker crossing in front would otherwise fill the frames where they hide the lifter."""
    both = [f for f in other if f in chosen]
    if both and np.median([_apart(frames[f].keypoints[other[f]], frames[f].keypoints[chosen[f]]) for f in both]) \
            >= settings.max_jump:
        return False
    chosen_frames = np.array(sorted(chosen))
    first, last = min(other), max(other)
    before = chosen_frames[chosen_frames < first]
    after = chosen_frames[chosen_frames > last]
    for mine, near in ((first, before[-1] if len(before) else None), (last, after[0] if len(after) else None)):
        if near is None or abs(time_s[mine] - time_s[near]) > settings.max_rejoin_gap_s:
            continue
        if _apart(frames[mine].keypoints[other[mine]], frames[near].keypoints[chosen[near]]) < settings.max_jump:
            return True
    return False


def _outside(track: dict[int, int], first: int, last: int) -> list[dict[int, int]]:
    """The parts of a track before the chosen one's first frame and after its last (first, last),
    where it holds other frames too. Linking can follow the lifter up to where the chosen track begins and then
    wander to someone else (side_bb_gym_greenplate: the lifter's legs under the bar, then a person
    behind the rack): the lifter's part joins on its own, as _continues judges it."""
    parts = ({f: p for f, p in track.items() if f < first}, {f: p for f, p in track.items() if f > last})
    return [part for part in parts if part and len(part) < len(track)]


def _apart(a: np.ndarray, b: np.ndarray) -> float:
    """pose_distance of two poses over their larger body size: under max_jump, one person."""
    _, size = body_centre_and_size(np.stack([a, b]))
    return pose_distance(a, b) / max(float(np.nanmax(size)) if np.isfinite(size).any() else 1.0, 1.0)
