"""A whole analysis (annotated video included) with the network at several reading rates, side by side.

    python bench/bench_network_hz.py CLIP [--hz 30 15] [--rounds 2] [--fallback]

One process, the network loaded once; the rates alternate round by round, so a host whose speed
drifts moves them alike. Prints, per run, the network pass with the measuring, the annotated
video and the total, then each rate's best total as a ratio to the first rate's. Without
--fallback the shipped model alone reads the clip: the squat-model fallback fires on some clips
at one rate and not another (docs/speed-log.md §18), which is not the rate's cost.
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
    ap.add_argument("--hz", type=float, nargs="+", default=[30.0, 15.0], help="network rates (0: every frame)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--fallback", action="store_true", help="keep the squat-model fallback on")
    args = ap.parse_args()
    settings = Settings()
    if not args.fallback:
        settings = replace(settings, pose=replace(settings.pose, fallback_model=None))
    estimator = load_estimator(settings.pose)
    best: dict[float, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for hz in args.hz:
                rated = replace(settings, pose=replace(settings.pose, network_hz=hz))
                start = time.perf_counter()
                analysis = measure(detect_poses(args.clip, rated, estimator=estimator), rated)
                numbers = time.perf_counter()
                write_outputs(analysis, args.clip, Path(tmp) / f"{hz:g}-{round_}")
                end = time.perf_counter()
                best[hz] = min(best.get(hz, float("inf")), end - start)
                frames = len(analysis.time_s)
                print(f"{hz:>5g} Hz  round {round_ + 1}: pass + measure {numbers - start:6.1f} s, "
                      f"annotated video {end - numbers:5.1f} s, total {end - start:6.1f} s "
                      f"({frames / (end - start):.2f} frames/s)", flush=True)
    first = args.hz[0]
    for hz in args.hz:
        print(f"best total at {hz:g} Hz: {best[hz]:.1f} s, {best[first] / best[hz]:.2f}x the {first:g} Hz run's speed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
