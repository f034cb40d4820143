"""The results store: every analysis kept under the data folder, found again by content and settings.

One real analysis of the sample clip (small network input, so a few seconds) is shared by the module;
tests that change the store work on a copy of its data folder.
"""
import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from conftest import spy

import squat.pipeline
from squat.errors import SquatError, VideoError
from squat.passes import pass_key
from squat.settings import PoseSettings, Settings
from squat.store import (
    DATA_DIR_ENV,
    ResultsStore,
    content_hash,
    data_dir,
    run_key,
    settings_hash,
)

REPO = Path(__file__).parents[1]
SAMPLE = REPO / "samples" / "squat_side.mp4"
DATA = Path(__file__).parent / "data"
FAST = Settings(pose=PoseSettings(long_side=256))  # a quarter of the default's pixels: same code, seconds


@pytest.fixture(scope="module")
def saved_and_its_network_passes(tmp_path_factory):
    """A store holding one complete analysis of the sample clip, its entry, and what each network
    pass the analysis ran returned (as the network gave it: never written to the store or read back)."""
    root = tmp_path_factory.mktemp("squat-data")
    store = ResultsStore(root)
    real, tracks = squat.pipeline.detect_poses, []

    def kept(*args, **kwargs):
        tracks.append(real(*args, **kwargs))
        return tracks[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(squat.pipeline, "detect_poses", kept)
        entry = store.save(SAMPLE, FAST)
    return store, entry, tracks


@pytest.fixture(scope="module")
def saved(saved_and_its_network_passes):
    """A store holding one complete analysis of the sample clip, and its entry."""
    store, entry, _ = saved_and_its_network_passes
    return store, entry


@pytest.fixture
def store_copy(saved, tmp_path):
    """A private copy of the module's data folder, for tests that change it."""
    store, entry = saved
    shutil.copytree(store.root, tmp_path / "data")
    return ResultsStore(tmp_path / "data"), entry


@pytest.fixture
def analyze_calls(monkeypatch):
    """Calls of the pipeline's analyze (what makes an analysis slow), still running it."""
    return spy(monkeypatch, squat.pipeline, "analyze")


def test_saved_analysis_is_indexed_with_clip_name_date_reps_and_depth(saved):
    store, entry = saved
    assert entry.clip_name == "squat_side.mp4"
    assert entry.clip_sha256 == content_hash(SAMPLE)
    assert entry.key == run_key(entry.clip_sha256, FAST)
    assert entry.rep_count == 1
    assert 45 < entry.mean_depth < 100  # knee angle at the bottom, degrees (truth 62°, 2D reads ~70°)
    assert entry.model == "mobilenet_thin" and entry.side == "right"
    assert entry.created.tzinfo is not None
    assert store.list() == [entry]
    assert store.find(entry.clip_sha256, FAST) == entry


def test_run_folder_holds_every_output_and_the_clip_is_kept(saved):
    store, entry = saved
    for name in ("frames.csv", "reps.csv", "summary.json", "annotated.mp4", "heatmaps.png"):
        assert (entry.run_dir / name).stat().st_size > 0, name
    assert entry.run_dir.parent == store.runs_dir
    assert entry.clip_path.read_bytes() == SAMPLE.read_bytes()
    assert not list(store.root.rglob("*.partial")) and not list(store.root.rglob(".*.part"))


def test_load_returns_tables_summary_and_paths(saved):
    store, entry = saved
    run = store.load(entry.key)
    assert len(run.frames) == 141 and {"time_s", "knee_angle", "r_knee_x", "rep"} <= set(run.frames.columns)
    assert list(run.reps["rep"]) == [1]
    assert all(isinstance(f, str) for f in run.reps["faults"])  # an empty CSV cell reads as "", not NaN
    assert run.summary["rep_count"] == 1 and run.summary["video"]["file"] == "squat_side.mp4"
    assert run.clip == entry.clip_path and run.annotated.name == "annotated.mp4"
    assert {"annotated.mp4", "frames.csv", "reps.csv", "summary.json", "heatmaps.png"} <= set(run.downloads)
    pd.testing.assert_frame_equal(run.frames, pd.read_csv(entry.run_dir / "frames.csv"))


def test_reopening_the_same_clip_with_the_same_settings_does_not_analyse_again(saved, analyze_calls):
    store, entry = saved
    again = store.save(SAMPLE, FAST)
    assert again == entry
    assert analyze_calls == []
    assert len(store.list()) == 1


def test_content_hash_ignores_the_file_name(saved, analyze_calls, tmp_path):
    store, entry = saved
    renamed = tmp_path / "monday_top_set.MOV"
    shutil.copyfile(SAMPLE, renamed)
    assert content_hash(renamed) == content_hash(SAMPLE) == content_hash(SAMPLE.read_bytes())
    assert store.find(content_hash(renamed), FAST) == entry
    assert store.save(renamed, FAST, name="monday_top_set.MOV") == entry  # found, named as first analysed
    assert analyze_calls == []


def test_other_settings_are_another_analysis(saved):
    store, entry = saved
    left = replace(FAST, kinematics=replace(FAST.kinematics, side="left"))
    assert settings_hash(left) != settings_hash(FAST)
    assert store.find(entry.clip_sha256, left) is None
    assert store.find(entry.clip_sha256, Settings()) is None  # the default network size differs too


@pytest.fixture
def network_passes(monkeypatch):
    """Network passes (the slow part of an analysis), still running them."""
    return spy(monkeypatch, squat.pipeline, "detect_poses")


def test_the_network_pass_is_kept_and_another_side_re_measures_without_the_network(store_copy, network_passes,
                                                                                   saved_and_its_network_passes):
    store, entry = store_copy
    (track,) = saved_and_its_network_passes[2]  # the module's analysis ran the network once
    kept = list(store.passes_dir.glob(f"{entry.clip_sha256[:16]}-*.npz"))
    assert len(kept) == 1
    left = replace(FAST, kinematics=replace(FAST.kinematics, side="left"))
    other = store.save(entry.clip_path, left)
    assert other.key != entry.key and other.side == "left"
    assert network_passes == []  # read back from the kept pass
    assert list(store.passes_dir.glob("*.npz")) == kept
    # the same numbers as the network pass itself (in memory, as it came from the network) measured
    # with these settings: the pass only shapes what the side does not (pass_key, below)
    fresh = squat.pipeline.measure(track, left)
    stored = store.load(other.key)
    assert network_passes == []
    assert stored.frames["knee_angle"].to_numpy() == pytest.approx(fresh.frames["knee_angle"].to_numpy(), abs=1e-3,
                                                                      nan_ok=True)
    # settings after the network share a pass; one that shapes it (the input size) does not
    sha = entry.clip_sha256
    assert pass_key(sha, left) == pass_key(sha, FAST) != pass_key(sha, replace(FAST, pose=PoseSettings(long_side=224)))
    assert pass_key(sha, FAST) != pass_key(sha[::-1], FAST)


def test_delete_removes_the_index_row_the_run_folder_and_the_unused_clip(store_copy):
    store, entry = store_copy
    run_dir, clip_dir = store.runs_dir / entry.key, store.clips_dir / entry.clip_sha256
    assert run_dir.is_dir() and clip_dir.is_dir()
    assert store.delete(entry.key)
    assert store.list() == [] and store.find(entry.clip_sha256, FAST) is None
    assert not run_dir.exists() and not clip_dir.exists()
    assert not list(store.passes_dir.glob(f"{entry.clip_sha256[:16]}-*.npz"))  # its network pass went too
    with pytest.raises(SquatError, match="deleted"):
        store.load(entry.key)
    assert not store.delete(entry.key)  # twice is harmless


def test_unusable_clip_raises_and_leaves_the_store_as_it_was(store_copy, tmp_path):
    store, entry = store_copy
    before = sorted(p.relative_to(store.root) for p in store.root.rglob("*") if p.name != "index.sqlite3")
    upload = tmp_path / "holiday.mp4"
    shutil.copyfile(DATA / "not_a_video.mp4", upload)
    with pytest.raises(VideoError):
        store.save(upload, FAST, move=True)
    after = sorted(p.relative_to(store.root) for p in store.root.rglob("*") if p.name != "index.sqlite3")
    assert after == before
    assert [e.key for e in store.list()] == [entry.key]


def test_a_clip_with_nobody_in_it_is_refused_and_not_indexed(store_copy, tmp_path):
    import av
    import numpy as np

    store, entry = store_copy
    empty_room = tmp_path / "empty_room.mp4"
    with av.open(str(empty_room), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for _ in range(6):
            frame = av.VideoFrame.from_ndarray(np.full((96, 160, 3), 120, np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    with pytest.raises(SquatError, match="no person found"):
        store.save(empty_room, FAST)
    assert [e.key for e in store.list()] == [entry.key]
    assert sorted(p.name for p in store.runs_dir.iterdir()) == [entry.key]
    assert sorted(p.name for p in store.clips_dir.iterdir()) == [entry.clip_sha256]


def test_only_indexed_runs_are_listed(store_copy):
    """A run folder without an index row (a crash between writing and indexing) is never shown."""
    store, entry = store_copy
    orphan = store.runs_dir / "0123456789abcdef-000000000000"
    shutil.copytree(entry.run_dir, orphan)
    assert [e.key for e in store.list()] == [entry.key]
    with sqlite3.connect(store.index_path) as db:
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone() == (1,)


def test_data_folder_can_be_moved_whole(store_copy, tmp_path):
    store, entry = store_copy
    moved = tmp_path / "elsewhere"
    shutil.move(str(store.root), moved)
    run = ResultsStore(moved).load(entry.key)
    assert run.clip.is_file() and run.clip.is_relative_to(moved)


def test_data_folder_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "squat"))
    assert data_dir() == tmp_path / "squat"
    assert ResultsStore().root == tmp_path / "squat"
    monkeypatch.delenv(DATA_DIR_ENV)
    assert data_dir() == Path.home() / ".squat-form-check"


def test_heatmaps_of_a_stored_run_use_the_network_input_the_analysis_used():
    from dashboard.presenters import network_pose
    from squat.pose.estimator import fit

    summary = {"settings": {"pose": {"long_side": 432}}, "video": {"width": 1920, "height": 1080},
               "model": {"input": {"width": 464, "height": 264, "scale": 0.2391}}}
    pose = network_pose(summary)
    assert fit((1080, 1920), pose.long_side).scale == pytest.approx(0.2391, abs=1e-3)
    assert network_pose({"settings": {"pose": {"long_side": 500}}}).long_side == 500  # older runs
