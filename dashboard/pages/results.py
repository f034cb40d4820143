"""One stored analysis: headline metrics, faults and their cues, the frame viewer with its time charts
and rep table (an st.fragment: it redraws alone), the annotated video, depth per rep and downloads.
The same view shows an analysis early, while its annotated video is still being made: the numbers,
the charts and the frame viewer (it reads the clip itself), the render's progress in the video's place."""
from __future__ import annotations

import functools
from typing import Optional

import pandas as pd
import streamlit as st

from dashboard.failures import guarded
from dashboard.pages.compare import comparison
from dashboard.presenters import (
    HEATMAP_PART_NAMES,
    ProgressMeter,
    at_time,
    chart_legend_html,
    chart_panels,
    clamp_frame,
    fault_notes,
    frame_caption,
    headline_metrics,
    picked_frame,
    rep_bottom_frame,
    rep_table,
    rep_table_formats,
    video_progress,
)
from dashboard.resources import (
    PROGRESS_EVERY_S,
    annotated_jpeg,
    chart_specs,
    depth_chart_spec,
    jobs,
    private_link,
    velocity_chart_spec,
)
from dashboard.state import VIDEO_METER, ViewerKeys
from squat.draw.charts import has_bar_speed
from squat.errors import SquatError
from squat.store import StoredRun

MIME = {".mp4": "video/mp4", ".csv": "text/csv", ".json": "application/json", ".png": "image/png"}
FAULT_ROW_STYLE = "background-color: rgba(228, 87, 86, 0.22)"


def show_results(run: StoredRun, slot: str = "you", rendering: Optional[str] = None) -> None:
    """Everything about one stored analysis. `slot` keeps widget keys apart when two are on a page.
    `rendering`: the id of the job still making this analysis's annotated video (its numbers are
    shown early): the render's progress instead of the video, no downloads or comparison yet."""
    summary, reps = run.summary, run.reps
    keys = ViewerKeys(slot, run.entry.key)
    st.header(run.entry.clip_name)
    st.caption(_run_caption(run))
    choice = summary.get("model", {}).get("choice")  # another model read the clip, and why
    if choice:
        st.caption(f"{choice[0].upper()}{choice[1:]}.")
    if rendering:
        st.info("The annotated video is still being made: these reps, numbers and charts are the analysis's "
                "own. The video and the downloads appear here when it is done (its progress is below).",
                icon=":material/hourglass_top:")
    link = private_link(run.entry.key) if slot == "you" and not rendering else None
    if link:
        st.caption(f"Private link to this analysis, for your other devices: [{link}]({link}) (keep it to yourself)")
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

    if slot == "you" and not rendering and st.toggle("Compare with a reference lifter", key=keys.compare,
                                   help="side by side with another analysis, reps lined up by phase"):
        comparison(run)
        st.divider()

    frame_viewer(run, slot)

    left, right = st.columns([3, 2])
    if rendering:
        with right:  # drawn before the polling fragment on the left: nothing is drawn after it
            _rep_charts(run, reps)
            st.subheader("Downloads")
            st.caption("The files come with the annotated video.")
        with left:
            st.subheader("Annotated video")
            render_progress(rendering)
        return
    with left:
        st.subheader("Annotated video")
        st.video(str(run.annotated))
    with right:
        _rep_charts(run, reps)
        st.subheader("Downloads")
        for name, path in run.downloads.items():
            st.download_button(name, data=functools.partial(path.read_bytes), file_name=name,
                               mime=MIME.get(path.suffix, "application/octet-stream"), on_click="ignore",
                               key=keys.download(name), icon=":material/download:")


@st.fragment(run_every=PROGRESS_EVERY_S)
def render_progress(job_id: str) -> None:
    """The annotated video's progress, in its place; the page reruns when the job is no longer
    making it (done: the whole analysis opens)."""
    job = jobs().get(job_id)
    if job is None or job.state != "running" or job.preview is None:
        st.rerun()
    meter = st.session_state.setdefault(VIDEO_METER.format(job_id), ProgressMeter())
    fraction, text = video_progress(meter, job.stage, job.done, job.total)
    st.progress(fraction, text=text)


def _run_caption(run: StoredRun) -> str:
    """The clip, the model and when: one line under the clip's name."""
    summary = run.summary
    video = summary.get("video", {})
    return (
        f"{video.get('frame_count', len(run.frames))} frames · {video.get('fps', 0):.0f} fps · "
        f"{video.get('width')}×{video.get('height')} · model {summary['model']['name']} on "
        f"{summary['model']['device']} · camera-side leg: {summary.get('side')} · "
        f"analysed {run.entry.created.astimezone():%d %b %Y %H:%M}"
    )


@st.fragment
def frame_viewer(run: StoredRun, slot: str) -> None:
    """Frame slider and step buttons, the annotated frame (optionally a heatmap over it), the time
    charts with a rule at this frame, and the rep table (choosing a rep jumps to its bottom frame)."""
    frames, reps = run.frames, run.reps
    count = len(frames)
    keys = ViewerKeys(slot, run.entry.key)
    if keys.frame not in st.session_state:
        st.session_state[keys.frame] = rep_bottom_frame(reps, 0) if len(reps) else 0

    viewer, table = st.container(), st.container()
    with table:  # drawn first (it sits below): a newly chosen rep moves the slider before it is drawn
        _rep_table(reps, keys, count)

    with viewer:
        st.subheader("Frame by frame")
        left, right = st.columns([3, 2])
        with left:
            st.slider("Frame", 0, max(count - 1, 1), key=keys.frame, disabled=count < 2)
            index = clamp_frame(st.session_state[keys.frame], count)
            b1, b2, b3, b4 = st.columns([1, 1, 2, 2], vertical_alignment="bottom")
            b1.button(":material/chevron_left:", key=keys.prev, on_click=_step, args=(keys.frame, -1, count),
                      help="previous frame", width="stretch")
            b2.button(":material/chevron_right:", key=keys.next, on_click=_step, args=(keys.frame, 1, count),
                      help="next frame", width="stretch")
            heat = b3.toggle("Heatmap", key=keys.heat, help="blend one part's network heatmap over the frame")
            part = b4.selectbox("Part", HEATMAP_PART_NAMES, key=keys.part, disabled=not heat,
                                label_visibility="collapsed")
            _frame(run, index, part if heat else None)
        with right:
            selected_time = float(frames["time_s"].iloc[index]) if count else None
            st.html(chart_legend_html(panels=chart_panels(frames)))
            specs = chart_specs(run.entry.key, run.entry.created.timestamp(), count, frames, reps)
            for i, spec in enumerate(specs):
                st.vega_lite_chart(spec=at_time(spec, selected_time), width="stretch", key=keys.chart(i),
                                   selection_mode="pick",
                                   on_select=functools.partial(_pick_frame, keys.chart(i), keys.frame, frames))


def _rep_charts(run: StoredRun, reps: pd.DataFrame) -> None:
    """Depth per rep, and bar speed per rep where a plate was seen (the charts built once per analysis)."""
    if not len(reps):
        return
    created = run.entry.created.timestamp()
    st.subheader("Depth per rep")
    st.vega_lite_chart(spec=depth_chart_spec(run.entry.key, created, reps), width="stretch")
    if has_bar_speed(reps):
        st.subheader("Bar speed per rep")
        st.vega_lite_chart(spec=velocity_chart_spec(run.entry.key, created, reps), width="stretch")


def _rep_table(reps: pd.DataFrame, keys: ViewerKeys, count: int) -> None:
    """The rep table, faults tinted; a newly chosen row moves the frame to that rep's bottom."""
    st.subheader("Reps")
    if not len(reps):
        st.caption("No reps.")
        return
    shown = rep_table(reps)
    styled = shown.style.apply(
        lambda row: [FAULT_ROW_STYLE if row.get("faults") else ""] * len(row), axis=1
    ).format(rep_table_formats(), na_rep="—")
    event = st.dataframe(styled, key=keys.reps, on_select="rerun", selection_mode="single-row",
                         hide_index=True, width="stretch", placeholder="—")
    rows = list(event.selection.rows) if event is not None else []
    chosen = rows[0] if rows else None
    # Only a change of row moves the frame: a row that stays chosen must not pin the slider.
    if chosen is not None and chosen != st.session_state.get(keys.applied_rep):
        st.session_state[keys.frame] = clamp_frame(rep_bottom_frame(reps, chosen), count)
    st.session_state[keys.applied_rep] = chosen
    st.caption("Choose a rep to jump to its bottom frame. Rows with a fault are tinted.")


def _frame(run: StoredRun, index: int, heat_part: str | None) -> None:
    """Frame `index` with the skeleton drawn on it, over one part's heatmap when `heat_part` is given."""
    try:
        image = annotated_jpeg(run.entry.key, run.entry.created.timestamp(), index, heat_part, run)
    except SquatError as e:
        st.error(str(e))
    else:
        st.image(image, width="stretch", caption=frame_caption(run.frames, index))


@guarded  # a callback runs before the page: its failure gets the same one line
def _pick_frame(chart_key: str, frame_key: str, frames: pd.DataFrame) -> None:
    """A click on a time chart moves the viewer to that frame (runs before the rerun, so the slider follows)."""
    index = picked_frame(st.session_state.get(chart_key), frames)
    if index is not None:
        st.session_state[frame_key] = index


@guarded
def _step(frame_key: str, delta: int, count: int) -> None:
    st.session_state[frame_key] = clamp_frame(st.session_state.get(frame_key, 0) + delta, count)
