"""`python -m squat ...`: analyse a clip, evaluate, run jobs, benchmark, list and fetch weights.

User mistakes end with one line `error: ...` on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence

from squat.errors import SquatError
from squat.memory import one_malloc_arena

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "squat_side.mp4"
EXIT_USAGE = 2
EXIT_BUG = 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    one_malloc_arena()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SquatError as exc:
        return fail(str(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        return fail("interrupted: nothing was written", 130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence for the user
        if getattr(args, "debug", False):
            raise
        return fail(f"unexpected failure ({type(exc).__name__}: {exc}); rerun with --debug and report it", EXIT_BUG)


def fail(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m squat", description="Squat form check from a video clip.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected failures")
    sub = parser.add_subparsers(dest="command", required=True)

    a = sub.add_parser("analyze", help="analyse a squat clip into a folder of results")
    a.add_argument("video", type=Path, help="the clip (MP4/MOV/AVI/MKV)")
    a.add_argument("--out", type=Path, help="output folder (default runs/<video name>/)")
    a.add_argument("--model", default=None, help="pose model name (see `weights list`; default the shipped one)")
    a.add_argument("--side", choices=("auto", "left", "right"), default="auto", help="leg facing the camera")
    a.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    a.add_argument("--long-side", type=int, default=None, help="look at the whole frame at this network input size instead of a crop around the lifter")
    a.add_argument("--plate-cm", type=float, default=None, metavar="CM",
                   help="diameter of the plate facing the camera (default 45: every bumper and competition plate); "
                        "the metres of the bar speed and the bar's distance from the midfoot come from it")
    a.add_argument("--network-hz", type=float, default=None, metavar="HZ",
                   help="frames a second the network reads (default 15; the frames between are filled from "
                        "their neighbours); 0: every frame, twice the network's time on a 30 fps clip")
    a.add_argument("--heatmaps", action="store_true", help="also save heatmaps blended over the deepest frame")
    a.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    a.add_argument("--quiet", action="store_true", help="no progress bar")
    a.add_argument("--no-cache", action="store_true",
                   help="run the network even where this clip's network pass is kept (under $SQUAT_DATA_DIR/passes: "
                        "analysing a clip again with another --side re-measures it in about a second)")
    a.set_defaults(func=cmd_analyze)

    e = sub.add_parser("evaluate", help="compare analyses with rendered truth or eye labels (one clip or a set)")
    e.add_argument("run_dir", type=Path, nargs="?", help="a folder `analyze` wrote (frames.csv, reps.csv, summary.json)")
    e.add_argument("truth_dir", type=Path, nargs="?", help="the rendered clip's folder (truth.csv, truth.json)")
    e.add_argument("--set", type=Path, default=None, dest="set_dir",
                   help="a folder of clip folders (clip.mp4 + truth.csv/truth.json or label.json): evaluate them all")
    e.add_argument("--runs", type=Path, default=None,
                   help="with --set: where the analyses are read or made (default runs/evaluate/<set name>)")
    e.add_argument("--no-video", action="store_true", help="with --set: analyses made without the annotated video")
    e.add_argument("--model", default=None, help="with --set: the pose model missing analyses are made with (see `weights list`)")
    e.add_argument("--json", type=Path, default=None, help="also write every number to this JSON file")
    e.set_defaults(func=cmd_evaluate)

    k = sub.add_parser("worker", help="run queued analyses (the app's jobs) until stopped")
    k.add_argument("--once", action="store_true", help="stop when no job waits")
    k.add_argument("--data", type=Path, default=None, help="the data folder (default $SQUAT_DATA_DIR or ~/.squat-form-check)")
    k.add_argument("--parent", type=int, default=None, help=argparse.SUPPRESS)  # the app's pool: end with the app
    k.set_defaults(func=cmd_worker)

    pub = sub.add_parser("publish", help="analyse a reference lifter's clip that every lifter of a hosted app may see")
    pub.add_argument("video", type=Path)
    pub.add_argument("--name", default=None, help="the name lifters see (default: the file's name)")
    pub.add_argument("--data", type=Path, default=None, help="the app's data folder (default $SQUAT_DATA_DIR)")
    pub.set_defaults(func=cmd_publish)

    b = sub.add_parser("bench", help="speed: the article's pipeline and ours side by side, stage by stage")
    b.add_argument("clip", nargs="?", type=Path, default=SAMPLE, help="a clip (default: the sample squat)")
    b.add_argument("--frames", type=int, default=None, help="only the clip's first N frames")
    b.add_argument("--baseline-frames", type=int, default=20,
                   help="frames the article's pipeline runs on (it is slow; default 20)")
    b.add_argument("--device", default="auto", help="auto | cpu | cuda")
    b.add_argument("--json", type=Path, default=None, help="also write every number to this JSON file")
    b.set_defaults(func=cmd_bench)

    w = sub.add_parser("weights", help="list or download pose model weights")
    wsub = w.add_subparsers(dest="weights_command", required=True)
    wl = wsub.add_parser("list", help="models, sizes, licences and whether they are installed")
    wl.set_defaults(func=cmd_weights_list)
    wf = wsub.add_parser("fetch", help="download a model's weights into weights/")
    wf.add_argument("name")
    wf.set_defaults(func=cmd_weights_fetch)
    return parser


MAX_NETWORK_HZ = 240  # a phone's fastest slow motion; 0 reads every frame whatever the rate


def cmd_analyze(args: argparse.Namespace) -> int:
    from squat.pipeline import run
    from squat.settings import PLATE_CM_RANGE, Settings
    from squat.store import data_dir

    settings = Settings()
    pose = replace(settings.pose, device=args.device)
    if args.model:  # a model asked for is the model that reads the clip
        pose = replace(pose, model=args.model, fallback_model=None)
    if args.long_side:  # an explicit size means: the whole frame at that size
        pose = replace(pose, long_side=args.long_side, framing="full")
    if args.network_hz is not None:
        if not 0 <= args.network_hz <= MAX_NETWORK_HZ:
            raise SquatError(f"--network-hz {args.network_hz:g} is not a reading rate: give 0 (every frame) "
                             f"or up to {MAX_NETWORK_HZ} frames a second")
        pose = replace(pose, network_hz=args.network_hz)
    settings = replace(settings, pose=pose, kinematics=replace(settings.kinematics, side=args.side))
    if args.plate_cm is not None:
        low, high = PLATE_CM_RANGE
        if not low <= args.plate_cm <= high:
            raise SquatError(f"--plate-cm {args.plate_cm:g} is not a barbell plate: give its diameter in centimetres "
                             f"({low}-{high}; bumper plates are 45)")
        settings = replace(settings, plate=replace(settings.plate, diameter_m=args.plate_cm / 100))
    if not args.video.is_file():
        raise SquatError(f"{args.video} not found: give the path to a video file")
    out = args.out or default_out_dir(args.video)
    with ProgressBar(disabled=args.quiet) as bar:
        folder = run(args.video, out, settings, heatmaps=args.heatmaps, progress=bar.update,
                     overwrite=args.overwrite, passes_dir=None if args.no_cache else data_dir() / "passes")
    print(folder)
    return 0


def default_out_dir(video: Path) -> Path:
    """runs/<stem>/, or runs/<stem>-2/ ... when an earlier analysis is already there (never overwritten)."""
    base = Path("runs") / video.stem
    candidate, n = base, 2
    while candidate.exists():
        candidate, n = base.with_name(f"{video.stem}-{n}"), n + 1
    return candidate


class ProgressBar:
    """tqdm on stderr, one bar per stage."""

    LABELS = {"pose": "finding the lifter", "render": "drawing the video", "heatmaps": "heatmaps"}

    def __init__(self, disabled: bool = False):
        self.disabled, self.bar, self.stage = disabled, None, None

    def update(self, stage: str, done: int, total: int) -> None:
        if self.disabled:
            return
        from tqdm import tqdm

        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=total or None, desc=self.LABELS.get(stage, stage), unit="frame",
                            file=sys.stderr, dynamic_ncols=True)
        if total and total != self.bar.total:
            self.bar.total = total
        self.bar.update(done - self.bar.n)  # update() honours tqdm's redraw interval

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def cmd_evaluate(args: argparse.Namespace) -> int:
    if args.set_dir is not None:
        if args.run_dir is not None:
            raise SquatError("give either --set DIR or RUN_DIR TRUTH_DIR, not both")
        from squat.eval.sets import main as evaluate_set
        from squat.settings import Settings

        settings = Settings()
        if args.model:
            settings = replace(settings, pose=replace(settings.pose, model=args.model, fallback_model=None))
        evaluate_set(args.set_dir, args.runs, args.json, video=not args.no_video, settings=settings)
        return 0
    if args.run_dir is None or args.truth_dir is None:
        raise SquatError("give RUN_DIR TRUTH_DIR (one clip) or --set DIR (a folder of clips)")
    from squat.eval.rendered import main as evaluate

    evaluate(args.run_dir, args.truth_dir, args.json)
    return 0


WORKER_NICENESS = 10


def cmd_worker(args: argparse.Namespace) -> int:
    import threading

    from squat.jobs import Jobs, stop_with_parent
    from squat.store import ResultsStore

    store = ResultsStore(args.data)
    # Below the web server's priority: on shared cores a lifter's click is answered before the
    # next frame of someone's analysis (docs/speed-log.md §9).
    os.nice(WORKER_NICENESS)
    print(f"worker: running jobs from {store.root}", file=sys.stderr)
    stop = threading.Event()
    if args.parent:
        stop_with_parent(args.parent, stop)
    try:
        ran = Jobs(store).work(once=args.once, stop=stop)
    except KeyboardInterrupt:  # Ctrl-C between or during jobs: a running job is re-queued by the next worker
        return 0
    print(f"worker: {ran} job(s) run", file=sys.stderr)
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from squat.jobs import Jobs
    from squat.store import ResultsStore

    store = ResultsStore(args.data)
    job = Jobs(store).publish(args.video, name=args.name)
    entry = store.get(job.run_key)
    print(f"published {entry.clip_name} ({entry.rep_count} reps) in {store.root}: every lifter may open it "
          "and compare with it")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    import json

    from squat.bench.run import bench
    from squat.io.video import probe

    if args.frames is not None and args.frames < 1 or args.baseline_frames < 1:
        raise SquatError("--frames and --baseline-frames must be at least 1")
    probe(args.clip)  # a clear error for a missing or unreadable clip, before any model loads
    report = bench(args.clip, args.frames, args.baseline_frames, args.device)
    print(report.table())
    if args.json:
        args.json.write_text(json.dumps(report.as_json(), indent=2))
    return 0


def cmd_weights_list(args: argparse.Namespace) -> int:
    from squat.pose.weights import describe_models, downloads_dir, fetch_command, load_registry
    from squat.settings import PoseSettings

    registry = load_registry()
    default = PoseSettings().model
    print(f"{'model':22} {'size':>8}  {'status':10} licence")
    for row in describe_models(registry, downloads_dir()):
        spec = registry[row.name]
        status = "shipped" if spec.shipped else "installed" if row.installed else "not here"
        name = row.name + (" (default)" if row.name == default else "")
        print(f"{name:22} {row.size_mb:6.1f}MB  {status:10} {spec.licence}: {spec.licence_note}")
        if not row.installed:
            print(f"{'':22} get it with: {fetch_command(spec)}")
    return 0


def cmd_weights_fetch(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from squat.pose.weights import downloads_dir, fetch, load_registry

    registry = load_registry()
    if args.name not in registry:
        raise SquatError(f"unknown model {args.name!r}: choose one of {', '.join(sorted(registry))}")
    with tqdm(unit="B", unit_scale=True, desc=args.name, file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            bar.total, bar.n = total, done
            bar.refresh()
        path = fetch(registry[args.name], downloads_dir(), progress=progress)
    print(path)
    return 0
