"""Loose values as numbers: table cells and JSON fields that may be None, text, NaN or a numpy scalar."""
from __future__ import annotations

import math


def number(value: object) -> float:
    """float(value); NaN where it is no number (None, text): summary.json writes NaN as null."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def is_finite_number(value: object) -> bool:
    """True for a number that is neither NaN nor infinite; False for None and text as well."""
    return math.isfinite(number(value))
