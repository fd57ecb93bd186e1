"""Pose-to-Rotation (P2R): joint positions + rest pose + one reference pair -> local rotations.

Positions fix much of a pose exactly; the network never relearns that part
(DESIGN.md section 3, issue "never loses to geometry"):

1. the analytic IK (`model.ik`) turns the positions into every bone's world frame. Where
   children span two directions that frame is what the geometry gives; single-child
   bones get their swing from the geometry and their twist from the reference; leaves
   (and joints whose children sit at their own head, looked through as the IK does) get
   the reference's local rotation;
2. encoders read the rest pose (GL-GMHA blocks), the reference pair (FiLM-modulated by
   the rest encoding) and the per-frame positions (expressed in the IK's bone frames, so
   they do not depend on the rig's axis conventions or the body's heading), with a
   short temporal window per joint;
3. a decoder of GL-GMHA blocks with cross-attention to the reference tokens predicts only
   what positions leave open, per joint kind:
   - single-child bones: a twist about the observed bone axis (the child stays put);
   - leaves: a full rotation (no child to move);
   - every non-leaf: a correction of its frame, for noisy input, scaled by a gate
     `tanh(GAIN * relu(misfit - EXACT_MISFIT) * softplus(g))`. The misfit is how far the
     IK's own forward kinematics lands from the input heads (zero for positions that a
     rig can take, growing with noise) and g the network's estimate of how much to
     trust them; on exact input the gate is exactly closed.
   The local rotations follow from the world frames: R_j = (B_p^T B_j)^T G_p^T G_j;
4. with noisy input, each local rotation moves toward the reference's by a share that a
   second gate of the same form gives (`hold`): a bone short beside the noise (a finger,
   a face bone) has positions that say next to nothing about it, and there the reference
   is the better guess, which a correction of world frames reaches only through every
   ancestor's. With exact positions both gates are shut: FK of the result is the input
   heads and every multi-child joint keeps the IK's frame, whatever the weights.

Inputs and outputs of the module are padded batches (`Inputs`, `collate`); the numpy API
with chunking over time lives in `model.network`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch
from torch import nn

from . import ik
from .attention import Graph
from .kinematics import forward_kinematics
from .layers import Block, Config
from .padding import pad_joints, stack_padded
from .rotations import axis_angle_to_matrix, matrix_to_axis_angle, matrix_to_rot6d, rot6d_to_matrix
from .skeleton import Skeleton

REST_FEATURES, REF_FEATURES, POSE_FEATURES = 24, 15, 24
UP = torch.tensor([0.0, 0.0, 1.0])
# A misfit (mean distance of the IK's heads from the input, in units of the skeleton's
# size) below this is float rounding of exact input: the noise gate stays shut.
EXACT_MISFIT = 1e-4
GAIN = 100.0  # 1 cm of misfit on a 1 m rig opens the gate by about tanh(softplus(g))
HOLD_START = -5.0  # the hold gate's first raw value: shut on exact input, about 4 % open at 2 cm of noise


@dataclass(frozen=True)
class P2RConfig(Config):
    width: int = 96
    heads: int = 4
    rest_layers: int = 2
    ref_layers: int = 2
    pose_layers: int = 2
    decoder_layers: int = 4
    kernel: int = 5  # frames in each temporal window
    attention: str = "gl"  # one of ATTENTION_KINDS (ablations: "global", "full")
    use_reference: bool = True  # ablation: the rest pose stands in for the reference pair
    use_rest: bool = True  # ablation: no rest-pose encoding
    hold: bool = False  # the gated move toward the reference (`toward_reference`; model.train --hold)

    def __post_init__(self):
        super().__post_init__()
        if self.kernel % 2 == 0:
            raise ValueError(f"kernel must be odd, got {self.kernel}")

    @property
    def halo(self) -> int:
        """Frames of context each side that one output frame depends on."""
        return (self.pose_layers + self.decoder_layers) * (self.kernel // 2)


# ---- inputs -------------------------------------------------------------------------


@dataclass
class Inputs:
    """Network inputs for one clip (unbatched: J joints, T frames) or a padded batch
    (leading B). World frames G are bone frames in world orientation (Blender's
    `pose_bone.matrix` rotation)."""

    rest: torch.Tensor  # ([B,] J, REST_FEATURES)
    ref: torch.Tensor  # ([B,] J, REF_FEATURES)
    pose: torch.Tensor  # ([B,] T, J, POSE_FEATURES)
    first_guess: torch.Tensor  # ([B,] T, J, 3, 3) world frames from the IK
    kind: torch.Tensor  # ([B,] J) long: ik.LEAF, ik.SWING or ik.PROCRUSTES
    axis: torch.Tensor  # ([B,] T, J, 3) unit world direction to the principal child (SWING joints)
    misfit: torch.Tensor  # ([B,] T) mean distance of the IK's heads from the input / scale
    reference: torch.Tensor  # ([B,] J, 3, 3) the reference's local rotations
    link: torch.Tensor  # ([B,] J, 3, 3) B_p^T B_j (roots: B_j)
    parent: torch.Tensor  # ([B,] J) long, parent index (roots: themselves)
    is_root: torch.Tensor  # ([B,] J) bool

    def to(self, device: torch.device | str) -> Inputs:
        return Inputs(**{k: v.to(device) for k, v in vars(self).items()})


def _in_frame(G: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Vectors v (..., 3) in the frames G (..., 3, 3)."""
    return (G.transpose(-1, -2) @ v[..., None])[..., 0]


def _parent_index(skeleton: Skeleton) -> np.ndarray:
    p = skeleton.parents.copy()
    roots = p < 0
    p[roots] = np.flatnonzero(roots)
    return p


def rest_features(skeleton: Skeleton) -> torch.Tensor:
    """(J, REST_FEATURES): offsets in the parent's and the own rest frame, length, the
    up axis and the frame itself, position in the body, and the joint's place in the tree."""
    par, s = _parent_index(skeleton), skeleton.scale
    B = torch.tensor(skeleton.rest_frames, dtype=torch.float32)
    h = torch.tensor(skeleton.rest_heads / s, dtype=torch.float32)
    off = h - h[par]
    tree = np.stack(
        [
            np.minimum(skeleton.depth, 20) / 10,
            np.minimum(skeleton.num_children, 4) / 4,
            skeleton.leaf_mask,
            skeleton.single_child_mask,
            skeleton.parents < 0,
        ],
        -1,
    )
    return torch.cat(
        [
            _in_frame(B[par], off),
            off.norm(dim=-1, keepdim=True),
            _in_frame(B, off),
            _in_frame(B, UP.expand_as(off)),
            matrix_to_rot6d(B),
            h - h[skeleton.roots[0]],
            torch.as_tensor(tree, dtype=torch.float32),
        ],
        -1,
    )


def _frame_features(G: torch.Tensor, x: torch.Tensor, par: np.ndarray, root: int) -> list[torch.Tensor]:
    """Offset to the parent in the parent's frame, the up axis in the bone's frame, the
    position in the root's frame: heading- and convention-free descriptions of a pose."""
    return [
        _in_frame(G[..., par, :, :], x - x[..., par, :]),
        _in_frame(G, UP.to(G).expand_as(x)),
        _in_frame(G[..., root : root + 1, :, :], x - x[..., root : root + 1, :]),
    ]


def encode_inputs(skeleton: Skeleton, positions, ref_positions, ref_rotations, config: P2RConfig) -> Inputs:
    """One clip's inputs (torch float32, any T). Positions are absolute joint heads in the
    skeleton's world orientation and units; inputs are checked like every solver's."""
    positions, ref_positions, ref_rotations = (
        torch.as_tensor(np.asarray(a), dtype=torch.float32) if not isinstance(a, torch.Tensor) else a.float()
        for a in (positions, ref_positions, ref_rotations)
    )
    ik.check_solver_inputs(skeleton, positions, ref_positions, ref_rotations)
    s, root = skeleton.scale, int(skeleton.roots[0])
    par = _parent_index(skeleton)
    if not config.use_reference:  # the rest pose as the reference
        ref_positions, ref_rotations = (torch.as_tensor(a, dtype=torch.float32) for a in skeleton.rest_reference())

    # The closed form is not differentiated (its SVD's gradient blows up at symmetric
    # children); gradients still reach the positions through the features below.
    R_ik = ik.solve_rotations(skeleton, positions.detach(), ref_positions, ref_rotations)
    lift = positions[:, root] - torch.tensor(skeleton.rest_heads[root], dtype=torch.float32)
    G_ik, heads_ik = forward_kinematics(skeleton, R_ik, lift)
    x = positions / s
    pose = torch.cat(
        [
            matrix_to_rot6d(R_ik),
            matrix_to_rot6d(ref_rotations.transpose(-1, -2) @ R_ik),
            *_frame_features(G_ik, x, par, root),
            _in_frame(G_ik[:, par], heads_ik / s - x),  # where the first guess misses the input
        ],
        -1,
    )
    G_ref = forward_kinematics(skeleton, ref_rotations)[0]
    ref = torch.cat([matrix_to_rot6d(ref_rotations), *_frame_features(G_ref, ref_positions / s, par, root)], -1)
    rest = rest_features(skeleton)
    if not config.use_rest:
        rest = torch.zeros_like(rest)

    B = torch.tensor(skeleton.rest_frames, dtype=torch.float32)
    is_root = torch.as_tensor(skeleton.parents < 0)
    link = torch.where(is_root[:, None, None], B, B[par].transpose(-1, -2) @ B)
    kind, principal = ik.joint_kinds(skeleton)
    to_child = positions[:, principal] - positions
    axis = to_child / to_child.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    misfit = (heads_ik / s - x).norm(dim=-1).mean(-1)
    return Inputs(rest, ref, pose, G_ik, torch.as_tensor(kind), axis, misfit, ref_rotations, link, torch.as_tensor(par), is_root)


def collate(items: list[Inputs]) -> Inputs:
    """Pad clips of one length T and different J into a batch (padding joints: identity
    frames, their own parents, roots of kind PROCRUSTES, which nothing but noise moves)."""
    J = max(it.rest.shape[0] for it in items)
    fills = {"first_guess": torch.eye(3), "reference": torch.eye(3), "link": torch.eye(3), "kind": ik.PROCRUSTES, "is_root": True}
    joint_dim = {"pose": 1, "first_guess": 1, "axis": 1}
    batch = {}
    for f in fields(Inputs):
        if f.name == "misfit":  # per frame: nothing to pad
            batch[f.name] = torch.stack([it.misfit for it in items])
        elif f.name == "parent":
            batch[f.name] = torch.stack([pad_joints(it.parent, J, 0, torch.arange(len(it.parent), J)) for it in items])
        else:
            batch[f.name] = stack_padded([getattr(it, f.name) for it in items], joint_dim.get(f.name, 0), fills.get(f.name, 0.0))
    return Inputs(**batch)


# ---- network ------------------------------------------------------------------------


IDENTITY_6D = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
HEAD_TWIST, HEAD_LEAF, HEAD_FIX, HEAD_GATE = slice(0, 2), slice(2, 8), slice(8, 11), slice(11, 12)


class PoseToRotation(nn.Module):
    def __init__(self, config: P2RConfig):
        super().__init__()
        self.config = c = config
        w = c.width
        self.embed_rest = nn.Linear(REST_FEATURES, w)
        self.embed_ref = nn.Linear(REF_FEATURES, w)
        self.embed_pose = nn.Linear(POSE_FEATURES, w)
        self.rest_blocks = nn.ModuleList(Block(c, local=i % 2 == 0) for i in range(c.rest_layers))
        self.ref_blocks = nn.ModuleList(Block(c, local=i % 2 == 0, film=True) for i in range(c.ref_layers))
        self.pose_blocks = nn.ModuleList(Block(c, local=i % 2 == 0, film=True, temporal=True) for i in range(c.pose_layers))
        self.decoder = nn.ModuleList(
            Block(c, local=i % 2 == 0, film=True, temporal=True, cross=True) for i in range(c.decoder_layers)
        )
        # twist (cos, sin offsets), leaf rotation (6D offset), noise correction (axis-angle), gate
        self.head = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, 12))
        nn.init.zeros_(self.head[1].weight)  # start from the IK
        nn.init.zeros_(self.head[1].bias)
        if c.hold:  # raw trust in the reference (`toward_reference`)
            self.hold = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, 1))
            nn.init.zeros_(self.hold[1].weight)
            nn.init.constant_(self.hold[1].bias, HOLD_START)

    def forward(self, inputs: Inputs, graph: Graph) -> torch.Tensor:
        """Padded batch -> local rotations (B, T, J, 3, 3)."""
        rest = self.embed_rest(inputs.rest)[:, None]
        for block in self.rest_blocks:
            rest = block(rest, graph)
        ref = self.embed_ref(inputs.ref)[:, None]
        for block in self.ref_blocks:
            ref = block(ref, graph, rest)
        x = self.embed_pose(inputs.pose) + ref
        for block in self.pose_blocks:
            x = block(x, graph, rest)
        for block in self.decoder:
            x = block(x, graph, rest, ref)
        local = local_rotations(inputs, compose(inputs, self.head(x)))
        return toward_reference(inputs, local, self.hold(x)[..., 0]) if self.config.hold else local


def noise_gate(misfit: torch.Tensor, trust: torch.Tensor) -> torch.Tensor:
    """(B, T) misfit, (B, T, J) raw trust -> (B, T, J) gate in [0, 1), exactly 0 where the
    misfit is float rounding of exact input."""
    opened = torch.relu(misfit - EXACT_MISFIT)[..., None]
    return torch.tanh(GAIN * opened * nn.functional.softplus(trust))


def compose(inputs: Inputs, out: torch.Tensor) -> torch.Tensor:
    """The IK's world frames with what the head predicts (B, T, J, 12) applied where the
    positions leave it open: world frames (B, T, J, 3, 3)."""
    kind = inputs.kind[:, None, :, None, None]
    a, b = out[..., HEAD_TWIST].unbind(-1)
    twist = torch.atan2(b, 1 + a) * (inputs.kind[:, None] == ik.SWING)
    G = axis_angle_to_matrix(inputs.axis * twist[..., None]) @ inputs.first_guess
    leaf = rot6d_to_matrix(out[..., HEAD_LEAF] + IDENTITY_6D.to(out))
    gate = noise_gate(inputs.misfit, out[..., HEAD_GATE][..., 0])
    fix = axis_angle_to_matrix(out[..., HEAD_FIX] * gate[..., None])
    return G @ torch.where(kind == ik.LEAF, leaf, fix)


def toward_reference(inputs: Inputs, local: torch.Tensor, trust: torch.Tensor) -> torch.Tensor:
    """Local rotations (B, T, J, 3, 3) moved along the geodesic toward the reference's by
    the noise gate of the raw trust (B, T, J): unchanged, exactly, on exact input."""
    share = noise_gate(inputs.misfit, trust)
    rest_of_way = matrix_to_axis_angle(local.transpose(-1, -2) @ inputs.reference[:, None].to(local))
    return local @ axis_angle_to_matrix(rest_of_way * share[..., None])


def local_rotations(inputs: Inputs, G: torch.Tensor) -> torch.Tensor:
    """World frames (B, T, J, 3, 3) -> local rotations R_j = (B_p^T B_j)^T G_p^T G_j."""
    B, T, J = G.shape[:3]
    index = inputs.parent[:, None, :, None, None].expand(B, T, J, 3, 3)
    G_parent = torch.where(inputs.is_root[:, None, :, None, None], torch.eye(3).to(G), G.gather(2, index))
    return inputs.link[:, None].transpose(-1, -2).to(G) @ G_parent.transpose(-1, -2) @ G
