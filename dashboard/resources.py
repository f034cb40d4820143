"""What the pages share across reruns and sessions: the results store, the pose network and decoded
frames (Streamlit caches), and analysing a clip: a job run by a worker (squat.jobs), its progress
read back from the job's row."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
import pandas as pd
import streamlit as st

from dashboard import state
from dashboard.presenters import (
    ProgressMeter,
    bar_path_at,
    bar_trunk,
    frame_row,
    heatmap_joint,
    network_pose,
    time_chart_specs,
    vega_spec,
)
from squat.draw.charts import rep_depth_chart, rep_velocity_chart
from squat.draw.overlay import annotate_frame, blend_heatmap
from squat.draw.speed_labels import bar_speed_labels, rep_top_texts
from squat.errors import SquatError
from squat.jobs import Job, Jobs, start_worker_processes
from squat.pipeline import read_frame
from squat.pose.estimator import PoseEstimator, check_model, load_estimator
from squat.results import keypoints_at
from squat.settings import PoseSettings, Settings
from squat.store import Entry, ResultsStore, StoredRun, content_hash, data_dir

VIDEO_TYPES = ["mp4", "mov", "avi", "mkv", "m4v"]
JPEG_QUALITY = 92  # the annotated frame on the page: sharp lines, a tenth of a PNG's bytes
PROGRESS_EVERY_S = 1.0  # the progress bar reads the job's row this often
WORKERS_ENV = "SQUAT_WORKERS"


# --------------------------------------------------------------------------- cached resources


@st.cache_resource(show_spinner=False)
def get_store(root: str) -> ResultsStore:
    return ResultsStore(root)


@st.cache_resource(show_spinner="Loading the pose model…")
def get_estimator(pose: PoseSettings) -> PoseEstimator:
    """One network per model and settings for the whole process (load_estimator is what run() uses)."""
    return load_estimator(pose)


@st.cache_resource(show_spinner=False)
def get_jobs(root: str) -> Jobs:
    """The store's job table, and this server's own worker processes ($SQUAT_WORKERS, default 1; 0
    when separate `python -m squat worker` processes run the jobs, as they always do with RQ)."""
    jobs = Jobs(get_store(root))
    workers = int(os.environ.get(WORKERS_ENV, "1") or 0)
    if workers > 0 and not jobs.queue_url:  # with RQ ($SQUAT_QUEUE) the workers run apart
        jobs.stop_workers = start_worker_processes(jobs.store.root, workers)
    return jobs


@st.cache_data(max_entries=4, show_spinner=False)
def load_run(root: str, key: str) -> StoredRun:
    return get_store(root).load(key)


@st.cache_data(max_entries=4, show_spinner=False)
def _load_preview(root: str, folder: str, clip: str, name: str, sha: str, _settings: Settings,
                  created: float) -> StoredRun:
    """A running job's numbers (`folder`, its job's preview: one per job attempt, so the key)."""
    return get_store(root).load_preview(folder, clip, name, sha, _settings,
                                        datetime.fromtimestamp(created, UTC))


def preview_run(job: Job) -> Optional[StoredRun]:
    """A running job's numbers, ready before its annotated video (squat.jobs); None when it has none
    (not yet, not running, or gone because the job just ended)."""
    if job.state != "running" or job.preview is None:
        return None
    try:
        return _load_preview(str(store().root), str(job.preview), str(job.clip_path), job.clip_name,
                             job.clip_sha256, job.settings, job.created)
    except SquatError:
        return None


@st.cache_data(max_entries=64, show_spinner=False)
def load_summary(root: str, key: str) -> dict:
    """summary.json of one stored analysis (the reference list needs only the proportions)."""
    entry = get_store(root).get(key)
    return json.loads((entry.run_dir / "summary.json").read_text()) if entry else {}


@st.cache_data(max_entries=48, show_spinner=False)
def frame_image(clip: str, index: int) -> np.ndarray:
    """One upright BGR frame of a stored clip (decoded up to it, so cached)."""
    return read_frame(clip, index)


@st.cache_data(max_entries=16, show_spinner="Running the network on this frame…")
def heatmap_image(clip: str, index: int, pose: PoseSettings, side: str, part: str) -> np.ndarray:
    """The frame with one part's heatmap blended over it, as in the article."""
    image = frame_image(clip, index)
    maps = get_estimator(pose).part_heatmaps(image, heatmap_joint(side, part))
    return blend_heatmap(image, maps[part])


@st.cache_data(max_entries=16, show_spinner=False)
def chart_specs(key: str, created: float, rows: int, _frames: pd.DataFrame, _reps: Optional[pd.DataFrame]) -> list[dict]:
    """The time charts of one analysis (or a running job's preview: its creation time tells them
    apart), for every session that shows it (presenters.time_chart_specs)."""
    return time_chart_specs(_frames, _reps)


@st.cache_data(max_entries=16, show_spinner=False)
def depth_chart_spec(key: str, created: float, _reps: pd.DataFrame) -> dict:
    """The depth-per-rep chart of one analysis as a Vega-Lite spec, built once (Altair validates
    the whole spec each time it converts one: most of the chart's cost)."""
    return vega_spec(rep_depth_chart(_reps))


@st.cache_data(max_entries=16, show_spinner=False)
def velocity_chart_spec(key: str, created: float, _reps: pd.DataFrame) -> dict:
    """The bar-speed-per-rep chart of one analysis as a Vega-Lite spec, built once (as depth_chart_spec)."""
    return vega_spec(rep_velocity_chart(_reps))


@st.cache_data(max_entries=64, show_spinner=False)
def annotated_jpeg(key: str, created: float, index: int, heat_part: Optional[str], _run: StoredRun) -> bytes:
    """Frame `index` of an analysis with its skeleton drawn (over one part's heatmap when `heat_part`
    is given), encoded once as JPEG: every session that shows it, and every return to it, reuses the
    bytes instead of drawing and encoding the frame again. The bar's speed and a rep's MCV as the
    video shows them."""
    frames, summary = _run.frames, _run.summary
    side = summary.get("side", "right")
    base = (heatmap_image(str(_run.clip), index, network_pose(summary), side, heat_part) if heat_part is not None
            else frame_image(str(_run.clip), index))
    row = frame_row(frames, index)
    rep_top = rep_top_texts(_run.reps, frames["time_s"].to_numpy())[index]  # a few reps: cheap
    image = annotate_frame(base, keypoints_at(frames, index), side, row, bar_path=bar_path_at(frames, index),
                           bar_trunk=bar_trunk(summary), labels=bar_speed_labels(base.shape, row, rep_top))
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise SquatError(f"could not encode frame {index} of {_run.entry.clip_name}")
    return data.tobytes()


def store() -> ResultsStore:
    """The store under $SQUAT_DATA_DIR, read each time: tests point it elsewhere between runs."""
    return get_store(str(data_dir()))


def jobs() -> Jobs:
    return get_jobs(str(data_dir()))


# --------------------------------------------------------------------------- analysing


def analyse(video: Path, name: str, settings: Settings, move: bool = False,
            clip_sha256: Optional[str] = None, open_it: bool = True) -> Optional[Entry]:
    """Analyse one clip into the store; an unusable clip shows st.error and returns None.

    With `open_it` the page follows the new job (dashboard.app's progress fragment opens it when it
    is done) and this returns None at once; a stored analysis is opened and returned straight away.
    Without `open_it` (a reference clip) this waits for the analysis and returns it unopened.
    Instant when the store already has this content with these settings. With `move`, `video` is a
    temporary copy the store may take over.
    """
    results = store()
    try:
        sha = clip_sha256 or content_hash(video)
        if results.find(sha, settings) is None:
            check_model(settings.pose)  # missing weights fail here, before queueing; the workers load the network
        # always a job, even for a stored analysis (done at once): hosted, it records who owns it
        job = jobs().submit(video, settings, name=name, move=move, clip_sha256=sha, owner=state.owner())
        if job.state == "done":
            entry = results.get(job.run_key)
            st.toast(f"Opened the stored analysis of {entry.clip_name}")
        elif open_it:
            state.follow_job(job.id)
            return None
        else:
            entry = follow(job.id)
    except SquatError as e:
        st.error(str(e), icon=":material/error:")
        return None
    except OSError as e:  # the file vanished or cannot be read: still the user's file, not a bug
        st.error(f"cannot read {name}: {e.strerror or e}", icon=":material/error:")
        return None
    if open_it:
        state.open_run(entry.key)
    return entry


def job_progress(job: Job, meter: ProgressMeter) -> tuple[float, str]:
    """The progress bar's fraction and line for a job that is not finished."""
    if job.state == "queued":
        ahead = jobs().queued_ahead(job)
        return 0.0, (f"Waiting for a free worker ({ahead} analysis ahead)…" if ahead else "Starting the analysis…")
    if not job.total:
        return 0.0, f"Analysing {job.clip_name}…"
    fraction, text = meter.update(job.stage, job.done, job.total)
    return min(fraction, 1.0), text


def finished_entry(job_id: str) -> Entry:
    """The stored analysis of a finished job, or SquatError saying why there is none."""
    job = jobs().get(job_id)
    if job is None:
        raise SquatError("that analysis is no longer known here: analyse the clip again")
    if job.state == "failed":
        raise SquatError(job.error)
    entry = store().get(job.run_key)
    if entry is None:
        raise SquatError(f"the analysis of {job.clip_name} was deleted: analyse the clip again")
    return entry


def follow(job_id: str) -> Entry:
    """Wait for a job under a progress bar (a reference clip, inside the comparison); its stored
    analysis, or SquatError with the job's reason."""
    meter = ProgressMeter()
    bar = st.progress(0.0, text="Analysing the reference clip…")
    try:
        job = jobs().get(job_id)
        while job is not None and not job.finished:
            bar.progress(*job_progress(job, meter))
            time.sleep(PROGRESS_EVERY_S)
            job = jobs().get(job_id)
    finally:
        bar.empty()
    return finished_entry(job_id)


def analyse_upload(upload, settings: Settings, open_it: bool = True) -> Optional[Entry]:
    """Hash the upload in memory; only a clip not yet stored is written to a temporary file and analysed."""
    data = upload.getbuffer()
    sha = content_hash(data)
    if store().find(sha, settings) is not None:
        return analyse(Path(upload.name), upload.name, settings, clip_sha256=sha, open_it=open_it)
    incoming = Path(tempfile.mkdtemp(prefix=".incoming-", dir=store().root))
    try:
        path = incoming / Path(upload.name).name
        path.write_bytes(data)
        return analyse(path, upload.name, settings, move=True, clip_sha256=sha, open_it=open_it)
    finally:
        shutil.rmtree(incoming, ignore_errors=True)


def visible_entries() -> list[Entry]:
    """The stored analyses this session may see, newest first: all of them on a laptop; hosted,
    its owner's and those the host published (`python -m squat publish`)."""
    entries = store().list()
    if not state.hosted():
        return entries
    mine = set(jobs().owned_keys(state.owner())) | published_keys()
    return [e for e in entries if e.key in mine]


def can_open(key: str) -> bool:
    return not state.hosted() or jobs().owned(state.owner(), key) is not None or key in published_keys()


def published_keys() -> set[str]:
    """Hosted: the analyses the host published, shared read-only with every lifter (none on a laptop)."""
    return set(jobs().published_keys()) if state.hosted() else set()


def private_link(key: str) -> Optional[str]:
    """Hosted: the query that reopens this analysis on another device (?job=<its owner's job id>)."""
    job = jobs().owned(state.owner(), key) if state.hosted() else None
    return f"?job={job.id}" if job else None


def delete_run(key: str) -> None:
    """Delete a stored analysis (hosted: this owner's claim on it; the analysis goes when nobody
    else owns it), forget its cached copy, and close it if it is shown."""
    if not state.hosted() or jobs().disown(state.owner(), key):
        store().delete(key)
    load_run.clear()
    if state.open_key() == key:
        state.open_run(None)
