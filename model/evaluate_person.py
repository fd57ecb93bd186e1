"""The person network on landmarks made from held-out human motion, beside holding the
reference pose, and print a markdown table.

    python -m model.evaluate_person                                  # the shipped network
    python -m model.evaluate_person --weights training/person/person.safetensors --clips 64

Each example is a window of the evaluation split of the human clips (CMU 01_01 and
Boxing_Toes, DeepMimic cartwheel, dance_b, jump, punch and walk: never trained on) on a
varied rig, with the landmarks a detector would give for it, errors and all
(`model.data.humans`, seeds from `HELD_OUT_SEED`). Scores: MPJPE of the joints (cm, the
rig scaled to a 1 m cube, root-relative, view frame), and where the network places the
joints in the landmarks' box (% of its side). Holding the reference pose: its heads,
root-relative, turned into the view frame as the clip is seen.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from .attention import Graph
from .data import humans
from .data.evalsets import HELD_OUT_SEED
from .network import PERSON_WEIGHTS, Network

FRAMES = 24


def examples(count: int) -> list[dict]:
    return [humans.example(HELD_OUT_SEED + i, FRAMES, "evaluation") for i in range(count)]


@torch.no_grad()
def scores(net: Network, example: dict) -> dict[str, float]:
    """MPJPE (cm at 1 m scale) of the network and of the held reference, the network's 2D
    error (% of the box) for one example."""
    part, sk = net.parts["person2pose"], example["skeleton"]
    root = int(sk.roots[0])
    out = part(example["features"][0][None], example["queries"][None], Graph.of([sk], net.device), torch.tensor([root]))
    true = example["positions"]
    ref = example["ref_positions"] @ example["turn"].T / sk.scale
    held = (ref - ref[root]).expand_as(true)
    return {
        "network": float((out.positions[0] - true).norm(dim=-1).mean()) * 100,
        "hold": float((held - true).norm(dim=-1).mean()) * 100,
        "box": float((out.uv[0] - example["uv"]).norm(dim=-1).mean()) * 50,
    }


def detector_errors(folder: str | Path) -> list[dict]:
    """How the detector errs on rendered people whose truth is known (the CMU and
    DeepMimic clips of a set rendered with `--people`): per clip, the share of frames it
    found the person in, and on those, its 2D error on the 12 body joints it shares with
    the rigs (% of the true box), its world-landmark error across the image and in depth
    (metres, about the hips, the body scaled to 1.7 m) and how often left and right are
    swapped (the left shoulder nearer the true right one, in frames where the shoulders
    are apart by a tenth of the box)."""
    from . import landmarks as lm
    from .data.evalsets import load_video_set
    from .video import iter_frames

    out = []
    for clip in load_video_set(folder):
        anchors = humans.anchors_of(clip.skeleton)
        if anchors is None:
            continue
        marks = [n for n in lm.NAMES if n in anchors]
        joints, index = [anchors[n] for n in marks], [lm.INDEX[n] for n in marks]
        with lm.Detector() as detect:
            packed = np.stack([detect(f) for _, f in iter_frames(clip.video, range(len(clip.heads)))])
        found = np.isfinite(packed[..., 0]).all(-1)
        image, world, pixels = packed[found][:, index, :2], packed[found][:, index, 3:6], clip.pixels[found][:, joints]
        box = (pixels.max(1) - pixels.min(1)).max(-1)[:, None]
        heads = clip.heads[found][:, joints]
        hips = heads[:, [marks.index("left_hip"), marks.index("right_hip")]].mean(1, keepdims=True)
        true = (heads - hips) * humans.METRES / humans.body_height(clip.skeleton, anchors)
        left, right = marks.index("left_shoulder"), marks.index("right_shoulder")
        distance = np.linalg.norm(image[:, left, None] - pixels[:, [left, right]], axis=-1)
        apart = np.linalg.norm(pixels[:, left] - pixels[:, right], axis=-1) > 0.1 * box[:, 0]  # not side-on
        swapped = (distance[:, 1] < distance[:, 0])[apart]
        out.append(
            {
                "clip": clip.name,
                "found_pct": 100 * found.mean(),
                "image_pct": float(np.median(np.linalg.norm(image - pixels, axis=-1) / box) * 100),
                "across_m": float(np.median(np.linalg.norm((world - true)[..., [0, 2]], axis=-1))),
                "depth_m": float(np.median(np.abs((world - true)[..., 1]))),
                "swapped_pct": 100 * float(swapped.mean()) if swapped.size else float("nan"),
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model.evaluate_person", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--weights", default=str(PERSON_WEIGHTS))
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--detector", help="instead: how the detector errs on this rendered set (`render_evalset.py --people`)")
    args = parser.parse_args(argv)
    if args.detector:
        rows = detector_errors(args.detector)
        keys = list(rows[0])[1:]
        print("| clip | " + " | ".join(keys) + " |\n|---|" + "---:|" * len(keys))
        for r in rows:
            print(f"| {r['clip']} | " + " | ".join(f"{r[k]:.3f}" for k in keys) + " |")
        return 0
    net = Network.load(args.weights)
    rows = [scores(net, e) for e in examples(args.clips)]
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    worse = sum(r["network"] >= r["hold"] for r in rows)
    print(f"{args.clips} examples of {FRAMES} frames, seeds {HELD_OUT_SEED}.., {Path(args.weights).name}\n")
    print("| predictor | MPJPE (cm) | 2D joint error (% of box) |\n|---|---:|---:|")
    print(f"| hold the reference pose | {mean['hold']:.2f} | |")
    print(f"| person network | {mean['network']:.2f} | {mean['box']:.2f} |")
    print(f"\nexamples where the network is no better than holding the reference: {worse} of {len(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
