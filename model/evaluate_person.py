"""The person network on landmarks made from held-out human motion, beside holding the
reference pose, and print a markdown table.

    python -m model.evaluate_person                                  # the shipped network
    python -m model.evaluate_person --weights training/person/person.safetensors --clips 64

Each example is a window of the evaluation split of the human clips (CMU 01_01 and
Boxing_Toes, DeepMimic cartwheel, dance_b, jump, punch and walk: never trained on) on a
varied rig, with the landmarks a detector would give for it, errors and all
(`model.data.humans`, seeds from `HELD_OUT_SEED`). Scores: MPJPE of the joints (cm, the
rig scaled to a 1 m cube, root-relative, view frame), and where the network places the
joints in the landmarks' box (% of its side), and the rotation error of the rig's local
rotations from those positions by a P2R (`--p2r`, default the shipped capture's, and the
person checkpoint's own where it has one) and by the IK. Holding the reference pose: its
heads, root-relative, turned into the view frame as the clip is seen, and its rotations as
keyed (the root not turned, as `evaluate.hold_reference` holds them everywhere).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from . import ik, metrics
from .attention import Graph
from .data import humans
from .data.evalsets import HELD_OUT_SEED
from .network import CAPTURE_WEIGHTS, PERSON_WEIGHTS, Network

FRAMES = 24


def examples(count: int) -> list[dict]:
    return [humans.example(HELD_OUT_SEED + i, FRAMES, "evaluation") for i in range(count)]


@torch.no_grad()
def scores(net: Network, example: dict, rotation_parts: tuple[str, ...] = ()) -> dict[str, float]:
    """MPJPE (cm at 1 m scale) of the network and of the held reference, the network's 2D
    error (% of the box) for one example; and the rotation error (deg) of each P2R part
    named (`Network.pose_stage`: the network's positions, in the skeleton's units, the
    reference pair of the rig in the world), of the IK on the same positions and of
    holding the reference."""
    part, sk = net.parts["person2pose"], example["skeleton"]
    root = int(sk.roots[0])
    out = part(example["features"][0][None], example["queries"][None], Graph.of([sk], net.device), torch.tensor([root]))
    true = example["positions"]
    ref = example["ref_positions"] @ example["turn"].T / sk.scale
    held = (ref - ref[root]).expand_as(true)
    result = {
        "network": float((out.positions[0] - true).norm(dim=-1).mean()) * 100,
        "hold": float((held - true).norm(dim=-1).mean()) * 100,
        "box": float((out.uv[0] - example["uv"]).norm(dim=-1).mean()) * 50,
    }
    if rotation_parts:
        positions = out.positions[0].double() * sk.scale
        pair = example["ref_positions"].double().numpy(), example["ref_rotations"].double().numpy()
        rotations = example["rotations"].double().numpy()
        for name in rotation_parts:
            result[name] = metrics.rotation_error(net.pose_stage(sk, *pair, name)[0](positions).numpy(), rotations)
        result["ik"] = metrics.rotation_error(ik.solve_rotations(sk, positions.numpy(), *pair), rotations)
        result["hold rotation"] = metrics.rotation_error(np.broadcast_to(pair[1], rotations.shape), rotations)
    return result


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

    out = []
    for clip in load_video_set(folder):
        anchors = humans.anchors_of(clip.skeleton)
        if anchors is None:
            continue
        marks = [n for n in lm.NAMES if n in anchors]
        joints, index = [anchors[n] for n in marks], [lm.INDEX[n] for n in marks]
        packed = lm.detect_file(clip.video, range(len(clip.heads)))
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
    parser.add_argument("--p2r", default=str(CAPTURE_WEIGHTS), help="the P2R scored beside the person checkpoint's own")
    parser.add_argument("--detector", help="instead: how the detector errs on this rendered set (`render_evalset.py --people`)")
    args = parser.parse_args(argv)
    if args.detector:
        rows = detector_errors(args.detector)
        keys = list(rows[0])[1:]
        print("| clip | " + " | ".join(keys) + " |\n|---|" + "---:|" * len(keys))
        for r in rows:
            print(f"| {r['clip']} | " + " | ".join(f"{r[k]:.3f}" for k in keys) + " |")
        return 0
    net = Network({**Network.load(args.weights).parts, "pose2rot": Network.load(args.p2r).parts["pose2rot"]})
    parts = ("pose2rot", "person2rot") if net.has("person2rot") else ("pose2rot",)
    rows = [scores(net, e, parts) for e in examples(args.clips)]
    mean = {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}
    worse = sum(r["network"] >= r["hold"] for r in rows)
    print(f"{args.clips} examples of {FRAMES} frames, seeds {HELD_OUT_SEED}.., {Path(args.weights).name}\n")
    print("| predictor | MPJPE (cm) | 2D joint error (% of box) | rotation error (deg) |\n|---|---:|---:|---:|")
    print(f"| hold the reference pose | {mean['hold']:.2f} | | {mean['hold rotation']:.2f} |")
    print(f"| person network + IK | {mean['network']:.2f} | {mean['box']:.2f} | {mean['ik']:.2f} |")
    print(f"| person network + {Path(args.p2r).stem} P2R | | | {mean['pose2rot']:.2f} |")
    if "person2rot" in mean:
        print(f"| person network + its own P2R | | | {mean['person2rot']:.2f} |")
    print(f"\nexamples where the network's positions are no better than holding the reference: {worse} of {len(rows)}")
    best = parts[-1]
    worse = sum(r[best] >= r["hold rotation"] for r in rows)
    print(f"examples where the rotations of {best} are no better than holding the reference: {worse} of {len(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
