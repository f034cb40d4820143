"""Measure a set of clips again in seconds: the network pass is kept, the rest is re-run.

    python tools/retune.py SET_DIR RUNS_DIR [--cache CACHE_DIR] [--network-hz HZ]

For every clip folder in SET_DIR (clip.mp4 with truth.json or label.json) the network pass
(`pipeline.detect_poses`) is computed once and kept in CACHE_DIR as NAME.npz (squat.passes;
default RUNS_DIR/.tracks);
then `pipeline.measure` runs with the current code and settings and frames.csv, reps.csv and
summary.json are written to RUNS_DIR/NAME (no annotated video). `python -m squat evaluate --set
SET_DIR --runs RUNS_DIR` then scores them. This is how settings after the network are tuned: a
change to tracking, kinematics or reps costs seconds, not the network's minutes. Caches are
only valid for the same network settings (model, framing, scales).

--network-hz HZ measures a kept pass as the network at a lower rate would have read it: the
network reads each frame on its own, so that pass is exactly the kept one's detections (and plate
circles) on the frames RateGate(HZ) reads (docs/accuracy-log.md §26: 15 Hz from 30 Hz passes).

--still SHARE measures a kept pass as the pass that skips still frames would have read it: every
other frame it read is taken as its neighbours' mean where they show everyone still within SHARE
x the lifter's height (squat.track.still); its plate circles are kept (the plate is searched on
every frame the network would read).
"""
from __future__ import annotations

import argparse
import ast
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from squat import passes  # noqa: E402
from squat.errors import SquatError  # noqa: E402
from squat.eval.sets import clip_folders  # noqa: E402
from squat.pipeline import detect_poses, measure, write_outputs  # noqa: E402
from squat.pose.estimator import with_model_framing  # noqa: E402
from squat.settings import Settings  # noqa: E402
from squat.track.rate import RateGate  # noqa: E402
from squat.track.still import between, still_match  # noqa: E402


def track_of(clip: Path, cache: Path, settings: Settings):
    track = passes.load(cache / f"{clip.name}.npz", clip / "clip.mp4")
    if track is not None:
        return track
    start = time.time()
    track = detect_poses(clip / "clip.mp4", settings)
    passes.save(track, cache / f"{clip.name}.npz")
    print(f"  network pass {clip.name}: {time.time() - start:.0f} s", file=sys.stderr)
    return track


def at_rate(track, network_hz: float):
    """The kept pass as the network at network_hz would have read it (a subset of its frames).
    Where the kept pass skipped frames that rate reads (a 60 fps clip kept at 30 Hz, read at
    10 Hz), the gate runs over the kept frames' own times instead: the same rate, each read within
    a frame of the exact one (said on stderr)."""
    read = list(range(len(track.time_s))) if track.network_frames is None else track.network_frames.tolist()
    position = {frame: k for k, frame in enumerate(read)}
    due = RateGate(network_hz)
    wanted = [i for i, t in enumerate(track.time_s) if due(t)]
    if any(f not in position for f in wanted):
        print(f"  {Path(track.video.path).name}: the kept pass skipped frames {network_hz:g} Hz reads: "
              "gated over its own frames (each read within a frame of the exact one)", file=sys.stderr)
        due = RateGate(network_hz)
        wanted = [f for f in read if due(track.time_s[f])]
    keep = [position[f] for f in wanted]
    return replace(track, detections=tuple(track.detections[k] for k in keep),
                   circles=None if track.circles is None else tuple(track.circles[k] for k in keep),
                   network_frames=None if len(wanted) == len(track.time_s) else np.asarray(wanted, np.int64))


def with_still(track, share: float, settings: Settings):
    """The kept pass with every other read taken from its neighbours where they show everyone still
    (as the pass with PoseSettings.still_within would read it); prints how many on stderr."""
    if track.framing is None:
        return track
    tolerance = share * with_model_framing(replace(settings.pose, model=track.model_name)).person_height_px \
        / track.framing.scale
    detections = list(track.detections)
    seen = track.seen_s
    skipped = 0
    for k in range(1, len(detections) - 1, 2):
        before, after = track.detections[k - 1], track.detections[k + 1]
        order = still_match(before, after, tolerance)
        if order is not None:
            w = (seen[k] - seen[k - 1]) / (seen[k + 1] - seen[k - 1])
            detections[k] = between(before, after, w, order)
            skipped += 1
    print(f"  {Path(track.video.path).parent.name}: {skipped} of {len(detections)} reads still "
          f"({skipped / max(len(detections), 1):.0%})", file=sys.stderr)
    return replace(track, detections=tuple(detections))


def with_overrides(settings: Settings, overrides: list[str]) -> Settings:
    """Settings with SECTION.FIELD=VALUE changes (values read as Python literals)."""
    for item in overrides:
        key, value = item.split("=", 1)
        section, name = key.split(".")
        part = getattr(settings, section)
        settings = replace(settings, **{section: replace(part, **{name: ast.literal_eval(value)})})
    return settings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set_dir", type=Path)
    ap.add_argument("runs_dir", type=Path)
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--only", default="", help="comma list of clip names")
    ap.add_argument("--network-hz", type=float, default=None,
                    help="measure the kept passes as the network at this lower rate would have read them")
    ap.add_argument("--still", type=float, default=None, metavar="SHARE",
                    help="measure the kept passes as read skipping still frames (tolerance: SHARE x the lifter's height)")
    ap.add_argument("--set", action="append", default=[], dest="overrides", metavar="SECTION.FIELD=VALUE",
                    help="a setting changed for this run, e.g. pose.min_long_side=160 (give pose changes their own --cache)")
    a = ap.parse_args(argv)
    settings = with_overrides(Settings(), a.overrides)
    if a.network_hz is not None:
        settings = replace(settings, pose=replace(settings.pose, network_hz=a.network_hz))
    cache = a.cache or a.runs_dir / ".tracks"
    only = {n for n in a.only.split(",") if n}
    for clip in clip_folders(a.set_dir):
        if only and clip.name not in only:
            continue
        track = track_of(clip, cache, settings)
        if a.network_hz:
            track = at_rate(track, a.network_hz)
        if a.still:
            track = with_still(track, a.still, settings)
        try:
            write_outputs(measure(track, settings), clip / "clip.mp4", a.runs_dir / clip.name, annotated=False)
        except SquatError as exc:
            print(f"  {clip.name}: {exc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
