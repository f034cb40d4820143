"""The CMU body network, both published key layouts, the registry and model building (no downloads)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from squat.errors import SquatError, WeightsError
from squat.pose import weights
from squat.pose.cmu import STRIDE, OpenPoseNet

BOOK_LAYOUT = "pytorch_advanced download pose_model_scratch.pth (module.model0.N)"
CAFFE_LAYOUT = "CMU Caffe names as in body_pose_model.pth (conv1_1 ... Mconv7_stage6_L2)"

# Key names and shapes as they are in the published files, written out by hand (not derived
# from our tables): pose_model_scratch.pth is saved from nn.DataParallel, body_pose_model.pth
# uses CMU's Caffe layer names.
REAL_BOOK_KEYS = {
    "module.model0.0.weight": (64, 3, 3, 3),
    "module.model0.21.weight": (512, 512, 3, 3),  # conv4_2
    "module.model0.25.weight": (128, 256, 3, 3),  # conv4_4_CPM
    "module.model1_1.8.weight": (38, 512, 1, 1),
    "module.model1_2.8.bias": (19,),
    "module.model2_1.0.weight": (128, 185, 7, 7),
    "module.model6_1.12.weight": (38, 128, 1, 1),
    "module.model6_2.12.weight": (19, 128, 1, 1),
}
REAL_CAFFE_KEYS = {
    "conv1_1.weight": (64, 3, 3, 3),
    "conv3_4.bias": (256,),
    "conv4_4_CPM.weight": (128, 256, 3, 3),
    "conv5_5_CPM_L1.weight": (38, 512, 1, 1),
    "conv5_5_CPM_L2.weight": (19, 512, 1, 1),
    "Mconv1_stage2_L2.weight": (128, 185, 7, 7),
    "Mconv7_stage6_L1.weight": (38, 128, 1, 1),
    "Mconv7_stage6_L2.bias": (19,),
}


@pytest.fixture(scope="module")
def net() -> OpenPoseNet:
    torch.manual_seed(0)
    return OpenPoseNet().eval()


@pytest.fixture(scope="module")
def outputs(net, image) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        return net(image)


@pytest.fixture(scope="module")
def blank() -> OpenPoseNet:
    """A second network to load files into; strict loading overwrites every tensor, so one will do."""
    return OpenPoseNet().eval()


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    return torch.randn(1, 3, 64, 48, generator=torch.Generator().manual_seed(1))


def in_layout(state: dict[str, torch.Tensor], layout: str, prefix: str = "") -> dict[str, torch.Tensor]:
    """Rename our keys to a published layout by inverting the loader's own table."""
    to_file = {ours: theirs for theirs, ours in weights.CMU_LAYOUTS[layout].items()}
    return {prefix + to_file[k]: v for k, v in state.items()}


def cheap_state(layout: str) -> dict[str, torch.Tensor]:
    """Right keys and shapes with one shared scalar behind every tensor: a ~1 kB file."""
    return {k: torch.zeros(()).expand(weights.CMU_SHAPES[ours]) for k, ours in weights.CMU_LAYOUTS[layout].items()}


# --------------------------------------------------------------------------- network


@pytest.mark.parametrize("height, width", [(64, 48), (40, 72)])
def test_final_stage_maps_are_at_stride_8(net, height, width):
    with torch.no_grad():
        heatmaps, pafs = net(torch.randn(2, 3, height, width))
    assert heatmaps.shape == (2, 19, height // STRIDE, width // STRIDE)
    assert pafs.shape == (2, 38, height // STRIDE, width // STRIDE)
    assert heatmaps.dtype == pafs.dtype == torch.float32


def test_input_not_a_multiple_of_the_stride_is_refused(net):
    with pytest.raises(ValueError, match="multiples of 8"):
        net(torch.zeros(1, 3, 60, 48))


def test_every_stage_ends_in_a_conv_without_relu_and_inner_convs_have_one(net):
    for stage in range(1, 7):
        for branch, channels in ((1, 38), (2, 19)):
            block = getattr(net, f"model{stage}_{branch}")
            assert isinstance(block[-1], nn.Conv2d) and block[-1].out_channels == channels
            convs = sum(isinstance(m, nn.Conv2d) for m in block)
            relus = sum(isinstance(m, nn.ReLU) for m in block)
            assert relus == convs - 1, f"model{stage}_{branch}"
    assert isinstance(net.model0.model[-1], nn.ReLU)  # conv4_4_CPM is followed by relu4_4_CPM


def test_final_outputs_can_be_negative_so_no_relu_clips_them(outputs):
    heatmaps, pafs = outputs
    assert (pafs < 0).any() and (heatmaps < 0).any()


def test_network_matches_an_independent_forward_written_from_caffe_names(net, image, outputs):
    """A plain functional OpenPose over Caffe-named tensors: checks mapping, ReLUs and concat order."""
    w = in_layout(net.state_dict(), CAFFE_LAYOUT)

    def conv(x, name, relu=True):
        k = w[name + ".weight"].shape[-1]
        y = F.conv2d(x, w[name + ".weight"], w[name + ".bias"], padding=k // 2)
        return F.relu(y) if relu else y

    x = image
    for block in (["conv1_1", "conv1_2"], ["conv2_1", "conv2_2"], ["conv3_1", "conv3_2", "conv3_3", "conv3_4"]):
        for name in block:
            x = conv(x, name)
        x = F.max_pool2d(x, 2)
    for name in ("conv4_1", "conv4_2", "conv4_3_CPM", "conv4_4_CPM"):
        x = conv(x, name)
    features, out = x, {}
    for L in (1, 2):
        y = x
        for i in range(1, 6):
            y = conv(y, f"conv5_{i}_CPM_L{L}", relu=i < 5)
        out[L] = y
    for stage in range(2, 7):
        stage_in = torch.cat([out[1], out[2], features], 1)
        for L in (1, 2):
            y = stage_in
            for i in range(1, 8):
                y = conv(y, f"Mconv{i}_stage{stage}_L{L}", relu=i < 7)
            out[L] = y
    heatmaps, pafs = outputs
    scale = out[2].abs().max().item(), out[1].abs().max().item()
    assert scale[0] > 0 and scale[1] > 0
    torch.testing.assert_close(heatmaps, out[2], rtol=1e-4, atol=1e-5 * scale[0])
    torch.testing.assert_close(pafs, out[1], rtol=1e-4, atol=1e-5 * scale[1])


# --------------------------------------------------------------------------- key layouts


def test_layout_tables_contain_the_real_published_key_names_with_their_shapes():
    book = {"module." + k: weights.CMU_SHAPES[v] for k, v in weights.CMU_LAYOUTS[BOOK_LAYOUT].items()}
    caffe = {k: weights.CMU_SHAPES[v] for k, v in weights.CMU_LAYOUTS[CAFFE_LAYOUT].items()}
    for key, shape in REAL_BOOK_KEYS.items():
        assert book[key] == shape, key
    for key, shape in REAL_CAFFE_KEYS.items():
        assert caffe[key] == shape, key
    assert len(book) == len(caffe) == 184  # 92 convs, weight and bias each


def test_book_and_caffe_layouts_map_one_to_one(net):
    ours = set(net.state_dict())
    for layout, table in weights.CMU_LAYOUTS.items():
        assert set(table.values()) == ours, layout
        assert len(set(table)) == len(ours), layout


@pytest.mark.parametrize(
    "layout, prefix, legacy",
    [(BOOK_LAYOUT, "module.", True), (CAFFE_LAYOUT, "", False)],
    ids=["pytorch_advanced_dataparallel_legacy_pickle", "caffe_names_zip"],
)
def test_published_layout_loads_strictly_and_gives_identical_outputs(
    net, blank, image, outputs, tmp_path, layout, prefix, legacy
):
    path = tmp_path / "w.pth"
    torch.save(in_layout(net.state_dict(), layout, prefix), path, _use_new_zipfile_serialization=not legacy)
    with torch.no_grad():
        for p in blank.parameters():
            p.fill_(float("nan"))  # whatever is not loaded would poison the output
    blank.load_state_dict(weights.load_state_dict(path, "cmu"), strict=True)
    with torch.no_grad():
        heatmaps, pafs = blank(image)
    assert torch.equal(heatmaps, outputs[0]) and torch.equal(pafs, outputs[1])


def test_renamed_and_missing_keys_are_named_in_the_error(tmp_path):
    state = cheap_state(CAFFE_LAYOUT)
    state["conv3_2_renamed.weight"] = state.pop("conv3_2.weight")
    del state["Mconv7_stage6_L2.bias"]
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(WeightsError) as err:
        weights.load_state_dict(tmp_path / "bad.pth", "cmu")
    message = str(err.value)
    for name in ("conv3_2.weight", "Mconv7_stage6_L2.bias", "conv3_2_renamed.weight", "body_pose_model.pth"):
        assert name in message
    assert "182 of 184" in message and "\n" not in message


def test_file_of_another_model_is_refused_not_half_loaded(tmp_path):
    torch.save({"backbone.conv.weight": torch.zeros(3, 3)}, tmp_path / "other.pth")
    with pytest.raises(WeightsError, match="not a CMU COCO-18 body model"):
        weights.load_state_dict(tmp_path / "other.pth", "cmu")


def test_wrong_shape_is_refused(tmp_path):
    state = {"module." + k: v for k, v in cheap_state(BOOK_LAYOUT).items()}
    state["module.model6_2.12.weight"] = torch.zeros(()).expand(26, 128, 1, 1)  # a BODY_25-sized head
    torch.save(state, tmp_path / "body25ish.pth")
    with pytest.raises(WeightsError, match=r"model6_2\.12\.weight \(26, 128, 1, 1\) \(expected \(19, 128, 1, 1\)\)"):
        weights.load_state_dict(tmp_path / "body25ish.pth", "cmu")


def test_unreadable_file_says_to_fetch_again(tmp_path):
    (tmp_path / "html.pth").write_text("<html>Dropbox says hello</html>")
    with pytest.raises(WeightsError, match="not a readable PyTorch weights file.*fetch it again"):
        weights.load_state_dict(tmp_path / "html.pth", "cmu")


# --------------------------------------------------------------------------- registry and building


def test_registry_lists_the_models_with_checksums_for_downloads():
    registry = weights.load_registry()
    assert set(registry) == {"mobilenet_thin", "mobilenet_thin_squat", "cmu_pytorch_advanced", "cmu_body_pose"}
    for name in ("mobilenet_thin", "mobilenet_thin_squat"):  # shipped in weights/, never downloaded
        assert registry[name].shipped and registry[name].url is None and registry[name].has_checksum
    for name in ("cmu_pytorch_advanced", "cmu_body_pose"):
        spec = registry[name]
        assert spec.arch == "cmu" and not spec.shipped and spec.url.startswith("https://")
        assert spec.has_checksum and 200e6 < spec.size < 220e6
    assert registry["cmu_body_pose"].preprocess == "bgr_caffe"
    assert registry["cmu_pytorch_advanced"].preprocess == "rgb_imagenet"


def test_registry_entry_without_a_field_is_reported(tmp_path):
    (tmp_path / "r.json").write_text('{"models": [{"name": "x", "arch": "cmu"}]}')
    with pytest.raises(WeightsError, match="'x' lacks file, url"):
        weights.load_registry(tmp_path / "r.json")


def test_only_the_measured_model_carries_a_standing_hip_bias(tmp_path):
    registry = weights.load_registry()
    assert registry["mobilenet_thin"].hip_high_femur == pytest.approx(0.16)  # measured on the renders
    assert registry["cmu_body_pose"].hip_high_femur == 0.0  # not measured: nothing is corrected
    entry = {f.name: getattr(registry["mobilenet_thin"], f.name) for f in dataclasses.fields(weights.ModelSpec)}
    del entry["hip_high_femur"]  # an older registry file
    (tmp_path / "r.json").write_text(json.dumps({"models": [entry]}))
    assert weights.load_registry(tmp_path / "r.json")["mobilenet_thin"].hip_high_femur == 0.0


def spec_for(tmp_name: str, size: int = 0) -> weights.ModelSpec:
    base = weights.load_registry()["cmu_body_pose"]
    return dataclasses.replace(base, file=tmp_name, size=size)


def test_missing_download_tells_the_exact_fetch_command(tmp_path):
    spec = weights.load_registry()["cmu_body_pose"]
    with pytest.raises(WeightsError, match=r"run `python -m squat weights fetch cmu_body_pose`"):
        weights.build_model(spec, tmp_path, "cpu")


def test_check_model_refuses_what_loading_would_without_building_the_network(tmp_path):
    from squat.pose.estimator import check_model
    from squat.settings import PoseSettings

    with pytest.raises(WeightsError, match=r"run `python -m squat weights fetch cmu_body_pose`"):
        check_model(PoseSettings(model="cmu_body_pose"), tmp_path)
    with pytest.raises(WeightsError, match="unknown model 'nope'"):
        check_model(PoseSettings(model="nope"), tmp_path)
    assert check_model(PoseSettings(), tmp_path).is_file()  # the shipped default lives in the repo


def test_truncated_file_is_caught_by_size_before_loading(tmp_path):
    (tmp_path / "w.pth").write_bytes(b"\0" * 1000)
    with pytest.raises(WeightsError, match="1000 bytes, expected 209267595.*weights fetch cmu_body_pose"):
        weights.build_model(spec_for("w.pth", 209267595), tmp_path, "cpu")


def test_build_model_loads_the_file_into_an_eval_mode_network(image, tmp_path):
    torch.save(cheap_state(CAFFE_LAYOUT), tmp_path / "w.pth")  # all-zero weights
    model = weights.build_model(spec_for("w.pth"), tmp_path, torch.device("cpu"))
    assert isinstance(model, OpenPoseNet) and not model.training
    assert not any(p.requires_grad for p in model.parameters())
    heatmaps, pafs = model(image)
    assert not heatmaps.any() and not pafs.any()  # the file's zeros, not a random init


def test_describe_models_reports_installed_only_when_complete(tmp_path):
    registry = weights.load_registry()
    (tmp_path / "body_pose_model.pth").write_bytes(b"x" * 10)  # present but incomplete
    (tmp_path / "mobilenet_thin.pth").write_bytes(b"x" * registry["mobilenet_thin"].size)  # complete
    rows = {row.name: row for row in weights.describe_models(registry, tmp_path)}
    assert rows["cmu_body_pose"].installed is False and rows["cmu_body_pose"].size_mb == pytest.approx(209.3)
    assert rows["cmu_pytorch_advanced"].installed is False
    assert rows["mobilenet_thin"].installed is True and rows["mobilenet_thin"].size_mb == pytest.approx(7.8)
    assert rows["cmu_body_pose"].path == Path(tmp_path) / "body_pose_model.pth"
    assert rows["cmu_body_pose"].licence == "CMU-OpenPose-NC"


def test_auto_device_is_cpu_without_a_gpu_and_cuda_without_one_is_a_user_error():
    assert weights.resolve_device("cpu") == torch.device("cpu")
    if torch.cuda.is_available():
        assert weights.resolve_device("auto").type == "cuda"
        return
    assert weights.resolve_device("auto") == torch.device("cpu")
    with pytest.raises(SquatError, match="no CUDA GPU: use --device cpu"):
        weights.resolve_device("cuda")
    with pytest.raises(SquatError, match="unknown device"):
        weights.resolve_device("tpu")
