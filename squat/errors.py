"""Errors a user can act on: one line saying what happened and what to do; and, for the failures
nobody foresaw, the short reference a user is shown instead of a traceback."""
from __future__ import annotations

import logging
import secrets
import time
import traceback
from pathlib import Path


class SquatError(Exception):
    """Raised for bad input or missing resources; the CLI prints it as `error: ...`."""


class VideoError(SquatError):
    """The file is not a readable video."""


class WeightsError(SquatError):
    """Weights are missing, corrupt, or do not fit the network."""


class NoLifterError(SquatError):
    """No person was found in the clip."""


def log_failure(log_file: Path, exc: BaseException, what: str = "") -> str:
    """Append an unexpected failure's traceback to log_file under a new short reference (6 hex
    digits: what the user is shown, and passes on to the host); returns it. Where the file cannot
    be written, the traceback goes to Python's log instead."""
    ref = secrets.token_hex(3)
    text = "".join(traceback.format_exception(exc))
    about = f" ({what})" if what else ""
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(log_file, "a") as out:
            out.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} ref {ref}{about}: {text}\n")
    except OSError:
        logging.getLogger(__name__).error("unexpected failure, ref %s%s\n%s", ref, about, text)
    return ref
