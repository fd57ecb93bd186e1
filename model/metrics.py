"""The metrics of DESIGN.md section 3, the one definition every table uses.

- rotation error: mean geodesic angle (deg) between predicted and true local rotations,
  over frames and joints (root included), skipping joints that never move;
- twist error: the same for the twist about the bone's Y axis (swing-twist) of moving
  single-child and leaf bones, the part that joint positions cannot determine;
- MPJPE: mean joint position error in cm, root-relative, after scaling the rest skeleton
  to fit a 1 m cube;
- angular velocity error: mean norm (deg/frame) of the difference between predicted and
  true per-frame angular velocity (axis-angle of R_t^T R_t+1) of moving joints.
"""

from __future__ import annotations

import numpy as np

from .rotations import geodesic_angle, matrix_to_axis_angle, swing_twist
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
    diff = swing_twist(pred[:, mask])[1] - swing_twist(true[:, mask])[1]
    return float(np.degrees(np.abs(np.angle(np.exp(1j * diff)))).mean())


def mpjpe_cm(pred_positions: np.ndarray, true_positions: np.ndarray, skeleton: Skeleton) -> float:
    root = skeleton.roots[0]
    pred = pred_positions - pred_positions[:, root : root + 1]
    true = true_positions - true_positions[:, root : root + 1]
    return float(np.linalg.norm(pred - true, axis=-1).mean() * 100.0 / skeleton.scale)


def angular_velocity(rotations: np.ndarray) -> np.ndarray:
    """(T-1, J, 3) per-frame rotation vectors in radians."""
    return matrix_to_axis_angle(rotations[:-1].swapaxes(-1, -2) @ rotations[1:])


def angular_velocity_error(pred: np.ndarray, true: np.ndarray) -> float:
    mask = moving_joints(true)
    if pred.shape[0] < 2 or not mask.any():
        return float("nan")
    diff = angular_velocity(pred[:, mask]) - angular_velocity(true[:, mask])
    return float(np.degrees(np.linalg.norm(diff, axis=-1)).mean())
