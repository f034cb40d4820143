"""The orchestrator: video → lifter keypoints → kinematics → reps → outputs.

`analyze` does the numbers; `write_outputs` renders the annotated video and the files;
`run` does both into a folder that appears only when complete.
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import closing, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Callable, Optional

import cv2
import numpy as np
import pandas as pd

from squat import passes, results
from squat.draw.band import ChartStrip, strip_size
from squat.draw.overlay import (
    annotate_frame,
    band_for,
    bar_trail,
    blend_heatmap,
    chart_size,
    heatmap_panel,
    stacked_height,
)
from squat.draw.speed_labels import bar_speed_labels, rep_top_texts
from squat.errors import NoLifterError, SquatError
from squat.io.ahead import WriteBehind, read_ahead
from squat.io.seek import read_frames
from squat.io.spool import FrameSpool, spool_bytes
from squat.io.video import Frame, VideoWriter, iter_frames, probe, scaled_size
from squat.measure.bar_speed import BarSpeed, measure_bar_speed
from squat.measure.body import measure_body
from squat.measure.bones import bone_steadiness, hips_in_the_hole
from squat.measure.kinematics import Kinematics, compute_kinematics
from squat.measure.plate import (
    bar_centre,
    choose_plate,
    pixels_per_metre,
    pixels_per_metre_at_bar,
)
from squat.measure.points import _side_letters
from squat.measure.reps import bottoms_at_the_bar, segment_reps
from squat.memory import EveryFrames
from squat.passes import PoseTrack, pass_key
from squat.pose.estimator import PoseEstimator, load_estimator
from squat.pose.weights import load_registry, sha256_of
from squat.reading import Progress, read_clip, scout
from squat.results import PLATE_COLUMNS, Analysis
from squat.second_look import second_look
from squat.settings import KinematicsSettings, Settings
from squat.skeleton import FOOT_POINTS, HEATMAP_PARTS, JOINTS, N_JOINTS, J
from squat.timing import stage
from squat.track.lifter import mean_hip, select_lifter
from squat.track.rate import RateGate, fill_between, fill_smoothly
from squat.track.smoothing import smooth_track

# The annotated video's frame (without the chart band) is at most this many pixels on its long
# side: it is watched on a phone, and a 1080p one cost 20 ms a frame to encode (2.2x this).
ANNOTATED_LONG_SIDE = 1280
# ... and has at most this many frames a second: a 60 fps clip's every other frame, with its time
# (drawing and encoding each frame cost as much as the network's share of it; the page's frame
# slider still shows every frame of the clip, drawn from the numbers).
ANNOTATED_MAX_FPS = 30.0

# Below this share of frames with the lifter found, the numbers are flagged as unreliable.
MIN_DETECTED_SHARE = 0.5


def detect_poses(video: str | Path, settings: Settings = Settings(), progress: Optional[Progress] = None,
                 estimator: Optional[PoseEstimator] = None, spool: Optional[FrameSpool] = None) -> PoseTrack:
    """The network pass: frame the lifter, then detect everyone and look for the plate in every frame;
    the frames where the pass loses the lifter between frames it finds them in are read again at
    other sizes (squat.second_look). Where the model finds the lifter in under fallback_below of
    the frames, the clip is read again with the settings' fallback model, and the pass that finds
    them in more frames is kept; where it finds them but their bones are unsteady
    (fallback_unsteady), the fallback's read is kept where its bones are steadier. spool: where the
    first pass keeps the annotated video's frames (squat.io.spool)."""
    estimator = estimator or load_estimator(settings.pose)
    track = read_clip(video, settings, progress, estimator, spool=spool)
    fallback = settings.pose.fallback_model
    if not fallback or fallback == track.model_name:
        return second_look(track, video, settings, estimator)
    found = found_share(track, settings)  # before its second look: what fallback_below was set on
    track = second_look(track, video, settings, estimator)
    lost = found < settings.pose.fallback_below
    unsteady = settings.pose.fallback_unsteady
    steadiness = np.nan if lost or unsteady is None else bone_steadiness_of(track, settings)
    if not lost and (unsteady is None or not steadiness > unsteady):  # steady enough, or not judged (NaN)
        return track
    other_estimator = load_estimator(replace(settings.pose, model=fallback))
    other_look = scout(video, track.video, settings, other_estimator)
    if other_look is not None and other_look.lifter is None:
        return track  # the fallback's first look finds nobody either (a clip without a lifter): no second pass
    other = read_clip(video, settings, progress, other_estimator, other_look)
    found_by_other = found_share(other, settings)
    other = second_look(other, video, settings, other_estimator)
    if lost:
        if found_by_other <= found:
            return track
        why = f"{track.model_name} found the lifter in {found:.0%} of the frames, {fallback} in {found_by_other:.0%}"
    else:
        other_steadiness = bone_steadiness_of(other, settings)
        if found_by_other < found or not other_steadiness < steadiness:
            return track
        why = (f"{track.model_name}'s shin and thigh changed length through the clip ({steadiness:.2f}, their "
               f"length CVs summed; over {unsteady:g}), {fallback}'s less ({other_steadiness:.2f})")
    return replace(other, model_choice=f"read with {fallback}: {why}")


def bone_steadiness_of(track: PoseTrack, settings: Settings) -> float:
    """How steady the lifter's camera-side bones are through the squats of this pass, measured as
    measure() would. NaN where it finds no rep (people walking, a still, a 0.7 s descent whose
    squat-model read was kept with its knee 11° off: bones say little outside a squat) or cannot
    be measured: the choice is then left as it is."""
    try:
        analysis = measure(track, settings)
    except SquatError:
        return np.nan
    return bone_steadiness(analysis.keypoints, analysis.side) if len(analysis.reps) else np.nan


def found_share(track: PoseTrack, settings: Settings) -> float:
    """The share of the clip's frames in which the lifter is found, as measure() reports it: chosen
    on the frames the network read, the frames between filled (a frame between a read one with the
    lifter and one without has none)."""
    lifter = select_lifter(list(track.detections), track.seen_s, track.video.width, track.video.height,
                           settings.tracking)
    if not len(lifter):
        return 0.0
    x = lifter[..., 0] if track.network_frames is None else fill_between(lifter[..., 0], track.seen_s, track.time_s)
    return float(np.isfinite(x).any(axis=1).mean())


def measure(track: PoseTrack, settings: Settings = Settings()) -> Analysis:
    """Follow the lifter through the detections and compute the per-frame and per-rep numbers."""
    with stage("measuring"):
        return _measure(track, settings)


def _measure(track: PoseTrack, settings: Settings) -> Analysis:
    info, time_s, seen_s = track.video, track.time_s, track.seen_s
    # The lifter is chosen, smoothed and given the plate on the frames the network read, then
    # the frames between are filled (a clip read at network_hz, below its frame rate).
    raw = select_lifter(list(track.detections), seen_s, info.width, info.height, settings.tracking)
    if np.isnan(raw[..., 0]).all():
        raise NoLifterError(
            f"no person found in {Path(info.path).name}: film the lifter whole, side-on, in good light, and try again"
        )
    tracked = smooth_track(raw, seen_s, settings.tracking)
    plate = (choose_plate(list(track.circles), tracked[:, :N_JOINTS], seen_s, settings.plate, settings.tracking)
             if track.circles is not None and settings.plate.enabled else np.full((len(seen_s), 3), np.nan))
    if track.network_frames is not None:
        raw, tracked = (fill_between(a, seen_s, time_s) for a in (raw, tracked))
        plate = fill_smoothly(plate, seen_s, time_s)
    detected = ~np.isnan(raw[..., 0]).all(axis=1)
    keypoints, feet = tracked[:, :N_JOINTS], tracked[:, N_JOINTS:]  # feet: (F, 4, 3) or (F, 0, 3)
    bar = bar_centre(plate, (info.height, info.width), settings.plate)
    model_hip = mean_hip(keypoints)  # on the trunk line even where it rides up the back
    bar_px_per_m = pixels_per_metre_at_bar(plate, (info.height, info.width), settings.plate)
    kin_settings = model_settings(settings.kinematics, track)
    body = measure_body(keypoints, kin_settings, feet, bar, track.hip_high_femur)
    kin_settings = replace(kin_settings, side=body.side)  # the summary keeps the user's choice
    keypoints = hips_in_the_hole(keypoints, bar, body, track.hip_bias_at_depth_femur, kin_settings)
    heel, toe = camera_side_foot(feet, body.side)
    kin = compute_kinematics(keypoints, time_s, kin_settings, heel=heel, toe=toe, bar=bar, trunk_hip=model_hip,
                             bar_px_per_m=bar_px_per_m, body=body, toe_short_shin=track.toe_short_shin)
    reps, rep_per_frame = segment_reps(kin, time_s, settings.reps, settings.faults)
    # The plate's centre moves with the plate, so its own face gives the metres (not the midline).
    speed = measure_bar_speed(plate, time_s, pixels_per_metre(plate, settings.plate), reps, settings.bar_speed)
    hip_seen = np.isfinite(raw[:, [J["r_hip"], J["l_hip"]], 0]).any(axis=1)
    reps = bottoms_at_the_bar(reps, time_s, hip_seen, speed.frames["bar_height_cm"].to_numpy() / 100, settings.reps)
    reps = with_bar_speed(reps, speed)
    frames = results.frame_table(time_s, detected, keypoints, kin.frames, rep_per_frame, plate, feet,
                                 extra=speed.frames if speed.available else None)
    return Analysis(
        video=info, settings=settings, model_name=track.model_name, model_sha256=track.model_sha256,
        model_choice=track.model_choice, device=track.device, time_s=time_s, detected=detected,
        keypoints=keypoints, kinematics=kin, frames=frames, reps=reps, framing=track.framing, plate=plate,
        bar_px_per_m=bar_px_per_m, velocity_loss_pct=speed.velocity_loss_pct,
        warnings=tuple(track.reader_warnings) + tuple(_warnings(detected, kin, speed)),
    )


def network_pass(video: str | Path, settings: Settings = Settings(), progress: Optional[Progress] = None,
                 estimator: Optional[PoseEstimator] = None, passes_dir: str | Path | None = None,
                 clip_sha256: Optional[str] = None, spool: Optional[FrameSpool] = None) -> PoseTrack:
    """The network pass of a clip, kept in passes_dir when one is given (squat.passes): the same
    clip analysed again with settings that act after the network (the side, thresholds, reps)
    reads it back instead of running the network."""
    if passes_dir is None:
        return detect_poses(video, settings, progress, estimator, spool)
    sha = clip_sha256 or sha256_of(Path(video))
    path = Path(passes_dir) / f"{sha[:16]}-{pass_key(sha, settings)}.npz"  # the clip first: cleaned up with it
    track = passes.load(path, video)
    if track is None:
        track = detect_poses(video, settings, progress, estimator, spool)
        passes.save(track, path)
    return track


def analyze(video: str | Path, settings: Settings = Settings(), progress: Optional[Progress] = None,
            estimator: Optional[PoseEstimator] = None, passes_dir: str | Path | None = None,
            clip_sha256: Optional[str] = None, spool: Optional[FrameSpool] = None) -> Analysis:
    """Find the lifter in every frame and compute the per-frame and per-rep numbers (the network
    pass read back from passes_dir where it was kept). spool: where a network pass keeps the
    annotated video's frames (video_spool)."""
    return measure(network_pass(video, settings, progress, estimator, passes_dir, clip_sha256, spool), settings)


def model_settings(settings: KinematicsSettings, track: PoseTrack) -> KinematicsSettings:
    """The kinematics settings with the model's registry flags applied: a flag can only switch a
    measure off, never back on."""
    return replace(settings, hip_from_bones=settings.hip_from_bones and track.hip_from_bones,
                   torso_from_bar=settings.torso_from_bar and track.torso_from_bar,
                   far_hip_guessed=settings.far_hip_guessed and track.far_hip_guessed)


def trunk_measured_to_bar(model_name: str, torso_from_bar: bool = True) -> bool:
    """Whether the trunk line (lean, hip angle) was measured to the bar where it is seen, for a
    summary written before summary.json said so ("trunk_line"): the setting and the model's
    registry flag both allow it (as model_settings does)."""
    spec = load_registry().get(model_name)
    return torso_from_bar and (spec is None or spec.torso_from_bar)


def camera_side_foot(feet: np.ndarray, side: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Heel and toe (F, 3) of the camera-side foot from the (F, 4, 3) foot points; None, None
    for a model without feet."""
    if feet.shape[1] < len(FOOT_POINTS):
        return None, None
    s, _ = _side_letters(side)
    return feet[:, FOOT_POINTS.index(f"{s}_heel")], feet[:, FOOT_POINTS.index(f"{s}_toe")]


def with_bar_speed(reps: pd.DataFrame, speed: BarSpeed) -> pd.DataFrame:
    """The rep table with its bar-speed columns (declared in squat.measures, NaN from segment_reps)
    filled from the bar speed's rows, matched by rep number."""
    if not len(reps):
        return reps
    out = reps.copy()
    by_rep = speed.reps.set_index("rep")
    for column in by_rep.columns:
        out[column] = out["rep"].map(by_rep[column]).astype(float)
    return out


def _warnings(detected: np.ndarray, kin: Kinematics, speed: BarSpeed) -> list[str]:
    out = []
    if len(detected) == 1:
        out.append("one frame: measured as a still (angles and moment arms), no reps, tempo or bar speed; "
                   "film the whole set for those")
    if kin.view.warning:
        out.append(kin.view.warning)
        if speed.available:  # the plates face a side-on camera square; off it they are ellipses
            out.append("bar speed assumes the plate faces the camera square (a side-on camera): off side-on its "
                       "circle is an ellipse, the metres and the speeds read wrong")
    share = detected.mean()
    if share < MIN_DETECTED_SHARE:
        out.append(f"the lifter was found in only {share:.0%} of frames: numbers between detections are missing")
    return out


def write_outputs(analysis: Analysis, video: str | Path, out_dir: str | Path, heatmaps: bool = False,
                  progress: Optional[Progress] = None, estimator: Optional[PoseEstimator] = None,
                  annotated: bool = True, numbers_ready: Optional[Callable[[Path], None]] = None,
                  spool: Optional[FrameSpool] = None) -> Path:
    """frames.csv, reps.csv, summary.json, annotated.mp4 (unless not annotated) and heatmap PNGs into out_dir.
    numbers_ready(out_dir) is called once the three number files are written, before the video.
    spool: the video's frames kept by the network pass (video_spool), read instead of the clip."""
    out = results.write(analysis, out_dir)
    if numbers_ready:
        numbers_ready(out)
    if annotated:
        render_video(analysis, video, out / "annotated.mp4", progress, spool)
    if heatmaps:
        write_heatmaps(analysis, video, out, estimator or load_estimator(analysis.settings.pose), progress)
    return out


def render_video(analysis: Analysis, video: str | Path, path: Path, progress: Optional[Progress] = None,
                 spool: Optional[FrameSpool] = None) -> None:
    """The annotated clip: the chart with a moving cursor in a band above each frame, and on the
    frame the skeleton, joint angles, midfoot line, the bar's path this rep and moment arms, the
    bar's speed beside the plate and each rep's MCV as it ends. The clip's frames with their times, at
    most ANNOTATED_MAX_FPS a second: read back from the spool where the network pass kept them all,
    else decoded again."""
    info = analysis.video
    # Drawn at the video's own size (at most ANNOTATED_LONG_SIDE): the decoder shrinks each frame
    # in its colour conversion and the positions are scaled to it, rather than drawing a 1080p
    # frame and shrinking it for the encoder (speed log §20).
    width, height = scaled_size(info.width, info.height, ANNOTATED_LONG_SIDE)  # a smaller clip as it is
    to_video = np.array([width / info.width, height / info.height])
    strip = ChartStrip(analysis.frames, strip_size((width, chart_size(width, height)[1])))
    band_height = stacked_height(strip.size, width)
    table = analysis.frames  # a row at a time: a 10-minute clip's rows as dicts would be ~60 MB
    keypoints = analysis.keypoints * np.array([*to_video, 1.0], np.float32)
    plate_xy = analysis.frames.reindex(columns=list(PLATE_COLUMNS[:2])).to_numpy(np.float64) * to_video
    rep = analysis.frames["rep"].to_numpy()
    rep_top = rep_top_texts(analysis.reps, analysis.frames["time_s"].to_numpy())  # once: a frame reads its line
    bar_trunk = analysis.kinematics.body.trunk_line == "bar"
    due = RateGate(ANNOTATED_MAX_FPS)

    def drawn(frame: Frame, f: int) -> tuple[np.ndarray, float]:
        row = in_video_pixels(table.iloc[f].to_dict(), *to_video)
        with stage("render"):
            # The chart band and the frame drawn into one canvas: the frame converted straight into
            # it and drawn there, with no copy to stack (speed log §31).
            canvas = np.empty((band_height + height, width, 3), np.uint8)
            canvas[:band_height] = band_for(strip.at(row["time_s"]), width)
            image = frame.image_into(canvas[band_height:])
            annotate_frame(image, keypoints[f], analysis.side, row, bar_path=bar_trail(plate_xy, rep, f),
                           bar_trunk=bar_trunk, labels=bar_speed_labels(image.shape, row, rep_top[f]), in_place=True)
        return canvas, row["time_s"]

    def to_draw(reader: Iterable[Frame]) -> Iterator[Frame]:
        """The frames drawn, at most ANNOTATED_MAX_FPS a second; the others are never converted from
        the decoder's YUV (half a 60 fps clip's). Those drawn are converted in the drawing thread:
        decoding alone keeps the reading thread busy (speed log §29)."""
        for frame in reader:
            if frame.index >= len(table):
                return
            if due(frame.time_s):
                yield frame

    source = nullcontext(spool.frames()) if spool is not None and spool.complete \
        else iter_frames(video, ANNOTATED_LONG_SIDE)
    with VideoWriter(path, width, height + band_height, min(info.fps, ANNOTATED_MAX_FPS)) as writer, \
            source as reader, closing(read_ahead(to_draw(reader))) as frames, \
            WriteBehind(lambda item: writer.write(*item)) as encoder:
        # Decoding the next frames and encoding the last ones overlap the drawing (speed log §21).
        trim = EveryFrames()
        for frame in frames:
            trim.count()
            encoder.put(drawn(frame, frame.index))
            if progress:
                progress("render", frame.index + 1, len(table))
        if progress:
            progress("render", len(table), len(table))


# The per-frame table's positions the overlay draws (frame pixels), scaled with the frame.
X_COLUMNS, Y_COLUMNS = ("bar_x", "midfoot_x", "plate_x", "plate_radius"), ("bar_y", "plate_y")


def in_video_pixels(row: dict, sx: float, sy: float) -> dict:
    """A frame's row with its positions in the pixels of a frame scaled by sx, sy (1, 1: as it is)."""
    if sx == sy == 1:
        return row
    scaled = {k: row[k] * sx for k in X_COLUMNS if k in row}
    scaled |= {k: row[k] * sy for k in Y_COLUMNS if k in row}
    return row | scaled


def write_heatmaps(analysis: Analysis, video: str | Path, out: Path, estimator: PoseEstimator,
                   progress: Optional[Progress] = None) -> None:
    """PNGs of the neck, hip, knee and ankle heatmaps blended over the deepest frame, as in the article."""
    image = read_frame(video, analysis.deepest_frame)
    maps = estimator.part_heatmaps(image, side_heatmap_parts(analysis.side), analysis.framing)
    for name, heat in maps.items():
        cv2.imwrite(str(out / f"heatmap_{name}.png"), blend_heatmap(image, heat))
    cv2.imwrite(str(out / "heatmaps.png"), heatmap_panel(image, maps))
    if progress:
        progress("heatmaps", 1, 1)


def side_heatmap_parts(side: str) -> dict[str, int]:
    """The article's four parts (neck, hip, knee, ankle) on the camera-side leg."""
    prefix = "r_" if side == "right" else "l_"
    return {name: JOINTS.index(name if name == "neck" else prefix + name) for name in HEATMAP_PARTS}


def read_frame(video: str | Path, index: int) -> np.ndarray:
    """One upright frame by index, decoded from the keyframe before it (VideoError past the end)."""
    return read_frames(video, [index])[index].image


def run(video: str | Path, out_dir: str | Path, settings: Settings = Settings(), heatmaps: bool = False,
        progress: Optional[Progress] = None, overwrite: bool = False, annotated: bool = True,
        passes_dir: str | Path | None = None, clip_sha256: Optional[str] = None,
        numbers_ready: Optional[Callable[[Path], None]] = None, estimator: Optional[PoseEstimator] = None) -> Path:
    """Analyse and write every output into out_dir, which appears only once complete. passes_dir:
    where network passes are kept (see network_pass); None runs the network every time.
    numbers_ready(folder): called with the unfinished folder once frames.csv, reps.csv and
    summary.json are in it, before the video is rendered; the folder is renamed or removed
    afterwards, so keep (link or copy) what must outlive the call. estimator: the network to use
    (loaded from the settings where not given)."""
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise SquatError(f"{out} already exists and is not empty: choose another --out or pass --overwrite")
    # probes the file before loading the model
    with (video_spool(video, out.parent) if annotated else nullcontext()) as spool:
        analysis = analyze(video, settings, progress, estimator, passes_dir=passes_dir, clip_sha256=clip_sha256,
                           spool=spool)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
        try:
            write_outputs(analysis, video, tmp, heatmaps, progress, annotated=annotated, numbers_ready=numbers_ready,
                          spool=spool)
            if out.exists():
                shutil.rmtree(out)  # only reached with overwrite=True, or for an empty folder
            tmp.rename(out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return out


# The annotated video's frames are kept by the network pass (squat.io.spool) up to this many bytes:
# a 48 s set at 30 fps (1280x720 frames, 1.4 MB each). A longer clip's video decodes it again.
SPOOL_LIMIT_BYTES = 2 * 1024**3


def video_spool(video: str | Path, folder: Path) -> FrameSpool | nullcontext:
    """Where the network pass keeps the annotated video's frames: an unnamed file in folder (or the
    nearest folder above it that exists), on the disk the output goes to, where the clip's frames fit
    in SPOOL_LIMIT_BYTES and twice that is free; else nothing (a no-op context)."""
    info = probe(video)  # VideoError for a file that is not a video, before anything is made
    need = spool_bytes(info.width, info.height, info.fps, info.duration_s, info.frame_count,
                       ANNOTATED_LONG_SIDE, ANNOTATED_MAX_FPS)
    folder = next((f for f in (folder, *folder.parents) if f.is_dir()), None)
    if folder is None or need > SPOOL_LIMIT_BYTES or shutil.disk_usage(folder).free < 2 * need:
        return nullcontext()
    try:
        return FrameSpool(folder, ANNOTATED_LONG_SIDE, lambda: RateGate(ANNOTATED_MAX_FPS), SPOOL_LIMIT_BYTES)
    except OSError:  # a folder we may not write to: the video decodes the clip again
        return nullcontext()
