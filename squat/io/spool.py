"""The annotated video's frames, kept as the network pass decodes them (speed log §30).

The pass decodes every frame of the clip; the annotated video, drawn once the numbers are known,
decoded them all again (6 ms a 1080p frame on top of shrinking it, a quarter of the video's work).
Instead the pass hands every frame on its way to a FrameSpool, which keeps those the video will
draw, shrunk in YUV exactly as the video's reader shrinks them (squat.io.video), in an unnamed
file beside the output: the video reads back the same pixels for the cost of a read. The file
has no name, so nothing is left behind whatever happens, and it is given up (the video decodes
the clip as before) where a frame cannot be kept the same way or the file would pass its limit.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType

import numpy as np

from squat.io.video import Frame, YUVPicture


class FrameSpool:
    """Frames a pass reads, the due ones kept shrunk to long_side; `frames()` gives them back once a
    pass has read the clip to its end (`complete`)."""

    def __init__(self, folder: str | Path, long_side: int, gate: Callable[[], Callable[[float], bool]],
                 limit_bytes: int) -> None:
        """gate() makes the rule that picks the frames the video draws: called with each frame's time
        in order, whether to keep it (a fresh one predicts which it will keep: `would_keep`)."""
        self.long_side, self.limit_bytes = long_side, limit_bytes
        self._gate = gate
        self._due = gate()
        self._file = tempfile.TemporaryFile(dir=folder, prefix=".squat-frames-")
        self._kept: list[tuple[int, float, int, tuple[int, int], int]] = []  # index, time, offset, shape, rotation
        self._size = 0
        self._last: tuple[object, tuple] | None = None  # the last picture kept and its record in _kept
        self.complete = False
        self.given_up = False

    def spooling(self, frames: Iterable[Frame]) -> Iterator[Frame]:
        """frames as they come, each the video will draw kept on the way; the spool is complete
        once they have all passed (a pass that stops early leaves it incomplete)."""
        if self.complete or self.given_up:  # a second pass (another model) reads what the first kept
            yield from frames
            return
        for frame in frames:
            if not self.given_up and self._due(frame.time_s):
                self._keep(frame)
            yield frame
        self.complete = not self.given_up

    def would_keep(self) -> Callable[[float], bool] | None:
        """A fresh copy of the rule the next pass will keep frames by; None where it keeps none
        (the spool is complete or given up)."""
        return None if self.complete or self.given_up else self._gate()

    def _keep(self, frame: Frame) -> None:
        picture = frame.picture
        if self._last is not None and picture is self._last[0]:
            # A damaged packet's stand-in repeats the frame before: its pixels are kept already.
            self._kept.append((frame.index, frame.time_s, *self._last[1][2:]))
            return
        shrink = getattr(picture, "shrunk", None)
        small = shrink(self.long_side) if shrink is not None else None
        if small is None or self._size + small.yuv.nbytes > self.limit_bytes:
            self.give_up()
            return
        try:
            self._file.write(np.ascontiguousarray(small.yuv).data)
        except OSError:  # the disk filled up: the video decodes the clip instead
            self.give_up()
            return
        self._kept.append((frame.index, frame.time_s, self._size, small.yuv.shape, small.rotation))
        self._last = (picture, self._kept[-1])
        self._size += small.yuv.nbytes

    def give_up(self) -> None:
        """Keep nothing more, and free the disk space already taken."""
        self.given_up, self._kept, self._last = True, [], None
        self._file.truncate(0)

    def frames(self) -> Iterator[Frame]:
        """The frames kept, in order, each converted to BGR when its image is asked for."""
        if not self.complete:
            raise RuntimeError("the spool is incomplete: read the clip instead")
        self._file.flush()
        for index, time_s, offset, shape, rotation in self._kept:
            self._file.seek(offset)  # in order but for a stand-in, which reads its frame's pixels again
            data = self._file.read(shape[0] * shape[1])
            yield Frame(index, time_s, YUVPicture(np.frombuffer(data, np.uint8).reshape(shape), rotation))

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> FrameSpool:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def spool_bytes(width: int, height: int, fps: float, duration_s: float, frame_count: int, long_side: int,
                max_fps: float) -> int:
    """About what a spool of a clip takes: the frames drawn at most max_fps, each as I420 at long_side."""
    scale = min(1.0, long_side / max(width, height))
    frame_bytes = round(width * scale) * round(height * scale) * 3 // 2
    drawn = frame_count
    if fps > max_fps and np.isfinite(duration_s):
        drawn = int(np.ceil(duration_s * max_fps)) + 1
    return drawn * frame_bytes
