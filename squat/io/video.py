"""Video in and out with PyAV: upright BGR frames with their true times, and H.264 output.

Reading refuses a bad file on open, with one VideoError line a user can act on.
Frames come out upright (the display matrix phones write for portrait clips is
applied) and carry time_s from the container's timestamps: phones record variable
frame rate, so index / fps drifts from the real time of a frame.

iter_frames decodes a clip front to back; squat.io.seek fetches a few frames by index.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np

from squat.errors import VideoError
from squat.timing import stage

EXPORT_HINT = "export it from your phone as MP4/MOV and try again"

# 90 kHz, the MPEG clock: exact for 24/25/30/50/60 fps, and 11 µs steps for anything else.
WRITE_TIME_BASE = Fraction(1, 90_000)

# Demuxers that hold one still picture: jpeg_pipe, png_pipe, webp_pipe, ... and image2.
_STILL_FORMAT_SUFFIX = "_pipe"
_STILL_FORMATS = {"image2"}
_STILL_NAMES = {"mjpeg": "JPEG", "png": "PNG", "webp": "WebP", "bmp": "BMP", "tiff": "TIFF"}

# Errors PyAV raises for unreadable input (FFmpegError subclasses ValueError or OSError).
_AV_ERRORS = (av.FFmpegError, OSError, ValueError, UnicodeDecodeError)

# Frames given to a decoder in this process (their packets, every reader together): tests and
# benchmarks count by it how much of a clip is decoded (issue 13).
frames_decoded = 0


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    codec: str  # decoder name: h264, hevc, vp9, mjpeg, ...
    container: str  # FFmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"
    width: int  # pixels of the upright frame
    height: int
    rotation: int  # degrees turned clockwise to make the stored pixels upright: 0, 90, 180 or 270
    fps: float  # average rate, for display only: frame times come from timestamps
    frame_count: int  # from the container's header, else counted by demuxing (no decoding)
    duration_s: float
    has_audio: bool


@dataclass(frozen=True, eq=False)
class Frame:
    index: int  # 0-based position in decode (= presentation) order
    time_s: float  # seconds since the first frame, from pts × time_base; strictly increasing
    picture: np.ndarray | _Picture | YUVPicture | Unread  # the image, or what it is converted from when asked for

    @property
    def image(self) -> np.ndarray:
        """(height, width, 3) BGR uint8, upright. A frame read by iter_frames is converted from the
        decoder's YUV the first time this is asked for: frames nobody looks at cost no conversion
        (the network reads 15 of a 60 fps clip's frames a second, speed log §25)."""
        picture = self.picture
        return picture if isinstance(picture, np.ndarray) else picture.image()

    def image_into(self, out: np.ndarray) -> np.ndarray:
        """The image written into `out` (an array of its shape, e.g. part of a larger canvas) and
        returned: a frame kept in YUV is converted straight into it, with no image of its own."""
        picture = self.picture
        if isinstance(picture, YUVPicture):
            return picture.image_into(out)
        np.copyto(out, self.image)
        return out


class _Picture:
    """A decoded frame's upright BGR image, converted once, the first time it is asked for."""

    __slots__ = ("_raw", "_rotation", "_long_side", "_image")

    def __init__(self, raw: av.VideoFrame, rotation: int, long_side: int | None) -> None:
        self._raw, self._rotation, self._long_side = raw, rotation, long_side
        self._image: np.ndarray | None = None

    def image(self) -> np.ndarray:
        if self._image is None:
            with stage("decode"):
                self._image = _upright_bgr(self._raw, self._rotation, self._long_side)
            self._raw = None  # the decoder's buffer is given back
        return self._image

    def shrunk(self, long_side: int) -> YUVPicture | None:
        """The frame shrunk to long_side in YUV exactly as a reader with that long_side shrinks it
        before converting; None where such a reader converts otherwise (nothing to shrink, another
        pixel format) or the decoded frame is already given back."""
        raw = self._raw
        if raw is None:
            return None
        width, height = scaled_size(raw.width, raw.height, long_side)
        return YUVPicture(_shrunk_yuv(raw, width, height), self._rotation) if _shrinks_in_yuv(raw, width, height) \
            else None


class Unread:
    """The picture of a frame nobody wanted, which the decoder skipped (FrameReader's unwanted)."""

    __slots__ = ()

    def image(self) -> np.ndarray:
        raise RuntimeError("this frame was not decoded: it was given as unwanted (FrameReader)")

    def shrunk(self, long_side: int) -> None:
        return None


UNREAD = Unread()


class YUVPicture:
    """A frame kept as I420 planes in its stored orientation (squat.io.spool), converted to upright
    BGR once, the first time it is asked for, as a reader shrinking it converts."""

    __slots__ = ("yuv", "rotation", "_image")

    def __init__(self, yuv: np.ndarray, rotation: int) -> None:
        self.yuv, self.rotation = yuv, rotation
        self._image: np.ndarray | None = None

    def image(self) -> np.ndarray:
        if self._image is None:
            self._image = self._converted()
        return self._image

    def image_into(self, out: np.ndarray) -> np.ndarray:
        """image() written into `out`, without keeping it (the annotated video draws each frame once)."""
        if self._image is None and not self.rotation:
            with stage("decode"):
                cv2.cvtColor(self.yuv, cv2.COLOR_YUV2BGR_I420, dst=out)
        else:
            np.copyto(out, self._image if self._image is not None else self._converted())
        return out

    def _converted(self) -> np.ndarray:
        with stage("decode"):
            return _upright(cv2.cvtColor(self.yuv, cv2.COLOR_YUV2BGR_I420), self.rotation)


def probe(path: str | Path) -> VideoInfo:
    """What the clip is, after checking that it is a video with at least one decodable frame."""
    path = Path(path)
    container, stream = _open(path)
    with container:
        problems: list[str] = []
        first = next(_decoded(container, stream, problems, []), None)
        if first is None:
            raise _no_frames(path, problems)
        rotation = _rotation(first)
        stored_w, stored_h = first.width, first.height
        has_audio = bool(container.streams.audio)
        count = stream.frames or _count_packets(path, stream.index)
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        if stream.duration and stream.time_base:
            duration_s = float(stream.duration * stream.time_base)
        elif container.duration:
            duration_s = container.duration / av.time_base
        else:
            duration_s = count / fps if fps else 0.0
        if not fps and duration_s:
            fps = count / duration_s
        width, height = (stored_h, stored_w) if rotation in (90, 270) else (stored_w, stored_h)
        return VideoInfo(
            path=path, codec=stream.codec_context.name, container=container.format.name,
            width=width, height=height, rotation=rotation, fps=fps, frame_count=count,
            duration_s=duration_s, has_audio=has_audio,
        )


class FrameReader(Iterator[Frame]):
    """Upright frames of one clip, one at a time: memory does not grow with clip length.

    The file is opened and checked when the reader is made (VideoError if it is not a
    readable video). A decode error after some frames does not raise: iteration stops
    with the frames read so far and a line is appended to `warnings` for the user.
    Use as a context manager, or call close(), to release the file early.

    unwanted: pts of frames nobody will look at (squat.reading: those neither the network nor the
    annotated video reads). The decoder skips those no other frame refers to, and each comes out
    with its number and time but no image (`Unread`): half of a 60 fps phone clip's frames.
    """

    def __init__(self, path: str | Path, long_side: int | None = None, unwanted: Iterable[int] = ()) -> None:
        if long_side is not None and long_side < 1:
            raise ValueError(f"long_side must be a positive number of pixels, got {long_side}")
        self.path = Path(path)
        self.long_side = long_side
        self.warnings: list[str] = []
        self._problems: list[str] = []
        # Packets the decoder refused (pts), and the times of the frames that stand in for them.
        self._skipped: list[int] = []
        self._stand_ins: list[float] = []
        self._last: _Picture | None = None  # the image of the last frame decoded
        self._next_picture: tuple[av.VideoFrame, _Picture] | None = None
        unwanted = frozenset(unwanted)
        self._unread, self._unread_at = sorted(unwanted), 0  # those from _unread_at on not yet given
        self._container, self._stream = _open(self.path)
        try:
            self._frames = _decoded(self._container, self._stream, self._problems, self._skipped, unwanted)
            first = next(self._frames, None)
            if first is None:
                raise _no_frames(self.path, self._problems)
        except BaseException:
            self._container.close()
            raise
        self.rotation = _rotation(first)
        self._pending: av.VideoFrame | None = first
        self._index = 0
        self._origin = _stamp(first)
        self._previous_s: float | None = None
        rate = self._stream.average_rate or self._stream.guessed_rate
        self._step_s = float(1 / rate) if rate else 1 / 30
        self._time_base = self._stream.time_base  # frames flushed from the decoder carry none

    def __next__(self) -> Frame:
        with stage("decode"):
            if self._pending is None:
                self._pending = next(self._frames, None)
            raw = self._pending
            stand_in = self._stand_in_before(raw)
            unread = self._unread_before(raw, stand_in)
            if stand_in is None and unread is None and raw is None:
                self._finish()
                raise StopIteration
            stamp = unread if unread is not None else stand_in if stand_in is not None else _stamp(raw)
            time_s = frame_time_s(stamp, self._origin, self._time_base, self._previous_s, self._step_s)
            if unread is not None:  # a frame nobody looks at, which the decoder skipped
                picture = UNREAD
                self._unread_at += 1
            elif stand_in is not None:  # a refused packet's frame: the one before, repeated
                picture = self._last if self._last is not None else self._picture(raw)
                self._stand_ins.append(time_s)
                self._given_unwanted(stamp)  # not wanted either: given, so no longer due
            else:
                picture, self._pending = self._picture(raw), None
                self._given_unwanted(stamp)  # not wanted, but decoded: other frames refer to it
            frame = Frame(self._index, time_s, picture)
        self._index += 1
        self._previous_s = time_s
        if picture is not UNREAD:
            self._last = picture
        return frame

    def _given_unwanted(self, stamp: int | None) -> None:
        """An unwanted frame given with a picture after all (decoded, or a refused packet's stand-in):
        the next unwanted one is due next. Left due, it would be given again, as the next frame's."""
        if self._unread_at < len(self._unread) and self._unread[self._unread_at] == stamp:
            self._unread_at += 1

    def _picture(self, raw: av.VideoFrame) -> _Picture:
        """raw's image, converted when asked for (the same one for a frame and a stand-in before it)."""
        if self._next_picture is None or self._next_picture[0] is not raw:
            self._next_picture = (raw, _Picture(raw, self.rotation, self.long_side))
        return self._next_picture[1]

    def _stand_in_before(self, raw: av.VideoFrame | None) -> int | None:
        """The pts of a refused packet whose frame is due before `raw` (None: the clip's end), if any:
        so frames keep the numbers and times the packet index gives them (squat.io.seek's read_frames agrees)."""
        if len(self._stand_ins) == len(self._skipped):
            return None
        due = sorted(self._skipped)[len(self._stand_ins)]
        stamp = _stamp(raw) if raw is not None else None
        return due if stamp is None or due < stamp else None

    def _unread_before(self, raw: av.VideoFrame | None, stand_in: int | None) -> int | None:
        """The pts of an unwanted frame due before `raw` and the refused packet `stand_in` (where
        either), which the decoder skipped; at the clip's end, those left, unless damage ended it."""
        if self._unread_at == len(self._unread):
            return None
        due = self._unread[self._unread_at]
        if raw is None and stand_in is None:
            return None if self._problems else due
        stamp = _stamp(raw) if raw is not None else None
        if raw is not None and stamp is None:
            return None  # a frame without a time: no order to place the skipped ones by
        return due if all(due < s for s in (stand_in, stamp) if s is not None) else None

    def _finish(self) -> None:
        if self._stand_ins:
            n = len(self._stand_ins)
            self.warnings.append(
                f"{self.path.name}: {n} damaged packet{'s' * (n > 1)} skipped (first at {self._stand_ins[0]:.2f} s): "
                f"{'its frame repeats' if n == 1 else 'their frames repeat'} the one before"
            )
            self._stand_ins.clear()
            self._skipped.clear()
        if self._problems and self._index:
            self.warnings.append(
                f"{self.path.name}: decoding stopped after {self._index} frames "
                f"({self._previous_s:.2f} s) because the rest of the file is damaged "
                f"({self._problems[0]}); the frames before it are kept"
            )
            self._problems.clear()
        self.close()

    def close(self) -> None:
        self._pending = None
        self._frames.close()
        self._container.close()

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def iter_frames(path: str | Path, long_side: int | None = None, unwanted: Iterable[int] = ()) -> FrameReader:
    """Upright BGR frames of a clip with their true times; see FrameReader for warnings and unwanted.

    long_side: shrink frames whose longer side exceeds this many pixels (aspect kept,
    never enlarged); None keeps full resolution.
    """
    return FrameReader(path, long_side, unwanted)


def frame_time_s(stamp: int | None, origin: int | None, time_base: Fraction | None,
                 previous_s: float | None, step_s: float) -> float:
    """Seconds since the first frame, from a timestamp in time_base units.

    The first frame is 0. A frame with no timestamp (neither pts nor dts), or one
    that does not move forward (broken muxers), gets previous + step_s, the average
    frame period: times stay strictly increasing, which filters and writers need.
    """
    if previous_s is None:
        return 0.0
    if stamp is not None and origin is not None and time_base:
        time_s = float((stamp - origin) * time_base)
        if time_s > previous_s:
            return time_s
    return previous_s + step_s


def scaled_size(width: int, height: int, long_side: int | None) -> tuple[int, int]:
    """(width, height) shrunk so the longer side is at most long_side, aspect kept."""
    if long_side is None or max(width, height) <= long_side:
        return width, height
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


# x264's veryfast with its cheapest motion search and a shorter look-ahead, one step lower on the
# quality scale: the annotated video's encoding 15-20 % faster than veryfast at CRF 23, the picture
# within 0.4 dB PSNR and the file ~10 % larger (speed log §21). One encoding thread: the video is
# encoded in a thread beside the decoding and the drawing (squat.io.ahead), which keep the other
# core busy; x264's own threads only cost (the annotated video 6.5 % sooner, speed log §25).
FAST_MOTION_SEARCH = "me=dia:subme=1:rc-lookahead=5:threads=1"
ANNOTATED_CRF = 22


class VideoWriter:
    """H.264 (libx264, yuv420p) writer that keeps the caller's frame times.

    Each frame's pts is time_s on a 90 kHz clock, so a variable-frame-rate input is
    written with its own times (to 1/90000 s); fps_hint only guides the encoder's
    rate control. MP4/MOV output gets +faststart (index first) so browsers can play it
    while it downloads. yuv420p needs even sizes: an odd width or height gets one
    black column on the right or row at the bottom. Nothing is written until the first
    frame; close() (or leaving the `with` block) flushes the encoder and the file.
    """

    def __init__(self, path: str | Path, width: int, height: int, fps_hint: float,
                 crf: int = ANNOTATED_CRF, preset: str = "veryfast", long_side: int | None = None,
                 x264_params: str = FAST_MOTION_SEARCH) -> None:
        """long_side: frames whose longer side exceeds this are scaled down (aspect kept) as they
        are converted for the encoder, at no extra pass over the pixels."""
        if width < 1 or height < 1 or fps_hint <= 0:
            raise ValueError(f"need a positive size and fps_hint, got {width}x{height} @ {fps_hint}")
        self.path = Path(path)
        self.width, self.height = width, height
        scaled = scaled_size(width, height, long_side)
        # scaled to even sizes (nothing to pad), else written as given with odd sizes padded
        self._scaled = None if scaled == (width, height) else tuple(max(2, n - n % 2) for n in scaled)
        self._pad = (0, 0) if self._scaled else (height % 2, width % 2)
        mp4_like = self.path.suffix.lower() in {".mp4", ".mov", ".m4v"}
        self._container = av.open(
            str(self.path), "w", container_options={"movflags": "+faststart"} if mp4_like else {}
        )
        rate = Fraction(fps_hint).limit_denominator(1001)
        stream = self._container.add_stream(
            "libx264", rate=rate, options={"crf": str(crf), "preset": preset, "x264-params": x264_params}
        )
        stream.width, stream.height = self._scaled or (width + self._pad[1], height + self._pad[0])
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = WRITE_TIME_BASE
        stream.time_base = WRITE_TIME_BASE
        # Tag what we convert with (the BT.601 matrix, limited range, of sRGB pixels), so players
        # do not guess between BT.601 and BT.709.
        stream.codec_context.colorspace = 6  # AVCOL_SPC_SMPTE170M: the BT.601 matrix
        stream.codec_context.color_primaries = 1  # BT.709 (sRGB's)
        stream.codec_context.color_trc = 1
        stream.codec_context.color_range = 1  # MPEG (limited) range
        self._stream = stream
        self._last_pts: int | None = None
        self.frames_written = 0

    def write(self, image_bgr: np.ndarray, time_s: float) -> None:
        """Encode one BGR uint8 frame of the size given at construction, shown at time_s."""
        if image_bgr.shape != (self.height, self.width, 3) or image_bgr.dtype != np.uint8:
            raise ValueError(
                f"expected a ({self.height}, {self.width}, 3) uint8 BGR image, "
                f"got {image_bgr.shape} {image_bgr.dtype}"
            )
        pts = round(float(time_s) / WRITE_TIME_BASE)  # float(): numpy scalars do not mix with Fraction
        if self._last_pts is not None and pts <= self._last_pts:
            raise ValueError(
                f"frame times must increase by at least 1/90000 s: {time_s} s after "
                f"{float(self._last_pts * WRITE_TIME_BASE)} s"
            )
        with stage("encode"):
            if any(self._pad):
                image_bgr = np.pad(image_bgr, ((0, self._pad[0]), (0, self._pad[1]), (0, 0)))
            if self._scaled:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image_bgr), format="bgr24")
                frame = frame.reformat(*self._scaled, format="yuv420p", interpolation="AREA",
                                       dst_colorspace="ITU601", dst_color_range="MPEG")
            else:  # OpenCV's BT.601 conversion: 0.3 ms a 1280x980 frame, swscale's 2.2 (speed log §29)
                frame = av.VideoFrame.from_ndarray(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
            frame.pts = pts
            frame.time_base = WRITE_TIME_BASE
            self._container.mux(self._stream.encode(frame))
        self._last_pts = pts
        self.frames_written += 1

    def close(self) -> None:
        """Flush the encoder and finish the file; safe to call twice."""
        if self._container is None:
            return
        try:
            if self.frames_written:
                with stage("encode"):
                    self._container.mux(self._stream.encode(None))
        finally:
            self._container.close()
            self._container = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


# --- reading internals ---------------------------------------------------------------


def _open(path: Path) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    """Open a clip and pick its video stream, or raise VideoError saying why not."""
    if not path.exists():
        raise VideoError(f"{path} does not exist: check the path and try again")
    if not path.is_file():
        raise VideoError(f"{path} is a folder, not a video file: give the path of the clip itself")
    if path.stat().st_size == 0:
        raise VideoError(f"{path.name} is empty (0 bytes): copy or export the clip again")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except PermissionError:
        raise VideoError(f"{path.name} cannot be read (permission denied): check its permissions") from None
    except _AV_ERRORS:
        if _looks_like_mp4(path):
            raise VideoError(
                f"{path.name} is an incomplete MP4/MOV (its index, the moov atom, is missing, as when "
                "a recording or copy is cut short): copy the original clip from your phone again"
            ) from None
        raise VideoError(
            f"{path.name} is not a video PyAV can read (unknown or damaged format): {EXPORT_HINT}"
        ) from None
    try:
        return container, _video_stream(path, container)
    except BaseException:
        container.close()
        raise


def _video_stream(path: Path, container: av.container.InputContainer) -> av.video.stream.VideoStream:
    fmt = container.format.name
    streams = [s for s in container.streams.video
               if not s.disposition & av.stream.Disposition.attached_pic]  # cover art is not video
    if fmt in _STILL_FORMATS or fmt.endswith(_STILL_FORMAT_SUFFIX):
        codec = streams[0].codec_context.name if streams and streams[0].codec_context else ""
        kind = _STILL_NAMES.get(codec, codec.upper() or "image")
        raise VideoError(
            f"{path.name} is a still image ({kind}), not a video: record a clip of the squat and try again"
        )
    if not streams:
        kinds = sorted({s.type for s in container.streams}) or ["nothing readable"]
        raise VideoError(
            f"{path.name} has no video stream (it holds only {' and '.join(kinds)}): {EXPORT_HINT}"
        )
    stream = streams[0]
    if stream.codec_context is None:
        raise VideoError(
            f"{path.name} uses a video codec this PyAV build cannot decode: "
            "export it from your phone as H.264 MP4 and try again"
        )
    # Slice threads only: frame threading hides decode errors and delays them to later
    # packets, so a damaged file could not be stopped cleanly at the damage.
    stream.thread_type = "SLICE"
    return stream


# Packets in a row the decoder may refuse, each skipped, before the rest of the file counts as damaged.
MAX_DAMAGED_RUN = 30


def _decoded(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
             problems: list[str], skipped: list[int] | None = None, unwanted: frozenset[int] = frozenset()
             ) -> Iterator[av.VideoFrame]:
    """Decoded frames in presentation order. A packet the decoder refuses (flipped bytes in the
    middle of a clip) is skipped and its pts noted in `skipped`, where given, up to MAX_DAMAGED_RUN
    in a row; the demuxer's damage (a file cut short) or a longer run ends the frames, noted in
    problems. A packet whose pts is `unwanted` is decoded only if other frames refer to it (the
    decoder drops the others: half a phone's 60 fps frames)."""
    run = 0
    context = stream.codec_context
    try:
        for packet in container.demux(stream):
            if packet.is_corrupt:  # the demuxer's flag, e.g. a packet cut short by truncation
                problems.append("a packet is cut short or damaged")
                break
            if unwanted:
                context.skip_frame = "NONREF" if packet.pts in unwanted else "DEFAULT"
            try:
                frames = _decode(packet)
            except _AV_ERRORS:
                if skipped is None or packet.pts is None or not packet.size or run >= MAX_DAMAGED_RUN:
                    if skipped:
                        del skipped[len(skipped) - run:]  # that run is the start of the damaged rest
                    raise
                skipped.append(packet.pts)
                run += 1
                continue
            run = 0
            yield from frames
        else:
            return  # demux() ends with an empty packet, which has flushed the decoder
    except _AV_ERRORS as error:
        problems.append(getattr(error, "strerror", None) or str(error))
    context.skip_frame = "DEFAULT"
    try:
        yield from stream.decode(None)  # frames the decoder still holds for reordering
    except _AV_ERRORS:
        pass


def _decode(packet: av.Packet) -> list[av.VideoFrame]:
    """packet.decode(), counted in frames_decoded (the empty packet that flushes is not a frame)."""
    global frames_decoded
    frames_decoded += packet.size > 0
    return packet.decode()


def _no_frames(path: Path, problems: list[str]) -> VideoError:
    why = f" ({problems[0]})" if problems else ""
    return VideoError(
        f"{path.name} has a video stream but not one frame could be decoded{why}; the file is "
        "damaged or cut short: copy the original clip from your phone again"
    )


def _count_packets(path: Path, stream_index: int) -> int:
    """Frames of a stream whose container does not say (Matroska/WebM), by demuxing only."""
    with av.open(str(path), metadata_errors="ignore") as container:
        stream = container.streams[stream_index]
        count = 0
        try:
            for packet in container.demux(stream):
                count += packet.size > 0  # the last packet is an empty flush marker
        except _AV_ERRORS:
            pass  # a damaged tail: count what could be read, like decoding does
        return count


def _stamp(frame: av.VideoFrame) -> int | None:
    # pts, else the packet's dts (what FFmpeg's best-effort timestamp falls back to).
    return frame.pts if frame.pts is not None else frame.dts


def _rotation(frame: av.VideoFrame) -> int:
    """Clockwise degrees (0/90/180/270) that make the stored pixels upright.

    PyAV 18 reads the display matrix only from decoded frames (FFmpeg copies the
    stream's matrix onto each; stream.metadata has no `rotate` tag any more):
    frame.rotation is the matrix's counter-clockwise angle, -90 for a phone's portrait
    clip stored landscape. Mirroring in the matrix is ignored.
    """
    return int(round(-frame.rotation / 90)) * 90 % 360


def _upright_bgr(frame: av.VideoFrame, rotation: int, long_side: int | None) -> np.ndarray:
    width, height = scaled_size(frame.width, frame.height, long_side)
    if (width, height) == (frame.width, frame.height):
        image = frame.to_ndarray(format="bgr24")
    elif _shrinks_in_yuv(frame, width, height):
        # Shrunk in YUV, then OpenCV's BT.601 conversion (swscale's own for a limited-range frame):
        # 1.9 ms a 1080p frame to 1280x720, against 4.0 shrinking and converting at once (speed log §29).
        image = cv2.cvtColor(_shrunk_yuv(frame, width, height), cv2.COLOR_YUV2BGR_I420)
    else:
        image = frame.to_ndarray(format="bgr24", width=width, height=height, interpolation="AREA")
    return _upright(image, rotation)


def _shrinks_in_yuv(frame: av.VideoFrame, width: int, height: int) -> bool:
    """Whether a frame shrunk to width x height is shrunk in YUV before its conversion to BGR."""
    return ((width, height) != (frame.width, frame.height) and frame.format.name == "yuv420p"
            and frame.color_range != 2 and not (width % 2 or height % 2))


def _shrunk_yuv(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """(height * 3 / 2, width) uint8: the I420 planes of the frame shrunk by swscale's AREA filter."""
    return frame.reformat(width, height, interpolation="AREA").to_ndarray()


def _upright(image: np.ndarray, rotation: int) -> np.ndarray:
    if rotation:
        image = np.ascontiguousarray(np.rot90(image, k=-rotation // 90))  # rot90 turns counter-clockwise
    return image


def _looks_like_mp4(path: Path) -> bool:
    """An ISO-BMFF file starts with a box whose type is ftyp (or moov/mdat/free/wide)."""
    with path.open("rb") as file:
        head = file.read(8)
    return len(head) == 8 and head[4:8] in {b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"}
