"""Analyses as jobs (squat.jobs): queued in the store's SQLite index, run by worker processes, and
never lost or half-shown when a worker is killed mid-analysis."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import cut_clip, make_empty_room_clip

from squat.errors import SquatError
from squat.jobs import INTERRUPTED, Jobs, Limits
from squat.settings import PoseSettings, Settings
from squat.store import ResultsStore

REPO = Path(__file__).parents[1]
SAMPLE = REPO / "samples" / "squat_side.mp4"
FAST = Settings(pose=PoseSettings(long_side=256, framing="full"))  # whole frame, no scout: seconds per analysis


@pytest.fixture(scope="module")
def short_sample(tmp_path_factory) -> Path:
    """The sample's first 45 frames (1.5 s, the lifter standing under the bar), for the tests where
    a job only has to run to its end: what they assert does not depend on the clip's length. (A
    worker killed mid-analysis keeps the whole sample: the kill must land inside its network pass.)"""
    return cut_clip(SAMPLE, tmp_path_factory.mktemp("clip") / "squat_side_start.mp4", range(45))


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A real redis-server on a free port for this module (.ci/run installs Debian's redis-server)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server): the RQ queue is not tested")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path_factory.mktemp("redis"))],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        from redis import Redis

        wait_for(lambda: _pong(Redis.from_url(url)), timeout=20)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def _pong(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001 - not up yet
        return False


@pytest.fixture(params=["table", "redis"])
def queue_url(request):
    """Each queue test runs on both: workers polling the SQLite table, and RQ on a real Redis."""
    if request.param == "table":
        return ""
    url = request.getfixturevalue("redis_url")
    from redis import Redis

    Redis.from_url(url).flushdb()
    return url


def wait_for(condition, timeout: float = 300.0, every: float = 0.2):
    end = time.time() + timeout
    while time.time() < end:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out")


def start_worker(root: Path, queue_url: str = "") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "squat", "worker", "--data", str(root)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO), "SQUAT_QUEUE": queue_url},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def listed_runs(store: ResultsStore) -> set[str]:
    return {p.name for p in store.runs_dir.iterdir()}


def test_a_job_is_queued_then_run_by_a_worker_with_its_progress(tmp_path, queue_url, short_sample):
    store = ResultsStore(tmp_path / "data")
    jobs = Jobs(store, queue_url=queue_url)
    job = jobs.submit(short_sample, FAST, owner="lifter-a")
    assert job.state == "queued" and len(job.id) >= 20  # an unguessable handle, not the clip's hash
    assert jobs.list(owner="lifter-a") == [job] and jobs.list(owner="lifter-b") == []
    assert store.list() == []
    assert jobs.work(once=True) == 1
    done = jobs.get(job.id)
    assert done.state == "done" and done.attempts == 1 and done.error == ""
    assert done.total > 0 and done.done == done.total  # the last progress written
    (entry,) = store.list()
    assert entry.key == done.run_key
    again = jobs.submit(short_sample, FAST)  # analysed already: done at once, no worker needed
    assert again.state == "done" and again.run_key == entry.key and again.id != job.id


def test_a_clip_that_cannot_be_analysed_fails_the_job_with_what_to_do(tmp_path, queue_url):
    store = ResultsStore(tmp_path / "data")
    jobs = Jobs(store, queue_url=queue_url)
    with pytest.raises(SquatError, match="still image"):  # not a video: refused at once, nothing queued
        jobs.submit(REPO / "tests" / "data" / "still_image.mp4", FAST)
    job = jobs.submit(make_empty_room_clip(tmp_path / "empty_room.mp4"), FAST)
    jobs.work(once=True)
    failed = jobs.get(job.id)
    assert failed.state == "failed" and "no person found in empty_room.mp4" in failed.error
    assert store.list() == []


def test_an_unexpected_failure_fails_the_job_with_a_ref_and_its_traceback_in_the_workers_log(tmp_path, short_sample,
                                                                                              monkeypatch):
    store = ResultsStore(tmp_path / "data")
    jobs = Jobs(store)
    job = jobs.submit(short_sample, FAST)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the engine")

    monkeypatch.setattr(store, "save", broken)
    jobs.work(once=True)
    failed = jobs.get(job.id)
    assert failed.state == "failed" and "unexpected failure (RuntimeError, ref " in failed.error
    ref = failed.error.split("ref ")[1].split(")")[0]
    logged = (store.root / "worker.log").read_text()
    assert f"ref {ref} (job {job.id}): Traceback" in logged and "RuntimeError: a bug in the engine" in logged


def test_a_worker_killed_mid_analysis_leaves_the_job_re_queued_once_then_failed(tmp_path, queue_url):
    root = tmp_path / "data"
    store = ResultsStore(root)
    jobs = Jobs(store, queue_url=queue_url)
    job = jobs.submit(SAMPLE, FAST)

    for attempt in (1, 2):
        worker = start_worker(root, queue_url)
        try:
            wait_for(lambda: (j := jobs.get(job.id)).state == "running" and j.done > 0)  # mid network pass
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
        assert jobs.get(job.id).state == "running"  # nobody knows yet
        (found,) = jobs.recover()
        assert found.id == job.id
        assert found.state == ("queued" if attempt == 1 else "failed")
        assert store.list() == [] and not [n for n in listed_runs(store) if n.endswith(".partial")]

    failed = jobs.get(job.id)
    assert failed.error == INTERRUPTED and failed.attempts == 2


def test_a_re_queued_job_finishes_on_the_next_worker(tmp_path, queue_url, short_sample):
    root = tmp_path / "data"
    store = ResultsStore(root)
    jobs = Jobs(store, queue_url=queue_url)
    job = jobs.submit(short_sample, FAST)
    worker = start_worker(root, queue_url)
    try:
        wait_for(lambda: jobs.get(job.id).state == "running")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    assert jobs.work(once=True) == 1  # recovers the job, then runs it
    done = jobs.get(job.id)
    assert done.state == "done" and done.attempts == 2
    assert [e.key for e in store.list()] == [done.run_key]


@pytest.mark.parametrize("workers", [2])
def test_two_workers_never_run_the_same_job(tmp_path, workers, queue_url):
    root = tmp_path / "data"
    store = ResultsStore(root)
    jobs = Jobs(store, queue_url=queue_url)
    clips = [REPO / "tests" / "data" / name for name in ("pose2sim_cam01.mp4", "sports2d_crouch.mp4")]
    submitted = [jobs.submit(c, FAST) for c in clips]
    procs = [start_worker(root, queue_url) for _ in range(workers)]
    try:
        wait_for(lambda: all(jobs.get(j.id).finished for j in submitted), timeout=600)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait()
    ended = [jobs.get(j.id) for j in submitted]
    assert [j.state for j in ended] == ["done", "done"] and all(j.attempts == 1 for j in ended)
    assert len(store.list()) == 2


def test_limits_refuse_a_long_clip_and_a_lifter_over_the_job_cap_with_what_to_do(tmp_path):
    store = ResultsStore(tmp_path / "data")
    jobs = Jobs(store)
    with pytest.raises(SquatError, match=r"up to 2 s: trim it"):
        jobs.submit(SAMPLE, FAST, owner="a", limits=Limits(max_clip_s=2))
    with pytest.raises(SquatError, match=r"up to 0.01 MB: trim it"):
        jobs.submit(SAMPLE, FAST, owner="a", limits=Limits(max_clip_mb=0.01))
    assert store.list() == [] and jobs.list() == [] and not any(store.clips_dir.iterdir())  # nothing kept
    first = jobs.submit(SAMPLE, FAST, owner="a", limits=Limits(max_jobs=1))
    with pytest.raises(SquatError, match="1 at once from each lifter"):
        jobs.submit(REPO / "tests" / "data" / "pose2sim_cam01.mp4", FAST, owner="a", limits=Limits(max_jobs=1))
    second = jobs.submit(REPO / "tests" / "data" / "pose2sim_cam01.mp4", FAST, owner="b", limits=Limits(max_jobs=1))
    assert [jobs.queued_ahead(j) for j in (first, second)] == [0, 1]  # what a waiting page says


def test_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SQUAT_MAX_CLIP_S", "60")
    monkeypatch.setenv("SQUAT_MAX_JOBS", "3")
    assert Limits.from_env() == Limits(max_clip_s=60.0, max_jobs=3)
    monkeypatch.setenv("SQUAT_KEEP_DAYS", "a week")
    with pytest.raises(SquatError, match="SQUAT_KEEP_DAYS"):
        Limits.from_env()


def test_analyses_past_the_keep_days_are_removed_with_their_clip(tmp_path, short_sample):
    store = ResultsStore(tmp_path / "data")
    jobs = Jobs(store)
    job = jobs.submit(short_sample, FAST)
    jobs.work(once=True)
    key = jobs.get(job.id).run_key
    assert jobs.clean_up(keep_days=0) == [] and jobs.clean_up(keep_days=1) == []  # fresh: kept
    with sqlite3.connect(store.index_path) as db:
        db.execute("UPDATE jobs SET created = created - 3 * 86400")
    assert jobs.clean_up(keep_days=1) == [key]
    assert store.list() == [] and jobs.get(job.id) is None and not any(store.clips_dir.iterdir())


def test_signing_in_hands_the_browsers_analyses_to_the_lifter(tmp_path):
    """Hosted: what a browser analysed before its lifter signed in goes with the lifter; nobody
    else's moves, and the browser keeps nothing."""
    store = ResultsStore(tmp_path / "data")
    jobs = Jobs(store)
    mine = jobs.submit(SAMPLE, FAST, owner="browser:a")
    theirs = jobs.submit(REPO / "tests" / "data" / "synth_side_short" / "clip.mp4", FAST, owner="browser:b")
    assert jobs.hand_over("browser:a", "user:ben") == 1
    assert jobs.get(mine.id).owner == "user:ben" and jobs.get(theirs.id).owner == "browser:b"
    assert jobs.list(owner="browser:a") == [] and jobs.hand_over("browser:a", "user:ben") == 0


def test_a_worker_started_by_the_app_ends_with_it(tmp_path):
    """The app's own worker processes (`--parent`): when the app is gone, so are they."""
    app = subprocess.Popen(["bash", "-c", f"{sys.executable} -m squat worker --data {tmp_path / 'data'} "
                            "--parent $$ & echo $!; sleep 3"], cwd=REPO, stdout=subprocess.PIPE, text=True,
                           env={**os.environ, "PYTHONPATH": str(REPO)})
    worker = int(app.stdout.readline())
    assert app.wait(timeout=30) == 0
    wait_for(lambda: not Path(f"/proc/{worker}").exists() or "Z" in Path(f"/proc/{worker}/stat").read_text()
             .split(")")[1].split()[:1], timeout=30)


def test_a_published_reference_is_analysed_at_once_for_everyone_and_a_clip_with_nobody_is_refused(tmp_path,
                                                                                                   short_sample):
    store = ResultsStore(tmp_path / "data")
    jobs = Jobs(store)
    job = jobs.publish(short_sample, FAST, name="pro lifter.mp4")
    assert job.state == "done" and job.owner == "public" and jobs.published_keys() == [job.run_key]
    assert store.get(job.run_key).clip_name == "pro lifter.mp4"
    with pytest.raises(SquatError, match="no person found"):
        jobs.publish(make_empty_room_clip(tmp_path / "empty_room.mp4"), FAST)
    assert jobs.published_keys() == [job.run_key]
