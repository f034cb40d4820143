"""Every tunable number of the engine, in one place a coach or developer can read.

Frozen dataclasses: a run's settings are a value, hashable and printable.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class PoseSettings:
    model: str = "mobilenet_thin"  # name in weights/registry.json
    device: str = "auto"  # auto | cpu | cuda
    # Network input long side in pixels (frame scaled, aspect kept, padded). mobilenet_thin sees a
    # side-view lifter best at ~130-200 px tall: on the rendered side-view squats 432 found the lifter
    # in 93-96% of frames and every rep, 656 in 48-88% (the plate-hidden body is misread when large).
    long_side: int = 432
    framing: str = "lifter"  # lifter: scale so the lifter is person_height_px tall | full: long_side as set
    # The lifter's standing height in the network input; None: the model's own (the registry's
    # person_height_px, 120 unless measured). For the COCO model, on the rendered side views (lifter
    # ~540 px of 1080), 120 px found the lifter in 93-96% of frames, 195 px in 48-88%.
    person_height_px: float | None = None
    min_long_side: int = 256  # bounds on the network input's long side: detail and speed
    max_long_side: int = 880
    scout_frames: int = 24  # frames spread over the clip used to find and frame the lifter
    scout_long_sides: tuple[int, ...] = (432, 880)  # whole-frame sizes tried: large and small lifters
    # Tried only where those found nobody: a lifter filling the frame, read at neither (a still, or a
    # clip's few frames, deep in a rep with the plate over the head). None: no such look.
    scout_close_long_side: int | None = 288
    # Where `model` finds the lifter in fewer than this share of the frames, the clip is read again
    # with `fallback_model`, and the pass that finds them in more frames is kept. The default loses a
    # lifter the plate hides (head and trunk) with the camera low: found in 17-35 % of the frames of
    # such tuning renders, where the squat model finds them in all; the renders it reads well, 67-100 %;
    # a real backflip's landing (tests' sports2d_crouch), 49 %: not worth a second pass
    # (docs/accuracy-log.md §25). None: `model` only (the CLI's --model and the app's choice of
    # another model set None).
    fallback_model: str | None = "mobilenet_thin_squat"
    fallback_below: float = 0.4
    # Where `model` finds the lifter but its camera-side bones are unsteady (the shin's and femur's
    # length CVs over the clip, summed, above this), the fallback model reads the clip too, and its
    # read is kept where its bones are steadier (squat.measure.bones.bone_steadiness). Side-on the
    # bones keep their length: a knee read along the thigh or a hip up the back changes them. On the
    # tuning renders 0.14 read the angles best (0.10-0.25 tried: docs/accuracy-log.md §34); the real
    # close-up (0.13) and the app's sample clip (0.11) stay with the default. A read in which the
    # default finds no rep is not judged (bones say little outside a squat). None: found share only.
    fallback_unsteady: float | None = 0.14
    # Multi-scale inference (OpenPose's remedy for scale sensitivity): run the network at these
    # multiples of the chosen input scale, resample every map to the 1.0 grid and average them
    # before decoding. (1.0,) = one pass. (0.8, 1.0, 1.25) lost the long-femur render's lifter in a
    # third of the frames at 2.5x the time (docs/accuracy-log.md), so one pass is the default.
    scale_factors: tuple[float, ...] = (1.0,)
    # Reads where the lifter is lost between reads that find them are read again with the lifter
    # at these multiples of the pass's size, in turn, each kept only where it gives the lifter
    # back (squat.second_look). On the tuning renders the default then found the lifter in 97.0 %
    # of the frames (92.4 % without; the larger look first read the angles a little better than
    # the smaller first, docs/accuracy-log.md §33). () = no second look.
    second_look: tuple[float, ...] = (1.33, 0.75)
    # The network reads at most this many frames a second; the frames between are filled from
    # their neighbours (squat.track.rate): a 30 or 60 fps clip costs what it would at 15. At 15 Hz
    # against 30 the rendered sets' mean angle errors moved by at most 0.3° (one clip's knee at
    # depth 1.8°), the worst MCV error stayed 0.013 m/s (the plate filled along a cubic), and a
    # 1080p render was analysed 1.4-1.7x as fast (docs/accuracy-log.md §26). 0: every frame.
    network_hz: float = 15.0
    # Of the frames the network reads, every other one is read only where the lifter moves: where
    # the reads either side find everyone, with the same joints, within this × the lifter's height,
    # it is their mean (squat.track.still). Half a set is standing still. 0: every read run.
    still_within: float = 0.02
    # Frames through the network at once: a batch of 4 uses the cores better than one at a time
    # (bench/bench_network.py); the maps are the same.
    batch_frames: int = 4
    # "full" (fp32) or "half": the network in bf16 on a CPU, fp16 on a GPU (docs/speed-log.md).
    precision: str = "full"
    # Test-time flipping: each frame also goes through the network mirrored, and the two sets of
    # maps are averaged (left and right exchanged back). Twice the network time.
    flip: bool = False
    upsample: int = 4  # maps are upsampled ×4 (stride 8 → 2) before peak finding
    peak_threshold: float = 0.1  # heatmap value a joint peak must exceed
    # Models with feet: a heel or toe peak belongs to the person whose same-side ankle is within
    # this × their shin (a foot is ~0.6 shin long; a toe in front of the ankle ~0.55 shin away).
    foot_reach: float = 0.9
    paf_threshold: float = 0.05  # minimum PAF alignment along a limb
    paf_samples: int = 10  # points sampled along each candidate limb
    paf_min_fraction: float = 0.8  # share of samples that must align
    min_parts: int = 3  # a lone leg chain (hip–knee–ankle) is still a lifter at depth
    min_person_score: float = 0.2  # mean part+limb score of a person


PLATE_CM_RANGE = (15, 60)  # plate diameters (cm) a lifter may give: 15 cm change plates to 45 cm bumpers, and a margin


@dataclass(frozen=True)
class PlateSettings:
    """The barbell plate seen side-on: a circle on the lifter's shoulders (see squat/plate.py)."""

    enabled: bool = True
    diameter_m: float = 0.45  # standard (IWF / IPF) plate: the clip's scale in metres
    # Circles are searched in the frame scaled so the lifter is this tall (a plate ~35 px in
    # radius): 1 px there is ~3 px of a 1080p frame, ~10 ms a frame on 2 cores.
    search_height_px: float = 160.0
    # Plate radius searched, × the lifter's height (the scout's): the plates measure 0.21-0.23 of it
    # on the tuning renders (0.22-0.27 on the checking ones, 0.22 on a real clip); 0.33 leaves room
    # for a phone ~1.5 m away, whose nearer plate face looks larger. Hough's cost grows steeply with
    # the upper end: 0.4 cost a textured gym frame 47-56 ms, 0.33 23-30 (speed log §30).
    radius_range: tuple[float, float] = (0.1, 0.33)
    # Only within this × the lifter's height of someone's keypoints (a plate on the lifter's
    # shoulders lies within ~0.8 of their hip); the whole frame where nobody was found.
    region_margin: float = 1.0
    circles_per_channel: int = 5  # strongest Hough circles kept per Lab channel (isoluminant plates)
    # Each circle kept is refined on the full-size frame (plate.refine_circle): the rim's edge is
    # looked for within refine_span × r of the Hough rim, and must be clear on refine_min_share of the rays.
    refine: bool = True
    refine_span: float = 0.25
    refine_min_share: float = 0.5
    # Share of the rim where the colour edge runs across the rim (the rendered plates: 0.7-1.0;
    # a ball on the floor also scores high, so position and size decide the rest).
    min_rim_support: float = 0.5
    radius_femur: tuple[float, float] = (0.35, 1.1)  # a plate is 0.45 m, a femur ~0.4-0.45 m
    max_forward_femur: float = 1.5  # plate centre within this × femur of the hip, horizontally
    height_femur: tuple[float, float] = (0.3, 2.4)  # ... and this × femur above the hip
    radius_tolerance: float = 0.15  # a frame's circle this far (relative) from the clip's radius is not the plate
    min_share: float = 0.3  # the plate must be seen in this share of frames, else: no barbell
    # The hip a candidate is checked against is interpolated across pose gaps up to this long: the
    # network loses a lifter for 8-10 frames of a fast descent (renders) while the plate is in plain view.
    hip_gap_s: float = 1.0
    # Beyond that the plate is followed on its own: a circle of its size no further from its last
    # position than a bar moving this fast (a loaded squat stays under ~2 m/s) is the plate.
    max_speed_ms: float = 3.0
    # Parallax: the plate's outer face is nearer the camera than the bar's middle (above the
    # lifter's midline), so it shows further from the image centre. Undone with a pinhole camera
    # of this focal length (× the frame's long side: a phone's main camera, ~26 mm equivalent,
    # reads 0.72-0.78; the renders 0.77) and this face-to-middle distance along the bar (an
    # Olympic bar's sleeves start 0.65 m out; plates and collar add ~0.1 m).
    focal_long_side: float = 0.75
    face_to_bar_centre_m: float = 0.75


@dataclass(frozen=True)
class TrackingSettings:
    max_gap_s: float = 0.25  # fill gaps up to this long by interpolation, never longer
    cutoff_hz: float = 6.0  # Butterworth low-pass cut-off for joint paths
    # Order of the Butterworth designed; it runs forward and backward (scipy's filtfilt), so what
    # runs is zero phase with twice this order's roll-off (4 → 8: 48 dB/octave) and cutoff_hz sits
    # at -6 dB (half amplitude), not -3 dB. Named as designed: summary.json carries the settings.
    filter_order: int = 4
    min_joint_conf: float = 0.05  # below this a joint counts as missing
    max_jump: float = 0.6  # shared joints further apart than this × body size: a different person
    # The lifter is the person who squats: a track whose hips travel this × body size (a
    # parallel squat moves them ~0.3-0.5 × standing height; walking or standing < 0.1) ranks first.
    squat_dip: float = 0.25
    min_track_share: float = 0.1  # ...if its presence score is at least this share of the best track's
    max_track_gap_s: float = 1.0  # a person unseen for longer starts a new track (later rejoined if it fits)
    # A later track is the lifter again when it starts where the lifter was last seen at most this
    # long before (a plate or a spotter hiding the lifter), and is never seen beside the lifter.
    max_rejoin_gap_s: float = 3.0
    # Feet stay planted through a squat (the rendered ankles move ≤ 3 px a clip), so an ankle read
    # further than planted_tolerance × the shin from its running median over planted_window_s is a
    # misread (a real close-up read the ankle 80 px up the shin at every bottom) where the median
    # keeps the shin nearer its usual length: it and that foot's heel and toe take the median's
    # place (tracking.plant_feet). 0 switches it off.
    planted_window_s: float = 3.0
    planted_tolerance: float = 0.25


@dataclass(frozen=True)
class KinematicsSettings:
    side: str = "auto"  # auto | left | right: the leg facing the camera
    side_tie: float = 0.05  # side confidences this close (relative) tie: the longer-looking leg is nearer
    # Hips this far apart (× femur) show the far hip: the camera is off side-on, both legs are in
    # plain view and the longer-looking leg is the nearer, whatever the confidences. Side views
    # read 0.02-0.22 (the default network guesses the hidden hip), cameras 30-60° off the front
    # 0.25-0.57; there the longer leg was the near one on every render, the surer one not always
    # (accuracy log §37).
    side_hips_apart: float = 0.3
    # midfoot = ankle + this × standing shin length toward the toes. Measured on the synth truth
    # (midpoint of heel and big toe): 0.192 / 0.193 / 0.195 in the three side clips (0.10 at 45°,
    # the foot foreshortened), i.e. ~35 px ahead of the ankle for a 181 px shin.
    midfoot_fraction: float = 0.19
    # The feet stay planted, so the midfoot line is the running median of its reads over this
    # window (s): a foot that steps (a walk-out) moves it within half a window; 0 reads it frame by
    # frame (tuning half, default model: 1.36 → 1.22 cm; accuracy log §30).
    midfoot_window_s: float = 3.0
    # The bar rides on the upper back, behind the shoulder joints: the hip → bar line runs this much
    # more upright than the hip → neck line the trunk lean is defined by (rendered high-bar lifters:
    # 6.5-6.9°, SD 0.4°; ~5 cm behind the shoulders on a 50 cm torso). A low bar sits further back.
    bar_behind_trunk_deg: float = 6.5
    # Standing, hip → shoulder over hip → bar: the torso where a plate hides the shoulders (rendered
    # high-bar lifters, two builds: 0.930 and 0.931; the bar ~4 cm further from the hip than the
    # shoulder joint). A low bar sits about level with the shoulders: nearer 1.
    torso_of_hip_to_bar: float = 0.93
    # Whether the torso (its length, and its line for the trunk lean and the hip angle) comes from
    # the bar (above) or from the shoulder and neck keypoints: the bar for the COCO models, whose
    # shoulder behind a plate sits on the arm; the keypoints for a model trained on lifters behind
    # plates (the registry says which).
    torso_from_bar: bool = True
    # The hip in the hole from bone lengths (squat/bones.py): the pose model's hip rides up the
    # back at depth, but the femur (knee → hip) and the trunk (hip → bar) keep their lengths.
    hip_from_bones: bool = True
    # Knees pushed out over turned-out toes point the thigh toward the camera at depth: seen
    # side-on it shortens (rendered lifters, 20° toe-out: hip → knee keypoints 13.4 %, 12.7 % and
    # 14.2 % shorter at the bottom, ~117° of bend, than standing).
    femur_shrink_at_depth: float = 0.13  # relative shortening at 110° of knee bend, linear in the bend
    # The trunk line is drawn from the model's hip, which rides up along the back in the hole. A
    # model hip nearer the knee than the femur has slid down the thigh instead (a forward-leaning
    # rep): below the first fraction of the femur the line starts to move to the bone-length hip,
    # all the way at the second (rendered forward-lean rep: 0.65; riding up the back: 0.84 and more).
    hip_on_thigh_femur: tuple[float, float] = (0.85, 0.7)
    # Pose model's hip above the first knee angle, the bone-length hip below the second, blended
    # between. The model's hip starts riding up the back early in the descent: (160, 120) read
    # 0.1-0.3° better hip angles than (150, 110) on every side render (chosen on those renders).
    bone_hip_knee_angles: tuple[float, float] = (160.0, 120.0)
    standing_knee_angle: float = 160.0  # frames above this knee angle count as standing tall
    # View check (see kinematics.check_view). Synth truth: hip width / femur 0.01–0.02 side-on,
    # 0.37 at 45°; thigh in plane 0.86–0.87 side-on (20° toe-out included), 0.29 at 45°.
    side_view_max_hip_width: float = 0.2  # apparent hip width / femur below this: side-on (~20° off)
    front_view_min_hip_width: float = 0.5  # … at or above this: front (a ~0.6 × femur pelvis seen square)
    # Thigh in plane below this: not side-on. The pose model reads 0.61-0.85 on the side-view
    # renders (the hip keypoint rides up at depth) and 0.21 at 45°: 0.45 sits between.
    side_view_min_thigh: float = 0.45
    view_min_thigh_reach: float = 0.6  # judge the thigh only where it should reach ≥ this × femur forward
    # Where the thigh moves this much in the image plane, hips up to the second number × femur apart
    # still read side-on. Geometry (pelvis 0.6 × femur, thigh 0.87 side-on with toe-out): 15° off
    # side-on shows hips 0.16 apart and the thigh 0.84 in plane, 30° off 0.30 and 0.75. A real
    # side-on clip filmed close (camera ~1.5 m) read hips 0.22, thigh 1.2; a real 45° one 0.27, 0.56.
    side_view_thigh_in_plane: float = 0.8
    side_view_max_hip_width_in_plane: float = 0.3
    # Whether the pose model guesses the hidden far hip (the COCO models: it reads up to 0.22 ×
    # femur wide on a close side-on clip, hence the allowance above). A model that sees it (the
    # squat-trained one reads 0.01-0.08 on every side-on render and real side clip; the registry
    # says which) is judged by geometry alone: a 0.6 × femur pelvis 15° off side-on (where
    # evaluate's side view ends) shows 0.6 · sin 15° ≈ 0.16, with no allowance.
    far_hip_guessed: bool = True
    side_view_max_hip_width_seen: float = 0.16


@dataclass(frozen=True)
class RepSettings:
    # Hip drop (and return) for a rep, × femur. Synth reps drop 0.9–1.0 × femur (shallow one
    # ~0.55); a walk-out or a bounce moves the hip < 0.1.
    min_depth: float = 0.25
    min_duration_s: float = 0.6  # start → end; faster dips are not squats
    # The pause: within this × femur of the lowest hip (~3 px for a 170 px femur: above smoothed
    # keypoint jitter, yet only ~0.2 s wider than the truth's held bottom on the synth clips).
    bottom_band: float = 0.02
    stand_band: float = 0.03  # within this × femur of the standing hip height = not yet / again standing
    smoothing_s: float = 0.15  # centred moving average of the hip height, seconds
    # A rep bends the knees below this (a quarter squat reaches ~135°); a hip drop with straight
    # knees is the pose model misplacing the hip (seen between reps in side view, knees at 172-180°).
    squat_knee_angle: float = 145.0
    # Knees "locked out" = within this many degrees of the clip's standing knee angle (its 90th
    # percentile, smoothed); a rep runs from the knees unlocking to their locking out again.
    # Standing knees read ±1° (pose noise), the first 0.15 s of a descent bends them ~3°.
    # Off a side view the knees cannot confirm a squat (their image angle barely moves), so the
    # hip alone must drop this × femur, from where it stands highest between the neighbouring
    # bottoms: the shallowest oblique renders' reps drop 0.55-0.61, a real clip's goblet squats
    # 0.75-1.55 and its kettlebell pick-up (a hinge) 0.26-0.38 (accuracy log §36).
    min_depth_off_side: float = 0.5
    # ... or this far with the trunk kept up: the shoulders drop at most 1 / upright_drop_ratio ×
    # the hips' drop. Squats keep the trunk over the hips (shoulders 0.6-1.7 × the hips' drop,
    # forward lean included, on those renders); the pick-up tips it (2.6-3.3 ×).
    min_depth_off_side_upright: float = 0.4
    upright_drop_ratio: float = 0.5
    lockout_deg: float = 4.0
    # Two bottoms are two reps when the knees open past this between them, even short of the
    # clip's straightest stand: rhythmic goblet squats (a real clip) rise to 165-173° between
    # reps against 176-178° standing; a hip misread at depth keeps the knees below ~140°.
    stand_up_knee_angle: float = 160.0
    # Onset of the knee bend, traced back from when it reaches this and 4× this many degrees:
    # from rest the bend grows as time², so it began at 2·t(6°) − t(24°) (pose noise and the
    # knees first opening a little in the image hide the first degrees).
    onset_knee_deg: float = 6.0
    # "In the hole" = hip within this × femur of its lowest point in the rep; the bottom is the
    # middle of that stretch. Stretches less than hole_gap_s apart are one (a misread hip inside
    # a held bottom cannot split it); of those further apart the longest is the hole (a misread
    # frame early in the descent cannot stretch it back there).
    hole_band: float = 0.1
    hole_gap_s: float = 0.75
    # Where the network saw no hip within hip_unseen_s of a rep's bottom (a plate hides the hips
    # there), the bottom is the middle of the bar's hole instead: the bar within bar_hole_m of its
    # lowest in the rep (bottoms_at_the_bar). None keeps the hip's guess.
    hip_unseen_s: float | None = 0.25
    bar_hole_m: float = 0.02


@dataclass(frozen=True)
class FaultSettings:
    # Calibrated on the synth truth keypoints (numbers in brackets: good reps / faulty rep).
    # Hip below the knee = thigh at most this many degrees above horizontal at the deepest frame.
    # A knee pushed out toward a camera above it shows lower than it is: good reps read −0.6 to
    # −3.9° (truly below parallel in 3D), the shallow rep −39°; 8° ≈ twice that bias.
    parallel_margin_deg: float = 8.0
    max_trunk_lean_deg: float = 55.0  # lean on the way down beyond this is excessive whatever the shins (max seen 49°)
    # Forward lean = trunk lean − shin angle on the way down: [6 average, 14 long femurs, 15 at 45°
    # / 33 forward_lean rep]; long femurs tilt shin and trunk together, a dropping chest only the trunk.
    lean_over_shin_deg: float = 22.0
    # Out of the hole, hip rise / shoulder rise: [0.94–1.07 / 3.4]; 2 = hips twice as fast.
    hips_rise_ratio: float = 2.0
    hips_rise_lean_deg: float = 8.0  # trunk lean gained out of the hole [≤ 2.1 / 19.5; engine with the bar ≤ 4.5 / 18.7]
    hips_back_fraction: float = 0.15  # whole trunk hidden: hip moment arm gained out of the hole, × femur [≤ 0.04 / 0.35]
    early_ascent_fraction: float = 1 / 3  # "out of the hole" = until the hip regains this share of its depth
    # Knee ahead of the midfoot by more than this × femur [0.27 max / no such rep]: ~50° of shin
    # angle for average proportions; deep squats with 35–45° shins are normal, not a fault.
    knee_forward_fraction: float = 0.6
    judge_any_view: bool = False  # also call depth, lean and knee faults when the camera is not side-on


@dataclass(frozen=True)
class BarSpeedSettings:
    """How the plate track becomes bar speed. Times in seconds, lengths in metres."""

    hampel_window_s: float = 0.2  # outlier test window: 3 frames either side at 30 fps, outvotes a 2-frame blur
    hampel_sigmas: float = 3.0  # robust SDs (1.4826 x MAD) from the window's median that make a frame an outlier
    noise_m: float = 0.01  # deviations and steps this small are never outliers (a few pixels of detection)
    max_speed_ms: float = 3.0  # a loaded squat bar stays under ~2 m/s: a faster step is a misdetection
    max_blip_s: float = 0.2  # a run of frames between two impossible steps shorter than this is dropped
    max_gap_s: float = 0.25  # gaps up to this long (seen frame to seen frame) are interpolated linearly in time
    smooth_window_s: float = 0.1  # local quadratic smoothing of the height: removes pixel jitter, keeps the turns
    velocity_window_s: float = 0.15  # local quadratic fit whose slope is the velocity, its curvature the acceleration
    min_fit_frames: int = 5  # a fit window spans at least this many frame intervals (low frame rates)
    # The ascent (MCV's time) runs from the bar's upward speed first passing this, m/s, to it last
    # falling below it: the few millimetres it creeps at the turns are left out, on the truth as on
    # the measure (docs/accuracy-log.md §20)
    concentric_ms: float = 0.05
    concentric_peak_share: float = 0.1  # or this share of the rep's peak velocity, if higher (fast reps)
    top_reach_s: float = 0.5  # the bar's top is looked for this long after the knees lock out (the rep's end)
    min_phase_frames: int = 4  # a phase (descent, ascent) with fewer frames is not measured
    g: float = 9.81  # m/s^2: acceleration below -g ends the propulsive phase (MPV)


@dataclass(frozen=True)
class CompareSettings:
    """Side-by-side with a reference lifter (squat.compare)."""

    max_gap_s: float = 0.25  # never interpolate across a gap in the measurements longer than this (as tracking)
    dtw_band: float = 0.2  # DTW alignment may shift the phase by at most this share of the rep
    # Ratio differences below this (%) are within 2D measurement noise (synth truth: 1 %, a pose
    # model a few %): the builds count as the same.
    same_build_pct: float = 5.0
    # The lean model's squat (see compare.trunk_lean_for_build): thigh at parallel, shins 30° forward
    # (the rendered average and long-femur lifters: 28° at a parallel bottom), bar over midfoot.
    thigh_angle_deg: float = 0.0
    shin_angle_deg: float = 30.0
    midfoot_fraction: float = KinematicsSettings.midfoot_fraction  # midfoot ahead of the ankle, × shin
    same_lean_deg: float = 2.0  # predicted lean differences below this (degrees) are "about the same"


@dataclass(frozen=True)
class Settings:
    pose: PoseSettings = field(default_factory=PoseSettings)
    tracking: TrackingSettings = field(default_factory=TrackingSettings)
    plate: PlateSettings = field(default_factory=PlateSettings)
    kinematics: KinematicsSettings = field(default_factory=KinematicsSettings)
    reps: RepSettings = field(default_factory=RepSettings)
    faults: FaultSettings = field(default_factory=FaultSettings)
    bar_speed: BarSpeedSettings = field(default_factory=BarSpeedSettings)
    # CompareSettings stays apart: comparing two analyses never changes either of them.


def settings_from_dict(values: Mapping[str, Any], cls: type = Settings) -> Any:
    """Settings from their asdict() form (summary.json's "settings"): keys it lacks keep their
    defaults (an older run), keys it does not know are ignored (a newer one), lists become tuples."""
    kwargs = {}
    defaults = cls()
    for f in fields(cls):
        if f.name not in values:
            continue
        value, default = values[f.name], getattr(defaults, f.name)
        if is_dataclass(default) and isinstance(value, Mapping):
            value = settings_from_dict(value, type(default))
        elif isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)
