"""Analyses as jobs, run by workers outside the page that asked for them.

A job is a clip (already kept in the store) and its settings. `Jobs.submit` writes it to the job
table in the store's own SQLite index and returns at once; a worker (`python -m squat worker`,
or the app's own worker threads on a laptop) claims queued jobs one at a time, runs the analysis
through `ResultsStore.save` (so a result appears only once complete) and writes its progress to
the job's row, which any page, tab or device can read by the job's id.

On one machine the workers poll the job table. For several machines (one worker per GPU), set
$SQUAT_QUEUE=redis://HOST:PORT/DB: each queued job is also handed to an RQ queue on that Redis, and
`python -m squat worker` runs an RQ worker that takes it from there; the table stays the record
of every job, so the page reads progress the same way. The data folder must be the same path on
every machine (a shared volume).

A worker that dies mid-job (kill -9, out of memory, a restart) stops beating its heart: the next
worker to look finds the job running under a dead worker, re-queues it once, and fails it with a
clear message the second time. The half-written run folder of a dead job is removed; the store's
index never lists it.

The numbers come before the annotated video: once they are written, a running job's row names
its preview (the store's previews/<job id>.<attempt>: frames.csv, reps.csv, summary.json), which
the page following the job shows while the video renders. Only a running job has one: it goes
when the job ends, and a dead worker's job loses it when re-queued.
"""
from __future__ import annotations

import atexit
import functools
import json
import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

from squat.errors import SquatError, log_failure
from squat.io.video import probe
from squat.settings import Settings, settings_from_dict
from squat.store import ResultsStore, content_hash, run_key

QUEUE_ENV = "SQUAT_QUEUE"  # redis://…: dispatch jobs through RQ (several machines); unset: workers poll the table
RQ_QUEUE = "squat"
PUBLIC = "public"  # the owner of the analyses a host publishes (reference lifters): everyone reads them
MAX_ATTEMPTS = 2  # a job whose worker died is re-queued once, then failed
HEARTBEAT_S = 2.0  # a running worker touches its job this often
STALE_S = 30.0  # no heartbeat for this long (another machine's worker): taken for dead
PROGRESS_EVERY_S = 0.5  # progress rows are written at most this often
CLEAN_UP_EVERY_S = 3600.0  # a worker removes analyses past $SQUAT_KEEP_DAYS this often
WORKER_LOG = "worker.log"  # in the data folder: what workers did, and the tracebacks behind failed jobs

INTERRUPTED = ("The analysis stopped twice before it finished (its worker ended: out of memory or a restart). "
               "Try again; a shorter clip needs less memory.")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    clip_sha256 TEXT NOT NULL,
    clip_name TEXT NOT NULL,
    clip_path TEXT NOT NULL,
    settings TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    worker TEXT NOT NULL DEFAULT '',
    heartbeat REAL,
    stage TEXT NOT NULL DEFAULT '',
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    run_key TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    finished REAL,
    preview TEXT NOT NULL DEFAULT ''
)
"""
_FIELDS = ("id", "owner", "clip_sha256", "clip_name", "clip_path", "settings", "state", "attempts", "worker",
           "heartbeat", "stage", "done", "total", "error", "run_key", "created", "finished", "preview")
# Columns added since the table was first made: (name, definition), added to an older table as it is opened.
_ADDED = (("preview", "TEXT NOT NULL DEFAULT ''"),)


@dataclass(frozen=True)
class Limits:
    """What one host accepts, from its environment: a clear message when a limit is hit."""

    max_clip_s: float = 900.0  # $SQUAT_MAX_CLIP_S: a set is rarely over a few minutes
    max_clip_mb: float = 2048.0  # $SQUAT_MAX_CLIP_MB: as the upload limit in .streamlit/config.toml
    max_jobs: int = 2  # $SQUAT_MAX_JOBS: analyses one owner may have waiting or running at once
    keep_days: float = 0.0  # $SQUAT_KEEP_DAYS: analyses older than this are removed (0: kept for ever)

    @classmethod
    def from_env(cls) -> "Limits":
        env = {"max_clip_s": "SQUAT_MAX_CLIP_S", "max_clip_mb": "SQUAT_MAX_CLIP_MB", "max_jobs": "SQUAT_MAX_JOBS",
               "keep_days": "SQUAT_KEEP_DAYS"}
        values = {}
        for name, var in env.items():
            raw = os.environ.get(var, "").strip()
            if raw:
                try:
                    values[name] = type(getattr(cls(), name))(float(raw))
                except ValueError:
                    raise SquatError(f"{var}={raw!r} is not a number: set it to one, or unset it") from None
        return cls(**values)


def check_clip(video: Path, limits: Limits) -> None:
    """SquatError naming the limit and what to do, for a clip this host does not take."""
    size_mb = video.stat().st_size / 2**20
    if size_mb > limits.max_clip_mb:
        raise SquatError(f"{video.name} is {size_mb:,.1f} MB; this host takes clips up to {limits.max_clip_mb:g} MB: "
                         "trim it to the set, or film at 1080p")
    duration = probe(video).duration_s
    if duration > limits.max_clip_s:
        raise SquatError(f"{video.name} is {_minutes(duration)} long; this host analyses clips up to "
                         f"{_minutes(limits.max_clip_s)}: trim it to the set")


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


@dataclass(frozen=True)
class Job:
    """One analysis asked for: where it stands and, once done, the store key of its result."""

    id: str  # unguessable: whoever holds it may read the job
    owner: str  # who asked ("" on a single-user laptop)
    clip_sha256: str
    clip_name: str
    clip_path: Path
    settings: Settings
    state: str  # "queued" | "running" | "done" | "failed"
    attempts: int
    stage: str  # progress: "pose", "render" or "heatmaps" (squat.pipeline.Progress)
    done: int
    total: int
    error: str  # for a failed job: what to do, in a lifter's words
    run_key: str  # for a done job: the ResultsStore key
    created: float  # unix time
    preview: Optional[Path] = None  # a running job whose numbers are ready: the folder they are in

    @property
    def preview_name(self) -> str:
        """The store's name for this attempt's preview (ResultsStore.keep_preview)."""
        return f"{self.id}.{self.attempts}"

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")


def worker_name() -> str:
    """host:pid of this process, so a worker on this machine can be checked for life directly."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(worker: str) -> Optional[bool]:
    """Whether the worker process lives; None when it runs on another machine (ask its heartbeat)."""
    host, _, pid = worker.split("/")[0].rpartition(":")  # host:pid, or host:pid/thread
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Jobs:
    """The job table in a store's SQLite index: submit, read, claim and run jobs."""

    def __init__(self, store: ResultsStore, queue_url: Optional[str] = None):
        self.store = store
        self.queue_url = queue_url if queue_url is not None else (os.environ.get(QUEUE_ENV) or None)
        self.stop_workers: Callable[[], None] = lambda: None  # the workers started for this table
        with self._db() as db:
            db.execute(_SCHEMA)
            have = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
            for name, definition in _ADDED:
                if name not in have:  # a table from an older version: the column is added, rows kept
                    try:
                        db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {definition}")
                    except sqlite3.OperationalError as exc:  # another process added it meanwhile
                        if "duplicate column" not in str(exc):
                            raise

    # ----------------------------------------------------------------- asking

    def submit(self, video: str | Path, settings: Settings = Settings(), name: Optional[str] = None,
               owner: str = "", move: bool = False, clip_sha256: Optional[str] = None,
               limits: Optional[Limits] = None) -> Job:
        """Keep the clip in the store and queue its analysis; a clip already analysed with these
        settings gives a job that is done at once. A new analysis must fit the host's limits
        (default from the environment): SquatError says which and what to do."""
        video = Path(video)
        sha = clip_sha256 or content_hash(video)
        name = name or video.name
        found = self.store.find(sha, settings)
        if found is None:  # a stored analysis costs nothing: limits are for new ones
            limits = limits or Limits.from_env()
            busy = self.list(owner=owner, states=("queued", "running"))
            if len(busy) >= limits.max_jobs:
                raise SquatError(f"you have {len(busy)} analyses waiting or running; this host takes "
                                 f"{limits.max_jobs} at once from each lifter: wait for one to finish")
            check_clip(video, limits)
        clip, _ = self.store.keep_clip(video, sha, name, move)
        if found is not None and (mine := self.owned(owner, found.key)) is not None:
            return mine  # asked again: the same done job, not another row
        job = {"id": secrets.token_urlsafe(16), "owner": owner, "clip_sha256": sha, "clip_name": name,
               "clip_path": clip.relative_to(self.store.root).as_posix(), "settings": json.dumps(asdict(settings)),
               "state": "done" if found else "queued", "attempts": 0, "worker": "", "heartbeat": None,
               "stage": "", "done": 0, "total": 0, "error": "", "run_key": found.key if found else "",
               "created": time.time(), "finished": time.time() if found else None, "preview": ""}
        self._insert(job)
        if job["state"] == "queued":
            self._dispatch(job["id"])
        return self._job(job)

    def get(self, job_id: str) -> Optional[Job]:
        rows = self._select("WHERE id = ?", (job_id,))
        return rows[0] if rows else None

    def list(self, owner: Optional[str] = None, states: tuple[str, ...] = ()) -> list[Job]:
        """Jobs, newest first: one owner's (or everyone's), in the given states (or any)."""
        clauses, params = [], []
        if owner is not None:
            clauses.append("owner = ?")
            params.append(owner)
        if states:
            clauses.append(f"state IN ({', '.join('?' * len(states))})")
            params += states
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return self._select(f"{where} ORDER BY created DESC", tuple(params))

    def clean_up(self, keep_days: float) -> list[str]:
        """Remove the analyses last asked for over keep_days ago (their jobs, runs, clips and
        passes); 0 keeps everything. Returns the store keys removed."""
        if keep_days <= 0:
            return []
        cutoff = time.time() - keep_days * 86400
        with self._db() as db:
            old = [r[0] for r in db.execute(
                "SELECT run_key FROM jobs WHERE state = 'done' AND run_key != '' GROUP BY run_key "
                "HAVING MAX(created) < ?", (cutoff,)).fetchall()]
            db.execute(f"DELETE FROM jobs WHERE run_key IN ({', '.join('?' * len(old))})", old)
            db.execute("DELETE FROM jobs WHERE state = 'failed' AND created < ?", (cutoff,))
        for key in old:
            self.store.delete(key)
        return old

    # ----------------------------------------------------------------- owning

    def queued_ahead(self, job: Job) -> int:
        """How many queued jobs were submitted before this one (a count, not the jobs: every waiting
        page asks once a second)."""
        with self._db() as db:
            (count,) = db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND created < ?",
                                  (job.created,)).fetchone()
        return int(count)

    def owned(self, owner: str, run_key: str) -> Optional[Job]:
        """The owner's done job of a stored analysis, if they have one."""
        rows = self._select("WHERE owner = ? AND run_key = ? AND state = 'done' ORDER BY created", (owner, run_key))
        return rows[0] if rows else None

    def publish(self, video: str | Path, settings: Settings = Settings(), name: Optional[str] = None) -> Job:
        """Analyse a clip here and now as one the host publishes: every lifter may open it and
        compare with it, nobody may delete it from the app (`python -m squat publish`)."""
        job = self.submit(video, settings, name=name, owner=PUBLIC, limits=Limits())
        if not job.finished and (claimed := self.claim_one(job.id, worker_name())) is not None:
            job = self.run(claimed, worker_name())
        if job.state == "failed":
            raise SquatError(job.error)
        return job

    def published_keys(self) -> list[str]:
        return self.owned_keys(PUBLIC)

    def owned_keys(self, owner: str) -> list[str]:
        """The stored analyses an owner has, newest first."""
        keys = [j.run_key for j in self.list(owner=owner, states=("done",))]
        return list(dict.fromkeys(keys))

    def adopt(self, job_id: str, owner: str) -> Optional[Job]:
        """Whoever holds a done job's id (its private link) may own its analysis too."""
        job = self.get(job_id)
        if job is None or job.state != "done" or job.owner == owner:
            return job
        mine = self.owned(owner, job.run_key)
        if mine is not None:
            return mine
        row = {f: getattr(job, f, None) for f in _FIELDS}
        row.update(id=secrets.token_urlsafe(16), owner=owner, clip_path=job.clip_path.relative_to(self.store.root)
                   .as_posix(), settings=json.dumps(asdict(job.settings)), worker="", heartbeat=None,
                   created=time.time(), finished=time.time(), preview="")
        self._insert(row)
        return self.get(row["id"])

    def hand_over(self, previous: str, owner: str) -> int:
        """Everything `previous` owns (queued, running or done) now belongs to `owner` (a lifter who
        signs in keeps what this browser analysed before). Returns how many jobs moved."""
        with self._db() as db:
            return db.execute("UPDATE jobs SET owner = ? WHERE owner = ?", (owner, previous)).rowcount

    def disown(self, owner: str, run_key: str) -> bool:
        """Forget an owner's jobs of a stored analysis; True when nobody owns it any more."""
        with self._db() as db:
            db.execute("DELETE FROM jobs WHERE owner = ? AND run_key = ?", (owner, run_key))
            left = db.execute("SELECT 1 FROM jobs WHERE run_key = ? LIMIT 1", (run_key,)).fetchone()
        return left is None

    # ----------------------------------------------------------------- working

    def claim(self, worker: str) -> Optional[Job]:
        """The oldest queued job, now running under `worker`; None when none waits. One statement,
        so two workers never claim the same job."""
        return self._claim("(SELECT id FROM jobs WHERE state = 'queued' ORDER BY created LIMIT 1)", (), worker)

    def claim_one(self, job_id: str, worker: str) -> Optional[Job]:
        """Job `job_id`, now running under `worker`, if it still waits (an RQ worker's claim)."""
        return self._claim("?", (job_id,), worker)

    def _claim(self, which: str, params: tuple, worker: str) -> Optional[Job]:
        """The queued job `which` (SQL for its id) now running under `worker`, in one statement."""
        with self._db() as db:
            row = db.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = ?, heartbeat = ?, "
                f"stage = '', done = 0, total = 0, preview = '' WHERE id = {which} AND state = 'queued' RETURNING id",
                (worker, time.time(), *params)).fetchone()
        return self.get(row[0]) if row else None

    def run(self, job: Job, worker: str) -> Job:
        """Analyse a claimed job into the store, with progress and heartbeats; the job as it ended."""
        beating = threading.Event()

        def beat() -> None:
            while not beating.wait(HEARTBEAT_S):
                self._update(job.id, worker, heartbeat=time.time())

        last = [0.0]

        def progress(stage: str, done: int, total: int) -> None:
            now = time.time()
            if now - last[0] >= PROGRESS_EVERY_S or done >= total:
                last[0] = now
                self._update(job.id, worker, stage=stage, done=done, total=total, heartbeat=now)

        def numbers_ready(folder: Path) -> None:  # before the video: the page shows the numbers meanwhile
            try:
                kept = self.store.keep_preview(folder, job.preview_name)
            except OSError as exc:  # no preview: the page shows the progress alone, as before
                self._log(f"job {job.id}: no preview ({exc})")
                return
            self._update(job.id, worker, preview=kept.relative_to(self.store.root).as_posix())

        heart = threading.Thread(target=beat, name=f"heartbeat {job.id[:6]}", daemon=True)
        heart.start()
        try:
            entry = self.store.save(job.clip_path, job.settings, name=job.clip_name, progress=progress,
                                    clip_sha256=job.clip_sha256, numbers_ready=numbers_ready)
            self._update(job.id, worker, state="done", run_key=entry.key, finished=time.time(), preview="")
        except SquatError as exc:
            self._update(job.id, worker, state="failed", error=str(exc), finished=time.time(), preview="")
        except Exception as exc:  # noqa: BLE001 - a worker must outlive any one clip
            ref = log_failure(self.store.root / WORKER_LOG, exc, f"job {job.id}")
            self._update(job.id, worker, state="failed", finished=time.time(), preview="",
                         error=f"unexpected failure ({exc.__class__.__name__}, ref {ref}): the details are in the "
                               "worker's log; try again, and tell the host if it keeps failing")
        finally:
            beating.set()
            heart.join()
            self.store.drop_preview(job.preview_name)
        return self.get(job.id)  # type: ignore[return-value]

    def recover(self, stale_s: float = STALE_S) -> list[Job]:
        """Running jobs whose worker is dead: re-queued once, failed the second time; their
        half-written run folders and previews removed. Returns them as they are now."""
        now, out = time.time(), []
        for job, worker, heartbeat in self._running():
            alive = _alive(worker)
            if alive or (alive is None and heartbeat is not None and now - heartbeat < stale_s):
                continue
            key = run_key(job.clip_sha256, job.settings)
            for partial in self.store.runs_dir.glob(f".{key}.*.partial"):
                shutil.rmtree(partial, ignore_errors=True)
            state, error = ("queued", "") if job.attempts < MAX_ATTEMPTS else ("failed", INTERRUPTED)
            with self._db() as db:  # only if still held by the dead worker
                changed = db.execute("UPDATE jobs SET state = ?, error = ?, worker = '', finished = ?, preview = '' "
                                     "WHERE id = ? AND state = 'running' AND worker = ?",
                                     (state, error, now if state == "failed" else None, job.id, worker)).rowcount
            if changed:
                self.store.drop_preview(job.preview_name)  # its numbers are no result: the job runs again
            if changed and state == "queued":
                self._dispatch(job.id)  # with RQ: handed out again (only by the one who re-queued it)
            out.append(self.get(job.id))
        return out

    def work(self, once: bool = False, poll_s: float = 0.5, stop: Optional[threading.Event] = None,
             worker: Optional[str] = None) -> int:
        """Run jobs until stopped (or, with once, until none waits); returns how many ran. With
        $SQUAT_QUEUE, an RQ worker in this process (call from the main thread: RQ handles signals)."""
        if self.queue_url:
            return self._work_rq(once)
        worker = worker or worker_name()
        ran, cleaned = 0, 0.0
        while not (stop and stop.is_set()) and self.store.index_path.exists():  # a data folder removed: stop
            if time.time() - cleaned > CLEAN_UP_EVERY_S:
                self.clean_up(Limits.from_env().keep_days)
                cleaned = time.time()
            self.recover()
            job = self.claim(worker)
            if job is None:
                if once:
                    break
                time.sleep(poll_s)
                continue
            self.run(job, worker)
            ran += 1
        return ran

    # ----------------------------------------------------------------- RQ

    def _queue(self):
        from redis import Redis
        from rq import Queue

        return Queue(RQ_QUEUE, connection=Redis.from_url(self.queue_url))

    def _dispatch(self, job_id: str) -> None:
        """With RQ: hand the job to the queue; an RQ worker claims it from the table (run_queued)."""
        if self.queue_url:
            # no RQ timeout (an analysis of a long clip takes minutes) and no RQ retry: a dead
            # worker's job is re-queued by recover(), once
            self._queue().enqueue_call(run_queued, args=(str(self.store.root), job_id), timeout=-1, result_ttl=0,
                                       failure_ttl=86400, description=f"squat analysis {job_id}")

    def _work_rq(self, once: bool) -> int:
        from rq import SimpleWorker  # the analysis runs in this process: a kill -9 stops it, nothing orphaned

        queue = self._queue()
        stop = threading.Event()

        def look_after() -> None:  # dead workers' jobs re-queued, old analyses removed
            cleaned = 0.0
            while not stop.wait(HEARTBEAT_S):
                self.recover()
                if time.time() - cleaned > CLEAN_UP_EVERY_S:
                    self.clean_up(Limits.from_env().keep_days)
                    cleaned = time.time()

        self.recover()
        keeper = threading.Thread(target=look_after, name="squat recover", daemon=True)
        keeper.start()
        before = _ran_here[0]
        try:
            SimpleWorker([queue], connection=queue.connection).work(burst=once, with_scheduler=False,
                                                                     logging_level="WARNING")
            return _ran_here[0] - before
        finally:
            stop.set()

    # ----------------------------------------------------------------- internals

    def _update(self, job_id: str, worker: str, **values) -> None:
        """Change a job this worker holds (a job re-queued from under it is no longer its own)."""
        sets = ", ".join(f"{k} = ?" for k in values)
        with self._db() as db:
            db.execute(f"UPDATE jobs SET {sets} WHERE id = ? AND worker = ?", (*values.values(), job_id, worker))

    def _running(self) -> list[tuple[Job, str, Optional[float]]]:
        """Running jobs with the worker holding each and its last heartbeat (not part of a Job)."""
        return [(self._job(r), r["worker"], r["heartbeat"]) for r in self._rows("WHERE state = 'running'")]

    def _select(self, clause: str, params: tuple = ()) -> list[Job]:
        return [self._job(r) for r in self._rows(clause, params)]

    def _rows(self, clause: str, params: tuple = ()) -> list[dict]:
        with self._db() as db:
            rows = db.execute(f"SELECT {', '.join(_FIELDS)} FROM jobs {clause}", params).fetchall()
        return [dict(zip(_FIELDS, r)) for r in rows]

    def _insert(self, row: dict) -> None:
        with self._db() as db:
            db.execute(f"INSERT INTO jobs ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))})",
                       tuple(row[f] for f in _FIELDS))

    def _job(self, row: dict) -> Job:
        return Job(
            id=row["id"], owner=row["owner"], clip_sha256=row["clip_sha256"], clip_name=row["clip_name"],
            clip_path=self.store.root / row["clip_path"], settings=_settings(row["settings"]),
            state=row["state"], attempts=int(row["attempts"]), stage=row["stage"], done=int(row["done"]),
            total=int(row["total"]), error=row["error"], run_key=row["run_key"], created=float(row["created"]),
            preview=self.store.root / row["preview"] if row["preview"] and row["state"] == "running" else None,
        )

    def _log(self, text: str) -> None:
        with open(self.store.root / WORKER_LOG, "a") as log:
            log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")

    def _db(self):
        return self.store.connect()


@functools.lru_cache(maxsize=256)
def _settings(text: str) -> Settings:
    """A job row's settings (frozen, so shared): parsed once, not on every poll of every page."""
    return settings_from_dict(json.loads(text))


def run_queued(root: str, job_id: str) -> str:
    """What an RQ worker runs: claim job `job_id` of the store at `root` and analyse it; its end state
    ("gone" when another worker had it first)."""
    jobs = Jobs(ResultsStore(root))
    worker = worker_name()
    job = jobs.claim_one(job_id, worker)
    if job is None:
        return "gone"
    _ran_here[0] += 1
    return jobs.run(job, worker).state


_ran_here = [0]  # jobs this process's RQ worker took (work() reports how many)


def start_worker_processes(root: str | Path, count: int = 1) -> Callable[[], None]:
    """`count` worker processes (`python -m squat worker`) beside this one: the app's own pool on a
    laptop, nothing else to start. Processes, not threads: the web server's interpreter stays free
    for the pages (8 lifters at once: a click answered in 0.15 s, median, against 0.78 s with the
    workers as threads in the app; docs/speed-log.md). The cores are shared out among them, and each
    stops when this process ends (it watches its parent). Returns a function that stops them."""
    threads = max(1, (os.cpu_count() or 1) // count)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": os.pathsep.join(
        filter(None, [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH")]))}
    procs = [subprocess.Popen([sys.executable, "-m", "squat", "worker", "--data", str(root),
                               "--parent", str(os.getpid())], env=env, stdin=subprocess.DEVNULL)
             for _ in range(count)]

    def stopper() -> None:  # a job cut short is re-queued by the next worker (recover)
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait()

    atexit.register(stopper)
    return stopper


def stop_with_parent(parent: int, stop: threading.Event, every_s: float = 1.0) -> None:
    """Set `stop` once process `parent` has ended (a worker started by the app ends with it)."""
    def watch() -> None:
        while os.getppid() == parent and not stop.is_set():
            time.sleep(every_s)
        stop.set()

    threading.Thread(target=watch, name="parent watch", daemon=True).start()
