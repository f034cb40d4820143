"""A whole analysis (annotated video included) with and without the second look, side by side:
what reading the frames where the pass loses the lifter again costs (squat.second_look).

    python bench/bench_second_look.py CLIP [--model mobilenet_thin] [--rounds 2]

One process, the network loaded once; the two settings alternate round by round, so a host whose
speed drifts moves them alike. Prints each run's reads taken again, the network pass with the
measuring and the total, then each setting's best total as a ratio to the one without. The
fallback model is off: the chosen model alone reads the clip.
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
    ap.add_argument("--model", default="mobilenet_thin")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    settings = Settings()
    pose = replace(settings.pose, model=args.model, fallback_model=None)
    runs = {"without": replace(settings, pose=replace(pose, second_look=())), "with": replace(settings, pose=pose)}
    estimator = load_estimator(pose)  # the network itself is loaded once per process
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for name, chosen in runs.items():
                out = Path(tmp) / f"{name}-{round_}"
                track, analysis, numbers, total = timed_analysis(args.clip, chosen, estimator, out)
                best[name] = min(best.get(name, float("inf")), total)
                print(f"{name:>7} the second look, round {round_ + 1}: {track.second_looks} of "
                      f"{len(track.detections)} reads taken again, lifter found in {analysis.detected.mean():.1%} "
                      f"of the frames; pass + measure {numbers:6.1f} s, total {total:6.1f} s", flush=True)
    for name, seconds in best.items():
        print(f"best total {name} the second look: {seconds:.1f} s, {best['without'] / seconds:.2f}x the speed without")
    return 0


if __name__ == "__main__":
    sys.exit(main())
