"""The C library's memory allocator, tuned for frames made in one thread and freed in others (glibc
only; elsewhere a no-op): one arena for every thread, and freed memory given back to the system
while a long clip is read.

Frames of 3-6 MB are decoded in one thread and freed in others, between the small arrays that
stay (each frame's people): glibc keeps the freed gaps mapped, and peak memory grew with clip
length (speed log §23, §25). malloc_trim hands the free pages back, gaps included, in ~1 ms.
"""
from __future__ import annotations

import ctypes
import functools


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 (glibc has it; musl and macOS do not)
        return libc
    except (OSError, AttributeError):
        return None


def one_malloc_arena() -> bool:
    """Every thread allocates from glibc's one main arena (False where the C library is not glibc).

    Frames are decoded in one thread and freed in another (squat.io.ahead); with an arena per
    thread, peak memory grew by ~136 MB a minute of a 1080p 60 fps clip, in one arena by ~50 at the
    same speed (speed log §23). A fixed mmap threshold also kept it down but made the analysis 1.7×
    slower (every large buffer mapped afresh). The CLI sets it first thing (squat.cli.main)."""
    libc = _libc()
    return bool(libc.mallopt(M_ARENA_MAX, 1)) if libc is not None else False


M_ARENA_MAX = -8  # glibc's malloc.h


def give_back_free_memory() -> bool:
    """Return the process's free heap pages to the system (False where the C library cannot)."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


class EveryFrames:
    """Calls give_back_free_memory once every `frames` frames counted."""

    def __init__(self, frames: int = 240) -> None:
        self.frames, self._count = frames, 0

    def count(self, n: int = 1) -> None:
        self._count += n
        if self._count >= self.frames:
            self._count = 0
            give_back_free_memory()
