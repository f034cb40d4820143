"""OpenPose with a MobileNet-thin body: tf-pose-estimation's `mobilenet_thin`, in PyTorch.

MobileNetV1 at depth multiplier 0.75, cut after Conv2d_11; features from strides 4, 8 and 8
are concatenated and fed to six refinement stages of separable convolutions. Each stage has
a PAF branch (TF `L1`, 38 channels) and a heatmap branch (TF `L2`, 19 channels).
Batch norm is folded into the pointwise biases of the converted weights, so there is none here.

Weights come from `tools/convert_mobilenet_thin.py`; loading them is the loader's job.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from squat.skeleton import FOOT_POINTS, N_HEATMAPS, N_PAFS

PREPROCESS = "bgr_raw"  # OpenCV BGR pixel values 0..255 as they are: no scaling, no mean

# (name, output channels, stride); Conv2d_0 is a full 3x3 conv, the rest separable 3x3.
BACKBONE: list[tuple[str, int, int]] = [
    ("Conv2d_0", 24, 2),
    ("Conv2d_1", 48, 1),
    ("Conv2d_2", 96, 2),
    ("Conv2d_3", 96, 1),
    ("Conv2d_4", 192, 2),
    ("Conv2d_5", 192, 1),
    ("Conv2d_6", 384, 1),
    ("Conv2d_7", 384, 1),
    ("Conv2d_8", 384, 1),
    ("Conv2d_9", 384, 1),
    ("Conv2d_10", 384, 1),
    ("Conv2d_11", 384, 1),
]
# Backbone outputs concatenated as features; Conv2d_3 (stride 4) is max-pooled to stride 8 first.
FEATURE_TAPS = ("Conv2d_3", "Conv2d_7", "Conv2d_11")
FEATURE_CHANNELS = sum(c for name, c, _ in BACKBONE if name in FEATURE_TAPS)  # 864

# One branch of a stage as (kernel, output channels) of separable convs, all with ReLU;
# a final separable 1x1 conv without ReLU gives the branch's maps.
STAGE1_BRANCH: list[tuple[int, int]] = [(3, 64), (3, 64), (3, 64), (1, 256)]
STAGE_N_BRANCH: list[tuple[int, int]] = [(3, 64), (3, 64), (3, 64), (1, 64)]
N_STAGES = 6


class TFSamePad(nn.Module):
    """TensorFlow 'SAME' padding for a strided conv: on even sizes the one pixel of padding
    goes bottom/right only; PyTorch's symmetric padding would shift the sampling grid and
    change every map (max difference 0.8 against the TF graph)."""

    def __init__(self, kernel: int, stride: int):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size in (x.shape[-1], x.shape[-2]):  # F.pad wants the last dim first
            out = -(-size // self.stride)  # ceil: 'SAME' keeps ceil(size / stride) outputs
            total = max((out - 1) * self.stride + self.kernel - size, 0)
            pads += [total // 2, total - total // 2]
        return F.pad(x, pads)


def _conv(c_in: int, c_out: int, kernel: int, stride: int, *, separable: bool, relu: bool) -> nn.Sequential:
    """A (separable) conv as named layers: pad?, depthwise? (no bias), conv/pointwise, relu?."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    padding = kernel // 2  # stride 1 'SAME' with an odd kernel is symmetric
    if stride > 1:
        layers["pad"], padding = TFSamePad(kernel, stride), 0
    if separable:
        layers["depthwise"] = nn.Conv2d(c_in, c_in, kernel, stride, padding, groups=c_in, bias=False)
        layers["pointwise"] = nn.Conv2d(c_in, c_out, 1)
    else:
        layers["conv"] = nn.Conv2d(c_in, c_out, kernel, stride, padding)
    if relu:
        layers["relu"] = nn.ReLU(inplace=True)
    return nn.Sequential(layers)


def _branch(c_in: int, spec: list[tuple[int, int]], c_out: int) -> nn.Sequential:
    layers = []
    for kernel, width in spec:
        layers.append(_conv(c_in, width, kernel, 1, separable=True, relu=True))
        c_in = width
    layers.append(_conv(c_in, c_out, 1, 1, separable=True, relu=False))
    return nn.Sequential(*layers)


def _stage(c_in: int, spec: list[tuple[int, int]]) -> nn.ModuleDict:
    return nn.ModuleDict({"paf": _branch(c_in, spec, N_PAFS), "heat": _branch(c_in, spec, N_HEATMAPS)})


class MobileNetThin(nn.Module):
    """forward(x): x (N, 3, H, W) float32 BGR 0..255, H and W multiples of 8
    -> (heatmaps (N, 19, H/8, W/8), pafs (N, 38, H/8, W/8)) of the last stage."""

    def __init__(self) -> None:
        super().__init__()
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        c_in = 3
        for name, c_out, stride in BACKBONE:
            layers[name] = _conv(c_in, c_out, 3, stride, separable=name != "Conv2d_0", relu=True)
            c_in = c_out
        self.backbone = nn.Sequential(layers)
        # kernel 2 stride 2 with ceil_mode equals TF 'SAME' max pooling (padding never wins the max)
        self.pool = nn.MaxPool2d(2, 2, ceil_mode=True)

        # later stages also see the previous stage's PAFs and heatmaps
        later_in = N_PAFS + N_HEATMAPS + FEATURE_CHANNELS
        self.stages = nn.ModuleList(
            [_stage(FEATURE_CHANNELS, STAGE1_BRANCH)]
            + [_stage(later_in, STAGE_N_BRANCH) for _ in range(N_STAGES - 1)]
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone's strides 4 (pooled), 8 and 8 concatenated: (N, 864, H/8, W/8)."""
        # NHWC makes oneDNN's depthwise convs 2-3x faster on CPU; every layer keeps the layout
        x = x.contiguous(memory_format=torch.channels_last)
        taps = []
        for name, layer in self.backbone.named_children():
            x = layer(x)
            if name in FEATURE_TAPS:
                taps.append(x)
        return torch.cat([self.pool(taps[0]), *taps[1:]], dim=1)

    def refine(self, features: torch.Tensor, x: torch.Tensor | None = None, stages: nn.ModuleList | None = None
               ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor]:
        """The stages (default all six) on the features, from x (default the features, the first
        stage's input): their last heatmaps and PAFs (None without a stage), and the last output
        concatenated with the features (what a further stage sees). Training runs it in parts."""
        x = features if x is None else x
        heatmaps = pafs = None
        for stage in self.stages if stages is None else stages:
            pafs, heatmaps = stage["paf"](x), stage["heat"](x)
            x = torch.cat([pafs, heatmaps, features], dim=1)  # TF order: L1, L2, features
        return heatmaps, pafs, x

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        heatmaps, pafs, _ = self.refine(self.features(x))
        return heatmaps.contiguous(), pafs.contiguous()


class MobileNetThinFeet(MobileNetThin):
    """MobileNetThin plus a seventh branch for the feet: heatmaps of r_heel, r_toe, l_heel,
    l_toe (FOOT_POINTS) after the 19 body heatmaps, so forward gives (N, 23, h, w) heatmaps
    and the same 38 PAFs. The branch reads what a further stage would (the last stage's maps
    and the features), so the ankles it needs are already found; no foot PAFs: a foot point
    belongs to the person whose ankle is nearest (decode.attach_feet)."""

    def __init__(self) -> None:
        super().__init__()
        self.feet = _branch(N_PAFS + N_HEATMAPS + FEATURE_CHANNELS, STAGE_N_BRANCH, len(FOOT_POINTS))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        heatmaps, pafs, last = self.refine(self.features(x))
        return torch.cat([heatmaps, self.feet(last)], dim=1).contiguous(), pafs.contiguous()
