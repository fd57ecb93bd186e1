"""The trained networks behind one numpy API, and their checkpoints.

    net = load_pretrained()                      # the shipped end-to-end network, on the CPU
    positions = net.video_to_pose(frames, skeleton, ref_positions, ref_rotations)
    rotations = net.capture(frames, skeleton, ref_positions, ref_rotations)
    rotations = net.pose_to_rotation(skeleton, ref_positions, ref_rotations, positions)

A checkpoint is a safetensors file of weights (one prefix per part: `video2pose.`,
`pose2rot.`) beside a json file of the same name holding the format version, the stage
that trained it (`p2r`, `v2p` or `joint`), each part's configuration and how it was
trained (command, data seed, git commit). Loading never unpickles anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from . import pipeline, streaming
from . import tips as leaf_tips
from .attention import Graph
from .efficientnet import EfficientNetLite
from .facing import FACINGS, keep_heading, keeps_heading
from .ik import InputError, check_solver_inputs, fit_positions
from .pose2rot import P2RConfig, PoseToRotation, collate, encode_inputs
from .rotations import nearest_rotation
from .skeleton import Skeleton
from .streaming import Stage
from .video2pose import V2PConfig, VideoToPose, query_features

FORMAT_VERSION = 2
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
CAPTURE_WEIGHTS = WEIGHTS_DIR / "capture.safetensors"  # end-to-end: V2P + P2R trained jointly
POSE2ROT_WEIGHTS = WEIGHTS_DIR / "pose2rot.safetensors"  # P2R trained alone on exact and noisy positions
PERSON_WEIGHTS = WEIGHTS_DIR / "person.safetensors"  # the person path's V2P over landmarks
MAX_JOINTS = 256
# Frames per network pass: memory stays flat however long the clip, and a capture's
# progress moves at least this often. Each pass also runs its halo (P2R: 12 frames each
# side), so much smaller chunks cost speed: 32 frames ran at 476 frames/s for J = 30
# where 128 run at the speed in BENCHMARKS.md.
CHUNK_FRAMES = 128  # P2R
VIDEO_CHUNK_FRAMES = 32  # V2P
# The person path's network is a Video-to-Pose over a person detector's landmarks.
PARTS = {
    "video2pose": (V2PConfig, VideoToPose),
    "pose2rot": (P2RConfig, PoseToRotation),
    "person2pose": (V2PConfig, VideoToPose),
    "person2rot": (P2RConfig, PoseToRotation),  # the person path's own P2R, trained on person2pose's positions
}
STAGES = {
    "p2r": ("pose2rot",),
    "v2p": ("video2pose",),
    "joint": ("video2pose", "pose2rot"),
    "person": ("person2pose",),
    "person-joint": ("person2pose", "person2rot"),
}


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete or from an incompatible version."""


def resolve_device(device: str = "auto") -> torch.device:
    """ "auto" picks CUDA when torch sees a GPU; "cpu" and "cuda" are taken as asked."""
    name = device.lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("CUDA was asked for, but this torch build sees no CUDA device; choose CPU or Auto")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {device!r}")
    return torch.device(name)


class Network:
    """Trained parts ready for inference (eval mode, no gradients): `video2pose`,
    `pose2rot` or both."""

    def __init__(self, parts: dict[str, nn.Module], *, device: str | torch.device = "cpu", info: dict | None = None):
        self.device = resolve_device(device) if isinstance(device, str) else device
        self.parts = {name: module.to(self.device).eval() for name, module in parts.items()}
        for module in self.parts.values():  # (in place, as `eval` is: the parts are this network's now)
            for backbone in [m for m in module.modules() if isinstance(m, EfficientNetLite)]:
                backbone.for_inference()
        self.info = info or {}

    def _part(self, name: str) -> nn.Module:
        if name not in self.parts:
            raise CheckpointError(f"this checkpoint ({self.info.get('stage', '?')}) has no {name} network")
        return self.parts[name]

    @staticmethod
    def _check(skeleton: Skeleton, positions, ref_positions, ref_rotations):
        if skeleton.num_joints > MAX_JOINTS:
            raise InputError(f"the skeleton has {skeleton.num_joints} joints; at most {MAX_JOINTS} are supported")
        arrays = [torch.as_tensor(np.asarray(a, dtype=np.float64)) for a in (positions, ref_positions, ref_rotations)]
        check_solver_inputs(skeleton, *arrays)
        return arrays

    # ---- stages: time-local functions on torch tensors, run by `model.streaming` ------
    def pose_stage(self, skeleton: Skeleton, ref_positions, ref_rotations, part: str = "pose2rot") -> tuple[Stage, int]:
        """(fn, halo): heads (n, J, 3), absolute, skeleton space -> local rotations (n, J, 3, 3);
        `part` "person2rot": the person path's P2R."""
        pose2rot = self._part(part)
        graph = Graph.of([skeleton], self.device)

        root = int(skeleton.roots[0])

        @torch.no_grad()
        def fn(positions: torch.Tensor) -> torch.Tensor:
            if len(positions) == 0:
                return torch.zeros((0, skeleton.num_joints, 3, 3), dtype=torch.float64)
            # Root-relative in float64 first: far from the origin, float32 rounding alone
            # would look like noise to the gate. (Every input feature is translation-free.)
            positions = torch.as_tensor(positions, dtype=torch.float64)
            positions = positions - positions[:, root : root + 1] + torch.tensor(skeleton.rest_heads[root])
            inputs = encode_inputs(skeleton, positions, ref_positions, ref_rotations, pose2rot.config)
            local = pose2rot(collate([inputs]).to(self.device), graph)[0]
            return nearest_rotation(local.double().cpu())  # float32 products drift off orthonormal by ~1e-3

        return fn, pose2rot.config.halo

    def has(self, name: str) -> bool:
        return name in self.parts

    def video_stages(self, skeleton: Skeleton, ref_positions, part: str = "video2pose") -> list[tuple[Stage, int]]:
        """[(fn, halo), ...], to run one after the other: prepared frames (n, 3, S, S)
        (`image_size`) -> (n, J, 5): view-frame heads in the skeleton's units, root at the
        origin, then each joint's place in the input square (-1..1; NaN where V2P has no 2D
        head, see `locates`). `part` "person2pose": the person path, from landmark features
        (n, 33, F) to the same, each joint's place in the landmarks' box. The first stage is
        what each frame alone gives (the encoder: most of the cost), so that it runs once
        per frame, not again for the context of each chunk as the second, windowed one does."""
        video2pose = self._part(part)
        graph = Graph.of([skeleton], self.device)
        queries = query_features(skeleton, np.asarray(ref_positions))[None].to(self.device)
        root = torch.as_tensor(skeleton.roots[:1], device=self.device)

        @torch.no_grad()
        def encode(images: torch.Tensor) -> torch.Tensor:
            return video2pose.frame_tokens(video2pose.encoder.features(images.to(self.device))).cpu()

        @torch.no_grad()
        def attend(seen: torch.Tensor) -> torch.Tensor:
            if len(seen) == 0:
                return torch.zeros((0, skeleton.num_joints, 5), dtype=torch.float64)
            out = video2pose.attend(seen[None].to(self.device), queries, graph, root)
            positions = out.positions[0].double().cpu() * skeleton.scale
            uv = out.uv[0].double().cpu() if out.uv is not None else torch.full(positions.shape[:-1] + (2,), torch.nan)
            return torch.cat([positions, uv.to(positions)], -1)

        return [(encode, 0), (attend, video2pose.config.halo)]

    @property
    def locates(self) -> bool:
        """Whether V2P gives the joints' places in the image (`V2PConfig.locates`)."""
        return self._part("video2pose").config.locates

    @property
    def image_size(self) -> int:
        return self._part("video2pose").config.image_size

    # ---- the numpy API ---------------------------------------------------------------
    def pose_to_rotation(
        self,
        skeleton: Skeleton,
        ref_positions,
        ref_rotations,
        positions,
        *,
        tips=None,
        tails=None,
        fit: bool = False,
        chunk_frames: int = CHUNK_FRAMES,
    ):
        """Joint heads (T, J, 3), absolute, in the skeleton's world orientation and units ->
        local rotations (T, J, 3, 3) in the rig's own conventions (numpy, float64).

        The reference pair is one keyed frame of the same rig: its heads (J, 3) and local
        rotations (J, 3, 3). Frames are processed `chunk_frames` at a time with enough
        overlap that the result is the same as in one pass (`model.streaming`).

        `tips` (T, L, 3), where known: where each leaf bone ends (`model.tips`: the leaves
        in order; a BVH End Site, a bone's tail), which fixes the leaves' swing as a child
        fixes its parent's. `tails` (J, 3): the rig's rest tails, of which the leaves' are
        used (default: as Blender's BVH importer places them, `skeleton.default_tails`).

        `fit=True` makes the result reproduce `positions` exactly (`ik.fit_positions`): for
        trusted positions that no rig can take exactly, such as marker mocap. (On positions
        a rig can take, the network reproduces them anyway.)
        """
        if tips is not None:
            return self._with_tips(skeleton, ref_positions, ref_rotations, positions, tips, tails, fit, chunk_frames)
        positions, ref_positions, ref_rotations = self._check(skeleton, positions, ref_positions, ref_rotations)
        fn, halo = self.pose_stage(skeleton, ref_positions, ref_rotations)
        rotations = streaming.run(fn, halo, chunk_frames, positions).numpy()
        return fit_positions(skeleton, rotations, positions.numpy()) if fit else rotations

    def _with_tips(self, skeleton, ref_positions, ref_rotations, positions, tips, tails, fit, chunk_frames):
        """`pose_to_rotation` on the skeleton with leaf tips; the tips' rotations dropped."""
        positions, ref_positions, ref_rotations = (
            a.numpy() for a in self._check(skeleton, positions, ref_positions, ref_rotations)
        )
        ends, tips = leaf_tips.leaves(skeleton), np.asarray(tips, dtype=np.float64)
        if tips.shape != (len(positions), len(ends), 3) or not np.isfinite(tips).all():
            raise InputError(
                f"tips must be finite, one per leaf of the skeleton: shape {(len(positions), len(ends), 3)}, got {tips.shape}"
            )
        if skeleton.num_joints + len(ends) > MAX_JOINTS:
            raise InputError(
                f"{skeleton.num_joints} joints and {len(ends)} leaf tips: at most {MAX_JOINTS} together are supported"
            )
        try:
            tipped = leaf_tips.with_tips(skeleton, tails)
        except ValueError as error:
            raise InputError(str(error)) from None
        ref_tips = leaf_tips.tip_positions(skeleton, ref_rotations, ref_positions, tails)
        rotations = self.pose_to_rotation(
            tipped,
            np.concatenate([ref_positions, ref_tips]),
            leaf_tips.with_tip_rotations(ref_rotations, len(ends)),
            np.concatenate([positions, tips], 1),
            chunk_frames=chunk_frames,
        )[:, : skeleton.num_joints]
        return fit_positions(skeleton, rotations, positions) if fit else rotations

    def video_to_pose(self, frames, skeleton: Skeleton, ref_positions, ref_rotations, *, chunk_frames: int = VIDEO_CHUNK_FRAMES):
        """uint8 RGB frames (T, H, W, 3), any size -> joint heads (T, J, 3) in the view
        frame (DESIGN.md section 3), in the skeleton's units, root at the origin (numpy,
        float64). The subject should be seen from the front of the view frame. For a video
        file, `model.pipeline.capture_video` streams it instead."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise InputError(f"frames must be uint8 RGB of shape (T, H, W, 3), got {frames.dtype} {frames.shape}")
        if min(frames.shape[1:3], default=0) == 0:
            raise InputError(f"frames have no pixels ({frames.shape[1]} x {frames.shape[2]})")
        ref_positions = self._check(skeleton, np.zeros((0, skeleton.num_joints, 3)), ref_positions, ref_rotations)[1]
        chunks, stages, _ = pipeline.pose_stages(self, skeleton, ref_positions.numpy(), iter(frames), len(frames), chunk_frames)
        out = list(streaming.chain(stages, chunks))
        return torch.cat(out).numpy() if out else np.zeros((0, skeleton.num_joints, 3))

    def capture(self, frames, skeleton: Skeleton, ref_positions, ref_rotations, *, facing: str = "AUTO") -> np.ndarray:
        """uint8 RGB frames (T, H, W, 3) -> local rotations (T, J, 3, 3) in the rig's own
        conventions, seen from the front of the view frame, by the general path; `facing` as
        the capture's option (`model.facing`): REFERENCE (and AUTO, on this path) keeps the
        reference's heading, VIDEO the network's."""
        if facing not in FACINGS:
            raise InputError(f"facing must be one of {', '.join(FACINGS)}, got {facing!r}")
        positions = self.video_to_pose(frames, skeleton, ref_positions, ref_rotations)
        rotations = self.pose_to_rotation(skeleton, ref_positions, ref_rotations, positions)
        if not keeps_heading(facing, "general"):
            return rotations
        return keep_heading(rotations, skeleton, np.asarray(ref_rotations, np.float64))

    # ---- checkpoints ---------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> Network:
        parts, info = load_checkpoint(path)
        return cls(dict(parts.items()), device=device, info=info)


def save_checkpoint(path: str | Path, parts: nn.ModuleDict, stage: str, training: dict) -> None:
    """Weights to `path` (safetensors), configurations and provenance beside it (.json)."""
    if sorted(parts) != sorted(STAGES[stage]):
        raise ValueError(f"stage {stage} saves {STAGES[stage]}, got {list(parts)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    configs = {name: module.config.to_dict() for name, module in parts.items()}
    info = {"format_version": FORMAT_VERSION, "stage": stage, "config": configs, "training": training}
    state = {k: v.detach().cpu().contiguous() for k, v in parts.state_dict().items()}
    save_file(state, str(path), metadata={"format_version": str(FORMAT_VERSION)})
    path.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def load_checkpoint(path: str | Path, only: tuple[str, ...] | None = None) -> tuple[nn.ModuleDict, dict]:
    """The checkpoint's parts (or the named ones among them, `only`) and its json. Anything
    wrong with the files (missing, damaged, tampered: bad json, a configuration out of
    bounds, tensors that do not fit it or are not finite) is one `CheckpointError` line,
    raised before any large allocation; nothing in them is ever executed."""
    path = Path(path)
    config_path = path.with_suffix(".json")
    damaged = f"the weights {path.name} are damaged or not this version's; reinstall the extension (or the package)"
    if not path.is_file() or not config_path.is_file():
        raise CheckpointError(f"checkpoint {path} needs both {path.name} and {config_path.name}")
    try:
        info = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{damaged} ({config_path.name} is not json)") from None
    if not isinstance(info, dict) or info.get("format_version") != FORMAT_VERSION or info.get("stage") not in STAGES:
        raise CheckpointError(f"{config_path} is not a version-{FORMAT_VERSION} checkpoint of a known stage")
    names = [n for n in STAGES[info["stage"]] if only is None or n in only]
    try:
        configs = {name: PARTS[name][0].from_dict(info["config"][name]) for name in names}  # bounded: `layers.Config`
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise CheckpointError(f"{config_path} holds an unusable configuration: {str(error).splitlines()[0]}") from None
    try:
        tensors = {k: v for k, v in load_file(str(path)).items() if k.split(".", 1)[0] in names}
    except Exception:  # safetensors' own errors for truncated or garbled files
        raise CheckpointError(damaged) from None
    bad = next((k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
    if bad is not None:
        raise CheckpointError(f"{damaged} ({bad} holds NaN or infinite values)")
    try:
        parts = nn.ModuleDict({name: PARTS[name][1](configs[name]) for name in names})  # sizes bounded above
    except (ValueError, RuntimeError, ZeroDivisionError) as error:  # e.g. a width the heads do not divide
        raise CheckpointError(f"{config_path} holds an unusable configuration: {str(error).splitlines()[0]}") from None
    try:
        missing, unexpected = parts.load_state_dict(tensors, strict=False)
    except RuntimeError:  # shapes that do not fit the configuration
        raise CheckpointError(f"{damaged} (its tensors do not fit its configuration)") from None
    if missing or unexpected:
        raise CheckpointError(f"{path} does not match its configuration (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return parts, info


def load_pretrained(
    device: str = "cpu", path: str | Path = CAPTURE_WEIGHTS, person: str | Path | None = PERSON_WEIGHTS
) -> Network:
    """The shipped end-to-end network (`model/weights/capture.*`) on `device` ("cpu",
    "cuda" or "auto"), with the person path's network (`person`, where it exists; None:
    without it); `path` picks another checkpoint, e.g. `POSE2ROT_WEIGHTS`."""
    parts, info = load_checkpoint(path)
    if person is not None and Path(person).is_file():
        extra, info["person"] = load_checkpoint(person)
        parts.update(extra)
    return Network(dict(parts.items()), device=device, info=info)
