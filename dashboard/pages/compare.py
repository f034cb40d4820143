"""Side by side with a reference lifter: choose one (past analyses, closest build first, or a new
clip), line a rep of each up by phase (one slider drives both frames, optionally a ghost), compare builds."""
from __future__ import annotations

import streamlit as st

from dashboard import state
from dashboard.presenters import (
    ALIGN_METHODS,
    bar_path_at,
    bar_trunk,
    comparison_charts,
    frame_caption,
    frame_row,
    ghost_keypoints,
    proportions_display,
    reference_candidates,
    reference_label,
    reference_settings,
    rep_label,
    rep_record,
    summary_display,
    synced_frames,
    torso_caveat,
)
from dashboard.resources import VIDEO_TYPES, analyse_upload, frame_image, load_run, load_summary, store, visible_entries
from dashboard.state import CompareKeys
from squat.compare import align_reps, implications
from squat.draw.overlay import annotate_frame, draw_ghost
from squat.errors import SquatError
from squat.results import keypoints_at
from squat.store import StoredRun


def comparison(run: StoredRun) -> None:
    """Choose a reference lifter (past analyses, closest build first, or a new clip), then show both."""
    keys = CompareKeys(run.entry.key)
    root = str(store().root)
    st.subheader("Compare with a reference lifter")
    _reference_upload(run, keys)

    entries = {e.key: e for e in visible_entries()}
    ranked = reference_candidates(run.entry.key, run.summary.get("proportions") or {},
                                  {key: load_summary(root, key).get("proportions") or {} for key in entries})
    if ranked.empty:
        st.info("There is no other analysis to compare with yet: upload a reference lifter's clip above "
                "(or analyse one from the sidebar).", icon=":material/group:")
        return
    distance = dict(zip(ranked["key"], ranked["distance"]))
    if st.session_state.get(keys.ref) not in distance:  # none chosen yet, or it was deleted: the closest
        st.session_state[keys.ref] = ranked["key"].iloc[0]

    def label(key: str) -> str:
        entry = entries[key]
        return reference_label(entry.clip_name, entry.created.astimezone().strftime("%d %b %H:%M"), distance[key])

    c1, c2, c3, c4 = st.columns([3, 1, 1, 2], vertical_alignment="bottom")
    ref_key = c1.selectbox("Reference lifter (closest build first)", list(ranked["key"]), key=keys.ref,
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
        you_row = c2.selectbox("Your rep", range(len(you_reps)), key=keys.you_rep,
                               format_func=lambda r: rep_label(you_reps, r))
        ref_row = c3.selectbox("Reference rep", range(len(ref_reps)), key=keys.ref_rep,
                               format_func=lambda r: rep_label(ref_reps, r))
        method = c4.segmented_control("Line reps up", list(ALIGN_METHODS), key=keys.method,
                                      default="phase", format_func=ALIGN_METHODS.get) or "phase"
        comparison_viewer(run, ref, int(you_row), int(ref_row), method)

    _builds_and_reps(run, ref, keys)


def _reference_upload(run: StoredRun, keys: CompareKeys) -> None:
    """A new reference clip is analysed with your clip's settings and chosen, without opening it."""
    with st.expander("Upload a reference clip", expanded=False):
        upload = st.file_uploader("Reference lifter's video", type=VIDEO_TYPES, key=keys.upload,
                                  help="analysed and kept like any clip; it does not replace your analysis")
    if upload is not None and state.upload_is_new(upload.file_id, keys.handled_upload):
        state.mark_upload_handled(upload.file_id, keys.handled_upload)
        entry = analyse_upload(upload, reference_settings(run.summary), open_it=False)
        if entry is not None and entry.key != run.entry.key:
            st.session_state[keys.ref] = entry.key


def _builds_and_reps(run: StoredRun, ref: StoredRun, keys: CompareKeys) -> None:
    """The two builds with what their difference implies, and the per-rep means side by side."""
    left, right = st.columns(2)
    you_props, ref_props = run.summary.get("proportions") or {}, ref.summary.get("proportions") or {}
    with left:
        st.markdown("**Builds**")
        st.dataframe(proportions_display(you_props, ref_props), hide_index=True, width="stretch",
                     key=keys.proportions)
        for line in implications(you_props, ref_props):
            st.markdown(line)
        if caveat := torso_caveat(you_props, ref_props):
            st.caption(caveat)
    with right:
        st.markdown("**Per rep, mean (you vs reference)**")
        st.dataframe(summary_display(run.reps, ref.reps), hide_index=True, width="stretch", key=keys.summary)


@st.fragment
def comparison_viewer(run: StoredRun, ref: StoredRun, you_row: int, ref_row: int, method: str) -> None:
    """One phase slider drives your frame and the reference's frame side by side (optionally the
    reference's ghost over yours), and the overlaid charts of the two aligned reps."""
    keys = CompareKeys(run.entry.key)
    you_rep, ref_rep = rep_record(run.reps, you_row), rep_record(ref.reps, ref_row)
    aligned = align_reps(run.frames, you_rep, ref.frames, ref_rep, method=method)
    s1, s2 = st.columns([5, 1], vertical_alignment="bottom")
    phase = s1.slider("Phase of the rep (0 start, 0.5 bottom, 1 end)", 0.0, 1.0, 0.5, 0.01, key=keys.phase)
    ghost_on = s2.toggle("Ghost", key=keys.ghost,
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
