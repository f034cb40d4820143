"""Where the time goes: named stages of an analysis, timed only when someone asks.

The pipeline marks its stages (`with stage("network"): ...`); outside `timed()` a mark costs one
context-variable read. Inside `timed()` each stage's own time is summed: a stage entered inside
another pauses the outer one, so the totals add up to the wall time, except where the outer
stage is `whole` (the scout: its network and decoding are counted as scouting).
"""
from __future__ import annotations

import contextvars
import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterator

OTHER = "other"  # time inside timed() but in no stage


class _Clock:
    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.stack: list[tuple[str, bool]] = [(OTHER, False)]
        self.since = time.perf_counter()

    def _charge(self) -> None:
        now = time.perf_counter()
        self.totals[self.stack[-1][0]] += now - self.since
        self.since = now

    def enter(self, name: str, whole: bool) -> bool:
        if self.stack[-1][1]:  # inside a whole stage: counted there
            return False
        self._charge()
        self.stack.append((name, whole))
        return True

    def leave(self) -> None:
        self._charge()
        self.stack.pop()


_clock: contextvars.ContextVar[_Clock | None] = contextvars.ContextVar("squat_clock", default=None)


@contextmanager
def stage(name: str, whole: bool = False) -> Iterator[None]:
    """Count the time inside as `name` (and, with `whole`, the stages inside it too)."""
    clock = _clock.get()
    if clock is None or not clock.enter(name, whole):
        yield
        return
    try:
        yield
    finally:
        clock.leave()


@contextmanager
def timed() -> Iterator[dict[str, float]]:
    """Seconds per stage of whatever runs inside (this thread); the dict fills in as it runs."""
    clock = _Clock()
    token = _clock.set(clock)
    try:
        yield clock.totals
    finally:
        clock._charge()
        _clock.reset(token)
