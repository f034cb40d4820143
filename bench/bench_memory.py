"""Peak memory against clip length: the same clip looped to several lengths, each analysed end to end
(annotated video included) in a fresh process.

    python bench/bench_memory.py [CLIP] [--minutes 0.5 1 2]

Memory must stay flat in clip length (issue 15: a 10-minute 1080p clip under 1.5 GB). Prints each
length's peak resident memory and the growth per minute of clip, from which a 10-minute clip's
peak follows. Needs ffmpeg (Debian's) to loop the clip without re-encoding.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CLIP = REPO / "tests" / "data" / "pose2sim_cam01.mp4"

# Runs one analysis in this process and prints its peak resident memory (MB) last.
ANALYSE = """
import resource, sys
sys.argv = ["squat", "analyze", sys.argv[1], "--out", sys.argv[2], "--quiet", "--no-cache"]
from squat.cli import main
code = main(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
sys.exit(code)
"""


def looped(clip: Path, seconds: float, out: Path) -> Path:
    """The clip repeated to `seconds` long, packets copied (no re-encoding)."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(clip), "-t", f"{seconds:.3f}",
                    "-c", "copy", "-an", str(out)], check=True)
    return out


def peak_mb(video: Path, out: Path) -> tuple[float, float]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", ANALYSE, str(video), str(out)], capture_output=True, text=True,
                          cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin",
                                         "SQUAT_DATA_DIR": str(out.parent / "data")})
    if done.returncode != 0:
        raise SystemExit(f"error: the analysis of {video.name} failed: {done.stderr.strip().splitlines()[-1:]}")
    return float(done.stdout.strip().splitlines()[-1]), time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clip", nargs="?", type=Path, default=DEFAULT_CLIP)
    ap.add_argument("--minutes", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    args = ap.parse_args()
    if shutil.which("ffmpeg") is None:
        raise SystemExit("error: ffmpeg is needed to loop the clip (apt-get install -y ffmpeg)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in sorted(args.minutes):
            video = looped(args.clip, 60 * minutes, Path(tmp) / f"loop_{minutes:g}min.mp4")
            mb, seconds = peak_mb(video, Path(tmp) / f"run_{minutes:g}")
            rows.append((minutes, mb, seconds))
            print(f"{minutes:5.2f} min: peak {mb:7.0f} MB, analysed in {seconds:6.1f} s", flush=True)
    minutes, mb = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
    if len(rows) >= 2:
        slope, intercept = np.polyfit(minutes, mb, 1)
        print(f"growth: {slope:+.1f} MB per minute of clip; a 10-minute clip: ~{intercept + 10 * slope:.0f} MB")


if __name__ == "__main__":
    main()
