"""Armature <-> model adapter: Blender bones and poses as `Skeleton` arrays.

Everything is read in bulk (`foreach_get`) and expressed in world orientation: the
object's world rotation is folded into heads and frames, its translation dropped
(DESIGN.md section 3).
"""

from __future__ import annotations

import numpy as np

from model.skeleton import Skeleton, SkeletonError, parent_first_order


def _world_rotation(obj) -> np.ndarray:
    M = np.array(obj.matrix_world, dtype=np.float64)[:3, :3]
    scale = np.linalg.norm(M, axis=0)
    if not np.allclose(scale, 1.0, rtol=1e-5):
        raise SkeletonError(f"armature object {obj.name!r} is scaled {tuple(np.round(scale, 4))}; apply its scale first (Ctrl+A)")
    return M


def bone_order(obj) -> list[str]:
    """Bone names in the parent-first order the skeleton uses."""
    bones = obj.data.bones
    index = {b.name: i for i, b in enumerate(bones)}
    parents = np.array([index[b.parent.name] if b.parent else -1 for b in bones])
    return [bones[i].name for i in parent_first_order(parents)]


def skeleton_from_armature(obj) -> Skeleton:
    """The rest pose of an armature object as a `Skeleton` (bones parent-first)."""
    bones = obj.data.bones
    J = len(bones)
    if J == 0:
        raise SkeletonError(f"armature {obj.name!r} has no bones")
    matrices = np.empty(J * 16, dtype=np.float32)
    bones.foreach_get("matrix_local", matrices)
    matrices = matrices.reshape(J, 4, 4).transpose(0, 2, 1).astype(np.float64)  # stored column-major
    order = [bones.find(name) for name in bone_order(obj)]
    position = {b: i for i, b in enumerate(order)}
    parents = np.array([position[bones.find(bones[b].parent.name)] if bones[b].parent else -1 for b in order])
    W = _world_rotation(obj)
    return Skeleton(
        parents=parents,
        rest_heads=matrices[order, :3, 3] @ W.T,
        rest_frames=W @ matrices[order, :3, :3],
        names=[bones[b].name for b in order],
    )
