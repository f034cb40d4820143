"""Render a squat with the lifter (body, shoes, bar, plates) over a real photo instead of the room.

    cd $SYNTH_DIR && $SYNTH_PYTHON /path/to/tools/synth_composite.py --backgrounds A.jpg B.png ... -- RENDER_ARGS

Runs the renderer's `render_squat.py` (SYNTH_DIR, see tools/validation_set.py; RENDER_ARGS as
for it) with one change: each frame is rendered a second time with the room (floor, back wall, props) hidden, its
depth buffer is the lifter's mask, and the pixels outside it come from a background photo
(chosen, cropped, scaled and dimmed per clip from the scene seed). The truth is the renderer's
own. Training on renders alone teaches the network the renderer's walls and floors; a real
photo behind the lifter (the issue's "composite over real backgrounds") does not. Only photos
whose licence allows it: docs/training-log.md §2 lists the ones used and where they come from.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def background(path: Path, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) uint8 RGB: a random crop of the photo covering the frame, brightness × 0.6-1.2."""
    W, H = size
    img = Image.open(path).convert("RGB")
    scale = max(W / img.width, H / img.height) * rng.uniform(1.0, 1.6)
    img = img.resize((max(W, round(img.width * scale)), max(H, round(img.height * scale))), Image.BILINEAR)
    x0, y0 = int(rng.integers(0, img.width - W + 1)), int(rng.integers(0, img.height - H + 1))
    out = np.asarray(img.crop((x0, y0, x0 + W, y0 + H)), np.float32) * rng.uniform(0.6, 1.2)
    if rng.uniform() < 0.5:
        out = out[:, ::-1]
    return np.clip(out, 0, 255).astype(np.uint8)


def lifter_only(render, depth_only_flag):
    """render(self, vertices, bar_center) → the same frame with everything outside the lifter's
    mask taken from self.backdrop; the mask is a depth-only pass with self.room_meshes hidden."""
    def composite(self, vertices, bar_center=None):
        color = render(self, vertices, bar_center)
        for mesh in self.room_meshes:
            mesh.is_visible = False
        depth = self.r.render(self.scene, flags=depth_only_flag)
        for mesh in self.room_meshes:
            mesh.is_visible = True
        return np.where((depth > 0)[..., None], color, self.backdrop)
    return composite


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--") if "--" in argv else len(argv)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backgrounds", type=Path, nargs="+", required=True)
    a = ap.parse_args(argv[:split])
    sys.path.insert(0, ".")  # the renderer's folder (run from there)
    import render_squat  # the renderer's modules
    import scene

    original_init = scene.SceneRenderer.__init__

    def init(self, camera, *args, **kwargs):
        original_init(self, camera, *args, **kwargs)
        # Everything in the scene now but the bar is the room; the shoes and the body come later.
        bar = {id(n) for n in self.bar_nodes}
        self.room_meshes = [n.mesh for n in self.scene.mesh_nodes if id(n) not in bar]
        rng = np.random.default_rng(int(self.rng.integers(1 << 31)))
        self.backdrop = background(a.backgrounds[int(rng.integers(len(a.backgrounds)))], (camera.W, camera.H), rng)

    scene.SceneRenderer.__init__ = init
    scene.SceneRenderer.render = lifter_only(scene.SceneRenderer.render, scene.pyrender.RenderFlags.DEPTH_ONLY)
    return render_squat.main(argv[split + 1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
