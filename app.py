"""Squat form check: the Streamlit dashboard. Run with `streamlit run app.py`.

A thin UI: the numbers, pictures and charts come from squat/ (pipeline, render, charts), analyses
are kept by squat.store.ResultsStore under $SQUAT_DATA_DIR (default ~/.squat-form-check), and the
small helpers it needs live in dashboard.presenters.

Page: the sidebar takes a clip (upload or the sample), the model and the camera-side leg, and lists
past analyses; the main area shows one stored analysis (`show_results`), whose frame viewer,
charts and rep table redraw alone (`frame_viewer` is an st.fragment).

Session state the app reads (tests and future pages may set these):
- "open_key": store key of the analysis shown (also mirrored in the URL as ?open=KEY).
- "analyse_path": path of a video to analyse on the next run as if it had been uploaded; read once,
  then removed. A test uses it to drive the analysis entry without a browser.
- "<slot>:<key>:frame": the frame viewer's frame for that analysis (slot "you").
- "you:<key>:compare": the "Compare with a reference lifter" toggle; the comparison's widgets are
  "compare:<key>:ref" (reference store key), ":you_rep" / ":ref_rep" (rep rows), ":method" (phase or
  dtw), ":ghost" (toggle), ":phase" (the synced slider, 0..1) and ":upload" (a reference clip).
"""
from __future__ import annotations

import functools
import json
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.presenters import (
    ALIGN_METHODS,
    HEATMAP_PART_NAMES,
    SIDES,
    ProgressMeter,
    analysis_settings,
    bar_path_at,
    bar_trunk,
    chart_legend_html,
    clamp_frame,
    comparison_charts,
    entry_label,
    fault_notes,
    frame_caption,
    frame_row,
    ghost_keypoints,
    headline_metrics,
    heatmap_joint,
    keypoints_at,
    model_choices,
    network_pose,
    picked_frame,
    proportions_display,
    reference_candidates,
    reference_label,
    reference_settings,
    rep_bottom_frame,
    rep_label,
    rep_record,
    rep_table,
    rep_table_formats,
    summary_display,
    synced_frames,
    time_charts,
    torso_caveat,
)
from squat.compare import align_reps, implications
from squat.draw.charts import has_bar, rep_depth_chart
from squat.draw.overlay import annotate_frame, blend_heatmap, draw_ghost
from squat.errors import SquatError
from squat.pipeline import read_frame
from squat.pose.estimator import PoseEstimator, load_estimator
from squat.settings import PoseSettings, Settings
from squat.store import Entry, ResultsStore, StoredRun, content_hash, data_dir

SAMPLE = Path(__file__).resolve().parent / "samples" / "squat_side.mp4"
VIDEO_TYPES = ["mp4", "mov", "avi", "mkv", "m4v"]
SIDE_LABELS = {"auto": "detect automatically", "left": "left leg", "right": "right leg"}
PROGRESS_EVERY_S = 0.2  # redraw the progress bar at most this often
MIME = {".mp4": "video/mp4", ".csv": "text/csv", ".json": "application/json", ".png": "image/png"}
FAULT_ROW_STYLE = "background-color: rgba(228, 87, 86, 0.22)"


# --------------------------------------------------------------------------- cached resources


@st.cache_resource(show_spinner=False)
def get_store(root: str) -> ResultsStore:
    return ResultsStore(root)


@st.cache_resource(show_spinner="Loading the pose model…")
def get_estimator(pose: PoseSettings) -> PoseEstimator:
    """One network per model and settings for the whole process (load_estimator is what run() uses)."""
    return load_estimator(pose)


@st.cache_data(max_entries=4, show_spinner=False)
def load_run(root: str, key: str) -> StoredRun:
    return get_store(root).load(key)


@st.cache_data(max_entries=64, show_spinner=False)
def load_summary(root: str, key: str) -> dict:
    """summary.json of one stored analysis (the reference list needs only the proportions)."""
    entry = get_store(root).get(key)
    return json.loads((entry.run_dir / "summary.json").read_text()) if entry else {}


@st.cache_data(max_entries=48, show_spinner=False)
def frame_image(clip: str, index: int) -> np.ndarray:
    """One upright BGR frame of a stored clip (decoded up to it, so cached)."""
    return read_frame(clip, index)


@st.cache_data(max_entries=16, show_spinner="Running the network on this frame…")
def heatmap_image(clip: str, index: int, pose: PoseSettings, side: str, part: str) -> np.ndarray:
    """The frame with one part's heatmap blended over it, as in the article."""
    image = frame_image(clip, index)
    maps = get_estimator(pose).part_heatmaps(image, heatmap_joint(side, part))
    return blend_heatmap(image, maps[part])


def store() -> ResultsStore:
    return get_store(str(data_dir()))


# --------------------------------------------------------------------------- analysing


def analyse(video: Path, name: str, settings: Settings, move: bool = False,
            clip_sha256: Optional[str] = None, open_it: bool = True) -> Optional[Entry]:
    """Analyse one clip into the store and open it (unless not `open_it`); an unusable clip shows
    st.error and returns None.

    Instant when the store already has this content with these settings. With `move`, `video` is a
    temporary copy the store may take over.
    """
    results = store()
    try:
        sha = clip_sha256 or content_hash(video)
        entry = results.find(sha, settings)
        if entry is None:
            get_estimator(settings.pose)  # loaded once per process; missing weights fail here
            entry = _save_with_progress(results, video, name, settings, move, sha)
            st.toast(f"Analysed {entry.clip_name}: {entry.rep_count} rep{'s' * (entry.rep_count != 1)}")
        else:
            st.toast(f"Opened the stored analysis of {entry.clip_name}")
    except SquatError as e:
        st.error(str(e), icon=":material/error:")
        return None
    except OSError as e:  # the file vanished or cannot be read: still the user's file, not a bug
        st.error(f"cannot read {name}: {e.strerror or e}", icon=":material/error:")
        return None
    if open_it:
        open_run(entry.key)
    return entry


def _save_with_progress(results: ResultsStore, video: Path, name: str, settings: Settings, move: bool,
                        sha: str) -> Entry:
    meter = ProgressMeter()
    bar = st.progress(0.0, text=f"Analysing {name}…")
    last = {"t": 0.0, "stage": None}

    def progress(stage: str, done: int, total: int) -> None:
        fraction, text = meter.update(stage, done, total)
        now = meter.clock()
        if stage != last["stage"] or done >= total or now - last["t"] >= PROGRESS_EVERY_S:
            bar.progress(min(fraction, 1.0), text=text)
            last.update(t=now, stage=stage)

    try:
        return results.save(video, settings, name=name, progress=progress, move=move, clip_sha256=sha)
    finally:
        bar.empty()


def analyse_upload(upload, settings: Settings, open_it: bool = True) -> Optional[Entry]:
    """Hash the upload in memory; only a clip not yet stored is written to a temporary file and analysed."""
    data = upload.getbuffer()
    sha = content_hash(data)
    if store().find(sha, settings) is not None:
        return analyse(Path(upload.name), upload.name, settings, clip_sha256=sha, open_it=open_it)
    incoming = Path(tempfile.mkdtemp(prefix=".incoming-", dir=store().root))
    try:
        path = incoming / Path(upload.name).name
        path.write_bytes(data)
        return analyse(path, upload.name, settings, move=True, clip_sha256=sha, open_it=open_it)
    finally:
        shutil.rmtree(incoming, ignore_errors=True)


def open_run(key: Optional[str]) -> None:
    st.session_state["open_key"] = key
    if key:
        st.query_params["open"] = key
    else:
        st.query_params.pop("open", None)


def delete_run(key: str) -> None:
    store().delete(key)
    load_run.clear()
    if st.session_state.get("open_key") == key:
        open_run(None)


# --------------------------------------------------------------------------- sidebar


def intake() -> Settings:
    """Upload, sample, model and side; starts an analysis when asked. Returns the chosen settings."""
    st.sidebar.title("Squat form check")
    st.sidebar.caption("Film from the side at hip height, whole body in view. Everything runs on this machine.")
    upload = st.sidebar.file_uploader("Video of your set", type=VIDEO_TYPES, key="upload",
                                      help="MP4, MOV, AVI, MKV or M4V straight from the phone")
    sample = st.sidebar.button("Try a sample clip", key="sample", icon=":material/play_circle:", width="stretch",
                               help="One rendered barbell squat, side-on (samples/squat_side.mp4)")

    with st.sidebar.expander("Settings", expanded=False):
        choices = model_choices()
        installed = [c for c in choices if c.installed]
        by_name = {c.name: c for c in installed}
        model = st.selectbox("Pose model", list(by_name), key="model",
                             format_func=lambda n: f"{n} ({by_name[n].size_mb:g} MB, {by_name[n].licence})")
        if by_name[model].licence not in ("Apache-2.0", "MIT", "BSD-3-Clause"):
            st.caption(f"⚠️ {by_name[model].licence_note}")
        for c in choices:
            if not c.installed:
                st.caption(f"{c.name} ({c.size_mb:g} MB, {c.licence}) is not downloaded: `{c.fetch_command}`")
        side = st.selectbox("Leg facing the camera", SIDES, key="side", format_func=SIDE_LABELS.get)
    settings = analysis_settings(model, side)

    if upload is not None:
        again = st.sidebar.button("Analyse again with these settings", key="reanalyse", width="stretch")
    else:
        again = False

    path = st.session_state.pop("analyse_path", None)
    if path:
        analyse(Path(path), Path(path).name, settings)
    elif sample:
        analyse(SAMPLE, SAMPLE.name, settings)
    elif upload is not None and (again or upload.file_id != st.session_state.get("_handled_upload")):
        st.session_state["_handled_upload"] = upload.file_id  # a failing clip is not retried on every rerun
        analyse_upload(upload, settings)
    return settings


def past_analyses() -> None:
    entries = store().list()
    st.sidebar.subheader("Past analyses")
    if not entries:
        st.sidebar.caption(f"None yet. They are kept in {store().root}.")
        return
    current = st.session_state.get("open_key")
    for entry in entries:
        when = entry.created.astimezone().strftime("%d %b %H:%M")
        details = entry_label(entry.clip_name, when, entry.rep_count, entry.mean_depth)
        left, right = st.sidebar.columns([5, 1], vertical_alignment="top")
        left.button(entry.clip_name, key=f"open:{entry.key}", on_click=open_run, args=(entry.key,), width="stretch",
                    type="primary" if entry.key == current else "secondary",
                    help=f"{details}; model {entry.model}, {entry.side} leg")
        left.caption(details.removeprefix(f"{entry.clip_name} · "))
        right.button(":material/delete:", key=f"delete:{entry.key}", on_click=delete_run, args=(entry.key,),
                     help=f"Delete this analysis of {entry.clip_name}", type="tertiary")


# --------------------------------------------------------------------------- results


def show_results(run: StoredRun, slot: str = "you") -> None:
    """Everything about one stored analysis. `slot` keeps widget keys apart when two are on a page."""
    summary, reps = run.summary, run.reps
    video = summary.get("video", {})
    st.header(run.entry.clip_name)
    st.caption(
        f"{video.get('frame_count', len(run.frames))} frames · {video.get('fps', 0):.0f} fps · "
        f"{video.get('width')}×{video.get('height')} · model {summary['model']['name']} on "
        f"{summary['model']['device']} · camera-side leg: {summary.get('side')} · "
        f"analysed {run.entry.created.astimezone():%d %b %Y %H:%M}"
    )
    for warning in summary.get("warnings", []):
        is_view = warning == (summary.get("view") or {}).get("warning")
        st.warning(warning, icon=":material/videocam:" if is_view else ":material/warning:")

    with st.container(horizontal=True, gap="medium"):
        for metric in headline_metrics(summary, reps):
            st.metric(metric.label, metric.value, help=metric.help, width="content", border=True)

    notes = fault_notes(reps)
    for note in notes:
        which = ", ".join(str(r) for r in note.reps)
        st.warning(f"**{note.label}** (rep{'s' * (len(note.reps) > 1)} {which}): {note.cue}", icon=":material/build:")
    if len(reps) and not notes:
        st.success(f"No faults found in {len(reps)} rep{'s' * (len(reps) != 1)}.", icon=":material/check_circle:")
    if not len(reps):
        st.info("No full rep was found: film a whole squat, from standing to standing.")

    if slot == "you" and st.toggle("Compare with a reference lifter", key=f"{slot}:{run.entry.key}:compare",
                                   help="side by side with another analysis, reps lined up by phase"):
        comparison(run)
        st.divider()

    frame_viewer(run, slot)

    left, right = st.columns([3, 2])
    with left:
        st.subheader("Annotated video")
        st.video(str(run.annotated))
    with right:
        if len(reps):
            st.subheader("Depth per rep")
            st.altair_chart(rep_depth_chart(reps), width="stretch")
        st.subheader("Downloads")
        for name, path in run.downloads.items():
            st.download_button(name, data=functools.partial(path.read_bytes), file_name=name,
                               mime=MIME.get(path.suffix, "application/octet-stream"), on_click="ignore",
                               key=f"{slot}:{run.entry.key}:download:{name}", icon=":material/download:")


@st.fragment
def frame_viewer(run: StoredRun, slot: str) -> None:
    """Frame slider and step buttons, the annotated frame (optionally a heatmap over it), the time
    charts with a rule at this frame, and the rep table (choosing a rep jumps to its bottom frame)."""
    frames, reps = run.frames, run.reps
    count = len(frames)
    prefix = f"{slot}:{run.entry.key}"
    frame_key, applied_key = f"{prefix}:frame", f"{prefix}:applied_rep"
    if frame_key not in st.session_state:
        st.session_state[frame_key] = rep_bottom_frame(reps, 0) if len(reps) else 0

    viewer, table = st.container(), st.container()
    with table:  # drawn first (it sits below): a newly chosen rep moves the slider before it is drawn
        st.subheader("Reps")
        if len(reps):
            shown = rep_table(reps)
            styled = shown.style.apply(
                lambda row: [FAULT_ROW_STYLE if row.get("faults") else ""] * len(row), axis=1
            ).format(rep_table_formats(), na_rep="—")
            event = st.dataframe(styled, key=f"{prefix}:reps", on_select="rerun", selection_mode="single-row",
                                 hide_index=True, width="stretch", placeholder="—")
            rows = list(event.selection.rows) if event is not None else []
            chosen = rows[0] if rows else None
            if chosen is not None and chosen != st.session_state.get(applied_key):
                st.session_state[frame_key] = clamp_frame(rep_bottom_frame(reps, chosen), count)
            st.session_state[applied_key] = chosen
            st.caption("Choose a rep to jump to its bottom frame. Rows with a fault are tinted.")
        else:
            st.caption("No reps.")

    with viewer:
        st.subheader("Frame by frame")
        left, right = st.columns([3, 2])
        with left:
            st.slider("Frame", 0, max(count - 1, 1), key=frame_key, disabled=count < 2)
            index = clamp_frame(st.session_state[frame_key], count)
            b1, b2, b3, b4 = st.columns([1, 1, 2, 2], vertical_alignment="bottom")
            b1.button(":material/chevron_left:", key=f"{prefix}:prev", on_click=_step, args=(frame_key, -1, count), help="previous frame",
                      width="stretch")
            b2.button(":material/chevron_right:", key=f"{prefix}:next", on_click=_step, args=(frame_key, 1, count), help="next frame",
                      width="stretch")
            heat = b3.toggle("Heatmap", key=f"{prefix}:heat", help="blend one part's network heatmap over the frame")
            part = b4.selectbox("Part", HEATMAP_PART_NAMES, key=f"{prefix}:part", disabled=not heat,
                                label_visibility="collapsed")
            side = run.summary.get("side", "right")
            try:
                if heat:
                    pose = network_pose(run.summary)
                    base = heatmap_image(str(run.clip), index, pose, side, part)
                else:
                    base = frame_image(str(run.clip), index)
                image = annotate_frame(base, keypoints_at(frames, index), side, frame_row(frames, index),
                                       bar_path=bar_path_at(frames, index), bar_trunk=bar_trunk(run.summary))
            except SquatError as e:
                st.error(str(e))
            else:
                st.image(image, channels="BGR", width="stretch", caption=frame_caption(frames, index))
        with right:
            selected_time = float(frames["time_s"].iloc[index]) if count else None
            st.html(chart_legend_html(bar=has_bar(frames)))
            for i, chart in enumerate(time_charts(frames, reps, selected_time)):
                chart_key = f"{prefix}:chart{i}"
                st.altair_chart(chart, width="stretch", key=chart_key, selection_mode="pick",
                                on_select=functools.partial(_pick_frame, chart_key, frame_key, frames))


def _pick_frame(chart_key: str, frame_key: str, frames: pd.DataFrame) -> None:
    """A click on a time chart moves the viewer to that frame (runs before the rerun, so the slider follows)."""
    index = picked_frame(st.session_state.get(chart_key), frames)
    if index is not None:
        st.session_state[frame_key] = index


def comparison(run: StoredRun) -> None:
    """Choose a reference lifter (past analyses, closest build first, or a new clip), then show both."""
    prefix = f"compare:{run.entry.key}"
    root = str(store().root)
    st.subheader("Compare with a reference lifter")
    with st.expander("Upload a reference clip", expanded=False):
        upload = st.file_uploader("Reference lifter's video", type=VIDEO_TYPES, key=f"{prefix}:upload",
                                  help="analysed and kept like any clip; it does not replace your analysis")
    if upload is not None and upload.file_id != st.session_state.get(f"{prefix}:handled_upload"):
        st.session_state[f"{prefix}:handled_upload"] = upload.file_id
        entry = analyse_upload(upload, reference_settings(run.summary), open_it=False)
        if entry is not None and entry.key != run.entry.key:
            st.session_state[f"{prefix}:ref"] = entry.key

    entries = {e.key: e for e in store().list()}
    ranked = reference_candidates(run.entry.key, run.summary.get("proportions") or {},
                                  {key: load_summary(root, key).get("proportions") or {} for key in entries})
    if ranked.empty:
        st.info("There is no other analysis to compare with yet: upload a reference lifter's clip above "
                "(or analyse one from the sidebar).", icon=":material/group:")
        return
    distance = dict(zip(ranked["key"], ranked["distance"]))
    ref_key_state = f"{prefix}:ref"
    if st.session_state.get(ref_key_state) not in distance:
        st.session_state[ref_key_state] = ranked["key"].iloc[0]

    def label(key: str) -> str:
        entry = entries[key]
        return reference_label(entry.clip_name, entry.created.astimezone().strftime("%d %b %H:%M"), distance[key])

    c1, c2, c3, c4 = st.columns([3, 1, 1, 2], vertical_alignment="bottom")
    ref_key = c1.selectbox("Reference lifter (closest build first)", list(ranked["key"]), key=ref_key_state,
                           format_func=label, help="build distance: how different femur/torso and shin/femur are "
                                                   "(0 = same build, 0.1 ≈ one ratio 10 % off)")
    try:
        ref = load_run(root, ref_key)
    except SquatError as e:
        st.error(str(e))
        return
    you_reps, ref_reps = run.reps, ref.reps
    if not len(you_reps) or not len(ref_reps):
        st.info(f"{'Your clip' if not len(you_reps) else 'The reference clip'} has no full rep to line up.")
    else:
        you_row = c2.selectbox("Your rep", range(len(you_reps)), key=f"{prefix}:you_rep",
                               format_func=lambda r: rep_label(you_reps, r))
        ref_row = c3.selectbox("Reference rep", range(len(ref_reps)), key=f"{prefix}:ref_rep",
                               format_func=lambda r: rep_label(ref_reps, r))
        method = c4.segmented_control("Line reps up", list(ALIGN_METHODS), key=f"{prefix}:method",
                                      default="phase", format_func=ALIGN_METHODS.get) or "phase"
        comparison_viewer(run, ref, int(you_row), int(ref_row), method)

    left, right = st.columns(2)
    you_props, ref_props = run.summary.get("proportions") or {}, ref.summary.get("proportions") or {}
    with left:
        st.markdown("**Builds**")
        st.dataframe(proportions_display(you_props, ref_props), hide_index=True, width="stretch",
                     key=f"{prefix}:proportions")
        for line in implications(you_props, ref_props):
            st.markdown(line)
        if caveat := torso_caveat(you_props, ref_props):
            st.caption(caveat)
    with right:
        st.markdown("**Per rep, mean (you vs reference)**")
        st.dataframe(summary_display(you_reps, ref_reps), hide_index=True, width="stretch", key=f"{prefix}:summary")


@st.fragment
def comparison_viewer(run: StoredRun, ref: StoredRun, you_row: int, ref_row: int, method: str) -> None:
    """One phase slider drives your frame and the reference's frame side by side (optionally the
    reference's ghost over yours), and the overlaid charts of the two aligned reps."""
    prefix = f"compare:{run.entry.key}"
    you_rep, ref_rep = rep_record(run.reps, you_row), rep_record(ref.reps, ref_row)
    aligned = align_reps(run.frames, you_rep, ref.frames, ref_rep, method=method)
    s1, s2 = st.columns([5, 1], vertical_alignment="bottom")
    phase = s1.slider("Phase of the rep (0 start, 0.5 bottom, 1 end)", 0.0, 1.0, 0.5, 0.01, key=f"{prefix}:phase")
    ghost_on = s2.toggle("Ghost", key=f"{prefix}:ghost",
                         help="the reference's pose on your segment lengths, standing on your midfoot")
    try:
        you_index, ref_index, you_phase = synced_frames(aligned, phase, run.frames, you_rep, ref.frames, ref_rep)
    except ValueError as e:
        st.error(str(e))
        return
    you_col, ref_col = st.columns(2)
    for col, lifter, index, shown_phase, who in ((you_col, run, you_index, you_phase, "you"),
                                                 (ref_col, ref, ref_index, phase, "reference")):
        side = lifter.summary.get("side", "right")
        try:
            image = annotate_frame(frame_image(str(lifter.clip), index), keypoints_at(lifter.frames, index), side,
                                   frame_row(lifter.frames, index), bar_path=bar_path_at(lifter.frames, index),
                                   bar_trunk=bar_trunk(lifter.summary))
        except SquatError as e:
            col.error(str(e))
            continue
        if who == "you" and ghost_on:
            ghost = ghost_keypoints(run.frames, you_index, run.summary, ref.frames, ref_index, ref.summary)
            if ghost is None:
                col.caption("No ghost: a segment length or the reference's leg is not known in this frame.")
            else:
                image = draw_ghost(image, ghost, side)
        col.image(image, channels="BGR", width="stretch",
                  caption=f"{who} · phase {shown_phase:.2f} · {frame_caption(lifter.frames, index)}")
    charts = comparison_charts(aligned, phase)
    for col, chart in zip(st.columns(len(charts)), charts):
        col.altair_chart(chart, width="stretch")


def _step(frame_key: str, delta: int, count: int) -> None:
    st.session_state[frame_key] = clamp_frame(st.session_state.get(frame_key, 0) + delta, count)


def welcome() -> None:
    st.title("Squat form check")
    st.markdown(
        "Film a set of squats **from the side, at hip height, with the whole body in view**, then upload "
        "the clip in the sidebar (or try the sample). You get the skeleton on every frame, knee and hip "
        "angles, trunk lean and moment arms over time, each rep's depth and tempo, and what to fix."
    )
    st.info("Upload a clip or press **Try a sample clip** in the sidebar to start.", icon=":material/arrow_back:")


# --------------------------------------------------------------------------- page


def main() -> None:
    st.set_page_config(page_title="Squat form check", page_icon=":material/fitness_center:", layout="wide")
    if "open_key" not in st.session_state and st.query_params.get("open"):
        st.session_state["open_key"] = st.query_params["open"]
    intake()
    past_analyses()
    key = st.session_state.get("open_key")
    if not key:
        welcome()
        return
    try:
        run = load_run(str(store().root), key)
    except SquatError as e:
        st.error(str(e))
        welcome()
        return
    show_results(run)


main()
