"""The sidebar: the intake (upload or the sample, model and camera-side leg), the account (hosted with
a login) and the past analyses."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import state
from dashboard.failures import guarded
from dashboard.presenters import SIDES, analysis_settings, entry_label, model_choices
from dashboard.resources import (
    VIDEO_TYPES,
    analyse,
    analyse_upload,
    delete_run,
    jobs,
    published_keys,
    store,
    visible_entries,
)
from dashboard.state import SIDEBAR
from squat.settings import PLATE_CM_RANGE, PlateSettings, Settings

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "squat_side.mp4"
SIDE_LABELS = {"auto": "detect automatically", "left": "left leg", "right": "right leg"}
OPEN_LICENCES = ("Apache-2.0", "MIT", "BSD-3-Clause")  # any other model licence gets a caption


def intake() -> Settings:
    """Upload, sample, model and side; starts an analysis when asked. Returns the chosen settings."""
    st.sidebar.title("Squat form check")
    st.sidebar.caption("Film from the side at hip height, whole body in view. Everything runs on this machine.")
    upload = st.sidebar.file_uploader("Video of your set", type=VIDEO_TYPES, key=SIDEBAR.upload,
                                      help="MP4, MOV, AVI, MKV or M4V straight from the phone")
    sample = st.sidebar.button("Try a sample clip", key=SIDEBAR.sample, icon=":material/play_circle:",
                               width="stretch", help="One rendered barbell squat, side-on (samples/squat_side.mp4)")
    settings = _settings()
    again = upload is not None and st.sidebar.button("Analyse again with these settings", key=SIDEBAR.reanalyse,
                                                     width="stretch")

    path = state.take_analyse_path()
    if path:
        analyse(path, path.name, settings)
    elif sample:
        analyse(SAMPLE, SAMPLE.name, settings)
    elif upload is not None and (again or state.upload_is_new(upload.file_id)):
        state.mark_upload_handled(upload.file_id)
        analyse_upload(upload, settings)
    return settings


def _settings() -> Settings:
    """The Settings expander: the installed models (with how to fetch the others) and the leg."""
    with st.sidebar.expander("Settings", expanded=False):
        choices = model_choices()
        by_name = {c.name: c for c in choices if c.installed}
        model = st.selectbox("Pose model", list(by_name), key=SIDEBAR.model,
                             format_func=lambda n: f"{n} ({by_name[n].size_mb:g} MB, {by_name[n].licence})")
        if by_name[model].licence not in OPEN_LICENCES:
            st.caption(f"⚠️ {by_name[model].licence_note}")
        for c in choices:
            if not c.installed:
                st.caption(f"{c.name} ({c.size_mb:g} MB, {c.licence}) is not downloaded: `{c.fetch_command}`")
        side = st.selectbox("Leg facing the camera", SIDES, key=SIDEBAR.side, format_func=SIDE_LABELS.get)
        plate_cm = st.number_input("Plate diameter (cm)", min_value=float(PLATE_CM_RANGE[0]),
                                   max_value=float(PLATE_CM_RANGE[1]), value=round(PlateSettings().diameter_m * 100, 1), step=0.5,
                                   key=SIDEBAR.plate_cm, help="of the plate facing the camera: 45 for every bumper and "
                                   "competition plate. The bar speed's metres come from it.")
    return analysis_settings(model, side, plate_cm=plate_cm)


def past_analyses() -> None:
    """Every stored analysis this session may see, newest first: open it (the open one is
    highlighted) or delete it."""
    entries = visible_entries()
    st.sidebar.subheader("Past analyses")
    if not entries:
        st.sidebar.caption(f"None yet. They are kept in {store().root}.")
        return
    current, shared = state.open_key(), published_keys()
    for entry in entries:
        when = entry.created.astimezone().strftime("%d %b %H:%M")
        details = entry_label(entry.clip_name, when, entry.rep_count, entry.mean_depth)
        left, right = st.sidebar.columns([5, 1], vertical_alignment="top")
        left.button(entry.clip_name, key=SIDEBAR.open(entry.key), on_click=state.open_run, args=(entry.key,),
                    width="stretch", type="primary" if entry.key == current else "secondary",
                    help=f"{details}; model {entry.model}, {entry.side} leg")
        if entry.key in shared:  # published by the host for every lifter: read-only
            left.caption(f"reference lifter · {details.removeprefix(f'{entry.clip_name} · ')}")
            continue
        left.caption(details.removeprefix(f"{entry.clip_name} · "))
        right.button(":material/delete:", key=SIDEBAR.delete(entry.key), on_click=guarded(delete_run), args=(entry.key,),
                     help=f"Delete this analysis of {entry.clip_name}", type="tertiary")


def account() -> None:
    """Hosted: this browser keeps its analyses; with the host's login, sign in to find them on any
    device (what this browser analysed before goes with you), or sign out."""
    if not state.hosted():
        return
    state.remember_browser()
    if not state.login_configured():
        return
    previous = state.take_hand_over()
    if previous:
        jobs().hand_over(previous, state.owner())
    if state.signed_in():
        who = st.user.get("name") or st.user.get("email") or st.user.get("sub")
        st.sidebar.caption(f"Signed in as **{who}**: your analyses are yours on any device.")
        st.sidebar.button("Sign out", key=SIDEBAR.sign_out, on_click=st.logout, icon=":material/logout:",
                          width="stretch")
    else:
        st.sidebar.button("Sign in", key=SIDEBAR.sign_in, on_click=st.login, icon=":material/login:",
                          width="stretch")
        st.sidebar.caption("Signed out, your analyses stay with this browser. Sign in to find them on any device.")
