"""Eight lifters on one hosted app at once, in real browsers: do all analyses finish, and does each
page answer a click while they run?

    python bench/bench_hosted.py [--lifters 8] [--workers 2] [--clicks 3] [--browsers-behind]

Starts `streamlit run app.py` hosted ($SQUAT_HOSTED=1, $SQUAT_WORKERS worker processes) on an empty
data folder, with the sample clip already analysed (any lifter may open it). Headless Chromium
(Debian's /usr/bin/chromium, through Playwright) opens one browser context per lifter; each uploads
its own clip (the sample made distinct by appended bytes: another content hash, the same video) at
the same moment. While the jobs run, each page in turn presses "Try a sample clip", which opens the
stored sample on the server, and back: the time from the click until the sample's heading shows
is a click's answer (target: under 1 s). The server's part of it is timed too, by the browser's
network clock (ServerClock): the eight browsers share the host's cores here, as lifters' phones
would not. With --browsers-behind the browsers get the cores only when the app and its workers
leave them (how a host without the browsers schedules its cores; docs/speed-log.md §13). Then
every lifter's analysis must finish and be listed for that lifter only.
"""
from __future__ import annotations

import argparse
import base64
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

from squat.jobs import Jobs  # noqa: E402
from squat.settings import Settings  # noqa: E402
from squat.store import ResultsStore  # noqa: E402

SAMPLE = ROOT / "samples" / "squat_side.mp4"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(data: Path, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, SQUAT_DATA_DIR=str(data), SQUAT_HOSTED="1", SQUAT_WORKERS=str(workers))
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.address", "127.0.0.1", "--server.port", str(port),
                             "--server.fileWatcherType", "none"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=open(data.parent / "server.log", "wb"))
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the app did not start")


class ServerClock:
    """When a page's websocket carried the click (a full rerun asking for the sample) and the answer
    (the sample's heading), by the browser's own network timestamps (Chrome DevTools Protocol): the
    server's time to answer, apart from the time the browsers (here on the server's own cores, not on
    the lifters' phones) take to draw it."""

    def __init__(self, page, name: str):
        self.name, self.asked, self.answered, self.hashes = name, [], [], set()
        cdp = page.context.new_cdp_session(page)
        cdp.on("Network.webSocketFrameSent", self._sent)
        cdp.on("Network.webSocketFrameReceived", self._received)
        cdp.send("Network.enable")

    def _sent(self, event: dict) -> None:
        message = BackMsg()
        message.ParseFromString(base64.b64decode(event["response"]["payloadData"]))
        rerun = message.rerun_script
        if message.WhichOneof("type") == "rerun_script" and not rerun.fragment_id and any(
                w.id.endswith("-sample") and w.trigger_value for w in rerun.widget_states.widgets):
            self.asked.append(event["timestamp"])

    def _received(self, event: dict) -> None:
        message = ForwardMsg()
        message.ParseFromString(base64.b64decode(event["response"]["payloadData"]))
        # the heading itself, or (sent to this page before) a reference to it by its hash
        if message.delta.new_element.heading.body == self.name:
            self.hashes.add(message.hash)
            self.answered.append(event["timestamp"])
        elif message.WhichOneof("type") == "ref_hash" and message.ref_hash in self.hashes:
            self.answered.append(event["timestamp"])

    def answer_time(self, since: int) -> float:
        """Seconds from the click sent after the first `since` to the next heading received."""
        if len(self.asked) <= since:
            return math.nan
        asked = self.asked[since]
        return next((t for t in self.answered if t >= asked), math.nan) - asked


def chromium(base: Path, cpus: str | None) -> str:
    """Debian's Chromium, or a wrapper that starts it (and so every process it forks) on `cpus` only."""
    if not cpus:
        return "/usr/bin/chromium"
    wrapper = base / "chromium"
    wrapper.write_text(f'#!/bin/sh\nexec taskset -c {cpus} /usr/bin/chromium "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def keep_behind(name: str, stop: threading.Event) -> None:
    """Every half second, put each `name` process's autogroup at niceness 19. Chromium starts its
    processes in sessions of their own, and Linux shares the cores between sessions (autogroups)
    before any niceness inside them counts: so renicing the processes does nothing, their
    autogroups must be reniced (/proc/PID/autogroup)."""
    while not stop.wait(0.5):
        for pid in subprocess.run(["pgrep", name], capture_output=True, text=True).stdout.split():
            try:
                Path(f"/proc/{pid}/autogroup").write_text("19")
            except OSError:
                pass  # ended, or not ours to renice


def scheduled(pid: int) -> tuple[float, float]:
    """Seconds a process's threads have run, and have waited runnable for a core (schedstat)."""
    ran = waited = 0
    for path in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            on_cpu, on_queue, _ = path.read_text().split()
        except (OSError, ValueError):
            continue  # the thread ended
        ran, waited = ran + int(on_cpu), waited + int(on_queue)
    return ran / 1e9, waited / 1e9


def wait_for_answer(page, clock: ServerClock, clicked: int, timeout_s: float = 120) -> float:
    """The server's answer to a page's click, by the browser's network clock, as soon as it has come."""
    end = time.monotonic() + timeout_s
    while not math.isfinite(clock.answer_time(clicked)) and time.monotonic() < end:
        page.wait_for_timeout(50)  # lets Playwright deliver the page's network events
    return clock.answer_time(clicked)


def own_job_done(jobs: Jobs, clip_name: str) -> bool:
    return any(j.clip_name == clip_name and j.finished for j in jobs.list())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lifters", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2, help="the app's own worker processes ($SQUAT_WORKERS)")
    ap.add_argument("--clicks", type=int, default=3, help="clicks per page while the jobs run")
    ap.add_argument("--browser-cpus", help="run the browsers on these CPUs only (taskset list, e.g. 1): "
                    "the lifters' phones are not the host, so keep their drawing off the server's cores")
    ap.add_argument("--browsers-behind", action="store_true",
                    help="schedule the browsers behind the app (their autogroups at niceness 19, as root): "
                         "what the host's cores do when the lifters' phones draw the pages")
    a = ap.parse_args()
    from playwright.sync_api import expect, sync_playwright

    base = Path(tempfile.mkdtemp(prefix="bench-hosted-"))
    data = base / "data"
    jobs = Jobs(ResultsStore(data))
    jobs.submit(SAMPLE, Settings())
    jobs.work(once=True)  # the stored sample every lifter may open
    clips = []
    for i in range(a.lifters):
        clips.append(base / f"set_{i}.mp4")
        clips[-1].write_bytes(SAMPLE.read_bytes() + b"\0" * (i + 1))
    proc, url = start_app(data, a.workers)
    stop, skipped = threading.Event(), 0
    latencies: list[float] = []  # click → heading shown by the browser
    answers: list[float] = []  # click → the heading's message received from the server
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium(base, a.browser_cpus), args=CHROMIUM_ARGS)
            if a.browsers_behind:
                threading.Thread(target=keep_behind, args=("chromium", stop), daemon=True).start()
            pages = [browser.new_context(viewport={"width": 1400, "height": 1000}).new_page() for _ in clips]
            clocks = {id(page): ServerClock(page, SAMPLE.name) for page in pages}
            for page in pages:
                page.set_default_timeout(120_000)
                page.goto(url)
                expect(page.get_by_role("button", name="Try a sample clip")).to_be_visible(timeout=120_000)
            start = time.time()
            for page, clip in zip(pages, clips):
                page.get_by_test_id("stFileUploader").locator("input[type=file]").set_input_files(clip)
            for page in pages:  # every job queued or running before the clicks begin
                expect(page.get_by_role("progressbar")).to_be_visible(timeout=120_000)
            log = base / "server.log"
            log_from = log.stat().st_size
            sched_from = scheduled(proc.pid)
            for _ in range(a.clicks):
                for page, clip in zip(pages, clips):
                    if jobs.list(states=("queued", "running")) == []:
                        break
                    clicked = len(clocks[id(page)].asked)
                    began = time.perf_counter()
                    page.get_by_role("button", name="Try a sample clip").click()
                    if a.browsers_behind:  # the server's answer only: these browsers draw when the host is idle
                        answers.append(wait_for_answer(page, clocks[id(page)], clicked))
                        continue
                    try:
                        expect(page.get_by_role("heading", name=SAMPLE.name)).to_be_visible(timeout=60_000)
                    except AssertionError:  # the page's own analysis ended at the click and opened instead
                        if not own_job_done(jobs, clip.name):
                            raise
                        skipped += 1
                        continue
                    latencies.append(time.perf_counter() - began)
                    page.wait_for_timeout(300)  # the heading's message may still be on its way (rounds 2 and 3)
                    answers.append(clocks[id(page)].answer_time(clicked))
            server_cpu, server_wait = (now - then for now, then in zip(scheduled(proc.pid), sched_from))
            slow_runs = [float(line.split(":")[-1].split()[0]) for line in
                         log.read_bytes()[log_from:].decode(errors="replace").splitlines() if "slow page run" in line]
            for page, clip in zip(pages, clips):
                expect(page.get_by_test_id("stSidebar").get_by_role("button", name=clip.name, exact=True)).to_have_count(
                    1, timeout=1_800_000)
            wall = time.time() - start
            own = all(page.get_by_test_id("stSidebar").get_by_role("button", name=other.name, exact=True).count() == 0
                      for page, clip in zip(pages, clips) for other in clips if other != clip)
            browser.close()
    finally:
        stop.set()
        proc.terminate()
        proc.wait(timeout=60)
    done = sum(j.state == "done" and j.clip_name.startswith("set_") for j in jobs.list())
    print(f"{a.lifters} lifters, {a.workers} worker processes, {os.cpu_count()} cores"
          + (f" (browsers on CPU {a.browser_cpus} only)" if a.browser_cpus else "")
          + (" (browsers' autogroups at niceness 19)" if a.browsers_behind else "") + f": {done} of {a.lifters} "
          f"analyses done in {wall:.0f} s; each lists only their own: {own}")
    if latencies or answers:
        latencies = latencies or [math.nan]  # --browsers-behind: the drawing is not timed
        under = sum(t < 1 for t in latencies)
        print(f"click while the jobs run (open the stored sample): median {statistics.median(latencies):.2f} s, "
              f"slowest {max(latencies):.2f} s, {under} of {len(latencies)} under 1 s"
              + (f" ({skipped} clicks met the page's own analysis opening)" if skipped else "") + "; by round: "
              + " | ".join(" ".join(f"{t:.2f}" for t in latencies[i:i + a.lifters])
                           for i in range(0, len(latencies), a.lifters)))
        print(f"  page runs over 1 s in the server's log while the clicks ran: {len(slow_runs)}"
              + (f" (slowest {max(slow_runs):.2f} s)" if slow_runs else "")
              + f"; the server's threads ran {server_cpu:.1f} s and waited for a core {server_wait:.1f} s")
        heard = [t for t in answers if math.isfinite(t)] or [math.nan]
        print(f"  the server's answer (click sent → heading received, by the browser's network clock): median "
              f"{statistics.median(heard):.2f} s, slowest {max(heard):.2f} s, "
              f"{sum(t < 1 for t in answers)} of {len(answers)} under 1 s; by round: "
              + " | ".join(" ".join(f"{t:.2f}" for t in answers[i:i + a.lifters])
                           for i in range(0, len(answers), a.lifters)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
