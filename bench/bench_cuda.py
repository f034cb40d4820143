"""The pose layer on a GPU against the same frames on the CPU, side by side in one run.

    python bench/bench_cuda.py [--clip samples/squat_side.mp4] [--frames 48] [--json FILE]

What a hosted deployment with a GPU gets from `PoseSettings(device="cuda")`: the shipped
networks' detect() (letterbox, network, decoding) in fp32 and in half precision (fp16 on the
GPU), ms per frame at the default input size and at 656 px, and how far each GPU keypoint lies
from the CPU's on the same frames (the CPU fp32 run is the reference; a keypoint one side finds
and the other does not is counted). Frames are read with OpenCV, not PyAV, so it runs on a bare
GPU machine with only torch, numpy and opencv installed.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from squat.pose.estimator import load_estimator  # noqa: E402
from squat.settings import PoseSettings  # noqa: E402


def read_frames(clip: Path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(clip))
    frames = []
    while len(frames) < n:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    if not frames:
        raise SystemExit(f"error: no frames read from {clip}")
    return frames


def run(settings: PoseSettings, frames: list[np.ndarray], batch: int = 4) -> tuple[float, list[np.ndarray]]:
    """ms per frame of detect() over the frames (after one warm-up batch) and each frame's lifter."""
    est = load_estimator(settings, REPO / "weights")
    est.detect(frames[:batch])
    if settings.device == "cuda":
        torch.cuda.synchronize()
    start, found = time.perf_counter(), []
    for lo in range(0, len(frames), batch):
        for det in est.detect(frames[lo:lo + batch]):
            best = det.keypoints[int(np.argmax(det.scores))] if len(det.scores) else np.full((18, 3), np.nan)
            found.append(best)
    return 1000 * (time.perf_counter() - start) / len(frames), found


def agreement(a: list[np.ndarray], b: list[np.ndarray]) -> dict:
    """Median and worst keypoint distance (px) where both found it, and how many only one found."""
    a, b = np.stack(a)[..., :2], np.stack(b)[..., :2]
    both = np.isfinite(a[..., 0]) & np.isfinite(b[..., 0])
    d = np.hypot(*(a - b)[both].T)
    return {"median_px": round(float(np.median(d)), 3) if d.size else None,
            "worst_px": round(float(d.max()), 3) if d.size else None,
            "found_by_one": int((np.isfinite(a[..., 0]) ^ np.isfinite(b[..., 0])).sum())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", type=Path, default=REPO / "samples" / "squat_side.mp4")
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--models", nargs="+", default=["mobilenet_thin", "mobilenet_thin_squat"])
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    frames = read_frames(a.clip, a.frames)
    gpu = torch.cuda.is_available()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"GPU {torch.cuda.get_device_name() if gpu else 'none'}; {len(frames)} frames of {a.clip.name} "
          f"{frames[0].shape[1]}x{frames[0].shape[0]}", flush=True)
    rows = []
    for model in a.models:
        for long_side in (PoseSettings().long_side, 656):
            base = PoseSettings(model=model, long_side=long_side, device="cpu")
            cpu_ms, ref = run(base, frames)
            rows.append({"model": model, "long_side": long_side, "device": "cpu", "precision": "full",
                         "ms_per_frame": round(cpu_ms, 2), "vs_cpu": 1.0})
            print(json.dumps(rows[-1]), flush=True)
            for precision in ("full", "half") if gpu else ():
                ms, found = run(PoseSettings(model=model, long_side=long_side, device="cuda", precision=precision), frames)
                rows.append({"model": model, "long_side": long_side, "device": "cuda", "precision": precision,
                             "ms_per_frame": round(ms, 2), "vs_cpu": round(cpu_ms / ms, 2), **agreement(ref, found)})
                print(json.dumps(rows[-1]), flush=True)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
