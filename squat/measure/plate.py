"""The barbell plate: a circle of known size riding on the lifter's shoulders.

Filmed side-on, the plate hides the neck, the shoulders and often the head, exactly the
points a pose model needs for the trunk. But the bar sits on the upper back, so the plate's
centre is a shoulder proxy in every frame it is seen, and its 45 cm diameter is a scale in
metres. Two stages, like the pose:

- `find_circles` (per frame, in the pose pass): circles from a Hough transform run on each
  Lab channel (a coloured plate can have the wall's brightness), each scored by how much of
  its rim is a colour edge running across the rim, then `refine_circle`d to a tenth of a pixel
  on the full-resolution frame (the Hough centre, found at the search scale, wanders by half a
  pixel of the frame: at the slow ends of a rep that is the bar's speed, issue 16);
- `choose_plate` (per clip, after tracking): the circle on the lifter's shoulders, i.e. of a
  plate's size for this lifter's femur and above the hips, with one radius for the whole clip,
  gap-filled and low-passed like the joints.
"""
from __future__ import annotations

import cv2
import numpy as np

from squat.series import fill_gaps
from squat.settings import PlateSettings, TrackingSettings
from squat.skeleton import J
from squat.track.lifter import mean_hip
from squat.track.smoothing import butterworth

RIM_SAMPLES = 72  # points read around a candidate's rim
RIM_EDGE = 40.0  # Lab gradient magnitude (Sobel, 8-bit channels) that counts as an edge
RIM_RADIAL = 0.8  # |cos| between the edge's gradient and the rim's normal: the edge runs along the rim

_ANGLES = np.linspace(0.0, 2.0 * np.pi, RIM_SAMPLES, endpoint=False)
_COS, _SIN = np.cos(_ANGLES), np.sin(_ANGLES)
# refine_circle: rays across the rim, sampled every REFINE_STEP_PX of the full frame
REFINE_RAYS = 90
REFINE_STEP_PX = 0.5
_RAY_COS, _RAY_SIN = (f(np.linspace(0.0, 2.0 * np.pi, REFINE_RAYS, endpoint=False)) for f in (np.cos, np.sin))


def search_scale(lifter_height_px: float, settings: PlateSettings = PlateSettings()) -> float:
    """The frame scale at which circles are searched: the lifter is search_height_px tall there."""
    return min(1.0, settings.search_height_px / lifter_height_px)


def colour_gradient(lab: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """At integer pixels x, y (same shapes), the Sobel gradient (gx, gy, magnitude) of the Lab
    channel that changes most there: cv2.Sobel's 3×3 kernel and border (reflect-101), worked out
    only where rims are sampled (over the whole region searched it was a third of the plate
    search's time). Lab holds whole numbers, so the float32 sums are exactly cv2.Sobel's."""
    h, w = lab.shape[:2]
    cols, rows = [_reflect101(x + d, w) for d in (-1, 0, 1)], [_reflect101(y + d, h) for d in (-1, 0, 1)]

    def at(i: int, j: int) -> np.ndarray:  # (..., 3): the neighbour i rows and j columns from the centre
        return lab[rows[i], cols[j]].astype(np.float32)

    gx = (at(0, 2) - at(0, 0)) + 2 * (at(1, 2) - at(1, 0)) + (at(2, 2) - at(2, 0))
    gy = (at(2, 0) - at(0, 0)) + 2 * (at(2, 1) - at(0, 1)) + (at(2, 2) - at(0, 2))
    mag = np.hypot(gx, gy)
    strongest = mag.argmax(axis=-1)[..., None]
    return tuple(np.take_along_axis(g, strongest, -1)[..., 0] for g in (gx, gy, mag))


def _reflect101(i: np.ndarray, n: int) -> np.ndarray:
    """Indices past either edge reflected without repeating the edge (OpenCV's default border)."""
    if n == 1:
        return np.zeros_like(i)
    i = np.abs(i)
    return np.where(i > n - 1, 2 * (n - 1) - i, i)


def rim_support(lab: np.ndarray, circles: np.ndarray) -> np.ndarray:
    """(N,) share of each circle's rim (x, y, r rows) that is a colour edge running along the rim."""
    h, w = lab.shape[:2]
    x = np.clip(np.rint(circles[:, :1] + circles[:, 2:3] * _COS), 0, w - 1).astype(int)
    y = np.clip(np.rint(circles[:, 1:2] + circles[:, 2:3] * _SIN), 0, h - 1).astype(int)
    gx, gy, m = colour_gradient(lab, x, y)
    radial = np.abs(gx * _COS + gy * _SIN) / np.maximum(m, 1e-6)
    return ((m > RIM_EDGE) & (radial > RIM_RADIAL)).mean(axis=1)


def search_region(people: np.ndarray, lifter_height_px: float, frame_size: tuple[int, int],
                  settings: PlateSettings = PlateSettings()) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1): the part of the frame where a plate on someone's shoulders can be, i.e.
    within region_margin × the lifter's height of any keypoint of the people (P, J, 3) found in
    this frame; None (the whole frame) where nobody was found.

    choose_plate only takes a circle centred within 1.5 femurs (~0.4 lifter heights) of the
    lifter's hip and 2.4 femurs above it, whose radius is at most 0.4 heights: all of it lies
    inside this margin. Outside it, a textured wall or floor only feeds the Hough transform
    (1.2 s a frame on a 540p gym clip searched whole, issue 15).
    """
    xy = np.asarray(people, np.float64)[..., :2].reshape(-1, 2)
    xy = xy[np.isfinite(xy).all(axis=1)]
    if not len(xy):
        return None
    h, w = frame_size
    margin = settings.region_margin * lifter_height_px
    x0, y0 = np.floor(xy.min(axis=0) - margin).astype(int)
    x1, y1 = np.ceil(xy.max(axis=0) + margin).astype(int)
    return max(0, x0), max(0, y0), min(w, x1), min(h, y1)


def find_circles(image: np.ndarray, scale: float, lifter_height_px: float,
                 settings: PlateSettings = PlateSettings(),
                 region: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Plate-sized circles in one BGR frame (as squat.io.video reads them): (N, 4) x, y, radius in frame pixels and rim support.

    scale: the frame is searched at this scale (search_scale); lifter_height_px (frame pixels)
    sets the radii searched; region (search_region): only that part of the frame is searched.
    Circles that share a centre across channels are all kept: the per-clip choice takes the
    best supported.
    """
    x0, y0 = 0, 0
    if region is not None:
        x0, y0, x1, y1 = region
        if x1 - x0 < 8 or y1 - y0 < 8:
            return np.zeros((0, 4), np.float32)
        image = image[y0:y1, x0:x1]
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    lab = cv2.cvtColor(cv2.GaussianBlur(small, (5, 5), 1.2), cv2.COLOR_BGR2LAB)
    height = lifter_height_px * scale
    r_min, r_max = (max(3, int(round(f * height))) for f in settings.radius_range)
    found = []
    for channel in range(3):
        circles = cv2.HoughCircles(lab[..., channel], cv2.HOUGH_GRADIENT, dp=1, minDist=r_min,
                                   param1=60, param2=18, minRadius=r_min, maxRadius=r_max)
        if circles is not None:
            found.append(circles[0, : settings.circles_per_channel, :3])
    if not found:
        return np.zeros((0, 4), np.float32)
    circles = np.concatenate(found).astype(np.float64)
    support = rim_support(lab, circles)
    keep = support >= settings.min_rim_support
    full = (circles[keep, :3] + [0.5, 0.5, 0.0]) / scale - [0.5, 0.5, 0.0]  # in the region's full-size pixels
    if settings.refine:
        full = np.array([refine_circle(image, c, settings) for c in full]).reshape(-1, 3)
    return np.column_stack([full + [x0, y0, 0.0], support[keep]]).astype(np.float32)


def refine_circle(image: np.ndarray, circle: np.ndarray, settings: PlateSettings = PlateSettings()) -> np.ndarray:
    """(x, y, r) of a rough circle (pixels of the BGR image) with its centre moved onto the rim's
    centre to a tenth of a pixel, its radius kept (a fitted radius snaps to whichever edge is
    strongest, a bumper's lip or its face: changing the radii the plate is chosen by found a
    "plate" on a kettlebell clip, docs/accuracy-log.md §23): along REFINE_RAYS rays across the rim (refine_span × r either side) the strongest Lab
    colour step, placed between samples by a parabola; a circle fitted to those points by least
    squares, points off it (a hand, the bar's sleeve, a shadow) dropped, fitted again. The rough
    circle back where the rim is not clear: too few points agree, or the fit moved it implausibly."""
    x, y, r = (float(v) for v in circle[:3])
    span = settings.refine_span * r
    rho = np.arange(r - span, r + span + REFINE_STEP_PX, REFINE_STEP_PX)
    xs, ys = x + _RAY_COS[:, None] * rho, y + _RAY_SIN[:, None] * rho
    x0, y0 = max(int(xs.min()) - 4, 0), max(int(ys.min()) - 4, 0)
    x1, y1 = min(int(xs.max()) + 5, image.shape[1]), min(int(ys.max()) + 5, image.shape[0])
    if x1 - x0 < 8 or y1 - y0 < 8 or len(rho) < 5:
        return np.array([x, y, r])
    patch = cv2.GaussianBlur(image[y0:y1, x0:x1], (0, 0), 1.0)  # a pixel's noise is not an edge
    lab = cv2.cvtColor(patch, cv2.COLOR_BGR2LAB).astype(np.float32)
    along = cv2.remap(lab, (xs - x0).astype(np.float32), (ys - y0).astype(np.float32), cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)  # (rays, samples, 3)
    step = np.linalg.norm(np.diff(along, axis=1), axis=2)  # the colour change between neighbouring samples
    k = np.argmax(step[:, 1:-1], axis=1) + 1
    rays = np.arange(REFINE_RAYS)
    before, at, after = step[rays, k - 1], step[rays, k], step[rays, k + 1]
    bend = before - 2 * at + after
    shift = np.where(bend < 0, 0.5 * (before - after) / np.where(bend < 0, bend, -1.0), 0.0)
    edge = rho[0] + (k + 0.5 + np.clip(shift, -0.5, 0.5)) * REFINE_STEP_PX
    px, py = x + _RAY_COS * edge, y + _RAY_SIN * edge
    use = at >= max(0.3 * np.median(at), 1.0)  # rays where the rim is faint (against a like colour) do not vote
    for _ in range(3):
        if use.sum() < settings.refine_min_share * REFINE_RAYS:
            return np.array([x, y, r])
        cx, cy, radius = _fit_circle(px[use], py[use])
        miss = np.abs(np.hypot(px - cx, py - cy) - radius)
        use &= miss <= max(3 * 1.4826 * np.median(miss[use]), REFINE_STEP_PX)
    if use.sum() < settings.refine_min_share * REFINE_RAYS or np.hypot(cx - x, cy - y) > span \
            or abs(radius - r) > span:
        return np.array([x, y, r])
    return np.array([cx, cy, r])  # the Hough radius stays: one per clip is taken from them (choose_plate)


def _fit_circle(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least-squares circle through points (Kasa's algebraic fit: linear, exact for exact points)."""
    a = np.column_stack([x, y, np.ones_like(x)])
    (c0, c1, c2), *_ = np.linalg.lstsq(a, x * x + y * y, rcond=None)
    cx, cy = c0 / 2, c1 / 2
    return cx, cy, float(np.sqrt(max(c2 + cx * cx + cy * cy, 0.0)))


def plate_like(candidates: list[np.ndarray], keypoints: np.ndarray,
               settings: PlateSettings = PlateSettings(), time_s: np.ndarray | None = None,
               max_gap_s: float = 0.0) -> np.ndarray:
    """(F, 3) per frame the best-supported candidate with a plate's size for this lifter's femur,
    sitting above their hips (x, y, radius); NaN where none fits.

    With time_s, the hip is interpolated across gaps up to max_gap_s: the pose network loses a
    lifter moving fast through mid-descent for a few frames while the plate stays in plain view,
    and a bar-speed measure needs exactly those frames (the checks here are loose, × femur)."""
    out = np.full((len(candidates), 3), np.nan)
    hip, femur = _hips_and_femur(keypoints)
    if not np.isfinite(femur):
        return out
    if time_s is not None and max_gap_s > 0:
        hip = np.column_stack([fill_gaps(hip[:, c], time_s, max_gap_s) for c in range(2)])
    for f, rows in enumerate(candidates):
        if len(rows) == 0 or not np.isfinite(hip[f]).all():
            continue
        forward = np.abs(rows[:, 0] - hip[f, 0]) / femur
        above = (hip[f, 1] - rows[:, 1]) / femur
        size = rows[:, 2] / femur
        fits = ((forward <= settings.max_forward_femur)
                & (above >= settings.height_femur[0]) & (above <= settings.height_femur[1])
                & (size >= settings.radius_femur[0]) & (size <= settings.radius_femur[1]))
        if fits.any():
            best = np.flatnonzero(fits)[np.argmax(rows[fits, 3])]
            out[f] = rows[best, :3]
    return out


def choose_plate(candidates: list[np.ndarray], keypoints: np.ndarray, time_s: np.ndarray,
                 settings: PlateSettings = PlateSettings(),
                 tracking: TrackingSettings = TrackingSettings()) -> np.ndarray:
    """(F, 3) the lifter's plate per frame: centre x, y and radius in pixels; NaN where not seen.

    candidates: per frame, find_circles' rows. keypoints: the tracked lifter (F, 18, 3). A
    candidate is the plate when it has a plate's size for this lifter's femur and sits above
    their hips; of those, the best-supported rim wins. The clip's plate radius is the median
    of the winners: frames whose winner differs from it by more than radius_tolerance are
    dropped (another circle), and with too few frames left there is no plate at all.
    """
    frames = len(candidates)
    out = plate_like(candidates, keypoints, settings, time_s, settings.hip_gap_s)
    seen = np.isfinite(out[:, 2])
    if seen.any():
        radius = np.median(out[seen, 2])
        out[np.abs(out[:, 2] / radius - 1) > settings.radius_tolerance] = np.nan
    seen = np.isfinite(out[:, 2])
    if frames == 0 or seen.mean() < settings.min_share:  # judged on the frames confirmed beside the lifter
        return np.full((frames, 3), np.nan)
    out = follow_plate(out, candidates, time_s, radius, settings)
    seen = np.isfinite(out[:, 2])
    out[seen, 2] = np.median(out[seen, 2])  # one plate, one size: per-frame radii are noise
    for c in range(3):
        out[:, c] = butterworth(fill_gaps(out[:, c], time_s, tracking.max_gap_s), time_s, tracking)
    return out


def follow_plate(plate: np.ndarray, candidates: list[np.ndarray], time_s: np.ndarray, radius: float,
                 settings: PlateSettings = PlateSettings()) -> np.ndarray:
    """The plate carried on through frames where it was not confirmed beside the lifter's hip
    (the network lost the lifter behind the plates at the bottom for over a second: a 60 fps
    render with two plates a side): a circle of the plate's size within reach of the plate's
    last position (the bar moving at most max_speed_ms), forward then backward from every
    confirmed frame; the nearest one wins. plate: (F, 3) plate_like's, radii checked."""
    out = plate.copy()
    reach_px_s = settings.max_speed_ms * 2 * radius / settings.diameter_m  # px per second at the plate's scale
    for order in (range(len(out)), range(len(out) - 1, -1, -1)):
        last = None
        for f in order:
            if np.isfinite(out[f, 2]):
                last = f
                continue
            rows = np.asarray(candidates[f]).reshape(-1, 4) if len(candidates[f]) else np.zeros((0, 4))
            if last is None or not len(rows):
                continue
            sized = rows[np.abs(rows[:, 2] / radius - 1) <= settings.radius_tolerance]
            gap = np.hypot(sized[:, 0] - out[last, 0], sized[:, 1] - out[last, 1])
            near = gap <= reach_px_s * abs(time_s[f] - time_s[last]) + settings.radius_tolerance * radius
            if near.any():
                out[f] = sized[near][np.argmin(gap[near]), :3]
                last = f
    return out


def pixels_per_metre(plate: np.ndarray, settings: PlateSettings = PlateSettings()) -> float:
    """The plate's scale: its diameter in pixels over its real diameter (NaN without a plate).

    The plate's outer face is ~20 cm nearer the camera than the lifter's near leg, so at a
    typical 3-4 m filming distance this reads lengths on the lifter ~5 % short.
    """
    radius = plate[:, 2][np.isfinite(plate[:, 2])]
    return float(2 * np.median(radius) / settings.diameter_m) if len(radius) else float("nan")


def _hips_and_femur(keypoints: np.ndarray) -> tuple[np.ndarray, float]:
    """Per frame the hip (mean of the hips seen), and the clip's femur length (median, pixels)."""
    xy = np.asarray(keypoints, dtype=np.float64)[..., :2]
    hip = mean_hip(keypoints)
    lengths = np.concatenate([
        np.hypot(*(xy[:, J[f"{s}_hip"]] - xy[:, J[f"{s}_knee"]]).T) for s in ("r", "l")
    ])
    lengths = lengths[np.isfinite(lengths)]
    return hip, float(np.median(lengths)) if len(lengths) else float("nan")


def _parallax_shrink(plate: np.ndarray, frame_size: tuple[int, int], settings: PlateSettings) -> np.ndarray:
    """(F, 1) how much nearer the image centre the bar's middle shows than the plate's face:
    Z / (Z + d), with the face at Z = focal × plate radius (m) / radius (px) and d = face_to_bar_centre_m."""
    focal = settings.focal_long_side * max(frame_size)
    return 1.0 / (1.0 + settings.face_to_bar_centre_m * plate[:, 2:3] / (focal * settings.diameter_m / 2))


def bar_centre(plate: np.ndarray, frame_size: tuple[int, int], settings: PlateSettings = PlateSettings()) -> np.ndarray:
    """(F, 2) the bar's middle (over the lifter's midline) in pixels, from the plate's face.

    Points along the bar, which runs toward a side-on camera, project onto a line through the
    image centre; the face at depth Z shows (Z + d) / Z times further out than the middle at Z + d
    (_parallax_shrink). frame_size: (height, width) of the upright frame.
    """
    height, width = frame_size
    centre = np.array([(width - 1) / 2, (height - 1) / 2])
    return centre + (plate[:, :2] - centre) * _parallax_shrink(plate, frame_size, settings)


def pixels_per_metre_at_bar(plate: np.ndarray, frame_size: tuple[int, int],
                            settings: PlateSettings = PlateSettings()) -> float:
    """The clip's scale at the lifter's midline (where the bar's middle is), px per metre: the
    plate's scale shrunk by the parallax; NaN without a plate. The renders: 406-408 (truth 401)."""
    per_frame = 2 * plate[:, 2] / settings.diameter_m * _parallax_shrink(plate, frame_size, settings)[:, 0]
    seen = per_frame[np.isfinite(per_frame)]
    return float(np.median(seen)) if len(seen) else float("nan")


def bar_columns(bar: np.ndarray, midfoot_x: np.ndarray, facing: int, px_per_m: float) -> dict[str, np.ndarray]:
    """The bar's per-frame measures: bar_x, bar_y (px), bar_midfoot (px, + ahead of the midfoot
    line the lifter balances over) and bar_midfoot_cm (by the plate's scale at the bar)."""
    ahead = facing * (bar[:, 0] - midfoot_x)
    return {"bar_x": bar[:, 0], "bar_y": bar[:, 1], "bar_midfoot": ahead, "bar_midfoot_cm": 100.0 * ahead / px_per_m}
