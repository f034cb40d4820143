"""tools/register_weights.py: new weights in the registry, and the biases measured on the old ones dropped."""
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from register_weights import register  # noqa: E402


def test_new_weights_drop_the_biases_measured_on_the_old_ones_and_the_same_weights_keep_them(tmp_path):
    registry = tmp_path / "registry.json"
    shutil.copyfile(ROOT / "weights" / "registry.json", registry)
    shipped = ROOT / "weights" / "mobilenet_thin_squat.pth"
    shutil.copyfile(shipped, tmp_path / "mobilenet_thin_squat.pth")
    entry = register(tmp_path / "mobilenet_thin_squat.pth", "mobilenet_thin_squat", registry=registry)
    assert entry["hip_bias_at_depth_femur"] == [0.10, 0.04]  # the same weights: still measured
    assert entry["person_height_px"] == 160
    other = tmp_path / "run.pth"
    other.write_bytes(shipped.read_bytes() + b"\0")  # any other file stands in for a new run's weights
    entry = register(other, "mobilenet_thin_squat", note="run X", registry=registry)
    assert "hip_bias_at_depth_femur" not in entry and entry["training"] == "run X"
    assert "person_height_px" not in entry  # read at the engine's 120 until measured again
    saved = {m["name"]: m for m in json.loads(registry.read_text())["models"]}
    assert "hip_bias_at_depth_femur" not in saved["mobilenet_thin_squat"]
    assert saved["mobilenet_thin"]["hip_high_femur"] == 0.16  # other models untouched
