"""The numbers before the video (issue 15): a job's reps, metrics and charts are readable, and shown
on the page following it, while its annotated video is still being made; the run folder still
appears only once complete, and a killed job's early numbers are never shown as a result.

The render is held at its start (squat.pipeline.render_video waits on an event) so that the job
sits "mid-render" for as long as a test looks. One real network pass of the sample clip is kept by
the module's store; the other analyses (another camera-side leg) read it back, so they take seconds.
"""
from __future__ import annotations

import socket
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import squat.pipeline
import squat.store
from dashboard.presenters import ProgressMeter, chart_panels, video_progress
from squat import results
from squat.jobs import Job, Jobs
from squat.settings import PoseSettings, Settings
from squat.store import DATA_DIR_ENV, ResultsStore, run_key

REPO = Path(__file__).parents[1]
APP = str(REPO / "app.py")
SAMPLE = REPO / "samples" / "squat_side.mp4"
FAST = Settings(pose=PoseSettings(long_side=256, framing="full"))  # whole frame, no scout: seconds per analysis
TIMEOUT = 300


def side(name: str) -> Settings:
    """The fast settings with the camera-side leg chosen: another analysis from the same network pass."""
    return replace(FAST, kinematics=replace(FAST.kinematics, side=name))


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A data folder whose store keeps the sample's network pass (analysed once here)."""
    root = tmp_path_factory.mktemp("early-data")
    ResultsStore(root).save(SAMPLE, FAST)
    return root


@pytest.fixture
def app_env(root, monkeypatch):
    """The app on the module's data folder, with no worker processes of its own: the tests run the jobs."""
    monkeypatch.setenv(DATA_DIR_ENV, str(root))
    monkeypatch.setenv("SQUAT_WORKERS", "0")
    monkeypatch.delenv("SQUAT_HOSTED", raising=False)
    return root


class HeldRender:
    """squat.pipeline.render_video held at its start until released (or failing, as a killed worker)."""

    def __init__(self, monkeypatch):
        self.started, self.release, self.fail = threading.Event(), threading.Event(), False
        real = squat.pipeline.render_video

        def held(*args, **kwargs):
            self.started.set()
            assert self.release.wait(TIMEOUT), "the render was never released"
            if self.fail:
                raise RuntimeError("the worker was killed")
            return real(*args, **kwargs)

        monkeypatch.setattr(squat.pipeline, "render_video", held)


def run_in_thread(jobs: Jobs, job_id: str, worker: str) -> threading.Thread:
    claimed = jobs.claim_one(job_id, worker)
    assert claimed is not None
    thread = threading.Thread(target=jobs.run, args=(claimed, worker), daemon=True)
    thread.start()
    return thread


def dead_worker() -> str:
    """host:pid of a process that has ended (a worker killed with -9)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}"


def wait_for(condition, timeout: float = TIMEOUT):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def held_job(root: Path, monkeypatch, camera_side: str) -> tuple["HeldRender", Jobs, Job]:
    """A job on the sample clip whose annotated video will wait at its start (HeldRender)."""
    held = HeldRender(monkeypatch)
    jobs = Jobs(ResultsStore(root))
    return held, jobs, jobs.submit(SAMPLE, side(camera_side))


def test_the_pipeline_hands_over_the_numbers_before_the_video_and_the_run_appears_only_complete(root):
    store = ResultsStore(root)
    before = store.list()
    key = run_key(squat.store.content_hash(SAMPLE), side("right"))
    seen = {}

    def numbers_ready(folder: Path) -> None:
        seen["names"] = sorted(p.name for p in folder.iterdir())
        seen["reps"] = len(results.read(folder).reps)
        seen["run"] = (store.runs_dir / key).exists()
        seen["listed"] = store.list()

    entry = store.save(SAMPLE, side("right"), numbers_ready=numbers_ready)
    assert seen["names"] == sorted(results.FILES)  # the numbers, no video yet
    assert not seen["run"] and seen["listed"] == before  # nothing shown as complete meanwhile
    assert entry.key == key and seen["reps"] == entry.rep_count
    assert (entry.run_dir / "annotated.mp4").is_file()
    store.delete(key)


def test_a_running_jobs_numbers_are_readable_before_it_is_done(root, monkeypatch):
    held, jobs, job = held_job(root, monkeypatch, "left")
    store = jobs.store
    thread = run_in_thread(jobs, job.id, "test-worker")
    try:
        assert held.started.wait(TIMEOUT)
        running = wait_for(lambda: (j := jobs.get(job.id)).preview is not None and j)
        assert running.state == "running" and not running.finished
        early = results.read(running.preview)
        assert len(early.reps) >= 1 and len(early.frames) > 0
        key = run_key(running.clip_sha256, running.settings)
        assert store.get(key) is None and not (store.runs_dir / key).exists()  # not a result yet
    finally:
        held.release.set()
        thread.join(TIMEOUT)
    done = jobs.get(job.id)
    assert done.state == "done" and done.preview is None
    assert not running.preview.exists()  # the preview goes with the job's end
    final = results.read(store.get(done.run_key).run_dir)
    assert final.reps.equals(early.reps) and final.frames.shape == early.frames.shape
    store.delete(done.run_key)


def test_the_page_following_a_running_job_shows_its_numbers_while_the_video_is_made(app_env, monkeypatch):
    held, jobs, job = held_job(app_env, monkeypatch, "left")
    store = jobs.store
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["job"] = job.id
    at.run()
    assert not at.exception and at.get("progress") and not at.metric  # queued: the progress alone
    thread = run_in_thread(jobs, job.id, "test-worker")
    try:
        assert held.started.wait(TIMEOUT)
        wait_for(lambda: jobs.get(job.id).preview is not None)
        at.run()
        assert not at.exception and not at.error
        assert any("still being made" in i.value for i in at.info)
        shown = metrics(at)
        early = results.read(jobs.get(job.id).preview)
        assert shown["reps"] == str(len(early.reps))
        (table,) = at.dataframe
        assert len(table.value) == len(early.reps)
        panels = chart_panels(early.frames)  # angles and moment arms (the bar's with a plate seen)
        assert len(panels) >= 2 and len(at.get("vega_lite_chart")) == len(panels) + 1  # + depth per rep
        assert not at.get("video") and not at.get("download_button")  # those come with the video
        assert len(at.get("progress")) == 2  # the sidebar's, and the video's in its place
        assert at.image[0].captions[0].startswith("frame ")  # the frame viewer reads the clip itself
        assert at.session_state["job"] == job.id and not at.session_state["open_key"]

        monkeypatch.setenv("SQUAT_HOSTED", "1")  # hosted: another lifter, without the job's private link
        other = AppTest.from_file(APP, default_timeout=TIMEOUT)
        other.query_params["open"] = run_key(job.clip_sha256, job.settings)
        other.run()
        assert not other.exception and other.error and not other.metric
        assert not any("still being made" in i.value for i in other.info)
        monkeypatch.delenv("SQUAT_HOSTED")
    finally:
        held.release.set()
        thread.join(TIMEOUT)
    at.run()
    done = jobs.get(job.id)
    assert not at.exception and at.session_state["open_key"] == done.run_key
    assert len(at.get("video")) == 1 and not any("still being made" in i.value for i in at.info)
    store.delete(done.run_key)


def test_a_killed_jobs_early_numbers_are_removed_and_never_shown(app_env, monkeypatch):
    held, jobs, job = held_job(app_env, monkeypatch, "right")
    store = jobs.store
    worker = dead_worker()  # the job's worker died mid-render, leaving its preview
    thread = run_in_thread(jobs, job.id, worker)
    try:
        assert held.started.wait(TIMEOUT)
        preview = wait_for(lambda: jobs.get(job.id).preview)
        assert preview.is_dir()
        (found,) = jobs.recover()
        assert found.id == job.id and found.state == "queued" and found.preview is None
        assert not preview.exists()  # removed, not left for anyone to read
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.query_params["job"] = job.id
        at.run()
        assert not at.exception and at.get("progress")
        assert not at.metric and not at.dataframe and not any("still being made" in i.value for i in at.info)
    finally:
        held.fail = True
        held.release.set()
        thread.join(TIMEOUT)
    key = run_key(job.clip_sha256, job.settings)
    assert store.get(key) is None and jobs.get(job.id).state == "queued"
    assert not [p for p in store.runs_dir.iterdir() if key in p.name]  # nor a run folder, whole or partial


def test_a_job_table_from_before_previews_gains_the_column_and_keeps_its_jobs(tmp_path):
    store = ResultsStore(tmp_path / "data")
    with store.connect() as db:  # the job table as the previous version made it
        db.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY, owner TEXT NOT NULL, clip_sha256 TEXT NOT NULL, "
                   "clip_name TEXT NOT NULL, clip_path TEXT NOT NULL, settings TEXT NOT NULL, state TEXT NOT NULL, "
                   "attempts INTEGER NOT NULL DEFAULT 0, worker TEXT NOT NULL DEFAULT '', heartbeat REAL, "
                   "stage TEXT NOT NULL DEFAULT '', done INTEGER NOT NULL DEFAULT 0, total INTEGER NOT NULL "
                   "DEFAULT 0, error TEXT NOT NULL DEFAULT '', run_key TEXT NOT NULL DEFAULT '', created REAL NOT "
                   "NULL, finished REAL)")
        db.execute("INSERT INTO jobs (id, owner, clip_sha256, clip_name, clip_path, settings, state, created) "
                   "VALUES ('old', '', 'abc', 'a.mp4', 'clips/abc/a.mp4', '{}', 'queued', 1.0)")
    jobs = Jobs(store)
    (old,) = jobs.list()
    assert old.id == "old" and old.state == "queued" and old.preview is None
    Jobs(store)  # opened again (another process): nothing to add
    assert jobs.submit(SAMPLE, FAST).preview is None


def test_the_videos_progress_counts_the_render_alone():
    clock = iter([0.0, 10.0]).__next__
    meter = ProgressMeter(clock=clock)
    assert video_progress(meter, "pose", 141, 141) == (0.0, "Starting the annotated video…")
    assert video_progress(meter, "render", 10, 100)[0] == pytest.approx(0.1)
    fraction, text = video_progress(meter, "render", 60, 100)
    assert fraction == pytest.approx(0.6)
    assert text == "Drawing the annotated video: frame 60 of 100 · 5.0 frames/s · about 8 s left"
    assert video_progress(meter, "heatmaps", 1, 1)[0] == 1.0
