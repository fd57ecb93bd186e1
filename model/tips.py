"""Leaf tips: where each leaf bone ends, as one more joint.

Joint heads fix a bone's swing only where a child's head shows which way the bone points.
A leaf (a hand, a foot, a head, a tail's last bone) has no child, so from heads alone its
rotation is the reference's (the IK) or a guess (the network): with exact positions, the
largest error left (BENCHMARKS.md, "Pose-to-Rotation with leaf tips"). Where the input also
says where each leaf ends (a BVH End Site, a Blender bone's tail), the leaf gets a child,
its *tip*: a joint at the leaf's tail that never turns on its own. The leaf is then a
single-child bone, whose swing the geometry fixes and whose twist is left to the network,
and IK and P2R run unchanged on the skeleton with tips. A tip's own rotation means nothing
(no bone hangs from it): it is the identity, which the metrics and the training loss see
as a joint that never moves.

Tips follow the skeleton's leaves (`leaves`) in order; `tails` are the rest tails of the
rig's bones (J, 3), by default as Blender's BVH importer places them (`default_tails`).
"""

from __future__ import annotations

import numpy as np

from .kinematics import forward_kinematics
from .skeleton import Skeleton, default_tails


def leaves(skeleton: Skeleton) -> np.ndarray:
    """(L,) the joints without children, in order: the tips' order."""
    return np.flatnonzero(skeleton.num_children == 0)


def with_tips(skeleton: Skeleton, tails=None) -> Skeleton:
    """The skeleton with a tip joint at each leaf's rest tail (J + L joints, the tips last),
    each tip's rest frame its leaf's."""
    tails = default_tails(skeleton) if tails is None else np.asarray(tails, dtype=np.float64)
    if tails.shape != (skeleton.num_joints, 3):
        raise ValueError(f"tails must have shape ({skeleton.num_joints}, 3), got {tails.shape}")
    ends = leaves(skeleton)
    names = None if skeleton.names is None else (*skeleton.names, *(f"{skeleton.names[j]}.tip" for j in ends))
    return Skeleton(
        np.r_[skeleton.parents, ends],
        np.r_[skeleton.rest_heads, tails[ends]],
        np.r_[skeleton.rest_frames, skeleton.rest_frames[ends]],
        names,
    )


def with_tip_rotations(rotations: np.ndarray, count: int) -> np.ndarray:
    """Local rotations (..., J, 3, 3) with `count` identity tips appended."""
    rotations = np.asarray(rotations, dtype=np.float64)
    return np.concatenate([rotations, np.broadcast_to(np.eye(3), (*rotations.shape[:-3], count, 3, 3))], -3)


def tip_positions(skeleton: Skeleton, rotations, heads, tails=None) -> np.ndarray:
    """Where the leaves end, (..., L, 3), for local rotations (..., J, 3, 3) and the heads
    (..., J, 3) they pose: each leaf's head plus its rest bone vector turned by its world
    frame."""
    tails = default_tails(skeleton) if tails is None else np.asarray(tails, dtype=np.float64)
    ends = leaves(skeleton)
    bone = (skeleton.rest_frames[ends].swapaxes(-1, -2) @ (tails - skeleton.rest_heads)[ends][..., None])[..., 0]
    frames = forward_kinematics(skeleton, np.asarray(rotations, dtype=np.float64))[0][..., ends, :, :]
    return np.asarray(heads, dtype=np.float64)[..., ends, :] + (frames @ bone[..., None])[..., 0]
