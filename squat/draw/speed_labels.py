"""The bar's speed on the video frame: its vertical velocity beside the plate, and each rep's mean
concentric velocity (MCV) for a moment after the rep ends.

The video's chart band has no lane for the speed (its panel is not `in_video`, squat.measures), so
the number is written where the lifter looks: at the bar. These build labels for
`annotate_frame(labels=...)`, which places them with its own, clear of the skeleton and out of the
chart band. Text, units and colours come from the measures' declarations.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from squat.draw.overlay import (
    DEFAULT_STYLE,
    Label,
    OverlayStyle,
    Point,
    bgr,
    frame_scale,
    label_extent,
    label_spots,
    row_number,
    scaled_px,
)
from squat.measures import FRAME, REP

VELOCITY, MCV, LOSS = FRAME["bar_velocity_ms"], REP["mcv_ms"], REP["velocity_loss_pct"]


@dataclass(frozen=True)
class SpeedLabelStyle:
    velocity_size: float = 0.7  # × the overlay's font size: small, like the moment-arm labels
    rep_top_size: float = 0.85
    rep_top_s: float = 1.5  # how long a rep's MCV stays up after the rep ends (cut short by the next rep)
    still_ms: float = 0.05  # slower than this the bar reads as held still: no up/down cue (the plate's jitter)


SPEED_STYLE = SpeedLabelStyle()

# Beside the plate first (the trunk runs down from it, the head up), then the diagonals.
_BESIDE = tuple(np.array(d) / math.hypot(*d) for d in ((1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1),
                                                        (0, 1), (0, -1)))
# Above the plate first: at the top of a rep the lifter stands and the plate is on the shoulders.
_ABOVE = tuple(np.array(d) / math.hypot(*d) for d in ((0, -1), (1, -2), (-1, -2), (1, -1), (-1, -1), (1, 0),
                                                       (-1, 0), (1, 1), (-1, 1)))


def velocity_text(velocity_ms: float, still_ms: float = SPEED_STYLE.still_ms) -> tuple[str, int]:
    """("0.52 m/s", cue) for a vertical velocity (m/s, up +): cue +1 rising, -1 sinking, 0 held
    still; ("", 0) where not known."""
    if not math.isfinite(velocity_ms):
        return "", 0
    cue = 0 if abs(velocity_ms) < still_ms else int(math.copysign(1, velocity_ms))
    return VELOCITY.text(abs(velocity_ms)), cue


def rep_top_text(rep: int, mcv_ms: float, loss_pct: float = math.nan) -> str:
    """"rep 2 MCV 0.45 m/s, -12%": a rep's MCV and its loss from the set's fastest (left out when NaN)."""
    text = f"{REP['rep'].short} {rep} {MCV.short} {MCV.text(mcv_ms)}"
    if not math.isfinite(loss_pct):
        return text
    below = round(loss_pct, LOSS.decimals) > 0  # the fastest rep reads "0%", not "-0%"
    return f"{text}, {'-' if below else ''}{LOSS.text(loss_pct if below else 0.0)}"


def rep_top_texts(reps: pd.DataFrame, time_s: np.ndarray, style: SpeedLabelStyle = SPEED_STYLE) -> np.ndarray:
    """(F,) per frame the MCV line of the rep that just ended, from its end frame for
    `style.rep_top_s` or until the next rep starts; "" elsewhere and after a rep whose MCV was not
    measured. The loss is given from the second measured rep on (the first has nothing before it)."""
    time_s = np.asarray(time_s, np.float64)
    out = np.full(len(time_s), "", dtype=object)
    table = reps.reindex(columns=["rep", "start_frame", "end_frame", "mcv_ms", "velocity_loss_pct"])
    if table.empty:  # no reps (an empty reps.csv reads back with untyped columns)
        return out
    table = table.apply(pd.to_numeric, errors="coerce").astype(float).sort_values("end_frame")
    starts = np.sort(table["start_frame"].dropna().to_numpy(np.int64))
    measured = table[np.isfinite(table["mcv_ms"]) & table["end_frame"].between(0, len(time_s) - 1)]
    if measured.empty:
        return out
    first = measured["rep"].min()
    texts = np.array([rep_top_text(int(r.rep), r.mcv_ms, r.velocity_loss_pct if r.rep != first else math.nan)
                      for r in measured.itertuples()], dtype=object)
    end = measured["end_frame"].to_numpy(np.int64)
    stop = np.searchsorted(time_s, time_s[end] + style.rep_top_s, side="left")
    later = np.searchsorted(starts, end, side="right")  # the next rep to start after each end
    stop = np.minimum(stop, np.append(starts, len(time_s))[later])
    frame = np.arange(len(time_s))
    last = np.searchsorted(end, frame, side="right") - 1  # the measured rep that ended last
    shown = (last >= 0) & (frame < stop[np.maximum(last, 0)])
    out[shown] = texts[last[shown]]
    return out


def bar_speed_labels(shape: tuple[int, ...], row: Mapping[str, Any] | None, rep_top: str = "",
                     style: OverlayStyle = DEFAULT_STYLE, speed: SpeedLabelStyle = SPEED_STYLE) -> tuple[Label, ...]:
    """Labels for `annotate_frame(labels=...)` on a frame of `shape`: the bar's vertical velocity
    beside the plate (from `row`'s plate_x, plate_y, plate_radius, bar_velocity_ms; none where any
    is missing) and `rep_top` (e.g. from rep_top_texts) above the plate, else near the frame's top."""
    s = frame_scale(shape, style)
    plate: Point = (row_number(row, "plate_x"), row_number(row, "plate_y"))
    seen = math.isfinite(plate[0]) and math.isfinite(plate[1])
    radius = row_number(row, "plate_radius")
    clear = (radius if math.isfinite(radius) else 0.0) + scaled_px(style.label_pad, s)
    labels = []
    text, cue = velocity_text(row_number(row, "bar_velocity_ms"), speed.still_ms)
    if text and seen:
        extent = label_extent(text, s, speed.velocity_size, style, False, cue != 0)
        labels.append(Label(text, bgr(VELOCITY.colour), label_spots(plate, list(_BESIDE), clear, extent),
                             speed.velocity_size, False, 2, cue))
    if rep_top:
        anchor = plate if seen else (shape[1] / 2, 0.0)  # no plate this frame: the top of the frame
        extent = label_extent(rep_top, s, speed.rep_top_size, style, False)
        labels.append(Label(rep_top, bgr(MCV.colour), label_spots(anchor, list(_ABOVE), clear, extent),
                             speed.rep_top_size, False, 1))
    return tuple(labels)
