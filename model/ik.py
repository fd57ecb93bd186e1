"""The analytic IK baseline (MoCapAnything V1 style), for every network to be compared with.

Per joint, from where its children's heads are:
- children in several directions: the world rotation is the orthogonal Procrustes
  (Kabsch) fit of the rest offsets to the observed ones; exact for exact positions;
- children along one line (one child, or collinear ones): only the swing is seen. The
  local rotation is the reference frame's, swung by the smallest rotation that carries
  its child direction onto the observed one, so the twist is copied from the reference;
- no child away from its head (leaves): the reference frame's local rotation.

A joint whose children all sit at its own head (zero-length links, as at the hips of
CMU skeletons) looks through them: their own children stand in for them.

The closed form is path-independent: no frame-to-frame warm start is needed, and none
could drift. Vectorised over frames and joints; the only loop is over depth levels.
"""

from __future__ import annotations

import numpy as np
import torch

from .arrays import numpy_io
from .kinematics import forward_kinematics, level_tensors
from .rotations import nearest_rotation, rotation_between
from .skeleton import Skeleton

LEAF, SWING, PROCRUSTES = 0, 1, 2
DEFAULT_LEVER = 1e-3


class InputError(ValueError):
    """Solver inputs have the wrong shapes or non-finite values."""


def _spread(skeleton: Skeleton, j: int, kids: list[int]) -> np.ndarray:
    """Singular values of the rest offsets from joint j to `kids`: the first is the
    reach, the second the spread across the main direction (the lever arm that lets
    the children's positions show a twist)."""
    offsets = np.zeros((max(len(kids), 3), 3))  # at least three rows: three singular values
    offsets[: len(kids)] = skeleton.rest_heads[kids] - skeleton.rest_heads[j]
    return np.linalg.svd(offsets, compute_uv=False)


def _effective_children(skeleton: Skeleton) -> list[list[int]]:
    """Per joint, the children whose heads are away from its own. A joint with none,
    whose children all sit at its head (zero-length links, as at the hips of CMU
    skeletons), looks through them to their own children. Links are not looked through
    otherwise: where they move, their children would spoil the exact fit of the rest."""
    h, tol = skeleton.rest_heads, 1e-6 * skeleton.scale
    out = []
    for j, kids in enumerate(skeleton.children):
        direct = [c for c in kids if np.linalg.norm(h[c] - h[j]) > tol]
        if not direct:
            stack = list(kids)
            while stack:
                c = stack.pop(0)
                if np.linalg.norm(h[c] - h[j]) > tol:
                    direct.append(c)
                else:
                    stack.extend(skeleton.children[c])
        out.append(direct)
    return out


def _constants(skeleton: Skeleton, lever: float):
    """Per joint: kind, padded effective-child indices and weights, and the principal
    (farthest) one for swing joints."""

    def make():
        J = skeleton.num_joints
        effective = _effective_children(skeleton)
        K = max(1, max(map(len, effective)))
        child = np.tile(np.arange(J)[:, None], (1, K))
        weight = np.zeros((J, K))
        for j, kids in enumerate(effective):
            child[j, : len(kids)] = kids
            weight[j, : len(kids)] = 1.0
        sv = np.array([_spread(skeleton, j, kids) for j, kids in enumerate(effective)])
        kind = np.where(sv[:, 0] <= 0, LEAF, np.where(sv[:, 1] > lever * skeleton.scale, PROCRUSTES, SWING))
        reach = np.linalg.norm(skeleton.rest_heads[child] - skeleton.rest_heads[:, None], axis=-1) * weight
        principal = child[np.arange(J), np.argmax(reach, axis=1)]
        return kind, child, weight, principal

    return skeleton.cached(("ik_constants", lever), make)


def joint_kinds(skeleton: Skeleton, lever: float = DEFAULT_LEVER) -> tuple[np.ndarray, np.ndarray]:
    """Per joint, what its children's heads determine (LEAF, SWING or PROCRUSTES) and its
    principal (farthest effective) child, itself for leaves."""
    kind, _, _, principal = _constants(skeleton, lever)
    return kind, principal


def check_solver_inputs(skeleton: Skeleton, positions, ref_positions, ref_rotations, *, per_frame: bool = False) -> None:
    """Shapes and finiteness shared by every rotation solver; raises InputError. With
    `per_frame`, the reference is one pose per frame: (T, J, 3) and (T, J, 3, 3)."""
    J = skeleton.num_joints
    lead = ("T",) if per_frame else ()
    for name, value, want in (
        ("positions", positions, ("T", J, 3)),
        ("ref_positions", ref_positions, (*lead, J, 3)),
        ("ref_rotations", ref_rotations, (*lead, J, 3, 3)),
    ):
        got = tuple(value.shape)
        if len(got) != len(want) or any(w != "T" and g != w for g, w in zip(got, want, strict=True)):
            shape = "(" + ", ".join(map(str, want)) + ")"
            raise InputError(f"{name} must have shape {shape} for a {J}-joint skeleton, got {got}")
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
    return _solve(skeleton, positions, ref_rotations[None], lever)


@numpy_io
def fit_positions(skeleton: Skeleton, rotations, positions, *, lever: float = DEFAULT_LEVER):
    """Local rotations (T, J, 3, 3), e.g. a network's, made to give exactly the joint heads
    `positions` (T, J, 3): what the heads determine (the swing of single-child bones, the
    whole rotation of multi-child ones) is taken from them, what they cannot show (the twist
    of single-child bones, the rotation of leaves) is kept. `solve_rotations` with each frame
    its own reference."""
    check_solver_inputs(skeleton, positions, positions, rotations, per_frame=True)
    if positions.shape[0] != rotations.shape[0]:
        raise InputError(f"{rotations.shape[0]} rotation frames for {positions.shape[0]} position frames")
    return _solve(skeleton, positions, rotations, lever)


def _solve(skeleton: Skeleton, positions, ref_rotations, lever: float):
    """The closed form, with reference rotations (1 or T, J, 3, 3)."""
    kind, child, weight, principal = _constants(skeleton, lever)
    dtype, device = positions.dtype, positions.device
    kind_t = torch.as_tensor(kind, device=device)
    ref = ref_rotations.to(dtype)

    # Offsets to the effective children (and the principal one, last) in each bone's
    # frame, as the reference pose has them: for a plain child B_j^T (h_c - h_j); through
    # zero-length links, what the links' reference rotations make of it.
    G_ref, p_ref = forward_kinematics(skeleton, ref)
    targets = torch.as_tensor(np.concatenate([child, principal[:, None]], 1), device=device)
    offsets = (G_ref.transpose(-1, -2)[:, :, None] @ (p_ref[:, targets] - p_ref[:, :, None])[..., None])[..., 0]
    offsets, principal_offset = offsets[:, :, :-1], offsets[:, :, -1]

    # World rotations of multi-child joints, all at once.
    d = positions[:, child] - positions[:, :, None]  # (T, J, K, 3)
    H = (d * torch.as_tensor(weight, dtype=dtype, device=device)[..., None]).transpose(-1, -2) @ offsets
    G_fit = nearest_rotation(H)

    d_main = positions[:, principal] - positions  # (T, J, 3)
    u_ref = (ref @ principal_offset[..., None])[..., 0]  # reference child direction, bone-local

    levels, inverse = level_tensors(skeleton, positions)
    rotations, globals_ = [], []
    for idx, parent_pos, C, _ in levels:
        P = C if parent_pos is None else globals_[-1][:, parent_pos] @ C  # frame R_j acts in
        Pt = P.transpose(-1, -2)
        u = (Pt @ d_main[:, idx, :, None])[..., 0]
        swung = rotation_between(u_ref[:, idx].expand_as(u), u) @ ref[:, idx]
        k = kind_t[idx][:, None, None]
        R = torch.where(k == PROCRUSTES, Pt @ G_fit[:, idx], torch.where(k == SWING, swung, ref[:, idx].expand_as(swung)))
        rotations.append(R)
        globals_.append(P @ R)
    return torch.cat(rotations, -3)[:, inverse]
