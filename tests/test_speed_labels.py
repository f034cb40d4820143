"""The bar's speed on the video: its velocity beside the plate, and each rep's MCV as the rep ends,
drawn on a real frame of the short synthetic clip with its true skeleton and plate."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from squat.draw.overlay import annotate_frame, bgr, chart_size
from squat.draw.speed_labels import SPEED_STYLE, bar_speed_labels, rep_top_text, rep_top_texts, velocity_text
from squat.io.seek import read_frames
from squat.measures import FRAME, REP
from squat.skeleton import JOINTS

CLIP = Path(__file__).parent / "data" / "synth_side_short" / "clip.mp4"
TRUTH = pd.read_csv(CLIP.with_name("truth.csv"))
STANDING = 120  # the rep has just ended: the lifter stands, the plate on the shoulders
PLATE_RADIUS = 58.0  # px, as the analysis finds the plate in this clip
BAR = bgr(FRAME["bar_velocity_ms"].colour)
MCV = REP["mcv_ms"]


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return read_frames(CLIP, [STANDING])[STANDING].image


def keypoints(index: int = STANDING) -> np.ndarray:
    row = TRUTH.iloc[index]
    return np.array([(row[f"{j}_x"], row[f"{j}_y"], 1.0) for j in JOINTS], np.float32)


def plate_row(index: int = STANDING, **overrides: float) -> dict:
    row = TRUTH.iloc[index]
    out = {"frame": index, "time_s": row["time_s"], "plate_x": row["plate_x"], "plate_y": row["plate_y"],
           "plate_radius": PLATE_RADIUS, "bar_velocity_ms": 0.52, "rep": 0}
    out.update(overrides)
    return out


def draw(image: np.ndarray, row: dict, rep_top: str = "", chart: np.ndarray | None = None) -> np.ndarray:
    return annotate_frame(image, keypoints(int(row["frame"])), "right", row, chart,
                          labels=bar_speed_labels(image.shape, row, rep_top))


def bar_coloured(image: np.ndarray, tol: int = 40) -> np.ndarray:
    return np.all(np.abs(image.astype(int) - np.array(BAR)) <= tol, axis=-1)


def near(mask: np.ndarray, xy: tuple[float, float], reach: float) -> int:
    """How many pixels of the mask lie within `reach` px of xy (a square)."""
    x, y, r = int(xy[0]), int(xy[1]), int(reach)
    return int(mask[max(0, y - r):y + r, max(0, x - r):x + r].sum())


def test_bar_velocity_is_written_beside_the_plate_in_the_bar_colour(frame):
    row = plate_row()
    out = draw(frame, row)
    plain = annotate_frame(frame, keypoints(), "right", row)
    plate = (row["plate_x"], row["plate_y"])
    reach = PLATE_RADIUS + 80
    assert near(bar_coloured(out), plate, reach) > near(bar_coloured(plain), plate, reach) + 20
    changed = np.abs(out.astype(int) - plain.astype(int)).sum(axis=2) > 0
    ys, xs = np.nonzero(changed)  # only the label's box, just clear of the plate
    assert np.hypot(xs.mean() - plate[0], ys.mean() - plate[1]) < reach
    assert changed.sum() < 0.02 * changed.size


@pytest.mark.parametrize("row", [
    plate_row(bar_velocity_ms=np.nan),
    {k: v for k, v in plate_row().items() if k != "bar_velocity_ms"},  # a clip without a plate: no column
    plate_row(plate_x=np.nan, plate_y=np.nan),  # the plate not seen in this frame
], ids=["nan", "absent", "no plate"])
def test_no_velocity_label_where_the_speed_or_plate_is_unknown(frame, row):
    assert bar_speed_labels(frame.shape, row) == ()
    np.testing.assert_array_equal(draw(frame, row), annotate_frame(frame, keypoints(), "right", row))


def test_velocity_reads_as_speed_with_an_up_or_down_cue():
    unit_text = FRAME["bar_velocity_ms"].text
    assert velocity_text(0.52) == (unit_text(0.52), 1)
    assert velocity_text(-0.31) == (unit_text(0.31), -1)
    assert velocity_text(0.5 * SPEED_STYLE.still_ms)[1] == 0  # the plate's jitter standing: no cue
    assert velocity_text(np.nan) == ("", 0)


def test_the_cue_is_a_triangle_pointing_the_way_the_bar_moves():
    image = np.full((1080, 1920, 3), 90, np.uint8)
    row = {"frame": 0, "plate_x": 900.0, "plate_y": 400.0, "plate_radius": 100.0}
    none = np.full((18, 3), np.nan, np.float32)

    def triangle_rows(velocity: float) -> np.ndarray:
        labelled = dict(row, bar_velocity_ms=velocity)
        out = annotate_frame(image, none, "right", labelled, labels=bar_speed_labels(image.shape, labelled))
        mask = bar_coloured(out, 10)
        ys, xs = np.nonzero(mask)
        left = xs.min()  # the triangle comes first, before the text
        tri = mask[:, left:left + 8]
        rows = np.flatnonzero(tri.any(axis=1))
        return tri[rows].sum(axis=1)

    up, down = triangle_rows(0.52), triangle_rows(-0.52)
    third = len(up) // 3
    assert up[:third].mean() < up[-third:].mean()  # narrow tip on top
    assert down[:third].mean() > down[-third:].mean()


def reps_table() -> pd.DataFrame:
    # 30 fps: rep 1 ends at frame 60, rep 2 (not measured) starts at 80 and ends at 130,
    # rep 3 starts at 200 and ends at 250
    return pd.DataFrame({
        "rep": [1, 2, 3], "start_frame": [10, 80, 200], "bottom_frame": [35, 105, 225],
        "end_frame": [60, 130, 250], "mcv_ms": [0.5, np.nan, 0.4], "velocity_loss_pct": [0.0, np.nan, 20.0],
    })


def test_a_rep_mcv_shows_from_its_end_until_the_next_rep_or_for_a_while():
    time_s = np.arange(320) / 30.0
    texts = rep_top_texts(reps_table(), time_s)
    first, third = rep_top_text(1, 0.5), rep_top_text(3, 0.4, 20.0)
    assert (texts[:60] == "").all()
    assert (texts[60:80] == first).all()  # until rep 2 starts, before its 1.5 s are up
    assert (texts[80:250] == "").all()  # rep 2 had no MCV: nothing after it
    hold = int(round(SPEED_STYLE.rep_top_s * 30))
    assert (texts[250:250 + hold - 1] == third).all()
    assert (texts[250 + hold + 1:] == "").all()


def test_a_clip_without_reps_gets_no_rep_label(tmp_path):
    """An analysis with no rep writes a header-only reps.csv, which reads back with untyped columns
    (a hosted lifter's short clip raised here in the app's frame viewer)."""
    path = tmp_path / "reps.csv"
    pd.DataFrame(columns=list(REP)).to_csv(path, index=False)
    assert (rep_top_texts(pd.read_csv(path), np.arange(30) / 30.0) == "").all()
    assert (rep_top_texts(pd.DataFrame(), np.arange(3) / 30.0) == "").all()


def test_the_loss_is_given_from_the_second_measured_rep_on():
    assert rep_top_text(3, 0.4, 20.0) == f"rep 3 {MCV.short} {MCV.text(0.4)}, -{REP['velocity_loss_pct'].text(20.0)}"
    assert rep_top_text(1, 0.5) == f"rep 1 {MCV.short} {MCV.text(0.5)}"
    texts = rep_top_texts(reps_table(), np.arange(320) / 30.0)
    assert texts[60] == rep_top_text(1, 0.5)  # the first measured rep: no loss, though the table has 0
    late = reps_table().assign(mcv_ms=[np.nan, 0.45, 0.4], velocity_loss_pct=[np.nan, 0.0, 11.0])
    texts = rep_top_texts(late, np.arange(320) / 30.0)
    assert texts[130] == rep_top_text(2, 0.45)  # rep 1 unmeasured: rep 2 is the first measured
    assert texts[250].endswith(f", -{REP['velocity_loss_pct'].text(11.0)}")
    assert (rep_top_texts(reps_table().iloc[:0], np.arange(10) / 30.0) == "").all()
    assert (rep_top_texts(pd.DataFrame({"rep": [1], "end_frame": [3]}), np.arange(10) / 30.0) == "").all()


def test_the_rep_top_label_is_drawn_only_after_a_measured_rep_ends(frame):
    """Frames of the clip around its one rep (ends at frame 117): the MCV appears above the plate
    from the end on, never before, and never for a rep without an MCV."""
    reps = pd.DataFrame({"rep": [1], "start_frame": [28], "end_frame": [117], "mcv_ms": [0.58],
                         "velocity_loss_pct": [0.0]})
    texts = rep_top_texts(reps, TRUTH["time_s"].to_numpy())
    unmeasured = rep_top_texts(reps.assign(mcv_ms=np.nan), TRUTH["time_s"].to_numpy())
    assert (unmeasured == "").all()
    frames = read_frames(CLIP, [100, 116, 117, 125])
    for index, f in frames.items():
        row = plate_row(index, bar_velocity_ms=np.nan)
        out, plain = draw(f.image, row, texts[index]), draw(f.image, row)
        extra = bar_coloured(out) & ~bar_coloured(plain)
        if index < 117:
            assert texts[index] == "" and not extra.any()
        else:
            assert texts[index] == rep_top_text(1, 0.58)
            ys, _ = np.nonzero(extra)
            assert extra.sum() > 30 and ys.mean() < row["plate_y"]  # above the plate, the lifter standing


def test_speed_labels_never_cover_the_chart_band(frame):
    """The plate high up under a pasted chart band: the labels go below the band, never over it."""
    row = plate_row(plate_y=60.0, plate_x=480.0)
    cw, ch = chart_size(frame.shape[1], frame.shape[0])
    chart = np.zeros((ch, cw, 3), np.uint8)
    out = draw(frame, row, rep_top_text(1, 0.58), chart)
    plain = annotate_frame(frame, keypoints(), "right", row, chart)
    band_bottom = round(16 * frame.shape[0] / 1080) + ch  # the band sits its margin (16 px at 1080p) down
    np.testing.assert_array_equal(out[:band_bottom], plain[:band_bottom])
    assert (bar_coloured(out) & ~bar_coloured(plain)).sum() > 30  # both are drawn below it
