"""Training clips: a window of frames and a reference frame from elsewhere in the same
clip, from procedural creatures or from the training split of the real clips on a
randomised rig. The data of a seed is always the same."""

from __future__ import annotations

import functools

import numpy as np
import torch

from ..video2pose import query_features
from . import augment, evalsets, procedural
from .motion import Motion


def creature(seed: int, frames: int, bones: int) -> tuple[np.random.Generator, Motion, int, int]:
    """A creature's motion of 2 x `frames` frames, the start of a `frames`-frame window
    and a reference frame outside it; also the generator, for the rest of the example."""
    rng = np.random.default_rng(seed)
    skeleton = procedural.random_skeleton(seed, bones)
    motion = procedural.random_motion(skeleton, 2 * frames, fps=float(rng.choice([24.0, 30.0, 60.0])), seed=seed)
    start = int(rng.integers(0, frames + 1))
    ref = int(rng.choice(np.r_[0:start, start + frames : 2 * frames]))
    return rng, motion, start, ref


@functools.lru_cache(maxsize=1)
def real_clips() -> list:
    """The training split of the real clips (`evalsets.training_clips`), loaded once per process."""
    return evalsets.training_clips()


@functools.lru_cache(maxsize=1)
def keyed_clips() -> list:
    """The training split of the artist-keyed clips (`evalsets.keyed_training_clips`; empty
    without the optional cache), loaded once per process."""
    return evalsets.keyed_training_clips()


KEYED_SHARE = 0.3  # of the real windows, when there are keyed clips: hundreds of them must not drown the mocap


def real(seed: int, frames: int) -> tuple[np.random.Generator, Motion, int, int]:
    """A window of a real clip (mocap, or where there are some, artist-keyed with
    probability `KEYED_SHARE`) and a reference frame from elsewhere (`excerpt`), half the
    time in a mirror (the same performances by a left-right twin), on a randomised rig
    (`augment.randomise_rig`): `frames` + 1 frames, the window first, the reference last."""
    rng = np.random.default_rng(seed)
    keyed = rng.random() < KEYED_SHARE and keyed_clips()
    motion = excerpt(keyed_clips() if keyed else real_clips(), rng, frames)
    if rng.random() < 0.5:
        motion = motion.mirrored()
    return rng, augment.randomise_rig(motion, rng), 0, frames


def excerpt(clips: list[tuple[str, Motion]], rng: np.random.Generator, frames: int) -> Motion:
    """A window of `frames` frames of one of the clips (the longer, the likelier) at 24-60
    fps, played back and forth where the clip is short, then a reference frame from
    elsewhere in it: `frames` + 1 frames."""
    chance = np.sqrt([m.num_frames for _, m in clips])
    motion = clips[rng.choice(len(clips), p=chance / chance.sum())][1]
    T = motion.num_frames
    stride = max(1, round(motion.fps / rng.uniform(24, 60)))
    t = rng.integers(0, T) + stride * np.arange(frames)
    window = np.abs((t + T - 1) % (2 * T - 2) - (T - 1)) if T > 1 else np.zeros(frames, int)  # ping-pong
    outside = np.setdiff1d(np.arange(T), window)
    ref = int(rng.choice(outside if outside.size else np.arange(T)))
    return motion.frames(np.r_[window, ref])


REST_DRAW = 2  # the draw apart from an example's own that says whether its reference is the rest pose


def rest_drawn(seed: int, share: float) -> bool:
    """Whether the example of `seed` has the rig's rest pose as its reference pair, for a
    `share` of the seeds, drawn apart from the example's own draws (which stay as they were)."""
    return bool(np.random.default_rng([seed, REST_DRAW]).random() < share)


def at_rest(example: dict) -> dict:
    """The example with the rig's rest pose as its reference pair, as a user who keys the
    rest pose gives it: no pose of the subject to hold, only the rig's conventions."""
    heads, rotations = example["skeleton"].rest_reference()
    return {
        **example,
        "queries": query_features(example["skeleton"], heads),
        "ref_positions": torch.as_tensor(heads, dtype=torch.float32),
        "ref_rotations": torch.as_tensor(rotations, dtype=torch.float32),
    }
