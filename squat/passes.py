"""The network pass, kept: what the network (and the plate search) saw in a clip, before any measuring.

Running the network is most of an analysis' time; everything after it (choosing the lifter,
smoothing, the plate, the side, kinematics, reps and faults) takes about a second. So the pass
is stored as a `.npz` keyed by the clip's content and the settings that shape it (the model and
its weights, the pose, framing and plate-search settings): analysing the same clip again with
another camera-side leg, threshold or any setting after the network re-measures without
running the network. The file holds only arrays and JSON (no pickle), so it loads on any
version of the code that knows its FORMAT.
"""
from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from squat import __version__
from squat.io.video import VideoInfo
from squat.pose.detections import Detections
from squat.pose.estimator import Letterbox
from squat.pose.weights import ModelSpec, load_registry
from squat.settings import Settings

FORMAT = 2  # bump when the file's layout or what the pass computes changes


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value
class PoseTrack:
    """What the network pass saw in a clip: every frame's detections and plate-sized circles.
    `pipeline.measure` turns it into an Analysis; keeping it lets settings that act after the
    network (tracking, plate, kinematics, reps) be tried again in a blink."""

    video: VideoInfo
    time_s: np.ndarray  # (F,) seconds since the first frame
    detections: tuple[Detections, ...]  # per frame, everyone the network found
    circles: Optional[tuple[np.ndarray, ...]]  # per frame, plate candidates; None: not searched
    framing: Optional[Letterbox]
    model_name: str
    model_sha256: str
    device: str
    reader_warnings: tuple[str, ...] = ()
    hip_high_femur: float = 0.0  # the model's standing hip above the COCO hip, × femur (registry)
    hip_bias_at_depth_femur: tuple[float, float] = (0.0, 0.0)  # its hip ahead and above in the hole (registry)
    toe_short_shin: float = 0.0  # its big toe behind the truth's, × shin (registry)
    hip_from_bones: bool = True  # the registry's: whether this model's hip at depth needs the bones
    torso_from_bar: bool = True  # the registry's: whether this model's shoulder behind a plate is lost
    far_hip_guessed: bool = True  # the registry's: whether this model guesses the hidden far hip
    # The frames the network read (detections and circles are theirs), where it ran below the
    # clip's frame rate (PoseSettings.network_hz); None: every frame.
    network_frames: Optional[np.ndarray] = None
    # Why the clip was read with another model than the settings' (PoseSettings.fallback_model); "" if not.
    model_choice: str = ""
    still_reads: int = 0  # reads taken as their neighbours' mean, the lifter still (squat.reading)
    second_looks: int = 0  # reads taken again at another size, the lifter lost in the first (squat.second_look)

    @property
    def seen_s(self) -> np.ndarray:
        """The times of the frames the network read."""
        return self.time_s if self.network_frames is None else self.time_s[self.network_frames]


def _recorded(meta: dict, name: str):
    """A measured model value the pass recorded; for a pass kept before passes recorded it, the
    registry's now (ModelSpec's default for a model no longer registered)."""
    if meta.get(name) is not None:
        return meta[name]
    spec = load_registry().get(meta["model_name"])
    return getattr(spec if spec is not None else ModelSpec, name)


def pass_key(clip_sha256: str, settings: Settings) -> str:
    """The name a pass is kept under: the clip's content and every setting the pass depends on
    (pose and framing, the scout's lifter choice, the plate search), plus the weights' hash."""
    registry = load_registry()
    spec, fallback = registry.get(settings.pose.model), registry.get(settings.pose.fallback_model or "")
    shaping = {"format": FORMAT, "version": __version__, "clip": clip_sha256,
               "weights": spec.sha256 if spec is not None else "", "pose": asdict(settings.pose),
               "fallback_weights": fallback.sha256 if fallback is not None else "",
               # where the settings leave the lifter's size in the input to the model, the model's
               "heights": [s.person_height_px if s is not None else None for s in (spec, fallback)],
               "tracking": asdict(settings.tracking), "plate": asdict(settings.plate)}
    shaping["pose"].pop("device")  # the CPU and a GPU see the same maps within float noise
    shaping["pose"].pop("batch_frames")  # and so does a batch of any size
    return hashlib.sha256(json.dumps(shaping, sort_keys=True, default=str).encode()).hexdigest()[:24]


def save(track: PoseTrack, path: str | Path) -> Path:
    """Write the pass as a compressed .npz, atomically (a reader never sees half a file)."""
    path = Path(path)
    counts = np.array([len(d.scores) for d in track.detections], np.int32)
    n_points = max((d.keypoints.shape[1] for d in track.detections), default=18)
    keypoints = np.concatenate([d.keypoints.reshape(-1, n_points, 3) for d in track.detections]
                               or [np.zeros((0, n_points, 3), np.float32)]).astype(np.float32)
    scores = np.concatenate([d.scores for d in track.detections] or [np.zeros(0)]).astype(np.float32)
    arrays = {"time_s": np.asarray(track.time_s, np.float64), "counts": counts, "keypoints": keypoints,
              "scores": scores}
    if track.network_frames is not None:
        arrays["network_frames"] = np.asarray(track.network_frames, np.int64)
    if track.circles is not None:
        arrays["circle_counts"] = np.array([len(c) for c in track.circles], np.int32)
        arrays["circles"] = np.concatenate([np.asarray(c, np.float32).reshape(-1, 4) for c in track.circles]
                                           or [np.zeros((0, 4), np.float32)])  # x, y, radius, rim support
    video = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(track.video).items()}
    meta = {"format": FORMAT, "video": video, "framing": asdict(track.framing) if track.framing else None,
            "model_name": track.model_name, "model_sha256": track.model_sha256, "device": track.device,
            "reader_warnings": list(track.reader_warnings), "hip_high_femur": track.hip_high_femur,
            "hip_bias_at_depth_femur": list(track.hip_bias_at_depth_femur), "toe_short_shin": track.toe_short_shin,
            "hip_from_bones": track.hip_from_bones, "torso_from_bar": track.torso_from_bar,
            "far_hip_guessed": track.far_hip_guessed, "model_choice": track.model_choice,
            "still_reads": track.still_reads, "second_looks": track.second_looks}
    arrays["meta"] = np.array(json.dumps(meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.npz")
    try:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load(path: str | Path, video: str | Path | None = None) -> Optional[PoseTrack]:
    """The pass kept at path, or None where there is none, it is of another FORMAT, or unreadable
    (the caller then runs the network again). `video`: where the clip is now (it may have moved)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != FORMAT:
                return None
            arrays = {k: data[k] for k in data.files if k != "meta"}
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None
    ends = np.cumsum(arrays["counts"])
    detections = tuple(Detections(k, s) for k, s in zip(np.split(arrays["keypoints"], ends[:-1]),
                                                         np.split(arrays["scores"], ends[:-1])))
    circles = None
    if "circles" in arrays:
        circles = tuple(np.split(arrays["circles"], np.cumsum(arrays["circle_counts"])[:-1]))
    info = dict(meta["video"], path=Path(video) if video is not None else Path(meta["video"]["path"]))
    return PoseTrack(
        video=VideoInfo(**info), time_s=arrays["time_s"], detections=detections, circles=circles,
        framing=Letterbox(**meta["framing"]) if meta["framing"] else None, model_name=meta["model_name"],
        model_sha256=meta["model_sha256"], device=meta["device"], reader_warnings=tuple(meta["reader_warnings"]),
        hip_high_femur=meta["hip_high_femur"], hip_from_bones=meta["hip_from_bones"],
        hip_bias_at_depth_femur=tuple(_recorded(meta, "hip_bias_at_depth_femur")),
        toe_short_shin=_recorded(meta, "toe_short_shin"),
        torso_from_bar=meta["torso_from_bar"], far_hip_guessed=meta["far_hip_guessed"],
        network_frames=arrays.get("network_frames"), model_choice=meta.get("model_choice", ""),
        still_reads=meta.get("still_reads", 0), second_looks=meta.get("second_looks", 0),
    )
