"""Jobs under load and under kill -9: the targets of issue 14, measured on this machine.

    python bench/bench_jobs.py [--sessions 8] [--kills 20] [--queue redis://...]

1. `--sessions` owners each submit a clip at once (copies of the sample clip made distinct by one
   appended byte, so none is a duplicate of another) to two worker processes; every job must end
   done, each owner's analysis listed for that owner only. Prints the wall time and the longest
   a job waited.
2. `--kills` times: a worker is killed with SIGKILL mid-analysis, recover() runs, and a fresh worker
   finishes the job. Counts jobs lost (not done in the end) and half-written analyses listed
   (a run folder in the store's index without its files). Both must be 0.
Small settings (whole frame at 256 px) keep each analysis to seconds: the queue is measured, not
the network.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from squat.jobs import Jobs  # noqa: E402
from squat.settings import PoseSettings, Settings  # noqa: E402
from squat.store import ResultsStore  # noqa: E402

SAMPLE = ROOT / "samples" / "squat_side.mp4"
SMALL = Settings(pose=PoseSettings(long_side=256, framing="full"))


def worker(root: Path, queue: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "squat", "worker", "--data", str(root)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "SQUAT_QUEUE": queue},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def distinct_clip(folder: Path, n: int) -> Path:
    """The sample with n trailing bytes: another content hash, the same video."""
    path = folder / f"set_{n}.mp4"
    path.write_bytes(SAMPLE.read_bytes() + b"\0" * (n + 1))
    return path


def wait(condition, timeout: float) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if condition():
            return True
        time.sleep(0.1)
    return False


def sessions(root: Path, count: int, queue: str) -> None:
    store = ResultsStore(root)
    jobs = Jobs(store, queue_url=queue)
    workers = [worker(root, queue) for _ in range(2)]
    start = time.time()
    try:
        submitted = {f"lifter-{i}": jobs.submit(distinct_clip(root.parent, i), SMALL, owner=f"lifter-{i}")
                     for i in range(count)}
        wait(lambda: all(jobs.get(j.id).finished for j in submitted.values()), 1800)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
            w.wait()
    ended = {owner: jobs.get(j.id) for owner, j in submitted.items()}
    done = sum(j.state == "done" for j in ended.values())
    own = all(jobs.owned_keys(owner) == [j.run_key] for owner, j in ended.items())
    print(f"{count} sessions at once: {done} of {count} done, each owner sees only their own: {own}, "
          f"{time.time() - start:.0f} s in all")


def kills(root: Path, count: int, queue: str) -> None:
    store = ResultsStore(root)
    jobs = Jobs(store, queue_url=queue)
    lost = half = 0
    for i in range(count):
        job = jobs.submit(distinct_clip(root.parent, 1000 + i), SMALL)
        w = worker(root, queue)
        wait(lambda: (j := jobs.get(job.id)).state == "running" and j.done > 0, 300)
        time.sleep(0.2 * (i % 5))  # killed at different points of the analysis
        w.send_signal(signal.SIGKILL)
        w.wait()
        jobs.recover()
        jobs.work(once=True)
        lost += jobs.get(job.id).state != "done"
        half += sum(not (e.run_dir / "summary.json").is_file() for e in store.list())
    print(f"{count} workers killed mid-analysis: {lost} jobs lost, {half} half-written analyses listed")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--queue", default="", help="redis://... to measure the RQ queue (default: the table)")
    a = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    try:
        (base / "a").mkdir()
        (base / "b").mkdir()
        sessions(base / "a" / "data", a.sessions, a.queue)
        kills(base / "b" / "data", a.kills, a.queue)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
