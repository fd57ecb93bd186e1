"""Forward kinematics, exactly as Blender evaluates a pose (DESIGN.md section 3).

With B = rest_frames, h = rest_heads and R the local rotations (`matrix_basis`):

    G_j    = G_p @ (B_p^T @ B_j) @ R_j            roots: G_j = B_j @ R_j
    head_j = head_p + G_p @ B_p^T @ (h_j - h_p)   roots: head_j = h_j + root_translation

G_j is the rotation part of Blender's `pose_bone.matrix`, head_j its `pose_bone.head`.
"""

from __future__ import annotations

import numpy as np
import torch

from .arrays import numpy_io
from .skeleton import Skeleton


def _level_constants(skeleton: Skeleton):
    """Per depth level: joint indices, each joint's position within the parent level,
    the rest rotation from parent frame to bone frame, and the rest offset in the parent
    frame (for roots: B_j and h_j)."""

    def make():
        B, h, parents = skeleton.rest_frames, skeleton.rest_heads, skeleton.parents
        position = np.empty(skeleton.num_joints, dtype=np.int64)
        out = []
        for idx in skeleton.levels:
            position[idx] = np.arange(idx.size)
            p = parents[idx]
            if p[0] < 0:
                out.append((idx, None, B[idx], h[idx]))
            else:
                Bp = B[p].transpose(0, 2, 1)
                out.append((idx, position[p], Bp @ B[idx], (Bp @ (h[idx] - h[p])[..., None])[..., 0]))
        inverse = np.argsort(np.concatenate(skeleton.levels))
        return out, inverse

    return skeleton.cached("fk_levels", make)


def level_tensors(skeleton: Skeleton, like: torch.Tensor):
    """The level constants as tensors of `like`'s dtype and device (cached)."""

    def make():
        levels, inverse = _level_constants(skeleton)

        def tensor(a, dtype=None):
            return None if a is None else torch.as_tensor(a, dtype=dtype, device=like.device)

        f = like.dtype
        return [(tensor(i), tensor(p), tensor(C, f), tensor(o, f)) for i, p, C, o in levels], tensor(inverse)

    return skeleton.cached(("fk_tensors", like.dtype, like.device), make)


@numpy_io
def forward_kinematics(skeleton: Skeleton, local_rotations, root_translation=None):
    """Local rotations (..., J, 3, 3) -> (global rotations (..., J, 3, 3), heads (..., J, 3)).

    `root_translation` (..., 3) moves every root, in the skeleton's world orientation.
    Differentiable; loops over depth levels only, all joints of a level at once.
    """
    R = local_rotations
    if R.shape[-3:] != (skeleton.num_joints, 3, 3):
        raise ValueError(f"local_rotations must end in ({skeleton.num_joints}, 3, 3), got {tuple(R.shape)}")
    levels, inverse = level_tensors(skeleton, R)
    globals_, heads = [], []
    for idx, parent_pos, C, offset in levels:
        Rl = R[..., idx, :, :]
        if parent_pos is None:
            G = C @ Rl
            H = offset.expand(Rl.shape[:-2] + (3,))
            if root_translation is not None:
                H = H + root_translation[..., None, :]
        else:
            Gp = globals_[-1][..., parent_pos, :, :]
            G = Gp @ C @ Rl
            H = heads[-1][..., parent_pos, :] + (Gp @ offset[..., None])[..., 0]
        globals_.append(G)
        heads.append(H)
    return torch.cat(globals_, -3)[..., inverse, :, :], torch.cat(heads, -2)[..., inverse, :]


def local_from_world(skeleton: Skeleton, G: np.ndarray, hinge: np.ndarray | None = None) -> np.ndarray:
    """World frames (..., J, 3, 3) -> the local rotations that give them: the inverse of
    `forward_kinematics`' rotations, R_j = B_j^T B_p G_p^T G_j (roots: B_j^T G_j).

    `hinge` (J,) bool marks bones that do not inherit their parent's rotation (Blender's
    Inherit Rotation off): Blender turns them from their rest frame alone, G_j = B_j R_j,
    so their rotation is B_j^T G_j as for a root."""
    G = np.asarray(G, dtype=np.float64)
    B, p = skeleton.rest_frames, skeleton.parents
    free = p < 0 if hinge is None else (p < 0) | np.asarray(hinge, bool)
    q = np.where(p < 0, 0, p)
    parent_world = np.where(free[:, None, None], np.eye(3), G[..., q, :, :] @ B[q].swapaxes(-1, -2))
    return B.swapaxes(-1, -2) @ parent_world.swapaxes(-1, -2) @ G


def world_from_local(skeleton: Skeleton, R: np.ndarray, hinge: np.ndarray) -> np.ndarray:
    """Local rotations (..., J, 3, 3) -> world frames, where `hinge` (J,) bool bones turn from
    their rest frame alone (G_j = B_j R_j) as Blender evaluates Inherit Rotation off: the
    inverse of `local_from_world` with the same mask."""
    R = np.asarray(R, dtype=np.float64)
    B, G = skeleton.rest_frames, np.empty_like(R)
    for j, p in enumerate(skeleton.parents):  # parents first
        if p < 0 or hinge[j]:
            G[..., j, :, :] = B[j] @ R[..., j, :, :]
        else:
            G[..., j, :, :] = G[..., p, :, :] @ B[p].T @ B[j] @ R[..., j, :, :]
    return G
