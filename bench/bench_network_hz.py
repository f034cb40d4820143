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


def timed_analysis(clip: Path, settings: Settings, estimator, out: Path):
    """One whole analysis, annotated video included: (the pass, the analysis, seconds for the pass
    with the measuring, seconds in all)."""
    start = time.perf_counter()
    track = detect_poses(clip, settings, estimator=estimator)
    analysis = measure(track, settings)
    numbers = time.perf_counter()
    write_outputs(analysis, clip, out)
    return track, analysis, numbers - start, time.perf_counter() - start


def print_best(best: dict[float, float], unit: str) -> None:
    """Each setting's best total and its speed as a ratio to the first setting's."""
    first = next(iter(best))
    for value, seconds in best.items():
        print(f"best total at {value:g} {unit}: {seconds:.1f} s, "
              f"{best[first] / seconds:.2f}x the {first:g} {unit} run's speed")


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
                out = Path(tmp) / f"{hz:g}-{round_}"
                _, analysis, numbers, total = timed_analysis(args.clip, rated, estimator, out)
                best[hz] = min(best.get(hz, float("inf")), total)
                print(f"{hz:>5g} Hz  round {round_ + 1}: pass + measure {numbers:6.1f} s, annotated video "
                      f"{total - numbers:5.1f} s, total {total:6.1f} s ({len(analysis.time_s) / total:.2f} frames/s)",
                      flush=True)
    print_best(best, "Hz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
