"""Fuzzed intake (issue 17): 300 random and mutated byte strings through the app's intake (the
host's clip check and the frame reader every analysis starts with), and a sample of them through
`python -m squat analyze` (its main(), in this process). Each is taken or refused with one clean
line (SquatError; the CLI's `error:` and exit 2), never an unexpected failure, and the CLI leaves
nothing on disk for a refused one. (All 300 through the CLI: 11 minutes, no failure, too slow
for the suite.)"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import analyse_in_process

from squat.errors import SquatError
from squat.io.video import iter_frames
from squat.jobs import Limits, check_clip

DATA = Path(__file__).parent / "data"
# Small real clips to mutate: 10 frames at 160x90 in four containers and codecs.
SEEDS = ("codec_h264.mov", "codec_hevc.mp4", "codec_vp9.mkv", "codec_mjpeg.avi")
BLOBS = 300
CLI_BLOBS = 10  # every thirtieth blob also through the whole CLI (~3 s each where it still plays)


def mutate(rng: np.random.Generator, seeds: list[bytes]) -> tuple[bytes, str]:
    """One fuzzed file and its suffix: cut, flipped bytes, a wrong or copied header, spliced,
    or noise."""
    k = int(rng.integers(len(SEEDS)))
    data, suffix = bytearray(seeds[k]), Path(SEEDS[k]).suffix
    kind = int(rng.integers(6))
    if kind == 0:  # cut anywhere
        data = data[: int(rng.integers(0, len(data)))]
    elif kind == 1:  # flipped bytes anywhere
        for i in rng.integers(0, len(data), int(rng.integers(1, 64))):
            data[i] ^= int(rng.integers(1, 256))
    elif kind == 2:  # a wrong header: the first bytes overwritten
        n = int(rng.integers(1, 64))
        data[:n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    elif kind == 3:  # another container's header on this payload
        other = seeds[(k + 1) % len(seeds)]
        data = bytearray(other[: len(other) // 3]) + data[len(data) // 3 :]
    elif kind == 4:  # a file spliced into itself
        a, b = sorted(rng.integers(0, len(data), 2))
        data = data[:a] + data[b:] + data[a:b]
    else:  # noise, sometimes behind a real MP4 box header
        data = bytearray(rng.integers(0, 256, int(rng.integers(0, 4096)), dtype=np.uint8).tobytes())
        if rng.random() < 0.5:
            data[:12] = b"\x00\x00\x00\x18ftypisom"
    return bytes(data), suffix


@pytest.fixture(scope="module")
def blobs(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("fuzz")
    rng = np.random.default_rng(20261204)
    seeds = [(DATA / name).read_bytes() for name in SEEDS]
    paths = []
    for i in range(BLOBS):
        blob, suffix = mutate(rng, seeds)
        paths.append(root / f"blob{i:03d}{suffix}")
        paths[-1].write_bytes(blob)
    return paths


def intake(clip: Path) -> str:
    """The app's intake of one clip: the host's check, then every frame read. "" when taken,
    else the one-line reason (SquatError; anything else propagates and fails the test)."""
    try:
        check_clip(clip, Limits())
        with iter_frames(clip) as frames:
            for _ in frames:
                pass
    except SquatError as exc:
        return str(exc)
    return ""


def test_every_fuzzed_clip_is_taken_or_refused_by_the_intake_in_one_line(blobs):
    reasons = [intake(clip) for clip in blobs]
    refused = [r for r in reasons if r]
    assert all("\n" not in r and "Traceback" not in r for r in refused)
    assert len(refused) >= BLOBS // 2  # most are refused: not only clips that still play


@pytest.fixture(scope="module")
def outcomes(blobs, monkeypatch_module) -> list[tuple[int, str, Path]]:
    root = blobs[0].parent
    monkeypatch_module.setenv("SQUAT_DATA_DIR", str(root / "data"))
    results = []
    for clip in blobs[:: BLOBS // CLI_BLOBS]:
        out = root / "runs" / clip.stem
        results.append((*analyse_in_process(clip, out), out))
    return results


def test_the_cli_analyses_or_refuses_each_in_one_clean_line(outcomes):
    codes = [code for code, *_ in outcomes]
    assert set(codes) <= {0, 2}, [err for code, err, _ in outcomes if code not in (0, 2)][:3]
    for code, err, _ in outcomes:
        if code == 2:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err


def test_a_refused_clip_leaves_nothing_behind(outcomes):
    runs = outcomes[0][2].parent
    for code, _, out in outcomes:
        assert out.exists() == (code == 0)
    leftovers = [p.name for p in runs.iterdir() if p.name.startswith(".")] if runs.exists() else []
    assert leftovers == []  # no half-written .partial folders
