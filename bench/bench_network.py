"""The shipped network's forward pass in the ways PyTorch can run it on a CPU, side by side in one run.

    python bench/bench_network.py [--clip CLIP] [--long-side 424] [--frames 24]

On real frames letterboxed as the pipeline does: fp32 (what ships), channels_last, bf16
autocast (CPUs with AVX512-BF16 or AMX), TorchScript freeze, and batches of 4; where
`onnxruntime` and `onnx` are installed (not requirements: `pip install onnxruntime onnx`), the
same network exported to ONNX Runtime in fp32 and statically quantised to int8. Prints ms per
frame, the ratio to fp32 and the largest heatmap/PAF difference from fp32 (a variant that
changes the maps changes the keypoints: measure it with `squat evaluate` before shipping it).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from squat.io.video import iter_frames  # noqa: E402
from squat.pose.estimator import fit, letterbox, load_estimator, normalise  # noqa: E402
from squat.settings import PoseSettings  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def frames_of(clip: Path, n: int, long_side: int) -> torch.Tensor:
    images = []
    with iter_frames(clip) as reader:
        for frame in reader:
            images.append(frame.image)
            if len(images) == n:
                break
    box = fit(images[0].shape[:2], long_side)
    return torch.from_numpy(normalise(np.stack([letterbox(im, box) for im in images]), "bgr_raw"))


def timed(fn, x: torch.Tensor, batch: int, repeats: int = 3) -> tuple[float, np.ndarray]:
    """Median ms per frame over `repeats` passes through all frames, and the first frame's output."""
    with torch.inference_mode():
        first = fn(x[:batch])  # warm-up (allocation, kernel choice, tracing)
        fn(x[:batch])
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            for i in range(0, len(x) - batch + 1, batch):
                fn(x[i: i + batch])
            runs.append((time.perf_counter() - start) / (len(x) // batch * batch))
    out = torch.cat([t.float() for t in first], dim=1)[0].numpy()
    return 1000 * statistics.median(runs), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", type=Path, default=REPO / "tests" / "data" / "sports2d_crouch.mp4")
    ap.add_argument("--long-side", type=int, default=424)  # the framing's size on the 1080p side renders
    ap.add_argument("--frames", type=int, default=24)
    args = ap.parse_args()
    model = load_estimator(PoseSettings()).model
    x = frames_of(args.clip, args.frames, args.long_side)
    print(f"{args.clip.name}: {len(x)} frames at {x.shape[3]}x{x.shape[2]}, {torch.get_num_threads()} threads")

    variants = {"fp32": (lambda b: model(b), x, 1)}
    cl_model = model.to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    variants["channels_last"] = (lambda b: cl_model(b), x_cl, 1)

    def bf16(b):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return cl_model(b)
    variants["bf16 autocast, channels_last"] = (bf16, x_cl, 1)
    model.to(memory_format=torch.contiguous_format)
    with torch.inference_mode():
        frozen = torch.jit.freeze(torch.jit.trace(model.eval(), x[:1]))
    variants["torchscript frozen"] = (lambda b: frozen(b), x, 1)
    variants["fp32 batch 4"] = (lambda b: model(b), x, 4)
    variants["channels_last batch 4"] = (lambda b: cl_model(b), x_cl, 4)

    variants.update(onnx_variants(model, x))

    base_ms, base_out = None, None
    print(f"{'variant':32s} {'ms/frame':>9s} {'x fp32':>7s} {'max |diff|':>11s}")
    for name, (fn, inputs, batch) in variants.items():
        if "channels_last" in name:
            cl_model.to(memory_format=torch.channels_last)
        else:
            model.to(memory_format=torch.contiguous_format)
        ms, out = timed(fn, inputs, batch)
        base_ms = base_ms or ms
        base_out = base_out if base_out is not None else out
        print(f"{name:32s} {ms:9.1f} {base_ms / ms:7.2f} {np.abs(out - base_out).max():11.4f}")


def onnx_variants(model: torch.nn.Module, x: torch.Tensor) -> dict:
    """ONNX Runtime fp32 and int8 (static, per-channel, 7-bit weights as CPUs without VNNI need,
    calibrated on the first 12 frames), one frame at a time; {} where onnxruntime is absent."""
    try:
        import onnxruntime as ort
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    except ImportError:
        print("onnxruntime not installed: its variants skipped (pip install onnxruntime onnx)")
        return {}
    axes = {"image": {0: "n", 2: "h", 3: "w"}, "heatmaps": {0: "n", 2: "h8", 3: "w8"}, "pafs": {0: "n", 2: "h8", 3: "w8"}}

    class Frames(CalibrationDataReader):
        def __init__(self):
            self.left = iter([{"image": f[None].numpy()} for f in x[:12]])

        def get_next(self):
            return next(self.left, None)

    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    out = {}
    with tempfile.TemporaryDirectory(prefix="bench_network_") as folder:  # a session keeps its model in memory
        fp32, int8 = Path(folder) / "fp32.onnx", Path(folder) / "int8.onnx"
        torch.onnx.export(model.eval(), x[:1], str(fp32), input_names=["image"], output_names=["heatmaps", "pafs"],
                          dynamic_axes=axes, dynamo=False)
        quantize_static(str(fp32), str(int8), Frames(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                        reduce_range=True)
        for name, path in (("onnxruntime fp32", fp32), ("onnxruntime int8", int8)):
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            out[name] = (lambda b, s=session: [torch.from_numpy(m) for m in s.run(None, {"image": b.numpy()})], x, 1)
    return out


if __name__ == "__main__":
    main()
