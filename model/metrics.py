"""The metrics of DESIGN.md section 3, the one definition every table uses.

- rotation error: mean geodesic angle (deg) between predicted and true local rotations,
  over frames and joints (root included), skipping joints that never move;
- twist error: the same for the twist about the bone's Y axis (swing-twist) of moving
  single-child and leaf bones, the part that joint positions cannot determine;
- MPJPE: mean joint position error in cm, root-relative, after scaling the rest skeleton
  to fit a 1 m cube;
- PA-MPJPE (`pa_mpjpe_cm`): MPJPE of some joints after each frame's prediction is aligned
  to the truth by the best similarity (Procrustes: rotation, uniform scale, translation),
  what monocular human pose benchmarks report: the pose's shape, whatever its place,
  size and heading;
- body turn error (`body_turn_error`): the angle (deg) of that alignment's rotation, how
  far the whole predicted body is turned from the truth (mostly which way it faces);
- angular velocity error: mean norm (deg/frame) of the difference between predicted and
  true per-frame angular velocity (axis-angle of R_t^T R_t+1) of moving joints;
- per joint class (`class_errors`), by what the children's heads determine (`ik.joint_kinds`),
  on the bones' world frames (where each bone points and how it is turned in the scene, so
  a parent's twist error is not counted again at its children): multi-child joints (whole
  frame), single-child bones split into swing (the angle between the predicted and true
  directions to the child) and twist (what is left about that direction), leaves (whole frame).
"""

from __future__ import annotations

import numpy as np

from . import ik
from .kinematics import forward_kinematics
from .rotations import geodesic_angle, matrix_to_axis_angle, rotation_between, swing_twist
from .skeleton import Skeleton

STILL_DEG = 1e-3  # a joint whose true rotation never leaves this angle of its first frame is "still"


def moving_joints(true_rotations: np.ndarray, tolerance_deg: float = STILL_DEG) -> np.ndarray:
    """(J,) bool: joints whose true local rotation changes during the clip."""
    drift = np.degrees(geodesic_angle(true_rotations[:1], true_rotations))
    return drift.max(axis=0) > tolerance_deg


def rotation_error(pred: np.ndarray, true: np.ndarray) -> float:
    mask = moving_joints(true)
    return float(np.degrees(geodesic_angle(pred[:, mask], true[:, mask])).mean()) if mask.any() else float("nan")


def twist_error(pred: np.ndarray, true: np.ndarray, skeleton: Skeleton) -> float:
    mask = moving_joints(true) & (skeleton.num_children <= 1)
    if not mask.any():
        return float("nan")
    return float(_twist_diff_deg(pred[:, mask], true[:, mask]).mean())


JOINT_CLASSES = ("multi-child", "single-child swing", "single-child twist", "leaf")


def _twist_diff_deg(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    diff = swing_twist(pred)[1] - swing_twist(true)[1]
    return np.degrees(np.abs(np.angle(np.exp(1j * diff))))


def class_errors(pred: np.ndarray, true: np.ndarray, skeleton: Skeleton) -> dict[str, float]:
    """Mean error (deg) per joint class over moving joints; NaN where a class is empty."""
    kind, principal = ik.joint_kinds(skeleton)
    G_pred, G_true = forward_kinematics(skeleton, pred)[0], forward_kinematics(skeleton, true)[0]
    h, B = skeleton.rest_heads, skeleton.rest_frames
    to_child = (B.swapaxes(-1, -2) @ (h[principal] - h)[..., None])[..., 0]  # bone-local
    d_pred, d_true = ((G @ to_child[..., None])[..., 0] for G in (G_pred, G_true))
    swing = np.degrees(np.arccos(np.clip((_unit(d_pred) * _unit(d_true)).sum(-1), -1, 1)))
    twist = np.degrees(geodesic_angle(rotation_between(d_pred, d_true) @ G_pred, G_true))
    whole = np.degrees(geodesic_angle(G_pred, G_true))
    moving = moving_joints(true)
    out = {}
    for name, kind_value, error in zip(
        JOINT_CLASSES, (ik.PROCRUSTES, ik.SWING, ik.SWING, ik.LEAF), (whole, swing, twist, whole), strict=True
    ):
        mask = moving & (kind == kind_value)
        out[name] = float(error[:, mask].mean()) if mask.any() else float("nan")
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def mpjpe_cm(pred_positions: np.ndarray, true_positions: np.ndarray, skeleton: Skeleton) -> float:
    root = skeleton.roots[0]
    pred = pred_positions - pred_positions[:, root : root + 1]
    true = true_positions - true_positions[:, root : root + 1]
    return float(np.linalg.norm(pred - true, axis=-1).mean() * 100.0 / skeleton.scale)


def _alignment(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The per-frame similarity that best maps the centred `pred` (T, N, 3) onto the
    centred `true` (Kabsch for row vectors, P @ R ~ Q): P, Q, R (T, 3, 3), scale (T,)."""
    P, Q = pred - pred.mean(1, keepdims=True), true - true.mean(1, keepdims=True)
    U, S, Vt = np.linalg.svd(P.swapaxes(-1, -2) @ Q)
    d = np.ones_like(S)
    d[:, 2] = np.sign(np.linalg.det(U @ Vt))  # a rotation, never a reflection
    R = (U * d[:, None]) @ Vt
    scale = (S * d).sum(-1) / np.maximum((P**2).sum((1, 2)), 1e-12)
    return P, Q, R, scale


def pa_mpjpe_cm(pred: np.ndarray, true: np.ndarray, skeleton: Skeleton) -> float:
    """(T, N, 3) points, any units and axes for `pred`, the skeleton's for `true` -> cm at
    1 m scale after the per-frame similarity alignment; frames where `pred` is not finite
    (nobody found) are left out, NaN if none is left."""
    seen = np.isfinite(pred).all((-1, -2))
    if not seen.any():
        return float("nan")
    P, Q, R, scale = _alignment(pred[seen], true[seen])
    aligned = scale[:, None, None] * P @ R
    return float(np.linalg.norm(aligned - Q, axis=-1).mean() * 100.0 / skeleton.scale)


def body_turn_error(pred: np.ndarray, true: np.ndarray) -> float:
    """(T, J, 3) joint positions -> how far the whole body is turned from the truth, in
    degrees: per frame, the angle of the rotation that best turns the predicted joints onto
    the true ones (both centred), averaged over frames. Which way a subject faces is what
    a monocular view leaves most open; MPJPE mixes it with the pose's shape."""
    R = _alignment(pred, true)[2]
    return float(np.degrees(np.arccos(np.clip((np.trace(R, axis1=-2, axis2=-1) - 1) / 2, -1.0, 1.0))).mean())


def angular_velocity(rotations: np.ndarray) -> np.ndarray:
    """(T-1, J, 3) per-frame rotation vectors in radians."""
    return matrix_to_axis_angle(rotations[:-1].swapaxes(-1, -2) @ rotations[1:])


def angular_velocity_error(pred: np.ndarray, true: np.ndarray) -> float:
    mask = moving_joints(true)
    if pred.shape[0] < 2 or not mask.any():
        return float("nan")
    diff = angular_velocity(pred[:, mask]) - angular_velocity(true[:, mask])
    return float(np.degrees(np.linalg.norm(diff, axis=-1)).mean())
