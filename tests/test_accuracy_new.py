"""The engine on two short renders of cases the first renders never showed (tests/data/synth_new),
through `python -m squat evaluate --set` end to end: it analyses both clips, then scores them.

- portrait_bw_5deg: bodyweight, portrait 360×640, camera 5° off side-on. Before the validation
  set (issue 12) such a clip read hip angle 7° off and every depth call wrong; now every target.
- side_left_lowbar: camera on the lifter's left, low bar, female body, 640×360. A side view
  (within 15° of side-on, either side); its leg is the left one, its rep and bottom are found.
  The plate hides the trunk and, at depth, the hips: the default network's bones vary (shin and
  femur CVs summed ~0.18), so the squat model reads it too and its steadier read is kept
  (PoseSettings.fallback_unsteady, docs/accuracy-log.md §34): the hip angle, trunk lean and depth
  call, which the default's read failed, pass. Known gaps: the knee in the hole (~6.4° off, the
  default's read 5°) and femur/torso (a low bar).
"""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
NEW = REPO / "tests" / "data" / "synth_new"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    base = tmp_path_factory.mktemp("set")
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "squat", "evaluate", "--set", str(NEW), "--runs", str(base / "runs"),
                           "--no-video", "--json", str(base / "set.json")], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr
    assert "SET TARGETS" in done.stdout
    assert not (base / "runs" / "portrait_bw_5deg" / "annotated.mp4").exists()  # --no-video
    return {**json.loads((base / "set.json").read_text()), "runs": base / "runs"}


def clip(report: dict, name: str) -> dict:
    return report["clips"][name]


def failed(result: dict) -> set[str]:
    return {t["name"] for t in result["targets"] if t["status"] == "FAIL"}


def test_portrait_bodyweight_5_degrees_off_side_on_meets_every_target(report):
    result = clip(report, "portrait_bw_5deg")
    assert result["clip"]["side_view"] and result["view"]["right"]
    assert failed(result) == set()
    assert result["frames"]["detected_share"] > 0.95


def test_camera_on_the_lifters_left_is_a_side_view_measured_on_the_left_leg(report):
    result = clip(report, "side_left_lowbar")
    assert result["clip"]["side_view"] and result["clip"]["camera_side"] == "left"
    assert result["clip"]["our_side"] == "left" and result["view"]["right"]
    assert {"reps missed", "reps invented", "bottom time, worst rep", "knee MAE, all frames", "hip angle MAE",
            "trunk lean MAE", "hip below knee, reps wrong"}.isdisjoint(failed(result))
    # The known gaps: the knee in the hole behind the plate, femur/torso with a low bar.
    assert failed(result) <= {"knee MAE, at depth", "femur/torso error"}


def test_a_clip_whose_bones_the_default_reads_unsteady_is_read_by_the_squat_model_too(report):
    lowbar = json.loads((report["runs"] / "side_left_lowbar" / "summary.json").read_text())["model"]
    assert lowbar["name"] == "mobilenet_thin_squat"
    unsteady = re.fullmatch(r"read with mobilenet_thin_squat: mobilenet_thin's shin and thigh changed length through "
                            r"the clip \(([\d.]+), their length CVs summed; over 0.14\), mobilenet_thin_squat's less "
                            r"\(([\d.]+)\)", lowbar["choice"])
    assert unsteady and float(unsteady[2]) < 0.14 < float(unsteady[1]), lowbar["choice"]


def test_the_set_rows_agree_with_the_clip_results(report):
    rows = {r["clip"]: r for r in report["rows"]}
    assert set(rows) == {"portrait_bw_5deg", "side_left_lowbar"}
    for name, row in rows.items():
        result = clip(report, name)
        assert row["knee_mae"] == pytest.approx(result["frames"]["angles"]["knee_angle"]["mae"])
        assert row["reps_found"] == result["reps"]["found"]
    status = {t["name"]: t["status"] for t in report["targets"]}
    assert status["reps missed"] == status["reps invented"] == status["view verdict wrong"] == "PASS"
