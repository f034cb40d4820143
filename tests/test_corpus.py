"""Awkward-but-valid clips (issue 17): the corpus tests/awkward_clips.py makes at test time, each
analysed end to end by `python -m squat analyze` (its main(), in this process). Each must be read
at its true size, upright, with its true frame times, and measured: the knee angle of the frames
that show the lifter within a few degrees of the render's truth. None may end in an unexpected
failure; a clip the engine cannot measure must be refused in one line that says what to do."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from awkward_clips import CLIPS, SOURCE, Clip, frame_times, make_all, source_index
from conftest import analyse_in_process

from squat.io.video import iter_frames
from squat.reading import unwanted_frames
from squat.track.rate import RateGate

BY_NAME = {clip.name: clip for clip in CLIPS}
# The frames are the descent into the rep's bottom, the plate over the head: side-on in the clip's
# own 16:9 frame the lifter is found in every frame; in the portrait crop in 58-75 % of them.
FOUND_AT_LEAST = 0.5
KNEE_WITHIN_DEG = 10.0  # median over the frames that show the lifter (2-5° on most, 7° where damaged)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, monkeypatch_module) -> dict[str, tuple[int, str, Path]]:
    """Every clip made, then analysed once: exit code, stderr and the output folder, by name."""
    root = tmp_path_factory.mktemp("awkward")
    monkeypatch_module.setenv("SQUAT_DATA_DIR", str(root / "data"))
    clips = make_all(root / "clips")
    results = {}
    for name, path in clips.items():
        out = root / "runs" / name
        results[name] = (*analyse_in_process(path, out), out)
    return results


@pytest.fixture(scope="module")
def truth_knee() -> np.ndarray:
    return pd.read_csv(SOURCE / "truth.csv")["knee_angle_2d"].to_numpy()


def analysed(corpus, name: str) -> tuple[Clip, Path]:
    code, err, out = corpus[name]
    assert "Traceback" not in err
    assert code == 0, err
    return BY_NAME[name], out


def test_the_corpus_is_at_least_thirty_awkward_clips():
    assert len(CLIPS) >= 30 and len(BY_NAME) == len(CLIPS)


@pytest.mark.parametrize("name", list(BY_NAME))
def test_each_awkward_clip_is_read_at_its_size_upright_and_on_its_times(name, corpus):
    clip, out = analysed(corpus, name)
    video = json.loads((out / "summary.json").read_text())["video"]
    width, height = clip.size if clip.rotation in (0, 180) else clip.size[::-1]
    assert (video["width"], video["height"], video["rotation"]) == (width, height, clip.rotation)
    times = frame_times(clip)
    frames = pd.read_csv(out / "frames.csv")
    assert len(frames) == video["frame_count"] == len(times)
    np.testing.assert_allclose(frames["time_s"], times, atol=0.002)
    assert (out / "annotated.mp4").stat().st_size > 0


@pytest.mark.parametrize("name", list(BY_NAME))
def test_each_awkward_clip_measures_the_knee_like_the_render(name, corpus, truth_knee):
    clip, out = analysed(corpus, name)
    knee = pd.read_csv(out / "frames.csv")["knee_angle"].to_numpy()
    shown = source_index(clip, frame_times(clip))
    lifter = shown >= 0
    ours, truth = knee[lifter], truth_knee[shown[lifter]]
    assert np.isfinite(ours).mean() >= FOUND_AT_LEAST, f"the lifter found in {np.isfinite(ours).mean():.0%} of frames"
    assert np.nanmedian(np.abs(ours - truth)) <= KNEE_WITHIN_DEG
    assert np.isnan(knee[~lifter]).all()  # nobody in the black frames


def test_damaged_packets_in_the_middle_are_skipped_and_counted(corpus):
    _, out = analysed(corpus, "damaged_packets")
    warnings = json.loads((out / "summary.json").read_text())["warnings"]
    assert any("damaged packets skipped" in w and "repeat the one before" in w for w in warnings), warnings


def test_a_one_frame_clip_is_measured_as_a_still(corpus):
    _, out = analysed(corpus, "one_frame")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rep_count"] == 0 and summary["video"]["frame_count"] == 1
    assert any(w.startswith("one frame: measured as a still") for w in summary["warnings"])


def test_a_damaged_clip_read_without_the_frames_nobody_wants_gives_each_wanted_frame_its_picture(tmp_path):
    """As a second network's pass reads it (no annotated video keeping every frame): a refused
    packet whose frame nobody wants must not leave a wanted frame after it unread."""
    path = make_all(tmp_path, (BY_NAME["damaged_packets"],))["damaged_packets"]
    unwanted = unwanted_frames(path, [RateGate(15.0)])
    assert unwanted
    due, read = RateGate(15.0), 0
    with iter_frames(path, unwanted=unwanted) as reader:
        for frame in reader:
            if due(frame.time_s):
                assert frame.image.shape[2] == 3, frame.index
                read += 1
        warnings = reader.warnings
    assert read >= 10 and any("damaged packet" in w for w in warnings), warnings
