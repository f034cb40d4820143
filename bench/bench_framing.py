"""A whole analysis (annotated video included) with the lifter read at several heights in the
network's input, side by side: what a model's `person_height_px` costs.

    python bench/bench_framing.py CLIP [--model mobilenet_thin_squat] [--heights 120 160] [--rounds 2]

One process, the network loaded once; the heights alternate round by round, so a host whose speed
drifts moves them alike. Prints each run's network pass with the measuring, the annotated video and
the total, the network's input size, then each height's best total and its speed as a ratio to the first one's.
The fallback model is off: the chosen model alone reads the clip.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_network_hz import print_best, timed_analysis  # noqa: E402

from squat.pipeline import load_estimator  # noqa: E402
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
                out = Path(tmp) / f"{height:g}-{round_}"
                track, _, numbers, total = timed_analysis(args.clip, framed, estimator, out)
                best[height] = min(best.get(height, float("inf")), total)
                size = f"{track.framing.width}x{track.framing.height}" if track.framing is not None else "whole frame"
                print(f"{height:>5g} px  round {round_ + 1}: input {size}, pass + measure {numbers:6.1f} s, "
                      f"annotated video {total - numbers:5.1f} s, total {total:6.1f} s", flush=True)
    print_best(best, "px")
    return 0


if __name__ == "__main__":
    sys.exit(main())
