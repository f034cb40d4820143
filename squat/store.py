"""Every analysis kept on disk, so opening the same clip with the same settings again is instant.

Layout under the data folder (env var SQUAT_DATA_DIR, default ~/.squat-form-check):

    index.sqlite3                 one row per complete analysis
    clips/<clip sha256>/<name>    the clip itself, once per content (the frame viewer reads it)
    runs/<key>/                   what `squat.pipeline.run` writes: frames.csv, reps.csv,
                                  summary.json, annotated.mp4, heatmap PNGs
    passes/<clip>-<key>.npz       the network pass of a clip (squat.passes): another camera side
                                  or threshold re-measures from it without running the network
    previews/<name>/              a running analysis's numbers (frames.csv, reps.csv, summary.json)
                                  kept while its video renders (squat.jobs); never a run, never indexed

A run's key is the clip's content hash (sha256 of its bytes, so the file name does not matter)
plus a hash of the settings and the engine version. `pipeline.run` makes the run folder appear
only once complete, and the index gets its row only after that: a failed or interrupted
analysis leaves nothing that `list()` shows. Its numbers may be read early, from a preview
(`keep_preview`, `load_preview`), which its job shows until the run is complete. No Streamlit
here: the app and tests share it.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import uuid
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pandas as pd

from squat import __version__, pipeline, results
from squat.errors import SquatError
from squat.pose.weights import sha256_of
from squat.settings import Settings

DATA_DIR_ENV = "SQUAT_DATA_DIR"
DEFAULT_DATA_DIR = Path("~/.squat-form-check")
INDEX_FILE = "index.sqlite3"
CLIP_HASH_CHARS = 16  # of the clip's sha256 in a run key
SETTINGS_HASH_CHARS = 12

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    clip_sha256 TEXT NOT NULL,
    settings_sha256 TEXT NOT NULL,
    clip_name TEXT NOT NULL,
    created_utc TEXT NOT NULL,
    rep_count INTEGER NOT NULL,
    mean_depth REAL,
    run_dir TEXT NOT NULL,
    clip_path TEXT NOT NULL,
    model TEXT NOT NULL,
    side TEXT NOT NULL
)
"""
_COLUMNS = ("key", "clip_sha256", "settings_sha256", "clip_name", "created_utc", "rep_count", "mean_depth",
            "run_dir", "clip_path", "model", "side")


def data_dir() -> Path:
    """The data folder: $SQUAT_DATA_DIR, else ~/.squat-form-check."""
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR).expanduser()


def content_hash(source: str | Path | bytes | memoryview) -> str:
    """sha256 (hex) of a file's bytes, or of bytes in memory (an upload): the name never counts."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return hashlib.sha256(source).hexdigest()
    return sha256_of(Path(source))


def settings_hash(settings: Settings) -> str:
    """sha256 (hex) of every setting and the engine version: change either and a clip is analysed afresh."""
    recipe = {"version": __version__, "settings": asdict(settings)}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def run_key(clip_sha256: str, settings: Settings) -> str:
    return f"{clip_sha256[:CLIP_HASH_CHARS]}-{settings_hash(settings)[:SETTINGS_HASH_CHARS]}"


@dataclass(frozen=True)
class Entry:
    """One indexed analysis, as the list of past analyses shows it."""

    key: str
    clip_name: str  # the file name the clip had when first analysed
    clip_sha256: str
    settings_sha256: str
    created: datetime  # when it was analysed, UTC
    rep_count: int
    mean_depth: Optional[float]  # mean over reps of the knee angle at the bottom, degrees; None: no rep
    run_dir: Path
    clip_path: Path
    model: str
    side: str  # the camera-side leg used


@dataclass(frozen=True, eq=False)
class StoredRun:
    """What the dashboard needs to show one analysis (all from its run folder)."""

    entry: Entry
    frames: pd.DataFrame  # frames.csv
    reps: pd.DataFrame  # reps.csv, faults "" where none
    summary: dict  # summary.json
    clip: Path  # the analysed video, for reading frames
    annotated: Path
    frames_csv: Path
    reps_csv: Path
    summary_json: Path
    heatmaps: tuple[Path, ...]  # heatmaps.png and heatmap_<part>.png when written
    result: Optional[results.Result] = None  # the same run read through squat.results (typed summary)

    @property
    def downloads(self) -> dict[str, Path]:
        """File name → path of every file a user may download, existing ones only."""
        files = (self.annotated, self.frames_csv, self.reps_csv, self.summary_json, *self.heatmaps)
        return {p.name: p for p in files if p.is_file()}


class ResultsStore:
    """The index and folders under one data folder; every method opens its own SQLite connection,
    so one store may serve several threads (Streamlit sessions)."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root).expanduser() if root is not None else data_dir()
        self.runs_dir = self.root / "runs"
        self.clips_dir = self.root / "clips"
        self.passes_dir = self.root / "passes"  # kept network passes (squat.passes), <clip sha[:16]>-<key>.npz
        self.previews_dir = self.root / "previews"  # the numbers of analyses still rendering their video
        self.index_path = self.root / INDEX_FILE
        for folder in (self.runs_dir, self.clips_dir):
            folder.mkdir(parents=True, exist_ok=True)
        with self.connect() as db:
            db.execute(_SCHEMA)

    # ----------------------------------------------------------------- queries

    def find(self, clip_sha256: str, settings: Settings) -> Optional[Entry]:
        """The complete analysis of this content with these settings, if there is one."""
        return self.get(run_key(clip_sha256, settings))

    def get(self, key: str) -> Optional[Entry]:
        rows = self._select("WHERE key = ?", (key,))
        return rows[0] if rows else None

    def list(self) -> list[Entry]:
        """Every indexed analysis, newest first."""
        return self._select("ORDER BY created_utc DESC, key")

    def load(self, key: str) -> StoredRun:
        """Tables, summary and file paths of one analysis."""
        entry = self.get(key)
        if entry is None:
            raise SquatError(f"no stored analysis {key!r}: it was deleted; analyse the clip again")
        run_dir = entry.run_dir
        annotated = run_dir / "annotated.mp4"
        missing = [name for name in (*results.FILES, annotated.name) if not (run_dir / name).is_file()]
        if missing or not entry.clip_path.is_file():
            raise SquatError(
                f"the stored analysis of {entry.clip_name} is incomplete ({', '.join(missing) or 'clip'} missing "
                f"under {self.root}): delete it and analyse the clip again"
            )
        return _stored(entry, results.read(run_dir))

    def load_preview(self, folder: str | Path, clip: str | Path, name: str, clip_sha256: str, settings: Settings,
                     created: datetime) -> StoredRun:
        """The numbers of an analysis whose video is still being made (a preview `keep_preview` kept),
        as a StoredRun under the key the complete run will have; no video, no heatmaps yet.
        SquatError when the preview is gone (the analysis ended meanwhile)."""
        folder = Path(folder)
        try:
            result = results.read(folder)
        except OSError as e:  # removed while being read: the run was completed meanwhile
            raise SquatError(f"the early numbers of {name} are gone ({e.strerror or e}): the analysis ended") from None
        entry = _entry(run_key(clip_sha256, settings), name, clip_sha256, settings, dict(result.summary.raw),
                       folder, Path(clip), created)
        return _stored(entry, result)

    def keep_preview(self, numbers: str | Path, name: str) -> Path:
        """previews/<name>/: frames.csv, reps.csv and summary.json of `numbers` (an unfinished run
        folder, `pipeline.run`'s numbers_ready), linked or copied, appearing whole. `name` must be
        a plain file name (a job's id)."""
        if not name or Path(name).name != name or name.startswith("."):
            raise ValueError(f"a preview's name is a plain file name, not {name!r}")
        self.previews_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=self.previews_dir))
        try:
            for file in results.FILES:
                try:
                    os.link(Path(numbers) / file, tmp / file)  # written once, never changed: a link will do
                except OSError:
                    shutil.copyfile(Path(numbers) / file, tmp / file)
            final = self.previews_dir / name
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def drop_preview(self, name: str) -> None:
        """Remove previews/<name> (its run is complete, failed or abandoned)."""
        if name and Path(name).name == name:
            shutil.rmtree(self.previews_dir / name, ignore_errors=True)
            for partial in self.previews_dir.glob(f".{name}.*.partial"):  # a worker killed while keeping it
                shutil.rmtree(partial, ignore_errors=True)

    # ----------------------------------------------------------------- changes

    def save(self, video: str | Path, settings: Settings = Settings(), name: str | None = None,
             progress: Optional[pipeline.Progress] = None, move: bool = False,
             clip_sha256: str | None = None, numbers_ready: Optional[Callable[[Path], None]] = None) -> Entry:
        """Analyse `video` and keep the result; returns at once when this content and settings are stored.

        `name` is the clip's name to show (default: the file's name); `move` moves the file into the
        store instead of copying it (an upload already written to a temporary file). `clip_sha256`
        skips hashing when the caller already has it. `numbers_ready(folder)` is called once the numbers
        are written into the unfinished run folder, before the video (see `pipeline.run`, and
        `keep_preview` to keep them while the video renders). Raises SquatError for a file that cannot be
        analysed, leaving the store as it was.
        """
        video = Path(video)
        name = _safe_name(name or video.name)
        sha = clip_sha256 or content_hash(video)
        found = self.find(sha, settings)
        if found is not None:
            if move:
                video.unlink(missing_ok=True)
            return found
        key = run_key(sha, settings)
        clip, added_clip = self.keep_clip(video, sha, name, move)
        run_dir = self.runs_dir / key
        try:
            if run_dir.exists():  # complete (run() is atomic) but never indexed: a crash before the index
                shutil.rmtree(run_dir)
            pipeline.run(clip, run_dir, settings, heatmaps=True, progress=progress, passes_dir=self.passes_dir,
                         clip_sha256=sha, numbers_ready=numbers_ready)
            summary = dict(results.read(run_dir).summary.raw)
            entry = _entry(key, name, sha, settings, summary, run_dir, clip, datetime.now(UTC))
            with self.connect() as db:
                db.execute(f"INSERT OR REPLACE INTO runs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                           self._row(entry))
        except BaseException:
            shutil.rmtree(run_dir, ignore_errors=True)
            if added_clip:
                self._drop_clip_if_unused(sha)
            raise
        return entry

    def delete(self, key: str) -> bool:
        """Forget one analysis: its index row, its run folder, and the clip when no other run uses it."""
        entry = self.get(key)
        with self.connect() as db:
            db.execute("DELETE FROM runs WHERE key = ?", (key,))
        shutil.rmtree(self.runs_dir / key, ignore_errors=True)
        if entry is not None:
            self._drop_clip_if_unused(entry.clip_sha256)
        return entry is not None

    # ----------------------------------------------------------------- internals

    def keep_clip(self, video: Path, sha: str, name: str, move: bool) -> tuple[Path, bool]:
        """The store's copy of the clip (clips/<sha>/<name>), written atomically; True if new."""
        folder = self.clips_dir / sha
        existing = sorted(p for p in folder.glob("*") if p.is_file() and not p.name.startswith(".")) \
            if folder.is_dir() else []
        if existing:  # same content under any name: keep the first
            if move:
                video.unlink(missing_ok=True)
            return existing[0], False
        if not video.is_file():
            raise SquatError(f"{video} not found: give the path to a video file")
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / name
        tmp = folder / f".{uuid.uuid4().hex}.part"
        try:
            if move:
                shutil.move(str(video), tmp)
            else:
                shutil.copyfile(video, tmp)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return final, True

    def _drop_clip_if_unused(self, sha: str) -> None:
        with self.connect() as db:
            used = db.execute("SELECT 1 FROM runs WHERE clip_sha256 = ? LIMIT 1", (sha,)).fetchone()
        if not used:
            shutil.rmtree(self.clips_dir / sha, ignore_errors=True)
            for kept in self.passes_dir.glob(f"{sha[:16]}-*.npz"):  # its network passes go with the clip
                kept.unlink(missing_ok=True)

    def connect(self) -> _Transaction:
        """`with store.connect() as db:` a connection to the index, committed on success, rolled back on
        error, always closed (squat.jobs keeps its table in the same file)."""
        return _Transaction(sqlite3.connect(self.index_path, timeout=30))

    def _select(self, clause: str, params: tuple = ()) -> list[Entry]:
        with self.connect() as db:
            rows = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM runs {clause}", params).fetchall()
        return [self._entry(dict(zip(_COLUMNS, row))) for row in rows]

    def _entry(self, row: dict) -> Entry:
        return Entry(
            key=row["key"], clip_name=row["clip_name"], clip_sha256=row["clip_sha256"],
            settings_sha256=row["settings_sha256"], created=datetime.fromisoformat(row["created_utc"]),
            rep_count=int(row["rep_count"]), mean_depth=row["mean_depth"],
            run_dir=self.root / row["run_dir"], clip_path=self.root / row["clip_path"],
            model=row["model"], side=row["side"],
        )

    def _row(self, entry: Entry) -> tuple:
        # Paths relative to the data folder: the folder can be moved or backed up whole.
        return (entry.key, entry.clip_sha256, entry.settings_sha256, entry.clip_name, entry.created.isoformat(),
                entry.rep_count, entry.mean_depth, entry.run_dir.relative_to(self.root).as_posix(),
                entry.clip_path.relative_to(self.root).as_posix(), entry.model, entry.side)


class _Transaction:
    """`with store.connect() as db:` commits on success, rolls back on error, and always closes."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, kind, error, tb) -> None:
        with closing(self.db):
            if kind is None:
                self.db.commit()
            else:
                self.db.rollback()


def _entry(key: str, name: str, sha: str, settings: Settings, summary: dict, run_dir: Path, clip: Path,
           created: datetime) -> Entry:
    """The index entry of an analysis from its summary.json."""
    return Entry(key=key, clip_name=name, clip_sha256=sha, settings_sha256=settings_hash(settings), created=created,
                 rep_count=int(summary["rep_count"]), mean_depth=_mean_depth(summary), run_dir=run_dir,
                 clip_path=clip, model=str(summary["model"]["name"]), side=str(summary["side"]))


def _stored(entry: Entry, result: results.Result) -> StoredRun:
    """What the dashboard shows of an analysis read from its folder (`results.read`)."""
    run_dir = entry.run_dir
    return StoredRun(
        entry=entry,
        frames=result.frames,
        reps=result.reps,
        summary=dict(result.summary.raw),
        clip=entry.clip_path,
        annotated=run_dir / "annotated.mp4",
        frames_csv=result.path("frames.csv"),
        reps_csv=result.path("reps.csv"),
        summary_json=result.path("summary.json"),
        heatmaps=tuple(sorted(run_dir.glob("heatmap*.png"))),
        result=result,
    )


def _mean_depth(summary: dict) -> Optional[float]:
    depths = [r.get("depth_knee_angle") for r in summary.get("reps", [])]
    values = [float(d) for d in depths if d is not None and np.isfinite(d)]
    return float(np.mean(values)) if values else None


def _safe_name(name: str) -> str:
    """A file name without folders (an upload's name is user input)."""
    base = Path(name.replace("\\", "/")).name.strip().lstrip(".")
    return base or "clip.mp4"
