"""Drawing the analysis onto video frames with OpenCV: skeleton, angles, moment arms, heatmaps.

Every public function takes a BGR uint8 frame and returns a new one; the input is never
touched. Sizes (line widths, dots, fonts) are given at a 1080-pixel short side and scale
with the frame, so a 540p and a 2160p clip look alike. Per frame the cost is a handful of
small OpenCV calls plus one copy: transparency is blended only inside small boxes, never
over the whole frame.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import cv2
import numpy as np

from squat.measures import COLOURS
from squat.numbers import number
from squat.skeleton import LIMB_JOINTS, SIDE_CHAIN, J

Color = tuple[int, int, int]  # BGR
Point = tuple[float, float]
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, ends exclusive

_SHIFT = 4  # sub-pixel bits for cv2 drawing: smooth anti-aliased lines at any scale
_ONE = 1 << _SHIFT
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_AA = cv2.LINE_AA


def bgr(hex_colour: str) -> Color:
    """"#ffa500" → (0, 165, 255): OpenCV draws in BGR."""
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return b, g, r


@dataclass(frozen=True)
class Palette:
    """BGR colours shared by the video overlay and the charts: one joint, one colour."""

    chain: Color = (250, 250, 250)  # camera-side leg and trunk
    limb: Color = (210, 210, 210)  # every other limb, drawn faint
    halo: Color = (25, 25, 25)  # dark outline that keeps bright lines readable on any background
    knee: Color = bgr(COLOURS["knee"])  # the joints' colours are declared once, in squat.measures
    hip: Color = bgr(COLOURS["hip"])
    trunk: Color = bgr(COLOURS["trunk"])
    midfoot: Color = bgr(COLOURS["midfoot"])  # the ideal bar path / centre-of-gravity line
    bar_path: Color = bgr(COLOURS["bar"])  # the bar's actual path this rep
    text: Color = (245, 245, 245)


PALETTE = Palette()


@dataclass(frozen=True)
class OverlayStyle:
    """Sizes in pixels for a frame whose short side is `reference_px`; scaled for others."""

    palette: Palette = field(default_factory=Palette)
    reference_px: float = 1080.0
    chain_thickness: float = 6.0
    limb_thickness: float = 2.0
    limb_opacity: float = 0.5
    halo_thickness: float = 3.0  # extra width of the dark outline around the bold chain
    joint_radius: float = 7.0
    minor_joint_radius: float = 3.5
    font_scale: float = 0.85
    min_font_scale: float = 0.35  # Hershey text below this is unreadable, whatever the frame size
    font_thickness: float = 2.0
    label_pad: float = 7.0
    label_opacity: float = 0.65  # dark box behind labels
    arc_radius: float = 52.0
    arc_fill_opacity: float = 0.3
    lean_reference_length: float = 0.55  # vertical reference at the hip, × trunk length
    dash_length: float = 16.0
    dash_gap: float = 12.0
    midfoot_thickness: float = 2.5
    arm_thickness: float = 3.0
    arm_tick: float = 10.0  # half-height of the end ticks on a moment-arm segment
    bar_path_thickness: float = 3.0
    chart_margin: float = 16.0  # gap between the chart band and the frame edges
    chart_height_fraction: float = 0.27  # chart band height, × frame height
    chart_max_aspect: float = 0.5  # chart height at most this × its width (portrait clips)
    panel_opacity: float = 0.7  # how much the dark panel behind the chart hides the video


DEFAULT_STYLE = OverlayStyle()


# ---------------------------------------------------------------- geometry helpers


def frame_scale(shape: tuple[int, ...], style: OverlayStyle = DEFAULT_STYLE) -> float:
    """Size factor for a frame: its short side over the style's reference (1.0 at 1080p)."""
    return min(shape[0], shape[1]) / style.reference_px


def scaled_px(value: float, scale: float, minimum: int = 1) -> int:
    """A length in pixels of a frame drawn at `scale` (at least `minimum`)."""
    return max(minimum, int(round(value * scale)))


def _fp(xy: Point) -> tuple[int, int]:
    """A point in cv2's fixed-point sub-pixel coordinates (use with shift=_SHIFT)."""
    return int(round(xy[0] * _ONE)), int(round(xy[1] * _ONE))


def _check(image: np.ndarray, keypoints: np.ndarray | None = None, side: str | None = None) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected a BGR uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    if keypoints is not None and np.shape(keypoints) != (len(J), 3):
        raise ValueError(f"expected keypoints of shape ({len(J)}, 3), got {np.shape(keypoints)}")
    if side is not None and side not in SIDE_CHAIN:
        raise ValueError(f"side must be one of {sorted(SIDE_CHAIN)}, got {side!r}")


def _present(keypoints: np.ndarray) -> np.ndarray:
    """Which joints have a position (x and y finite)."""
    return np.isfinite(keypoints[:, 0]) & np.isfinite(keypoints[:, 1])


def _xy(keypoints: np.ndarray, joint: int) -> Point:
    return float(keypoints[joint, 0]), float(keypoints[joint, 1])


def _chain_joints(keypoints: np.ndarray, side: str) -> dict[str, int | None]:
    """Camera-side joints by role; the trunk top is the shoulder, else the neck."""
    neck, shoulder, hip, knee, ankle = (J[name] for name in SIDE_CHAIN[side])
    ok = _present(keypoints)
    top = shoulder if ok[shoulder] else neck
    roles = {"neck": neck, "shoulder": shoulder, "top": top, "hip": hip, "knee": knee, "ankle": ankle}
    return {role: (j if ok[j] else None) for role, j in roles.items()}


def _chain_segments(keypoints: np.ndarray, side: str) -> list[tuple[int, int]]:
    c = _chain_joints(keypoints, side)
    pairs = [(c["neck"], c["shoulder"]), (c["top"], c["hip"]), (c["hip"], c["knee"]), (c["knee"], c["ankle"])]
    return [(a, b) for a, b in pairs if a is not None and b is not None and a != b]


def row_number(row: Mapping[str, Any] | None, key: str) -> float:
    """A number from a table row (dict or pandas Series); NaN when absent or not a number."""
    return math.nan if row is None else number(row.get(key))


def _direction_deg(origin: Point, target: Point) -> float:
    """Image-space direction (y down) in degrees, as cv2.ellipse measures angles."""
    return math.degrees(math.atan2(target[1] - origin[1], target[0] - origin[0]))


def _unit(origin: Point, target: Point) -> np.ndarray:
    v = np.subtract(target, origin, dtype=np.float64)
    n = float(np.hypot(*v))
    return v / n if n > 0 else np.zeros(2)


# ---------------------------------------------------------------- low-level drawing


def _dim_box(image: np.ndarray, x0: int, y0: int, x1: int, y1: int, opacity: float) -> None:
    """Darken a rectangle in place (a semi-transparent black panel), clipped to the image."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 > x0 and y1 > y0:
        roi = image[y0:y1, x0:x1]
        cv2.convertScaleAbs(roi, dst=roi, alpha=1.0 - opacity)


@functools.lru_cache(maxsize=4096)
def _measured(text: str, font_scale: float, thickness: int) -> tuple[tuple[int, int], int]:
    """cv2.getTextSize, remembered: a video's labels repeat (an angle takes ~100 values), and placing
    them asks for each size many times a frame."""
    return cv2.getTextSize(text, _FONT, font_scale, thickness)


def text_size(text: str, font_scale: float, thickness: int, degree: bool = False) -> tuple[int, int, int]:
    """(width, cap height, baseline) of a label, including the drawn degree sign."""
    (w, h), base = _measured(text, font_scale, thickness)
    if degree:
        w += _degree_radius(h, thickness) * 2 + thickness * 2
    return w, h, base


def _degree_radius(cap_height: int, thickness: int) -> int:
    return max(2, int(round(cap_height * 0.17)), thickness + 1)


def put_text(
    image: np.ndarray,
    text: str,
    org: tuple[int, int],
    color: Color,
    font_scale: float,
    thickness: int,
    degree: bool = False,
) -> None:
    """cv2.putText at the baseline-left `org`, with a drawn degree sign (putText has no '°')."""
    cv2.putText(image, text, org, _FONT, font_scale, color, thickness, _AA)
    if degree:
        (w, h), _ = _measured(text, font_scale, thickness)
        r = _degree_radius(h, thickness)
        centre = (org[0] + w + r + thickness, org[1] - h + r)
        cv2.circle(image, centre, r, color, max(1, thickness - 1), _AA)


@dataclass(frozen=True)
class Label:
    """Text waiting for a place: candidate centres, best first."""

    text: str
    color: Color
    candidates: tuple[Point, ...]
    size: float = 1.0  # × the style's font size
    degree: bool = False
    priority: int = 0  # lower is placed first and gets the best spot
    arrow: int = 0  # +1 / -1: an up / down triangle drawn before the text (Hershey fonts have no arrows)


@dataclass
class _Scene:
    """What labels must not cover (lines, joints, arcs, earlier labels) and the labels to place."""

    segments: list[tuple[Point, Point, float]] = field(default_factory=list)  # (a, b, half width)
    boxes: list[Box] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    top: int = 0  # no label reaches above this row: the chart band pasted over the frame's top


def _font(scale: float, size: float, style: OverlayStyle) -> tuple[float, int, int]:
    """(font scale, thickness, padding) for a label of relative `size` on a frame of `scale`."""
    font = max(style.min_font_scale, style.font_scale * scale * size)
    return font, scaled_px(style.font_thickness * size, scale), scaled_px(style.label_pad * size, scale, 2)


def label_extent(text: str, scale: float, size: float, style: OverlayStyle, degree: bool,
                  arrow: bool = False) -> tuple[int, int]:
    """(width, height) of a label's box, padding included."""
    fs, th, pad = _font(scale, size, style)
    w, cap, base = text_size(text, fs, th, degree)
    return w + 2 * pad + (sum(_arrow_extent(cap, th)) if arrow else 0), cap + base + 2 * pad


def _arrow_extent(cap: int, thickness: int) -> tuple[int, int]:
    """(width, gap after it) of a label's up/down triangle, as tall as the text's capitals."""
    return max(3, int(round(cap * 0.9))), max(2, 2 * thickness)


def _draw_arrow(image: np.ndarray, x: int, top: int, cap: int, thickness: int, up: bool, color: Color) -> None:
    """A filled triangle `cap` tall from (x, top), pointing up or down."""
    w = _arrow_extent(cap, thickness)[0]
    tip, base = (top, top + cap) if up else (top + cap, top)
    triangle = np.array([[x, base], [x + w, base], [x + w / 2, tip]]) * _ONE
    cv2.fillPoly(image, [np.round(triangle).astype(np.int32)], color, _AA, _SHIFT)


def _box_at(centre: Point, extent: tuple[int, int], shape: tuple[int, ...], top: int = 0) -> Box:
    """Box of `extent` centred on `centre`, shifted to lie inside the frame, below row `top`."""
    w, h = extent
    x0 = min(max(int(round(centre[0] - w / 2)), 0), max(0, shape[1] - w))
    y0 = min(max(int(round(centre[1] - h / 2)), top), max(top, shape[0] - h))
    return x0, y0, x0 + w, y0 + h


def _segment_hits_box(a: Point, b: Point, box: Box, margin: float) -> bool:
    """Liang–Barsky: does segment a–b pass through the box grown by `margin`?"""
    x0, y0, x1, y1 = box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin
    dx, dy = b[0] - a[0], b[1] - a[1]
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, a[0] - x0), (dx, x1 - a[0]), (-dy, a[1] - y0), (dy, y1 - a[1])):
        if p == 0:
            if q < 0:
                return False
            continue
        r = q / p
        if p < 0:
            t0 = max(t0, r)
        else:
            t1 = min(t1, r)
        if t0 > t1:
            return False
    return True


def _boxes_overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _place(scene: _Scene, extent: tuple[int, int], candidates: tuple[Point, ...], shape: tuple[int, ...],
           gap: float) -> Box:
    """The first candidate box covering the fewest things already drawn (ideally none)."""
    best, best_cost = None, math.inf
    for centre in candidates:
        box = _box_at(centre, extent, shape, scene.top)
        cost = sum(_boxes_overlap(box, other) for other in scene.boxes) + sum(
            _segment_hits_box(a, b, box, hw + gap) for a, b, hw in scene.segments)
        if cost < best_cost:
            best, best_cost = box, cost
            if cost == 0:
                break
    return best


def _draw_labels(image: np.ndarray, scene: _Scene, style: OverlayStyle) -> None:
    """Place each label in turn (earlier labels win), then draw it over a dark translucent box."""
    s = frame_scale(image.shape, style)
    gap = scaled_px(2.0, s)
    for label in sorted(scene.labels, key=lambda label: label.priority):
        if not label.candidates:
            continue
        extent = label_extent(label.text, s, label.size, style, label.degree, bool(label.arrow))
        box = _place(scene, extent, label.candidates, image.shape, gap)
        scene.boxes.append(box)
        fs, th, pad = _font(s, label.size, style)
        cap = text_size(label.text, fs, th)[1]
        _dim_box(image, *box, style.label_opacity)
        x = box[0] + pad
        if label.arrow:
            _draw_arrow(image, x, box[1] + pad, cap, th, label.arrow > 0, label.color)
            x += sum(_arrow_extent(cap, th))
        put_text(image, label.text, (x, box[1] + pad + cap), label.color, fs, th, label.degree)


def label_spots(centre: Point, directions: list[np.ndarray], distance: float, extent: tuple[int, int],
            rings: tuple[float, ...] = (1.0, 1.6)) -> tuple[Point, ...]:
    """Centres for a box of `extent` just clear of a circle of radius `distance`, in the given directions."""
    out = []
    for ring in rings:
        for u in directions:
            reach = distance * ring + abs(u[0]) * extent[0] / 2 + abs(u[1]) * extent[1] / 2
            out.append((centre[0] + u[0] * reach, centre[1] + u[1] * reach))
    return tuple(out)


def _rotate(u: np.ndarray, degrees: float) -> np.ndarray:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return np.array([c * u[0] - s * u[1], s * u[0] + c * u[1]])


def _box_around(points: list[Point], pad: int, shape: tuple[int, ...]) -> Box:
    """Bounding box of the points grown by `pad`, clipped to the frame."""
    xy = np.asarray(points, dtype=np.float64)
    x0, y0 = np.floor(xy.min(axis=0)).astype(int) - pad
    x1, y1 = np.ceil(xy.max(axis=0)).astype(int) + pad + 1
    return max(0, x0), max(0, y0), min(shape[1], x1), min(shape[0], y1)


def _dashed_vline(image: np.ndarray, x: float, y0: int, y1: int, color: Color, thickness: int, dash: int, gap: int) -> None:
    """Vertical dashed line in one cv2 call (each dash its own open polyline)."""
    tops = np.arange(y0, y1, max(1, dash + gap), dtype=np.float64)
    if tops.size == 0:
        return
    ends = np.minimum(tops + dash, y1)
    xs = np.full_like(tops, x)
    dashes = np.stack([np.stack([xs, tops], 1), np.stack([xs, ends], 1)], 1)  # (n, 2 points, xy)
    cv2.polylines(image, list(np.round(dashes * _ONE).astype(np.int32)), False, color, thickness, _AA, _SHIFT)


# ---------------------------------------------------------------- skeleton


def _chain_obstacles(scene: _Scene, keypoints: np.ndarray, side: str, s: float, style: OverlayStyle) -> None:
    """Register the bold chain and its joints so labels keep clear of them."""
    half = (scaled_px(style.chain_thickness, s, 2) / 2 + scaled_px(style.halo_thickness, s))
    for a, b in _chain_segments(keypoints, side):
        scene.segments.append((_xy(keypoints, a), _xy(keypoints, b), half))
    r = scaled_px(style.joint_radius + style.halo_thickness, s, 2)
    for j in _chain_joints(keypoints, side).values():
        if j is not None:
            x, y = _xy(keypoints, j)
            scene.boxes.append((int(x) - r, int(y) - r, int(x) + r + 1, int(y) + r + 1))


def _draw_skeleton(image: np.ndarray, keypoints: np.ndarray, side: str, style: OverlayStyle) -> None:
    s = frame_scale(image.shape, style)
    pal = style.palette
    ok = _present(keypoints)
    chain = _chain_segments(keypoints, side)
    chain_set = {frozenset(p) for p in chain}
    c = _chain_joints(keypoints, side)
    if c["top"] is not None and c["hip"] is not None:  # OpenPose's neck–hip limb would double the bold trunk
        chain_set.add(frozenset((c["neck"], c["hip"])))

    # Faint limbs: drawn on a copy of their bounding box only, then blended in.
    faint = [(a, b) for a, b in LIMB_JOINTS if ok[a] and ok[b] and frozenset((a, b)) not in chain_set]
    if faint:
        thick = scaled_px(style.limb_thickness, s)
        radius = scaled_px(style.minor_joint_radius, s)
        pts = [_xy(keypoints, j) for pair in faint for j in pair]
        x0, y0, x1, y1 = _box_around(pts, thick * 2 + radius, image.shape)
        if x1 > x0 and y1 > y0:
            overlay = image[y0:y1, x0:x1].copy()
            for a, b in faint:
                pa, pb = _xy(keypoints, a), _xy(keypoints, b)
                cv2.line(overlay, _fp((pa[0] - x0, pa[1] - y0)), _fp((pb[0] - x0, pb[1] - y0)),
                         pal.limb, thick, _AA, _SHIFT)
            for j in {j for pair in faint for j in pair}:
                p = _xy(keypoints, j)
                cv2.circle(overlay, _fp((p[0] - x0, p[1] - y0)), radius * _ONE, pal.limb, -1, _AA, _SHIFT)
            roi = image[y0:y1, x0:x1]
            cv2.addWeighted(overlay, style.limb_opacity, roi, 1.0 - style.limb_opacity, 0.0, dst=roi)

    # Bold camera-side chain: dark halo first, then the line, then the joints on top.
    thick = scaled_px(style.chain_thickness, s, 2)
    halo = thick + 2 * scaled_px(style.halo_thickness, s)
    for colour, width in ((pal.halo, halo), (pal.chain, thick)):
        for a, b in chain:
            cv2.line(image, _fp(_xy(keypoints, a)), _fp(_xy(keypoints, b)), colour, width, _AA, _SHIFT)
    r = scaled_px(style.joint_radius, s, 2)
    for j in {j for j in _chain_joints(keypoints, side).values() if j is not None}:
        c = _fp(_xy(keypoints, j))
        cv2.circle(image, c, (r + scaled_px(style.halo_thickness, s)) * _ONE, pal.halo, -1, _AA, _SHIFT)
        cv2.circle(image, c, r * _ONE, pal.chain, -1, _AA, _SHIFT)


def draw_skeleton(image: np.ndarray, keypoints: np.ndarray, side: str, style: OverlayStyle = DEFAULT_STYLE) -> np.ndarray:
    """All detected COCO limbs thin and faint, the camera-side neck–shoulder–hip–knee–ankle chain bold."""
    _check(image, keypoints, side)
    out = image.copy()
    _draw_skeleton(out, np.asarray(keypoints, np.float32), side, style)
    return out


GHOST_COLOR: Color = (255, 230, 0)  # cyan (BGR): the reference's ghost, unlike any joint colour


def draw_ghost(image: np.ndarray, keypoints: np.ndarray, side: str, color: Color = GHOST_COLOR,
               opacity: float = 0.75, style: OverlayStyle = DEFAULT_STYLE) -> np.ndarray:
    """The camera-side chain of a ghost skeleton (e.g. compare.ghost_skeleton) as translucent
    dashed lines with hollow joints, so the lifter under it stays visible; same size as input."""
    _check(image, keypoints, side)
    kp = np.asarray(keypoints, np.float32)
    out = image.copy()
    overlay = out.copy()
    s = frame_scale(out.shape, style)
    thick = scaled_px(style.chain_thickness * 0.8, s, 2)
    dash, gap = scaled_px(style.dash_length, s, 2), scaled_px(style.dash_gap * 0.6, s, 1)
    for a, b in _chain_segments(kp, side):
        pa, pb = np.array(_xy(kp, a)), np.array(_xy(kp, b))
        length = float(np.hypot(*(pb - pa)))
        for start in np.arange(0.0, max(length, 1e-6), dash + gap):
            end = min(start + dash, length)
            p0 = pa + (pb - pa) * (start / length) if length else pa
            p1 = pa + (pb - pa) * (end / length) if length else pb
            cv2.line(overlay, _fp(p0), _fp(p1), color, thick, _AA, _SHIFT)
    r = scaled_px(style.joint_radius, s, 2)
    for j in {j for j in _chain_joints(kp, side).values() if j is not None}:
        cv2.circle(overlay, _fp(_xy(kp, j)), r * _ONE, color, max(1, thick // 2), _AA, _SHIFT)
    cv2.addWeighted(overlay, opacity, out, 1.0 - opacity, 0.0, dst=out)
    return out


# ---------------------------------------------------------------- angles


def _angle_arc(image: np.ndarray, vertex: Point, a: Point, b: Point, color: Color, radius: int, s: float,
               style: OverlayStyle) -> None:
    """Translucent wedge plus outline arc spanning the interior angle a–vertex–b."""
    start = _direction_deg(vertex, a)
    sweep = (_direction_deg(vertex, b) - start + 180.0) % 360.0 - 180.0  # shortest way: the interior angle
    lo, hi = sorted((start, start + sweep))
    x0, y0, x1, y1 = _box_around([vertex], radius + 2, image.shape)
    if x1 <= x0 or y1 <= y0:
        return
    overlay = image[y0:y1, x0:x1].copy()
    cv2.ellipse(overlay, _fp((vertex[0] - x0, vertex[1] - y0)), (radius * _ONE, radius * _ONE), 0, lo, hi,
                color, -1, _AA, _SHIFT)
    roi = image[y0:y1, x0:x1]
    cv2.addWeighted(overlay, style.arc_fill_opacity, roi, 1.0 - style.arc_fill_opacity, 0.0, dst=roi)
    cv2.ellipse(image, _fp(vertex), (radius * _ONE, radius * _ONE), 0, lo, hi, color, scaled_px(2.0, s), _AA, _SHIFT)


def _outside(vertex: Point, a: Point, b: Point) -> np.ndarray:
    """Unit vector pointing away from the interior of angle a–vertex–b (where a label won't cover limbs)."""
    bisector = _unit(vertex, a) + _unit(vertex, b)
    n = float(np.hypot(*bisector))
    if n < 1e-6:  # straight limb: go sideways
        ua = _unit(vertex, a)
        return np.array([-ua[1], ua[0]])
    return -bisector / n


def _draw_angles(image: np.ndarray, keypoints: np.ndarray, side: str, row: Mapping[str, Any] | None,
                 style: OverlayStyle, scene: _Scene) -> None:
    s = frame_scale(image.shape, style)
    pal = style.palette
    c = _chain_joints(keypoints, side)
    radius = scaled_px(style.arc_radius, s, 4)
    clear = radius + scaled_px(style.label_pad, s)

    def joint(role: str) -> Point | None:
        return None if c[role] is None else _xy(keypoints, c[role])

    top, hip, knee, ankle = joint("top"), joint("hip"), joint("knee"), joint("ankle")
    for value, vertex, a, b, colour in (
        (row_number(row, "knee_angle"), knee, hip, ankle, pal.knee),
        (row_number(row, "hip_angle"), hip, top, knee, pal.hip),
    ):
        if not math.isfinite(value) or vertex is None or a is None or b is None:
            continue
        _angle_arc(image, vertex, a, b, colour, radius, s, style)
        scene.boxes.append(_box_around([vertex], radius, image.shape))
        text = f"{value:.0f}"
        extent = label_extent(text, s, 1.0, style, True)
        out = _outside(vertex, a, b)
        turns = [_rotate(out, d) for d in (0, 35, -35, 70, -70, 110, -110)]
        scene.labels.append(Label(text, colour, label_spots(vertex, turns, clear, extent), 1.0, True, 0))

    lean = row_number(row, "trunk_lean")
    if math.isfinite(lean) and hip is not None and top is not None:
        trunk = float(np.hypot(top[0] - hip[0], top[1] - hip[1]))
        up_y = hip[1] - trunk * style.lean_reference_length
        thick = scaled_px(2.0, s)
        _dashed_vline(image, hip[0], int(up_y), int(hip[1]), pal.trunk, thick,
                      scaled_px(style.dash_length * 0.6, s), scaled_px(style.dash_gap * 0.6, s))
        scene.segments.append(((hip[0], up_y), hip, thick / 2))
        # Beside the trunk, behind the back first (away from the knee), then in front.
        text = f"lean {lean:.0f}"
        size = 0.85
        extent = label_extent(text, s, size, style, True)
        along = _unit(hip, top)
        normal = np.array([-along[1], along[0]])
        if knee is not None and float(np.dot(np.subtract(knee, hip), normal)) > 0:
            normal = -normal
        candidates = []
        for side_sign in (1.0, -1.0):
            n = normal * side_sign
            reach = scaled_px(style.label_pad, s) * 2 + abs(n[0]) * extent[0] / 2 + abs(n[1]) * extent[1] / 2
            for f in (0.55, 0.7, 0.4, 0.85):
                p = np.add(hip, np.subtract(top, hip) * f) + n * reach
                candidates.append((float(p[0]), float(p[1])))
        scene.labels.append(Label(text, pal.trunk, tuple(candidates), size, True, 1))


def draw_angles(image: np.ndarray, keypoints: np.ndarray, side: str, row: Mapping[str, Any] | None,
                style: OverlayStyle = DEFAULT_STYLE) -> np.ndarray:
    """Knee and hip angle (degrees, from `row`) as arcs and labels at the joints, trunk lean by the torso.

    `row` is one line of the per-frame table (a pandas Series or dict); a NaN value draws nothing.
    """
    _check(image, keypoints, side)
    kp = np.asarray(keypoints, np.float32)
    out = image.copy()
    scene = _Scene()
    _chain_obstacles(scene, kp, side, frame_scale(out.shape, style), style)
    _draw_angles(out, kp, side, row, style, scene)
    _draw_labels(out, scene, style)
    return out


# ---------------------------------------------------------------- midfoot line and moment arms

_SMALL = 0.7  # moment-arm and midfoot labels are smaller than the angles: the chart repeats them


def _draw_midfoot_line(image: np.ndarray, midfoot_x: float, style: OverlayStyle, scene: _Scene,
                       top: int = 0) -> None:
    if not math.isfinite(midfoot_x):
        return
    s = frame_scale(image.shape, style)
    h = image.shape[0]
    thick = scaled_px(style.midfoot_thickness, s)
    _dashed_vline(image, midfoot_x, top, h, style.palette.midfoot, thick,
                  scaled_px(style.dash_length, s), scaled_px(style.dash_gap, s))
    text = "midfoot"
    w, lh = label_extent(text, s, _SMALL, style, False)
    y = h - lh / 2 - scaled_px(style.label_pad, s)
    side_x = w / 2 + thick + scaled_px(style.label_pad, s)
    candidates = ((midfoot_x, y), (midfoot_x + side_x, y), (midfoot_x - side_x, y))
    scene.labels.append(Label(text, style.palette.midfoot, candidates, _SMALL, False, 3))
    # Other labels keep off the line; its own label may sit on the line's foot.
    foot = h - lh - 2 * scaled_px(style.label_pad, s)
    scene.segments.append(((midfoot_x, float(top)), (midfoot_x, float(foot)), thick / 2))


def bar_trail(plate_xy: np.ndarray, rep: np.ndarray, index: int) -> np.ndarray:
    """(K, 2) the plate's centre from the start of the rep under way at `index` up to it; empty
    while standing between reps. plate_xy (F, 2) pixels, NaN where not seen; rep (F,) 0 standing."""
    rep = np.asarray(rep)
    if not 0 <= index < len(rep) or rep[index] <= 0:
        return np.zeros((0, 2))
    others = np.flatnonzero(rep[: index + 1] != rep[index])
    start = others[-1] + 1 if len(others) else 0
    path = np.asarray(plate_xy, dtype=np.float64)[start : index + 1]
    return path[np.isfinite(path).all(axis=1)]


def _draw_bar_path(image: np.ndarray, path: np.ndarray, style: OverlayStyle) -> None:
    """The bar's path so far (the visible plate's hub, what a lifter watches), haloed, with a dot now."""
    if len(path) == 0:
        return
    s = frame_scale(image.shape, style)
    thick = scaled_px(style.bar_path_thickness, s)
    points = np.array([_fp(p) for p in path], np.int32).reshape(-1, 1, 2)
    for colour, width in ((style.palette.halo, thick + 2 * scaled_px(1.5, s)), (style.palette.bar_path, thick)):
        if len(path) > 1:
            cv2.polylines(image, [points], False, colour, width, _AA, _SHIFT)
        cv2.circle(image, _fp(path[-1]), (width + thick) * _ONE, colour, -1, _AA, _SHIFT)


def draw_midfoot_line(image: np.ndarray, midfoot_x: float, style: OverlayStyle = DEFAULT_STYLE) -> np.ndarray:
    """Dashed vertical line through the midfoot (pixels): the ideal bar path and centre-of-gravity line."""
    _check(image)
    out = image.copy()
    scene = _Scene()
    _draw_midfoot_line(out, float(midfoot_x), style, scene)
    _draw_labels(out, scene, style)
    return out


def _draw_moment_arms(image: np.ndarray, keypoints: np.ndarray, side: str, midfoot_x: float,
                      row: Mapping[str, Any] | None, style: OverlayStyle, scene: _Scene) -> None:
    if not math.isfinite(midfoot_x):
        return
    s = frame_scale(image.shape, style)
    c = _chain_joints(keypoints, side)
    thick = scaled_px(style.arm_thickness, s)
    tick = scaled_px(style.arm_tick, s, 2)
    gap = scaled_px(style.label_pad, s)
    for role, colour in (("hip", style.palette.hip), ("knee", style.palette.knee)):
        if c[role] is None:
            continue
        x, y = _xy(keypoints, c[role])
        for col, width in ((style.palette.halo, thick + 2 * scaled_px(1.5, s)), (colour, thick)):
            cv2.line(image, _fp((x, y)), _fp((midfoot_x, y)), col, width, _AA, _SHIFT)
            cv2.line(image, _fp((midfoot_x, y - tick)), _fp((midfoot_x, y + tick)), col, width, _AA, _SHIFT)
        scene.segments.append(((x, y), (midfoot_x, y), thick / 2 + scaled_px(1.5, s)))
        femurs = row_number(row, f"{role}_moment_arm_femur")
        text = f"{role} {femurs:.2f}" if math.isfinite(femurs) else f"{role} {abs(midfoot_x - x):.0f}px"
        w, h = label_extent(text, s, _SMALL, style, False)
        mid = (x + midfoot_x) / 2.0
        away = 1.0 if midfoot_x >= x else -1.0  # from the joint towards the line
        beyond_line = midfoot_x + away * (tick + gap + w / 2)
        behind_joint = x - away * (scaled_px(style.joint_radius, s) + gap + w / 2)
        dy = tick + gap + h / 2
        candidates = ((mid, y + dy), (mid, y - dy), (beyond_line, y), (behind_joint, y),
                      (beyond_line, y + dy), (beyond_line, y - dy), (behind_joint, y + dy), (behind_joint, y - dy),
                      (mid, y + 2.2 * dy), (mid, y - 2.2 * dy), (beyond_line, y + 2.2 * dy))
        scene.labels.append(Label(text, colour, candidates, _SMALL, False, 2))


def draw_moment_arms(image: np.ndarray, keypoints: np.ndarray, side: str, midfoot_x: float,
                     row: Mapping[str, Any] | None = None, style: OverlayStyle = DEFAULT_STYLE) -> np.ndarray:
    """Horizontal segments from hip and knee to the midfoot line (pixels), labelled.

    Labels read the moment arm as a fraction of femur length from `row` when given, else pixels.
    """
    _check(image, keypoints, side)
    kp = np.asarray(keypoints, np.float32)
    out = image.copy()
    scene = _Scene()
    _chain_obstacles(scene, kp, side, frame_scale(out.shape, style), style)
    _draw_moment_arms(out, kp, side, float(midfoot_x), row, style, scene)
    _draw_labels(out, scene, style)
    return out


# ---------------------------------------------------------------- whole frame


def chart_size(frame_width: int, frame_height: int, style: OverlayStyle = DEFAULT_STYLE) -> tuple[int, int]:
    """(width, height) in pixels of the chart band `annotate_frame` pastes at the top of such a frame."""
    margin = scaled_px(style.chart_margin, min(frame_width, frame_height) / style.reference_px, 0)
    width = max(1, frame_width - 2 * margin)
    height = int(round(min(frame_height * style.chart_height_fraction, width * style.chart_max_aspect)))
    return width, max(1, height)


def _chart_box(frame_shape: tuple[int, ...], chart_shape: tuple[int, ...],
               style: OverlayStyle) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) where a chart goes: centred at the top, shrunk if it does not fit."""
    h, w = frame_shape[:2]
    ch, cw = chart_shape[:2]
    margin = scaled_px(style.chart_margin, frame_scale(frame_shape, style), 0)
    fit = min(1.0, max(1, w - 2 * margin) / cw, max(1, h - margin) / ch)
    cw, ch = max(1, int(cw * fit)), max(1, int(ch * fit))
    x0, y0 = (w - cw) // 2, max(0, min(margin, h - ch))
    return x0, y0, x0 + cw, y0 + ch


def _paste_chart(image: np.ndarray, chart: np.ndarray, style: OverlayStyle) -> None:
    """Chart over a dark translucent panel at the top: black chart pixels let the dimmed video show."""
    if chart.ndim != 3 or chart.shape[2] != 3 or chart.dtype != np.uint8:
        raise ValueError(f"chart must be a BGR uint8 image, got {chart.dtype} {chart.shape}")
    x0, y0, x1, y1 = _chart_box(image.shape, chart.shape, style)
    if (x1 - x0, y1 - y0) != (chart.shape[1], chart.shape[0]):  # made for another frame size: shrink, never crop
        chart = cv2.resize(chart, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    roi = image[y0:y1, x0:x1]
    cv2.convertScaleAbs(roi, dst=roi, alpha=1.0 - style.panel_opacity)
    cv2.max(roi, chart, dst=roi)  # "lighten": chart ink on top, its black background is the panel


def trunk_to_bar(keypoints: np.ndarray, side: str, bar_x: float, bar_y: float) -> np.ndarray:
    """Keypoints to draw: where the bar is seen, the trunk runs from the hip to the bar (the lean and
    hip angle are measured on it) and the camera-side shoulder, hidden by the plate, is not drawn."""
    if not (math.isfinite(bar_x) and math.isfinite(bar_y)):
        return keypoints
    neck, shoulder = (J[name] for name in SIDE_CHAIN[side][:2])
    out = keypoints.copy()
    out[neck] = (bar_x, bar_y, 1.0)
    out[shoulder] = np.nan
    return out


def annotate_frame(image: np.ndarray, keypoints: np.ndarray, side: str, row: Mapping[str, Any] | None,
                   chart: np.ndarray | None = None, style: OverlayStyle = DEFAULT_STYLE,
                   bar_path: np.ndarray | None = None, bar_trunk: bool = True,
                   labels: Sequence[Label] = (), in_place: bool = False) -> np.ndarray:
    """Midfoot line, bar path, moment arms, skeleton and angles, then `chart` over the top band; same
    size as input (`image` itself where in_place: the annotated video draws into its canvas).

    `row` is the frame's line of the per-frame table (uses midfoot_x, the angles and the femur-relative
    moment arms). `chart` is a BGR image drawn on black (e.g. `ChartStrip.at(t)`), sized by `chart_size`.
    `bar_path` (K, 2) pixels, e.g. `bar_trail(...)`: where the bar went this rep, against the midfoot line.
    `bar_trunk`: draw the trunk to the bar where it is seen, as it was measured (see
    summary.json's trunk_line); else to the network's own neck.
    `labels`: more labels placed with the overlay's own, clear of the skeleton and out of the chart
    band (e.g. squat.draw.speed_labels.bar_speed_labels).
    """
    _check(image, keypoints, side)
    kp = np.asarray(keypoints, np.float32)
    if bar_trunk:
        kp = trunk_to_bar(kp, side, row_number(row, "bar_x"), row_number(row, "bar_y"))
    out = image if in_place else image.copy()
    s = frame_scale(out.shape, style)
    midfoot_x = row_number(row, "midfoot_x")
    band_bottom = 0 if chart is None else _chart_box(out.shape, chart.shape, style)[3]
    scene = _Scene(labels=list(labels), top=band_bottom)  # labels stay out of the chart band
    _chain_obstacles(scene, kp, side, s, style)
    _draw_midfoot_line(out, midfoot_x, style, scene, top=band_bottom)
    if bar_path is not None:
        _draw_bar_path(out, np.asarray(bar_path, np.float64), style)
    _draw_moment_arms(out, kp, side, midfoot_x, row, style, scene)
    _draw_skeleton(out, kp, side, style)
    _draw_angles(out, kp, side, row, style, scene)
    _draw_labels(out, scene, style)
    if chart is not None:
        _paste_chart(out, chart, style)
    return out


def stacked_height(chart_size: tuple[int, int], frame_width: int) -> int:
    """How tall a chart of (width, height) pixels is once stack_chart fits it to the frame's width."""
    width, height = chart_size
    return height if width == frame_width else max(1, round(height * frame_width / width))


def stack_chart(image: np.ndarray, chart: np.ndarray) -> np.ndarray:
    """The chart as a band above the frame (the video gets taller), so it never hides the lifter."""
    return np.vstack([band_for(chart, image.shape[1]), image])


def band_for(chart: np.ndarray, width: int) -> np.ndarray:
    """The chart fitted to a frame `width` pixels wide, as stack_chart puts it above the frame."""
    if chart.shape[1] == width:
        return chart
    return cv2.resize(chart, (width, stacked_height((chart.shape[1], chart.shape[0]), width)),
                      interpolation=cv2.INTER_AREA)


# ---------------------------------------------------------------- heatmaps


def blend_heatmap(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The article's view: a part heatmap (any size, ~0..1) resized to the frame, jet-coloured, blended."""
    _check(image)
    h, w = image.shape[:2]
    heat = np.nan_to_num(np.asarray(heatmap, dtype=np.float32), nan=0.0)
    heat = cv2.resize(heat, (w, h), interpolation=cv2.INTER_CUBIC)
    coloured = cv2.applyColorMap(np.clip(heat * 255.0, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)
    return cv2.addWeighted(image, 1.0 - alpha, coloured, alpha, 0.0)


def heatmap_panel(image: np.ndarray, heatmaps: Mapping[str, np.ndarray], alpha: float = 0.5,
                  style: OverlayStyle = DEFAULT_STYLE) -> np.ndarray:
    """Labelled 2-column grid of heatmap blends (the article's neck/hip/knee/ankle figure).

    Tiles are half the frame size, so four parts give an image the size of the frame (rounded
    down to even). Parts appear in the mapping's order, left to right then top to bottom.
    """
    _check(image)
    if not heatmaps:
        raise ValueError("heatmap_panel needs at least one heatmap")
    h, w = image.shape[:2]
    tw, th = max(1, w // 2), max(1, h // 2)
    small = cv2.resize(image, (tw, th), interpolation=cv2.INTER_AREA)
    rows = math.ceil(len(heatmaps) / 2)
    grid = np.zeros((rows * th, 2 * tw, 3), np.uint8)
    s = frame_scale(small.shape, style)
    for i, (name, heat) in enumerate(heatmaps.items()):
        tile = blend_heatmap(small, heat, alpha)
        fs, thick, pad = _font(s, 1.0, style)
        tw_text, cap, base = text_size(name, fs, thick)
        _dim_box(tile, pad, pad, 3 * pad + tw_text, 3 * pad + cap + base, style.label_opacity)
        put_text(tile, name, (2 * pad, 2 * pad + cap), style.palette.text, fs, thick)
        r, c = divmod(i, 2)
        grid[r * th:(r + 1) * th, c * tw:(c + 1) * tw] = tile
    seam = scaled_px(2.0, frame_scale(image.shape, style))  # thin dark gutters keep the tiles apart
    grid[:, tw - seam // 2:tw + (seam + 1) // 2] = 0
    for r in range(1, rows):
        grid[r * th - seam // 2:r * th + (seam + 1) // 2] = 0
    return grid
