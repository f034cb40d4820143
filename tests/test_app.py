"""The dashboard as a person drives it, through Streamlit's AppTest (no browser), plus the pure helpers
it is built on (squat/dashboard.py).

The sample clip is analysed once for the module (the "first_analysis" fixture, ~10-20 s on 2 cores);
every other test opens that stored analysis again, which must be instant.
"""
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from conftest import make_empty_room_clip
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

from dashboard import resources
from dashboard.presenters import (
    ProgressMeter,
    aligned_chart_tables,
    analysis_settings,
    bar_speed_metrics,
    fault_notes,
    format_seconds,
    frame_caption,
    headline_metrics,
    model_choices,
    reference_candidates,
    rep_table,
    settings_from_summary,
    synced_frames,
    torso_caveat,
)
from squat.draw.charts import SELECTED_COLOR
from squat.jobs import Jobs
from squat.measure.reps import FAULT_CUES
from squat.results import BAR_SPEED_UNAVAILABLE, keypoints_at
from squat.settings import PoseSettings, Settings
from squat.skeleton import JOINTS
from squat.store import DATA_DIR_ENV, ResultsStore

REPO = Path(__file__).parents[1]
APP = str(REPO / "app.py")
SAMPLE = REPO / "samples" / "squat_side.mp4"
DATA = Path(__file__).parent / "data"
TIMEOUT = 600  # seconds a script run may take: the first one analyses the sample clip


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """SQUAT_DATA_DIR for the whole module (AppTest runs the app in this process)."""
    root = tmp_path_factory.mktemp("app-data")
    previous = os.environ.get(DATA_DIR_ENV)
    os.environ[DATA_DIR_ENV] = str(root)
    yield root
    resources.jobs().stop_workers()  # the app's worker process would poll on to the suite's end
    st.cache_resource.clear()
    if previous is None:
        os.environ.pop(DATA_DIR_ENV, None)
    else:
        os.environ[DATA_DIR_ENV] = previous


def until_done(at: AppTest) -> AppTest:
    """Rerun the page, as its progress fragment does in a browser, until the job it follows has ended."""
    end = time.monotonic() + TIMEOUT
    while "job" in at.session_state and at.session_state["job"]:
        assert time.monotonic() < end, "the analysis job did not end"
        time.sleep(0.5)
        at.run()
    return at


def fresh_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    return at


@pytest.fixture(scope="module")
def first_analysis(data_root):
    """The page right after pressing "Try a sample clip" on an empty data folder: a real analysis."""
    at = fresh_app()
    at.button(key="sample").click().run()
    assert at.get("progress") or at.session_state["open_key"]  # the page follows the job; it is not blocked
    return until_done(at)


@pytest.fixture
def sample_app(first_analysis):
    """A new session that opened the stored sample analysis."""
    at = fresh_app()
    at.button(key="sample").click().run()
    assert not at.exception
    return at


@pytest.fixture
def stored(first_analysis, data_root):
    """The stored sample analysis (entry, frames, reps) as the store reads it."""
    store = ResultsStore(data_root)
    (entry,) = store.list()
    return store.load(entry.key)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def frame_key(at: AppTest) -> str:
    return f"you:{at.session_state['open_key']}:frame"


def selected_times(at: AppTest) -> list[float]:
    """Where each time chart draws its selected-frame rule (seconds)."""
    times = []
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        rules = [layer for layer in spec.get("layer", [])
                 if layer.get("mark", {}).get("type") == "rule" and layer["mark"].get("color") == SELECTED_COLOR]
        for rule in rules:
            (dataset,) = [d for d in chart.proto.datasets if d.name == rule["data"]["name"]]
            table = dataframe_util.convert_arrow_bytes_to_pandas_df(dataset.data.data)
            times.append(float(table["time_s"].iloc[0]))
    return times


# --------------------------------------------------------------------------- the page


def test_a_slow_page_run_is_logged_for_the_host(data_root, monkeypatch, caplog):
    import dashboard.app

    monkeypatch.setattr(dashboard.app, "SLOW_PAGE_S", 0.0)  # every run counts as slow
    with caplog.at_level("WARNING", logger="dashboard.app"):
        fresh_app()
    assert any(r.getMessage().startswith("slow page run: ") for r in caplog.records)


def test_an_unexpected_failure_shows_a_short_ref_and_logs_its_traceback_under_it(data_root, monkeypatch):
    import dashboard.app

    def broken() -> None:
        raise ZeroDivisionError("a bug in the welcome page")

    monkeypatch.setattr(dashboard.app, "welcome", broken)
    at = fresh_app()  # asserts no exception reached the page
    (error,) = at.error
    ref = error.value.split("(ref ")[1].split(")")[0]
    assert len(ref) == 6 and "Traceback" not in error.value and "ZeroDivisionError" not in error.value
    logged = (data_root / "app.log").read_text()
    assert f"ref {ref}: Traceback" in logged and "ZeroDivisionError: a bug in the welcome page" in logged


def test_first_page_offers_upload_sample_and_only_installed_models(data_root):
    at = fresh_app()
    assert "Try a sample clip" in at.info[0].value
    uploader = at.file_uploader(key="upload")
    assert set(uploader.allowed_type) >= {".mp4", ".mov", ".avi", ".mkv", ".m4v"}
    installed = [c.name for c in model_choices() if c.installed]
    assert [o.split(" (")[0] for o in at.selectbox(key="model").options] == installed
    assert at.selectbox(key="model").value == "mobilenet_thin"
    missing = [c for c in model_choices() if not c.installed]
    captions = " ".join(c.value for c in at.caption)
    for choice in missing:
        assert f"python -m squat weights fetch {choice.name}" in captions
    assert at.selectbox(key="side").options == ["detect automatically", "left leg", "right leg"]


def test_sample_clip_is_analysed_into_metrics_rep_table_charts_and_video(first_analysis):
    at = first_analysis
    assert not at.exception and not at.error
    assert at.session_state["open_key"]
    shown = metrics(at)
    assert shown["reps"] == "1"
    assert 45 < float(shown["depth (mean)"].rstrip("°")) < 100
    assert shown["below parallel"] in ("0 of 1", "1 of 1")
    assert shown["tempo (s)"].count("/") == 2
    (table,) = at.dataframe
    assert len(table.value) == 1 and table.value["rep"].tolist() == [1]
    # angles, moment arms, the bar and its speed (a barbell clip), depth and bar speed per rep
    assert len(at.get("vega_lite_chart")) == 6
    assert float(shown["best MCV"].split()[0]) > 0.2 and shown["velocity loss"] == "—"  # one rep: no loss yet
    assert len(at.get("video")) == 1
    assert {b.label for b in at.get("download_button")} >= {"annotated.mp4", "frames.csv", "reps.csv", "summary.json"}
    assert at.image[0].captions[0].startswith("frame ")
    assert "squat_side.mp4" in [b.label for b in at.sidebar.button]  # listed among past analyses


def test_reopening_the_sample_uses_the_store_without_analysing_again(first_analysis):
    at = fresh_app()
    at.button(key="sample").click().run(timeout=30)
    assert not at.exception and not at.error
    # the analyses run in worker processes: no job was queued, none is running
    assert Jobs(ResultsStore(os.environ[DATA_DIR_ENV])).list(states=("queued", "running")) == []
    assert "job" not in at.session_state or not at.session_state["job"]
    assert metrics(at)["reps"] == "1"
    assert [t.value for t in at.toast] == ["Opened the stored analysis of squat_side.mp4"]


def test_switching_the_side_re_measures_without_running_the_network(first_analysis):
    store = ResultsStore(os.environ[DATA_DIR_ENV])
    kept = {p: p.stat().st_mtime_ns for p in store.passes_dir.glob("*.npz")}
    at = fresh_app()
    at.selectbox(key="side").set_value("left")
    until_done(at.button(key="sample").click().run())
    assert not at.exception and not at.error
    # the worker process read the sample's kept network pass back: none written, none rewritten
    assert {p: p.stat().st_mtime_ns for p in store.passes_dir.glob("*.npz")} == kept
    key = at.session_state["open_key"]
    assert store.get(key).side == "left"
    store.delete(key)  # the module's other tests expect the one stored analysis


def test_a_refreshed_page_follows_the_running_job_instead_of_starting_again(first_analysis):
    """The analysis is a job run by a worker process: a page opened on ?job=ID (a refresh, another
    tab) shows its progress and then opens it; the job ran once, with one network pass."""
    store = ResultsStore(os.environ[DATA_DIR_ENV])
    jobs = Jobs(store)
    passes = set(store.passes_dir.glob("*.npz"))
    job = jobs.submit(SAMPLE, Settings(pose=PoseSettings(long_side=256, framing="full")))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["job"] = job.id
    at.run()
    assert not at.exception and at.get("progress")  # the page follows the job, it does not run it
    until_done(at)
    assert not at.exception and not at.error
    done = jobs.get(job.id)
    assert done.state == "done" and at.session_state["open_key"] == done.run_key
    assert done.attempts == 1 and len(set(store.passes_dir.glob("*.npz")) - passes) == 1
    store.delete(done.run_key)  # the module's other tests expect the one stored analysis


def test_hosted_each_session_sees_only_its_own_analyses_and_a_private_link_shares_one(first_analysis, monkeypatch):
    monkeypatch.setenv("SQUAT_HOSTED", "1")
    store = ResultsStore(os.environ[DATA_DIR_ENV])
    (entry,) = store.list()
    a = fresh_app()
    assert "None yet" in " ".join(c.value for c in a.sidebar.caption)  # the laptop's history is not shown
    a.button(key="sample").click().run()  # stored already: owned by this session at once, no network
    assert not a.exception and a.session_state["open_key"] == entry.key
    link = next(c.value for c in a.caption if "Private link" in c.value)
    job_id = link.split("?job=")[1].split("]")[0]
    assert job_id not in entry.key and entry.clip_sha256[:16] not in job_id  # a token, not the content hash

    b = fresh_app()
    assert entry.clip_name not in [x.label for x in b.sidebar.button]
    b.query_params["open"] = entry.key  # someone else's analysis by its key: refused
    b.run()
    assert "private" in b.error[0].value and not b.session_state["open_key"]
    c = AppTest.from_file(APP, default_timeout=TIMEOUT)
    c.query_params["job"] = job_id  # the owner's private link, on another device
    c.run()
    assert not c.exception and c.session_state["open_key"] == entry.key
    assert entry.clip_name in [x.label for x in c.sidebar.button]

    a.button(key=f"delete:{entry.key}").click().run()  # the owner lets go: the link's holder keeps it
    assert store.get(entry.key) is not None


LOGIN = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32, "client_id": "squat",
         "client_secret": "s", "server_metadata_url": "http://127.0.0.1:9400/.well-known/openid-configuration"}


def hosted_page(user: dict) -> AppTest:
    """A hosted page whose host configured a login (an [auth] secrets section), as `user` sees it."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.secrets["auth"] = LOGIN
    at.user = user
    at.run()
    assert not at.exception
    return at


def test_hosted_with_a_login_analyses_belong_to_the_signed_in_lifter_on_any_device(first_analysis, monkeypatch):
    monkeypatch.setenv("SQUAT_HOSTED", "1")
    (entry,) = ResultsStore(os.environ[DATA_DIR_ENV]).list()
    ben = {"is_logged_in": True, "iss": "http://127.0.0.1:9400", "sub": "ben", "name": "Ben"}
    anna = {**ben, "sub": "anna", "name": "Anna"}

    signed_out = hosted_page({"is_logged_in": False})
    assert signed_out.button(key="sign_in").label == "Sign in"
    laptop = hosted_page(ben)
    assert "Signed in as **Ben**" in " ".join(c.value for c in laptop.sidebar.caption)
    assert laptop.button(key="sign_out").label == "Sign out"
    laptop.button(key="sample").click().run()
    assert not laptop.exception and laptop.session_state["open_key"] == entry.key

    phone = hosted_page(ben)  # Ben again, another device: his analysis is listed and opens
    assert entry.clip_name in [b.label for b in phone.sidebar.button]
    phone.button(key=f"open:{entry.key}").click().run()
    assert phone.session_state["open_key"] == entry.key and not phone.error
    other = hosted_page(anna)
    assert entry.clip_name not in [b.label for b in other.sidebar.button]
    other.query_params["open"] = entry.key
    other.run()
    assert "private" in other.error[0].value and not other.session_state["open_key"]
    phone.button(key=f"delete:{entry.key}").click().run()  # Ben lets go; the laptop-mode history keeps it


def test_hosted_a_reference_the_host_published_is_every_lifters_to_open_but_nobodys_to_delete(first_analysis,
                                                                                                monkeypatch):
    monkeypatch.setenv("SQUAT_HOSTED", "1")
    jobs = Jobs(ResultsStore(os.environ[DATA_DIR_ENV]))
    published = jobs.publish(SAMPLE, analysis_settings("mobilenet_thin", "auto"))  # stored already: no network
    try:
        at = fresh_app()
        assert SAMPLE.name in [b.label for b in at.sidebar.button]
        assert any(c.value.startswith("reference lifter") for c in at.sidebar.caption)
        assert f"delete:{published.run_key}" not in [b.key for b in at.button]
        at.query_params["open"] = published.run_key
        at.run()
        assert not at.error and at.session_state["open_key"] == published.run_key
    finally:
        jobs.disown("public", published.run_key)


def test_viewer_opens_at_the_bottom_of_the_first_rep(sample_app, stored):
    bottom = int(stored.reps["bottom_frame"].iloc[0])
    assert sample_app.slider(key=frame_key(sample_app)).value == bottom
    assert sample_app.image[0].captions[0].startswith(f"frame {bottom} ·")


def test_moving_the_slider_shows_that_frame_and_moves_the_chart_rule(sample_app, stored):
    at = sample_app
    at.slider(key=frame_key(at)).set_value(10).run()
    assert not at.exception
    assert at.image[0].captions[0].startswith("frame 10 ·")
    t10 = float(stored.frames["time_s"].iloc[10])
    assert selected_times(at) == pytest.approx([t10] * 4, abs=1e-4)  # angles, moment arms, bar, bar speed
    key = at.session_state["open_key"]
    at.button(key=f"you:{key}:next").click().run()
    assert at.slider(key=frame_key(at)).value == 11
    at.button(key=f"you:{key}:prev").click().run()
    at.button(key=f"you:{key}:prev").click().run()
    assert at.slider(key=frame_key(at)).value == 9
    assert at.image[0].captions[0].startswith("frame 9 ·")


def test_stepping_stops_at_the_first_and_last_frame(sample_app, stored):
    at = sample_app
    key = at.session_state["open_key"]
    at.slider(key=frame_key(at)).set_value(0).run()
    at.button(key=f"you:{key}:prev").click().run()
    assert at.slider(key=frame_key(at)).value == 0
    last = len(stored.frames) - 1
    at.slider(key=frame_key(at)).set_value(last).run()
    at.button(key=f"you:{key}:next").click().run()
    assert at.slider(key=frame_key(at)).value == last
    assert not at.exception


def test_choosing_a_rep_in_the_table_jumps_to_its_bottom_frame(sample_app, stored):
    at = sample_app
    key = at.session_state["open_key"]
    at.slider(key=frame_key(at)).set_value(5).run()
    at.session_state[f"you:{key}:reps"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    bottom = int(stored.reps["bottom_frame"].iloc[0])
    assert at.slider(key=frame_key(at)).value == bottom
    assert selected_times(at) == pytest.approx([stored.frames["time_s"].iloc[bottom]] * 4, abs=1e-4)
    at.slider(key=frame_key(at)).set_value(20).run()  # the rep stays chosen; the slider moves freely
    assert at.slider(key=frame_key(at)).value == 20


def test_heatmap_toggle_blends_the_chosen_part_over_the_frame(sample_app):
    at = sample_app
    key = at.session_state["open_key"]
    plain = at.image[0].value
    at.toggle(key=f"you:{key}:heat").set_value(True).run()
    neck = at.image[0].value
    at.selectbox(key=f"you:{key}:part").select("knee").run()
    knee = at.image[0].value
    assert not at.exception and not at.error
    assert len({plain[0], neck[0], knee[0]}) == 3  # three different pictures


def test_bad_upload_shows_an_error_and_keeps_the_open_analysis(sample_app, data_root):
    at = sample_app
    at.file_uploader(key="upload").set_value(("holiday.mp4", b"this is not a video", "video/mp4")).run()
    assert not at.exception
    assert len(at.error) == 1 and "holiday.mp4" in at.error[0].value and "not a video" in at.error[0].value
    assert metrics(at)["reps"] == "1"  # the sample's results are still on the page
    assert len(ResultsStore(data_root).list()) == 1
    assert not list(data_root.glob(".incoming-*"))  # the upload's temporary copy is gone
    at.run()  # the same failed upload is not retried on every rerun
    assert not at.exception


def test_analysis_entry_reports_a_clip_with_nobody_in_it(sample_app, data_root, tmp_path):
    at = sample_app
    at.session_state["analyse_path"] = str(make_empty_room_clip(tmp_path / "empty_room.mp4"))
    until_done(at.run())
    assert not at.exception
    assert len(at.error) == 1 and "no person found in empty_room.mp4" in at.error[0].value
    assert len(ResultsStore(data_root).list()) == 1
    assert sorted(p.name for p in (data_root / "runs").iterdir()) == [at.session_state["open_key"]]


def test_a_clip_over_the_hosts_length_limit_gets_a_clear_error(sample_app, data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("SQUAT_MAX_CLIP_S", "1")
    at = sample_app
    clip = tmp_path / "long_set.mp4"
    shutil.copyfile(DATA / "pose2sim_cam01.mp4", clip)
    at.session_state["analyse_path"] = str(clip)
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and "up to 1 s: trim it" in at.error[0].value
    assert len(ResultsStore(data_root).list()) == 1  # nothing queued, nothing kept


def test_a_lifter_over_the_hosts_job_cap_gets_a_clear_error(first_analysis, tmp_path, monkeypatch):
    for name, value in (("SQUAT_HOSTED", "1"), ("SQUAT_MAX_JOBS", "1"), ("SQUAT_WORKERS", "0"),
                        (DATA_DIR_ENV, str(tmp_path / "data"))):  # no workers: the first job stays queued
        monkeypatch.setenv(name, value)
    at = fresh_app()
    at.session_state["analyse_path"] = str(DATA / "pose2sim_cam01.mp4")
    at.run()
    assert not at.error and at.get("progress")  # queued and followed
    at.session_state["analyse_path"] = str(DATA / "sports2d_crouch.mp4")
    at.run()
    assert len(at.error) == 1 and "this host takes 1 at once from each lifter: wait" in at.error[0].value


def test_past_analysis_opens_from_the_sidebar_and_from_the_url(first_analysis, stored):
    key = stored.entry.key
    at = fresh_app()
    assert not at.metric
    at.button(key=f"open:{key}").click().run()
    assert metrics(at)["reps"] == "1" and at.query_params["open"] == key
    linked = AppTest.from_file(APP, default_timeout=TIMEOUT)
    linked.query_params["open"] = key
    linked.run()
    assert metrics(linked)["reps"] == "1"


@pytest.fixture
def data_copy(first_analysis, data_root, tmp_path, monkeypatch) -> Path:
    """A copy of the module's store, with the sample analysed, that the app now reads: a test may
    edit or delete its analyses without touching the others'."""
    copy = tmp_path / "data"
    shutil.copytree(data_root, copy)
    monkeypatch.setenv(DATA_DIR_ENV, str(copy))
    return copy


def test_deleting_an_analysis_removes_it_and_closes_it(data_copy, data_root):
    at = fresh_app()
    (entry,) = ResultsStore(data_copy).list()
    at.button(key=f"open:{entry.key}").click().run()
    at.button(key=f"delete:{entry.key}").click().run()
    assert not at.exception
    assert ResultsStore(data_copy).list() == []
    assert not at.metric and "Try a sample clip" in at.info[0].value
    assert f"open:{entry.key}" not in [b.key for b in at.button]
    assert len(ResultsStore(data_root).list()) == 1  # the module's store is untouched


def test_faults_show_their_coaching_cue_and_the_camera_view_warning_is_shown(data_copy):
    (entry,) = ResultsStore(data_copy).list()
    reps = pd.read_csv(entry.run_dir / "reps.csv")
    reps["faults"] = "forward_lean; hips_shoot_up"
    reps.to_csv(entry.run_dir / "reps.csv", index=False)
    summary = json.loads((entry.run_dir / "summary.json").read_text())
    view = "the camera is not side-on (hips look 0.40 femur wide): knee angle and moment arms are distorted"
    summary["view"]["warning"], summary["warnings"] = view, [view]
    (entry.run_dir / "summary.json").write_text(json.dumps(summary))
    at = fresh_app()
    at.button(key=f"open:{entry.key}").click().run()
    assert not at.exception and not at.error
    shown = [w.value for w in at.warning]
    assert view in shown
    assert any(FAULT_CUES["forward_lean"] in w and "forward lean" in w for w in shown)
    assert any(FAULT_CUES["hips_shoot_up"] in w for w in shown)
    assert at.dataframe[0].value["faults"].tolist() == ["forward lean, hips shoot up"]


def test_a_slowing_set_shows_its_bar_speed_per_rep_and_the_sets_velocity_loss(data_copy):
    (entry,) = ResultsStore(data_copy).list()
    reps = pd.read_csv(entry.run_dir / "reps.csv")
    assert np.isfinite(reps["mcv_ms"]).all()  # the engine measured the sample's one rep
    slower = reps.assign(rep=2, mcv_ms=reps["mcv_ms"] * 0.75, velocity_loss_pct=25.0)
    pd.concat([reps, slower]).to_csv(entry.run_dir / "reps.csv", index=False)
    summary = json.loads((entry.run_dir / "summary.json").read_text())
    summary["bar_speed"]["velocity_loss_pct"] = 25.0
    (entry.run_dir / "summary.json").write_text(json.dumps(summary))
    resources.velocity_chart_spec.clear()  # cached by the analysis' key: the edited copy has the same
    at = fresh_app()
    at.button(key=f"open:{entry.key}").click().run()
    assert not at.exception and not at.error
    assert metrics(at)["velocity loss"] == "25%"
    (velocity,) = [c for c in at.get("vega_lite_chart") if json.loads(c.proto.spec).get("layer", [{}])[0]
                   .get("encoding", {}).get("y", {}).get("field") == "mcv_ms"]
    (data,) = {d.name: d for d in velocity.proto.datasets}.values()  # bars and their labels share one table
    assert dataframe_util.convert_arrow_bytes_to_pandas_df(data.data.data)["label"].tolist() == ["fastest", "−25%"]
    assert "MCV (m/s)" in at.dataframe[0].value.columns


def test_a_clip_without_a_plate_says_why_there_is_no_bar_speed():
    reps = pd.DataFrame({"rep": [1], "mcv_ms": [np.nan]})
    (metric,) = bar_speed_metrics({"bar_speed": {"available": False, "note": BAR_SPEED_UNAVAILABLE}}, reps)
    assert metric.value == "—" and "no plate seen" in metric.help
    assert "MCV (m/s)" not in rep_table(reps.assign(depth_knee_angle=70.0))


# --------------------------------------------------------------------------- reference lifter


def add_reference_copy(root: Path, femur_scale: float = 1.15) -> tuple[str, str]:
    """Store a copy of the single stored analysis under another key, as a lifter with longer femurs
    (no second analysis: fast). Returns (your key, the reference's key)."""
    import sqlite3

    store = ResultsStore(root)
    (entry,) = store.list()
    ref_key = entry.key[:-3] + "ref"
    ref_dir = entry.run_dir.parent / ref_key
    shutil.copytree(entry.run_dir, ref_dir)
    for run_dir, scale in ((entry.run_dir, 1.0), (ref_dir, femur_scale)):
        # The sample's torso is not measured (its shoulders are hidden standing): give both lifters one.
        summary = json.loads((run_dir / "summary.json").read_text())
        props = summary["proportions"]
        props["torso_px"] = props["torso_px"] or 1.5 * props["femur_px"]
        props["femur_px"] *= scale
        props["femur_to_torso"] = props["femur_px"] / props["torso_px"]
        props["shin_to_femur"] = props["shin_px"] / props["femur_px"]
        (run_dir / "summary.json").write_text(json.dumps(summary))
    with sqlite3.connect(store.index_path) as db:
        row = list(store._row(entry))
        row[0], row[3], row[7] = ref_key, "reference.mp4", ref_dir.relative_to(root).as_posix()
        db.execute(f"INSERT INTO runs VALUES ({', '.join('?' * len(row))})", row)
    return entry.key, ref_key


@pytest.fixture
def compare_app(data_copy):
    """Your sample analysis open with "Compare with a reference lifter" on, a second lifter stored."""
    you, ref = add_reference_copy(data_copy)
    at = fresh_app()
    at.button(key=f"open:{you}").click().run()
    at.toggle(key=f"you:{you}:compare").set_value(True).run()
    return at, you, ref


def test_comparison_opens_with_the_closest_reference_side_by_side(compare_app):
    at, you, ref = compare_app
    assert not at.exception and not at.error
    assert at.session_state[f"compare:{you}:ref"] == ref
    assert "reference.mp4" in at.selectbox(key=f"compare:{you}:ref").value or \
        at.selectbox(key=f"compare:{you}:ref").value == ref
    mine, theirs = at.image[0].captions[0], at.image[1].captions[0]
    assert mine.startswith("you · phase 0.50 · frame ") and theirs.startswith("reference · phase 0.50 · frame ")
    tables = [d.value for d in at.dataframe]
    (props,) = [t for t in tables if "measure" in t]
    assert props["measure"].tolist() == ["femur / torso", "shin / femur", "torso / femur"]
    assert props["difference (%)"].iloc[0] == pytest.approx(100 / 1.15 - 100, abs=1)
    assert any("longer" in m.value or "shorter" in m.value for m in at.markdown)  # the implications
    (summary,) = [t for t in tables if "metric" in t]
    assert summary["metric"].iloc[0].startswith("depth")
    assert "mean concentric velocity (m/s)" in summary["metric"].tolist()  # the bar's speed side by side
    overlaid = [c for c in at.get("vega_lite_chart") if '"reference"' in c.proto.spec]
    assert len(overlaid) == 3  # knee angle, hip angle, trunk lean


def test_the_comparison_slider_moves_both_frames_and_the_ghost_draws_over_yours(compare_app):
    at, you, _ = compare_app
    before = (at.image[0].captions[0], at.image[1].captions[0])
    plain = at.image[0].value
    at.slider(key=f"compare:{you}:phase").set_value(0.1).run()
    assert not at.exception
    after = (at.image[0].captions[0], at.image[1].captions[0])
    assert after[0] != before[0] and after[1] != before[1]
    assert "phase 0.10" in after[1]
    at.toggle(key=f"compare:{you}:ghost").set_value(True).run()
    assert not at.exception and not at.error
    assert at.image[0].captions[0] == after[0] and at.image[0].value != plain
    assert not any(c.value.startswith("No ghost") for c in at.caption)
    at.segmented_control(key=f"compare:{you}:method").set_value("dtw").run()
    assert not at.exception and at.image[1].captions[0] == after[1]


def test_comparison_without_another_analysis_offers_the_upload(sample_app):
    at = sample_app
    key = at.session_state["open_key"]
    at.toggle(key=f"you:{key}:compare").set_value(True).run()
    assert not at.exception
    assert any("no other analysis" in i.value for i in at.info)
    assert at.file_uploader(key=f"compare:{key}:upload") is not None


def test_a_barbell_clip_against_a_bodyweight_one_says_the_torsos_were_measured_differently():
    bar, shoulder = {"torso_to": "bar"}, {"torso_to": "shoulder"}
    note = torso_caveat(bar, shoulder)
    assert "to the bar" in note and "to the shoulder" in note and "\n" not in note
    assert torso_caveat(shoulder, {"torso_to": "neck"}) == "" == torso_caveat(bar, {**bar})
    assert torso_caveat(bar, {}) == "" == torso_caveat({"torso_to": "none"}, shoulder)


def test_reference_helpers_rank_builds_and_sync_frames_by_phase(stored):
    props = {"femur_to_torso": 0.9, "shin_to_femur": 0.9}
    longer = {**props, "femur_to_torso": 1.2}
    ranked = reference_candidates("me", props, {"me": props, "far": longer, "near": {**props}, "unknown": {}})
    assert ranked["key"].tolist() == ["near", "far", "unknown"]
    from squat.compare import align_reps

    rep = stored.reps.iloc[0].to_dict()
    aligned = align_reps(stored.frames, rep, stored.frames, rep)
    you, ref, phase = synced_frames(aligned, 0.5, stored.frames, rep, stored.frames, rep)
    assert you == ref == int(stored.reps["bottom_frame"].iloc[0]) and phase == pytest.approx(0.5)
    mine, theirs = aligned_chart_tables(aligned, "knee_angle")
    assert mine["time_s"].tolist() == aligned["phase"].tolist() and len(theirs) == len(aligned)


# --------------------------------------------------------------------------- helpers behind the page


def test_progress_text_gives_frames_done_rate_and_time_left():
    now = [100.0]
    meter = ProgressMeter(clock=lambda: now[0])
    fraction, text = meter.update("pose", 0, 100)
    assert fraction == 0 and text == "Finding the lifter: frame 0 of 100"
    now[0] = 105.0
    fraction, text = meter.update("pose", 50, 100)
    assert fraction == pytest.approx(0.4)
    assert text == "Finding the lifter: frame 50 of 100 · 10.0 frames/s · about 5 s left"
    now[0] = 106.0
    fraction, text = meter.update("render", 1, 100)  # a new stage restarts the rate
    assert 0.8 <= fraction < 0.81 and text == "Drawing the annotated video: frame 1 of 100"
    assert meter.update("heatmaps", 1, 1) == (1.0, "Heatmaps")
    assert format_seconds(185) == "3 min 05 s" and format_seconds(3725) == "1 h 02 min"


def test_sidebar_choices_become_engine_settings_and_back():
    settings = analysis_settings("mobilenet_thin", "left")
    assert settings.pose.model == "mobilenet_thin" and settings.kinematics.side == "left"
    assert settings.pose.long_side == Settings().pose.long_side
    from dataclasses import asdict

    assert settings_from_summary({"settings": asdict(settings)}) == settings
    assert settings_from_summary({}) == Settings()
    with pytest.raises(ValueError):
        analysis_settings("mobilenet_thin", "front")
    # a 40 cm plate: the bar speed's metres from its size; the default stays the 45 cm bumper
    assert analysis_settings("mobilenet_thin", "auto", plate_cm=40).plate.diameter_m == pytest.approx(0.40)
    assert analysis_settings("mobilenet_thin", "auto", plate_cm=45) == analysis_settings("mobilenet_thin", "auto")
    with pytest.raises(ValueError):
        analysis_settings("mobilenet_thin", "auto", plate_cm=0.45)  # metres for centimetres


def test_models_without_weights_come_with_their_fetch_command(tmp_path):
    choices = {c.name: c for c in model_choices(tmp_path)}  # an empty downloads folder
    assert choices["mobilenet_thin"].installed  # shipped with the repository
    assert not choices["cmu_body_pose"].installed
    assert choices["cmu_body_pose"].fetch_command == "python -m squat weights fetch cmu_body_pose"
    assert list(choices)[0] == "mobilenet_thin"


def test_keypoints_and_caption_come_from_the_frame_table(stored):
    frames = stored.frames
    kp = keypoints_at(frames, 40)
    assert kp.shape == (len(JOINTS), 3) and kp.dtype == np.float32
    knee = JOINTS.index("r_knee")
    np.testing.assert_allclose(kp[knee], frames.loc[40, ["r_knee_x", "r_knee_y", "r_knee_conf"]].to_numpy(float),
                               rtol=1e-6)
    assert frame_caption(frames, 40).startswith(f"frame 40 · {frames.loc[40, 'time_s']:.2f} s")


def test_faults_come_with_their_coaching_cue_and_tint_the_rep_table():
    reps = pd.DataFrame({
        "rep": [1, 2, 3], "depth_knee_angle": [70.4, 95.0, 66.0], "hip_below_knee": [True, False, True],
        "descent_s": [1.5, 1.2, 1.4], "pause_s": [0.2, 0.1, 0.3], "ascent_s": [1.1, 1.0, 1.2],
        "faults": ["", "above_parallel; forward_lean", "forward_lean"],
    })
    notes = fault_notes(reps)
    assert [(n.fault, n.reps) for n in notes] == [("above_parallel", (2,)), ("forward_lean", (2, 3))]
    assert notes[0].cue == FAULT_CUES["above_parallel"]
    table = rep_table(reps)
    assert table["faults"].tolist() == ["", "above parallel, forward lean", "forward lean"]
    assert table["below parallel"].tolist() == ["yes", "no", "yes"]
    shown = {m.label: m.value for m in headline_metrics({"proportions": {"femur_to_torso": 1.1}}, reps)}
    assert shown["reps"] == "3" and shown["below parallel"] == "2 of 3" and shown["depth (mean)"] == "77°"
    assert shown["tempo (s)"] == "1.4 / 0.2 / 1.1" and shown["femur / torso"] == "1.10" and shown["shin / femur"] == "—"


def test_heatmaps_use_the_network_settings_the_run_was_analysed_with(stored):
    pose = settings_from_summary(stored.summary).pose
    assert pose == Settings().pose  # the app analysed with the defaults
    assert pose.long_side == stored.summary["settings"]["pose"]["long_side"]
