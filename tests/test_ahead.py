"""Work a step ahead in a thread: the same items in the same order, errors where they were due,
and no thread left running however the loop ends."""
from __future__ import annotations

import threading
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from squat.io.ahead import WriteBehind, read_ahead
from squat.io.video import VideoWriter, iter_frames

DATA = Path(__file__).parent / "data"
CLIP = DATA / "sports2d_crouch.mp4"


def helper_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name in ("read-ahead", "write-behind")]


def test_frames_read_ahead_are_the_frames_in_order():
    with iter_frames(CLIP) as reader:
        plain = [(f.index, f.time_s, f.image.sum()) for f in reader]
    with iter_frames(CLIP) as reader, closing(read_ahead(reader, depth=3)) as frames:
        ahead = [(f.index, f.time_s, f.image.sum()) for f in frames]
    assert ahead == plain
    assert not helper_threads()


def test_leaving_early_stops_the_thread_before_the_reader_closes():
    with iter_frames(CLIP) as reader, closing(read_ahead(reader, depth=2)) as frames:
        for frame in frames:
            if frame.index == 3:
                break
    assert not helper_threads()


def test_an_error_in_the_thread_is_raised_where_its_item_was_due():
    def items():
        yield 1
        yield 2
        raise OSError("disk gone")

    seen = []
    with pytest.raises(OSError, match="disk gone"):
        for item in read_ahead(items()):
            seen.append(item)
    assert seen == [1, 2]
    assert not helper_threads()


def test_depth_must_be_positive():
    with pytest.raises(ValueError):
        next(read_ahead([1], depth=0))
    with pytest.raises(ValueError):
        WriteBehind(print, depth=0)


def test_written_behind_in_order_and_finished_by_close(tmp_path):
    with iter_frames(CLIP) as reader:
        frames = [(f.image, f.time_s) for f in reader][:12]
    h, w = frames[0][0].shape[:2]
    path = tmp_path / "behind.mp4"
    with VideoWriter(path, w, h, 30) as writer, WriteBehind(lambda item: writer.write(*item), depth=2) as behind:
        for item in frames:
            behind.put(item)
    assert not helper_threads()
    with iter_frames(path) as reader:
        times = [f.time_s for f in reader]
    assert np.allclose(times, [t - frames[0][1] for _, t in frames], atol=1e-4)


def test_a_failed_write_is_raised_to_the_caller():
    written = []

    def write(item: int) -> None:
        if item == 2:
            raise ValueError("frame 2 is the wrong size")
        written.append(item)

    with pytest.raises(ValueError, match="wrong size"):
        with WriteBehind(write, depth=1) as behind:
            for item in range(50):
                behind.put(item)
    assert written == [0, 1]  # nothing after the failed write
    assert not helper_threads()


def test_the_callers_error_wins_and_queued_writes_are_dropped():
    written = []
    with pytest.raises(KeyError):
        with WriteBehind(written.append, depth=4) as behind:
            behind.put(1)
            raise KeyError("drawing failed")
    assert written in ([], [1])
    assert not helper_threads()


def test_freed_memory_is_given_back_every_so_many_frames(monkeypatch):
    from squat import memory

    assert memory.give_back_free_memory() is (memory._libc() is not None)  # glibc here: True
    calls = []
    monkeypatch.setattr(memory, "give_back_free_memory", lambda: calls.append(1))
    every = memory.EveryFrames(10)
    for _ in range(25):
        every.count()
    every.count(7)  # 5 + 7: past the next ten
    assert len(calls) == 3
