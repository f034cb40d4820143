"""`python -m squat bench`: the article's pipeline and ours, side by side in one process, on the
same frames, stage by stage.

1. The baseline (squat.bench.article) on the clip's first `baseline_frames` frames.
2. Ours with the shipped default, end to end: analysis, files and the annotated video.
3. Ours with the article's CMU network (random weights when its file is not downloaded: speed does
   not depend on the values; a network with random weights finds nobody, so only its network
   pass is timed then).
Then our decoding against the article's on the same maps (the shipped network's, or the CMU
network's when its weights are installed), and the process's peak memory. Ours decodes, prepares,
finds people and plates, and encodes in threads beside the network and the drawing: its rows are the
wall time each stage held the work up (they add up to the wall time), and the threads' own time per
stage is printed apart ("beside"); the scout's own stages, its network included, are printed as
part of the scout ("in scout"), and the time outside the network forward counts the scout's network
as network.
"""
from __future__ import annotations

import resource
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from squat.bench.article import find_joint_coords, full_frame_maps, run_article
from squat.errors import NoLifterError
from squat.io.video import VideoWriter, iter_frames, probe
from squat.pipeline import run
from squat.pose.cmu import OpenPoseNet
from squat.pose.decode import decode, upsample
from squat.pose.estimator import PoseEstimator, load_estimator
from squat.pose.maps import STRIDE
from squat.pose.weights import downloads_dir, load_registry, resolve_device, weights_path
from squat.settings import PoseSettings, Settings
from squat.timing import OTHER, timed

CMU = "cmu_pytorch_advanced"  # the article's network and weights (the pytorch_advanced book's)
OUR_STAGES = ("decode", "scout", "preprocess", "network", "decoding", "plate", "measuring", "render", "encode", OTHER)
ARTICLE_STAGES = ("decode", "preprocess", "network", "resize", "decoding")


@dataclass(frozen=True)
class Pipeline:
    """One pipeline's timing: seconds per stage over `frames` frames, and the wall time."""

    name: str
    frames: int
    wall_s: float
    stages: dict[str, float]  # the caller's thread: adds up to wall_s
    note: str = ""
    beside: dict[str, float] = field(default_factory=dict)  # threads beside it, their own time
    within: dict[str, float] = field(default_factory=dict)  # the scout's own stages (part of its time)

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s else float("nan")

    def ms_per_frame(self, stage: str, part: str = "stages") -> float:
        """A stage's milliseconds per frame in `part`: "stages", "beside" or "within"."""
        return 1000 * getattr(self, part).get(stage, 0.0) / self.frames

    @property
    def network_s(self) -> float:
        """Seconds in the network's forward pass: the pass's and the scout's."""
        return self.stages.get("network", 0.0) + self.within.get("network", 0.0)


@dataclass(frozen=True)
class Report:
    clip: str
    frames: int
    width: int
    height: int
    baseline: Pipeline
    default: Pipeline
    cmu: Pipeline
    cmu_weights: str  # "real" or "random"
    decode_agreement_px: float  # median distance of our joints from the article's, same maps
    decode_joints: int  # joint positions compared
    peak_rss_mb: float
    extra: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        pipes = (self.baseline, self.default, self.cmu)
        return {
            "clip": self.clip, "frames": self.frames, "width": self.width, "height": self.height,
            "baseline_fps": self.baseline.fps, "default_fps": self.default.fps, "cmu_fps": self.cmu.fps,
            "cmu_speedup": self.cmu.fps / self.baseline.fps, "default_speedup": self.default.fps / self.baseline.fps,
            "overhead_fraction": 1 - self.default.network_s / self.default.wall_s,
            "decode_agreement_px": self.decode_agreement_px, "decode_joints": self.decode_joints,
            "peak_rss_mb": self.peak_rss_mb, "cmu_weights": self.cmu_weights,
            "ms_per_frame": {p.name: {s: p.ms_per_frame(s) for s in p.stages} for p in pipes},
            "ms_per_frame_beside": {p.name: {s: p.ms_per_frame(s, "beside") for s in p.beside}
                                    for p in pipes if p.beside},
            "ms_per_frame_in_scout": {p.name: {s: p.ms_per_frame(s, "within") for s in p.within}
                                      for p in pipes if p.within},
            "notes": {p.name: p.note for p in pipes if p.note},
        }

    def table(self) -> str:
        pipes = (self.baseline, self.default, self.cmu)
        stages = list(dict.fromkeys([*ARTICLE_STAGES, *OUR_STAGES]))
        width = max(len(s) for s in stages) + len("  in scout: ") + 2
        lines = [f"{self.clip}: {self.frames} frames, {self.width}x{self.height}",
                 "ms per frame".ljust(width) + "".join(f"{p.name:>14}" for p in pipes)]
        for part, label in (("stages", "{}"), ("within", "  in scout: {}"), ("beside", "{} beside")):
            for s in stages:
                if any(s in getattr(p, part) for p in pipes):
                    lines.append(label.format(s).ljust(width) + "".join(
                        f"{p.ms_per_frame(s, part):14.1f}" if s in getattr(p, part) else f"{'':>14}" for p in pipes))
        lines.append("frames/s".ljust(width) + "".join(f"{p.fps:14.2f}" for p in pipes))
        lines.append("× baseline".ljust(width) + "".join(f"{p.fps / self.baseline.fps:14.1f}" for p in pipes))
        j = self.as_json()
        lines += ["ours: the stage rows add up to the wall time (a stage run in a thread: the time the work waited "
                  "for it); the \"beside\" rows are the threads' own time, overlapping the others",
                  f"outside the network forward (shipped model; the scout's network counted as network): "
                  f"{j['overhead_fraction']:.0%} of the wall time",
                  f"our decoding vs the article's on the same maps: median {self.decode_agreement_px:.2f} px "
                  f"over {self.decode_joints} joints",
                  f"CMU weights: {self.cmu_weights}; peak memory {self.peak_rss_mb:.0f} MB"]
        lines += [f"note ({p.name}): {p.note}" for p in pipes if p.note]
        return "\n".join(lines)


def first_frames(clip: Path, count: int, folder: Path) -> Path:
    """The clip's first `count` frames as an H.264 file (every pipeline then sees the same frames)."""
    info = probe(clip)
    out = folder / f"first_{count}_{clip.stem}.mp4"
    with iter_frames(clip) as reader, VideoWriter(out, info.width, info.height, info.fps) as writer:
        for frame in reader:
            if frame.index >= count:
                break
            writer.write(frame.image, frame.time_s)
    return out


def cmu_network(device: str) -> tuple[PoseEstimator, str]:
    """The article's network as our estimator: its real weights when downloaded, else random."""
    settings = PoseSettings(model=CMU, device=device, fallback_model=None)  # the CMU network's own speed
    spec = load_registry()[CMU]
    if weights_path(spec, downloads_dir()).exists():
        return load_estimator(settings), "real"
    dev = resolve_device(device)
    # Random weights find nobody, so the scout would try its every size; with real weights it
    # stops at the first one where it sees the lifter well (squat.track.framing): time that.
    settings = replace(settings, scout_long_sides=settings.scout_long_sides[:1], scout_close_long_side=None)
    return PoseEstimator(spec, OpenPoseNet().eval().to(dev), dev, settings), "random"


def time_article(clip: Path, count: int, estimator: PoseEstimator) -> tuple[Pipeline, list[np.ndarray]]:
    start = time.perf_counter()
    with iter_frames(clip) as reader:
        frames = [f.image for _, f in zip(range(count), reader)]
    decoded = time.perf_counter()
    _, seconds = run_article(estimator.model, frames)
    wall = time.perf_counter() - start
    return Pipeline("article", len(frames), wall, {"decode": decoded - start, **seconds}), frames


def time_ours(name: str, clip: Path, settings: Settings, out: Path, estimator: PoseEstimator | None = None
              ) -> Pipeline:
    """Analysis, files and annotated video, made as `squat analyze` makes them (nothing kept between runs)."""
    frames = probe(clip).frame_count
    start = time.perf_counter()
    note = ""
    beside: dict[str, float] = defaultdict(float)
    within: dict[str, float] = {}
    with timed(beside, within) as stages:
        try:
            run(clip, out, settings, estimator=estimator, overwrite=True)
        except NoLifterError:
            note = "nobody found (random weights): the network pass alone is timed"
    return Pipeline(name, frames, time.perf_counter() - start, dict(stages), note, dict(beside), within)


def decode_agreement(frames: list[np.ndarray], estimator: PoseEstimator) -> tuple[float, int]:
    """Median distance (frame pixels) between our decoding and the article's on the same maps: the
    maps upsampled to input pixels and cropped to the frame (no padding) for the article's resize."""
    distances = []
    for image in frames:
        heatmaps, pafs, box = estimator.maps([image])
        people = decode(heatmaps[0], pafs[0], estimator.settings)
        if not len(people.score):
            continue
        ours = box.to_frame(people.keypoints[0])[:, :2]
        h, w = image.shape[:2]
        valid = upsample(heatmaps[0], STRIDE)[:, : round(h * box.scale), : round(w * box.scale)]
        theirs = find_joint_coords(full_frame_maps(valid, (h, w)))
        gap = np.linalg.norm(ours[: len(theirs)] - theirs, axis=1)
        distances += list(gap[np.isfinite(gap)])
    return (float(np.median(distances)) if distances else float("nan")), len(distances)


def bench(clip: str | Path, frames: int | None = None, baseline_frames: int = 20, device: str = "auto") -> Report:
    """Everything above on `clip` (its first `frames` frames when given)."""
    clip = Path(clip)
    with tempfile.TemporaryDirectory(prefix="squat-bench-") as tmp:
        folder = Path(tmp)
        if frames:
            clip = first_frames(clip, frames, folder)
        info = probe(clip)
        cmu, cmu_weights = cmu_network(device)
        baseline, sample = time_article(clip, min(baseline_frames, info.frame_count), cmu)
        default = time_ours("ours", clip, Settings(pose=PoseSettings(device=device)), folder / "default")
        ours_cmu = time_ours("ours CMU", clip, Settings(pose=cmu.settings), folder / "cmu", cmu)
        agreement_net = cmu if cmu_weights == "real" else load_estimator(PoseSettings(device=device))
        agreement, joints = decode_agreement(sample, agreement_net)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return Report(Path(clip).name, info.frame_count, info.width, info.height, baseline, default, ours_cmu,
                  cmu_weights, agreement, joints, peak)
