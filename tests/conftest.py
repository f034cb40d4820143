"""Shared test set-up: no test writes into the user's data folder; a synthetic squatting skeleton,
an empty-room clip, a call spy and the CLI's analyze in this process (`from conftest import ...`)."""
from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import av
import numpy as np
import pytest

from squat.cli import main
from squat.skeleton import J


@pytest.fixture(autouse=True, scope="session")
def _private_data_dir(tmp_path_factory):
    """SQUAT_DATA_DIR points at a temporary folder for the whole run (the CLI keeps network passes
    there); tests that need another one set their own."""
    old = os.environ.get("SQUAT_DATA_DIR")
    os.environ["SQUAT_DATA_DIR"] = str(tmp_path_factory.mktemp("squat-data-dir"))
    yield
    if old is None:
        os.environ.pop("SQUAT_DATA_DIR", None)
    else:
        os.environ["SQUAT_DATA_DIR"] = old


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def analyse_in_process(clip: Path, out: Path) -> tuple[int, str]:
    """`python -m squat analyze CLIP --out OUT --quiet --no-cache` through its main() in this process
    (the network loaded once for many clips): the exit code and what it wrote on stderr."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = main(["analyze", str(clip), "--out", str(out), "--quiet", "--no-cache"])
    return code, stderr.getvalue()


def squat_skeleton(
    shin_deg: np.ndarray,
    flex_deg: np.ndarray,
    lean_deg: np.ndarray,
    femur: float = 170.0,
    shin: float = 180.0,
    torso: float = 225.0,
    facing: int = 1,
    ankle: tuple[float, float] | np.ndarray = (900.0, 900.0),
) -> np.ndarray:
    """A side-on (F, 18, 3) skeleton from segment lengths (px) and angles (deg), both legs overlapping.

    Shin tilts forward by shin_deg, the knee flexes by flex_deg (interior = 180 − flex), the
    trunk leans forward by lean_deg; so hip angle = 180 − (flex − shin) − lean. `ankle` is one
    (x, y) or one per frame (F, 2) for a lifter who moves.
    """
    s, f, lean = (np.radians(np.broadcast_to(np.asarray(a, float), np.shape(flex_deg))) for a in (shin_deg, flex_deg, lean_deg))
    n = len(f)
    ankle_xy = np.broadcast_to(np.asarray(ankle, float), (n, 2))
    knee = ankle_xy + shin * np.stack([facing * np.sin(s), -np.cos(s)], axis=1)
    hip = knee + femur * np.stack([facing * np.sin(s - f), -np.cos(s - f)], axis=1)
    shoulder = hip + torso * np.stack([facing * np.sin(lean), -np.cos(lean)], axis=1)
    kp = np.full((n, 18, 3), np.nan, np.float32)
    for side in "rl":
        for name, xy in (("hip", hip), ("knee", knee), ("ankle", ankle_xy), ("shoulder", shoulder)):
            kp[:, J[f"{side}_{name}"], :2] = xy
        kp[:, J[f"{side}_ear"], :2] = shoulder + [facing * 15.0, -70.0]
    kp[:, J["neck"], :2] = shoulder
    kp[:, J["nose"], :2] = shoulder + [facing * 45.0, -60.0]
    kp[..., 2] = np.where(np.isnan(kp[..., 0]), np.nan, 0.9)
    return kp


def spy(monkeypatch, owner, name: str) -> list:
    """Record the positional arguments of every call of owner.name, still running it (e.g. count
    the network passes an analysis makes)."""
    calls: list = []
    real = getattr(owner, name)

    def recorded(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, recorded)
    return calls


def make_empty_room_clip(path: Path) -> Path:
    """A short grey clip with nobody in it."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for _ in range(6):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.full((96, 160, 3), 120, np.uint8), format="rgb24")))
        out.mux(stream.encode())
    return path


def cut_clip(source: Path, path: Path, frames: range) -> Path:
    """Frames `frames` of a clip re-encoded (H.264, 30 fps) as a shorter clip of its own: for tests
    whose assertions do not depend on a clip's length."""
    with av.open(str(source)) as src, av.open(str(path), "w") as dst:
        out = dst.add_stream("libx264", rate=30, options={"crf": "18"})
        out.width, out.height, out.pix_fmt = src.streams.video[0].width, src.streams.video[0].height, "yuv420p"
        for i, frame in enumerate(src.decode(video=0)):
            if i >= frames.stop:
                break
            if i in frames:
                dst.mux(out.encode(av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")))
        dst.mux(out.encode(None))
    return path
