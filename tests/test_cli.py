"""The CLI end to end on real clips, with the shipped weights: what a lifter gets from `python -m squat analyze`."""
import json
import os
import platform
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest

from squat.skeleton import JOINTS

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parents[1]


def run_cli(*args: str, cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "squat", *args], cwd=cwd, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin",
                               "SQUAT_DATA_DIR": os.environ["SQUAT_DATA_DIR"], **env}, timeout=600)


def container_frame_times(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        pts = np.array([f.pts for f in c.decode(stream)], float) * float(stream.time_base)
    return pts - pts[0]


# The clips the module analyses, with the options their tests need. Each gets its own data folder,
# so its kept network pass is the only one there (test_another_side_re_measures_... reads it back).
# The longest (sports2d_crouch) starts second, beside the others.
CLIPS = {"pose2sim_cam01.mp4": ("--heatmaps",), "sports2d_crouch.mp4": (), "pose2sim_cam02_vp9.webm": (),
         "phone_rotated.mp4": (), "vfr.mp4": ("--network-hz", "0")}


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """Analyse each clip once for the whole module (the network is the slow part). The analyses are
    separate CLI processes, started two at a time as soon as the first is asked for: one analysis
    alone leaves part of the two cores idle (decoding, the plate search and drawing run on one)."""
    pool = ThreadPoolExecutor(max_workers=2)

    def analyse(name: str, extra: tuple[str, ...]) -> tuple[Path, subprocess.CompletedProcess]:
        base = tmp_path_factory.mktemp("runs")
        out = base / Path(name).stem
        return out, run_cli("analyze", str(DATA / name), "--out", str(out), "--quiet", *extra,
                            SQUAT_DATA_DIR=str(base / "data"))

    started = {name: pool.submit(analyse, name, extra) for name, extra in CLIPS.items()}

    def get(name: str, *extra: str) -> Path:
        assert set(extra) <= set(CLIPS[name]), f"add {extra} to CLIPS[{name!r}]"
        out, result = started[name].result()
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        return out

    yield get
    pool.shutdown(wait=True, cancel_futures=True)


def test_upright_clip_gives_every_output(analysed):
    out = analysed("pose2sim_cam01.mp4", "--heatmaps")
    for name in ("frames.csv", "reps.csv", "summary.json", "annotated.mp4", "heatmaps.png", "heatmap_knee.png"):
        assert (out / name).stat().st_size > 0, name
    frames = pd.read_csv(out / "frames.csv")
    assert len(frames) == 100
    expected = ["frame", "time_s", "detected"] + [f"{j}_{k}" for j in JOINTS for k in ("x", "y", "conf")] + [
        "knee_angle", "hip_angle", "shin_angle", "trunk_lean", "hip_moment_arm", "knee_moment_arm", "rep"]
    assert list(frames.columns[: len(expected)]) == expected
    summary = json.loads((out / "summary.json").read_text())
    assert summary["video"]["frame_count"] == 100
    assert (summary["video"]["width"], summary["video"]["height"]) == (540, 960)
    assert len(summary["model"]["weights_sha256"]) == 64


def test_annotated_video_is_h264_with_the_clips_frames_and_times_at_most_30_a_second(analysed):
    out = analysed("pose2sim_cam01.mp4", "--heatmaps")
    with av.open(str(out / "annotated.mp4")) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.width == 540
        assert 960 + 0.15 * 960 <= stream.height <= 960 + 0.4 * 960  # the frame, with the chart band above
    # a 60 fps clip: every other frame, each at its own time (the frames table keeps every frame)
    clip_times = container_frame_times(DATA / "pose2sim_cam01.mp4")
    assert 1 / np.median(np.diff(clip_times)) > 55
    np.testing.assert_allclose(container_frame_times(out / "annotated.mp4"), clip_times[::2], atol=1e-3)
    assert len(pd.read_csv(out / "frames.csv")) == len(clip_times)


def test_a_30_fps_clip_keeps_every_frame_in_the_annotated_video(analysed):
    out = analysed("sports2d_crouch.mp4")
    np.testing.assert_allclose(container_frame_times(out / "annotated.mp4"),
                               container_frame_times(DATA / "sports2d_crouch.mp4"), atol=1e-3)


def test_lifter_is_found_and_the_bystander_never_takes_over(analysed):
    for clip in ("pose2sim_cam01.mp4", "pose2sim_cam02_vp9.webm"):
        frames = pd.read_csv(analysed(clip) / "frames.csv")
        assert frames["detected"].mean() >= 0.9, clip
        # The bystander stands at the back on the far left (hips at x < 60 px of 540); the
        # lifter balances in the middle of the frame (hips at x 200-360 px).
        hip_x = frames[["r_hip_x", "l_hip_x"]].mean(axis=1).dropna()
        assert len(hip_x) >= 0.9 * len(frames), clip
        assert (hip_x > 0.25 * 540).all(), clip


def test_angles_are_in_plausible_ranges(analysed):
    frames = pd.read_csv(analysed("pose2sim_cam01.mp4", "--heatmaps") / "frames.csv")
    for column, low, high in (("knee_angle", 0, 180), ("hip_angle", 0, 180), ("trunk_lean", 0, 90),
                              ("shin_angle", -90, 90)):
        values = frames[column].dropna()
        assert len(values) > 50, column
        assert values.between(low, high).all(), column
    # Standing and balancing: the knees are mostly straight.
    assert frames["knee_angle"].median() > 150


def test_rotated_phone_clip_is_analysed_upright(analysed):
    out = analysed("phone_rotated.mp4")
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["video"]["width"], summary["video"]["height"]) == (540, 960)
    assert summary["video"]["rotation"] in (90, 270)
    with av.open(str(out / "annotated.mp4")) as c:
        frame = next(c.decode(video=0)).to_ndarray(format="bgr24")
    with av.open(str(DATA / "pose2sim_cam01.mp4")) as c:
        upright = next(c.decode(video=0)).to_ndarray(format="bgr24")
    assert frame.shape[1] == 540
    # Below the chart band is the upright frame (the overlay changes only a few pixels).
    assert np.median(np.abs(frame[-960:].astype(int) - upright.astype(int))) < 6
    frames = pd.read_csv(out / "frames.csv")
    assert frames["detected"].mean() >= 0.9
    # Upright: the head is above the ankles.
    assert (frames["neck_y"] < frames["r_ankle_y"]).mean() > 0.9


def test_deep_crouch_is_detected_in_the_sports2d_clip(analysed):
    frames = pd.read_csv(analysed("sports2d_crouch.mp4") / "frames.csv")
    assert len(frames) == 80
    # The backflip lands into a deep crouch around frames 44-53 (0.15-0.30 s after landing).
    knee = frames["knee_angle"]
    deepest = knee.idxmin()
    assert knee.min() < 100
    assert 38 <= deepest <= 60


def test_time_s_follows_the_container_on_a_variable_frame_rate_clip(analysed):
    out = analysed("vfr.mp4", "--network-hz", "0")  # every frame read by the network
    assert json.loads((out / "summary.json").read_text())["settings"]["pose"]["network_hz"] == 0
    frames = pd.read_csv(out / "frames.csv")
    truth = pd.read_csv(DATA / "vfr_times.csv")
    times = truth.iloc[:, -1].to_numpy()
    np.testing.assert_allclose(frames["time_s"], times - times[0], atol=1e-3)
    steps = np.diff(frames["time_s"])
    assert steps.max() > 1.5 * steps.min()  # really variable


BAD_INPUTS = ["not_a_video.mp4", "truncated.mp4", "random_bytes.mp4", "still_image.mp4", "audio_only.mp4", "empty.mp4",
              "missing.mp4"]


@pytest.fixture(scope="module")
def bad_input_runs(tmp_path_factory):
    """`analyze` on each bad input, each into its own empty folder; the runs (each a CLI process that
    mostly starts up) two at a time, started when the first is asked for."""
    def attempt(name: str) -> tuple[Path, subprocess.CompletedProcess]:
        folder = tmp_path_factory.mktemp("bad")
        return folder, run_cli("analyze", str(DATA / name), "--out", str(folder / "result"), "--quiet")

    with ThreadPoolExecutor(max_workers=2) as pool:
        started = {name: pool.submit(attempt, name) for name in BAD_INPUTS}
        yield lambda name: started[name].result()


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_gets_a_one_line_error_and_leaves_nothing_behind(name, bad_input_runs):
    folder, result = bad_input_runs(name)
    out = folder / "result"
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert list(folder.iterdir()) == []


def test_another_side_re_measures_from_the_kept_network_pass(analysed, tmp_path):
    first = analysed("pose2sim_cam01.mp4")  # analysed on its own data folder: its pass was kept there
    data = first.parent / "data"
    (kept,) = (data / "passes").glob("*.npz")
    written = kept.stat().st_mtime_ns
    again = run_cli("analyze", str(DATA / "pose2sim_cam01.mp4"), "--out", str(tmp_path / "b"), "--quiet",
                    "--side", "left", SQUAT_DATA_DIR=str(data))
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["side"] == "left"
    assert list((data / "passes").glob("*.npz")) == [kept] and kept.stat().st_mtime_ns == written  # not run again
    a, b = (pd.read_csv(d / "frames.csv") for d in (first, tmp_path / "b"))
    assert a["r_knee_x"].equals(b["r_knee_x"])  # the same network pass underneath
    fresh = run_cli("analyze", str(DATA / "pose2sim_cam01.mp4"), "--out", str(tmp_path / "c"), "--quiet",
                    "--side", "left", "--no-cache", SQUAT_DATA_DIR=str(data))
    assert fresh.returncode == 0 and kept.stat().st_mtime_ns == written
    assert pd.read_csv(tmp_path / "c" / "frames.csv").equals(b)  # kept or not, the same numbers


def test_existing_results_are_never_overwritten(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    result = run_cli("analyze", str(DATA / "pose2sim_cam01.mp4"), "--out", str(out), "--quiet")
    assert result.returncode == 2 and "already exists" in result.stderr
    assert (out / "notes.txt").read_text() == "my notes"


def test_a_network_rate_that_is_no_rate_is_refused_before_any_work(tmp_path):
    result = run_cli("analyze", str(DATA / "pose2sim_cam01.mp4"), "--out", str(tmp_path / "r"), "--quiet",
                     "--network-hz", "-15")
    assert result.returncode == 2 and result.stderr.startswith("error: --network-hz -15 is not a reading rate")
    assert "Traceback" not in result.stderr and not (tmp_path / "r").exists()


def test_a_plate_size_that_is_no_plate_is_refused_before_any_work(tmp_path):
    result = run_cli("analyze", str(DATA / "pose2sim_cam01.mp4"), "--out", str(tmp_path / "r"), "--quiet",
                     "--plate-cm", "0.45")  # metres given for centimetres
    assert result.returncode == 2 and result.stderr.startswith("error: --plate-cm 0.45 is not a barbell plate")
    assert not (tmp_path / "r").exists()


def test_missing_weights_get_the_fetch_command(tmp_path):
    result = run_cli("analyze", str(DATA / "pose2sim_cam01.mp4"), "--out", str(tmp_path / "r"), "--quiet",
                     "--model", "cmu_body_pose", SQUAT_WEIGHTS_DIR=str(tmp_path))
    assert result.returncode == 2 and result.stderr.startswith("error: ")
    assert "weights fetch cmu_body_pose" in result.stderr
    assert not (tmp_path / "r").exists()


def test_broken_weights_file_is_refused_with_what_to_do(tmp_path):
    (tmp_path / "body_pose_model.pth").write_bytes(b"not a checkpoint" * 1000)
    result = run_cli("analyze", str(DATA / "pose2sim_cam01.mp4"), "--out", str(tmp_path / "r"), "--quiet",
                     "--model", "cmu_body_pose", SQUAT_WEIGHTS_DIR=str(tmp_path))
    assert result.returncode == 2 and result.stderr.startswith("error: ")
    assert "fetch cmu_body_pose" in result.stderr and "Traceback" not in result.stderr


def test_weights_list_names_the_licences():
    result = run_cli("weights", "list")
    assert result.returncode == 0
    assert "mobilenet_thin" in result.stdout and "Apache-2.0" in result.stdout
    assert "non-commercial" in result.stdout.lower()


def test_a_clip_with_nobody_in_it_says_so(tmp_path):
    from squat.io.video import VideoWriter

    clip = tmp_path / "empty_room.mp4"
    ramp = np.tile(np.linspace(40, 200, 320, dtype=np.uint8)[None, :, None], (180, 1, 3))
    with VideoWriter(clip, 320, 180, 30) as writer:
        for i in range(15):
            writer.write(ramp, i / 30)
    out = tmp_path / "result"
    result = run_cli("analyze", str(clip), "--out", str(out), "--quiet")
    assert result.returncode == 2
    assert result.stderr.startswith("error: no person found")
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["empty_room.mp4"]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_the_cli_keeps_every_thread_in_one_malloc_arena():
    """Frames decoded in one thread and freed in another grew peak memory with clip length in an
    arena per thread (speed log §23); the setting must be accepted by this C library."""
    from squat.cli import one_malloc_arena  # the CLI's, from squat.memory

    assert one_malloc_arena() is True
