"""The network pass over a clip: the scout frames the lifter, then the network reads the clip.

Three steps run at once, each a batch apart (speed log §25): a thread decodes the frames and
prepares the network's input, the caller's thread runs the network, another finds the people in
its maps and searches the plate. The network reads at most `network_hz` frames a second
(squat.track.rate); of those, every other one is read only where the lifter moves: where the
reads either side show everyone still (squat.track.still), it is their mean, and only the plate
is searched on it.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from squat.io.ahead import read_ahead
from squat.io.seek import frame_stamps
from squat.io.spool import FrameSpool
from squat.io.video import Frame, VideoInfo, iter_frames, probe
from squat.measure.plate import find_circles, plate_like, search_region, search_scale
from squat.memory import EveryFrames
from squat.passes import PoseTrack
from squat.pose.detections import Detections
from squat.pose.estimator import Letterbox, PoseEstimator, Prepared
from squat.settings import PlateSettings, Settings
from squat.timing import in_context, stage
from squat.track.framing import Scouted, scout_clip
from squat.track.rate import RateGate
from squat.track.still import between, still_match

Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): stage is "pose", "render" or "heatmaps"; counts are frames."""
Found = list[tuple[int, Detections, np.ndarray]]  # per frame read: its index, its people, its plate circles
Side = tuple[int, float]  # a read either side of a read between: its frame's index and time


def scout(video: str | Path, info: VideoInfo, settings: Settings, estimator: PoseEstimator) -> Optional[Scouted]:
    """The first look that frames the lifter (None where the settings frame the whole clip)."""
    with stage("scout", whole=True):
        return scout_clip(video, info, estimator, settings.tracking) if settings.pose.framing == "lifter" else None


def read_clip(video: str | Path, settings: Settings, progress: Optional[Progress], estimator: PoseEstimator,
              scouted: Optional[Scouted] = None, spool: Optional[FrameSpool] = None) -> PoseTrack:
    """One network pass with this estimator: the scout frames the lifter (unless given its look),
    then every frame is read (and handed to the spool on the way, where one is given)."""
    info = probe(video)
    if scouted is None:
        scouted = scout(video, info, settings, estimator)
    box = scouted.box if scouted is not None else None
    # The plate is searched at a scale set by the lifter's height, which the framing knows.
    lifter_height = estimator.settings.person_height_px / box.scale if box is not None else None
    look_for_plate = settings.plate.enabled and lifter_height is not None
    with stage("plate"):
        # Nothing plate-like on the lifter's shoulders in any of the scout's frames (spread over
        # the clip): a bodyweight set, no frame searched (0.4 s a frame on a 540p gym clip).
        plate_in_clip = look_for_plate and plate_in_scout(scouted, lifter_height, settings.plate)

    plate_scale = search_scale(lifter_height, settings.plate) if plate_in_clip else 1.0

    def plate_circles(frame: Frame, people: Detections) -> np.ndarray:
        if not plate_in_clip:  # none searched (an empty list where a plate is looked for)
            return np.zeros((0, 4), np.float32)
        with stage("plate"):
            region = search_region(people.keypoints, lifter_height, frame.image.shape[:2], settings.plate)
            return find_circles(frame.image, plate_scale, lifter_height, settings.plate, region)

    def find(batch: list[Frame], heatmaps: np.ndarray, pafs: np.ndarray, fitted: Letterbox) -> Found:
        return [(frame.index, people, plate_circles(frame, people))
                for frame, people in zip(batch, estimator.people(heatmaps, pafs, fitted))]

    still_px = settings.pose.still_within * lifter_height if lifter_height else 0.0
    times: list[float] = []
    # Frames neither the network nor the annotated video reads are not decoded where nothing refers
    # to them: each gate's fresh twin says which those are, from the clip's packet index.
    network_gate = partial(RateGate, settings.pose.network_hz)
    keeps = spool.would_keep() if spool is not None else None
    unwanted = unwanted_frames(video, [network_gate(), *([keeps] if keeps is not None else [])])
    # closing() stops the reading thread before the reader closes.
    with iter_frames(video, unwanted=unwanted) as reader, closing(read_ahead(
            _batches(reader if spool is None else spool.spooling(reader), network_gate(),
                     settings.pose.batch_frames, estimator, box, every_other=still_px > 0),
            depth=2)) as batches, ThreadPoolExecutor(1, thread_name_prefix="people") as finder:
        reads = _Reads(estimator, box, finder, find, plate_circles, still_px, settings.pose.batch_frames)
        trim = EveryFrames()  # peak memory flat in clip length (squat.memory)
        for chunk in batches:
            trim.count(len(chunk.times))
            times.extend(chunk.times)
            reads.arrive(chunk)
            if progress:
                progress("pose", len(times), info.frame_count)
        reads.finish()
        reader_warnings = tuple(reader.warnings)
    read = sorted(reads.found)
    return PoseTrack(
        video=info, time_s=np.asarray(times, np.float64), detections=tuple(reads.found[i][0] for i in read),
        network_frames=None if len(read) == len(times) else np.asarray(read, np.int64),
        circles=tuple(reads.found[i][1] for i in read) if look_for_plate else None, framing=box,
        model_name=estimator.spec.name, model_sha256=estimator.spec.sha256, device=estimator.device.type,
        reader_warnings=reader_warnings, hip_high_femur=estimator.spec.hip_high_femur,
        hip_bias_at_depth_femur=tuple(estimator.spec.hip_bias_at_depth_femur),
        toe_short_shin=estimator.spec.toe_short_shin,
        hip_from_bones=estimator.spec.hip_from_bones, torso_from_bar=estimator.spec.torso_from_bar,
        far_hip_guessed=estimator.spec.far_hip_guessed, still_reads=reads.still,
    )


def unwanted_frames(video: str | Path, gates: list[Callable[[float], bool]]) -> frozenset[int]:
    """The pts of the frames none of these gates will let through (each a fresh copy of one the
    pass reads by, called with every frame's time in order): neither the network nor the annotated
    video looks at them, so the decoder may skip those no other frame refers to (a 60 fps clip's
    every other frame, speed log §31). Nothing where the clip's frames cannot be known in advance (no packet index)."""
    stamps = frame_stamps(video)
    if stamps is None:
        return frozenset()
    pts, times = stamps
    wanted = np.zeros(len(times), bool)
    for gate in gates:  # every gate sees every time: they keep state
        wanted |= np.fromiter((gate(t) for t in times.tolist()), bool, len(times))
    return frozenset(pts[~wanted].tolist())


@dataclass(frozen=True, eq=False)
class _Batch:
    """The frames read since the last batch: every one's time, the ones the network reads, and
    those prepared for it (None where there are none); with every_other, the reads between them
    (`between`, not prepared: most are not run)."""

    times: list[float]
    due: list[Frame]
    prepared: Optional[Prepared]
    between: list[Frame] = field(default_factory=list)


def _batches(frames: Iterable[Frame], due: RateGate, size: int, estimator: PoseEstimator,
             box: Optional[Letterbox], every_other: bool = False) -> Iterator[_Batch]:
    """The clip's frames in batches of `size` frames the network reads, their input prepared; only
    those frames' images are kept (a 1080p frame is 6 MB). every_other: of the frames due, the
    second, fourth, ... are handed on beside the batch, neither converted nor prepared."""
    times: list[float] = []
    batch: list[Frame] = []
    held: list[Frame] = []
    reads = 0
    for frame in frames:
        times.append(frame.time_s)
        if due(frame.time_s):
            if every_other and reads % 2:
                held.append(frame)  # not converted: most are never run (a 1080p frame is 3 MB as YUV, 6 as BGR)
            else:
                batch.append(frame)
            reads += 1
        if len(batch) == size:
            yield _Batch(times, batch, estimator.prepare([f.image for f in batch], box), held)
            times, batch, held = [], [], []
    if times:
        yield _Batch(times, batch, estimator.prepare([f.image for f in batch], box) if batch else None, held)


class _Reads:
    """The frames the network reads in one pass, each found once, in whatever order they finish.

    Every batch of frames due goes through the network as it comes; the reads between them
    (`_Batch.between`) wait until the people on both sides are found: where those show everyone
    still, the read between is their mean (only its plate is searched); otherwise it joins a
    batch of its own kind through the network, its input prepared in the finder thread. The
    finder thread finds the people in one batch's maps while the network runs the next.
    """

    def __init__(self, estimator: PoseEstimator, box: Optional[Letterbox], finder: ThreadPoolExecutor,
                 find: Callable[..., Found], plate_circles: Callable[[Frame, Detections], np.ndarray],
                 still_px: float, batch_frames: int) -> None:
        self.estimator, self.box, self.finder, self.find = estimator, box, finder, find
        self.plate_circles, self.still_px, self.batch_frames = plate_circles, still_px, batch_frames
        self.found: dict[int, tuple[Detections, np.ndarray]] = {}  # frame index → people, circles
        self.still = 0  # reads taken as their neighbours' mean
        self._running: deque[Future] = deque()
        # A read between and its two sides, each as (index, time): not the side's frame, whose image
        # (6 MB at 1080p) would then live as long as the read between waits.
        self._last: Optional[Side] = None  # the latest read the network runs
        self._waiting: list[tuple[Frame, Optional[Side], Optional[Side]]] = []
        self._queue: list[Frame] = []  # reads between to run through the network
        # Batches of them whose input the finder thread is preparing (the network's thread, which
        # would otherwise leave both cores to the others while it letterboxes).
        self._preparing: deque[tuple[list[Frame], Future]] = deque()

    def arrive(self, chunk: _Batch) -> None:
        """A batch from the reading thread: its frames due run through the network; the reads
        between are paired with their sides; those decided are run or taken as still."""
        for frame, run in sorted([(f, True) for f in chunk.due] + [(f, False) for f in chunk.between],
                                 key=lambda item: item[0].index):
            if run:
                side = (frame.index, frame.time_s)
                self._waiting = [(f, before, side if after is None else after) for f, before, after in self._waiting]
                self._last = side
            else:
                self._waiting.append((frame, self._last, None))
        if chunk.prepared is not None:
            self._submit(chunk.due, chunk.prepared)
        self._collect(keep=1)
        self._decide(final=False)
        self._run_prepared(wait=False)

    def finish(self) -> None:
        """Every read found: the last batches collected, the reads between decided and run."""
        self._collect(keep=0)
        self._decide(final=True)
        self._run_prepared(wait=True)
        self._collect(keep=0)

    def _submit(self, frames: list[Frame], prepared: Prepared) -> None:
        self._running.append(self.finder.submit(in_context(self.find), frames, *self.estimator.forward(prepared)))

    def _collect(self, keep: int) -> None:
        """Found people stored, leaving at most `keep` batches running (the finder a batch behind the
        network); those already done are stored too, so the reads between wait no longer than they must."""
        while self._running and (len(self._running) > keep or self._running[0].done()):
            with stage("decoding"):  # waiting for the finder (its own time runs beside the network)
                found = self._running.popleft().result()
            for index, people, circles in found:
                self.found[index] = (people, circles)

    def _decide(self, final: bool) -> None:
        """Reads between whose sides are both found: still ones taken as the sides' mean, the
        others queued and run in full batches (at the end, whatever is left)."""
        undecided = []
        for frame, before, after in self._waiting:
            sides = [self.found.get(side[0]) if side is not None else None for side in (before, after)]
            if not final and before is not None and (after is None or None in sides):
                undecided.append((frame, before, after))  # its next side not read, or not found, yet
                continue
            order = still_match(sides[0][0], sides[1][0], self.still_px) if None not in sides else None
            if order is not None:
                weight = (frame.time_s - before[1]) / (after[1] - before[1])
                people = between(sides[0][0], sides[1][0], weight, order)
                self._running.append(self.finder.submit(
                    in_context(lambda f, p: [(f.index, p, self.plate_circles(f, p))]), frame, people))
                self.still += 1
            else:
                self._queue.append(frame)
        self._waiting = undecided
        while len(self._queue) >= self.batch_frames or (final and self._queue):
            batch, self._queue = self._queue[: self.batch_frames], self._queue[self.batch_frames:]
            self._preparing.append((batch, self.finder.submit(in_context(self._prepare), batch)))

    def _prepare(self, batch: list[Frame]) -> Prepared:
        return self.estimator.prepare([f.image for f in batch], self.box)

    def _run_prepared(self, wait: bool) -> None:
        """Reads between whose input is ready go through the network, in the order they were queued
        (at the end, all of them, waiting for each)."""
        while self._preparing and (wait or self._preparing[0][1].done()):
            batch, ready = self._preparing.popleft()
            with stage("preprocess"):  # waiting for the finder to prepare it
                prepared = ready.result()
            self._submit(batch, prepared)


def plate_in_scout(scouted: Scouted, lifter_height: float, settings: PlateSettings) -> bool:
    """Whether any of the scout's frames shows a plate-like circle on the lifter's shoulders
    (plate_like); True where its kept frames are too small to tell (a small lifter)."""
    s = scouted.image_scale
    scale = search_scale(lifter_height, settings)
    if scouted.lifter is None or not scouted.images or scale > s:
        return True
    small = scouted.lifter * np.array([s, s, 1], np.float32)
    candidates = [find_circles(image, scale / s, lifter_height * s, settings,
                               search_region(kp[None], lifter_height * s, image.shape[:2], settings))
                  / np.array([s, s, s, 1], np.float32) for image, kp in zip(scouted.images, small)]
    return bool(np.isfinite(plate_like(candidates, scouted.lifter, settings)[:, 2]).any())
