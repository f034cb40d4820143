"""One schema for an analysis on disk, one writer and one reader.

An analysis folder holds frames.csv (frame, time_s, detected, the keypoints, then the per-frame
measures of squat.measures), reps.csv (the per-rep measures) and summary.json (clip, model, side,
view, proportions, plate, reps, warnings and the settings). `write` makes the three from an
Analysis; `read` gives them back as a Result with a typed Summary. The store, the app, the
comparison and evaluation all read through `read`.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np
import pandas as pd

from squat import __version__
from squat.errors import SquatError
from squat.io.video import VideoInfo
from squat.measure.kinematics import Kinematics
from squat.measure.plate import pixels_per_metre
from squat.measures import FRAME_MEASURES
from squat.numbers import number
from squat.pose.estimator import Letterbox, fit
from squat.settings import Settings, settings_from_dict
from squat.skeleton import FOOT_POINTS, JOINTS

FILES = ("frames.csv", "reps.csv", "summary.json")
KEYPOINT_SUFFIXES = ("x", "y", "conf")  # frames.csv: <joint>_x, <joint>_y, <joint>_conf per keypoint
PLATE_COLUMNS = ("plate_x", "plate_y", "plate_radius")  # the visible plate (its face), px
BAR_SPEED_UNAVAILABLE = ("no plate seen, so no bar speed: it is measured from a barbell plate's centre, its 45 cm "
                         "giving the metres (a bodyweight or dumbbell set has none)")
FLOAT_FORMAT = "%.3f"  # CSV precision: 0.001 px and 0.001° are far below what a video resolves


@dataclass(frozen=True, eq=False)  # eq=False: arrays and tables have no single truth value
class Analysis:
    """Everything the CLI writes and the app shows for one clip."""

    video: VideoInfo
    settings: Settings
    model_name: str
    model_sha256: str
    device: str
    time_s: np.ndarray  # (F,) seconds since the first frame, from container timestamps
    detected: np.ndarray  # (F,) bool: the lifter was found by the network in this frame
    keypoints: np.ndarray  # (F, 18, 3) tracked and smoothed lifter
    kinematics: Kinematics
    frames: pd.DataFrame  # one row per frame
    reps: pd.DataFrame  # one row per rep
    framing: Optional[Letterbox] = None  # the region and scale the network saw (None: whole frame)
    plate: Optional[np.ndarray] = None  # (F, 3) the barbell plate's centre and radius, px; NaN where not seen
    bar_px_per_m: float = float("nan")  # the scale at the lifter's midline, from the plate (NaN: no plate)
    velocity_loss_pct: float = float("nan")  # the set's bar-speed loss, fastest rep to last (NaN: not measured)
    warnings: tuple[str, ...] = field(default=())
    model_choice: str = ""  # why another model than the settings' read the clip ("" if none did)

    @property
    def side(self) -> str:
        return self.kinematics.side

    @property
    def deepest_frame(self) -> int:
        knee = self.frames["knee_angle"].to_numpy()
        return int(np.nanargmin(knee)) if np.isfinite(knee).any() else 0

    def plate_summary(self) -> dict:
        """How often the plate was seen, its radius and the scale it gives (px per metre)."""
        plate = self.plate if self.plate is not None else np.full((len(self.time_s), 3), np.nan)
        scale = pixels_per_metre(plate, self.settings.plate)  # the median diameter over the real one
        return {
            "seen_share": float(np.isfinite(plate[:, 2]).mean()) if len(plate) else 0.0,
            "radius_px": jsonable(scale * self.settings.plate.diameter_m / 2),
            "px_per_m": jsonable(scale),  # on the plate's face
            "px_per_m_at_bar": jsonable(self.bar_px_per_m),  # at the lifter's midline
        }

    def bar_speed_summary(self) -> dict:
        """The set's bar speed: fastest and mean MCV, velocity loss, or why there is none."""
        mcv = self.reps["mcv_ms"].to_numpy(np.float64) if "mcv_ms" in self.reps else np.zeros(0)
        measured = mcv[np.isfinite(mcv)]
        available = "bar_velocity_ms" in self.frames
        return {
            "available": available,
            "source": "plate" if available else "",
            "reps_measured": int(len(measured)),
            "best_mcv_ms": jsonable(float(measured.max())) if len(measured) else None,
            "mean_mcv_ms": jsonable(float(measured.mean())) if len(measured) else None,
            "velocity_loss_pct": jsonable(self.velocity_loss_pct),
            "note": "" if available else BAR_SPEED_UNAVAILABLE,
        }

    def summary(self) -> dict:
        v = self.video
        return {
            "version": __version__,
            "video": {
                "file": Path(v.path).name, "codec": v.codec, "fps": v.fps, "frame_count": len(self.time_s),
                "duration_s": v.duration_s, "width": v.width, "height": v.height, "rotation": v.rotation,
            },
            "model": {"name": self.model_name, "weights_sha256": self.model_sha256, "device": self.device,
                      "choice": self.model_choice,
                      "input": _framing(self.framing, self.settings, v)},
            "side": self.side,
            "facing": self.kinematics.facing,
            "trunk_line": self.kinematics.body.trunk_line,  # "bar": lean and hip angle measured toward the bar
            "view": jsonable(asdict(self.kinematics.view)),
            "proportions": jsonable(asdict(self.kinematics.proportions)),
            "detected_share": float(self.detected.mean()) if len(self.detected) else 0.0,
            "plate": self.plate_summary(),
            "bar_speed": self.bar_speed_summary(),
            "rep_count": int(len(self.reps)),
            "reps": jsonable(self.reps.to_dict(orient="records")),
            "warnings": list(self.warnings),
            "settings": asdict(self.settings),
        }


def frame_table(time_s: np.ndarray, detected: np.ndarray, keypoints: np.ndarray, kin_frames: pd.DataFrame,
                rep_per_frame: np.ndarray, plate: Optional[np.ndarray] = None,
                feet: Optional[np.ndarray] = None, extra: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """frames.csv: frame, time_s, detected, <joint>_x/_y/_conf for COCO-18 (then the foot points
    for models with feet), then the per-frame measures of squat.measures in their declared order,
    each where this clip has it (plate_x/_y/_radius only where a plate was seen)."""
    cols: dict[str, np.ndarray] = {"frame": np.arange(len(time_s)), "time_s": time_s, "detected": detected}
    points = np.concatenate([keypoints, feet], axis=1) if feet is not None else keypoints
    for j, name in enumerate((JOINTS + FOOT_POINTS)[: points.shape[1]]):
        for k, suffix in enumerate(KEYPOINT_SUFFIXES):
            cols[f"{name}_{suffix}"] = points[:, j, k]
    sources = dict(kin_frames.items())
    sources["rep"] = rep_per_frame
    if extra is not None:
        sources.update(extra.items())
    if plate is not None and np.isfinite(plate).any():
        sources.update(zip(PLATE_COLUMNS, np.asarray(plate, np.float64).T))
    for m in FRAME_MEASURES:  # in the declared order; a measure this clip has no data for is left out
        if m.column in sources:
            cols[m.column] = np.asarray(sources[m.column])
    return pd.DataFrame(cols)


def keypoints_at(frames: pd.DataFrame, index: int) -> np.ndarray:
    """(18, 3) float32 x, y, confidence of the lifter in one frame, from frames.csv's joint columns."""
    row = frames.iloc[index]
    values = [[row.get(f"{joint}_{k}", np.nan) for k in KEYPOINT_SUFFIXES] for joint in JOINTS]
    return np.asarray(values, dtype=np.float32)


@dataclass(frozen=True)
class Summary:
    """summary.json, typed: what readers need without spelling its keys. `raw` is the whole file."""

    clip: str
    fps: float
    frame_count: int
    width: int
    height: int
    model: str
    side: str
    facing: int
    trunk_line: str  # "bar" | "model": where the lean and hip angle were measured (squat.measure.body.Body)
    view: str  # "side" | "oblique" | "front"
    view_warning: str
    femur_to_torso: float  # NaN where unknown
    shin_to_femur: float
    detected_share: float
    rep_count: int
    warnings: tuple[str, ...]
    settings: Settings
    raw: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Summary":
        video, model = data.get("video") or {}, data.get("model") or {}
        view, props = data.get("view") or {}, data.get("proportions") or {}
        return cls(
            clip=str(video.get("file", "")), fps=number(video.get("fps")),
            frame_count=int(video.get("frame_count") or 0), width=int(video.get("width") or 0),
            height=int(video.get("height") or 0), model=str(model.get("name", "")),
            side=str(data.get("side", "right")), facing=int(data.get("facing") or 1),
            trunk_line=str(data.get("trunk_line", "")),
            view=str(view.get("view", "side")), view_warning=str(view.get("warning") or ""),
            femur_to_torso=number(props.get("femur_to_torso")), shin_to_femur=number(props.get("shin_to_femur")),
            detected_share=number(data.get("detected_share")), rep_count=int(data.get("rep_count") or 0),
            warnings=tuple(data.get("warnings") or ()), settings=settings_from_dict(data.get("settings") or {}),
            raw=data,
        )


@dataclass(frozen=True, eq=False)  # eq=False: tables have no single truth value
class Result:
    """One analysis folder as read back: the two tables and the typed summary."""

    folder: Path
    frames: pd.DataFrame  # frames.csv
    reps: pd.DataFrame  # reps.csv; faults "" where none
    summary: Summary

    def path(self, name: str) -> Path:
        return self.folder / name


def write(analysis: Analysis, folder: str | Path) -> Path:
    """frames.csv, reps.csv and summary.json of an analysis into folder (made if needed)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    analysis.frames.to_csv(out / "frames.csv", index=False, float_format=FLOAT_FORMAT)
    analysis.reps.to_csv(out / "reps.csv", index=False, float_format=FLOAT_FORMAT)
    (out / "summary.json").write_text(json.dumps(analysis.summary(), indent=2) + "\n")
    return out


def read(folder: str | Path) -> Result:
    """An analysis folder back as tables and a typed summary; SquatError naming what is wrong."""
    folder = Path(folder)
    hint = "give the folder `python -m squat analyze` wrote"
    if not folder.is_dir():
        raise SquatError(f"{folder} is not a folder: {hint}")
    missing = [n for n in FILES if not (folder / n).is_file()]
    if missing:
        raise SquatError(f"{folder} has no {', '.join(missing)}: {hint}")
    frames = _read_csv(folder / "frames.csv")
    reps = _read_csv(folder / "reps.csv", dtype={"faults": object})
    if "faults" in reps:
        reps["faults"] = reps["faults"].fillna("").astype(str)
    try:
        data = json.loads((folder / "summary.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SquatError(f"{folder / 'summary.json'} is not readable JSON ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise SquatError(f"{folder / 'summary.json'} is not an analysis summary")
    return Result(folder=folder, frames=frames, reps=reps, summary=Summary.from_json(data))


def _read_csv(path: Path, dtype: Optional[dict] = None) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=dtype)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SquatError(f"{path} is not a readable CSV ({exc.__class__.__name__})") from None


def _framing(box: Optional[Letterbox], settings: Settings, video: VideoInfo) -> dict:
    """The network input for summary.json: its size and the frame's scale in it."""
    box = box or fit((video.height, video.width), settings.pose.long_side)
    return {"width": box.width, "height": box.height, "scale": round(box.scale, 4)}


def jsonable(value):
    """NaN → None and numpy scalars → Python, through dicts, lists and tuples: strict JSON
    (summary.json and the evaluation reports)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value

