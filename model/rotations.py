"""Rotation conversions, one convention for the whole project.

- Matrices act on column vectors (`v' = R @ v`); `(..., 3, 3)`.
- Quaternions are `(w, x, y, z)`, as Blender stores them; returned with `w >= 0`.
- Axis-angle is a `(..., 3)` vector: unit axis times angle in radians.
- 6D is the first two **columns** of the matrix, `(..., 6) = [R[:, 0], R[:, 1]]`,
  turned back into a matrix by Gram-Schmidt (`rot6d_to_matrix`).
- Euler angles (radians) with an order string such as "ZXY" mean the product
  `R_Z(a0) @ R_X(a1) @ R_Y(a2)`, i.e. the order in which BVH lists its channels.
- Swing-twist is about the bone's Y axis: `R = swing @ twist`, twist a rotation about Y.

Every function takes torch tensors (batched over leading dims, differentiable) or
numpy arrays (numpy in, numpy out).
"""

from __future__ import annotations

import math

import torch

from .arrays import numpy_io

_AXIS = {"X": 0, "Y": 1, "Z": 2}


def _normalize(v: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(eps)


def _eye_like(x: torch.Tensor, batch_shape) -> torch.Tensor:
    return torch.eye(3, dtype=x.dtype, device=x.device).expand(*batch_shape, 3, 3)


@numpy_io
def quaternion_to_matrix(q):
    """(..., 4) quaternions (w, x, y, z), normalised first -> (..., 3, 3)."""
    w, x, y, z = _normalize(q).unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z),
            2 * (x * y - w * z),
            2 * (x * z + w * y),
            2 * (x * y + w * z),
            1 - 2 * (x * x + z * z),
            2 * (y * z - w * x),
            2 * (x * z - w * y),
            2 * (y * z + w * x),
            1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(q.shape[:-1] + (3, 3))


@numpy_io
def matrix_to_quaternion(R):
    """(..., 3, 3) -> (..., 4) quaternions (w, x, y, z) with w >= 0.

    Of the four algebraically equal formulas, each element uses the one whose divisor
    (4|w|, 4|x|, 4|y|, 4|z|) is largest, so it stays accurate near 180 degrees.
    """
    m = R.reshape(R.shape[:-2] + (9,)).unbind(-1)
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = m
    t = torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    candidates = (
        torch.stack(
            [
                torch.stack([t[..., 0], m21 - m12, m02 - m20, m10 - m01], -1),
                torch.stack([m21 - m12, t[..., 1], m10 + m01, m02 + m20], -1),
                torch.stack([m02 - m20, m10 + m01, t[..., 2], m21 + m12], -1),
                torch.stack([m10 - m01, m02 + m20, m21 + m12, t[..., 3]], -1),
            ],
            -2,
        )
        / (2 * t.clamp_min(1e-12).sqrt())[..., None]
    )
    best = t.argmax(-1)[..., None, None].expand(t.shape[:-1] + (1, 4))
    q = candidates.gather(-2, best).squeeze(-2)
    return torch.where(q[..., :1] < 0, -q, q)


@numpy_io
def axis_angle_to_matrix(v):
    """(..., 3) axis * angle (radians) -> (..., 3, 3)."""
    angle = v.norm(dim=-1, keepdim=True)
    # sin(a/2)/a written with sinc so it is exact and differentiable at a = 0.
    q = torch.cat([torch.cos(angle / 2), 0.5 * torch.sinc(angle / (2 * math.pi)) * v], -1)
    return quaternion_to_matrix(q)


@numpy_io
def matrix_to_axis_angle(R):
    """(..., 3, 3) -> (..., 3) axis * angle with angle in [0, pi]."""
    q = matrix_to_quaternion(R)
    w, v = q[..., :1], q[..., 1:]
    s = v.norm(dim=-1, keepdim=True)
    angle = 2 * torch.atan2(s, w)
    small = s < 1e-8
    # angle / sin(angle/2) -> 2 / w as the angle goes to zero.
    scale = torch.where(small, 2 / w.clamp_min(1e-12), angle / torch.where(small, torch.ones_like(s), s))
    return v * scale


@numpy_io
def matrix_to_rot6d(R):
    """(..., 3, 3) -> (..., 6): the first two columns, concatenated."""
    return torch.cat([R[..., :, 0], R[..., :, 1]], -1)


@numpy_io
def rot6d_to_matrix(d6):
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt on the two columns."""
    b1 = _normalize(d6[..., :3])
    a2 = d6[..., 3:]
    b2 = _normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1)
    return torch.stack([b1, b2, torch.cross(b1, b2, dim=-1)], -1)


@numpy_io
def axis_rotation(axis: int, angle):
    """Rotation by `angle` (radians, any shape) about coordinate axis 0, 1 or 2."""
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    rows = {
        0: [one, zero, zero, zero, c, -s, zero, s, c],
        1: [c, zero, s, zero, one, zero, -s, zero, c],
        2: [c, -s, zero, s, c, zero, zero, zero, one],
    }[axis]
    return torch.stack(rows, -1).reshape(angle.shape + (3, 3))


def _parse_order(order: str) -> tuple[int, int, int]:
    axes = tuple(_AXIS.get(a) for a in order.upper())
    if len(axes) != 3 or None in axes or len(set(axes)) != 3:
        raise ValueError(f"Euler order must be a permutation of 'XYZ', got {order!r}")
    return axes


@numpy_io
def euler_to_matrix(angles, order: str):
    """(..., 3) angles in radians, order e.g. "ZXY" -> R_Z(a0) @ R_X(a1) @ R_Y(a2)."""
    i, j, k = _parse_order(order)
    return axis_rotation(i, angles[..., 0]) @ axis_rotation(j, angles[..., 1]) @ axis_rotation(k, angles[..., 2])


@numpy_io
def matrix_to_euler(R, order: str):
    """Inverse of `euler_to_matrix`; the middle angle lies in [-pi/2, pi/2].

    At gimbal lock (middle angle +-90 deg) the last angle is set to zero.
    """
    i, j, k = _parse_order(order)
    s = 1.0 if (j - i) % 3 == 1 else -1.0  # +1 for cyclic orders (XYZ, YZX, ZXY)
    cos_b = torch.sqrt(R[..., i, i] ** 2 + R[..., i, j] ** 2)
    b = torch.atan2(s * R[..., i, k], cos_b)
    locked = cos_b < 1e-9
    a = torch.where(
        locked,
        torch.atan2(s * R[..., k, j], R[..., j, j]),
        torch.atan2(-s * R[..., j, k], R[..., k, k]),
    )
    c = torch.where(locked, torch.zeros_like(b), torch.atan2(-s * R[..., i, j], R[..., i, i]))
    return torch.stack([a, b, c], -1)


@numpy_io
def geodesic_angle(R1, R2):
    """Angle in radians of the rotation taking R1 to R2, accurate at 0 and at pi, with a
    finite gradient at 0 (the one definition: metrics and training losses use it)."""
    M = R1.transpose(-1, -2) @ R2
    sin = torch.stack([M[..., 2, 1] - M[..., 1, 2], M[..., 0, 2] - M[..., 2, 0], M[..., 1, 0] - M[..., 0, 1]], -1)
    cos = (M[..., 0, 0] + M[..., 1, 1] + M[..., 2, 2] - 1) / 2
    return torch.atan2((sin.square().sum(-1) + 1e-30).sqrt() / 2, cos)


@numpy_io
def swing_twist(R):
    """Split R = swing @ twist, twist a rotation about the bone's Y axis.

    Returns (swing (..., 3, 3), twist angle in radians in [-pi, pi]). The swing is the
    smallest rotation taking Y to R @ Y; the twist is what positions cannot see.
    """
    q = matrix_to_quaternion(R)
    twist = 2 * torch.atan2(q[..., 2], q[..., 0])
    twist = torch.remainder(twist + math.pi, 2 * math.pi) - math.pi
    swing = R @ axis_rotation(1, twist).transpose(-1, -2)
    return swing, twist


@numpy_io
def rotation_between(a, b):
    """Smallest rotation taking direction a to direction b, (..., 3) -> (..., 3, 3).

    Opposite directions get a half turn about an axis perpendicular to a; a zero
    vector on either side gives the identity.
    """
    degenerate = (a.norm(dim=-1) < 1e-12) | (b.norm(dim=-1) < 1e-12)
    a, b = _normalize(a), _normalize(b)
    c = (a * b).sum(-1)[..., None, None]
    v = torch.cross(a, b, dim=-1)
    zero = torch.zeros_like(v[..., 0])
    K = torch.stack([zero, -v[..., 2], v[..., 1], v[..., 2], zero, -v[..., 0], -v[..., 1], v[..., 0], zero], -1)
    K = K.reshape(v.shape[:-1] + (3, 3))
    eye = _eye_like(a, a.shape[:-1])
    opposite = c < -1 + 1e-9
    R = eye + K + K @ K / torch.where(opposite, torch.ones_like(c), 1 + c)
    # Half turn for opposite vectors, about a axis perpendicular to a.
    helper = torch.zeros_like(a).scatter_(-1, a.abs().argmin(-1, keepdim=True), 1.0)
    axis = _normalize(torch.cross(a, helper, dim=-1))
    half_turn = 2 * axis[..., :, None] * axis[..., None, :] - eye
    R = torch.where(opposite, half_turn, R)
    return torch.where(degenerate[..., None, None], eye, R)


@numpy_io
def bone_to_world_local(R, frames):
    """Local rotations relative to the bone's rest frame -> world-aligned (BVH) ones."""
    return frames @ R @ frames.transpose(-1, -2)


@numpy_io
def world_to_bone_local(L, frames):
    """World-aligned (BVH) local rotations -> relative to the bone's rest frame."""
    return frames.transpose(-1, -2) @ L @ frames


@numpy_io
def rebase_local_rotations(R, frames_from, frames_to):
    """Express the same motion on a rig whose bones have other rest frames (rolls)."""
    return world_to_bone_local(bone_to_world_local(R, frames_from), frames_to)


@numpy_io
def continuous_quaternions(q):
    """(T, ..., 4) quaternions over time (axis 0) with signs flipped so that each is in the
    hemisphere of the one before: the same rotations, without the jumps that interpolating
    keys between q and -q would show."""
    flips = (q[1:] * q[:-1]).sum(-1) < 0
    signs = torch.cumprod(torch.where(flips, -1.0, 1.0).to(q.dtype), 0)
    return torch.cat([q[:1], q[1:] * signs[..., None]])


@numpy_io
def smooth_rotations(R, sigma: float):
    """(T, ..., 3, 3) rotations smoothed over time (axis 0) by a Gaussian of `sigma` frames
    (0: unchanged): continuous quaternions averaged, then normalised. The window is cut at
    the clip's ends and renormalised, so the first and last frames are not pulled to rest."""
    if sigma <= 0 or R.shape[0] < 2:
        return R
    q = continuous_quaternions(matrix_to_quaternion(R))
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=q.dtype)
    weights = torch.exp(-0.5 * (offsets / sigma) ** 2)
    T = q.shape[0]
    total = torch.zeros_like(q)
    norm = torch.zeros((T,) + (1,) * (q.ndim - 1), dtype=q.dtype)
    for offset, w in zip(offsets.long().tolist(), weights, strict=True):
        lo, hi = max(0, -offset), min(T, T - offset)
        if lo >= hi:  # a window wider than the clip: this offset reaches no frame
            continue
        total[lo:hi] += w * q[lo + offset : hi + offset]
        norm[lo:hi] += w
    return quaternion_to_matrix(total / norm)


@numpy_io
def nearest_rotation(M):
    """(..., 3, 3) nearly orthonormal matrices -> the nearest rotations (SVD projection)."""
    U, _, Vh = torch.linalg.svd(M)
    fix = torch.ones_like(M[..., 0])
    fix[..., 2] = torch.det(U @ Vh)
    return U @ (fix[..., None] * Vh)
