"""A whole analysis (annotated video included) with and without reading part or all of a clip again,
side by side: what the second look (the frames where the pass loses the lifter, read again at other
sizes: squat.second_look) or the fallback for unsteady bones (the squat model reads a clip whose
bones the default reads unsteadily: PoseSettings.fallback_unsteady) costs.

    python bench/bench_reread.py CLIP --what second-look [--model mobilenet_thin] [--rounds 2]
    python bench/bench_reread.py CLIP --what unsteady-fallback [--rounds 2]

One process, each network loaded once; the two settings alternate round by round, so a host whose
speed drifts moves them alike. Prints each run's reads taken again and which network's read was
kept, the network pass with the measuring and the total, then each setting's best total as a ratio
to the one without. For the second look the fallback model is off: the chosen model alone reads.
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
from squat.settings import PoseSettings, Settings  # noqa: E402


def with_and_without(what: str, model: str) -> dict[str, PoseSettings]:
    pose = Settings().pose
    if what == "second-look":
        pose = replace(pose, model=model, fallback_model=None)
        return {"without": replace(pose, second_look=()), "with": pose}
    return {"without": replace(pose, fallback_unsteady=None), "with": pose}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip", type=Path)
    ap.add_argument("--what", choices=("second-look", "unsteady-fallback"), required=True)
    ap.add_argument("--model", default="mobilenet_thin", help="with --what second-look: the model that reads")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    runs = {name: replace(Settings(), pose=pose) for name, pose in with_and_without(args.what, args.model).items()}
    estimator = load_estimator(runs["with"].pose)  # each network is loaded once per process, before the clock
    if runs["with"].pose.fallback_model:
        load_estimator(replace(runs["with"].pose, model=runs["with"].pose.fallback_model))
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for name, chosen in runs.items():
                out = Path(tmp) / f"{name}-{round_}"
                track, analysis, numbers, total = timed_analysis(args.clip, chosen, estimator, out)
                best[name] = min(best.get(name, float("inf")), total)
                print(f"{name:>7} the {args.what}, round {round_ + 1}: {track.second_looks} of {len(track.detections)} "
                      f"reads taken again, lifter found in {analysis.detected.mean():.1%} of the frames, read by "
                      f"{track.model_name} {track.model_choice}; pass + measure {numbers:6.1f} s, total {total:6.1f} s",
                      flush=True)
    for name, seconds in best.items():
        print(f"best total {name} the {args.what}: {seconds:.1f} s, {best['without'] / seconds:.2f}x the speed without")
    return 0


if __name__ == "__main__":
    sys.exit(main())
