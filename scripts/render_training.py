"""Render Video-to-Pose training clips with Blender's Cycles, into the same cached shards
as `model.data.video_cache` (frozen encoder features and targets; training reads both).

    .venv/bin/python scripts/render_training.py --out cache/v2p-cycles --clips 2000
    .venv/bin/python scripts/render_training.py --out cache/v2p-cycles-val --clips 50 --validation

The same motions as the torch-rendered cache draws (procedural creatures, and windows of
the real clips' training split on randomised rigs; other seeds), on skinned bodies
(`render_evalset.build_scene`: an ellipsoid per bone, skinned to it, humanoid rigs dressed
as people half the time), lit by a sun and a world of one colour or a noise texture,
rendered by Cycles at 4-16 samples, then seen through the same moving window and JPEG
as the torch renders. A clip of 16 frames takes about 3 s on one core. Seeds come from
`FIRST_SEED` on (training) or, with `--validation`, from `VALIDATION_SEED + 500` on
(never trained on); finished shards are kept, so a run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import bpy
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import render_evalset  # noqa: E402  (this folder)

from model.data import render, video_cache  # noqa: E402
from model.data.evalsets import VALIDATION_SEED  # noqa: E402

FIRST_SEED = 600_000  # above the torch-rendered cache's seeds (`video_cache.FIRST_SEED` on)
VALIDATION_FIRST = VALIDATION_SEED + 500  # above the torch-rendered validation clips'


def textured_world(rng: np.random.Generator) -> None:
    """The world behind the subject: a noise texture between two random colours (what the
    camera sees around a body is rarely one flat colour)."""
    world = bpy.context.scene.world
    world.cycles.sampling_method = "NONE"  # (its importance map would cost Cycles 1.5 s a frame)
    tree = world.node_tree
    noise = tree.nodes.new("ShaderNodeTexNoise")
    noise.inputs["Scale"].default_value = float(rng.uniform(1, 12))
    noise.inputs["Detail"].default_value = float(rng.uniform(0, 8))
    ramp = tree.nodes.new("ShaderNodeValToRGB")
    for element in ramp.color_ramp.elements:
        element.color = (*rng.uniform(0.02, 0.9, 3), 1.0)
    tree.links.new(noise.outputs["Fac"], ramp.inputs["Fac"])
    tree.links.new(ramp.outputs["Color"], tree.nodes["Background"].inputs["Color"])


def cycles_example(seed: int, frames: int, image_size: int, real_share: float, max_zoom: float) -> dict:
    rng, motion, start, ref = video_cache.example_motion(seed, frames, real_share)
    view = render.view_motion(motion.frames(slice(start, start + frames)), rng.uniform(-np.pi, np.pi))
    size = round(image_size * video_cache.MARGIN)
    people = bool(rng.random() < 0.5)
    rig = render_evalset.build_scene(view, rng, size, int(rng.integers(4, 17)), people, video_cache.SMALL_SHARE)
    if rng.random() < 0.5:
        textured_world(rng)
    images, _, pixels = render_evalset.render_frames(rig, view)
    return video_cache.as_example(motion, ref, view, images[..., ::-1], pixels / size * 2 - 1, rng, image_size, max_zoom)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    video_cache.add_arguments(parser)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    first = video_cache.seed_range(args, parser, FIRST_SEED, VALIDATION_FIRST)
    make = functools.partial(
        cycles_example, frames=args.frames, image_size=args.image_size, real_share=args.real, max_zoom=args.zoom
    )
    video_cache.build(args.out, args.clips, first, args.part, make, args.image_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
