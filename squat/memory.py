"""Giving freed memory back to the system while a long clip is read (glibc only; elsewhere a no-op).

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
