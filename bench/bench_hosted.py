"""Eight lifters on one hosted app at once, in real browsers: do all analyses finish, and does each
page answer a click while they run?

    python bench/bench_hosted.py [--lifters 8] [--workers 2] [--clicks 3] [--browsers-behind | --light-pages]

Starts `streamlit run app.py` hosted ($SQUAT_HOSTED=1, $SQUAT_WORKERS worker processes) on an empty
data folder, with the sample clip already analysed (any lifter may open it). Headless Chromium
(Debian's /usr/bin/chromium, through Playwright) opens one browser context per lifter; each uploads
its own clip (the sample made distinct by appended bytes: another content hash, the same video) at
the same moment. While the jobs run, each page in turn presses "Try a sample clip", which opens the
stored sample on the server, and back: the time from the click until the sample's heading shows
is a click's answer (target: under 1 s). The server's part of it is timed too, by the browser's
network clock (ServerClock): the eight browsers share the host's cores here, as lifters' phones
would not. With --browsers-behind the browsers get the cores only when the app and its workers
leave them (how a host without the browsers schedules its cores; docs/speed-log.md §13). With
--light-pages the browsers upload the clips and close; each lifter's page (the same owner cookie)
is then a `bench/light_session.py` session that draws nothing, as if the phones were elsewhere,
and the server's answer is timed by that session's own clock. Then every lifter's analysis must
finish and be listed for that lifter only.
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
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from light_session import LightSession  # noqa: E402
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
    """Seconds a process has run (all its threads, ended ones too: /proc/PID/stat), and seconds its
    live threads have waited runnable for a core (schedstat; a page run's script thread ends with
    the run, so its waits are not counted)."""
    ticks = os.sysconf("SC_CLK_TCK")
    utime, stime = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:13]
    waited = 0
    for path in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            waited += int(path.read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue  # the thread ended
    return (int(utime) + int(stime)) / ticks, waited / 1e9


def wait_for_answer(page, clock: ServerClock, clicked: int, timeout_s: float = 120) -> float:
    """The server's answer to a page's click, by the browser's network clock, as soon as it has come."""
    end = time.monotonic() + timeout_s
    while not math.isfinite(clock.answer_time(clicked)) and time.monotonic() < end:
        page.wait_for_timeout(50)  # lets Playwright deliver the page's network events
    return clock.answer_time(clicked)


def own_job_done(jobs: Jobs, clip_name: str) -> bool:
    return any(j.clip_name == clip_name and j.finished for j in jobs.list())


def busy(jobs: Jobs) -> bool:
    return bool(jobs.list(states=("queued", "running")))


@dataclass
class Clicks:
    """What the click phase measured (seconds)."""

    shown: list[float] = field(default_factory=list)  # click → the sample's heading drawn by the browser
    answers: list[float] = field(default_factory=list)  # click → the heading's message received from the server
    finished: list[float] = field(default_factory=list)  # click → its page run's end (light pages only)
    skipped: int = 0  # clicks met by the page's own analysis opening instead
    polling: int = -1  # light pages: how many were polling their job's progress when the clicks began


def browser_clicks(pages, clocks: dict, clips: list[Path], jobs: Jobs, rounds: int, behind: bool) -> Clicks:
    """`rounds` of "Try a sample clip" on each browser page while the jobs run."""
    from playwright.sync_api import expect
    out = Clicks()
    for _ in range(rounds):
        for page, clip in zip(pages, clips):
            if not busy(jobs):
                break
            clicked = len(clocks[id(page)].asked)
            began = time.perf_counter()
            page.get_by_role("button", name="Try a sample clip").click()
            if behind:  # the server's answer only: these browsers draw when the host is idle
                out.answers.append(wait_for_answer(page, clocks[id(page)], clicked))
                continue
            try:
                expect(page.get_by_role("heading", name=SAMPLE.name)).to_be_visible(timeout=60_000)
            except AssertionError:  # the page's own analysis ended at the click and opened instead
                if not own_job_done(jobs, clip.name):
                    raise
                out.skipped += 1
                continue
            out.shown.append(time.perf_counter() - began)
            page.wait_for_timeout(300)  # the heading's message may still be on its way (rounds 2 and 3)
            out.answers.append(clocks[id(page)].answer_time(clicked))
    return out


def browser_pages_own(pages, clips: list[Path]) -> bool:
    """Once every analysis is done, each browser page lists its own and no other."""
    from playwright.sync_api import expect
    for page, clip in zip(pages, clips):
        expect(page.get_by_test_id("stSidebar").get_by_role("button", name=clip.name, exact=True)).to_have_count(
            1, timeout=1_800_000)
    return all(page.get_by_test_id("stSidebar").get_by_role("button", name=other.name, exact=True).count() == 0
               for page, clip in zip(pages, clips) for other in clips if other != clip)


def light_clicks(pages: list[LightSession], jobs: Jobs, rounds: int) -> Clicks:
    """`rounds` of "Try a sample clip" on each light page while the jobs run, timed by the page."""
    out = Clicks()
    for page in pages:
        page.wait(lambda page=page: "Try a sample clip" in page.buttons and page.polling, timeout_s=10)
    out.polling = sum(page.polling for page in pages)
    for _ in range(rounds):
        for page in pages:
            if not busy(jobs):
                break
            answer = page.click("Try a sample clip", SAMPLE.name)
            page.wait(lambda: math.isfinite(answer.finished_s), timeout_s=60)
            out.answers.append(answer.heading_s)
            out.finished.append(answer.finished_s)
    return out


def light_pages_own(pages: list[LightSession], clips: list[Path], jobs: Jobs) -> bool:
    """Once every analysis is done, each light page (reloaded) lists its own and no other."""
    while busy(jobs):
        time.sleep(1)
    own = True
    for page, clip in zip(pages, clips):
        page.reload()
        own &= clip.name in page.buttons and not any(other.name in page.buttons for other in clips if other != clip)
        page.close()
    return own


def slow_page_runs(log: Path, since: int) -> list[float]:
    """The seconds of each "slow page run" the app logged after byte `since` of its log."""
    return [float(line.split(":")[-1].split()[0]) for line in
            log.read_bytes()[since:].decode(errors="replace").splitlines() if "slow page run" in line]


def by_round(times: list[float], per_round: int) -> str:
    return " | ".join(" ".join(f"{t:.2f}" for t in times[i:i + per_round]) for i in range(0, len(times), per_round))


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
    ap.add_argument("--light-pages", action="store_true",
                    help="after the uploads, close the browsers and click on pages that draw nothing "
                         "(bench/light_session.py): the server's answer with the lifters' phones elsewhere")
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
    log = base / "server.log"
    stop = threading.Event()
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
            if a.light_pages:  # the same lifters (their owner cookies, their page's address), now without a browser
                opened = [({c["name"]: c["value"] for c in page.context.cookies()}, urlsplit(page.url).query)
                          for page in pages]
                browser.close()
                pages = [LightSession(url, jar, query) for jar, query in opened]
            log_from, sched_from = log.stat().st_size, scheduled(proc.pid)
            clicks = (light_clicks(pages, jobs, a.clicks) if a.light_pages
                      else browser_clicks(pages, clocks, clips, jobs, a.clicks, a.browsers_behind))
            server_cpu, server_wait = (now - then for now, then in zip(scheduled(proc.pid), sched_from))
            slow_runs = slow_page_runs(log, log_from)
            own = light_pages_own(pages, clips, jobs) if a.light_pages else browser_pages_own(pages, clips)
            wall = time.time() - start
            if not a.light_pages:
                browser.close()
    finally:
        stop.set()
        proc.terminate()
        proc.wait(timeout=60)
    done = sum(j.state == "done" and j.clip_name.startswith("set_") for j in jobs.list())
    print(f"{a.lifters} lifters, {a.workers} worker processes, {os.cpu_count()} cores"
          + (f" (browsers on CPU {a.browser_cpus} only)" if a.browser_cpus else "")
          + (" (browsers' autogroups at niceness 19)" if a.browsers_behind else "")
          + (" (pages without a browser after the uploads)" if a.light_pages else "")
          + f": {done} of {a.lifters} analyses done in {wall:.0f} s; each lists only their own: {own}")
    if clicks.shown:
        print(f"click while the jobs run (open the stored sample): median {statistics.median(clicks.shown):.2f} s, "
              f"slowest {max(clicks.shown):.2f} s, {sum(t < 1 for t in clicks.shown)} of {len(clicks.shown)} under 1 s"
              + (f" ({clicks.skipped} clicks met the page's own analysis opening)" if clicks.skipped else "")
              + "; by round: " + by_round(clicks.shown, a.lifters))
    if clicks.answers:
        if clicks.polling >= 0:
            print(f"  pages polling their own job's progress (once a second) as the clicks began: {clicks.polling} of "
                  f"{len(clips)}")
        print(f"  page runs over 1 s in the server's log while the clicks ran: {len(slow_runs)}"
              + (f" (slowest {max(slow_runs):.2f} s)" if slow_runs else "")
              + f"; the server ran {server_cpu:.1f} s on a core, its live threads waited for one {server_wait:.1f} s")
        for what, times in (("the server's answer (click sent → heading received, by "
                             + ("the page's own clock)" if a.light_pages else "the browser's network clock)"),
                             clicks.answers),
                            ("the page run's end (click sent → script finished)", clicks.finished)):
            if times:
                heard = [t for t in times if math.isfinite(t)] or [math.nan]
                print(f"  {what}: median {statistics.median(heard):.2f} s, slowest {max(heard):.2f} s, "
                      f"{sum(t < 1 for t in times)} of {len(times)} under 1 s; by round: {by_round(times, a.lifters)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
