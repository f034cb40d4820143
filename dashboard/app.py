"""The dashboard's one page, run top to bottom on every rerun: the sidebar, then the open analysis
(dashboard.pages.results, with its comparison) or the welcome page."""
from __future__ import annotations

import streamlit as st

from dashboard import state
from dashboard.pages.results import show_results
from dashboard.pages.welcome import welcome
from dashboard.resources import follow, load_run, store
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
    state.open_run(entry.key)


def main() -> None:
    st.set_page_config(page_title="Squat form check", page_icon=":material/fitness_center:", layout="wide")
    state.open_from_url()
    intake()
    past_analyses()
    follow_running_job()
    key = state.open_key()
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
