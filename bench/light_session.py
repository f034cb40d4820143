"""A Streamlit page without a browser: one session of the app over its websocket, as
`bench/bench_hosted.py --light-pages` uses it.

A lifter's phone draws the page on its own processor; a headless Chromium on the host draws it on
the server's cores (docs/speed-log.md §13). This session speaks the app's own protocol (the
`BackMsg` / `ForwardMsg` protobufs Streamlit ships) and draws nothing, so the host's cores are left
to the server and its workers, as they would be with the lifters' phones elsewhere:
- it opens the page as a browser does (a full rerun with the page's query string), sending the
  lifter's cookies (the hosted app's owner token);
- it reruns each polling fragment (`st.fragment(run_every=...)`) on the interval the server asks
  for, as the browser's timer does;
- `click(label)` presses a button (its trigger, as a browser sends it) and times the server's
  answer: the first message carrying `heading` and the page run's end.

Widgets other than the clicked button go back with no value (their defaults); it sends no cached
message hashes, so the server sends every element in full (a little more work than for a browser).
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

FULL_RUN_DONE = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR)


@dataclass
class Answer:
    """One click's answer, seconds after it was sent (NaN until it came)."""

    sent: float
    heading_s: float = math.nan  # the asked-for heading arrived
    finished_s: float = math.nan  # the page run that drew it ended


@dataclass
class LightSession:
    """One page of the app at `url` (http://host:port), opened with `cookies` (name → value)."""

    url: str
    cookies: dict[str, str] = field(default_factory=dict)
    query_string: str = ""
    buttons: dict[str, str] = field(default_factory=dict)  # label → widget id, from the latest runs
    runs: int = 0  # full page runs finished
    error: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._polls: dict[str, tuple[float, float]] = {}  # fragment id → (interval s, next due, monotonic)
        self._answers: list[tuple[str, Answer]] = []  # (heading asked for, its answer)
        self._stop = threading.Event()
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self._ws = connect(self.url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"],
                           additional_headers={"Origin": self.url, **({"Cookie": cookie} if cookie else {})},
                           max_size=None, open_timeout=60)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._send_rerun()

    # -------------------------------------------------------------------------------- the page

    def click(self, label: str, heading: str) -> Answer:
        """Press the button `label`; the answer fills in as `heading` and the run's end arrive."""
        answer = Answer(time.perf_counter())
        with self._lock:
            self._answers.append((heading, answer))
        self._send_rerun(trigger=self.buttons[label])
        return answer

    def reload(self, timeout_s: float = 120) -> None:
        """A fresh full run (the buttons seen in it replace the old ones), waited for."""
        runs = self.runs
        with self._lock:
            self.buttons = {}
        self._send_rerun()
        self.wait(lambda: self.runs > runs, timeout_s)

    def wait(self, done, timeout_s: float = 120) -> bool:
        end = time.monotonic() + timeout_s
        while not done() and time.monotonic() < end and not self.error:
            time.sleep(0.02)
        return bool(done())

    @property
    def polling(self) -> bool:
        """Whether the page has a polling fragment running (a job's progress)."""
        with self._lock:
            return bool(self._polls)

    def close(self) -> None:
        self._stop.set()
        self._ws.close()

    # ---------------------------------------------------------------------------- the protocol

    def _send_rerun(self, trigger: str | None = None, fragment_id: str = "") -> None:
        message = BackMsg()
        state = message.rerun_script
        state.query_string = self.query_string
        state.fragment_id = fragment_id
        state.is_auto_rerun = bool(fragment_id)
        if trigger:
            state.widget_states.widgets.append(WidgetState(id=trigger, trigger_value=True))
        self._ws.send(message.SerializeToString())

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                raw = self._ws.recv(timeout=0.05)
            except TimeoutError:
                raw = None
            except ConnectionClosed as closed:
                if not self._stop.is_set():
                    self.error = f"connection closed: {closed}"
                return
            if raw is not None:
                self._handle(raw, time.perf_counter())
            self._poll_due()

    def _handle(self, raw: bytes, now: float) -> None:
        message = ForwardMsg()
        message.ParseFromString(raw)
        kind = message.WhichOneof("type")
        with self._lock:
            if kind == "new_session":
                self._polls.clear()  # a full run registers its polling fragments again
            elif kind == "auto_rerun":
                every = message.auto_rerun.interval
                self._polls[message.auto_rerun.fragment_id] = (every, time.monotonic() + every)
            elif kind == "stop_auto_rerun":
                self._polls.clear()
            elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                element = message.delta.new_element
                if element.WhichOneof("type") == "button":
                    self.buttons[element.button.label] = element.button.id
                elif element.WhichOneof("type") == "heading":
                    for heading, answer in self._answers:
                        if heading == element.heading.body and math.isnan(answer.heading_s):
                            answer.heading_s = now - answer.sent
            elif kind == "script_finished" and message.script_finished in FULL_RUN_DONE:
                self.runs += 1
                for _, answer in self._answers:
                    if math.isfinite(answer.heading_s) and math.isnan(answer.finished_s):
                        answer.finished_s = now - answer.sent

    def _poll_due(self) -> None:
        with self._lock:
            due = [fid for fid, (_, at) in self._polls.items() if time.monotonic() >= at]
            for fid in due:
                every = self._polls[fid][0]
                self._polls[fid] = (every, time.monotonic() + every)
        for fid in due:
            self._send_rerun(fragment_id=fid)
