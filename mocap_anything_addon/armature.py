"""Armature -> model adapter: Blender bones and poses as `Skeleton` arrays.

Everything is read in bulk (`foreach_get`) and expressed in world orientation: the
object's world rotation is folded into heads and frames, its translation dropped
(DESIGN.md section 3). `check_armature` refuses, with what to do, the rigs a capture
cannot be written onto faithfully.
"""

from __future__ import annotations

import bpy
import numpy as np
from mathutils import Matrix

from . import keys
from model.pipeline import CaptureError
from model.skeleton import Skeleton, SkeletonError, default_tails, parent_first_order


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


def armature_from_skeleton(skeleton: Skeleton, name: str, scene, tails: np.ndarray | None = None):
    """A new armature object in `scene` with the skeleton's bones (rest heads and frames,
    rolls included; tails from `default_tails` unless given), linked and left in Object Mode."""
    tails = default_tails(skeleton) if tails is None else tails
    obj = bpy.data.objects.new(name, bpy.data.armatures.new(name))
    scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    bones = []
    for j in range(skeleton.num_joints):
        eb = obj.data.edit_bones.new(skeleton.names[j])
        eb.head, eb.tail = (0, 0, 0), (0, float(np.linalg.norm(tails[j] - skeleton.rest_heads[j])), 0)
        M = np.eye(4)
        M[:3, :3], M[:3, 3] = skeleton.rest_frames[j], skeleton.rest_heads[j]
        eb.matrix = Matrix(M.tolist())
        if skeleton.parents[j] >= 0:
            eb.parent = bones[skeleton.parents[j]]
        bones.append(eb)
    bpy.ops.object.mode_set(mode="OBJECT")
    return obj


def check_armature(obj) -> None:
    """Raise `CaptureError` for what a capture cannot handle faithfully."""
    if obj is None or obj.type != "ARMATURE":
        kind = "nothing" if obj is None else f"{obj.name!r} ({obj.type.lower()})"
        raise CaptureError(f"select an armature to capture onto; {kind} is active")
    if obj.library is not None or obj.data.library is not None:
        source = (obj.library or obj.data.library).filepath
        raise CaptureError(f"{obj.name!r} is linked from {source}; make it local or a library override first")
    if len(obj.data.bones) == 0:
        raise CaptureError(f"armature {obj.name!r} has no bones")
    constrained = [b.name for b in obj.pose.bones if any(c.enabled and c.influence > 0 for c in b.constraints)]
    if constrained:
        listed = ", ".join(constrained[:4]) + (", ..." if len(constrained) > 4 else "")
        raise CaptureError(
            f"{len(constrained)} bone(s) of {obj.name!r} have active constraints ({listed}); they would override "
            "the captured rotations: disable or remove them, or capture onto a constraint-free deform rig"
        )
    try:
        _world_rotation(obj)
    except SkeletonError as error:
        raise CaptureError(str(error)) from None


def rotation_modes(obj, names: list[str]) -> list[str]:
    return [obj.pose.bones[n].rotation_mode for n in names]


def scene_of(obj):
    """The scene an object is in (the first, if several)."""
    if not obj.users_scene:
        raise CaptureError(f"{obj.name!r} is in no scene")
    return obj.users_scene[0]


def evaluated_pose(obj, skeleton: Skeleton, frames) -> tuple[np.ndarray, np.ndarray]:
    """Joint heads (T, J, 3) in world orientation (object translation dropped) and local
    rotations (T, J, 3, 3), the rotation part of `matrix_basis`, as Blender evaluates the
    scene at `frames`. The scene is put back on its current frame afterwards."""
    scene, bones = scene_of(obj), obj.pose.bones
    J = len(bones)
    basis, heads = np.empty((len(frames), J * 16), np.float32), np.empty((len(frames), J * 3), np.float32)
    current = scene.frame_current, scene.frame_subframe
    try:
        for t, frame in enumerate(frames):
            scene.frame_set(int(frame))
            bones.foreach_get("matrix_basis", basis[t])
            bones.foreach_get("head", heads[t])
    finally:
        scene.frame_set(current[0], subframe=current[1])
    order = [bones.find(n) for n in skeleton.names]
    basis = basis.reshape(-1, J, 4, 4).transpose(0, 1, 3, 2)[:, order, :3, :3].astype(np.float64)
    rotations = basis / np.linalg.norm(basis, axis=-2, keepdims=True)  # bone scale keys leave the rotation
    return heads.reshape(-1, J, 3)[:, order].astype(np.float64) @ _world_rotation(obj).T, rotations


def reference_pose(obj, skeleton: Skeleton, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """The pose at a keyed frame: joint heads (J, 3) and local rotations (J, 3, 3), as
    `evaluated_pose` gives them."""
    keyed = keys.keyed_frames(obj)
    if frame not in keyed:
        near = f"; keyed frames include {sorted(keyed)[:8]}" if keyed else "; the armature has no rotation keys at all"
        raise CaptureError(
            f"reference frame {frame} of {obj.name!r} is not keyed{near}. Pose the rig to match the video at that "
            "frame and key the rotations of all bones (Pose Mode, select all, I)"
        )
    heads, rotations = evaluated_pose(obj, skeleton, [frame])
    return heads[0], rotations[0]
