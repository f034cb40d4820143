"""Every tunable number of the engine, in one place a coach or developer can read.

Frozen dataclasses: a run's settings are a value, hashable and printable.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PoseSettings:
    model: str = "mobilenet_thin"  # name in weights/registry.json
    device: str = "auto"  # auto | cpu | cuda
    long_side: int = 656  # network input long side in pixels (frame is scaled, aspect kept, padded)
    upsample: int = 4  # maps are upsampled ×4 (stride 8 → 2) before peak finding
    peak_threshold: float = 0.1  # heatmap value a joint peak must exceed
    paf_threshold: float = 0.05  # minimum PAF alignment along a limb
    paf_samples: int = 10  # points sampled along each candidate limb
    paf_min_fraction: float = 0.8  # share of samples that must align
    min_parts: int = 3  # a lone leg chain (hip–knee–ankle) is still a lifter at depth
    min_person_score: float = 0.2  # mean part+limb score of a person


@dataclass(frozen=True)
class TrackingSettings:
    max_gap_s: float = 0.25  # fill gaps up to this long by interpolation, never longer
    cutoff_hz: float = 6.0  # Butterworth low-pass cut-off for joint paths
    filter_order: int = 4
    min_joint_conf: float = 0.05  # below this a joint counts as missing
    max_jump: float = 0.6  # a match further than this × body height is a different person


@dataclass(frozen=True)
class KinematicsSettings:
    side: str = "auto"  # auto | left | right: the leg facing the camera
    midfoot_fraction: float = 0.25  # midfoot = ankle + this × shin length toward the toes
    standing_knee_angle: float = 160.0  # frames above this knee angle count as standing tall
    side_view_min_ratio: float = 0.55  # hip width / femur length above this means front/oblique


@dataclass(frozen=True)
class RepSettings:
    min_depth: float = 0.25  # hip must drop this × femur length for a rep
    min_duration_s: float = 0.6
    bottom_band: float = 0.05  # within this × femur length of the lowest hip = the bottom (pause)
    smoothing_s: float = 0.15


@dataclass(frozen=True)
class FaultSettings:
    parallel_margin_deg: float = 0.0  # hip crease must be at/below the knee (+ margin) at the bottom
    max_trunk_lean_deg: float = 50.0  # more lean than this at any point is excessive
    hips_rise_ratio: float = 1.5  # hips rising this much faster than the shoulders out of the hole
    knee_forward_fraction: float = 0.5  # knee moment arm beyond this × femur length


@dataclass(frozen=True)
class Settings:
    pose: PoseSettings = field(default_factory=PoseSettings)
    tracking: TrackingSettings = field(default_factory=TrackingSettings)
    kinematics: KinematicsSettings = field(default_factory=KinematicsSettings)
    reps: RepSettings = field(default_factory=RepSettings)
    faults: FaultSettings = field(default_factory=FaultSettings)
