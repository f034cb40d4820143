"""The rendered validation set: randomised squats with exact truth, split by seed before any look.

    python tools/validation_set.py list                      # every clip's render command
    python tools/validation_set.py render OUT [--jobs 2]     # render the clips missing in OUT
    python tools/validation_set.py render OUT --only check   # one half
    python tools/validation_set.py render OUT --set view     # the view-boundary clips
    python tools/validation_set.py render OUT --set fresh    # 12 more, only to report on (OUT/fresh)
    python tools/validation_set.py render OBL --set oblique  # 16 filmed off side-on, split by seed
    python tools/validation_set.py render OBL --set oblique-fresh  # 8 more, only to report on (OBL/fresh)

The view and oblique sets go to their own folder (OBL above): their halves are OUT/tune and
OUT/check like the main set's.

Each clip is drawn from its own seed (bodies, cameras, loads, plates, depth, tempo, faults,
scene), so the set is the same on every machine. The split is fixed by the seed alone, decided
before any clip was analysed: even seeds are the **tuning** half (settings may be chosen on
them), odd seeds the **checking** half (only reported). Clips go to OUT/tune/NAME and
OUT/check/NAME, outside the repo; `python -m squat evaluate --set OUT/check` scores a half.

The renderer is ../shared/tools/synth (its README says how to install it): set SYNTH_DIR to
its folder and SYNTH_PYTHON to the Python of its virtual environment.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FIRST_SEED = 1000
CLIPS = 24
# Every OBLIQUE_EVERY-th clip films from 30-60° off the front instead of side-on: the view
# check must warn there, and no side-view target applies (odd, so both halves get some).
OBLIQUE_EVERY = 5
# The view-boundary set: cameras 5-35° off side-on, where "side" (within ±15°, as evaluate
# counts it) turns "oblique" and the view check's thresholds decide. Rendered at 15 fps (the
# verdict needs poses, not motion) and split by seed like the main set.
VIEW_FIRST_SEED = 1100
VIEW_CLIPS = 16
VIEW_OFF_SIDE_DEG = (5.0, 35.0)
# The fresh set: clips drawn like the main set from seeds no half holds, rendered after the
# checking half had been looked at, only to report on (OUT/fresh/NAME): nothing is chosen on it.
FRESH_FIRST_SEED = 1200
FRESH_CLIPS = 12
# The oblique set: every camera 25-65° off the front, rather more shallow squats than the main
# set, at 15 fps: where the knees' image angle cannot tell a squat from a hinge and the hips'
# drop decides whether a rep counts. Split by seed like the main set.
OBLIQUE_FIRST_SEED = 1300
OBLIQUE_CLIPS = 16
OBLIQUE_OFF_FRONT_DEG = (25.0, 65.0)
# Drawn like the oblique set after its checking half had been looked at, only to report on.
OBLIQUE_FRESH_FIRST_SEED = 1320
OBLIQUE_FRESH_CLIPS = 8
HERE = Path(__file__).resolve().parent
SYNTH_DIR = Path(os.environ.get("SYNTH_DIR", HERE.parent.parent / "shared" / "tools" / "synth"))
SYNTH_PYTHON = os.environ.get("SYNTH_PYTHON", sys.executable)


@dataclass(frozen=True)
class Clip:
    seed: int
    name: str
    args: tuple[str, ...]

    @property
    def half(self) -> str:
        return "tune" if self.seed % 2 == 0 else "check"


def _pick(rng: np.random.Generator, options: list, weights: list[float] | None = None):
    p = None if weights is None else np.asarray(weights, float) / np.sum(weights)
    return options[int(rng.choice(len(options), p=p))]


def draw_clip(seed: int, index: int) -> Clip:
    """One clip's render options, drawn from its seed (and whether it is an oblique one)."""
    rng = np.random.default_rng(seed)
    side = _pick(rng, [1, -1])  # +: camera on the lifter's right, -: on the left
    oblique = index % OBLIQUE_EVERY == OBLIQUE_EVERY - 1
    azimuth = side * (rng.uniform(30, 60) if oblique else rng.uniform(80, 100))
    portrait = rng.uniform() < 0.35
    size = _pick(rng, ["360x640", "540x960"]) if portrait else _pick(rng, ["640x360", "960x540"])
    load = _pick(rng, ["barbell", "bodyweight"], [3, 1])
    depth_kind = _pick(rng, ["above", "at", "below"], [1, 1, 2])
    depth = {"above": rng.uniform(95, 105), "at": rng.uniform(112, 120), "below": rng.uniform(124, 136)}[depth_kind]
    reps = int(_pick(rng, [2, 3]))
    fault = _pick(rng, ["good", "forward_lean", "hips_shoot_up", "shallow", "mixed"], [5, 1, 1, 1, 1])
    if fault == "mixed":
        fault = ",".join(rng.permutation(["good", "forward_lean", "hips_shoot_up"])[:reps])
    if load == "bodyweight" and fault in ("forward_lean", "hips_shoot_up"):
        fault = "good"  # the renderer's faults are barbell faults
    body = _pick(rng, ["average", "long_femur", "short_femur", "free"])
    args = [
        "--seed", str(seed), "--scene-seed", str(seed),
        "--gender", f"{rng.uniform(0, 1):.2f}", "--height", f"{rng.uniform(1.55, 1.95):.3f}",
        "--weight", f"{rng.uniform(0.2, 0.8):.2f}", "--muscle", f"{rng.uniform(0.3, 0.9):.2f}",
        "--azimuth", f"{azimuth:.1f}", "--cam-height", f"{rng.uniform(0.5, 1.4):.2f}",
        "--orientation", "portrait" if portrait else "landscape", "--size", size,
        "--load", load, "--reps", str(reps), "--depth", f"{depth:.1f}", "--fault", fault,
        "--descent", f"{rng.uniform(1.0, 2.2):.2f}", "--pause", f"{rng.uniform(0.0, 0.6):.2f}",
        "--ascent", f"{rng.uniform(0.8, 1.6):.2f}", "--stand", f"{rng.uniform(0.6, 1.2):.2f}",
        "--stance", f"{rng.uniform(1.0, 1.35):.2f}", "--toe-out", f"{rng.uniform(10, 30):.0f}",
    ]
    if body == "free":
        args += ["--femur-scale", f"{rng.uniform(0.9, 1.12):.3f}", "--torso-scale", f"{rng.uniform(0.92, 1.08):.3f}",
                 "--shin-scale", f"{rng.uniform(0.92, 1.08):.3f}"]
    else:
        args += ["--body", body]
    if load == "barbell":
        args += ["--bar-position", _pick(rng, ["high", "low"]), "--plates", str(_pick(rng, [1, 2, 3])),
                 "--plate-diameter", f"{_pick(rng, [0.45, 0.45, 0.45, rng.uniform(0.38, 0.45)]):.3f}"]
    view = "oblique" if oblique else "side"
    where = "right" if side > 0 else "left"
    name = f"s{seed}_{view}_{where}_{load}_{depth_kind}_{fault.replace(',', '-')}"
    return Clip(seed, name, tuple(args))


def validation_set(first_seed: int = FIRST_SEED, count: int = CLIPS) -> list[Clip]:
    return [draw_clip(first_seed + i, i) for i in range(count)]


def draw_view_clip(seed: int) -> Clip:
    """A clip of the view-boundary set: drawn like the main set (side-on), then the camera turned
    VIEW_OFF_SIDE_DEG off side-on, towards the lifter's front or back, at 15 fps."""
    clip = draw_clip(seed, 0)
    rng = np.random.default_rng([seed, 1])
    off = rng.uniform(*VIEW_OFF_SIDE_DEG)
    args = list(clip.args)
    i = args.index("--azimuth") + 1
    side = 1 if float(args[i]) > 0 else -1
    args[i] = f"{side * (90 + _pick(rng, [1, -1]) * off):.1f}"
    view = "side" if off <= 15 else "oblique"
    name = clip.name.replace("_side_", f"_{view}{off:.0f}_", 1)
    return Clip(seed, name, (*args, "--fps", "15"))


def draw_oblique_clip(seed: int) -> Clip:
    """A clip of the oblique set: drawn like the main set's oblique clips, the camera anywhere
    OBLIQUE_OFF_FRONT_DEG off the front, half the squats above parallel, at 15 fps."""
    clip = draw_clip(seed, OBLIQUE_EVERY - 1)
    rng = np.random.default_rng([seed, 2])
    args = list(clip.args)
    i = args.index("--azimuth") + 1
    side = 1 if float(args[i]) > 0 else -1
    args[i] = f"{side * rng.uniform(*OBLIQUE_OFF_FRONT_DEG):.1f}"
    depth_kind = _pick(rng, ["above", "at", "below"], [2, 1, 1])
    depth = {"above": rng.uniform(95, 105), "at": rng.uniform(112, 120), "below": rng.uniform(124, 136)}[depth_kind]
    args[args.index("--depth") + 1] = f"{depth:.1f}"
    name = re.sub(r"_(above|at|below)_", f"_{depth_kind}_", clip.name, count=1)
    return Clip(seed, name, (*args, "--fps", "15"))


def view_set(first_seed: int = VIEW_FIRST_SEED, count: int = VIEW_CLIPS) -> list[Clip]:
    return [draw_view_clip(first_seed + i) for i in range(count)]


def render(clip: Clip, out: Path, half: str | None = None, backgrounds: list[Path] | None = None
           ) -> tuple[Clip, float, int]:
    """Render one clip into OUT/HALF/NAME (HALF: the clip's own half unless given; "" for none);
    with backgrounds, the lifter over one of these photos (tools/synth_composite.py)."""
    dest = out / (clip.half if half is None else half) / clip.name
    if (dest / "truth.json").is_file():
        return clip, 0.0, 0
    part = dest.with_name(dest.name + ".part")
    start = time.time()
    log = out / "logs" / f"{clip.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as f:
        script = ["render_squat.py"] if not backgrounds else [
            str(HERE / "synth_composite.py"), "--backgrounds", *map(str, backgrounds), "--"]
        rc = subprocess.call([SYNTH_PYTHON, *script, "--out", str(part), *clip.args],
                             cwd=SYNTH_DIR, stdout=f, stderr=subprocess.STDOUT)
    if rc == 0:
        dest.parent.mkdir(parents=True, exist_ok=True)
        part.rename(dest)
    return clip, time.time() - start, rc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser("list")
    r = sub.add_parser("render")
    r.add_argument("out", type=Path)
    r.add_argument("--jobs", type=int, default=1)
    r.add_argument("--only", choices=["tune", "check"])
    for p in (ls, r):
        p.add_argument("--set", choices=["main", "view", "fresh", "oblique", "oblique-fresh"], default="main", help="which clips (default: main)")
    a = ap.parse_args(argv)
    clips = {"main": validation_set, "view": view_set,
             "fresh": lambda: validation_set(FRESH_FIRST_SEED, FRESH_CLIPS),
             "oblique": lambda: [draw_oblique_clip(OBLIQUE_FIRST_SEED + i) for i in range(OBLIQUE_CLIPS)],
             "oblique-fresh": lambda: [draw_oblique_clip(OBLIQUE_FRESH_FIRST_SEED + i) for i in range(OBLIQUE_FRESH_CLIPS)],
             }[a.set]()
    half = "fresh" if a.set in ("fresh", "oblique-fresh") else None  # the fresh sets have no halves
    if a.cmd == "list":
        for c in clips:
            print(f"{half or c.half:5} {c.name}\n      python render_squat.py --out {half or c.half}/{c.name} {' '.join(c.args)}")
        return 0
    todo = [c for c in clips if a.only in (None, c.half)]
    with ThreadPoolExecutor(a.jobs) as pool:
        for clip, seconds, rc in pool.map(lambda c: render(c, a.out, half), todo):
            print(f"{'ok ' if rc == 0 else 'FAILED'} {half or clip.half}/{clip.name} {seconds:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
