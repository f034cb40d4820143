"""How much of the clip one analysis decodes (issue 13): all of it once for the network pass and,
where the annotated video is the clip's size, once for the render (a smaller video is drawn from
the frames the pass kept); the framing scout and the heatmaps decode only the stretches their
frames need, from the keyframe before each. Counted by squat.io.video.frames_decoded on a real clip."""
from __future__ import annotations

import hashlib
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import pytest

from squat import pipeline, reading
from squat.io import seek, video
from squat.settings import Settings

DATA = Path(__file__).parent / "data"
KEYINT = 6  # frames from one keyframe to the next, as a phone's 1-2 s GOP is to a clip's length


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """pose2sim_cam01 played forward, back and forward again (240 frames, so the scout's 24 frames
    are ~10 apart: more than a GOP, as on a phone clip of a few reps), a keyframe every KEYINT
    frames and B-frames."""
    with av.open(str(DATA / "pose2sim_cam01.mp4")) as src:
        frames = [f.to_ndarray(format="rgb24") for f in src.decode(video=0)]
    sequence = frames + frames[-2::-1] + frames[1:42]
    path = tmp_path_factory.mktemp("decode") / "squat.mp4"
    with av.open(str(path), "w") as dst:
        out = dst.add_stream("libx264", rate=60, options={
            "x264-params": f"keyint={KEYINT}:min-keyint={KEYINT}:bframes=2:scenecut=0", "crf": "20"})
        out.width, out.height, out.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for i, rgb in enumerate(sequence):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 60)
            dst.mux(out.encode(frame))
        dst.mux(out.encode(None))
    return path


def count_by_stage(monkeypatch, names: tuple[str, ...]) -> dict[str, int]:
    """Frames decoded inside each of these pipeline (or network pass) functions (the real ones run)."""
    counts = dict.fromkeys(names, 0)

    def counting(name: str, real):
        def counted(*args, **kwargs):
            before = video.frames_decoded
            try:
                return real(*args, **kwargs)
            finally:
                counts[name] += video.frames_decoded - before
        return counted

    for name in names:
        module = pipeline if hasattr(pipeline, name) else reading
        monkeypatch.setattr(module, name, counting(name, getattr(module, name)))
    return counts


def test_one_analysis_decodes_the_clip_once_plus_the_render(clip, tmp_path, monkeypatch):
    frames = seek.count_frames(clip)
    assert frames == 240
    counts = count_by_stage(monkeypatch, ("probe", "scout_clip", "detect_poses", "render_video", "write_heatmaps",
                                          "video_spool"))
    before = video.frames_decoded
    # One network, as it reads a clip it finds the lifter in throughout with steady bones: a clip the
    # squat model reads too is decoded once more for it (tests/test_accuracy_new.py), and frames
    # where the lifter is lost are read again (tests/test_second_look.py).
    one_network = replace(Settings(), pose=replace(Settings().pose, fallback_model=None, second_look=()))
    out = pipeline.run(clip, tmp_path / "out", one_network, heatmaps=True)
    total = video.frames_decoded - before
    assert (out / "annotated.mp4").stat().st_size and (out / "heatmaps.png").stat().st_size

    network = counts["detect_poses"] - counts["probe"] - counts["scout_clip"]
    assert network == frames  # the network pass: every frame once
    assert counts["render_video"] == frames  # the render: every frame once more
    # The scout's 24 frames, each decoded from its keyframe (a few frames) — not the whole clip.
    assert 24 <= counts["scout_clip"] <= frames // 2
    # The deepest frame, from its keyframe: at most a GOP and the frames held back for reordering.
    assert 1 <= counts["write_heatmaps"] <= KEYINT + 4
    assert counts["probe"] <= 4  # the first frame, and what the decoder reads ahead to give it
    assert counts["video_spool"] <= 4  # its probe of the clip: how large a spool would be (none here)
    # nothing decoded elsewhere
    assert total == counts["detect_poses"] + counts["render_video"] + counts["write_heatmaps"] + counts["video_spool"]
    assert total < 2.6 * frames  # was 3 whole decodes and the heatmaps' stretch from frame 0


def test_a_video_smaller_than_the_clip_is_drawn_from_the_frames_the_pass_kept(clip, tmp_path, monkeypatch):
    """Where the annotated video is smaller than the clip (a 1080p clip's 1280 px video; here 640 px of
    960), the network pass keeps its frames shrunk (squat.io.spool): the render decodes nothing, and
    draws the very frames it would have decoded."""
    monkeypatch.setattr(pipeline, "ANNOTATED_LONG_SIDE", 640)
    counts = count_by_stage(monkeypatch, ("detect_poses", "render_video", "video_spool"))
    before = video.frames_decoded
    pipeline.run(clip, tmp_path / "kept")
    assert counts["render_video"] == 0
    assert video.frames_decoded - before == counts["detect_poses"] + counts["video_spool"]

    drawn: dict[str, list[str]] = {}

    class Recording(pipeline.VideoWriter):
        """The frames handed to the encoder, by their bytes: x264's mbtree makes the encoded file differ
        from run to run by a few levels here and there (speed log §30), the frames drawn do not."""

        def write(self, image, time_s):
            digest = hashlib.sha1(image.tobytes() + str(time_s).encode()).hexdigest()
            drawn.setdefault(self.path.name, []).append(digest)
            super().write(image, time_s)

    monkeypatch.setattr(pipeline, "VideoWriter", Recording)
    with pipeline.video_spool(clip, tmp_path) as spool:
        analysis = pipeline.analyze(clip, spool=spool)
        pipeline.render_video(analysis, clip, tmp_path / "kept.mp4", spool=spool)
    pipeline.render_video(analysis, clip, tmp_path / "decoded.mp4")  # the same numbers, frames decoded
    assert counts["render_video"] == 240
    assert len(drawn["kept.mp4"]) == 120  # a 60 fps clip's video at 30
    assert drawn["kept.mp4"] == drawn["decoded.mp4"]
