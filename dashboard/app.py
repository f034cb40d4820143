"""The dashboard's one page, run top to bottom on every rerun: the sidebar with, last, the progress of
the analysis this session follows (a fragment that polls the job, so the page stays usable), then
the open analysis (dashboard.pages.results, with its comparison) or the welcome page. Once the
followed analysis has its numbers, the page shows them (reps, metrics, charts) while its annotated
video is still being made, then the whole analysis when it is done."""
from __future__ import annotations

import logging
import time
from typing import Optional

import streamlit as st

from dashboard import state
from dashboard.failures import guarded
from dashboard.pages.results import show_results
from dashboard.pages.welcome import welcome
from dashboard.presenters import ProgressMeter
from dashboard.resources import (
    PROGRESS_EVERY_S,
    can_open,
    finished_entry,
    job_progress,
    jobs,
    load_run,
    preview_run,
    store,
)
from dashboard.sidebar import account, intake, past_analyses
from squat.errors import SquatError
from squat.jobs import Job
from squat.store import StoredRun

SLOW_PAGE_S = 1.0  # a click should be answered within this
log = logging.getLogger(__name__)
METER = "_progress_meter:{}"  # a followed job's ProgressMeter, by job id (its rate spans the fragment's reruns)


def follow_running_job() -> None:
    """A session (or a refreshed page, or a tab opened from the URL) that follows a job shows its
    progress until it ends, then opens its analysis. The job runs in a worker: a click reruns the
    page at once, a closed tab leaves the job running."""
    job_id = state.job()
    if not job_id:
        return
    job = jobs().get(job_id)
    if job is not None and not job.finished:
        return  # show_progress draws it
    state.follow_job(None)
    st.session_state.pop(METER.format(job_id), None)
    st.session_state.pop(state.VIDEO_METER.format(job_id), None)
    try:
        entry = finished_entry(job_id)
    except SquatError as e:
        st.error(str(e), icon=":material/error:")
        return
    if state.hosted():  # whoever holds the private link owns the analysis from now on
        jobs().adopt(job_id, state.owner())
    st.toast(f"{entry.clip_name}: {entry.rep_count} rep{'s' * (entry.rep_count != 1)}")
    state.open_run(entry.key)


def early_results() -> Optional[tuple[Job, StoredRun]]:
    """The followed job and its numbers, while its annotated video is still being made. The page
    switches to them once, when they are ready; a lifter who then opens another analysis sees that."""
    job_id = state.job()
    job = jobs().get(job_id) if job_id else None
    run = preview_run(job) if job is not None else None
    if job is None or run is None:
        return None
    if not state.preview_shown(job.id):
        state.mark_preview_shown(job.id)
        state.open_run(None)
    return None if state.open_key() else (job, run)


def show_progress() -> None:
    """The followed job's progress, last in the sidebar: always in view, whatever the page shows.
    (Last, because an element drawn after a polling fragment could vanish when a click's rerun
    and the fragment's crossed: seen once in `bench/bench_hosted.py` with the bar above the page.)"""
    job_id = state.job()
    if job_id:
        with st.sidebar:
            progress(job_id)


@st.fragment(run_every=PROGRESS_EVERY_S)
@guarded
def progress(job_id: str) -> None:
    """The followed job's progress bar, read from its row; the whole page reruns when it ends."""
    job = jobs().get(job_id)
    if job is None or job.finished or (job.preview is not None and not state.preview_shown(job_id)):
        st.rerun()  # ended: open it; numbers ready: show them
    meter = st.session_state.setdefault(METER.format(job_id), ProgressMeter())
    fraction, text = job_progress(job, meter)
    st.progress(fraction, text=text)


def main() -> None:
    """One page run, timed: a run slower than SLOW_PAGE_S is logged (the host's log shows when its
    pages stop answering clicks in time; fragment reruns, the progress polls, are not page runs)."""
    began = time.perf_counter()
    try:
        page()
    finally:
        took = time.perf_counter() - began
        if took > SLOW_PAGE_S:
            log.warning("slow page run: %.2f s", took)


@guarded
def page() -> None:
    st.set_page_config(page_title="Squat form check", page_icon=":material/fitness_center:", layout="wide")
    state.open_from_url()
    intake()
    account()
    follow_running_job()  # before the sidebar's list: a private link's analysis joins it
    early = early_results()  # before the list too: it may close the open analysis
    past_analyses()
    show_progress()
    if early is not None:
        job, run = early
        show_results(run, rendering=job.id)
        return
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
