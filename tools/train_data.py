"""Training data for the squat-trained network: rendered squats cut into crops with exact keypoints.

    python tools/train_data.py render OUT [--count 40] [--jobs 2]   # render training clips
    python tools/train_data.py render OUT --first-seed 6000 --backgrounds PHOTOS...  # over real photos
    python tools/train_data.py crops CLIPS... --out SHARD.npz         # crops + keypoints from renders
    python tools/train_data.py real IMAGES_OR_CLIPS... --out SHARD.npz # crops of real people (distillation)
    python tools/train_data.py pack SHARD... --out PACK.npz [--skip-origin N...]  # JPEG crops for a GPU machine

Training clips are drawn like the validation set (tools/validation_set.py: bodies, cameras,
loads, plates, depth, tempo, faults, scenes) but from their own seeds, TRAIN_FIRST_SEED on,
so no validation clip is ever seen in training; they are rendered at 10 fps (poses, not
motion, are what a frame teaches) with one or two reps, to spend render time on variety.

A crop is a square around the lifter (from the truth's keypoints) at a random scale and
offset, resized to CROP pixels: the network's view of a lifter in a phone frame. Shards hold
`images` (N, CROP, CROP, 3) uint8 BGR and `keypoints` (N, 23, 2) float32 in crop pixels:
COCO-18 in OpenPose order, then r_heel, r_toe, l_heel, l_toe, midfoot (the renderer's truth).
Real crops (people from the BSD/CC0 clips and images, never ../shared/data/real) carry no
keypoints: training keeps the original network's maps on them (distillation).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from validation_set import SYNTH_DIR, SYNTH_PYTHON, Clip, draw_clip  # noqa: E402
from validation_set import render as render_clip

from squat.skeleton import FOOT_POINTS, JOINTS  # noqa: E402

TRAIN_FIRST_SEED = 5000  # validation seeds are 1000-1023; training never draws from them
CROP = 160  # the engine shows the network a lifter ~120 px tall (PoseSettings.person_height_px)
POINTS = (*JOINTS, *FOOT_POINTS, "midfoot")  # the truth's columns, in the engine's order


def training_clip(seed: int, index: int) -> Clip:
    """A validation-style clip from a training seed, at 10 fps with one or two reps."""
    clip = draw_clip(seed, index)
    args = list(clip.args)
    args[args.index("--reps") + 1] = str(1 + seed % 2)
    return Clip(seed, clip.name, tuple(args) + ("--fps", "10"))


def training_set(count: int, first_seed: int = TRAIN_FIRST_SEED) -> list[Clip]:
    return [training_clip(first_seed + i, i) for i in range(count)]


def read_truth(clip_dir: Path) -> np.ndarray:
    """(frames, 23, 2) float32 truth keypoints in frame pixels."""
    with open(clip_dir / "truth.csv") as f:
        rows = list(csv.DictReader(f))
    return np.array([[[float(r[f"{p}_x"]), float(r[f"{p}_y"])] for p in POINTS] for r in rows], np.float32)


def crop_box(points: np.ndarray, height: float, rng: np.random.Generator, *,
             jitter: bool = True) -> tuple[float, float, float]:
    """(x0, y0, side) of a square around the body's centre whose side is 1.05-1.6× the lifter's
    standing height (the engine frames a lifter by standing height, so a deep squat stays small),
    randomly offset."""
    lo, hi = np.nanmin(points, axis=0), np.nanmax(points, axis=0)
    centre = (lo + hi) / 2
    side = max(height * (rng.uniform(1.05, 1.6) if jitter else 1.3), float(np.max(hi - lo)) * 1.05)
    if jitter:
        centre = centre + rng.uniform(-0.1, 0.1, 2) * side
    return float(centre[0] - side / 2), float(centre[1] - side / 2), float(side)


def standing_height(points: np.ndarray) -> float:
    """The lifter's height in pixels over a clip: the 95th percentile of the per-frame extent
    of the keypoints (standing frames; the head top is above the eyes, the soles below the ankles)."""
    extent = np.nanmax(points[..., 1], axis=-1) - np.nanmin(points[..., 1], axis=-1)
    return float(np.nanpercentile(extent, 95)) * 1.1


def cut(frame: np.ndarray, box: tuple[float, float, float], size: int = CROP) -> np.ndarray:
    """The square box of the frame resized to size × size (outside the frame: grey)."""
    import cv2

    x0, y0, side = box
    s = size / side
    m = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], np.float32)
    return cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(114, 114, 114))


def to_crop(points: np.ndarray, box: tuple[float, float, float], size: int = CROP) -> np.ndarray:
    x0, y0, side = box
    return ((points - [x0, y0]) * (size / side)).astype(np.float32)


def clip_crops(clip_dir: Path, rng: np.random.Generator, every: int = 1) -> tuple[np.ndarray, np.ndarray]:
    from squat.io.video import iter_frames

    truth = read_truth(clip_dir)
    height = standing_height(truth)
    images, keypoints = [], []
    with iter_frames(clip_dir / "clip.mp4") as frames:
        for frame in frames:
            i = frame.index
            if i % every or i >= len(truth):
                continue
            box = crop_box(truth[i], height, rng)
            images.append(cut(frame.image, box))
            keypoints.append(to_crop(truth[i], box))
    return np.stack(images), np.stack(keypoints)


def real_crops(sources: list[Path], per_source: int, rng: np.random.Generator, every: int = 7
               ) -> tuple[np.ndarray, np.ndarray]:
    """Random squares of real frames where the shipped network finds a person, for distillation,
    and each crop's source (its index in `sources`)."""
    import cv2

    from squat.io.video import iter_frames
    from squat.pose.estimator import load_estimator
    from squat.settings import PoseSettings

    est = load_estimator(PoseSettings(device="cpu"), Path(__file__).resolve().parent.parent / "weights")
    out, origin = [], []
    for n, src in enumerate(sources):
        if src.suffix.lower() in (".png", ".jpg", ".jpeg"):
            frames = [cv2.imread(str(src))]
        else:
            with iter_frames(src) as reader:
                frames = [f.image for f in reader if f.index % every == 0]
        picks = rng.choice(len(frames), min(per_source, len(frames)), replace=False)
        for k in picks:
            frame = frames[int(k)]
            people = est.detect([frame])[0].keypoints
            if not len(people):
                continue
            for person in people[:, :, :2]:
                seen = person[np.isfinite(person[:, 0])]
                if len(seen) >= 6:
                    out.append(cut(frame, crop_box(seen, standing_height(seen[None]), rng)))
                    origin.append(n)
        print(f"  {src.name}: {origin.count(n)} crops", flush=True)
    return np.stack(out), np.array(origin, np.int16)


def pack(shards: list[Path], out: Path, only: list[int] | None, skip: list[int], quality: int = 92) -> int:
    """Crops JPEG-encoded into one byte array with offsets, keypoints kept as they are."""
    import cv2

    images, keypoints = [], []
    for path in shards:
        shard = np.load(path)
        keep = np.ones(len(shard["images"]), bool)
        if "origin" in shard.files:
            if only is not None:
                keep &= np.isin(shard["origin"], only)
            keep &= ~np.isin(shard["origin"], skip)
        images.append(shard["images"][keep])
        if "keypoints" in shard.files:
            keypoints.append(shard["keypoints"][keep])
    images = np.concatenate(images)
    blobs = [cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].ravel() for im in images]
    arrays = {"jpeg": np.concatenate(blobs), "offsets": np.cumsum([0] + [len(b) for b in blobs])}
    if keypoints:
        arrays["keypoints"] = np.concatenate(keypoints)
    np.savez(out, **arrays)
    print(f"{len(images)} crops -> {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render")
    r.add_argument("out", type=Path)
    r.add_argument("--count", type=int, default=40)
    r.add_argument("--first", type=int, default=0, help="skip the first N clips of the list")
    r.add_argument("--jobs", type=int, default=1)
    r.add_argument("--first-seed", type=int, default=TRAIN_FIRST_SEED)
    r.add_argument("--backgrounds", type=Path, nargs="*", default=[],
                   help="photos to put behind the lifter instead of the rendered room (synth_composite.py)")
    c = sub.add_parser("crops")
    c.add_argument("clips", type=Path, nargs="+")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--every", type=int, default=1)
    c.add_argument("--seed", type=int, default=0)
    q = sub.add_parser("real")
    q.add_argument("sources", type=Path, nargs="+")
    q.add_argument("--out", type=Path, required=True)
    q.add_argument("--per-source", type=int, default=40)
    q.add_argument("--every", type=int, default=7, help="frames apart in each clip")
    q.add_argument("--seed", type=int, default=0)
    k = sub.add_parser("pack", help="shards as JPEG crops (a tenth of the size): what tools/train_whole.py reads")
    k.add_argument("shards", type=Path, nargs="+")
    k.add_argument("--out", type=Path, required=True)
    k.add_argument("--only-origin", type=int, nargs="*", help="real crops: keep only these sources")
    k.add_argument("--skip-origin", type=int, nargs="*", default=[], help="real crops: leave these sources out")
    a = ap.parse_args(argv)
    if a.cmd == "pack":
        return pack(a.shards, a.out, a.only_origin, a.skip_origin)
    if a.cmd == "render":
        from concurrent.futures import ThreadPoolExecutor

        todo = training_set(a.count, a.first_seed)[a.first:]
        print(f"renderer {SYNTH_DIR} with {SYNTH_PYTHON}", flush=True)
        with ThreadPoolExecutor(a.jobs) as pool:
            for clip, seconds, rc in pool.map(lambda cl: render_clip(cl, a.out, "", a.backgrounds), todo):
                print(f"{'ok ' if rc == 0 else 'FAILED'} {clip.name} {seconds:.0f} s", flush=True)
        return 0
    rng = np.random.default_rng(a.seed)
    if a.cmd == "crops":
        parts = [clip_crops(d, rng, a.every) for d in a.clips]
        images, keypoints = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        np.savez_compressed(a.out, images=images, keypoints=keypoints,
                            clips=json.dumps([d.name for d in a.clips]))
        print(f"{len(images)} crops from {len(a.clips)} clips -> {a.out}")
        return 0
    images, origin = real_crops(a.sources, a.per_source, rng, a.every)
    np.savez_compressed(a.out, images=images, origin=origin, sources=json.dumps([str(s) for s in a.sources]))
    print(f"{len(images)} real crops -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
