"""Video in and out: upright frames, true frame times, clear refusals, flat memory, faithful output."""
from __future__ import annotations

import csv
import threading
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from awkward_clips import flip_packets

from squat.errors import VideoError
from squat.io import seek, video
from squat.io.seek import count_frames, frames_as_decoded, read_frame, read_frames
from squat.io.video import (
    UNREAD,
    VideoWriter,
    frame_time_s,
    iter_frames,
    probe,
    scaled_size,
)
from squat.reading import unwanted_frames
from squat.track.rate import RateGate

DATA = Path(__file__).parent / "data"


def read_all(path: Path, **kwargs) -> list:
    with iter_frames(path, **kwargs) as frames:
        return list(frames)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


# --- rotation ---------------------------------------------------------------------------


def test_rotated_phone_clip_is_read_upright_like_the_upright_clip():
    info = probe(DATA / "phone_rotated.mp4")
    assert (info.width, info.height, info.rotation, info.frame_count) == (540, 960, 90, 100)

    with iter_frames(DATA / "phone_rotated.mp4") as frames:
        rotated = next(frames).image
    with iter_frames(DATA / "pose2sim_cam01.mp4") as frames:
        upright = next(frames).image
    assert rotated.shape == upright.shape == (960, 540, 3)
    # Same pixels up to two separate x264 encodes; upside down they differ by ~60 levels.
    assert np.abs(rotated.astype(np.int16) - upright).mean() < 3.0
    assert np.abs(np.rot90(rotated, 2).astype(np.int16) - upright).mean() > 20


def test_long_side_shrinks_the_upright_frame_keeping_its_aspect():
    frames = read_all(DATA / "phone_rotated.mp4", long_side=480)
    assert frames[0].image.shape == (480, 270, 3)
    assert read_all(DATA / "codec_h264.mov", long_side=480)[0].image.shape == (90, 160, 3)  # never enlarged


def test_scaled_size_caps_the_long_side_only():
    assert scaled_size(1920, 1080, 656) == (656, 369)
    assert scaled_size(1080, 1920, 656) == (369, 656)
    assert scaled_size(640, 360, 656) == (640, 360)
    assert scaled_size(640, 360, None) == (640, 360)


# --- time ----------------------------------------------------------------------------------


def test_variable_frame_rate_times_come_from_the_container():
    with open(DATA / "vfr_times.csv") as f:
        truth = np.array([float(row["time_s"]) for row in csv.DictReader(f)])
    frames = read_all(DATA / "vfr.mp4")
    times = np.array([fr.time_s for fr in frames])
    assert [fr.index for fr in frames] == list(range(60))
    assert np.abs(times - (truth - truth[0])).max() < 1e-6
    # The clip really is VFR (1/60 s and 1/30 s steps), so index / fps would be wrong.
    assert set(np.round(np.diff(truth) * 60).astype(int)) == {1, 2}
    assert np.abs(times - np.arange(60) / 60).max() > 0.3  # the rate the stream advertises
    average_fps = probe(DATA / "vfr.mp4").fps
    assert np.abs(times - np.arange(60) / average_fps).max() > 0.9 / 60  # almost a whole frame off


def test_a_frame_without_timestamp_gets_the_previous_time_plus_one_period():
    tb = Fraction(1, 15360)
    assert frame_time_s(1000, 1000, tb, None, 1 / 60) == 0.0  # first frame is zero
    assert frame_time_s(1256, 1000, tb, 0.0, 1 / 60) == pytest.approx(256 / 15360)
    assert frame_time_s(None, 1000, tb, 0.5, 1 / 60) == pytest.approx(0.5 + 1 / 60)
    # A timestamp that does not move forward (broken muxer) cannot make time go back.
    assert frame_time_s(1000, 1000, tb, 0.5, 1 / 60) == pytest.approx(0.5 + 1 / 60)


# --- formats -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, codec, count, size",
    [
        ("codec_h264.mov", "h264", 10, (160, 90)),
        ("codec_hevc.mp4", "hevc", 10, (160, 90)),
        ("codec_vp9.mkv", "vp9", 10, (160, 90)),
        ("codec_mjpeg.avi", "mjpeg", 10, (160, 90)),
        ("pose2sim_cam01.mp4", "h264", 100, (540, 960)),
        ("pose2sim_cam02_vp9.webm", "vp9", 50, (540, 960)),
        ("sports2d_crouch.mp4", "h264", 80, (960, 540)),
    ],
)
def test_every_supported_codec_decodes_with_right_count_and_size(name, codec, count, size):
    info = probe(DATA / name)
    assert (info.codec, info.frame_count, (info.width, info.height)) == (codec, count, size)
    assert info.duration_s == pytest.approx(count / info.fps, abs=0.04)
    frames = read_all(DATA / name)
    assert len(frames) == count
    assert {fr.image.shape for fr in frames} == {(size[1], size[0], 3)}
    assert all(fr.image.dtype == np.uint8 for fr in frames)
    assert np.all(np.diff([fr.time_s for fr in frames]) > 0)


def test_iterating_twice_gives_identical_frames():
    first, second = read_all(DATA / "pose2sim_cam02_vp9.webm"), read_all(DATA / "pose2sim_cam02_vp9.webm")
    assert [f.time_s for f in first] == [f.time_s for f in second]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(first, second))


# --- bad input -----------------------------------------------------------------------------


def png_named_mp4(tmp: Path) -> Path:
    import cv2

    path = tmp / "snapshot.mp4"
    path.write_bytes(cv2.imencode(".png", np.zeros((40, 60, 3), np.uint8))[1].tobytes())
    return path


def h264_with_zeroed_payload(tmp: Path) -> Path:
    data = bytearray((DATA / "codec_h264.mov").read_bytes())
    at = data.find(b"mdat")
    size = int.from_bytes(data[at - 4:at], "big")
    data[at + 4:at - 4 + size] = bytes(size - 8)  # every frame's bytes zeroed, index intact
    path = tmp / "zeroed.mov"
    path.write_bytes(bytes(data))
    return path


def half_a_webm(tmp: Path) -> Path:
    data = (DATA / "pose2sim_cam02_vp9.webm").read_bytes()
    path = tmp / "half.webm"
    path.write_bytes(data[: len(data) // 2])
    return path


BAD_INPUTS = {
    "missing": (lambda tmp: tmp / "nope.mp4", "does not exist"),
    "folder": (lambda tmp: tmp, "is a folder"),
    "empty": (lambda tmp: DATA / "empty.mp4", "is empty (0 bytes)"),
    "text": (lambda tmp: DATA / "not_a_video.mp4", "is not a video PyAV can read"),
    "random": (lambda tmp: DATA / "random_bytes.mp4", "is not a video PyAV can read"),
    "no_moov": (lambda tmp: DATA / "truncated.mp4", "moov atom, is missing"),
    "jpeg": (lambda tmp: DATA / "still_image.mp4", "is a still image (JPEG), not a video"),
    "png": (png_named_mp4, "is a still image (PNG), not a video"),
    "audio": (lambda tmp: DATA / "audio_only.mp4", "has no video stream (it holds only audio)"),
    "undecodable": (h264_with_zeroed_payload, "not one frame could be decoded"),
    "half_webm": (half_a_webm, "not one frame could be decoded"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
@pytest.mark.parametrize("opener", [probe, iter_frames], ids=["probe", "iter_frames"])
def test_bad_input_is_refused_with_one_helpful_line(case, opener, tmp_path):
    make, expected = BAD_INPUTS[case]
    path = make(tmp_path)
    with pytest.raises(VideoError) as caught:  # any other exception type fails the test
        opener(path)
    message = str(caught.value)
    assert expected in message
    assert path.name in message
    assert "\n" not in message and not message.lower().startswith("error")
    assert ": " in message.split(expected, 1)[1]  # a hint of what to do follows the cause
    error = caught.value  # no PyAV exception chained behind it
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_packets_damaged_in_the_middle_are_skipped_counted_and_stood_in_for(tmp_path):
    whole = DATA / "codec_h264.mov"  # 10 frames, B-frames shown out of decode order
    damaged = tmp_path / "damaged.mov"
    damaged.write_bytes(whole.read_bytes())
    flip_packets(damaged, (2, 8))  # a P-frame, and a B-frame the decoder reorders

    reader = iter_frames(damaged)
    frames, intact = list(reader), read_all(whole)
    assert [f.time_s for f in frames] == [f.time_s for f in intact]  # every frame, at its time
    assert reader.warnings == ["damaged.mov: 2 damaged packets skipped (first at 0.07 s): their frames repeat the "
                               "one before"]
    stood_in = [i for i in range(1, 10) if np.array_equal(frames[i].image, frames[i - 1].image)]
    assert len(stood_in) == 2 and count_frames(damaged) == 10
    by_index = read_frames(damaged, range(10))
    assert all(np.array_equal(by_index[i].image, frames[i].image) for i in range(10))


def test_damaged_tail_stops_cleanly_keeping_the_frames_before_it(tmp_path):
    whole = (DATA / "pose2sim_cam01.mp4").read_bytes()  # made with +faststart: index first
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) * 6 // 10])

    reader = iter_frames(cut)
    frames = list(reader)
    assert 30 <= len(frames) < 100
    assert len(reader.warnings) == 1
    assert "cut.mp4: decoding stopped after" in reader.warnings[0]
    # Every frame read is the intact one shown at that time (frames whose packets were lost
    # are missing, not replaced by damaged pictures).
    full = {round(f.time_s * 60): f for f in read_all(DATA / "pose2sim_cam01.mp4")}
    for frame in frames:
        assert np.array_equal(frame.image, full[round(frame.time_s * 60)].image)
    assert frames[-1].time_s > 0.6


# --- reading frames by index ----------------------------------------------------------------


def reencode(source: Path, path: Path, x264_params: str, fmt: str | None = None, rotation: int | None = None) -> Path:
    """A real clip encoded again with the GOP structure a test needs (frame i shown at i/60 s)."""
    with av.open(str(source)) as src, av.open(str(path), "w", format=fmt) as dst:
        stream = src.streams.video[0]
        out = dst.add_stream("libx264", rate=60, options={"x264-params": x264_params})
        out.width, out.height, out.pix_fmt = stream.width, stream.height, "yuv420p"
        if rotation is not None:
            out.set_display_rotation(rotation)
        for i, frame in enumerate(src.decode(stream)):
            frame.pts, frame.time_base = i, Fraction(1, 60)
            dst.mux(out.encode(frame))
        dst.mux(out.encode(None))
    return path


@pytest.fixture(scope="module")
def gop_clip(tmp_path_factory) -> Path:
    """pose2sim_cam01 with a keyframe every 8 frames, 3 B-frames, open GOPs and a portrait display
    matrix: seeking has keyframes to choose from, packets come in another order than frames, and
    frames shown before a keyframe need the GOP before it."""
    path = reencode(DATA / "pose2sim_cam01.mp4", tmp_path_factory.mktemp("gop") / "gop.mp4",
                    "keyint=8:min-keyint=8:open-gop=1:bframes=3:scenecut=0", rotation=90)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size]
    pts = np.array([p.pts for p in packets])
    keys = np.flatnonzero([p.is_keyframe for p in packets])
    assert len(keys) >= 10 and np.any(np.diff(pts) < 0)  # many keyframes; B-frames reordered
    assert any(pts[k + 1] < pts[k] for k in keys[1:])  # a leading frame after a keyframe: open GOP
    return path


def assert_same_frames(got: dict, full: list, indices) -> None:
    assert list(got) == sorted({int(i) for i in indices})
    for i, frame in got.items():
        assert frame.index == full[i].index == i
        assert frame.time_s == full[i].time_s  # the very float iter_frames gives
        assert np.array_equal(frame.image, full[i].image), i


@pytest.mark.parametrize("name", ["gop", "phone_rotated.mp4", "vfr.mp4", "pose2sim_cam02_vp9.webm",
                                  "codec_hevc.mp4", "codec_mjpeg.avi"])
def test_frames_read_by_index_are_those_iter_frames_gives(name, gop_clip):
    path = gop_clip if name == "gop" else DATA / name
    full = read_all(path)
    rng = np.random.default_rng(13)
    picks = [[len(full) - 1], [0], rng.choice(len(full), 3, replace=False), rng.choice(len(full), 9, replace=False),
             range(len(full))]
    for indices in picks:
        assert_same_frames(read_frames(path, indices), full, indices)
    assert count_frames(path) == len(full)
    assert read_frame(path, 7).image.shape == full[7].image.shape
    small = read_frames(path, [5], long_side=120)[5].image
    assert np.array_equal(small, read_all(path, long_side=120)[5].image)


def test_a_late_frame_is_decoded_from_its_keyframe_not_from_the_start(gop_clip):
    before = video.frames_decoded
    frame = read_frame(gop_clip, 90)
    decoded = video.frames_decoded - before
    assert frame.index == 90 and frame.image.shape == (540, 960, 3)  # upright: display matrix applied
    # From frame 88's keyframe on, plus the frames the decoder holds back to reorder B-frames;
    # reading in order would decode 91 or more.
    assert decoded <= 12
    # Frames after one keyframe are decoded in one stretch (80 to 85 with the open GOP's leading
    # frames 77-79 and reordering: 11), not each from the keyframe (~30).
    before = video.frames_decoded
    read_frames(gop_clip, [81, 82, 83, 84, 85])
    assert video.frames_decoded - before <= 12


def test_stretches_are_shared_out_in_consecutive_runs_of_about_equal_work(gop_clip):
    # Two decoders read a clip's stretches at once, a run of them each: every stretch once, in order.
    index = seek._frame_index(gop_clip)
    stretches = seek._stretches(index, np.arange(0, 100, 9))
    runs = seek._share_out(index, stretches, 2)
    assert len(stretches) > 4 and len(runs) == 2
    assert [int(i) for run in runs for s in run for i in s] == list(range(0, 100, 9))
    assert abs(len(runs[0]) - len(runs[1])) <= 2
    assert seek._share_out(index, stretches[:1], 2) == [stretches[:1]]
    assert len(seek._share_out(index, stretches, 1)) == 1


@pytest.mark.parametrize("name", ["gop", "pose2sim_cam01.mp4"])
def test_frames_nobody_wants_keep_their_numbers_and_times_and_the_others_their_pixels(name, gop_clip):
    # A 60 fps clip read for a network at 15 Hz and a video at 30 a second: every other frame is
    # unwanted, and the decoder skips those no frame refers to (speed log §31).
    path = gop_clip if name == "gop" else DATA / name
    gates = [RateGate(15), RateGate(30)]
    unwanted = unwanted_frames(path, gates)
    full = read_all(path)
    assert len(unwanted) == len(full) // 2
    with iter_frames(path, unwanted=unwanted) as reader:
        got = list(reader)
    assert [(f.index, f.time_s) for f in got] == [(f.index, f.time_s) for f in full]
    fresh = (RateGate(15), RateGate(30))
    wanted = [any([g(f.time_s) for g in fresh]) for f in full]  # every gate sees every time
    skipped = [f.index for f in got if f.picture is UNREAD]
    assert skipped and not any(wanted[i] for i in skipped)  # only frames nobody wants go undecoded
    for frame, want in zip(got, wanted):
        if want:
            np.testing.assert_array_equal(frame.image, full[frame.index].image)
    with pytest.raises(RuntimeError, match="not decoded"):
        got[skipped[0]].image


def test_frames_handed_over_as_decoded_are_each_given_once_and_leaving_early_stops_the_decoders(gop_clip):
    # The scout runs the network on each frame as it comes while the others decode (speed log §31).
    full = read_all(gop_clip)
    wanted = list(range(0, 100, 9))
    got = list(frames_as_decoded(gop_clip, wanted))
    assert sorted(f.index for f in got) == wanted  # each once, in whatever order the two decoders give them
    assert_same_frames({f.index: f for f in sorted(got, key=lambda f: f.index)}, full, wanted)
    threads = threading.active_count()
    frames = frames_as_decoded(gop_clip, wanted)
    next(frames)
    frames.close()  # a caller leaving the loop: both decoders stop before close returns
    assert threading.active_count() == threads


def test_indices_outside_the_clip_are_refused_and_none_read_nothing(gop_clip):
    before = video.frames_decoded
    assert read_frames(gop_clip, []) == {}
    assert video.frames_decoded == before
    with pytest.raises(VideoError, match=r"frame 100 is past the end of gop.mp4, which has 100 frames: choose"):
        read_frames(gop_clip, [3, 100])
    with pytest.raises(VideoError, match="frame -1 is not in gop.mp4"):
        read_frame(gop_clip, -1)
    with pytest.raises(VideoError, match="does not exist"):
        read_frame(DATA / "nope.mp4", 0)


def test_a_clip_without_timestamps_is_read_in_order(tmp_path):
    # A raw H.264 stream has no container timestamps to seek by.
    path = reencode(DATA / "pose2sim_cam01.mp4", tmp_path / "raw.h264", "keyint=8:bframes=3", fmt="h264")
    full = read_all(path)
    assert_same_frames(read_frames(path, [2, 50, 99]), full, [2, 50, 99])
    assert count_frames(path) == len(full) == 100


def test_a_damaged_tail_is_read_in_order_and_frames_past_the_damage_refused(tmp_path):
    whole = (DATA / "pose2sim_cam01.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) * 6 // 10])
    full = read_all(cut)
    assert count_frames(cut) == len(full) < 100
    assert_same_frames(read_frames(cut, [0, len(full) - 1]), full, [0, len(full) - 1])
    with pytest.raises(VideoError, match=f"frame 99 is past the end of cut.mp4, which has {len(full)} frames"):
        read_frame(cut, 99)


# --- memory --------------------------------------------------------------------------------


def test_memory_stays_flat_over_a_long_clip(tmp_path):
    path = tmp_path / "long.mp4"
    ramp = np.linspace(0, 255, 640, dtype=np.uint8)
    background = np.dstack([np.tile(ramp, (360, 1))] * 3)
    with VideoWriter(path, 640, 360, 30, preset="ultrafast") as writer:
        for i in range(600):
            image = background.copy()
            image[:, (i * 3) % 600:(i * 3) % 600 + 40] = (0, 0, 255)  # a moving bar, so frames differ
            writer.write(image, i / 30)

    # RSS, not tracemalloc: frame pixels live in FFmpeg buffers that tracemalloc never sees.
    with iter_frames(path) as frames:
        for frame in frames:
            if frame.index == 60:
                rss_at_60 = rss_bytes()
    growth = rss_bytes() - rss_at_60
    assert frame.index == 599
    # Keeping the last 540 frames would take 540 × 0.69 MB ≈ 370 MB.
    assert growth < 20 * 640 * 360 * 3


# --- writing -------------------------------------------------------------------------------


def test_written_clip_keeps_frame_times_count_and_pads_odd_size(tmp_path):
    rng = np.random.default_rng(7)
    times = np.concatenate([[0.0], np.cumsum(rng.choice([1 / 30, 1 / 60, 0.1], 39))])
    images = []
    for i in range(40):
        image = np.full((91, 161, 3), 40, np.uint8)
        image[20:60, 10 + i:60 + i] = (30, 180, 240)  # an orange block moving right
        images.append(image)
    path = tmp_path / "out.mp4"
    with VideoWriter(path, 161, 91, fps_hint=30) as writer:
        for image, t in zip(images, times):
            writer.write(image, t)

    frames = read_all(path)
    assert len(frames) == 40
    assert np.abs(np.array([f.time_s for f in frames]) - times).max() <= 0.5 / 90000
    assert frames[0].image.shape == (92, 162, 3)  # padded to even
    assert frames[0].image[:, -1].max() < 25 and frames[0].image[-1].max() < 25  # padding is black
    for frame, image in zip(frames, images):
        assert np.abs(frame.image[:91, :161].astype(np.int16) - image).mean() < 4  # CRF 23 loss only

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
    data = path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # faststart: browsers can play while loading


def test_written_colours_come_back_with_the_matrix_the_file_names(tmp_path):
    # Saturated patches: a player converting with another matrix than the encoder's shifts them
    # by 20-40 levels (BT.601 against BT.709), so the tag must name the matrix really used.
    colours = [(0, 0, 255), (0, 255, 0), (255, 0, 0), (0, 200, 255), (128, 128, 128), (255, 255, 255)]
    image = np.zeros((64, 96 * len(colours), 3), np.uint8)
    for i, bgr in enumerate(colours):
        image[:, 96 * i: 96 * (i + 1)] = bgr
    with VideoWriter(tmp_path / "c.mp4", image.shape[1], 64, fps_hint=30) as writer:
        writer.write(image, 0.0)
    matrices = {1: "ITU709", 6: "ITU601", 5: "ITU601"}
    with av.open(str(tmp_path / "c.mp4")) as container:
        tagged = container.streams.video[0].codec_context.colorspace
        frame = next(container.decode(video=0))
        back = frame.to_ndarray(format="bgr24", src_colorspace=matrices[tagged], src_color_range="MPEG")
    for i, bgr in enumerate(colours):
        patch = back[16:48, 96 * i + 16: 96 * (i + 1) - 16].reshape(-1, 3).mean(axis=0)
        assert np.abs(patch - bgr).max() < 6, (bgr, patch)


def test_a_frame_read_shrunk_is_the_frame_shrunk():
    # The annotated video's frames are shrunk in YUV and converted by OpenCV: the same picture.
    with iter_frames(DATA / "pose2sim_cam01.mp4") as reader:
        full = next(reader).image  # 540x960
    with iter_frames(DATA / "pose2sim_cam01.mp4", long_side=480) as reader:
        small = next(reader).image
    assert small.shape == (full.shape[0] // 2, full.shape[1] // 2, 3)
    expected = cv2.resize(full, small.shape[1::-1], interpolation=cv2.INTER_AREA)
    assert np.abs(small.astype(np.int16) - expected).mean() < 2


def test_writer_scales_a_large_frame_down_to_long_side(tmp_path):
    image = np.full((1401, 1920, 3), 40, np.uint8)
    image[300:1100, 600:1400] = (30, 180, 240)  # an orange square, in the middle
    with VideoWriter(tmp_path / "big.mp4", 1920, 1401, fps_hint=30, long_side=1280) as writer:
        writer.write(image, 0.0)
        writer.write(image, 1 / 30)
    frames = read_all(tmp_path / "big.mp4")
    assert len(frames) == 2 and frames[0].image.shape == (934, 1280, 3)  # aspect kept, even sizes
    small = cv2.resize(image, (1280, 934), interpolation=cv2.INTER_AREA)
    assert np.abs(frames[0].image.astype(np.int16) - small).mean() < 3


def test_writer_refuses_wrong_size_and_time_going_back(tmp_path):
    with VideoWriter(tmp_path / "x.mp4", 64, 48, 30) as writer:
        with pytest.raises(ValueError):
            writer.write(np.zeros((64, 48, 3), np.uint8), 0.0)
        writer.write(np.zeros((48, 64, 3), np.uint8), 0.0)
        with pytest.raises(ValueError):
            writer.write(np.zeros((48, 64, 3), np.uint8), 0.0)
