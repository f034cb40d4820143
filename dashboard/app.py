"""The dashboard's one page, run top to bottom on every rerun: the sidebar, then the open analysis
(dashboard.pages.results, with its comparison) or the welcome page."""
from __future__ import annotations

import streamlit as st

from dashboard import state
from dashboard.pages.results import show_results
from dashboard.pages.welcome import welcome
from dashboard.resources import can_open, follow, jobs, load_run, store
from dashboard.sidebar import intake, past_analyses
from squat.errors import SquatError


def follow_running_job() -> None:
    """A session (or a refreshed page, or a tab opened from the URL) that follows a job shows its
    progress, then opens its analysis."""
    job_id = state.job()
    if not job_id:
        return
    try:
        entry = follow(job_id)
    except SquatError as e:
        st.error(str(e), icon=":material/error:")
        return
    if state.hosted():  # whoever holds the private link owns the analysis from now on
        jobs().adopt(job_id, state.owner())
    state.open_run(entry.key)


def main() -> None:
    st.set_page_config(page_title="Squat form check", page_icon=":material/fitness_center:", layout="wide")
    state.open_from_url()
    intake()
    follow_running_job()  # before the sidebar's list: a private link's analysis joins it
    past_analyses()
    key = state.open_key()
    if key and not can_open(key):
        st.error("That analysis is private: open it with the private link its owner has.", icon=":material/lock:")
        state.open_run(None)
        key = None
    if not key:
        welcome()
        return
    try:
        run = load_run(str(store().root), key)
    except SquatError as e:  # e.g. a linked analysis that was deleted
        st.error(str(e))
        welcome()
        return
    show_results(run)
