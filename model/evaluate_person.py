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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model.evaluate_person", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--weights", default=str(PERSON_WEIGHTS))
    parser.add_argument("--clips", type=int, default=64)
    args = parser.parse_args(argv)
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
