"""`python -m squat bench` and the stage clock under it (squat.timing). Speed itself is never
asserted here: only that every pipeline runs on the same frames and every number is reported."""
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from squat.bench.article import find_joint_coords, find_peaks
from squat.timing import OTHER, in_context, stage, timed

REPO = Path(__file__).parents[1]
CLIP = REPO / "tests" / "data" / "synth_side_short" / "clip.mp4"
KEYS = ("default_fps", "baseline_fps", "cmu_fps", "cmu_speedup", "decode_agreement_px", "overhead_fraction",
        "peak_rss_mb", "frames", "width", "height")


def test_bench_runs_the_article_and_ours_on_the_same_frames_and_reports_every_number(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, "-m", "squat", "bench", str(CLIP), "--frames", "3",
                             "--baseline-frames", "2", "--json", str(out)], cwd=REPO, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=600)
    assert result.returncode == 0, result.stderr
    numbers = json.loads(out.read_text())
    assert all(numbers[k] is not None for k in KEYS)
    assert (numbers["frames"], numbers["width"], numbers["height"]) == (3, 960, 540)
    assert 0 < numbers["overhead_fraction"] < 1 and numbers["peak_rss_mb"] > 100
    assert numbers["cmu_speedup"] == pytest.approx(numbers["cmu_fps"] / numbers["baseline_fps"])
    ours, article = numbers["ms_per_frame"]["ours"], numbers["ms_per_frame"]["article"]
    beside = numbers["ms_per_frame_beside"]["ours"]  # decoding, preparing, finding people, encoding in threads
    assert {"decode", "scout", "network", "decoding", "measuring", "render", "encode"} <= set(ours)
    assert {"decode", "preprocess", "decoding", "encode"} <= set(beside) and all(v > 0 for v in beside.values())
    in_scout = numbers["ms_per_frame_in_scout"]["ours"]  # the scout's own network counts as network
    assert 0 < in_scout["network"] < ours["scout"]
    assert numbers["overhead_fraction"] == pytest.approx(
        1 - (ours["network"] + in_scout["network"]) * numbers["frames"] / 1000 / (numbers["frames"] / numbers["default_fps"]))
    assert set(article) == {"decode", "preprocess", "network", "resize", "decoding"}
    assert numbers["decode_agreement_px"] < 2  # the same joints from the same maps
    for line in ("frames/s", "× baseline", "outside the network forward", "peak memory"):
        assert line in result.stdout


def test_a_clip_that_is_not_a_video_is_refused_before_any_model_loads(tmp_path):
    bad = tmp_path / "set.mp4"
    bad.write_bytes(b"not a video")
    result = subprocess.run([sys.executable, "-m", "squat", "bench", str(bad)], cwd=REPO, capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert result.returncode == 2 and result.stderr.startswith("error: ") and "Traceback" not in result.stderr


def test_stages_count_their_own_time_and_a_whole_stage_keeps_what_runs_inside():
    within: dict[str, float] = {}
    with timed(within=within) as seconds:
        with stage("scout", whole=True):
            with stage("network"):  # inside the scout: scouting, and noted apart as its part
                time.sleep(0.02)
                with stage("decoding"):  # inside a part: the part's
                    time.sleep(0.01)
        with stage("render"):
            time.sleep(0.01)
            with stage("encode"):  # pauses render
                time.sleep(0.02)
    assert set(seconds) <= {"scout", "render", "encode", OTHER} and "network" not in seconds
    assert seconds["scout"] >= 0.03 and seconds["encode"] >= 0.02 and 0.01 <= seconds["render"] < 0.02
    assert set(within) == {"network"} and 0.03 <= within["network"] <= seconds["scout"]
    with stage("network"):  # outside timed(): nothing is counted, nothing fails
        pass


def test_the_articles_peaks_are_the_strongest_blurred_maximum_of_each_part():
    heat = np.zeros((60, 80, 18), np.float32)
    heat[20, 30, 0], heat[40, 60, 0] = 10.0, 30.0  # part 0: two peaks, the second the stronger
    heat[10, 5, 1] = 20.0  # (the blur spreads each over ~3 px: its top ~1/57 of the spike)
    joints = find_joint_coords(heat)
    np.testing.assert_allclose(joints[0], [60, 40])
    np.testing.assert_allclose(joints[1], [5, 10])
    assert np.isnan(joints[2:]).all()
    assert len(find_peaks(heat[..., 0])) == 2


def test_a_thread_started_in_context_counts_its_stages_beside_the_wall_time():
    def work(name: str) -> None:
        with stage(name):
            time.sleep(0.02)

    beside: dict[str, float] = {"plate": 0.0, "decoding": 0.0}
    with timed(beside) as seconds:
        counted = threading.Thread(target=in_context(work), args=("plate",))
        uncounted = threading.Thread(target=work, args=("decoding",))  # no copy of the context: not timed
        counted.start(), uncounted.start()
        with stage("network"):
            counted.join(), uncounted.join()
    assert beside["plate"] >= 0.02 and beside["decoding"] == 0
    assert "plate" not in seconds and seconds["network"] >= 0.02  # the caller's own stages add up to its wall time
