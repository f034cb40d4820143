"""Model registry, weight files and their download: everything about weights, nothing about networks.

`weights/registry.json` names every model the engine can run. CMU weights come in two published
key layouts; `load_state_dict` maps both onto `cmu.OpenPoseNet` through an explicit table built
from the network's layer specs, so a file either fits exactly or is refused with its differences.
"""
from __future__ import annotations

import hashlib
import http.client
import importlib
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from pathlib import Path

import torch
from torch import nn

from squat.errors import SquatError, WeightsError
from squat.pose import cmu

WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"
REGISTRY = WEIGHTS_DIR / "registry.json"

# arch → "module:Class", imported only when that arch is built.
ARCHS = {
    "cmu": "squat.pose.cmu:OpenPoseNet",
    "mobilenet_thin": "squat.pose.mobilenet_thin:MobileNetThin",
    "mobilenet_thin_feet": "squat.pose.mobilenet_thin:MobileNetThinFeet",
}
PREPROCESS = ("bgr_raw", "bgr_caffe", "rgb_imagenet")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MB = 1e6


@dataclass(frozen=True)
class ModelSpec:
    name: str
    arch: str  # key of ARCHS
    file: str  # file name inside the weights folder
    url: str | None  # None: shipped with the repository
    size: int  # bytes; 0 while unknown
    sha256: str  # hex digest; "TODO" while unknown
    licence: str  # short name
    licence_note: str  # one line a user can act on
    preprocess: str  # how frames are normalised for these weights, one of PREPROCESS
    shipped: bool
    source: str  # where the weights come from
    description: str
    # Standing, how far this model's hip keypoint sits above the COCO hip (where an annotator
    # clicks), × femur. Lengths up from the hip read short by it; 0 where not measured.
    hip_high_femur: float = 0.0
    # In the hole (blended in over KinematicsSettings.bone_hip_knee_angles), how far this model's
    # hip keypoint sits ahead of the truth's (toward the knee) and above it, × femur: the mean
    # over the tuning half's side views; the engine moves its hips back by it (squat.measure.bones).
    hip_bias_at_depth_femur: tuple[float, float] = (0.0, 0.0)
    # Whether the engine moves this model's hip at depth to the bone-length hip (squat.measure.bones):
    # yes for the COCO models, whose hip rides up the back; no for one trained on squats.
    hip_from_bones: bool = True
    # How far this model's big toe reads behind the truth's (toward the heel), × the standing shin,
    # at person_height_px: the midfoot (heel-toe midpoint) takes it back (squat.measure.kinematics).
    toe_short_shin: float = 0.0
    # The lifter's standing height in the network input this model reads best (PoseSettings.
    # person_height_px where that is None): what it was trained on decides it.
    person_height_px: float = 120.0
    # Whether the torso's length and line come from the bar where a plate hides the shoulders:
    # yes for the COCO models, whose shoulder there sits on the arm; no for one trained behind plates.
    torso_from_bar: bool = True
    # Whether this model guesses the hidden far hip (so a side-on view may read wide hips): yes
    # for the COCO models; no for one trained on side views (KinematicsSettings.far_hip_guessed).
    far_hip_guessed: bool = True

    @property
    def has_checksum(self) -> bool:
        return bool(_SHA256.fullmatch(self.sha256))


@dataclass(frozen=True)
class ModelRow:
    """One line of `python -m squat weights list`."""

    name: str
    size_mb: float
    licence: str
    installed: bool
    path: Path


# --------------------------------------------------------------------------- registry


def load_registry(path: Path | str | None = None) -> dict[str, ModelSpec]:
    """Read the registry JSON ({"models": [...]}) into specs keyed by name, validating each entry."""
    path = Path(path) if path is not None else REGISTRY
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["models"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise WeightsError(f"cannot read the model registry {path}: {e}; restore it from the repository") from e
    names = [f.name for f in fields(ModelSpec)]
    required = [f.name for f in fields(ModelSpec) if f.default is MISSING]
    specs: dict[str, ModelSpec] = {}
    for entry in entries:
        missing = [n for n in required if n not in entry]
        if missing:
            raise WeightsError(f"registry {path}: entry {entry.get('name', '?')!r} lacks {', '.join(missing)}")
        spec = ModelSpec(**{n: entry[n] for n in names if n in entry})
        if spec.arch not in ARCHS or spec.preprocess not in PREPROCESS:
            raise WeightsError(f"registry {path}: {spec.name!r} has unknown arch or preprocess")
        specs[spec.name] = spec
    return specs


def weights_path(spec: ModelSpec, weights_dir: Path | str) -> Path:
    """Where a model's file lives: shipped weights always in the repo, downloads in weights_dir."""
    return (WEIGHTS_DIR if spec.shipped else Path(weights_dir)) / spec.file


def downloads_dir() -> Path:
    """Downloaded weights go to $SQUAT_WEIGHTS_DIR when set (a volume on a server), else weights/."""
    return Path(os.environ.get("SQUAT_WEIGHTS_DIR") or WEIGHTS_DIR)


def describe_models(registry: dict[str, ModelSpec], weights_dir: Path | str) -> list[ModelRow]:
    """Name, size, licence and whether each model is on disk (complete, by size), for `weights list`."""
    rows = []
    for spec in registry.values():
        path = weights_path(spec, weights_dir)
        on_disk = path.stat().st_size if path.is_file() else None
        installed = on_disk is not None and (spec.size == 0 or on_disk == spec.size)
        size = spec.size or on_disk or 0
        rows.append(ModelRow(spec.name, round(size / _MB, 1), spec.licence, installed, path))
    return rows


def fetch_command(spec: ModelSpec) -> str:
    return f"python -m squat weights fetch {spec.name}"


# --------------------------------------------------------------------------- CMU key layouts


def _cmu_layouts() -> dict[str, dict[str, str]]:
    """Layout description → {key in such a file: our key}, derived from cmu.conv_table()."""
    ours, book_download, caffe = {}, {}, {}
    for module, conv in cmu.conv_table().items():
        for p in ("weight", "bias"):
            key = f"{module}.{p}"
            ours[key] = key
            # pose_model_scratch.pth has the front end directly in model0 (after "module.").
            book_download[key.replace("model0.model.", "model0.", 1)] = key
            caffe[f"{conv.name}.{p}"] = key
    return {
        "squat/pytorch_advanced OpenPoseNet (model0.model.N)": ours,
        "pytorch_advanced download pose_model_scratch.pth (module.model0.N)": book_download,
        "CMU Caffe names as in body_pose_model.pth (conv1_1 ... Mconv7_stage6_L2)": caffe,
    }


CMU_LAYOUTS = _cmu_layouts()


def _cmu_shapes() -> dict[str, tuple[int, ...]]:
    shapes = {}
    for module, c in cmu.conv_table().items():
        shapes[f"{module}.weight"] = (c.cout, c.cin, c.k, c.k)
        shapes[f"{module}.bias"] = (c.cout,)
    return shapes


CMU_SHAPES = _cmu_shapes()


def remap_cmu(state: dict[str, torch.Tensor], source: str = "weights") -> dict[str, torch.Tensor]:
    """Rename a CMU state dict in any known layout to OpenPoseNet's keys; refuse anything inexact."""
    keys = set(state)
    layout, table = max(CMU_LAYOUTS.items(), key=lambda item: len(keys & item[1].keys()))
    missing = sorted(table.keys() - keys)
    unexpected = sorted(keys - table.keys())
    if missing or unexpected:
        raise WeightsError(
            f"{source} is not a CMU COCO-18 body model: closest to layout {layout} "
            f"({len(keys & table.keys())} of {len(table)} keys match); "
            f"missing {_few(missing)}; unexpected {_few(unexpected)}. "
            "Use a COCO-18 file from the registry (`python -m squat weights list`)"
        )
    out = {table[k]: v for k, v in state.items()}
    wrong = [f"{k} {tuple(v.shape)} (expected {CMU_SHAPES[k]})" for k, v in out.items()
             if tuple(v.shape) != CMU_SHAPES[k]]
    if wrong:
        raise WeightsError(f"{source} has tensors of the wrong shape: {_few(wrong)}; it is not a COCO-18 CMU model")
    return out


def _few(items: list[str], n: int = 4) -> str:
    if not items:
        return "none"
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(items[:n]) + more


# --------------------------------------------------------------------------- loading


def load_state_dict(path: Path | str, arch: str) -> dict[str, torch.Tensor]:
    """Tensors of a weights file, keyed for our network of `arch` (tensors only: weights_only=True)."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, HTML error page, foreign pickle, ...
        raise WeightsError(
            f"{path} is not a readable PyTorch weights file ({type(e).__name__}); delete it and fetch it again"
        ) from e
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a training checkpoint rather than a bare state dict
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} holds no state dict of tensors; delete it and fetch it again")
    state = {k.removeprefix("module."): v for k, v in state.items()}  # saved from nn.DataParallel
    return remap_cmu(state, str(path)) if arch == "cmu" else state


def resolve_device(name: str) -> torch.device:
    """auto → cuda when PyTorch sees a GPU, else cpu; asking for cuda without one is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.split(":")[0] == "cuda":
        if not torch.cuda.is_available():
            raise SquatError(f"device {name!r} requested but PyTorch sees no CUDA GPU: use --device cpu or auto")
        return torch.device(name)
    raise SquatError(f"unknown device {name!r}: use auto, cpu or cuda")


def present_weights(spec: ModelSpec, weights_dir: Path | str) -> Path:
    """The model's weights file, or WeightsError saying how to get it: a check that costs no loading
    (the web server makes it before queueing an analysis its workers would fail)."""
    path = weights_path(spec, weights_dir)
    if not path.is_file():
        if spec.shipped:
            raise WeightsError(f"shipped weights {path} are missing: restore them with `git checkout -- weights/`")
        raise WeightsError(f"model {spec.name!r} is not downloaded ({path} missing): run `{fetch_command(spec)}`")
    if spec.size and path.stat().st_size != spec.size:
        raise WeightsError(
            f"{path} has {path.stat().st_size} bytes, expected {spec.size} (incomplete or replaced): "
            f"delete it and run `{fetch_command(spec)}`"
        )
    return path


def build_model(spec: ModelSpec, weights_dir: Path | str, device: torch.device | str) -> nn.Module:
    """The network for `spec` with its weights loaded strictly, on `device`, in eval mode."""
    path = present_weights(spec, weights_dir)
    module_name, class_name = ARCHS[spec.arch].split(":")
    model: nn.Module = getattr(importlib.import_module(module_name), class_name)()
    state = load_state_dict(path, spec.arch)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[1:2] or [str(e)]
        raise WeightsError(f"{path} does not fit the {spec.arch} network: {first[0].strip()}") from e
    return model.to(device).eval().requires_grad_(False)


# --------------------------------------------------------------------------- download

Progress = Callable[[int, int | None], None]


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def fetch(
    spec: ModelSpec,
    weights_dir: Path | str,
    progress: Progress | None = None,
    chunk: int = 1 << 20,
    timeout: float = 30.0,
) -> Path:
    """Download `spec` into the weights folder, resuming a previous NAME.part, and verify it.

    The file appears under its final name only once its size and sha256 match the registry
    (atomic rename), so an interrupted or corrupt download never looks installed.
    """
    final = weights_path(spec, weights_dir)
    if spec.url is None:
        raise WeightsError(f"{spec.name!r} ships with the repository and has no download; restore {final} from git")
    if not spec.has_checksum:
        raise WeightsError(f"registry entry {spec.name!r} has no sha256 to verify a download: fix weights/registry.json")
    if final.is_file():
        if sha256_of(final) == spec.sha256:
            return final  # never touch a good file
        raise WeightsError(
            f"{final} exists but its sha256 differs from the registry: delete it and run `{fetch_command(spec)}` again"
        )
    final.parent.mkdir(parents=True, exist_ok=True)
    part = final.with_name(final.name + ".part")
    if part.is_file() and spec.size and part.stat().st_size > spec.size:
        part.unlink()  # longer than the real file: nothing in it can be trusted
    done = part.stat().st_size if part.is_file() else 0
    if not spec.size or done < spec.size:
        _download(spec, part, done, progress, chunk, timeout)
    return _verify_and_install(spec, part, final)


def _download(spec: ModelSpec, part: Path, done: int, progress: Progress | None, chunk: int, timeout: float) -> None:
    assert spec.url is not None
    headers = {"User-Agent": "squat-form-check", "Accept-Encoding": "identity"}
    if done:
        headers["Range"] = f"bytes={done}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(spec.url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and done:  # our .part is no prefix the server recognises: start again
            part.unlink()
            return _download(spec, part, 0, progress, chunk, timeout)
        raise WeightsError(
            f"downloading {spec.name!r}: the server answered HTTP {e.code} for {spec.url}; "
            "try again later or see weights/README.md"
        ) from e
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        raise _network_error(spec, done, e) from e
    with response:
        if done and response.status != 206:
            done = 0  # server ignored the Range header and sends the whole file: restart cleanly
        elif done and _range_start(response) != done:
            part.unlink()
            raise WeightsError(f"the server resumed {spec.name!r} at the wrong offset: run `{fetch_command(spec)}` again")
        length = response.headers.get("Content-Length")
        total = done + int(length) if length is not None else (spec.size or None)
        try:
            with open(part, "ab" if done else "wb") as f:
                if progress:
                    progress(done, total)
                while block := response.read(chunk):
                    f.write(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
                f.flush()
                os.fsync(f.fileno())
        except (OSError, http.client.HTTPException) as e:
            raise _network_error(spec, part.stat().st_size, e) from e
    if total is not None and done < total:
        raise _network_error(spec, done, ConnectionError(f"connection closed after {done} of {total} bytes"))


def _range_start(response: http.client.HTTPResponse) -> int | None:
    match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None


def _network_error(spec: ModelSpec, done: int, e: BaseException) -> WeightsError:
    return WeightsError(
        f"download of {spec.name!r} interrupted after {done / _MB:.1f} MB ({e}): "
        f"check the connection and run `{fetch_command(spec)}` again; it resumes where it stopped"
    )


def _verify_and_install(spec: ModelSpec, part: Path, final: Path) -> Path:
    size = part.stat().st_size
    got = sha256_of(part)
    if (spec.size and size != spec.size) or got != spec.sha256:
        part.unlink()
        raise WeightsError(
            f"downloaded {spec.name!r} is corrupt (size {size}, expected {spec.size}; sha256 {got}, "
            f"expected {spec.sha256}); the partial file was removed: run `{fetch_command(spec)}` again"
        )
    os.replace(part, final)
    return final
