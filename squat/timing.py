"""Where the time goes: named stages of an analysis, timed only when someone asks.

The pipeline marks its stages (`with stage("network"): ...`); outside `timed()` a mark costs one
context-variable read. Inside `timed()` each stage's own time is summed: a stage entered inside
another pauses the outer one, so the totals add up to the wall time, except where the outer
stage is `whole` (the scout: its network and decoding are counted as scouting; where asked, the
stages directly inside it are also summed apart, in `within`: the scout's network is still the
network).

Work handed to threads beside the caller's (frames decoded ahead, people found in the maps while
the network reads the next frames) is counted apart, in `beside`, where the thread runs in a
copy of the caller's context (`in_context`): it overlaps the wall time rather than adding to it.
"""
from __future__ import annotations

import contextvars
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Callable, Iterator, Optional, TypeVar

OTHER = "other"  # time inside timed() but in no stage

R = TypeVar("R")


class _Stack:
    """One thread's open stages: the innermost is charged, the ones around it wait."""

    def __init__(self, totals: dict[str, float], base: Optional[str],
                 within: Optional[dict[str, float]] = None) -> None:
        self.totals = totals
        self.frames: list[tuple[Optional[str], bool]] = [(base, False)]
        self.since = time.perf_counter()
        self.within = within
        self.parts = 0  # stages open inside a whole one: only the outermost of them is summed in within

    def charge(self) -> None:
        now = time.perf_counter()
        name = self.frames[-1][0]
        if name is not None:
            self.totals[name] += now - self.since
        self.since = now

    def enter(self, name: str, whole: bool) -> bool:
        if self.frames[-1][1]:  # inside a whole stage: counted there
            return False
        self.charge()
        self.frames.append((name, whole))
        return True

    def leave(self) -> None:
        self.charge()
        self.frames.pop()

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        """A stage inside a whole one: its time stays the whole stage's, and is noted in within."""
        if self.within is None or self.parts:
            yield
            return
        self.parts += 1
        start = time.perf_counter()
        try:
            yield
        finally:
            self.parts -= 1
            self.within[name] = self.within.get(name, 0.0) + time.perf_counter() - start


class _Clock:
    def __init__(self, beside: Optional[dict[str, float]], within: Optional[dict[str, float]]) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.main = _Stack(self.totals, OTHER, within)
        self.owner = threading.get_ident()
        self.beside = beside
        self.threads = threading.local()

    def stack(self) -> Optional[_Stack]:
        """This thread's stages: the caller's, a helper thread's (counted in beside), or None."""
        if threading.get_ident() == self.owner:
            return self.main
        if self.beside is None:
            return None
        if not hasattr(self.threads, "stack"):
            self.threads.stack = _Stack(self.beside, None)
        return self.threads.stack


_clock: contextvars.ContextVar[_Clock | None] = contextvars.ContextVar("squat_clock", default=None)


@contextmanager
def stage(name: str, whole: bool = False) -> Iterator[None]:
    """Count the time inside as `name` (and, with `whole`, the stages inside it too)."""
    clock = _clock.get()
    stack = clock.stack() if clock is not None else None
    if stack is None:
        yield
        return
    if not stack.enter(name, whole):  # inside a whole stage
        with stack.part(name):
            yield
        return
    try:
        yield
    finally:
        stack.leave()


@contextmanager
def timed(beside: Optional[dict[str, float]] = None, within: Optional[dict[str, float]] = None
          ) -> Iterator[dict[str, float]]:
    """Seconds per stage of whatever runs inside (this thread); the dict fills in as it runs.
    beside: where the seconds of stages in threads started with in_context are added.
    within: where the seconds of the stages directly inside a whole stage are added (this thread's)."""
    clock = _Clock(beside, within)
    token = _clock.set(clock)
    try:
        yield clock.totals
    finally:
        clock.main.charge()
        _clock.reset(token)


def in_context(fn: Callable[..., R]) -> Callable[..., R]:
    """fn, to be run in another thread, in a copy of this thread's context (made now): its stages
    are counted in timed()'s beside. Make one per thread: a context is entered by one at a time."""
    context = contextvars.copy_context()
    return lambda *args, **kwargs: context.run(fn, *args, **kwargs)
