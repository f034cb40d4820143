"""Fine-tune the shipped MobileNet-thin OpenPose on rendered squats, with foot points.

    python tools/train_pose.py --synth S1.npz S2.npz --real R.npz --out weights/mobilenet_thin_squat.pth \
        [--minutes 60] [--batch 12] [--real-batch 4] [--lr 5e-5] [--first-stage 3] [--init FILE]

Shards come from tools/train_data.py. Each step mixes rendered crops, whose targets are made
from the truth (Gaussian heatmaps for the 18 COCO parts + background, PAFs for the 19 limbs,
heatmaps for both heels and big toes), with crops of real people, whose target is the original
network's own output (distillation: the fine-tuned network must not forget real people).
Both are flipped at random (left and right exchanged) and jittered in colour.

The backbone and the stages before --first-stage stay fixed, so they run once per crop before
training (kept as float16 stage inputs: ~0.7 MB a crop) and a step runs only the stages that
learn and the foot branch: ~7x faster on a CPU than running the whole network every step. The foot branch starts as a copy of the last heatmap branch
that predicts the ankles, so it begins near the heels. Runs on CUDA when one is there.
Every run is logged in docs/training-log.md.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from squat.pose.decode import to_input_pixels, upsample  # noqa: E402
from squat.pose.maps import STRIDE  # noqa: E402
from squat.pose.mobilenet_thin import MobileNetThin, MobileNetThinFeet  # noqa: E402
from squat.skeleton import (  # noqa: E402
    FOOT_ANKLE,
    FOOT_POINTS,
    LIMB_JOINTS,
    N_HEATMAPS,
    N_JOINTS,
    N_PAFS,
    PAF_CHANNELS,
    J,
    mirror_index,
)

N_POINTS = N_JOINTS + len(FOOT_POINTS)  # shard keypoints: COCO-18, r_heel, r_toe, l_heel, l_toe (midfoot unused)
POINT_MIRROR = np.array(mirror_index(N_POINTS))
SIGMA_PX = 7.0  # OpenPose's training Gaussian, in input pixels
PAF_WIDTH_PX = 8.0  # half-width of a limb's field, in input pixels (one map cell)


def heatmap_targets(points: np.ndarray, size: int, sigma: float = SIGMA_PX) -> np.ndarray:
    """(22, 2) input-pixel points (NaN: none) → (23, s, s) maps: 18 parts, background, 4 foot
    points, sampled at the stride-8 cell centres (8j + 3.5, as OpenPose's labels)."""
    s = size // STRIDE
    centres = np.arange(s) * STRIDE + (STRIDE - 1) / 2
    dx = centres[None, :] - points[:, :1]  # (22, s)
    dy = centres[None, :] - points[:, 1:2]
    g = np.exp(-(dy[:, :, None] ** 2 + dx[:, None, :] ** 2) / (2 * sigma ** 2))
    g[~np.isfinite(points[:, 0])] = 0
    g = np.nan_to_num(g)
    background = 1 - g[:N_JOINTS].max(axis=0)
    return np.concatenate([g[:N_JOINTS], background[None], g[N_JOINTS:]]).astype(np.float32)


def paf_targets(points: np.ndarray, size: int, width: float = PAF_WIDTH_PX) -> np.ndarray:
    """(38, s, s) part affinity fields: the unit vector of each limb on the cells within
    `width` of the segment, 0 elsewhere (OpenPose's target)."""
    s = size // STRIDE
    c = np.arange(s) * STRIDE + (STRIDE - 1) / 2
    gx, gy = np.meshgrid(c, c)
    out = np.zeros((2 * len(LIMB_JOINTS), s, s), np.float32)
    for (a, b), (cx, cy) in zip(LIMB_JOINTS, PAF_CHANNELS):
        pa, pb = points[a], points[b]
        v = pb - pa
        length = float(np.hypot(*v))
        if not np.isfinite(length) or length < 1:
            continue
        u = v / length
        along = (gx - pa[0]) * u[0] + (gy - pa[1]) * u[1]
        across = np.abs((gx - pa[0]) * u[1] - (gy - pa[1]) * u[0])
        on = (along >= -width / 2) & (along <= length + width / 2) & (across <= width)
        out[cx][on], out[cy][on] = u[0], u[1]
    return out


def flip(image: np.ndarray, points: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Mirror a crop: x → size - 1 - x, and left and right exchange names."""
    image = image[:, ::-1]
    if points is None:
        return image, None
    p = points[POINT_MIRROR].copy()
    p[:, 0] = image.shape[1] - 1 - p[:, 0]
    return image, p


def jitter(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour and blur jitter of a uint8 BGR batch: gain per channel, contrast, brightness, noise."""
    x = images.astype(np.float32)
    n = len(x)
    x *= rng.uniform(0.75, 1.25, (n, 1, 1, 3)).astype(np.float32)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    x = (x - mean) * rng.uniform(0.7, 1.3, (n, 1, 1, 1)).astype(np.float32) + mean
    x += rng.uniform(-30, 30, (n, 1, 1, 1)).astype(np.float32)
    x += rng.normal(0, 4, x.shape).astype(np.float32)
    return np.clip(x, 0, 255)


def foot_head_from_ankles(model: MobileNetThinFeet) -> None:
    """Start the foot branch as a copy of the last heatmap branch, each output taken from the
    channel of its ankle: heels and toes begin where the ankles are."""
    last = model.stages[-1]["heat"]
    rows = list(FOOT_ANKLE)
    state = last.state_dict()
    for key in [k for k in state if k.startswith(f"{len(last) - 1}.pointwise.")]:
        state[key] = state[key][rows]
    model.feet.load_state_dict(state)


def student(base: Path, init: Path | None) -> MobileNetThinFeet:
    model = MobileNetThinFeet()
    if init:
        model.load_state_dict(torch.load(init, map_location="cpu", weights_only=True))
    else:
        model.load_state_dict(torch.load(base, map_location="cpu", weights_only=True), strict=False)
        foot_head_from_ankles(model)
    return model


def to_input(batch: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2))).float().to(device)


def stage_input(model: MobileNetThin, x: torch.Tensor, first: int) -> torch.Tensor:
    """What stage `first` (0-based) sees: the previous stage's PAFs and heatmaps + the features."""
    return model.refine(model.features(x), stages=model.stages[:first])[2]


def refine_from(model: MobileNetThinFeet, y: torch.Tensor, first: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The stages from `first` on and the foot branch: (heatmaps 23, PAFs 38)."""
    heatmaps, pafs, last = model.refine(y[:, N_PAFS + N_HEATMAPS:], y, model.stages[first:])
    return torch.cat([heatmaps, model.feet(last)], dim=1), pafs


def augment(images: np.ndarray, points: np.ndarray | None, rng: np.random.Generator):
    """Each crop flipped at random and jittered; with points: their targets too."""
    xs, hms, pafs = [], [], []
    for i, im in enumerate(images):
        p = None if points is None else points[i, :N_POINTS]
        if rng.uniform() < 0.5:
            im, p = flip(im, p)
        xs.append(im)
        if p is not None:
            hms.append(heatmap_targets(p, im.shape[0]))
            pafs.append(paf_targets(p, im.shape[0]))
    x = jitter(np.stack(xs), rng)
    return (x, None, None) if points is None else (x, np.stack(hms), np.stack(pafs))


@torch.no_grad()
def precompute(model: MobileNetThinFeet, teacher: MobileNetThin, images: np.ndarray, points: np.ndarray | None,
               first: int, rng: np.random.Generator, device: torch.device, chunk: int = 32) -> dict[str, torch.Tensor]:
    """The frozen part of the network run once per (augmented) crop: stage inputs (float16) and
    targets: from the truth for rendered crops, the original network's maps for real ones."""
    model.eval()
    ys, hms, pafs = [], [], []
    for lo in range(0, len(images), chunk):
        x, hm, paf = augment(images[lo:lo + chunk], None if points is None else points[lo:lo + chunk], rng)
        xt = to_input(x, device)
        ys.append(stage_input(model, xt, first).half().cpu())
        if points is None:
            hm, paf = teacher(xt)
            hms.append(hm.half().cpu()), pafs.append(paf.half().cpu())
        else:
            hms.append(torch.from_numpy(hm).half()), pafs.append(torch.from_numpy(paf).half())
        print(f"  precomputed {min(lo + chunk, len(images))}/{len(images)}", flush=True)
    return {"y": torch.cat(ys), "hm": torch.cat(hms), "paf": torch.cat(pafs)}


def map_losses(hm: torch.Tensor, paf: torch.Tensor, hm_t: torch.Tensor, paf_t: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Summed-over-channels mean squared errors: body heatmaps (19), PAFs, foot heatmaps (when the
    target has them)."""
    body = ((hm[:, :N_HEATMAPS] - hm_t[:, :N_HEATMAPS]) ** 2).mean(dim=(0, 2, 3)).sum()
    limbs = ((paf - paf_t) ** 2).mean(dim=(0, 2, 3)).sum()
    feet = ((hm[:, N_HEATMAPS:] - hm_t[:, N_HEATMAPS:]) ** 2).mean(dim=(0, 2, 3)).sum() \
        if hm_t.shape[1] > N_HEATMAPS else torch.zeros((), device=hm.device)
    return body, limbs, feet


@torch.no_grad()
def held_out_errors(model: torch.nn.Module, images: np.ndarray, points: np.ndarray, device: torch.device,
                    chunk: int = 32) -> dict[str, float]:
    """Keypoint errors on crops training never saw, × the crop's femur: each map's strongest point
    (one lifter a crop; maps upsampled ×4 as the engine decodes them) against the truth. Hips,
    knee and ankle: over all crops and over the crops at depth (hip within 0.3 femur of the
    knee's height); heels, toes and the right midfoot (their middle, x only): all crops."""
    model.eval()
    heat = []
    for lo in range(0, len(images), chunk):
        hm, _ = model(to_input(images[lo:lo + chunk], device))
        heat.append(hm.float().cpu().numpy())
    heat = np.stack([upsample(m, 4) for m in np.concatenate(heat)])  # as the engine decodes: ×4, bicubic
    c, h, w = heat.shape[1:]
    ys, xs = np.divmod(heat.reshape(len(heat), c, -1).argmax(axis=2), w)
    xy = to_input_pixels(np.stack([xs, ys], axis=2).astype(np.float64), 4)
    femur = np.hypot(*(points[:, J["r_hip"]] - points[:, J["r_knee"]]).T)
    deep = np.abs(points[:, J["r_hip"], 1] - points[:, J["r_knee"], 1]) < 0.3 * femur

    def err(channel: int, point: int, rows=slice(None)) -> float:
        d = np.hypot(*(xy[:, channel] - points[:, point]).T) / femur
        return round(float(np.mean(d[rows])), 3)

    out = {"crops": len(images), "at_depth": int(deep.sum())}
    for name in ("r_hip", "l_hip", "r_knee", "r_ankle"):
        out[name] = err(J[name], J[name])
        out[f"{name}@depth"] = err(J[name], J[name], deep)
    if c > N_HEATMAPS:
        for i, name in enumerate(("r_heel", "r_toe", "l_heel", "l_toe")):
            out[name] = err(N_HEATMAPS + i, N_JOINTS + i)
        mid = (xy[:, N_HEATMAPS] + xy[:, N_HEATMAPS + 1])[:, 0] / 2
        out["r_midfoot_x"] = round(float(np.mean(np.abs(mid - (points[:, N_JOINTS, 0] + points[:, N_JOINTS + 1, 0]) / 2)
                                                 / femur)), 3)
    return out


def load_shards(paths: list[Path], key: str) -> np.ndarray:
    return np.concatenate([np.load(p)[key] for p in paths])


def train(args: argparse.Namespace) -> dict:
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    images, points = load_shards(args.synth, "images"), load_shards(args.synth, "keypoints")
    real = load_shards(args.real, "images") if args.real else None
    print(f"{len(images)} rendered crops, {0 if real is None else len(real)} real crops, on {device}", flush=True)

    model = student(args.base, args.init).to(device)
    model.requires_grad_(False)
    for stage in model.stages[args.first_stage:]:
        stage.requires_grad_(True)
    model.feet.requires_grad_(True)
    teacher = MobileNetThin()
    teacher.load_state_dict(torch.load(args.base, map_location="cpu", weights_only=True))
    teacher = teacher.to(device).eval().requires_grad_(False)
    synth = precompute(model, teacher, images, points, args.first_stage, rng, device)
    distil = precompute(model, teacher, real, None, args.first_stage, rng, device) if real is not None else None
    foot = set(model.feet.parameters())
    body = [p for p in model.parameters() if p.requires_grad and p not in foot]
    opt = torch.optim.Adam([{"params": body}, {"params": list(foot), "lr": args.lr * args.foot_lr}], lr=args.lr)

    start, step, history = time.time(), 0, []
    deadline = start + 60 * args.minutes
    model.train()
    while time.time() < deadline and (not args.steps or step < args.steps):
        pick = torch.from_numpy(rng.choice(len(images), args.batch))
        hm, paf = refine_from(model, synth["y"][pick].float().to(device), args.first_stage)
        body, limbs, feet = map_losses(hm, paf, synth["hm"][pick].float().to(device), synth["paf"][pick].float().to(device))
        loss = body + limbs + args.foot_weight * feet
        kept = torch.zeros(())
        if distil is not None and args.real_batch:
            r = torch.from_numpy(rng.choice(len(distil["y"]), args.real_batch))
            hm, paf = refine_from(model, distil["y"][r].float().to(device), args.first_stage)
            b, lm, _ = map_losses(hm, paf, distil["hm"][r].float().to(device), distil["paf"][r].float().to(device))
            kept = b + lm
            loss = loss + args.real_weight * kept
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        row = dict(step=step, s=round(time.time() - start, 1), body=round(body.item(), 5),
                   pafs=round(limbs.item(), 5), feet=round(feet.item(), 5), distil=round(kept.item(), 5))
        history.append(row)
        if step % args.log_every == 0 or step == 1:
            print(json.dumps(row), flush=True)
            if args.out:
                save(model, args.out)
    if args.out:
        save(model, args.out)
    if args.val:
        val_images, val_points = load_shards(args.val, "images"), load_shards(args.val, "keypoints")
        print("held out, original:", json.dumps(held_out_errors(teacher, val_images, val_points, device)), flush=True)
        print("held out, trained: ", json.dumps(held_out_errors(model, val_images, val_points, device)), flush=True)
    mean = lambda rows, k: round(float(np.mean([r[k] for r in rows])), 5) if rows else None  # noqa: E731
    head, tail = history[: args.log_every], history[-args.log_every:]
    return {"steps": step, "seconds": round(time.time() - start),
            "first": {k: mean(head, k) for k in ("body", "pafs", "feet", "distil")},
            "last": {k: mean(tail, k) for k in ("body", "pafs", "feet", "distil")}}


def save(model: torch.nn.Module, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part")
    torch.save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, tmp)
    tmp.replace(out)


def run_arguments(ap: argparse.ArgumentParser, *, minutes: float, batch: int, real_batch: int, lr: float,
                  foot_weight: float) -> None:
    """What every training script takes: its data, where it starts and ends, how long, how hard."""
    ap.add_argument("--synth", type=Path, nargs="+", required=True)
    ap.add_argument("--real", type=Path, nargs="*", default=[])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--base", type=Path, default=ROOT / "weights" / "mobilenet_thin.pth")
    ap.add_argument("--init", type=Path, help="start from these MobileNetThinFeet weights (else the base + a new foot branch)")
    ap.add_argument("--minutes", type=float, default=minutes)
    ap.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: by time only)")
    ap.add_argument("--batch", type=int, default=batch)
    ap.add_argument("--real-batch", type=int, default=real_batch)
    ap.add_argument("--lr", type=float, default=lr)
    ap.add_argument("--foot-weight", type=float, default=foot_weight)
    ap.add_argument("--real-weight", type=float, default=1.0)
    ap.add_argument("--foot-lr", type=float, default=10.0, help="the foot branch learns this × faster")
    ap.add_argument("--seed", type=int, default=0)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    run_arguments(ap, minutes=60, batch=16, real_batch=4, lr=5e-5, foot_weight=1.0)
    ap.add_argument("--first-stage", type=int, default=3,
                    help="0-based first refinement stage that learns; the backbone and the stages before it stay fixed")
    ap.add_argument("--val", type=Path, nargs="*", default=[], help="held-out crops (other seeds) scored at the end")
    ap.add_argument("--log-every", type=int, default=20)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    print(f"commit {commit}; {vars(args)}", flush=True)
    print(json.dumps(train(args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
