"""A whole analysis (annotated video included) with and without the fallback for unsteady bones,
side by side: what reading a clip with the squat model too costs where the default network's
camera-side bones vary (PoseSettings.fallback_unsteady).

    python bench/bench_fallback.py CLIP [--rounds 2]

One process, each network loaded once; the two settings alternate round by round, so a host whose
speed drifts moves them alike. Prints which model's read each run kept, then each setting's best
total as a ratio to the one without.
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

from bench_network_hz import timed_analysis  # noqa: E402

from squat.pipeline import load_estimator  # noqa: E402
from squat.settings import Settings  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip", type=Path)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    settings = Settings()
    runs = {"without": replace(settings, pose=replace(settings.pose, fallback_unsteady=None)), "with": settings}
    estimator = load_estimator(settings.pose)
    load_estimator(replace(settings.pose, model=settings.pose.fallback_model))  # loaded once, before the clock
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for name, chosen in runs.items():
                track, _, numbers, total = timed_analysis(args.clip, chosen, estimator, Path(tmp) / f"{name}-{round_}")
                best[name] = min(best.get(name, float("inf")), total)
                print(f"{name:>7} the unsteady-bones fallback, round {round_ + 1}: read by {track.model_name} "
                      f"{track.model_choice or '(its own read)'}; pass + measure {numbers:6.1f} s, total {total:6.1f} s",
                      flush=True)
    for name, seconds in best.items():
        print(f"best total {name} the fallback: {seconds:.1f} s, {best['without'] / seconds:.2f}x the speed without")
    return 0


if __name__ == "__main__":
    sys.exit(main())
