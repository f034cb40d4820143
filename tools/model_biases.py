"""A pose model's keypoint biases, measured on rendered truth: the registry's
`hip_bias_at_depth_femur` and `toe_short_shin` (weights/registry.json, docs/accuracy-log.md §30-31).

    python tools/model_biases.py VALSET/tune CACHE [--depth 100]

CACHE holds the network passes of the set's clips (what `tools/retune.py VALSET/tune RUNS --set
pose.model='"NAME"'` keeps in RUNS/.tracks). Each pass is measured again with no hip bias taken
back; on the side views where the engine would take it back (not where it places the hip from
the bones: a model flagged so, with a bar seen), in the frames whose true knee angle is under
--depth, the camera-side hip keypoint's offset from the truth's is averaged: ahead (toward where
the lifter faces) and above, × the true femur (as `evaluate` measures it). On every side view, the
camera-side big toe's median shortfall behind the truth's (toward the heel), × the shin the
engine measured (what the midfoot takes back). Prints each clip and the means over the clips: the
values to register. Measure on the tuning half only: the checking half must stay unseen.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from squat import passes  # noqa: E402
from squat.eval.rendered import femur_length_px, is_side_view, load_truth  # noqa: E402
from squat.eval.sets import clip_folders  # noqa: E402
from squat.measure.bones import uses_bones  # noqa: E402
from squat.pipeline import measure, model_settings  # noqa: E402
from squat.settings import Settings  # noqa: E402
from squat.skeleton import J  # noqa: E402


def hip_offset(keypoints: np.ndarray, facing: int, truth, side: str, depth_deg: float) -> tuple[float, float, int]:
    """(ahead, above) of our camera-side hip from the truth's, × the true femur (femur_length_px),
    mean over the frames deeper than depth_deg; and how many frames that was."""
    hip = truth[[f"{side}_hip_x", f"{side}_hip_y"]].to_numpy(float)
    femur = femur_length_px(truth, side)
    deep = truth["knee_angle_2d"].to_numpy(float) < depth_deg
    if not deep.any():
        return np.nan, np.nan, 0
    offset = (keypoints[:, J[f"{side}_hip"], :2] - hip)[deep] / femur
    return float(np.nanmean(offset[:, 0]) * facing), float(-np.nanmean(offset[:, 1])), int(deep.sum())


def toe_short(toe_x: np.ndarray, facing: int, truth, side: str, shin_px: float) -> float:
    """How far our camera-side big toe reads behind the truth's, × our standing shin: the median
    over the frames (the feet are planted, so every frame counts)."""
    return float(np.nanmedian((truth[f"{side}_toe_x"].to_numpy(float) - toe_x) * facing) / shin_px)


def bar_of(analysis) -> np.ndarray:
    """(F, 2) the bar's middle per frame from an analysis' frame table, NaN where not seen."""
    frames = analysis.kinematics.frames
    if "bar_x" not in frames:
        return np.full((len(frames), 2), np.nan)
    return frames[["bar_x", "bar_y"]].to_numpy(float)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set_dir", type=Path)
    ap.add_argument("cache", type=Path)
    ap.add_argument("--depth", type=float, default=100.0, help="true knee angle below which a frame is in the hole")
    a = ap.parse_args(argv)
    hips, toes = [], []
    for clip in clip_folders(a.set_dir):
        truth, meta = load_truth(clip)
        track = passes.load(a.cache / f"{clip.name}.npz", clip / "clip.mp4")
        if track is None or not is_side_view(meta["camera_azimuth_deg"]):
            continue
        analysis = measure(replace(track, hip_bias_at_depth_femur=(0.0, 0.0), toe_short_shin=0.0), Settings())
        kin, side = analysis.kinematics, meta["camera_side_leg"]
        toe_x = analysis.frames.get(f"{side}_toe_x")
        toe = np.nan if toe_x is None else toe_short(toe_x.to_numpy(float), kin.facing, truth, side,
                                                     kin.proportions.shin_px)
        if np.isfinite(toe):
            toes.append(toe)
        line = f"{clip.name:48s} toe short {toe:+.3f} × shin"
        if not uses_bones(bar_of(analysis), model_settings(Settings().kinematics, track)):
            ahead, above, frames = hip_offset(analysis.keypoints, kin.facing, truth, side, a.depth)
            if frames:
                hips.append((ahead, above))
                line += f"   hip in the hole ({frames:3d} frames) ahead {ahead:+.3f}  above {above:+.3f} × femur"
        print(line)
    if not hips and not toes:
        print("no side view to measure", file=sys.stderr)
        return 1
    if hips:
        ahead, above = np.mean(hips, axis=0)
        print(f"hip, mean of {len(hips)} clips: ahead {ahead:+.3f}, above {above:+.3f} × femur  "
              f"(hip_bias_at_depth_femur: [{ahead:.2f}, {above:.2f}])")
    if toes:
        print(f"toe, median of {len(toes)} clips: {np.median(toes):+.3f} × shin  (toe_short_shin: {np.median(toes):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
