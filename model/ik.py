"""The analytic IK baseline (MoCapAnything V1 style), for every network to be compared with.

Per joint, from where its children's heads are:
- children in several directions: the world rotation is the orthogonal Procrustes
  (Kabsch) fit of the rest offsets to the observed ones; exact for exact positions;
- children along one line (one child, or collinear ones): only the swing is seen. The
  local rotation is the reference frame's, swung by the smallest rotation that carries
  its child direction onto the observed one, so the twist is copied from the reference;
- no child away from its head (leaves): the reference frame's local rotation.

The closed form is path-independent: no frame-to-frame warm start is needed, and none
could drift. Vectorised over frames and joints; the only loop is over depth levels.
"""
from __future__ import annotations

import numpy as np
import torch

from model.arrays import numpy_io
from model.kinematics import level_tensors
from model.rotations import rotation_between
from model.skeleton import Skeleton

LEAF, SWING, PROCRUSTES = 0, 1, 2
DEFAULT_LEVER = 1e-3


class InputError(ValueError):
    """Solver inputs have the wrong shapes or non-finite values."""


def _constants(skeleton: Skeleton, lever: float):
    """Per joint: kind, padded child indices and weights, rest offsets in the bone frame,
    and the principal (longest) child for swing joints."""

    def make():
        J = skeleton.num_joints
        K = max(1, int(skeleton.num_children.max()))
        child = np.tile(np.arange(J)[:, None], (1, K))
        weight = np.zeros((J, K))
        for j, kids in enumerate(skeleton.children):
            child[j, : len(kids)] = kids
        h, B = skeleton.rest_heads, skeleton.rest_frames
        offsets = np.einsum("jba,jkb->jka", B, h[child] - h[:, None])  # B_j^T (h_c - h_j)
        length = np.linalg.norm(offsets, axis=-1)
        weight[length > 1e-6 * skeleton.scale] = 1.0
        sv = np.linalg.svd(offsets * weight[..., None], compute_uv=False)
        # sv[:, 1] is the children's spread across their main direction: the lever arm
        # that lets their positions show the twist.
        kind = np.where(sv[:, 0] <= 0, LEAF, np.where(sv[:, 1] > lever * skeleton.scale, PROCRUSTES, SWING))
        principal = np.argmax(length * weight, axis=1)
        return kind, child, weight, offsets, child[np.arange(J), principal], offsets[np.arange(J), principal]

    return skeleton.cached(("ik_constants", lever), make)


def check_solver_inputs(skeleton: Skeleton, positions, ref_positions, ref_rotations) -> None:
    """Shapes and finiteness shared by every rotation solver; raises InputError."""
    J = skeleton.num_joints
    for name, value, tail in (
        ("positions", positions, (J, 3)),
        ("ref_positions", ref_positions, (J, 3)),
        ("ref_rotations", ref_rotations, (J, 3, 3)),
    ):
        if tuple(value.shape[-len(tail):]) != tail or (name == "positions" and value.ndim != 3):
            want = "(T, " + ", ".join(map(str, tail)) + ")" if name == "positions" else str(tail)
            raise InputError(f"{name} must have shape {want} for a {J}-joint skeleton, got {tuple(value.shape)}")
        if not torch.isfinite(value).all():
            raise InputError(f"{name} holds NaN or infinite values")


@numpy_io
def solve_rotations(skeleton: Skeleton, positions, ref_positions, ref_rotations, *, lever: float = DEFAULT_LEVER):
    """Joint heads (T, J, 3) -> local rotations (T, J, 3, 3), in the rig's conventions.

    `ref_rotations` (J, 3, 3) are the reference frame's local rotations; `ref_positions`
    are its heads (unused by the closed form, which only needs the rotations, but part
    of every solver's signature). Children spread across their common direction by less
    than `lever` times the skeleton's size count as collinear (their twist is too noisy to
    read).
    """
    check_solver_inputs(skeleton, positions, ref_positions, ref_rotations)
    kind, child, weight, offsets, principal, principal_offset = _constants(skeleton, lever)
    like = positions
    as_t = lambda a: torch.as_tensor(a, dtype=like.dtype, device=like.device)
    kind_t = torch.as_tensor(kind, device=like.device)
    ref = ref_rotations.to(like.dtype)

    # World rotations of multi-child joints, all at once.
    d = positions[:, child] - positions[:, :, None]  # (T, J, K, 3)
    H = torch.einsum("tjka,jkb->tjab", d * as_t(weight)[..., None], as_t(offsets))
    U, _, Vh = torch.linalg.svd(H)
    fix = torch.ones_like(H[..., 0])
    fix[..., 2] = torch.det(U @ Vh)
    G_fit = U @ (fix[..., None] * Vh)

    d_main = positions[:, principal] - positions  # (T, J, 3)
    u_ref = (ref @ as_t(principal_offset)[..., None])[..., 0]  # reference child direction, bone-local

    levels, inverse = level_tensors(skeleton, like)
    rotations, globals_ = [], []
    for idx, parent_pos, C, _ in levels:
        P = C if parent_pos is None else globals_[-1][:, parent_pos] @ C  # frame R_j acts in
        Pt = P.transpose(-1, -2)
        u = (Pt @ d_main[:, idx, :, None])[..., 0]
        swung = rotation_between(u_ref[idx].expand_as(u), u) @ ref[idx]
        k = kind_t[idx][:, None, None]
        R = torch.where(k == PROCRUSTES, Pt @ G_fit[:, idx], torch.where(k == SWING, swung, ref[idx].expand_as(swung)))
        rotations.append(R)
        globals_.append(P @ R)
    return torch.cat(rotations, -3)[:, inverse]

