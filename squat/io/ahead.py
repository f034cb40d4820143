"""Work a step ahead in a background thread: the next frames decoded, or the last ones encoded,
while this thread runs the network or draws.

PyAV's decoder and encoder, OpenCV and torch release the GIL, so the thread's work runs beside
this one's. In the render, decoding, drawing and encoding each keep about one core busy and the
annotated video comes 25-30 % sooner (speed log §21). In the network pass a thread decodes the
frames and prepares the network's input a batch ahead (squat.reading.read_clip, speed log §25).
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Generic, TypeVar

from squat.timing import in_context, stage

T = TypeVar("T")

_DONE = object()


def read_ahead(items: Iterable[T], depth: int = 8, waiting: str = "decode") -> Iterator[T]:
    """items, produced by a background thread up to `depth` ahead of the caller. An error in the
    thread is raised here, where the item would have come; leaving the loop early (break, an
    error) stops the thread before this generator closes. Time spent waiting for an item counts
    as the `waiting` stage (squat.timing)."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    out: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not _put(out, item, stop):
                    return
        except BaseException as error:  # handed to the caller, raised where the item was due
            _put(out, _Failed(error), stop)
            return
        _put(out, _DONE, stop)

    thread = threading.Thread(target=in_context(produce), name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            with stage(waiting):
                item = out.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()


class WriteBehind(Generic[T]):
    """Calls write(item) for each item put, in a background thread, up to `depth` behind the
    caller (the annotated video encoded while the next frame is drawn). close() waits for the
    last write; an error in a write is raised by the next put() or by close(). Time spent waiting
    for room counts as the `waiting` stage."""

    def __init__(self, write: Callable[[T], None], depth: int = 4, waiting: str = "encode") -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self._write, self._waiting = write, waiting
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=in_context(self._run), name="write-behind", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if self._error is None and not self._stop.is_set():
                try:
                    self._write(item)
                except BaseException as error:  # raised in the caller's thread
                    self._error = error

    def put(self, item: T) -> None:
        self._raise()
        with stage(self._waiting):
            self._queue.put(item)

    def close(self) -> None:
        """Wait for every write put so far; raise the first error a write raised."""
        if self._thread.is_alive():
            with stage(self._waiting):
                self._queue.put(_DONE)
                self._thread.join()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def __enter__(self) -> WriteBehind[T]:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if error is not None:  # leaving on an error: drop what is queued, keep the caller's error
            self._stop.set()
            self._queue.put(_DONE)
            self._thread.join()
            return
        self.close()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _put(out: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put item, waiting for room unless the consumer stops (False: it stopped)."""
    while not stop.is_set():
        try:
            out.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False
