"""What a lifter sees when the page itself fails unexpectedly: one line with a short reference,
never a traceback. The traceback goes to app.log in the data folder under that reference, where
the host finds it when the lifter passes the reference on. (A failed analysis says why on its own:
the worker keeps its traceback in worker.log, squat/jobs.py.)"""
from __future__ import annotations

import functools
import logging
import secrets
import time
import traceback
from pathlib import Path
from typing import Callable, TypeVar

import streamlit as st

from dashboard.resources import store

LOG_NAME = "app.log"
log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable)


def record(exc: BaseException, folder: Path) -> str:
    """Append the failure's traceback to folder/app.log under a new short reference; returns it."""
    ref = secrets.token_hex(3)
    text = "".join(traceback.format_exception(exc))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / LOG_NAME, "a") as out:
            out.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} ref {ref}: {text}\n")
    except OSError:  # no log file: the server's own log still has it
        log.error("unexpected failure, ref %s\n%s", ref, text)
    return ref


def guarded(draw: F) -> F:
    """`draw` (the page, or a fragment of it) with its unexpected failures shown as one st.error
    line and logged. Streamlit's own reruns and stops are not Exceptions and pass through."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        try:
            return draw(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a lifter never sees a traceback
            ref = record(exc, store().root)
            st.error(f"Something went wrong on this page (ref {ref}). Your analyses are safe: reload the page "
                     f"and try again, and if it keeps happening, give the host the ref {ref}.",
                     icon=":material/error:")
    return wrapper  # type: ignore[return-value]
