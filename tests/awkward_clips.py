"""Awkward-but-valid clips (issue 17), made at test time with PyAV from the rendered rep in
tests/data/synth_side_short (CC0): every size from 160x90 to 4K, odd sizes, portrait and landscape
under each rotation tag, one frame and one second, 24 to 240 fps and a variable rate, each codec a
phone or an editor writes (H.264, HEVC 8- and 10-bit, VP9, AV1, MPEG-4 Part 2, MJPEG), greyscale,
damaged packets in the middle, black frames first, audio in and out of step with the video.

Each clip keeps the rendered clip's timeline: its frame at time t shows the source frame at
START_S + t, so its knee angles can be checked against the render's truth whatever its rate.

    python tests/awkward_clips.py OUT   # write them all to OUT, to look at
"""
from __future__ import annotations

import struct
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SOURCE = Path(__file__).parent / "data" / "synth_side_short"
SOURCE_FPS = 30
START_S = 1.6  # the source's frame 48: the lifter on the way down into the rep's bottom
DURATION_S = 0.4


@dataclass(frozen=True)
class Clip:
    """One awkward clip: how to make it and what a correct analysis of it reads."""
    name: str
    size: tuple[int, int] = (960, 540)  # stored width, height (before any rotation tag)
    fps: float = 30
    duration_s: float = DURATION_S
    codec: str = "libx264"
    pix_fmt: str = "yuv420p"
    suffix: str = ".mp4"
    options: dict = field(default_factory=dict)
    codec_tag: str = ""  # the container's name for the codec, where a phone writes another (hvc1)
    rotation: int = 0  # the tag: degrees a player turns the stored pixels clockwise to show them upright
    portrait: bool = False  # a tall crop around the lifter, as a phone held upright films it
    variable_rate: bool = False
    grey: bool = False
    black_s: float = 0.0  # black frames before the lifter appears
    audio: str = ""  # "", "in step" or "late" (the video starts 0.4 s after the audio)
    damage: int = 0  # packets in the middle whose bytes are flipped

    @property
    def file(self) -> str:
        return self.name + self.suffix


X264_FAST = {"preset": "ultrafast"}
CLIPS = (
    Clip("h264_960x540"),
    Clip("tiny_160x90", size=(160, 90)),
    Clip("small_320x180", size=(320, 180)),
    Clip("small_426x240", size=(426, 240)),
    Clip("odd_641x361", size=(641, 361), pix_fmt="yuv444p"),
    Clip("odd_999x555_mjpeg", size=(999, 555), codec="mjpeg", pix_fmt="yuvj444p", suffix=".avi"),
    Clip("hd_1280x720", size=(1280, 720)),
    Clip("full_hd_1920x1080", size=(1920, 1080), options=X264_FAST, duration_s=0.4),
    Clip("uhd_4k_3840x2160", size=(3840, 2160), options=X264_FAST, duration_s=0.2),
    Clip("portrait_no_tag", size=(360, 640), portrait=True),
    Clip("portrait_tag_90", size=(640, 360), portrait=True, rotation=90),
    Clip("portrait_tag_180", size=(360, 640), portrait=True, rotation=180),
    Clip("portrait_tag_270", size=(640, 360), portrait=True, rotation=270),
    Clip("landscape_tag_90", size=(540, 960), rotation=90),
    Clip("landscape_tag_180", size=(960, 540), rotation=180),
    Clip("landscape_tag_270", size=(540, 960), rotation=270),
    Clip("one_frame", duration_s=1 / 30),
    Clip("one_second", duration_s=1.0),
    Clip("fps_24", fps=24),
    Clip("fps_25", fps=25),
    Clip("fps_50", fps=50),
    Clip("fps_60", fps=60),
    Clip("fps_120_slow_motion", fps=120, size=(640, 360)),
    Clip("fps_240_slow_motion", fps=240, size=(640, 360), duration_s=0.4),
    Clip("variable_rate", variable_rate=True),
    Clip("hevc_8bit", codec="libx265", options={"preset": "ultrafast", "x265-params": "log-level=none"}),
    Clip("hevc_10bit_iphone", codec="libx265", pix_fmt="yuv420p10le", suffix=".mov",
         options={"preset": "ultrafast", "x265-params": "log-level=none"}, codec_tag="hvc1"),
    Clip("vp9_webm", codec="libvpx-vp9", suffix=".webm", options={"deadline": "realtime", "cpu-used": "8"}),
    Clip("av1_mkv", codec="libsvtav1", suffix=".mkv", options={"preset": "12", "svtav1-params": "log-level=0"}),
    Clip("mpeg4_part2_avi", codec="mpeg4", suffix=".avi", options={"qscale": "3"}),
    Clip("mjpeg_avi", codec="mjpeg", pix_fmt="yuvj420p", suffix=".avi"),
    Clip("greyscale", grey=True),
    Clip("greyscale_gray_pixels", grey=True, pix_fmt="gray", options=X264_FAST),
    Clip("damaged_packets", damage=3, duration_s=0.7),
    Clip("black_frames_first", black_s=0.3, duration_s=0.7),
    Clip("audio_in_step", audio="in step"),
    Clip("audio_late_video", audio="late"),
)


def source_frames() -> np.ndarray:
    """The rendered clip's frames, RGB (141, 540, 960, 3)."""
    with av.open(str(SOURCE / "clip.mp4")) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def frame_times(clip: Clip) -> np.ndarray:
    """Seconds of each frame from the clip's start: steady, or (variable rate) a phone's uneven
    spacing, 1/40 to 1/20 s."""
    if not clip.variable_rate:
        return np.arange(max(1, round(clip.duration_s * clip.fps))) / clip.fps
    steps = np.random.default_rng(17).uniform(1 / 40, 1 / 20, 64)
    times = np.concatenate([[0.0], np.cumsum(steps)])
    return times[times < clip.duration_s]


def source_index(clip: Clip, times: np.ndarray) -> np.ndarray:
    """The source frame each of the clip's frames shows (-1: a black frame)."""
    index = np.round((START_S + times - clip.black_s) * SOURCE_FPS).astype(int)
    return np.where(times < clip.black_s, -1, index)


def picture(clip: Clip, frames: np.ndarray, index: int) -> np.ndarray:
    """The upright picture of one frame at the clip's upright size, then turned as stored."""
    upright_w, upright_h = clip.size if clip.rotation in (0, 180) else clip.size[::-1]
    image = frames[index] if index >= 0 else np.zeros_like(frames[0])
    if clip.portrait:  # a tall crop around the lifter (the middle of the side render)
        h, w = image.shape[:2]
        crop_w = round(h * upright_w / upright_h)
        left = (w - crop_w) // 2
        image = image[:, left:left + crop_w]
    image = resize(image, upright_w, upright_h)
    if clip.grey:
        image = np.repeat(image.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    return np.ascontiguousarray(np.rot90(image, k=clip.rotation // 90))  # stored turned back: the tag undoes it


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    return frame.reformat(width=width, height=height).to_ndarray(format="rgb24")


def write(clip: Clip, frames: np.ndarray, folder: Path) -> Path:
    """Write one clip into `folder`; returns its path."""
    path = folder / clip.file
    times = frame_times(clip)
    rate = Fraction(clip.fps).limit_denominator(1001)
    video_start = 0.4 if clip.audio == "late" else 0.0
    with av.open(str(path), "w") as out:
        stream = out.add_stream(clip.codec, rate=rate, options=clip.options)
        if clip.codec_tag:
            stream.codec_tag = clip.codec_tag
        stream.width, stream.height, stream.pix_fmt = clip.size[0], clip.size[1], clip.pix_fmt
        stream.time_base = Fraction(1, 1000) if clip.variable_rate else 1 / rate
        stream.codec_context.time_base = stream.time_base  # else the encoder puts the frames on a 1/rate grid
        sound = out.add_stream("aac", rate=44100) if clip.audio else None
        if sound is not None:
            _write_audio(out, sound, times[-1] + 1 / clip.fps + video_start)
        for t, index in zip(times, source_index(clip, times)):
            image = picture(clip, frames, int(index))
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = round((t + video_start) / stream.time_base)
            frame.time_base = stream.time_base
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    if clip.rotation:
        tag_rotation(path, clip.rotation)
    if clip.damage:
        damage(path, clip.damage)
    return path


def _write_audio(out: av.container.OutputContainer, stream, seconds: float) -> None:
    """A quiet 220 Hz tone over the whole clip (the bar's clang, say)."""
    samples = int(seconds * stream.rate)
    tone = (0.1 * np.sin(2 * np.pi * 220 * np.arange(samples) / stream.rate)).astype(np.float32)
    for start in range(0, samples, 1024):
        chunk = tone[None, start:start + 1024]
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="mono")
        frame.rate, frame.pts = stream.rate, start
        out.mux(stream.encode(frame))
    out.mux(stream.encode())


def tag_rotation(path: Path, degrees: int) -> None:
    """Write a phone's rotation tag: the display matrix of the video track's header (tkhd), which
    players (and PyAV) apply to show the stored pixels turned `degrees` clockwise."""
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    assert at > 0, f"{path.name}: no track header"
    version = data[at + 4]
    matrix_at = at + 4 + 4 + (32 if version == 1 else 20) + 8 + 8
    c, s = {90: (0, 1), 180: (-1, 0), 270: (0, -1)}[degrees]
    one = 1 << 16  # 16.16 fixed point; the last column is 2.30
    data[matrix_at:matrix_at + 36] = struct.pack(">9i", c * one, s * one, 0, -s * one, c * one, 0, 0, 0, 1 << 30)
    path.write_bytes(bytes(data))


def damage(path: Path, packets: int) -> None:
    """Flip the bytes of `packets` packets in the clip's middle third (a bad copy, a dropped
    transfer), keeping the container intact."""
    count = len(_packet_spans(path))
    middle = range(count // 3, 2 * count // 3)
    flip_packets(path, middle[:: max(1, len(middle) // packets)][:packets])


def flip_packets(path: Path, indices) -> None:
    """Flip bytes in the last three quarters of these video packets (in decode order), in place."""
    spans = _packet_spans(path)
    data = bytearray(path.read_bytes())
    for k in indices:
        pos, size = spans[k]
        for i in range(pos + size // 4, pos + size, 7):
            data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def _packet_spans(path: Path) -> list[tuple[int, int]]:
    """(byte offset, size) of each video packet in decode order."""
    with av.open(str(path)) as container:
        return [(p.pos, p.size) for p in container.demux(container.streams.video[0]) if p.size and p.pos is not None]


def make_all(folder: Path, clips: tuple[Clip, ...] = CLIPS) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    frames = source_frames()
    return {clip.name: write(clip, frames, folder) for clip in clips}


if __name__ == "__main__":
    for name, path in make_all(Path(sys.argv[1])).items():
        print(f"{name:28s} {path.stat().st_size / 1e3:8.1f} kB")
