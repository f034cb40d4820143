"""The article's pipeline, the baseline every speed-up is measured against.

As the article (and the pytorch_advanced book it follows) does it: the CMU network one frame at a
time at the book's input, 368 × 368 (the frame squashed to a square); the heatmaps and PAFs, each
map resized to the full frame with cubic interpolation; then, part by part in Python loops, the
peaks of the blurred heatmap above 0.1 and the strongest one kept. (The article's listing then
overwrites the strongest peak with the first one, a slip; the strongest is what it means.)
"""
from __future__ import annotations

import time
from collections import defaultdict

import cv2
import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from squat.pose.estimator import IMAGENET_MEAN, IMAGENET_STD
from squat.skeleton import N_JOINTS

ARTICLE_INPUT = 368  # the book's network input, width = height
PEAK_THRESHOLD = 0.1  # the book's thre1
PEAK_SIGMA = 3.0  # the book blurs each heatmap before looking for peaks


def preprocess(image_bgr: np.ndarray) -> torch.Tensor:
    """The book's input: squashed to 368 × 368, RGB, ImageNet mean and deviation."""
    square = cv2.resize(image_bgr, (ARTICLE_INPUT, ARTICLE_INPUT), interpolation=cv2.INTER_CUBIC)
    x = (square[:, :, ::-1].astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]


def full_frame_maps(stride8: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """(C, h, w) network maps → (H, W, C) at the frame's size, cubic (the article's cv2.resize)."""
    h, w = frame_size
    return cv2.resize(np.ascontiguousarray(stride8.transpose(1, 2, 0)), (w, h), interpolation=cv2.INTER_CUBIC)


def find_peaks(heat_map: np.ndarray, threshold: float = PEAK_THRESHOLD) -> np.ndarray:
    """(P, 2) x, y of the local maxima of the blurred map above threshold (the book's find_peaks)."""
    blurred = gaussian_filter(heat_map, sigma=PEAK_SIGMA)
    left, right, up, down = (np.zeros_like(blurred) for _ in range(4))
    left[1:, :], right[:-1, :] = blurred[:-1, :], blurred[1:, :]
    up[:, 1:], down[:, :-1] = blurred[:, :-1], blurred[:, 1:]
    peaks = np.logical_and.reduce((blurred >= left, blurred >= right, blurred >= up, blurred >= down,
                                   blurred > threshold))
    ys, xs = np.nonzero(peaks)
    return np.stack([xs, ys], axis=1)


def find_joint_coords(heatmaps: np.ndarray, parts: range = range(N_JOINTS)) -> np.ndarray:
    """(len(parts), 2) each part's strongest peak in frame pixels, NaN where none: a Python loop
    over the parts and their peaks, as in the article."""
    joints = []
    for part in parts:
        heat_map = heatmaps[:, :, part]
        peaks = find_peaks(heat_map)
        if len(peaks) == 0:
            joints.append([np.nan, np.nan])
            continue
        best = None
        for peak in peaks:
            if best is None or heat_map[peak[1], peak[0]] > heat_map[best[1], best[0]]:
                best = peak
        joints.append([float(best[0]), float(best[1])])
    return np.asarray(joints, np.float64)


def run_article(model: torch.nn.Module, frames: list[np.ndarray]) -> tuple[np.ndarray, dict[str, float]]:
    """The article's pipeline on decoded frames: (frames, 18, 2) joints and seconds per stage."""
    seconds: dict[str, float] = defaultdict(float)
    out = []

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        seconds[name] += now - since
        return now

    with torch.inference_mode():
        for image in frames:
            t = time.perf_counter()
            x = preprocess(image)
            t = lap("preprocess", t)
            heatmaps, pafs = (m[0].float().numpy() for m in model(x))
            t = lap("network", t)
            full_pafs = full_frame_maps(pafs, image.shape[:2])  # resized though only heatmaps are read next,
            full = full_frame_maps(heatmaps, image.shape[:2])  # as the article does before decode_pose
            del full_pafs
            t = lap("resize", t)
            out.append(find_joint_coords(full))
            lap("decoding", t)
    return np.asarray(out), dict(seconds)
