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
from . import landmarks as lm
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


def error_stats(image, pixels, world, true, frames) -> dict[str, float]:
    """How far landmarks are from the truth, on the K body joints they share with a rig:
    image and pixels (n, K, 2), world and true (n, K, 3: metres about the hips, view
    frame) in the n frames `frames` (indices) where the person was found. Each error is
    split into its mean over the clip (the landmark's bias) and the rest (jitter); the
    jitter's lag-1 correlation says how smoothly it wanders from frame to frame (0: white
    noise). Left and right count as swapped where the left shoulder is nearer the true
    right one, in frames where the shoulders are apart by a tenth of the box; the body's
    turn is how far the world landmarks' line across the body (hips and shoulders) is
    turned about the vertical from the truth's (median over frames)."""
    left, right = BODY_MARKS.index("left_shoulder"), BODY_MARKS.index("right_shoulder")
    hips = BODY_MARKS.index("left_hip"), BODY_MARKS.index("right_hip")
    box = (pixels.max(1) - pixels.min(1)).max(-1)[:, None, None]
    image_error = (image - pixels) / box * 100  # % of the box
    world_error = world - true
    next_ = np.flatnonzero(np.diff(frames) == 1)  # pairs of consecutive frames

    def split(error: np.ndarray, name: str) -> dict[str, float]:
        bias = error.mean(0)
        jitter = error - bias
        size = lambda e: np.linalg.norm(e, axis=-1) if e.ndim == 3 else np.abs(e)  # noqa: E731
        lag = (jitter[next_] * jitter[next_ + 1]).sum() / max((jitter[next_] ** 2).sum(), 1e-12)
        return {
            f"{name}": float(np.median(size(error))),
            f"{name}_p90": float(np.percentile(size(error), 90)),
            f"{name}_bias": float(np.median(size(bias[None]))),
            f"{name}_jitter": float(np.median(size(jitter))),
            f"{name}_lag1": float(lag) if next_.size else float("nan"),
        }

    def heading(points: np.ndarray) -> np.ndarray:  # the yaw of the line from right to left (hips + shoulders)
        across = points[:, [left, hips[0]]].sum(1) - points[:, [right, hips[1]]].sum(1)
        return np.arctan2(across[:, 1], across[:, 0])

    turn = np.degrees(np.abs(np.angle(np.exp(1j * (heading(world) - heading(true))))))
    distance = np.linalg.norm(image[:, left, None] - pixels[:, [left, right]], axis=-1)
    apart = np.linalg.norm(pixels[:, left] - pixels[:, right], axis=-1) > 0.1 * box[:, 0, 0]
    swapped = (distance[:, 1] < distance[:, 0])[apart]
    return {
        **split(image_error, "image_pct"),
        **split(world_error[..., [0, 2]], "across_m"),
        **split(world_error[..., 1], "depth_m"),
        "swapped_pct": 100 * float(swapped.mean()) if swapped.size else float("nan"),
        "turn_deg": float(np.median(turn)),
    }


BODY_MARKS = humans.BODY_JOINTS  # the landmarks every rig here has a joint for
BODY_INDEX = [lm.INDEX[n] for n in BODY_MARKS]


def _scored(name: str, image, pixels, world, heads, height: float, found) -> dict:
    """`error_stats` of one clip's found frames (none where the person was never found),
    the true joints `heads` (T, K, 3, view frame) about their hips' midpoint, in metres of
    a body scaled to the detector's 1.7 m from its `height`."""
    hips = heads[:, [BODY_MARKS.index("left_hip"), BODY_MARKS.index("right_hip")]].mean(1, keepdims=True)
    true, frames = (heads - hips) * humans.METRES / height, np.flatnonzero(found)
    stats = error_stats(image[found], pixels[found], world[found], true[found], frames) if frames.size else {}
    return {"clip": name, "found_pct": 100 * float(found.mean()), **stats}


def detector_errors(folder: str | Path) -> list[dict]:
    """How the detector errs on rendered people whose truth is known (the human clips of
    a set rendered with `--people`), per clip: the share of frames it found the person in,
    and on those `error_stats` (the body scaled to 1.7 m)."""
    from .data.evalsets import load_video_set

    out = []
    for clip in load_video_set(folder):
        anchors = humans.anchors_of(clip.skeleton)
        if anchors is None:
            continue
        joints = [anchors[n] for n in BODY_MARKS]
        packed = lm.detect_file(clip.video, range(len(clip.heads)))[:, BODY_INDEX]
        image, pixels, world, heads = packed[..., :2], clip.pixels[:, joints], packed[..., 3:6], clip.heads[:, joints]
        out.append(_scored(clip.name, image, pixels, world, heads, humans.body_height(clip.skeleton, anchors), lm.found(packed)))
    return out


def model_errors(count: int, frames: int = 48) -> list[dict]:
    """The same for the detector's error model of training (`humans.detector_view`), on
    `count` windows of the training split's clips (the truth: the body's joints)."""
    from .data import clips
    from .kinematics import forward_kinematics

    out = []
    for i in range(count):
        rng = np.random.default_rng(MODEL_SEED + i)
        body, anchors, height, turn, camera, seen = humans.sighting(clips.excerpt(humans.human_clips(), rng, frames), rng, frames)
        joints = [anchors[n] for n in BODY_MARKS]
        heads = forward_kinematics(body.skeleton, body.local_rotations, body.root_translation)[1][:frames, joints] @ turn.T
        image, world = seen.image[:, BODY_INDEX, :2], seen.world[:, BODY_INDEX]
        out.append(_scored(f"model {i}", image, camera.pixels(heads), world, heads, height, seen.found))
    return out


MODEL_SEED = 5_000_000  # windows no training run draws


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
        model = model_errors(args.clips)
        keys = max((list(r) for r in rows + model), key=len)[1:]  # a clip where nobody was found has found_pct only
        nan = float("nan")
        mean = lambda rs, name: {"clip": name, **{k: float(np.nanmean([r.get(k, nan) for r in rs])) for k in keys}}  # noqa: E731
        print("| clip | " + " | ".join(keys) + " |\n|---|" + "---:|" * len(keys))
        for r in [*rows, mean(rows, "**the detector, mean**"), mean(model, f"**the error model, mean of {args.clips}**")]:
            print(f"| {r['clip']} | " + " | ".join(f"{r.get(k, nan):.3f}" for k in keys) + " |")
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
