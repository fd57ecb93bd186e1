"""The same world motion on a randomised rig: other rest pose, bone lengths, rolls and heading.

A real clip comes on one rig in one convention; training on it as it is would teach the
network that convention. `randomise_rig` keeps what the body does and changes how the
rig describes it (DESIGN.md section 5: always randomised rolls and rest poses):

- rest pose: the old rest posed by random local rotations (up to `rest_deg`) becomes the
  new rest, so bones point elsewhere at rest and the local rotations change accordingly;
- bone lengths: each bone's offset from its parent scaled by a random factor;
- rolls: each rest frame turned about its own Y (bone) axis by a random angle;
- heading: the whole clip turned about the world's up axis.

With world frames G and rest frames B, a roll r turns both the rest and the posed frame:
B' = B_posed-rest @ Ry(r) and G' = G @ Ry(r) (the posed-rest delta cancels in G'), and
the local rotations follow from R'_j = B'_j^T B'_p G'_p^T G'_j.
"""

from __future__ import annotations

import numpy as np

from ..kinematics import forward_kinematics, local_from_world
from ..rotations import axis_angle_to_matrix, axis_rotation
from ..skeleton import Skeleton
from .motion import Motion


def _random_rotations(rng: np.random.Generator, n: int, max_deg: float) -> np.ndarray:
    axes = rng.normal(size=(n, 3))
    axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
    return axis_angle_to_matrix(axes * np.radians(rng.uniform(0, max_deg, (n, 1))))


def randomise_rig(
    motion: Motion, rng: np.random.Generator, *, rest_deg: float = 25.0, lengths=(0.8, 1.25), yaw: bool = True
) -> Motion:
    sk = motion.skeleton
    J, p = sk.num_joints, sk.parents
    G = forward_kinematics(sk, motion.local_rotations)[0]
    G_rest, heads = (a[0] for a in forward_kinematics(sk, _random_rotations(rng, J, rest_deg)[None]))
    offsets = (heads - heads[np.maximum(p, 0)]) * rng.uniform(*lengths, (J, 1))
    new_heads = heads.copy()
    for j in range(J):  # parents come first
        if p[j] >= 0:
            new_heads[j] = new_heads[p[j]] + offsets[j]
    roll = axis_rotation(1, rng.uniform(-np.pi, np.pi, J))
    rig = Skeleton(p, new_heads, G_rest @ roll, sk.names)
    moved = Motion(rig, local_from_world(rig, G @ roll), motion.root_translation, motion.fps)
    return moved.rotated(axis_rotation(2, np.array(rng.uniform(-np.pi, np.pi)))) if yaw else moved
