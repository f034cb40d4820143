"""The annotated video's frames kept by the network pass (squat.io.spool): the frames read back
are the frames a reader shrinking the clip gives, pixel for pixel, and a spool that cannot keep
them all is given up rather than handing back part of a clip."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from awkward_clips import damage

from squat.io.spool import FrameSpool, spool_bytes
from squat.io.video import iter_frames
from squat.track.rate import RateGate

DATA = Path(__file__).parent / "data"
ROTATED = DATA / "phone_rotated.mp4"  # 960x540 stored, shown turned to 540x960, 60 fps


def spooled(clip: Path, folder: Path, long_side: int, hz: float = 30.0, limit: int = 2**30) -> FrameSpool:
    """A spool filled by reading the clip to its end, as the network pass reads it."""
    spool = FrameSpool(folder, long_side, lambda: RateGate(hz), limit)
    with iter_frames(clip) as reader:
        for frame in spool.spooling(reader):
            if frame.index % 3 == 0:
                frame.image  # the pass converts the frames the network reads; the spool keeps them all
    return spool


def shrunk_by_a_reader(clip: Path, long_side: int, hz: float = 30.0) -> list:
    due = RateGate(hz)
    with iter_frames(clip, long_side) as reader:
        return [(f.index, f.time_s, f.image) for f in reader if due(f.time_s)]


def test_frames_read_back_are_a_shrinking_readers_upright_frames(tmp_path):
    with spooled(ROTATED, tmp_path, 480) as spool:
        assert spool.complete
        back = [(f.index, f.time_s, f.image) for f in spool.frames()]
    expected = shrunk_by_a_reader(ROTATED, 480)
    assert len(back) == len(expected) == 50  # a 60 fps clip's every other frame
    for (i, t, image), (j, u, want) in zip(back, expected):
        assert (i, t) == (j, u)
        assert image.shape == (480, 270, 3)  # upright: the phone's portrait
        np.testing.assert_array_equal(image, want)


@pytest.mark.parametrize("clip", [ROTATED, DATA / "synth_side_short" / "clip.mp4"])
def test_a_kept_frame_converted_into_a_canvas_is_its_image(clip, tmp_path):
    # The annotated video converts each kept frame straight into the canvas below its chart band.
    with spooled(clip, tmp_path, 480) as spool:
        for frame in list(spool.frames())[:3]:
            canvas = np.zeros((40 + frame.image.shape[0], frame.image.shape[1], 3), np.uint8)
            fresh = next(f for f in spool.frames() if f.index == frame.index)  # not yet converted
            below = fresh.image_into(canvas[40:])
            assert np.shares_memory(below, canvas) and not canvas[:40].any()
            np.testing.assert_array_equal(below, frame.image)


def test_a_damaged_packets_stand_in_repeats_the_frame_before(tmp_path):
    clip = tmp_path / "damaged.mp4"
    shutil.copy(DATA / "synth_side_short" / "clip.mp4", clip)
    damage(clip, 3)
    with spooled(clip, tmp_path, 480) as spool:
        back = [(f.index, f.time_s, f.image) for f in spool.frames()]
    expected = shrunk_by_a_reader(clip, 480)
    assert [b[:2] for b in back] == [e[:2] for e in expected]
    assert all(np.array_equal(b[2], e[2]) for b, e in zip(back, expected))


def test_a_pass_that_stops_early_leaves_the_spool_incomplete(tmp_path):
    with FrameSpool(tmp_path, 480, lambda: RateGate(30), 2**30) as spool, iter_frames(ROTATED) as reader:
        for frame in spool.spooling(reader):
            if frame.index == 10:
                break
        assert not spool.complete
        with pytest.raises(RuntimeError, match="incomplete"):
            next(spool.frames())


@pytest.mark.parametrize("long_side, limit", [(480, 10 * 480 * 270 * 3 // 2), (960, 2**30)])
def test_a_spool_past_its_limit_or_with_nothing_to_shrink_is_given_up(tmp_path, long_side, limit):
    # 10 frames' worth of bytes for 50 frames; or the clip already as small as the video (read as it is)
    with spooled(ROTATED, tmp_path, long_side, limit=limit) as spool:
        assert spool.given_up and not spool.complete
        assert spool._file.seek(0, 2) == 0  # the disk space given back


def test_a_second_pass_leaves_what_the_first_kept(tmp_path):
    with spooled(ROTATED, tmp_path, 480) as spool:
        with iter_frames(ROTATED) as reader:
            assert sum(1 for _ in spool.spooling(reader)) == 100
        assert len(list(spool.frames())) == 50


def test_the_spools_file_has_no_name(tmp_path):
    with spooled(ROTATED, tmp_path, 480) as spool:
        assert spool.complete
        assert list(tmp_path.iterdir()) == []  # nothing left behind, whatever happens to the process


def test_spool_bytes_counts_the_frames_drawn_at_the_videos_size():
    frame = 1280 * 720 * 3 // 2
    assert spool_bytes(1920, 1080, 30.0, 30.0, 900, 1280, 30.0) == 900 * frame
    assert spool_bytes(1080, 1920, 60.0, 30.0, 1800, 1280, 30.0) == 901 * frame  # every other frame drawn
