"""The trained networks behind one numpy API, and their checkpoints.

    net = load_pretrained()                      # the shipped weights, on the CPU
    rotations = net.pose_to_rotation(skeleton, ref_positions, ref_rotations, positions)

A checkpoint is a safetensors file of weights beside a json file of the same name holding
the format version, the network's configuration and how it was trained (command, data
seed, git commit). Loading never unpickles anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from model.attention import Graph
from model.ik import InputError, check_solver_inputs
from model.pose2rot import P2RConfig, PoseToRotation, collate, encode_inputs
from model.skeleton import Skeleton

FORMAT_VERSION = 1
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
POSE2ROT_WEIGHTS = WEIGHTS_DIR / "pose2rot.safetensors"
MAX_JOINTS = 256
CHUNK_FRAMES = 128  # frames per forward pass: memory stays flat however long the clip


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
    """A Pose-to-Rotation network ready for inference (eval mode, no gradients)."""

    def __init__(self, pose2rot: PoseToRotation, *, device: str | torch.device = "cpu", info: dict | None = None):
        self.device = resolve_device(device) if isinstance(device, str) else device
        self.pose2rot = pose2rot.to(self.device).eval()
        self.info = info or {}

    @property
    def config(self) -> P2RConfig:
        return self.pose2rot.config

    @torch.no_grad()
    def pose_to_rotation(self, skeleton: Skeleton, ref_positions, ref_rotations, positions, *, chunk_frames: int = CHUNK_FRAMES):
        """Joint heads (T, J, 3), absolute, in the skeleton's world orientation and units ->
        local rotations (T, J, 3, 3) in the rig's own conventions (numpy, float64).

        The reference pair is one keyed frame of the same rig: its heads (J, 3) and local
        rotations (J, 3, 3). Frames are processed `chunk_frames` at a time with enough
        overlap that the result is the same as in one pass.
        """
        if skeleton.num_joints > MAX_JOINTS:
            raise InputError(f"the skeleton has {skeleton.num_joints} joints; at most {MAX_JOINTS} are supported")
        positions, ref_positions, ref_rotations = (
            torch.as_tensor(np.asarray(a, dtype=np.float64)) for a in (positions, ref_positions, ref_rotations)
        )
        check_solver_inputs(skeleton, positions, ref_positions, ref_rotations)
        T, halo = positions.shape[0], self.config.halo
        if T == 0:
            return np.zeros((0, skeleton.num_joints, 3, 3))
        graph = Graph.of([skeleton], self.device)
        out = []
        for start in range(0, T, chunk_frames):
            lo, hi = max(0, start - halo), min(T, start + chunk_frames + halo)
            inputs = encode_inputs(skeleton, positions[lo:hi], ref_positions, ref_rotations, self.config)
            local = self.pose2rot(collate([inputs]).to(self.device), graph)[0][0]
            out.append(local[start - lo : start - lo + chunk_frames].double().cpu().numpy())
        return np.concatenate(out)

    # ---- checkpoints ---------------------------------------------------------------
    def save(self, path: str | Path, **training) -> None:
        save_checkpoint(path, self.pose2rot, training)

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> Network:
        module, info = load_checkpoint(path)
        return cls(module, device=device, info=info)


def save_checkpoint(path: str | Path, module: PoseToRotation, training: dict) -> None:
    """Weights to `path` (safetensors), configuration and provenance beside it (.json)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = {"format_version": FORMAT_VERSION, "stage": "p2r", "config": module.config.to_dict(), "training": training}
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(path), metadata={"format_version": str(FORMAT_VERSION)})
    path.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def load_checkpoint(path: str | Path) -> tuple[PoseToRotation, dict]:
    path = Path(path)
    config_path = path.with_suffix(".json")
    if not path.is_file() or not config_path.is_file():
        raise CheckpointError(f"checkpoint {path} needs both {path.name} and {config_path.name}")
    info = json.loads(config_path.read_text(encoding="utf-8"))
    if info.get("format_version") != FORMAT_VERSION or info.get("stage") != "p2r":
        raise CheckpointError(f"{config_path} is not a version-{FORMAT_VERSION} pose-to-rotation checkpoint")
    module = PoseToRotation(P2RConfig.from_dict(info["config"]))
    state = load_file(str(path))
    missing, unexpected = module.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{path} does not match its configuration (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return module, info


def load_pretrained(device: str = "cpu") -> Network:
    """The shipped network (`model/weights/`) on `device` ("cpu", "cuda" or "auto")."""
    return Network.load(POSE2ROT_WEIGHTS, device=device)
