"""Rendered training clips for Video-to-Pose, with the frozen encoder's features cached.

The pretrained encoder's frozen part (`PretrainedEncoder.features`) costs as much as the
rendering; computing both once lets training spend a 2-core CPU on the layers it trains.
Re-create (or extend: finished shards are kept) with

    python -m model.data.video_cache --out cache/v2p --clips 4000

Each clip: `--frames` frames of a procedural creature or, with probability `--real`, of
a real clip (training split only, `clips.real`) on a randomised rig, rendered by
`model.data.render` from a random yaw and camera (a quarter of them with the subject
small in the frame), through a window that pans and zooms, JPEG-compressed at a random
quality.
Shards of `SHARD` clips are `.npz` files (no pickles) named by their first seed; seeds
come from the training range (below `VALIDATION_SEED`), or with `--validation` from the
validation range that training never draws.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from ..skeleton import Skeleton
from ..video import prepare_frames
from ..video2pose import PretrainedEncoder, V2PConfig, query_features
from . import clips, procedural, render
from .evalsets import HELD_OUT_SEED, VALIDATION_SEED

SHARD = 50
FIRST_SEED = 500_000  # training seeds (below VALIDATION_SEED), apart from those the on-the-fly stages draw per step
MAX_BONES = 100
MARGIN = 1.3  # frames are rendered this much larger, and a moving window cut out of them
SMALL_SHARE = 0.25  # clips whose subject is small in the frame (`render.random_camera`)


def compress(video: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each frame through JPEG at one random quality per clip (blocks, ringing, smeared colour)."""
    quality = int(rng.integers(30, 96))
    out = np.empty_like(video)
    for t, frame in enumerate(video):
        ok, data = cv2.imencode(".jpg", frame[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        out[t] = cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1]
    return out


def moving_window(video: np.ndarray, uv: np.ndarray, rng: np.random.Generator, size: int, max_zoom: float = 1.0):
    """A square window that pans and zooms smoothly across larger frames, resized to
    `size`: a moving camera, and the subject as the tracking crop of a capture frames it
    (off centre, cut by an edge at times). With `max_zoom` u > 1 the frames first lose
    pixels (down to 1/1..1/u of their side), so that the window enlarges them as the
    capture's crop enlarges a small subject (`crop.MAX_ZOOM`), blur and all; the framing is
    the same. -> frames (T, size, size, 3), joints' places (T, J, 2) in the window's terms
    (-1..1)."""
    shrink = rng.uniform(1, max_zoom) if max_zoom > 1 else 1.0
    if shrink > 1:
        r = round(video.shape[1] / shrink)
        video = np.stack([cv2.resize(frame, (r, r), interpolation=cv2.INTER_AREA) for frame in video])
    T, R = video.shape[:2]
    side = rng.uniform(size / shrink, R, 2)  # window side at the first and last frame, in pixels
    corner = rng.uniform(0, 1, (2, 2)) * (R - side[:, None])
    ease = 0.5 - 0.5 * np.cos(np.pi * np.linspace(0, 1, T)) if rng.random() < 0.5 else np.linspace(0, 1, T)
    sides = side[0] + (side[1] - side[0]) * ease
    corners = corner[0] + (corner[1] - corner[0]) * ease[:, None]
    out = np.empty((T, size, size, 3), dtype=np.uint8)
    for t in range(T):
        x0, y0 = corners[t]
        affine = np.array([[size / sides[t], 0, -x0 * size / sides[t]], [0, size / sides[t], -y0 * size / sides[t]]])
        out[t] = cv2.warpAffine(video[t], affine, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    pixels = (uv + 1) / 2 * R
    return out, (pixels - corners[:, None]) / sides[:, None, None] * 2 - 1


def example_motion(seed: int, frames: int, real_share: float):
    """A seed's motion: a procedural creature or, with probability `real_share`, a real
    clip on a randomised rig (`model.data.clips`) -> generator, motion, window start, reference."""
    pick = np.random.default_rng(seed)
    if pick.random() < real_share:
        return clips.real(seed, frames)
    bones = int(round(np.exp(pick.uniform(np.log(procedural.MIN_BONES), np.log(MAX_BONES)))))
    return clips.creature(seed, frames, bones)


def as_example(motion, ref: int, view, video, uv, rng: np.random.Generator, image_size: int, max_zoom: float = 1.0) -> dict:
    """A rendered view-frame clip (frames `MARGIN` x `image_size` square, joints' places
    -1..1) seen through a moving window (`moving_window`) and JPEG, with its targets
    (`render.targets`)."""
    sk = motion.skeleton
    video, uv = moving_window(video, uv, rng, image_size, max_zoom)
    return {
        "video": compress(video, rng),
        "parents": sk.parents,
        "rest_heads": sk.rest_heads,
        "rest_frames": sk.rest_frames,
        "positions": render.targets(view).astype(np.float32),
        "uv": uv.astype(np.float32),
        "rotations": view.local_rotations.astype(np.float32),
        "ref_positions": motion.positions()[ref],
        "ref_rotations": motion.local_rotations[ref],
    }


def render_example(seed: int, frames: int, image_size: int, real_share: float, max_zoom: float = 1.0) -> dict[str, np.ndarray]:
    """One clip's frames (uint8) and targets, as arrays, from the torch renderer."""
    rng, motion, start, ref = example_motion(seed, frames, real_share)
    window = motion.frames(slice(start, start + frames))
    view, video, uv = render.render_seen(window, rng, round(image_size * MARGIN), SMALL_SHARE)
    return as_example(motion, ref, view, video, uv, rng, image_size, max_zoom)


def build_shard(path: Path, seeds, make_example, encoder: PretrainedEncoder, image_size: int) -> None:
    arrays = {}
    for i, seed in enumerate(seeds):
        example = make_example(int(seed))
        video = example.pop("video")
        for k, feature in enumerate(encoder.features(prepare_frames(video, image_size))):
            arrays[f"{i}.features{k}"] = feature.half().numpy()
        arrays[f"{i}.first_frame"] = video[0]  # to look at
        arrays.update({f"{i}.{name}": value for name, value in example.items()})
    tmp = path.with_name(path.stem + ".partial.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)  # a shard is there whole or not at all


def build(out: Path, count: int, first: int, part: str, make_example, image_size: int) -> None:
    """Shards of `count` clips from seed `first` on, those of `part` (k/n: every n-th shard
    from the k-th) that are not there yet, with progress on stdout."""
    k, n = (int(x) for x in part.split("/"))
    out.mkdir(parents=True, exist_ok=True)
    encoder = PretrainedEncoder(V2PConfig(image_size=image_size)).eval()
    starts = range(first, first + count, SHARD)
    todo = [s for i, s in enumerate(starts) if i % n == k - 1 and not (out / f"shard_{s}.npz").exists()]
    began = time.time()
    for done, start in enumerate(todo, 1):
        seeds = range(start, min(start + SHARD, first + count))
        build_shard(out / f"shard_{start}.npz", seeds, make_example, encoder, image_size)
        rate = (time.time() - began) / done
        print(f"shard {done}/{len(todo)} ({rate:.0f} s each, {rate * (len(todo) - done) / 60:.0f} min left)", flush=True)


def load(directory: Path) -> list[dict]:
    """Every cached clip as a dict: skeleton, V2P queries, the features (T, cells, C) per
    encoder tap, and the targets as float tensors."""
    out = []
    for path in sorted(Path(directory).glob("shard_*[0-9].npz")):
        with np.load(path, allow_pickle=False) as data:
            count = len({k.split(".")[0] for k in data.files})
            for i in range(count):

                def get(name, i=i):
                    return data[f"{i}.{name}"]

                sk = Skeleton(get("parents"), get("rest_heads"), get("rest_frames"))
                taps = sorted(k for k in data.files if k.startswith(f"{i}.features"))
                out.append(
                    {
                        "skeleton": sk,
                        "features": tuple(torch.from_numpy(data[k]) for k in taps),
                        "queries": query_features(sk, get("ref_positions")),
                        **{n: torch.as_tensor(get(n), dtype=torch.float32) for n in ("positions", "uv", "rotations")},
                        **{n: torch.as_tensor(get(n), dtype=torch.float32) for n in ("ref_positions", "ref_rotations")},
                    }
                )
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of a cache builder (this one's, and Cycles' `scripts/render_training.py`)."""
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--clips", type=int, required=True, help="clips in all (finished shards are kept)")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=V2PConfig.image_size)
    parser.add_argument("--real", type=float, default=0.5, help="share of clips from the real motion")
    parser.add_argument("--validation", action="store_true", help="draw the seeds from the validation range instead")
    parser.add_argument("--part", default="1/1", help="k/n: build every n-th shard from the k-th (parallel builders)")
    parser.add_argument(
        "--zoom", type=float, default=1.0, help="the most the window enlarges the render (1: never), as a capture's crop does"
    )
    parser.add_argument(
        "--skip", type=int, default=0, help="start this many clips into the seed range (clips no other cache holds)"
    )


def seed_range(args: argparse.Namespace, parser: argparse.ArgumentParser, training: int, validation: int) -> int:
    """The first seed of the clips that `args` asks for, from a builder's first training
    seed on (up to `VALIDATION_SEED`) or, with `--validation`, from its first validation
    seed on (up to `HELD_OUT_SEED`); or a parser error."""
    first, end = (validation, HELD_OUT_SEED) if args.validation else (training, VALIDATION_SEED)
    if args.skip < 0 or args.skip + args.clips > end - first:
        parser.error(f"--skip + --clips must stay within the {end - first} seeds of the range")
    return first + args.skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.data.video_cache", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    first = seed_range(args, parser, FIRST_SEED, VALIDATION_SEED)
    make = functools.partial(
        render_example, frames=args.frames, image_size=args.image_size, real_share=args.real, max_zoom=args.zoom
    )
    build(args.out, args.clips, first, args.part, make, args.image_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
