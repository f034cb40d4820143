"""Bar speed (squat.measure.bar_speed) against the renders' truth, before it is wired into the
outputs: MCV, peak velocity, concentric range of motion and velocity loss per rep.

    python tools/bar_speed_check.py RUNS CLIPS

RUNS: analyses of rendered clips (frames.csv, reps.csv, summary.json per clip folder, e.g. from
tools/retune.py); CLIPS: the renders (truth.csv with bar_height_m). The truth's numbers are the
same functions on the exact bar height with the same rep frames, so only the plate track differs.
The scale is the plate face's (summary plate.px_per_m): the plate's centre moves with the plate.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from squat.measure.bar_speed import bar_speed_per_rep, bar_velocity, rep_velocities, velocity_loss_pct  # noqa: E402


def compare(run: Path, truth_csv: Path) -> pd.DataFrame:
    """One row per rep of one analysed render: measured and true MCV, peak, rise; the set's loss."""
    frames, reps = pd.read_csv(run / "frames.csv"), pd.read_csv(run / "reps.csv")
    truth = pd.read_csv(truth_csv)
    if "plate_x" not in frames or not len(reps) or truth["bar_height_m"].isna().all():
        return pd.DataFrame()
    scale = json.loads((run / "summary.json").read_text())["plate"]["px_per_m"] or np.nan
    t = frames["time_s"].to_numpy(float)
    got = bar_speed_per_rep(frames[["plate_x", "plate_y", "plate_radius"]].to_numpy(float), t, scale, reps)
    height = truth["bar_height_m"].to_numpy(float)[: len(t)]
    want = rep_velocities(height, bar_velocity(height, t), t, reps)
    return pd.DataFrame({
        "clip": run.name[:40], "rep": got["rep"], "mcv": got["mcv_ms"], "mcv_true": want["mcv_ms"],
        "mcv_error": got["mcv_ms"] - want["mcv_ms"], "peak": got["peak_velocity_ms"], "peak_true": want["peak_velocity_ms"],
        "rise_cm": got["concentric_cm"], "rise_true_cm": want["concentric_cm"],
        "loss_pct": velocity_loss_pct(got["mcv_ms"]), "loss_true_pct": velocity_loss_pct(want["mcv_ms"]),
    })


def main(runs: Path, clips: Path) -> None:
    table = pd.concat([compare(run, clips / run.name / "truth.csv") for run in sorted(runs.iterdir())
                       if (clips / run.name / "truth.csv").exists()], ignore_index=True)
    pd.set_option("display.width", 250)
    print(table.round(3).to_string())
    error = table["mcv_error"].abs()
    print(f"MCV |error| mean {error.mean():.3f}, worst {error.max():.3f} m/s; within 0.03 m/s: "
          f"{int((error <= 0.03).sum())} of {len(table)} reps; rise |error| worst "
          f"{(table.rise_cm - table.rise_true_cm).abs().max():.1f} cm")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
