"""Train the whole MobileNet-thin OpenPose (backbone included) on rendered squats, on a GPU.

    python tools/train_whole.py --synth TRAIN.pack.npz --real REAL.pack.npz --out RUN.pth \
        [--minutes 6] [--init weights/mobilenet_thin_squat.pth] [--lr 1e-4] [--backbone-lr 0.1] \
        [--real-weight 1] [--batch 64] [--real-batch 32] [--keep-at 0.5] \
        [--occlude 0.5] [--deep 2] [--cut 0.3]

tools/train_pose.py trains the last stages on stage inputs computed once (what a 2-core CPU
allows); here every step runs the whole network, so each crop is augmented afresh on the GPU:
a random similarity (scale, rotation, shift, mirror with left and right exchanged), colour,
blur and noise. Rendered crops learn targets made from the truth on the GPU (OpenPose's
Gaussian heatmaps, σ 7 px, plus background, and unit-vector PAFs 8 px wide, as train_pose.py
makes them; heels and big toes in the foot branch); real crops learn the original network's
own maps on the same augmented pixels (distillation: real people must not be forgotten).

Packs come from `tools/train_data.py pack` (JPEG crops: a pack travels to a GPU machine in a
few MB). `--real-val` scores the distillation error on real crops training never saw (their
own sources): the first sign of forgetting, before the real clips are run. Every run goes in
docs/training-log.md.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from train_pose import (  # noqa: E402
    N_POINTS,
    PAF_WIDTH_PX,
    POINT_MIRROR,
    SIGMA_PX,
    held_out_errors,
    map_losses,
    run_arguments,
    save,
    student,
)

from squat.measure.points import body_points, joint_angles  # noqa: E402
from squat.pose.maps import STRIDE  # noqa: E402
from squat.pose.mobilenet_thin import MobileNetThin  # noqa: E402
from squat.skeleton import LIMB_JOINTS, N_JOINTS, PAF_CHANNELS, J  # noqa: E402

GREY = 114.0  # outside the crop, as train_data.cut pads
J_R_HIP, J_R_KNEE, J_L_HIP, J_L_KNEE = (J[k] for k in ("r_hip", "r_knee", "l_hip", "l_knee"))
J_NOSE, J_NECK, J_R_ANKLE, J_L_ANKLE = (J[k] for k in ("nose", "neck", "r_ankle", "l_ankle"))


def load_pack(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(N, S, S, 3) uint8 BGR crops and (N, 23, 2) keypoints (None for real crops) from a pack."""
    pack = np.load(path)
    blob, offsets = pack["jpeg"], pack["offsets"]
    images = np.stack([cv2.imdecode(blob[a:b], cv2.IMREAD_COLOR) for a, b in zip(offsets[:-1], offsets[1:])])
    return images, (pack["keypoints"] if "keypoints" in pack.files else None)


def random_similarity(n: int, gen: torch.Generator, device: torch.device, *, scale=(0.75, 1.3),
                      degrees: float = 12.0, shift: float = 0.12) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per crop in normalised coordinates (-1..1): A (n, 2, 2), b (n, 2) with dst = A src + b, and
    whether it mirrors (n,) bool."""
    u = torch.rand(n, 4, generator=gen, device=device)
    s = scale[0] * (scale[1] / scale[0]) ** u[:, 0]  # log-uniform
    a = torch.deg2rad((u[:, 1] * 2 - 1) * degrees)
    mirror = u[:, 2] < 0.5
    fx = torch.where(mirror, -1.0, 1.0)
    cos, sin = torch.cos(a) * s, torch.sin(a) * s
    A = torch.stack([torch.stack([cos * fx, -sin], -1), torch.stack([sin * fx, cos], -1)], -2)
    b = (torch.rand(n, 2, generator=gen, device=device) * 2 - 1) * shift
    return A, b, mirror


def warp(images: torch.Tensor, A: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(n, 3, S, S) float images under dst = A src + b (normalised), grey outside."""
    inv = torch.linalg.inv(A)
    theta = torch.cat([inv, -(inv @ b[:, :, None])], dim=2)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images - GREY, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + GREY


def warp_points(points: torch.Tensor, A: torch.Tensor, b: torch.Tensor, mirror: torch.Tensor, size: int) -> torch.Tensor:
    """(n, P, 2) crop-pixel points under the same map; a mirrored crop's left and right exchange names."""
    norm = (2 * points + 1) / size - 1
    out = torch.einsum("nij,npj->npi", A, norm) + b[:, None]
    out = (out + 1) * size / 2 - 0.5
    swapped = out[:, torch.as_tensor(POINT_MIRROR, device=out.device)]
    return torch.where(mirror[:, None, None], swapped, out)


def photometric(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Gain per channel, contrast, brightness, a phone's blur now and then, sensor noise; 0..255."""
    n, dev = len(x), x.device
    r = lambda *shape: torch.rand(*shape, generator=gen, device=dev)  # noqa: E731
    x = x * (0.75 + 0.5 * r(n, 3, 1, 1))
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * (0.7 + 0.6 * r(n, 1, 1, 1)) + mean + (r(n, 1, 1, 1) * 60 - 30)
    small = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False, antialias=True)
    blurred = F.interpolate(small, size=x.shape[-2:], mode="bilinear", align_corners=False)
    x = torch.where(r(n, 1, 1, 1) < 0.25, blurred, x)
    x = x + torch.randn(x.shape, generator=gen, device=dev) * (r(n, 1, 1, 1) * 6)
    return x.clamp(0, 255)


def cell_centres(size: int, device: torch.device) -> torch.Tensor:
    return torch.arange(size // STRIDE, device=device, dtype=torch.float32) * STRIDE + (STRIDE - 1) / 2


def heatmap_targets(points: torch.Tensor, size: int, sigma: float = SIGMA_PX) -> torch.Tensor:
    """(n, 22, 2) input-pixel points (NaN: none) → (n, 23, s, s): 18 parts, background, 4 foot
    points (train_pose.heatmap_targets, batched)."""
    c = cell_centres(size, points.device)
    dx = c[None, None, :] - points[..., :1]
    dy = c[None, None, :] - points[..., 1:]
    g = torch.exp(-(dy[..., :, None] ** 2 + dx[..., None, :] ** 2) / (2 * sigma ** 2))
    g = torch.nan_to_num(g, nan=0.0)
    background = 1 - g[:, :N_JOINTS].amax(dim=1, keepdim=True)
    return torch.cat([g[:, :N_JOINTS], background, g[:, N_JOINTS:]], dim=1)


_LIMB_A = [a for a, _ in LIMB_JOINTS]
_LIMB_B = [b for _, b in LIMB_JOINTS]
_PAF_X = [cx for cx, _ in PAF_CHANNELS]
_PAF_Y = [cy for _, cy in PAF_CHANNELS]


def paf_targets(points: torch.Tensor, size: int, width: float = PAF_WIDTH_PX) -> torch.Tensor:
    """(n, 38, s, s): each limb's unit vector on the cells within `width` of it (train_pose.paf_targets, batched)."""
    c = cell_centres(size, points.device)
    pa, pb = points[:, _LIMB_A], points[:, _LIMB_B]  # (n, 19, 2)
    v = pb - pa
    length = torch.linalg.norm(v, dim=-1)
    ok = torch.isfinite(length) & (length >= 1)
    u = torch.nan_to_num(v / length.clamp(min=1)[..., None])
    pa = torch.nan_to_num(pa)
    gx = c[None, None, None, :] - pa[..., 0, None, None]  # (n, 19, 1, s)
    gy = c[None, None, :, None] - pa[..., 1, None, None]  # (n, 19, s, 1)
    ux, uy = u[..., 0, None, None], u[..., 1, None, None]
    along = gx * ux + gy * uy
    across = (gx * uy - gy * ux).abs()
    on = (along >= -width / 2) & (along <= length[..., None, None] + width / 2) & (across <= width) & ok[..., None, None]
    out = torch.zeros(len(points), 2 * len(LIMB_JOINTS), len(c), len(c), device=points.device)
    out[:, _PAF_X] = ux * on
    out[:, _PAF_Y] = uy * on
    return out


# Bumper-plate colours (BGR, as the crops): black, green, red, blue, yellow, and a grey steel plate.
PLATE_COLOURS = torch.tensor([[25, 25, 25], [40, 110, 30], [40, 40, 170], [150, 70, 20], [30, 170, 200],
                              [120, 120, 120]], dtype=torch.float32)


def gym_in_front(x: torch.Tensor, points: torch.Tensor, gen: torch.Generator, share: float) -> torch.Tensor:
    """What hides a lifter's hips and knees in a gym, drawn over a share of the crops: a rack upright
    (a vertical bar near the knee, dark or steel-coloured) and a plate seen face-on (a disc on the
    thigh, bumper-coloured with a steel hub). The targets stay where the joints are: the network
    learns to read a knee behind an upright (side_bb_gym_greenplate's knee at the bottom, training
    log §6). (n, 3, S, S) float 0..255, points (n, P, 2) in the same pixels."""
    n, size, dev = len(x), x.shape[-1], x.device
    r = lambda *shape: torch.rand(*shape, generator=gen, device=dev)  # noqa: E731
    hips = torch.nanmean(points[:, [J_R_HIP, J_L_HIP]], dim=1)
    knees = torch.nanmean(points[:, [J_R_KNEE, J_L_KNEE]], dim=1)
    hips = torch.where(hips.isnan(), torch.full_like(hips, size / 2), hips)
    knees = torch.where(knees.isnan(), hips, knees)
    along = r(n, 1)
    near = hips + along * (knees - hips) + (r(n, 2) - 0.5) * 0.2 * size  # somewhere on the thigh, ±10 %
    ys, xs = torch.meshgrid(torch.arange(size, device=dev, dtype=x.dtype), torch.arange(size, device=dev,
                            dtype=x.dtype), indexing="ij")
    # an upright: 2-5 % of the crop wide (a 7.5 cm upright beside a lifter filling 0.6-0.95 of it),
    # its x beside the knee, from the top down to anywhere below
    bar_x = knees[:, 0] + (r(n) - 0.5) * 0.25 * size
    half = (0.01 + 0.015 * r(n)) * size
    bar = ((xs[None] - bar_x[:, None, None]).abs() < half[:, None, None]) & \
          (ys[None] < (0.6 + 0.6 * r(n))[:, None, None] * size)
    bar &= (r(n) < 0.5)[:, None, None]
    steel = 40 + 140 * r(n, 1)
    bar_colour = (steel + (r(n, 3) - 0.5) * 40).clamp(0, 255)
    # a plate: radius 6-15 % of the crop (a 45 cm bumper is 0.26 of a 1.75 m lifter), a hub of a sixth
    radius = (0.06 + 0.09 * r(n)) * size
    d2 = (xs[None] - near[:, 0, None, None]) ** 2 + (ys[None] - near[:, 1, None, None]) ** 2
    plate = (d2 < radius[:, None, None] ** 2) & (r(n) < 0.5)[:, None, None]
    hub = plate & (d2 < (radius / 6)[:, None, None] ** 2)
    plate_colour = PLATE_COLOURS.to(dev)[torch.randint(len(PLATE_COLOURS), (n,), generator=gen, device=dev)]
    chosen = (r(n) < share)[:, None, None]
    out = torch.where((bar & chosen)[:, None], bar_colour[:, :, None, None], x)
    out = torch.where((plate & chosen)[:, None], plate_colour[:, :, None, None], out)
    return torch.where((hub & chosen)[:, None], torch.full_like(out, 150.0), out)


def frame_edges(x: torch.Tensor, points: torch.Tensor, gen: torch.Generator, share: float):
    """The frame's edge across the lifter, on a share of the rendered crops: the bottom edge between
    mid-shin and just below the ankles, and on half of those the top edge through the head
    (closeup_bb_rack_cropped: shoes and head cut off, the lifter filling the frame; the close-up
    that sank wD2 and wE, training log §5, §7). Beyond an edge is grey, as the engine pads, and the
    points there get no target: nothing shows where they are. → (x, points)."""
    n, size, dev = len(x), x.shape[-1], x.device
    r = lambda *shape: torch.rand(*shape, generator=gen, device=dev)  # noqa: E731
    y = points[..., 1]
    knee, ankle = torch.nanmean(y[:, [J_R_KNEE, J_L_KNEE]], 1), torch.nanmean(y[:, [J_R_ANKLE, J_L_ANKLE]], 1)
    nose, neck = y[:, J_NOSE], y[:, J_NECK]
    chosen = r(n) < share
    bottom = torch.where(chosen, knee + (0.5 + 0.6 * r(n)) * (ankle - knee), torch.full_like(knee, float(size)))
    top = torch.where(chosen & (r(n) < 0.5), nose + (-0.5 + 1.2 * r(n)) * (neck - nose), torch.full_like(nose, -1.0))
    bottom, top = bottom.nan_to_num(float(size)), top.nan_to_num(-1.0)  # a crop without the joints is not cut
    rows = torch.arange(size, device=dev, dtype=x.dtype)[None, :]
    outside = (rows > bottom[:, None]) | (rows < top[:, None])  # (n, S)
    x = torch.where(outside[:, None, :, None], torch.full_like(x, GREY), x)
    gone = (y > bottom[:, None]) | (y < top[:, None])
    return x, torch.where(gone[..., None], torch.full_like(points, float("nan")), points)


def augmented(images: torch.Tensor, points: torch.Tensor | None, gen: torch.Generator, occlude: float = 0.0,
              cut: float = 0.0):
    """A batch of uint8 NHWC crops on the device → (x, points) augmented afresh; `occlude` of the
    rendered crops get a rack upright or a plate in front (gym_in_front), `cut` of them the frame's
    edge across the shins or head (frame_edges)."""
    x = images.permute(0, 3, 1, 2).float()
    A, b, mirror = random_similarity(len(x), gen, x.device)
    x = warp(x, A, b)
    if points is not None:
        points = warp_points(points, A, b, mirror, x.shape[-1])
        if occlude:
            x = gym_in_front(x, points, gen, occlude)
        if cut:
            x, points = frame_edges(x, points, gen, cut)
    return photometric(x, gen), points


def deep_weights(points: np.ndarray, times: float) -> np.ndarray:
    """How often each rendered crop is drawn: `times` as often where a knee is folded under 80°
    (the bottom of a squat; ~1 in 7 crops), 1 elsewhere."""
    knees = [joint_angles(body_points(points, side))["knee_angle"] for side in ("right", "left")]
    with np.errstate(invalid="ignore"):
        return np.where(np.fmin(*knees) < 80, times, 1.0)


def param_groups(model: torch.nn.Module, lr: float, backbone: float, feet: float) -> list[dict]:
    groups = {"backbone": [], "stages": [], "feet": []}
    for name, p in model.named_parameters():
        groups[name.split(".")[0] if name.split(".")[0] in groups else "stages"].append(p)
    return [{"params": groups["backbone"], "lr": lr * backbone}, {"params": groups["stages"], "lr": lr},
            {"params": groups["feet"], "lr": lr * feet}]


@torch.no_grad()
def distil_error(model: torch.nn.Module, teacher: MobileNetThin, images: torch.Tensor, chunk: int = 256) -> float:
    """Mean body + PAF map error against the original network on un-augmented real crops."""
    model.eval()
    total = 0.0
    for lo in range(0, len(images), chunk):
        x = images[lo:lo + chunk].permute(0, 3, 1, 2).float()
        hm_t, paf_t = teacher(x)
        hm, paf = model(x)
        b, lm, _ = map_losses(hm[:, :hm_t.shape[1]].float(), paf.float(), hm_t.float(), paf_t.float())
        total += float(b + lm) * len(x)
    model.train()
    return round(total / len(images), 5)


def train(args: argparse.Namespace) -> dict:
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    gen = torch.Generator(device=device).manual_seed(args.seed)  # every draw made where the batch is
    parts = [load_pack(p) for p in args.synth]
    images = torch.from_numpy(np.concatenate([p[0] for p in parts])).to(device)
    points_np = np.concatenate([p[1] for p in parts])[:, :N_POINTS].astype(np.float32)
    points = torch.from_numpy(points_np).to(device)
    draw = torch.from_numpy(deep_weights(points_np, args.deep)).float().to(device)
    real = torch.from_numpy(np.concatenate([load_pack(p)[0] for p in args.real])).to(device) if args.real else None
    real_val = torch.from_numpy(np.concatenate([load_pack(p)[0] for p in args.real_val])).to(device) \
        if args.real_val else None
    print(f"{len(images)} rendered crops, {0 if real is None else len(real)} real, "
          f"{0 if real_val is None else len(real_val)} real held out, on {device}", flush=True)

    model = student(args.base, args.init).to(device).train()
    teacher = MobileNetThin()
    teacher.load_state_dict(torch.load(args.base, map_location="cpu", weights_only=True))
    teacher = teacher.to(device).eval().requires_grad_(False)
    opt = torch.optim.AdamW(param_groups(model, args.lr, args.backbone_lr, args.foot_lr), lr=args.lr, weight_decay=0)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    size = images.shape[1]
    before = distil_error(model, teacher, real_val) if real_val is not None else None

    start, step, history, kept = time.time(), 0, [], set()
    total = 60 * args.minutes
    while (not args.steps or step < args.steps) and time.time() - start < total:
        frac = (time.time() - start) / total
        # warm up (Adam's first steps move every weight by ~lr whatever its gradient), then cosine to half
        ramp = min(1.0, (step + 1) / args.warmup) * (0.5 + 0.5 * math.cos(math.pi * min(frac, 1.0)))
        for g, base in zip(opt.param_groups, (args.lr * args.backbone_lr, args.lr, args.lr * args.foot_lr)):
            g["lr"] = base * ramp
        pick = torch.multinomial(draw, args.batch, replacement=True, generator=gen)
        x, p = augmented(images[pick], points[pick], gen, args.occlude, args.cut)
        with torch.no_grad():
            hm_t, paf_t = heatmap_targets(p, size), paf_targets(p, size)
        with autocast:
            hm, paf = model(x)
        body, limbs, feet = map_losses(hm.float(), paf.float(), hm_t, paf_t)
        loss = body + limbs + args.foot_weight * feet
        distil = torch.zeros((), device=device)
        if real is not None and args.real_batch:
            r = torch.randint(len(real), (args.real_batch,), generator=gen, device=device)
            xr, _ = augmented(real[r], None, gen)
            with torch.no_grad(), autocast:
                hr_t, pr_t = teacher(xr)
            with autocast:
                hr, pr = model(xr)
            b, lm, _ = map_losses(hr[:, :hr_t.shape[1]].float(), pr.float(), hr_t.float(), pr_t.float())
            distil = b + lm
            loss = loss + args.real_weight * distil
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % args.log_every == 0 or step == 1:
            row = dict(step=step, s=round(time.time() - start, 1), body=round(body.item(), 5),
                       pafs=round(limbs.item(), 5), feet=round(feet.item(), 5), distil=round(distil.item(), 5))
            history.append(row)
            print(json.dumps(row), flush=True)
        for at in args.keep_at:
            if frac >= at and at not in kept and args.out:
                kept.add(at)
                save(model, args.out.with_name(f"{args.out.stem}_{int(at * 100)}{args.out.suffix}"))
    if args.out:
        save(model, args.out)
    result = {"steps": step, "seconds": round(time.time() - start), "first": history[0] if history else None,
              "last": history[-1] if history else None}
    if real_val is not None:
        result["real_val_distil"] = {"before": before, "after": distil_error(model, teacher, real_val)}
    for path in args.val:
        vi, vp = load_pack(path)
        result[f"val {path.name} original"] = held_out_errors(teacher, vi, vp, device)
        result[f"val {path.name} trained"] = held_out_errors(model, vi, vp, device)
    return result


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    run_arguments(ap, minutes=6, batch=64, real_batch=32, lr=1e-4, foot_weight=3.0)
    ap.add_argument("--real-val", type=Path, nargs="*", default=[], help="real crops never trained on (other sources)")
    ap.add_argument("--val", type=Path, nargs="*", default=[], help="rendered crops never trained on (other seeds)")
    ap.add_argument("--backbone-lr", type=float, default=0.1, help="the backbone learns this × slower")
    ap.add_argument("--warmup", type=int, default=500, help="steps of linear learning-rate warm-up")
    ap.add_argument("--keep-at", type=float, nargs="*", default=[0.5], help="also save at these fractions of the time")
    ap.add_argument("--log-every", type=int, default=200)
    ap.add_argument("--occlude", type=float, default=0.0,
                    help="share of rendered crops with an upright or plate in front")
    ap.add_argument("--cut", type=float, default=0.0, help="share of rendered crops with the frame's edge across the "
                    "shins (and on half of those the head)")
    ap.add_argument("--deep", type=float, default=1.0, help="crops with a knee under 80° drawn this × as often")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    print(json.dumps({k: str(v) for k, v in vars(args).items()}), flush=True)
    print(json.dumps(train(args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
