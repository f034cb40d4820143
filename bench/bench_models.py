"""Frames per second of each pose model on this machine, side by side in one run.

    python bench/bench_models.py [--frames 20] [--clip tests/data/sports2d_crouch.mp4]

Times the network alone and the whole per-frame detection (letterbox, network, decoding)
on real frames. The CMU network runs with random weights when its file is not installed:
its speed does not depend on the weight values. Prints frames/s and the ratio to the
shipped default, so numbers from different machines stay comparable.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from squat.io.video import iter_frames  # noqa: E402
from squat.pose.cmu import OpenPoseNet  # noqa: E402
from squat.pose.estimator import PoseEstimator, load_estimator  # noqa: E402
from squat.pose.weights import downloads_dir, load_registry, resolve_device, weights_path  # noqa: E402
from squat.settings import PoseSettings  # noqa: E402


def estimator_for(name: str, long_side: int, device: str) -> tuple[PoseEstimator, str]:
    settings = PoseSettings(model=name, long_side=long_side, device=device)
    spec = load_registry()[name]
    if weights_path(spec, downloads_dir()).exists():
        return load_estimator(settings), "real weights"
    dev = resolve_device(device)
    return PoseEstimator(spec, OpenPoseNet().eval().to(dev), dev, settings), "random weights"


def median_seconds(fn, frames: list, repeats: int) -> float:
    for _ in range(3):  # warm-up: the first calls allocate and tune kernels
        fn(frames[:1])
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        fn([frames[i % len(frames)]])
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", default=str(Path(__file__).parents[1] / "tests/data/sports2d_crouch.mp4"))
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    frames = [f.image for f in iter_frames(args.clip)][: args.frames]
    h, w = frames[0].shape[:2]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {resolve_device(args.device)}, "
          f"clip {Path(args.clip).name} {w}x{h}, median of {args.frames} frames")
    cases = [("mobilenet_thin", 432), ("mobilenet_thin", 656), ("mobilenet_thin_squat", 432),
             ("mobilenet_thin_squat", 656), ("cmu_body_pose", 432), ("cmu_body_pose", 656)]
    rows = []
    for name, long_side in cases:
        est, note = estimator_for(name, long_side, args.device)
        net = median_seconds(lambda ims: est.maps(ims), frames, args.frames)
        full = median_seconds(lambda ims: est.detect(ims), frames, args.frames)
        rows.append((name, long_side, note, net, full))
    base = rows[0][4]
    print(f"{'model':16} {'long side':>9} {'network ms':>10} {'detect ms':>9} {'frames/s':>8} {'vs default':>10}  weights")
    for name, long_side, note, net, full in rows:
        print(f"{name:16} {long_side:9d} {net * 1e3:10.1f} {full * 1e3:9.1f} {1 / full:8.1f} {base / full:9.2f}x  {note}")


if __name__ == "__main__":
    main()
