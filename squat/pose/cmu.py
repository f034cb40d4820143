"""CMU OpenPose body network (COCO-18): VGG-19 front end to conv4_4_CPM, then six two-branch stages.

Module names follow the pytorch_advanced book (ch. 4, `OpenPoseNet`): `model0.model.N` is the
front end, `modelS_1` the PAF branch and `modelS_2` the heatmap branch of stage S, each an
nn.Sequential whose convs sit at even indices with a ReLU after them. Layer names in the specs
below are CMU's Caffe names, so `weights.py` can map either published layout onto these modules.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from squat.pose.maps import STRIDE
from squat.skeleton import N_HEATMAPS, N_PAFS

FEATURES = 128  # channels of conv4_4_CPM, fed to every stage


@dataclass(frozen=True)
class Conv:
    name: str  # CMU Caffe layer name
    cin: int
    cout: int
    k: int  # square kernel, stride 1, "same" padding


POOL = None  # 2×2 max-pool, stride 2
Layer = Conv | None

FRONT_END: tuple[Layer, ...] = (
    Conv("conv1_1", 3, 64, 3), Conv("conv1_2", 64, 64, 3), POOL,
    Conv("conv2_1", 64, 128, 3), Conv("conv2_2", 128, 128, 3), POOL,
    Conv("conv3_1", 128, 256, 3), Conv("conv3_2", 256, 256, 3),
    Conv("conv3_3", 256, 256, 3), Conv("conv3_4", 256, 256, 3), POOL,
    Conv("conv4_1", 256, 512, 3), Conv("conv4_2", 512, 512, 3),
    Conv("conv4_3_CPM", 512, 256, 3), Conv("conv4_4_CPM", 256, FEATURES, 3),
)

BRANCH_OUT = {1: N_PAFS, 2: N_HEATMAPS}  # branch 1 (Caffe "L1") = PAFs, branch 2 ("L2") = heatmaps


def stage_layers(stage: int, branch: int) -> tuple[Conv, ...]:
    """The convs of one branch of one stage (1..6), named as in CMU's pose_deploy_linevec."""
    out, L = BRANCH_OUT[branch], f"L{branch}"
    if stage == 1:
        return (
            Conv(f"conv5_1_CPM_{L}", FEATURES, 128, 3), Conv(f"conv5_2_CPM_{L}", 128, 128, 3),
            Conv(f"conv5_3_CPM_{L}", 128, 128, 3), Conv(f"conv5_4_CPM_{L}", 128, 512, 1),
            Conv(f"conv5_5_CPM_{L}", 512, out, 1),
        )
    cin = N_PAFS + N_HEATMAPS + FEATURES  # previous stage's PAFs, heatmaps, then the features
    return (
        Conv(f"Mconv1_stage{stage}_{L}", cin, 128, 7),
        *(Conv(f"Mconv{i}_stage{stage}_{L}", 128, 128, 7) for i in range(2, 6)),
        Conv(f"Mconv6_stage{stage}_{L}", 128, 128, 1), Conv(f"Mconv7_stage{stage}_{L}", 128, out, 1),
    )


STAGES = range(1, 7)
BRANCHES = (1, 2)


def blocks() -> dict[str, tuple[tuple[Layer, ...], bool]]:
    """Our module path of every block → (its layers, whether its last conv has a ReLU)."""
    # Registration order is the book's (all PAF branches, then all heatmap branches), so
    # state_dict() lists keys in the same order as its files.
    out: dict[str, tuple[tuple[Layer, ...], bool]] = {"model0.model": (FRONT_END, True)}
    for branch in BRANCHES:
        for stage in STAGES:
            out[f"model{stage}_{branch}"] = (stage_layers(stage, branch), False)
    return out


def conv_table() -> dict[str, Conv]:
    """Module path of every conv (e.g. "model1_1.8") → its spec; the one source of key mappings."""
    table: dict[str, Conv] = {}
    for prefix, (layers, relu_last) in blocks().items():
        for index, layer in _indexed(layers, relu_last):
            if layer is not None:
                table[f"{prefix}.{index}"] = layer
    return table


def _indexed(layers: tuple[Layer, ...], relu_last: bool) -> list[tuple[int, Layer]]:
    """Position of each layer inside its nn.Sequential (a conv with a ReLU takes two slots)."""
    out, i = [], 0
    for n, layer in enumerate(layers):
        out.append((i, layer))
        has_relu = layer is not None and (relu_last or n < len(layers) - 1)
        i += 2 if has_relu else 1
    return out


def _sequential(layers: tuple[Layer, ...], relu_last: bool) -> nn.Sequential:
    modules: list[nn.Module] = []
    for n, layer in enumerate(layers):
        if layer is None:
            modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        modules.append(nn.Conv2d(layer.cin, layer.cout, layer.k, padding=layer.k // 2))
        # A stage's last conv outputs maps that may be negative (PAFs) or tiny: no ReLU there.
        if relu_last or n < len(layers) - 1:
            modules.append(nn.ReLU(inplace=True))
    return nn.Sequential(*modules)


class OpenPoseFeature(nn.Module):
    """The book's `OpenPose_Feature`: VGG-19 to conv4_2, then conv4_3_CPM and conv4_4_CPM."""

    def __init__(self) -> None:
        super().__init__()
        self.model = _sequential(FRONT_END, relu_last=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class OpenPoseNet(nn.Module):
    """(N, 3, H, W) float32, H and W multiples of 8 → final-stage (heatmaps, PAFs) at stride 8."""

    def __init__(self) -> None:
        super().__init__()
        self.model0 = OpenPoseFeature()
        for prefix, (layers, relu_last) in blocks().items():
            if prefix != "model0.model":
                self.add_module(prefix, _sequential(layers, relu_last))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[-2] % STRIDE or x.shape[-1] % STRIDE:
            raise ValueError(f"input height and width must be multiples of {STRIDE}, got {tuple(x.shape[-2:])}")
        features = self.model0(x)
        stage_input = features
        for stage in STAGES:
            pafs = self.get_submodule(f"model{stage}_1")(stage_input)
            heatmaps = self.get_submodule(f"model{stage}_2")(stage_input)
            stage_input = torch.cat([pafs, heatmaps, features], dim=1)  # CMU's concat order
        return heatmaps, pafs
