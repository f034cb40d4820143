"""A few frames of a clip by index, decoding only what they need: exactly the frames iter_frames
gives for those indices (squat.io.video), from the keyframe before each.

An index of the clip's packets, made by demuxing alone, once per file, says which keyframe each
frame decodes from; wanted frames after one keyframe are decoded in one stretch, two decoders
share the stretches, and frames nothing refers to are skipped unless wanted. A clip that cannot be
indexed safely, or whose decoder disagrees with the index, is decoded front to back instead.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from itertools import chain
from pathlib import Path

import av
import numpy as np

from squat.errors import VideoError
from squat.io.video import (
    _AV_ERRORS,
    Frame,
    FrameReader,
    _decode,
    _decoded,
    _no_frames,
    _open,
    _rotation,
    _upright_bgr,
    frame_time_s,
)


def read_frames(path: str | Path, indices: Iterable[int], long_side: int | None = None) -> dict[int, Frame]:
    """The frames at these indices, exactly as iter_frames gives them, decoding only what they need.

    Each frame is decoded from the keyframe at or before it (one stretch serves every wanted
    frame after the same keyframe; two decoders share the stretches; frames nothing refers to
    are skipped unless wanted); where that is comes from an index of the clip's packets,
    made by demuxing alone, once per file. A clip that cannot be indexed safely (damaged,
    packets without timestamps) or whose decoder disagrees with the index is decoded front to
    back instead: a frame is never given for the wrong index. VideoError for an index outside
    the clip; no indices reads nothing.
    """
    wanted = np.unique(np.fromiter(indices, np.int64))
    frames = {frame.index: frame for frame in frames_as_decoded(path, wanted, long_side)}
    return {i: frames[i] for i in wanted.tolist()}


def frames_as_decoded(path: str | Path, indices: Iterable[int], long_side: int | None = None) -> Iterator[Frame]:
    """read_frames' frames, each handed over as soon as a decoder gives it, in no set order: the
    caller works on the first while the others decode (the scout runs the network on them: speed
    log §31). Frames the seeking decoders could not give are read front to back at the end.
    Leaving the loop early stops the decoders."""
    path = Path(path)
    wanted = np.unique(np.fromiter(indices, np.int64))
    if not wanted.size:
        return
    index = _frame_index(path)
    if wanted[0] < 0:
        raise VideoError(f"frame {wanted[0]} is not in {path.name}: frames are numbered from 0")
    if index.seekable and wanted[-1] >= len(index.pts):
        raise _outside(path, int(wanted[-1]), len(index.pts))
    given: set[int] = set()
    if index.seekable:
        for frame in _read_seeking(path, index, wanted, long_side, SEEKING_THREADS):
            if frame.index not in given:  # a stretch tried again from its keyframe's dts gives its frames again
                given.add(frame.index)
                yield frame
    missing = wanted[~np.isin(wanted, list(given))]
    if missing.size:
        yield from _read_in_order(path, missing, long_side).values()


def read_frame(path: str | Path, index: int, long_side: int | None = None) -> Frame:
    """One frame by index, as iter_frames gives it; see read_frames."""
    return read_frames(path, [index], long_side)[index]


def count_frames(path: str | Path) -> int:
    """How many frames iter_frames gives: from the packet index where the clip has one (no
    decoding), else by decoding it (the header's count can disagree: edit lists, damage)."""
    path = Path(path)
    index = _frame_index(path)
    return len(index.pts) if index.seekable else _decoded_count(*_file_key(path))


def frame_stamps(path: str | Path) -> tuple[np.ndarray, np.ndarray] | None:
    """Every frame's pts and time_s, as iter_frames will number and time them, from the packet
    index (no decoding); None where the clip cannot be indexed safely."""
    index = _frame_index(Path(path))
    return (index.pts, index.time_s) if index.seekable else None


# --- internals ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Index:
    """Every frame of a clip and the keyframe it decodes from, learnt by demuxing without decoding."""
    seekable: bool  # False: read front to back (the arrays are then empty)
    pts: np.ndarray  # (F,) int64, ascending: frame i is the packet with the i-th smallest pts
    time_s: np.ndarray  # (F,) float64, iter_frames' time_s of each frame
    decode_at: np.ndarray  # (F,) int, each frame's packet's place in decode order
    start: np.ndarray  # (F,) int, the keyframe (into key_*) each frame is decoded from
    key_at: np.ndarray  # (K,) int, the keyframes' places in decode order
    key_pts: np.ndarray  # (K,) int64, the keyframes' pts
    key_dts: np.ndarray  # (K,) int64, the keyframes' dts (their pts where the container has none)
    position: dict[int, int]  # pts → frame index, for frames out of the decoder


_UNSEEKABLE = _Index(False, *(np.zeros(0, np.int64),) * 7, {})


def _file_key(path: Path) -> tuple[str, int, int]:
    stat = path.stat() if path.is_file() else None  # _open says what is wrong with anything else
    return str(path.resolve()), stat.st_mtime_ns if stat else 0, stat.st_size if stat else 0


def _frame_index(path: Path) -> _Index:
    return _cached_index(*_file_key(path))


@lru_cache(maxsize=64)  # keyed on path, mtime and size: a file written anew is indexed anew
def _cached_index(path: str, mtime_ns: int, size: int) -> _Index:
    container, stream = _open(Path(path))
    with container:
        rate = stream.average_rate or stream.guessed_rate
        step_s = float(1 / rate) if rate else 1 / 30  # as FrameReader
        packets = []
        try:
            for packet in container.demux(stream):
                if packet.is_corrupt:
                    return _UNSEEKABLE  # iter_frames stops here: only reading in order agrees with it
                if packet.size:  # the last packet is an empty flush marker
                    packets.append((packet.pts, packet.dts, packet.is_keyframe, packet.is_discard))
        except _AV_ERRORS:
            return _UNSEEKABLE
        return _index_of(packets, stream.time_base, step_s)


def _index_of(packets: list[tuple[int | None, int | None, bool, bool]], time_base: Fraction | None,
              step_s: float) -> _Index:
    """The index from packets in decode order: (pts, dts, keyframe, discard).

    Decoders give frames in pts order, and drop those of discarded packets (the leading
    frames an edit list cuts), so frame i is the kept packet with the i-th smallest pts.
    Frame i decodes from the last keyframe before it in decode order that is not shown
    after it (an open GOP's leading frames need the keyframe before). Unseekable where
    that cannot be known for sure: a packet without pts, pts repeated, no keyframe first.
    """
    if not packets or not time_base or any(pts is None for pts, *_ in packets):
        return _UNSEEKABLE
    pts = np.array([p for p, _, _, _ in packets], np.int64)
    dts = np.array([p if d is None else d for p, d, _, _ in packets], np.int64)
    key = np.array([k for _, _, k, _ in packets], bool)
    shown = np.flatnonzero([not gone for _, _, _, gone in packets])
    if len(np.unique(pts)) < len(pts) or not key[0] or not shown.size:
        return _UNSEEKABLE
    decode_at = shown[np.argsort(pts[shown])]  # decode position of frame i
    frame_pts = pts[decode_at]
    key_at = np.flatnonzero(key)
    if np.any(np.diff(pts[key_at]) <= 0):
        return _UNSEEKABLE
    start = np.minimum(np.searchsorted(key_at, decode_at, "right"),
                       np.searchsorted(pts[key_at], frame_pts, "right")) - 1
    if np.any(start < 0):
        return _UNSEEKABLE  # a frame shown before the first keyframe: its references are unknown
    times, previous = [], None
    for stamp in frame_pts.tolist():  # the recurrence FrameReader runs, on the same stamps
        previous = frame_time_s(stamp, int(frame_pts[0]), time_base, previous, step_s)
        times.append(previous)
    return _Index(True, frame_pts, np.array(times), decode_at, start, key_at, pts[key_at], dts[key_at],
                  {stamp: i for i, stamp in enumerate(frame_pts.tolist())})


def _stretches(index: _Index, wanted: np.ndarray) -> list[np.ndarray]:
    """Wanted frames (ascending) split into runs decoded without seeking: a frame whose keyframe
    comes before the previous wanted frame's packet (same GOP) is reached by decoding on."""
    seek = index.key_at[index.start[wanted[1:]]] > index.decode_at[wanted[:-1]]
    return np.split(wanted, np.flatnonzero(seek) + 1)


# Threads decoding a clip's stretches at once: each has its own decoder, so the frames and the
# handling of damage are those of one decoder reading them all (speed log §25).
SEEKING_THREADS = 2


def _read_seeking(path: Path, index: _Index, wanted: np.ndarray, long_side: int | None, threads: int
                  ) -> Iterator[Frame]:
    """Wanted frames as they are decoded, in stretches from a keyframe each. The stretches are
    shared out in turn between `threads` decoders, a run of them each; a decoder stops at the
    first stretch whose frames do not come out as the index says (the frames it gave stand: each
    was checked as it came; the caller reads the rest front to back)."""
    runs = _share_out(index, _stretches(index, wanted), threads)
    if len(runs) == 1:
        yield from _read_stretches(path, index, runs[0], long_side)
        return
    out: queue.Queue = queue.Queue()
    stop = threading.Event()

    def decode(run: list[np.ndarray]) -> None:
        try:
            for frame in _read_stretches(path, index, run, long_side):
                if stop.is_set():
                    return
                out.put(frame)
        except BaseException as error:  # raised in the caller's thread, where its frames were due
            out.put(error)
        finally:
            out.put(None)

    workers = [threading.Thread(target=decode, args=(run,), name="seek", daemon=True) for run in runs]
    for worker in workers:
        worker.start()
    try:
        running = len(workers)
        while running:
            item = out.get()
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        for worker in workers:
            worker.join()


def _share_out(index: _Index, stretches: list[np.ndarray], threads: int) -> list[list[np.ndarray]]:
    """Consecutive runs of stretches, about the same number of frames to decode in each."""
    if threads < 2 or len(stretches) < 2:
        return [stretches]
    work = np.array([index.decode_at[s].max() - index.key_at[index.start[s].min()] + 1 for s in stretches], float)
    ends = np.cumsum(work)
    cut = np.searchsorted(ends, ends[-1] * np.arange(1, threads) / threads)
    edges = [0, *np.unique(np.clip(cut + 1, 1, len(stretches) - 1)).tolist(), len(stretches)]
    return [stretches[a:b] for a, b in zip(edges, edges[1:])]


def _read_stretches(path: Path, index: _Index, stretches: list[np.ndarray], long_side: int | None
                    ) -> Iterator[Frame]:
    """The stretches' frames with one decoder, as they come, up to the first stretch that fails."""
    container, stream = _open(path)
    with container:
        for stretch_wanted in stretches:
            start = int(index.start[stretch_wanted].min())  # the keyframe every frame of it needs
            # Demuxers seek by pts (MP4 and Matroska here) or by dts: a backward seek to the keyframe's
            # pts lands on it, or, by dts, maybe on a later one (found wrong, so tried again at its
            # dts <= pts, which lands on it or an earlier one either way).
            for seek_to in dict.fromkeys((index.key_pts[start], index.key_dts[start])):
                whole = yield from _decode_stretch(container, stream, index, start, int(seek_to), stretch_wanted,
                                                   long_side)
                if whole:
                    break
            else:
                return


def _decode_stretch(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
                    index: _Index, start: int, seek_to: int, wanted: np.ndarray, long_side: int | None
                    ) -> Generator[Frame, None, bool]:
    """The wanted frames (ascending), each as it is decoded after seeking back from seek_to;
    returns whether all came. Stops at the first frame the decoder does not give as the index
    says from keyframe `start` on (index, index + 1, ...): a seek past the keyframe, a damaged
    packet, a decode error, frames the index does not know."""
    key_pts = int(index.key_pts[start])
    expected = int(np.searchsorted(index.pts, key_pts))  # the first frame shown from the keyframe on
    keep, last = set(wanted.tolist()), int(wanted[-1])
    try:
        container.seek(seek_to, stream=stream, backward=True)  # flushes the decoder too
        packets = container.demux(stream)
        first = next(packets, None)
        if first is None or not first.is_keyframe:
            return False  # a seek that did not land on a keyframe
        # Every frame up to the last wanted one is in the decoder once the latest of their packets
        # is: drain it then, rather than feed it the packets after just to push frames out.
        final = int(index.decode_at[expected:last + 1].max())
        for raw in _decoded_until(stream, chain([first], packets), index, final, keep):
            if raw.pts is not None and raw.pts < key_pts:
                continue  # an earlier keyframe's frames, decoded only to reach this one
            at = index.position.get(raw.pts)
            # In order, and none wanted left out (frames nobody wanted may be: not decoded at all).
            if at is None or at < expected or keep.intersection(range(expected, at)):
                return False
            if at in keep:  # the display matrix is on every frame, as on the first that iter_frames reads it from
                yield Frame(at, float(index.time_s[at]), _upright_bgr(raw, _rotation(raw), long_side))
            if at == last:
                return True
            expected = at + 1
    except _AV_ERRORS:
        return False
    finally:
        stream.codec_context.skip_frame = "DEFAULT"
    return False  # the clip ended first, or the decoder left out a frame


def _decoded_until(stream: av.video.stream.VideoStream, packets: Iterator[av.Packet], index: _Index,
                   final: int, keep: set[int]) -> Iterator[av.VideoFrame]:
    """Frames out of these packets up to the one at decode position `final`, then the frames the
    decoder still holds. A damaged packet ends them (the caller finds frames missing). A packet
    whose frame is not in `keep` is decoded only if other frames refer to it: the decoder drops
    the others (non-reference frames, about half of an x264 clip's: speed log §25); the caller
    sets the decoder back to decoding every frame."""
    context = stream.codec_context
    for packet in packets:
        if packet.is_corrupt:
            return
        at = index.position.get(packet.pts)
        context.skip_frame = "DEFAULT" if at is None or at in keep else "NONREF"
        yield from _decode(packet)
        if at is not None and index.decode_at[at] == final:
            yield from stream.decode(None)
            return


def _read_in_order(path: Path, wanted: np.ndarray, long_side: int | None) -> dict[int, Frame]:
    """Wanted frames by decoding from the first frame, as iter_frames does (the safe way)."""
    keep, frames = set(wanted.tolist()), {}
    with FrameReader(path, long_side) as reader:
        for frame in reader:
            if frame.index in keep:
                frames[frame.index] = frame
            if frame.index >= wanted[-1]:
                return frames
        raise _outside(path, int(wanted[-1]), reader._index)


@lru_cache(maxsize=64)
def _decoded_count(path: str, mtime_ns: int, size: int) -> int:
    container, stream = _open(Path(path))
    with container:
        problems: list[str] = []
        skipped: list[int] = []  # a refused packet's frame is stood in for (FrameReader)
        count = sum(1 for _ in _decoded(container, stream, problems, skipped)) + len(skipped)
    if not count:
        raise _no_frames(Path(path), problems)
    return count


def _outside(path: Path, index: int, count: int) -> VideoError:
    return VideoError(f"frame {index} is past the end of {path.name}, which has {count} frames: "
                      f"choose one from 0 to {count - 1}")
