"""Train the networks on procedural data (nothing is downloaded).

    python -m model.train --stage p2r --steps 3000 --out model/weights/pose2rot.safetensors
    python -m model.train --stage v2p --steps 3000 --out out/v2p.safetensors
    python -m model.train --stage joint --init out/v2p.safetensors model/weights/pose2rot.safetensors \
        --steps 1000 --out model/weights/capture.safetensors
    python -m model.train --stage person --steps 3000 --out model/weights/person.safetensors
    python -m model.train --stage person-joint --init model/weights/person.safetensors model/weights/capture.safetensors \
        --steps 1000 --out out/person.safetensors

Each step draws fresh creatures and motion from `model.data.procedural` (seeds below
`VALIDATION_SEED`; evaluation seeds are never drawn), a window of frames and a reference
frame from elsewhere in the clip, so the networks meet new skeletons, rolls, rest poses
and conventions all the time. Stages:

- `p2r`: Pose-to-Rotation on exact positions and positions with Gaussian noise;
- `v2p`: Video-to-Pose on clips rendered on the fly (`model.data.render`), position loss;
- `joint`: both, end to end: P2R is fed V2P's predictions with a probability rising from
  0.1 to 1.0 over `--warmup` steps (else the true positions), and the rotation loss
  reaches V2P through them (the analytic IK inside P2R's first guess is not
  differentiated);
- `person`: the person path's Video-to-Pose over a person detector's landmarks, on real
  human motion on varied humanoid rigs with the landmarks a detector would give
  (`model.data.humans`), position loss;
- `person-joint`: the person path's two networks end to end as in `joint`, on that data:
  its Video-to-Pose and its own P2R (`person2rot`, started from a P2R checkpoint's
  `pose2rot`), which learns the rotations of the rig from the person network's positions.

Validation runs on fixed held-out creatures beside the IK baseline. A run is resumable
(`--resume`): the training state is saved next to the output every `--val-every` steps,
and the data of step k depends only on (`--seed`, k). The states of runs are committed
(small), their weights are not: `python -m model.train --export --out <run>.safetensors`
writes a run's weights from its state.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from . import metrics
from .attention import Graph
from .data import clips, evalsets, humans, procedural, render, video_cache
from .data.evalsets import VALIDATION_SEED
from .network import PARTS, STAGES, load_checkpoint, save_checkpoint
from .padding import stack_padded
from .pose2rot import P2RConfig, PoseToRotation, collate, encode_inputs, local_rotations
from .rotations import geodesic_angle, nearest_rotation
from .video import prepare_frames
from .video2pose import V2PConfig, VideoToPose, collate_queries, query_features

ROOT_WEIGHT, VELOCITY_WEIGHT, POSITION_WEIGHT, WHERE_WEIGHT, UV_WEIGHT = 0.2, 1.0, 1.0, 0.5, 1.0
TIPS_DRAW = 7  # the stream (beside each example's seed) that draws whether it has leaf tips
STILL_WEIGHT = 0.1  # joints that never move in a clip still count a little: holding them is right
PERSON_STAGES = ("person", "person-joint")
STARTS_FROM = {"person2rot": "pose2rot"}  # a part that may start from another checkpoint's part of its kind


def moving_weight(true: torch.Tensor) -> torch.Tensor:
    """(B, T, J, 3, 3) true rotations -> (B, J) loss weight: 1 where the joint moves in the
    clip, STILL_WEIGHT where it never leaves its first frame's rotation."""
    drift = geodesic_angle(true[:, :1], true).amax(1)
    return torch.where(drift > math.radians(metrics.STILL_DEG), 1.0, STILL_WEIGHT)


def rotation_loss(pred: torch.Tensor, true: torch.Tensor, valid: torch.Tensor, is_root: torch.Tensor) -> torch.Tensor:
    """Mean geodesic angle + rotation-velocity difference, roots weighted extra, joints that
    never move weighted less; (B, T, J, 3, 3)."""
    weight = (valid.float() * (1 + ROOT_WEIGHT * is_root.float()) * moving_weight(true))[:, None]  # (B, 1, J)
    angle = (geodesic_angle(pred, true) * weight).sum() / (weight.sum() * pred.shape[1])
    step_pred = pred[:, :-1].transpose(-1, -2) @ pred[:, 1:]
    step_true = true[:, :-1].transpose(-1, -2) @ true[:, 1:]
    velocity = ((step_pred - step_true).flatten(-2).norm(dim=-1) * weight).sum() / (weight.sum() * max(pred.shape[1] - 1, 1))
    return angle + VELOCITY_WEIGHT * velocity


def make_example(
    seed: int, frames: int, max_noise_cm: float, config: P2RConfig, bones: int, tips: float = 0.0, rest: float = 0.0
):
    """One procedural training clip: (skeleton, inputs, true local rotations (T, J, 3, 3));
    a `rest` share of the seeds with the rig's rest pose as reference pair."""
    rng, motion, start, ref = clips.creature(seed, frames, bones)
    motion = tipped(motion, seed, tips)
    noise = random_noise(rng, max_noise_cm)
    return encode_example(motion, np.arange(start, start + frames), ref, rng, noise, config, clips.rest_drawn(seed, rest))


def tipped(motion, seed: int, share: float):
    """The clip with leaf tips (`model.tips`) for a `share` of the seeds, drawn apart from
    the example's own draws (which stay as they were)."""
    return motion.with_tips() if np.random.default_rng([seed, TIPS_DRAW]).random() < share else motion


def random_noise(rng: np.random.Generator, max_noise_cm: float) -> float:
    """Exact positions in 30% of clips, else Gaussian noise of up to `max_noise_cm`."""
    return 0.0 if rng.random() < 0.3 else rng.uniform(0, max_noise_cm)


def encode_example(motion, window: np.ndarray, ref: int, rng, noise_cm: float, config: P2RConfig, rest: bool = False):
    """The frames `window` of a clip as P2R sees them, with frame `ref` (with `rest`, the
    rig's rest pose) as the reference pair and Gaussian noise of `noise_cm` (cm at 1 m
    scale) on the positions."""
    skeleton = motion.skeleton
    positions = motion.positions()
    seen = positions[window] + rng.normal(0, noise_cm / 100 * skeleton.scale, (len(window), skeleton.num_joints, 3))
    pair = skeleton.rest_reference() if rest else (positions[ref], motion.local_rotations[ref])
    inputs = encode_inputs(skeleton, seen, *pair, config)
    return skeleton, inputs, torch.as_tensor(motion.local_rotations[window], dtype=torch.float32)


def make_real_example(seed: int, frames: int, max_noise_cm: float, config: P2RConfig, tips: float = 0.0, rest: float = 0.0):
    """A window of a real clip on a randomised rig (`clips.real`)."""
    rng, motion, start, ref = clips.real(seed, frames)
    motion = tipped(motion, seed, tips)
    noise = random_noise(rng, max_noise_cm)
    return encode_example(motion, np.arange(start, start + frames), ref, rng, noise, config, clips.rest_drawn(seed, rest))


def random_bones(rng: np.random.Generator, max_bones: int) -> int:
    return int(round(np.exp(rng.uniform(np.log(procedural.MIN_BONES), np.log(max_bones)))))


def make_batch(
    seeds,
    frames: int,
    max_noise_cm: float,
    config: P2RConfig,
    bones: int,
    device,
    real: bool = False,
    tips: float = 0.0,
    rest: float = 0.0,
):
    """Procedural clips of skeletons with `bones` bones each (one size per batch), or with
    `real`, windows of real clips on randomised rigs; a `tips` share of them with leaf tips,
    a `rest` share with the rest pose as reference pair."""
    if real:
        examples = [make_real_example(int(s), frames, max_noise_cm, config, tips, rest) for s in seeds]
    else:
        examples = [make_example(int(s), frames, max_noise_cm, config, bones, tips, rest) for s in seeds]
    skeletons = [e[0] for e in examples]
    true = stack_padded([e[2] for e in examples], 1, torch.eye(3))
    graph = Graph.of(skeletons, device)
    return skeletons, collate([e[1] for e in examples]).to(device), graph, true.to(device)


def position_loss(pred: torch.Tensor, true: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean joint distance (units of the skeleton's scale) over real joints; (B, T, J, 3)."""
    weight = valid.float()[:, None]
    return (((pred - true).square().sum(-1) + 1e-8).sqrt() * weight).sum() / (weight.sum() * pred.shape[1])


def shape_loss(pred: torch.Tensor, true: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean joint distance (B, T, J, 3) after turning the truth onto the prediction frame by
    frame, both centred on their real joints: the body's shape whichever way it faces. Where
    one view leaves the facing open, the position loss pulls the limbs toward an average of
    the facings; this loss does not. The best turn (Kabsch) is not differentiated: at the
    optimum the loss's gradient through it is zero."""
    weight = valid.float()[:, None, :, None]
    P, Q = ((x - (x * weight).sum(2, keepdim=True) / weight.sum(2, keepdim=True)) * weight for x in (pred, true))
    with torch.no_grad():  # Q @ R ~ P (row vectors): the rotation nearest Q^T P
        R = nearest_rotation(Q.transpose(-1, -2) @ P)
    return position_loss(P, Q @ R, valid)


def where_loss(where: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """Distance between where each localising head looked (L, B, T, J, 2) and where the
    joint is in the image (B, T, J, 2), over joints inside the image: it teaches the
    queries which pixels are theirs, which the 3D loss alone finds slowly."""
    inside = (uv.abs() <= 1).all(-1).float()
    distance = ((where - uv).square().sum(-1) + 1e-8).sqrt()
    return (distance * inside).sum() / (inside.sum() * where.shape[0] + 1e-6)


VALIDATION_NOISE_CM = (0.0, 2.0)
VALIDATION_REAL_FRAMES = 96


def validation_set(
    count: int, frames: int, config: P2RConfig, max_bones: int, tips: bool = False, rest: bool = False
) -> dict[str, list]:
    """Fixed clips, each exact and with 2 cm noise: `creatures` (procedural validation
    seeds) and `real` (the evaluation split of the CMU and DeepMimic clips at about 30 fps,
    frame 0 the reference; never trained on, and never used to choose a checkpoint); with
    `tips`, the same again with leaf tips (`creatures_tips`, `real_tips`); with `rest`, the
    real clips again with the rig's rest pose as reference pair (`real_rest`)."""
    groups = {}
    for tag in ("", "_tips") if tips else ("",):
        tip = (lambda motion: motion.with_tips()) if tag else (lambda motion: motion)
        real_clips = [tip(motion) for name in ("cmu", "deepmimic") for _, motion in evalsets.load_set(name)]
        for noise in VALIDATION_NOISE_CM:
            rng = np.random.default_rng(VALIDATION_SEED)
            creatures = []
            for i in range(count):
                _, motion, start, ref = clips.creature(VALIDATION_SEED + i, frames, random_bones(rng, max_bones))
                creatures.append(encode_example(tip(motion), np.arange(start, start + frames), ref, rng, noise, config))
            windows = [np.arange(1, m.num_frames, max(1, round(m.fps / 30)))[:VALIDATION_REAL_FRAMES] for m in real_clips]
            real = [encode_example(m, w, 0, rng, noise, config) for m, w in zip(real_clips, windows, strict=True)]
            groups[f"creatures{tag}_{noise:g}cm"], groups[f"real{tag}_{noise:g}cm"] = creatures, real
            if rest and not tag:
                groups[f"real_rest_{noise:g}cm"] = [
                    encode_example(m, w, 0, rng, noise, config, rest=True) for m, w in zip(real_clips, windows, strict=True)
                ]
    return groups


@torch.no_grad()
def validate(model: PoseToRotation, groups: dict[str, list], device) -> dict:
    """Mean rotation error (deg) over each group's clips: the network and the IK."""
    model.eval()
    result = {}
    for group, examples in groups.items():
        net, first = [], []
        for skeleton, inputs, true in examples:
            batch = collate([inputs]).to(device)
            local = model(batch, Graph.of([skeleton], device))[0]
            true = true.double().numpy()
            net.append(metrics.rotation_error(local.cpu().double().numpy(), true))
            first.append(metrics.rotation_error(local_rotations(batch, batch.first_guess)[0].cpu().double().numpy(), true))
        result[f"{group}_network_deg"] = float(np.nanmean(net))
        result[f"{group}_ik_deg"] = float(np.nanmean(first))
    model.train()
    return result


# ---- video stages -------------------------------------------------------------------


def make_video_example(seed: int, frames: int, bones: int, image_size: int) -> dict:
    """One rendered clip seen from a random yaw: frames, V2P queries, view-frame targets
    (root-relative, in units of the skeleton's scale) and a world-space reference pair."""
    rng, motion, start, ref = clips.creature(seed, frames, bones)
    skeleton = motion.skeleton
    view, video, uv = render.render_seen(motion.frames(slice(start, start + frames)), rng, image_size)
    ref_positions = motion.positions()[ref]
    return {
        "skeleton": skeleton,
        "images": prepare_frames(video, image_size),
        "queries": query_features(skeleton, ref_positions),
        "positions": torch.as_tensor(render.targets(view), dtype=torch.float32),
        "uv": torch.as_tensor(uv, dtype=torch.float32),
        "rotations": torch.as_tensor(view.local_rotations, dtype=torch.float32),
        "ref_positions": torch.as_tensor(ref_positions, dtype=torch.float32),
        "ref_rotations": torch.as_tensor(motion.local_rotations[ref], dtype=torch.float32),
    }


def window(example: dict, frames: int, rng: np.random.Generator) -> dict:
    """A random window of `frames` frames of a cached clip (all of it if it is shorter)."""
    T = len(example["positions"])
    if frames >= T:
        return example
    start = int(rng.integers(0, T - frames + 1))
    cut = slice(start, start + frames)
    timed = {k: example[k][cut] for k in ("positions", "uv", "rotations") if k in example}
    return {**example, **timed, "features": tuple(f[cut] for f in example["features"])}


def video_batch(examples: list[dict], device) -> dict:
    """Clips rendered on the fly carry `images`; cached ones (`model.data.video_cache`)
    carry the encoder's `features` instead."""
    skeletons = [e["skeleton"] for e in examples]

    def pad(name, fill):
        return stack_padded([e[name] for e in examples], 1, fill).to(device)

    batch = {
        "skeletons": skeletons,
        "graph": Graph.of(skeletons, device),
        "queries": collate_queries([e["queries"] for e in examples]).to(device),
        "root": torch.as_tensor([int(s.roots[0]) for s in skeletons], device=device),
        "positions": pad("positions", torch.zeros(3)),
        "uv": pad("uv", torch.full((2,), 9.0)),  # padding lies outside the image: not supervised
    }
    if "rotations" in examples[0]:
        batch["rotations"] = pad("rotations", torch.eye(3))
    if "features" in examples[0]:
        taps = zip(*(e["features"] for e in examples), strict=True)
        batch["features"] = tuple(torch.stack(f).to(device).float() for f in taps)
    else:
        batch["images"] = torch.stack([e["images"] for e in examples]).to(device)
    return batch


def pose_part(parts: nn.ModuleDict) -> VideoToPose:
    """The stage's Video-to-Pose: over images, or over a person's landmarks."""
    return parts["person2pose"] if "person2pose" in parts else parts["video2pose"]


def rotation_part(parts: nn.ModuleDict) -> PoseToRotation | None:
    """The stage's P2R fed by its Video-to-Pose, if it has one."""
    return parts["person2rot"] if "person2rot" in parts else parts["pose2rot"] if "pose2rot" in parts else None


def end_to_end(parts: nn.ModuleDict, batch: dict, examples: list[dict], feed_predicted: np.ndarray, noise=None):
    """V2P's output (`V2POutput`), then P2R rotations (and their inputs) from the
    predicted (where `feed_predicted`, plus `noise` if given: `feed_noise`) or the true
    positions of each clip."""
    v2p, args = pose_part(parts), (batch["queries"], batch["graph"], batch["root"])
    out = v2p.decode(batch["features"], *args) if "features" in batch else v2p(batch["images"], *args)
    p2r = rotation_part(parts)
    if p2r is None:
        return out, None, None
    device = out.positions.device
    items = []
    for b, e in enumerate(examples):
        sk = e["skeleton"]
        source = out.positions[b] if feed_predicted[b] else batch["positions"][b]
        positions = source[:, : sk.num_joints].cpu()
        if feed_predicted[b] and noise is not None:
            positions = positions + noise[b]
        items.append(encode_inputs(sk, positions * sk.scale, e["ref_positions"], e["ref_rotations"], p2r.config))
    inputs = collate(items).to(device)
    local = p2r(inputs, batch["graph"])
    return out, local, inputs


def video_loss(out, batch: dict, shape_weight: float = 0.0) -> torch.Tensor:
    """3D positions, where the localising heads looked, with a 2D head the joints' places in
    the image and, by `shape_weight`, the body's shape (all distances in the targets' units)."""
    valid = batch["graph"].valid
    loss = POSITION_WEIGHT * position_loss(out.positions, batch["positions"], valid) + WHERE_WEIGHT * where_loss(
        out.looked, batch["uv"]
    )
    if out.uv is not None:
        loss = loss + UV_WEIGHT * position_loss(out.uv, batch["uv"], valid)
    if shape_weight:
        loss = loss + shape_weight * shape_loss(out.positions, batch["positions"], valid)
    return loss


def video_examples(seeds, frames: int, bones: int, image_size: int) -> list[dict]:
    return [make_video_example(int(s), frames, bones, image_size) for s in seeds]


def video_validation_set(count: int, frames: int, max_bones: int, image_size: int) -> list[dict]:
    rng = np.random.default_rng(VALIDATION_SEED)
    return [make_video_example(VALIDATION_SEED + i, frames, random_bones(rng, max_bones), image_size) for i in range(count)]


@torch.no_grad()
def validate_video(parts: nn.ModuleDict, examples: list[dict], device) -> dict:
    """MPJPE (cm at 1 m scale), the same after a per-frame similarity alignment (the body's
    shape; beside holding the reference's) and how far the body is turned (deg); with a 2D
    head its error in pixels of the input square (the person path: in % of the landmarks'
    box); with P2R the rotation error of the network and of the IK on the same predicted
    positions and of holding the reference (deg); over the validation clips."""
    parts.eval()
    mpjpe, shape, turn, hold_shape, pixels, net, ik_deg, hold = [], [], [], [], [], [], [], []
    config = pose_part(parts).config
    size = 100.0 if config.encoder == "landmarks" else config.image_size
    for e in examples:
        batch = video_batch([e], device)
        out, local, inputs = end_to_end(parts, batch, [e], np.array([True]))
        sk = e["skeleton"]
        in_units = (h[0, :, : sk.num_joints].cpu().double().numpy() * sk.scale for h in (out.positions, batch["positions"]))
        heads, true_heads = in_units
        mpjpe.append(metrics.mpjpe_cm(heads, true_heads, sk))
        shape.append(metrics.pa_mpjpe_cm(heads, true_heads, sk))
        turn.append(metrics.body_turn_error(heads, true_heads))
        held = np.broadcast_to(e["ref_positions"].double().numpy(), true_heads.shape)
        hold_shape.append(metrics.pa_mpjpe_cm(held, true_heads, sk))
        if out.uv is not None:
            pixels.append(float((out.uv[0] - batch["uv"][0]).norm(dim=-1).mean()) * size / 2)
        if local is not None:
            true = e["rotations"].double().numpy()
            net.append(metrics.rotation_error(local[0].cpu().double().numpy(), true))
            ik_deg.append(metrics.rotation_error(local_rotations(inputs, inputs.first_guess)[0].cpu().double().numpy(), true))
            hold.append(metrics.rotation_error(np.broadcast_to(e["ref_rotations"].double().numpy(), true.shape), true))
    parts.train()
    result = {
        "mpjpe_cm": float(np.mean(mpjpe)),
        "pa_mpjpe_cm": float(np.mean(shape)),
        "hold_pa_mpjpe_cm": float(np.mean(hold_shape)),
        "body_turn_deg": float(np.mean(turn)),
    }
    if pixels:
        result["uv_box_pct" if config.encoder == "landmarks" else "uv_px"] = float(np.mean(pixels))
    if net:
        result.update(network_deg=float(np.nanmean(net)), ik_deg=float(np.nanmean(ik_deg)), hold_deg=float(np.nanmean(hold)))
    return result


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _state_path(out: Path) -> Path:
    return out.with_name(out.stem + ".train.safetensors")


def save_training_state(out: Path, model, optimizer, step: int) -> None:
    """Model and Adam moments (tensors only: safetensors), step in the metadata."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    for i, state in optimizer.state_dict()["state"].items():
        for name, value in state.items():
            tensors[f"adam.{i}.{name}"] = torch.as_tensor(value).detach().cpu().reshape(-1) if name == "step" else value.cpu()
    save_file(tensors, str(_state_path(out)), metadata={"step": str(step)})


def _read_training_state(out: Path, model) -> tuple[dict, int]:
    """Load the model's weights from the training state beside `out`; (all its tensors, step)."""
    path = _state_path(out)
    tensors = load_file(str(path))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    with safe_open(str(path), "pt") as f:
        return tensors, int(f.metadata()["step"])


def load_training_state(out: Path, model, optimizer) -> int:
    tensors, step = _read_training_state(out, model)
    state = optimizer.state_dict()
    for key, value in tensors.items():
        if key.startswith("adam."):
            _, i, name = key.split(".", 2)
            state["state"].setdefault(int(i), {})[name] = value.reshape(()) if name == "step" else value
    optimizer.load_state_dict(state)
    return step


def init_record(checkpoint: str) -> dict:
    """How an --init checkpoint was made (its commands, and its own --init's, down the
    line), so that a run's json tells its whole history."""
    made = json.loads(Path(checkpoint).with_suffix(".json").read_text(encoding="utf-8")).get("training", {})
    return {"checkpoint": checkpoint, **{k: made[k] for k in ("earlier_commands", "command", "git_commit", "init") if k in made}}


def run_parts(out: Path) -> tuple[nn.ModuleDict, dict]:
    """The parts of the run whose json is beside `out`, built as its configs say (their
    weights are in the training state), and that json."""
    info = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    parts = nn.ModuleDict(
        {name: PARTS[name][1](PARTS[name][0].from_dict(info["config"][name])) for name in STAGES[info["stage"]]}
    )
    return parts, info


def export_weights(out: Path) -> int:
    """Write the weights of the training state saved beside `out` to `out`, with the run's
    json: a fresh checkout has only the (committed) states of its runs. Returns the step."""
    parts, info = run_parts(out)
    step = _read_training_state(out, parts)[1]
    save_checkpoint(out, parts, info["stage"], info["training"])
    return step


def learning_rate(step: int, steps: int, peak: float, warmup: int = 200) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(steps - warmup, 1))))


def step_data(args, p2r_config: P2RConfig | None, step: int) -> dict:
    """The training data of one step, a function of (`--seed`, step) only; runs in the
    data-loading worker when there is one."""
    rng = np.random.default_rng([args.seed, step])
    bones = random_bones(rng, args.max_bones)
    if p2r_config is not None:
        real = rng.random() < args.real
        joints = 24 if real else bones  # about the real clips' mean
        seeds = rng.integers(0, VALIDATION_SEED, max(1, round(args.tokens / (args.frames * joints))))
        _, inputs, graph, true = make_batch(
            seeds, args.frames, args.max_noise, p2r_config, bones, "cpu", real, args.tips, args.rest_share
        )
        return {"batch": (inputs, graph, true)}
    feed = rng.random(args.clips) < min(1.0, 0.1 + 0.9 * step / max(args.warmup, 1))
    if args.stage in PERSON_STAGES:
        seeds = rng.integers(0, VALIDATION_SEED, args.clips)
        examples = [humans.example(int(s), args.frames, rest_share=args.rest_share) for s in seeds]
    elif args.cache:
        # a cache (by --cache-share), then clips of similar size together (little padding): neighbours by joint count
        k = int(rng.choice(len(args.cached), p=args.cache_share)) if len(args.cached) > 1 else 0
        cached, by_size = args.cached[k], args.by_size[k]
        span = min(len(cached), 4 * args.clips)
        first = int(rng.integers(0, len(cached) - span + 1))
        picks = rng.choice(by_size[first : first + span], args.clips, replace=False)
        examples = [window(cached[i], args.frames, rng) for i in picks]
        if args.rest_share:
            examples = [clips.at_rest(e) if rng.random() < args.rest_share else e for e in examples]
    else:
        seeds = rng.integers(0, VALIDATION_SEED, args.clips)
        examples = video_examples(seeds, args.frames, bones, args.image_size)
    return {"examples": examples, "feed": feed, "feed_noise": feed_noise(examples, rng, args.feed_noise)}


def feed_noise(examples: list[dict], rng: np.random.Generator, max_cm: float) -> list[torch.Tensor] | None:
    """Gaussian noise (T, J, 3) of up to `max_cm` (cm at 1 m scale; one level per clip) for
    the predicted positions that P2R is fed: V2P's predictions on its own training clips are
    closer to the truth than on anything new, and a P2R trained on them alone learns to trust
    positions more than it should."""
    if not max_cm:
        return None
    shapes = [e["positions"].shape for e in examples]
    return [torch.as_tensor(rng.normal(0, rng.uniform(0, max_cm) / 100, shape), dtype=torch.float32) for shape in shapes]


def build_parts(args) -> nn.ModuleDict:
    """The stage's networks: fresh ones from the command-line sizes, or parts of the
    `--init` checkpoints (by name)."""
    fresh = {
        "pose2rot": lambda: PoseToRotation(
            P2RConfig(
                width=args.width,
                decoder_layers=args.decoder_layers,
                attention=args.attention,
                use_reference=not args.no_reference,
                use_rest=not args.no_rest,
                hold=args.hold,
            )
        ),
        "video2pose": lambda: VideoToPose(
            V2PConfig(
                image_size=args.image_size,
                width=args.width,
                decoder_layers=args.decoder_layers,
                fine_tokens=args.fine_tokens,
                tuned=args.tuned,
            )
        ),
        "person2pose": lambda: VideoToPose(
            V2PConfig(encoder="landmarks", width=args.width, decoder_layers=args.decoder_layers, shared_memory=False)
        ),
    }
    fresh["person2rot"] = fresh["pose2rot"]
    loaded = {}
    stages = [(p, json.loads(Path(p).with_suffix(".json").read_text(encoding="utf-8")).get("stage")) for p in args.init]
    for exact in (True, False):  # each part from the last checkpoint that has it, else that has its kind (STARTS_FROM)
        for path, stage in reversed(stages):
            has = STAGES.get(stage, ())
            for name in STAGES[args.stage]:
                source = name if exact else STARTS_FROM.get(name)
                if name not in loaded and source in has:
                    loaded[name] = load_checkpoint(path, only=(source,))[0][source]
    if "video2pose" in loaded and args.tuned:
        loaded["video2pose"] = grown(loaded["video2pose"], "tuned")
    for name in ("pose2rot", "person2rot"):
        if name in loaded and args.hold:
            loaded[name] = grown(loaded[name], "hold")
    return nn.ModuleDict({name: loaded[name] if name in loaded else fresh[name]() for name in STAGES[args.stage]})


GROWTHS = {"tuned": "encoder.upper.", "hold": "hold."}  # config switch -> the weights it adds


def grown(part: nn.Module, switch: str) -> nn.Module:
    """`part` with a config switch turned on that adds trainable weights (`GROWTHS`: V2P's
    `tuned` encoder stages 4-5, P2R's `hold` gate), all else as it was. The addition starts
    from the pretrained stages, or shut (on exact input; a few % open on noisy input:
    `HOLD_START`), so the output is unchanged, or all but, until training moves it."""
    if getattr(part.config, switch):
        return part
    bigger = type(part)(dataclasses.replace(part.config, **{switch: True}))
    missing, unexpected = bigger.load_state_dict(part.state_dict(), strict=False)
    if unexpected or not missing or any(not k.startswith(GROWTHS[switch]) for k in missing):
        raise ValueError(f"{switch} does not only add to this network (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return bigger


VALIDATION_DATA = {
    "p2r": " and the evaluation split of the CMU and DeepMimic clips, exact and 2 cm noise",
    **dict.fromkeys(PERSON_STAGES, " on the evaluation split of the human clips, landmarks as the detector errs"),
}


def train(args) -> dict:
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    out = Path(args.out)
    run = run_parts(out) if args.resume else None  # a run resumes as it began: its parts and json
    parts = (run[0] if run else build_parts(args)).to(device)
    trained = [p for name, p in parts.named_parameters() if not args.train_only or name.startswith(tuple(args.train_only))]
    if not trained:
        raise ValueError(f"--train-only {' '.join(args.train_only)}: no weights of {', '.join(parts)} start with these")
    for p in set(parts.parameters()) - set(trained):
        p.requires_grad_(False)  # also spares the backward pass through them
    optimizer = torch.optim.AdamW(trained, lr=args.lr, weight_decay=1e-4)
    step = load_training_state(out, parts, optimizer) if args.resume else 0
    video = args.stage != "p2r"
    if "video2pose" in parts:
        args.image_size = parts["video2pose"].config.image_size  # an --init V2P keeps its own
    if args.stage in PERSON_STAGES:  # the evaluation split's people: watched, never used to pick a step
        val = [humans.example(VALIDATION_SEED + i, args.frames, "evaluation", args.rest_share) for i in range(args.val_clips)]
    elif args.cache:
        args.cached = [video_cache.load(folder) for folder in args.cache]
        args.by_size = [np.argsort([e["skeleton"].num_joints for e in c], kind="stable") for c in args.cached]
        share = np.array(args.cache_share or [len(c) for c in args.cached], dtype=float)
        args.cache_share = share / share.sum()
        val = video_cache.load(args.val_cache)[: args.val_clips]
        counts = " + ".join(f"{len(c)} ({share:.0%} of batches)" for c, share in zip(args.cached, args.cache_share, strict=True))
        print(f"{counts} cached training clips, {len(val)} validation clips", file=sys.stderr, flush=True)
    elif video:
        val = video_validation_set(args.val_clips, args.frames, args.max_bones, parts["video2pose"].config.image_size)
    else:
        val = validation_set(
            args.val_clips, args.frames, parts["pose2rot"].config, args.max_bones, args.tips > 0, args.rest_share > 0
        )
    provenance = {
        "command": "python -m model.train " + " ".join(map(shlex.quote, args.argv)),
        "data_seed": args.seed,
        "git_commit": git_commit(),
        "steps": args.steps,
        "trained": args.train_only or "all",
        "validation": f"seeds {VALIDATION_SEED}..{VALIDATION_SEED + args.val_clips - 1}"
        + VALIDATION_DATA.get(args.stage, ", rendered")
        + (f" (cached in {args.val_cache}, training clips in {', '.join(args.cache)})" if args.cache else ""),
    }
    sizes = ", ".join(f"{name} {sum(p.numel() for p in m.parameters()):,} parameters" for name, m in parts.items())
    print(f"{args.stage}: {sizes}", file=sys.stderr, flush=True)
    history, start_time, smoothed = [], time.perf_counter(), None
    if run:  # one record of the whole run
        earlier = run[1]["training"]
        history = [h for h in earlier.get("history", []) if h["step"] <= step]
        provenance["earlier_commands"] = earlier.get("earlier_commands", []) + [earlier["command"]]
        if "init" in earlier:
            provenance["init"] = earlier["init"]
    elif args.init:
        provenance["init"] = [init_record(path) for path in args.init]
    first_step = step
    loader = torch.utils.data.DataLoader(
        range(step, args.steps),
        batch_size=None,
        num_workers=args.workers,
        collate_fn=functools.partial(step_data, args, parts["pose2rot"].config if not video else None),
        worker_init_fn=lambda _: torch.set_num_threads(1),
    )
    for data in loader:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.steps, args.lr)
        if video:
            batch = video_batch(data["examples"], device)
            out_v2p, local, inputs = end_to_end(parts, batch, data["examples"], data["feed"], data["feed_noise"])
            loss = video_loss(out_v2p, batch, args.shape)
            if local is not None:
                loss = loss + rotation_loss(local, batch["rotations"], batch["graph"].valid, inputs.is_root)
        else:
            inputs, graph, true = (x.to(device) for x in data["batch"])
            loss = rotation_loss(parts["pose2rot"](inputs, graph), true, graph.valid, inputs.is_root)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimizer.step()
        step += 1
        smoothed = loss.item() if smoothed is None else 0.95 * smoothed + 0.05 * loss.item()
        elapsed = time.perf_counter() - start_time
        per_step = elapsed / (step - first_step)
        eta_min = per_step * (args.steps - step) / 60
        print(
            f"\rstep {step}/{args.steps} loss {smoothed:.4f} ({per_step:.2f} s/step, ETA {eta_min:.1f} min)",
            end="",
            file=sys.stderr,
            flush=True,
        )
        if step % args.val_every == 0 or step == args.steps:
            scores = validate_video(parts, val, device) if video else validate(parts["pose2rot"], val, device)
            result = {"step": step, "loss": smoothed, **scores}
            history.append(result)
            print(f"\nvalidation: {json.dumps(result)}", file=sys.stderr, flush=True)
            save_training_state(out, parts, optimizer, step)
            save_checkpoint(out, parts, args.stage, {**provenance, "history": history})
    return history[-1] if history else {}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="python -m model.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stage", choices=sorted(STAGES), help="which network(s) to train")
    parser.add_argument("--out", required=True, help="checkpoint path (.safetensors; a .json is written beside it)")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--tokens", type=int, default=3000, help="joint-frames per step (clips per step = tokens / (frames * J))")
    parser.add_argument("--frames", type=int, default=24, help="frames per clip")
    parser.add_argument("--clips", type=int, default=4, help="video stages: rendered clips per step")
    parser.add_argument("--image-size", type=int, default=V2PConfig.image_size, help="video stages: a new V2P's input size")
    parser.add_argument(
        "--fine-tokens", action="store_true", help="video stages: a new V2P reads the encoder's stride-8 tokens too"
    )
    parser.add_argument(
        "--tuned", action="store_true", help="video stages: the V2P (new or --init) trains the encoder's stages 4-5 too"
    )
    parser.add_argument(
        "--cache", nargs="+", help="video stages: train on the clips cached in these folders (`model.data.video_cache`)"
    )
    parser.add_argument(
        "--cache-share", nargs="+", type=float, help="with several --cache: the share of batches from each (default: by size)"
    )
    parser.add_argument("--val-cache", help="with --cache: the cached validation clips (`video_cache --validation`)")
    parser.add_argument(
        "--shape", type=float, default=0.0, help="video stages: weight of the body-shape loss (`shape_loss`) beside the others"
    )
    parser.add_argument("--warmup", type=int, default=500, help="joint stage: steps until P2R sees only predictions")
    parser.add_argument(
        "--feed-noise",
        type=float,
        default=0.0,
        metavar="CM",
        help="joint stages: Gaussian noise of up to CM (cm at 1 m scale) on the predictions P2R is fed",
    )
    parser.add_argument(
        "--init", nargs="+", default=[], help="start from the parts in these checkpoints (the last one that has a part gives it)"
    )
    parser.add_argument("--max-bones", type=int, default=120, help="largest procedural skeleton in training")
    parser.add_argument("--real", type=float, default=0.5, help="p2r: share of steps on real clips (else procedural)")
    parser.add_argument(
        "--tips", type=float, default=0.0, help="p2r: share of clips with leaf tips (model.tips), validated with and without"
    )
    parser.add_argument(
        "--rest-share",
        type=float,
        default=0.0,
        help="share of training examples whose reference pair is the rig's rest pose (the person stages' "
        "validation too; p2r: its validation adds the real clips with rest references)",
    )
    parser.add_argument("--max-noise", type=float, default=3.0, help="position noise up to this (cm at 1 m scale)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--width", type=int, default=P2RConfig.width)
    parser.add_argument("--decoder-layers", type=int, default=P2RConfig.decoder_layers)
    parser.add_argument("--attention", choices=["gl", "global", "full"], default="gl", help="ablation: attention kind")
    parser.add_argument("--no-reference", action="store_true", help="ablation: no reference pair (the rest pose stands in)")
    parser.add_argument("--no-rest", action="store_true", help="ablation: no rest-pose encoding")
    parser.add_argument(
        "--hold",
        action="store_true",
        help="p2r stages: the gated move toward the reference on noisy input (a P2R from --init gets it added)",
    )
    parser.add_argument(
        "--train-only",
        nargs="+",
        metavar="PREFIX",
        help="train only the weights whose names start with these (e.g. pose2rot.hold.); the rest stay as given",
    )
    parser.add_argument("--seed", type=int, default=0, help="data and initialisation seed")
    parser.add_argument("--val-every", type=int, default=250)
    parser.add_argument("--val-clips", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--workers", type=int, default=0, help="data-making processes beside training (default: none)")
    parser.add_argument("--resume", action="store_true", help="continue from the training state saved beside --out")
    parser.add_argument(
        "--export", action="store_true", help="only write --out's weights from the training state and json beside it"
    )
    args = parser.parse_args(argv)
    args.argv = argv
    if args.export:
        if not _state_path(Path(args.out)).is_file() or not Path(args.out).with_suffix(".json").is_file():
            parser.error(f"--export: needs {_state_path(Path(args.out))} and {Path(args.out).with_suffix('.json')}")
        print(f"{args.out}: the weights of step {export_weights(Path(args.out))}")
        return 0
    if args.stage is None:
        parser.error("--stage is required (or --export)")
    if args.steps < 1 or args.tokens < 1 or args.clips < 1 or args.frames < 2:
        parser.error("--steps, --tokens and --clips must be at least 1, --frames at least 2")
    if args.cache and (args.stage == "p2r" or not args.val_cache or args.workers):
        parser.error("--cache is for the video stages, needs --val-cache, and runs without --workers (the cache is in memory)")
    if not 0 <= args.tips <= 1 or (args.tips and args.stage != "p2r"):
        parser.error("--tips is a share from 0 to 1, for the p2r stage")
    if args.cache_share and len(args.cache_share) != len(args.cache or []):
        parser.error("--cache-share gives one share per --cache folder")
    if args.resume:
        state, run = _state_path(Path(args.out)), Path(args.out).with_suffix(".json")
        if not state.is_file() or not run.is_file():
            parser.error(f"--resume: needs the training state {state} and the run's {run}")
        info = json.loads(run.read_text(encoding="utf-8"))
        if info.get("stage") != args.stage:
            parser.error(f"--resume: {run} is not a run of stage {args.stage}")
        if info["training"].get("trained", "all") != (args.train_only or "all"):
            parser.error(f"--resume: {run} trained {info['training'].get('trained', 'all')}: give the same --train-only")
    result = train(args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
