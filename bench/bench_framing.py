"""A whole analysis (annotated video included) with the lifter read at several heights in the
network's input, side by side: what a model's `person_height_px` costs.

    python bench/bench_framing.py CLIP [--model mobilenet_thin_squat] [--heights 120 160] [--rounds 2]

One process, the network loaded once; the heights alternate round by round, so a host whose speed
drifts moves them alike. Prints each run's network pass with the measuring, the annotated video and
the total, the network's input size, then each height's best total as a ratio to the first one's.
The fallback model is off: the chosen model alone reads the clip.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from squat.pipeline import detect_poses, load_estimator, measure, write_outputs  # noqa: E402
from squat.settings import Settings  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip", type=Path)
    ap.add_argument("--model", default="mobilenet_thin_squat")
    ap.add_argument("--heights", type=float, nargs="+", default=[120.0, 160.0], help="lifter heights in the input, px")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    settings = Settings()
    settings = replace(settings, pose=replace(settings.pose, model=args.model, fallback_model=None))
    best: dict[float, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for height in args.heights:
                framed = replace(settings, pose=replace(settings.pose, person_height_px=height))
                estimator = load_estimator(framed.pose)  # the network itself is loaded once per process
                start = time.perf_counter()
                track = detect_poses(args.clip, framed, estimator=estimator)
                analysis = measure(track, framed)
                numbers = time.perf_counter()
                write_outputs(analysis, args.clip, Path(tmp) / f"{height:g}-{round_}")
                end = time.perf_counter()
                best[height] = min(best.get(height, float("inf")), end - start)
                box = track.framing
                size = f"{box.width}x{box.height}" if box is not None else "whole frame"
                print(f"{height:>5g} px  round {round_ + 1}: input {size}, pass + measure {numbers - start:6.1f} s, "
                      f"annotated video {end - numbers:5.1f} s, total {end - start:6.1f} s", flush=True)
    first = args.heights[0]
    for height in args.heights:
        print(f"best total at {height:g} px: {best[height]:.1f} s, {best[height] / best[first]:.2f}x the {first:g} px run's time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
