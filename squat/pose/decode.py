"""From network maps to people: OpenPose's bottom-up decoding as plain functions.

heatmaps (19, h, w) + PAFs (38, h, w) at stride 8
  → upsample ×f (stride 8 → 8/f)  → find_peaks per part  → score_limbs by PAF line integrals
  → group_people greedily, as OpenPose does  → People in network-input pixels.

Coordinate convention (input pixels): pixel k is centred on the integer k (covers [k - 0.5, k + 0.5]),
as in OpenCV drawing and remapping. The stride-8 cell j covers input pixels 8j … 8j + 7, so its
centre is 8j + 3.5; this is also where OpenPose / tf-pose training put the label of cell j
(`start = stride / 2 - 0.5`). cv2.resize aligns pixel centres (dst u ↔ src (u + 0.5) / f - 0.5),
so pixel u of the ×f map sits at input pixel (8 / f)·u + 4 / f - 0.5: 2u + 0.5 for f = 4.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from squat.pose.maps import STRIDE
from squat.settings import PoseSettings
from squat.skeleton import FOOT_ANKLE, FOOT_POINTS, LIMB_JOINTS, N_HEATMAPS, N_JOINTS, N_PAFS, PAF_CHANNELS


@dataclass(frozen=True, eq=False)
class People:
    """The people found in one frame, by score descending."""

    keypoints: np.ndarray  # (P, 18 or 22, 3) float32: x, y in network-input pixels, heatmap peak value; NaN row if missing
    score: np.ndarray  # (P,) float32: sum of part peak values and limb PAF scores (OpenPose's); / n_parts = mean
    n_parts: np.ndarray  # (P,) int64: joints found

    def __len__(self) -> int:
        return len(self.score)


def upsample(maps: np.ndarray, factor: int) -> np.ndarray:
    """(C, h, w) → (C, h·factor, w·factor) by bicubic interpolation, all channels in one cv2 call."""
    c, h, w = maps.shape
    if factor == 1:
        return maps
    # cv2 resizes up to 512 interleaved channels at once; it returns 2-D for a single channel.
    hwc = np.ascontiguousarray(maps.transpose(1, 2, 0), dtype=np.float32)
    out = cv2.resize(hwc, (w * factor, h * factor), interpolation=cv2.INTER_CUBIC)
    return out.reshape(h * factor, w * factor, c).transpose(2, 0, 1)


def to_input_pixels(xy: np.ndarray, factor: int) -> np.ndarray:
    """Map pixel coordinates of a ×factor upsampled stride-8 map → network-input pixels (see module doc)."""
    step = STRIDE / factor
    return xy * step + (step - 1) / 2


def find_peaks(heatmaps: np.ndarray, threshold: float) -> list[np.ndarray]:
    """Local maxima above threshold of every (H, W) map: per channel a (k, 3) float32 array x, y, value.

    x, y are sub-pixel (parabola through the 3x3 neighbourhood); value is the map at the peak pixel.
    """
    c, h, w = heatmaps.shape
    padded = np.full((c, h + 2, w + 2), -np.inf, np.float32)
    padded[:, 1:-1, 1:-1] = heatmaps
    # 3x3 max test only at pixels above threshold (~1e4 of ~1e6 with 3 people): on 18x184x328 maps it
    # beats a full 3x3 max filter (numpy shifted views ~1.5-3 ms, scipy ~6-11 ms, torch max_pool2d ~15-35 ms).
    ch, py, px = np.nonzero(padded > threshold)  # the -inf border never passes
    value = padded[ch, py, px]

    def around(dy: int, dx: int) -> np.ndarray:
        return padded[ch, py + dy, px + dx]

    # Strictly above raster-earlier neighbours, so a flat top yields one peak, not one per pixel.
    earlier = np.maximum.reduce([around(0, -1), around(-1, -1), around(-1, 0), around(-1, 1)])
    later = np.maximum.reduce([around(0, 1), around(1, -1), around(1, 0), around(1, 1)])
    keep = (value > earlier) & (value >= later)
    ch, py, px, value = ch[keep], py[keep], px[keep], value[keep]

    dx = _parabola_offset(padded[ch, py, px - 1], value, padded[ch, py, px + 1])
    dy = _parabola_offset(padded[ch, py - 1, px], value, padded[ch, py + 1, px])
    found = np.stack([px - 1 + dx, py - 1 + dy, value], axis=1).astype(np.float32)
    return np.split(found, np.searchsorted(ch, np.arange(1, c)))


def _parabola_offset(before: np.ndarray, at: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Vertex of the parabola through three samples, in [-0.5, 0.5]; 0 at the map border or when flat."""
    with np.errstate(invalid="ignore", divide="ignore"):
        offset = (before - after) / (2 * (before - 2 * at + after))
    return np.where(np.isfinite(offset), np.clip(offset, -0.5, 0.5), 0.0)


def pair_scores(a: np.ndarray, b: np.ndarray, paf_x: np.ndarray, paf_y: np.ndarray,
                settings: PoseSettings) -> np.ndarray:
    """PAF score of every candidate limb a[i] → b[j] of one limb type: (len(a), len(b)), NaN if implausible.

    a, b: (n, ≥2) x, y in map pixels; paf_x, paf_y: (H, W) the limb's field.
    Score = mean alignment of `paf_samples` points on the segment with its direction, minus OpenPose's
    penalty for limbs longer than half the map height; plausible if ≥ paf_min_fraction of the samples
    align better than paf_threshold and the score is positive.
    """
    h, w = paf_x.shape
    vec = b[None, :, :2] - a[:, None, :2]  # (na, nb, 2)
    length = np.linalg.norm(vec, axis=-1)
    unit = vec / np.maximum(length, 1e-6)[..., None]
    t = np.linspace(0.0, 1.0, settings.paf_samples, dtype=np.float32)[:, None]
    points = a[:, None, None, :2] + t * vec[:, :, None, :]  # (na, nb, samples, 2)
    px = np.clip(np.rint(points[..., 0]).astype(np.intp), 0, w - 1)
    py = np.clip(np.rint(points[..., 1]).astype(np.intp), 0, h - 1)
    align = paf_x[py, px] * unit[..., None, 0] + paf_y[py, px] * unit[..., None, 1]
    with np.errstate(divide="ignore"):
        too_long = np.minimum(0.5 * h / length - 1, 0.0)
    score = align.mean(axis=-1) + too_long
    aligned = (align > settings.paf_threshold).mean(axis=-1)
    ok = (aligned >= settings.paf_min_fraction) & (score > 0) & (length > 0)
    return np.where(ok, score, np.nan).astype(np.float32)


def score_limbs(peaks: list[np.ndarray], pafs: np.ndarray, settings: PoseSettings) -> list[np.ndarray]:
    """Per limb (LIMB_JOINTS order), its connections (k, 3): index in peaks[A], index in peaks[B], score.

    Greedy by score, each peak used at most once per limb (OpenPose's bipartite approximation).
    """
    connections = []
    for (ja, jb), (cx, cy) in zip(LIMB_JOINTS, PAF_CHANNELS):
        a, b = peaks[ja], peaks[jb]
        if len(a) == 0 or len(b) == 0:
            connections.append(np.empty((0, 3), np.float32))
            continue
        scores = pair_scores(a, b, pafs[cx], pafs[cy], settings)
        ia, ib = np.nonzero(np.isfinite(scores))
        order = np.argsort(-scores[ia, ib], kind="stable")
        chosen, used_a, used_b = [], set(), set()
        for i, j in zip(ia[order], ib[order]):  # few candidates per limb
            if i not in used_a and j not in used_b:
                chosen.append((i, j, scores[i, j]))
                used_a.add(i)
                used_b.add(j)
        connections.append(np.array(chosen, np.float32).reshape(-1, 3))
    return connections


def group_people(peaks: list[np.ndarray], connections: list[np.ndarray], settings: PoseSettings) -> People:
    """Assemble limbs into people (OpenPose's greedy pass over limbs), in the peaks' coordinates.

    A connection starts a person, extends the one owning either end, or merges two people that share
    no joint type. Only connections make people, so a lone peak never does. Kept: ≥ min_parts joints
    and a mean (part + limb score) per joint ≥ min_person_score.
    """
    members: list[np.ndarray] = []  # per person: peak index for every joint, -1 if missing
    totals: list[float] = []  # sum of part values and limb scores; NaN once merged away
    owner = [np.full(len(p), -1) for p in peaks]  # person of every peak

    for (ja, jb), limb in zip(LIMB_JOINTS, connections):
        for ia, ib, s in limb:
            ia, ib = int(ia), int(ib)
            pa, pb = owner[ja][ia], owner[jb][ib]
            if pa < 0 and pb < 0:
                row = np.full(N_JOINTS, -1)
                row[[ja, jb]] = ia, ib
                owner[ja][ia] = owner[jb][ib] = len(members)
                members.append(row)
                totals.append(peaks[ja][ia, 2] + peaks[jb][ib, 2] + s)
            elif pa >= 0 and pb >= 0:
                if pa != pb and not ((members[pa] >= 0) & (members[pb] >= 0)).any():
                    joints = np.flatnonzero(members[pb] >= 0)
                    members[pa][joints] = members[pb][joints]
                    for j in joints:
                        owner[j][members[pb][j]] = pa
                    totals[pa] += totals[pb] + s
                    totals[pb] = np.nan
            else:  # one end is free: attach it unless that person already has this joint elsewhere
                p, joint, idx = (pa, jb, ib) if pa >= 0 else (pb, ja, ia)
                if members[p][joint] < 0:
                    members[p][joint] = idx
                    owner[joint][idx] = p
                    totals[p] += peaks[joint][idx, 2] + s

    if not members:
        return _no_people()
    members_arr = np.array(members)
    total = np.array(totals, np.float32)
    n_parts = (members_arr >= 0).sum(axis=1)
    with np.errstate(invalid="ignore"):  # merged-away people carry a NaN total
        keep = np.isfinite(total) & (n_parts >= settings.min_parts) & (total / n_parts >= settings.min_person_score)
    members_arr, total, n_parts = members_arr[keep], total[keep], n_parts[keep]
    order = np.argsort(-total, kind="stable")
    members_arr, total, n_parts = members_arr[order], total[order], n_parts[order]

    keypoints = np.full((len(total), N_JOINTS, 3), np.nan, np.float32)
    for j in range(N_JOINTS):
        has = members_arr[:, j] >= 0
        keypoints[has, j] = peaks[j][members_arr[has, j]]
    return People(keypoints, total, n_parts.astype(np.int64))


def _no_people() -> People:
    return People(np.empty((0, N_JOINTS, 3), np.float32), np.empty(0, np.float32), np.empty(0, np.int64))


def attach_feet(keypoints: np.ndarray, foot_peaks: list[np.ndarray], reach: float) -> np.ndarray:
    """(P, 18, 3) people + per foot point (k, 3) peaks, all in one pixel grid → (P, 22, 3): each
    person's heel or toe is the strongest peak of that channel within `reach` × their shin
    (knee to ankle) of their own ankle on that side; NaN where none is (or no ankle)."""
    out = np.full((len(keypoints), N_JOINTS + len(FOOT_POINTS), 3), np.nan, np.float32)
    out[:, :N_JOINTS] = keypoints
    for i, (ankle, peaks) in enumerate(zip(FOOT_ANKLE, foot_peaks)):
        knee = ankle - 1  # r_knee precedes r_ankle, l_knee precedes l_ankle
        if not len(peaks):
            continue
        a, k = keypoints[:, ankle, :2], keypoints[:, knee, :2]
        limit = reach * np.hypot(*(a - k).T)  # (P,), NaN without a shin
        d = np.linalg.norm(peaks[None, :, :2] - a[:, None], axis=2)  # (P, k)
        score = np.where(d <= limit[:, None], peaks[None, :, 2], -np.inf)
        best = np.argmax(score, axis=1)
        has = np.isfinite(score[np.arange(len(best)), best])
        out[has, N_JOINTS + i] = peaks[best[has]]
    return out


def decode(heatmaps: np.ndarray, pafs: np.ndarray, settings: PoseSettings) -> People:
    """One frame's stride-8 network maps (19 or, with feet, 23, h, w) heatmaps + (38, h, w) PAFs
    → People in input pixels (18 keypoints each, or 22 with the foot points)."""
    feet = heatmaps.ndim == 3 and heatmaps.shape[0] == N_HEATMAPS + len(FOOT_POINTS)
    if heatmaps.ndim != 3 or pafs.ndim != 3 or (heatmaps.shape[0] != N_HEATMAPS and not feet) \
            or pafs.shape[0] != N_PAFS or heatmaps.shape[1:] != pafs.shape[1:]:
        raise ValueError(f"expected heatmaps ({N_HEATMAPS}, h, w) and pafs ({N_PAFS}, h, w), "
                         f"got {heatmaps.shape} and {pafs.shape}")
    f = settings.upsample
    peaks = find_peaks(upsample(heatmaps[:N_JOINTS], f), settings.peak_threshold)  # background unused
    connections = score_limbs(peaks, upsample(pafs, f), settings)
    people = group_people(peaks, connections, settings)
    if feet:
        foot_peaks = find_peaks(upsample(heatmaps[N_HEATMAPS:], f), settings.peak_threshold)
        people = People(attach_feet(people.keypoints, foot_peaks, settings.foot_reach), people.score, people.n_parts)
    people.keypoints[..., :2] = to_input_pixels(people.keypoints[..., :2], f)
    return people
