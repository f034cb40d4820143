"""What a lifter sees when the page itself fails unexpectedly: one line with a short reference,
never a traceback. The traceback goes to app.log in the data folder under that reference, where
the host finds it when the lifter passes the reference on. (A failed analysis says why on its own:
the worker keeps its traceback in worker.log, squat/jobs.py.)"""
from __future__ import annotations

import functools
from typing import Callable, TypeVar

import streamlit as st

from dashboard.resources import store
from squat.errors import log_failure

LOG_NAME = "app.log"
F = TypeVar("F", bound=Callable)


def guarded(draw: F) -> F:
    """`draw` (the page, or a fragment of it) with its unexpected failures shown as one st.error
    line and logged. Streamlit's own reruns and stops are not Exceptions and pass through."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        try:
            return draw(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a lifter never sees a traceback
            ref = log_failure(store().root / LOG_NAME, exc)
            st.error(f"Something went wrong on this page (ref {ref}). Your analyses are safe: reload the page "
                     f"and try again, and if it keeps happening, give the host the ref {ref}.",
                     icon=":material/error:")
    return wrapper  # type: ignore[return-value]
