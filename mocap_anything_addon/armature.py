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

from model.kinematics import local_from_world
from model.pipeline import CaptureError
from model.rotations import nearest_rotation
from model.skeleton import Skeleton, SkeletonError, default_tails, parent_first_order

from . import keys


def _world_transform(obj) -> tuple[np.ndarray, np.ndarray]:
    """(rotation, rotation and uniform scale) of the object in the world, 3x3 each. A world
    scale that is uneven or mirrors (its own or a parent's) is refused, naming the object."""
    M = np.array(obj.matrix_world, dtype=np.float64)[:3, :3]
    scale = np.linalg.norm(M, axis=0)
    uneven = not np.allclose(scale, scale[0], rtol=1e-5) or np.abs(M.T @ M - np.diag(scale**2)).max() > 1e-5 * scale.max() ** 2
    if uneven or np.linalg.det(M) <= 0:
        culprit, o = obj, obj
        while o is not None:
            if not np.allclose(o.scale, o.scale[0], rtol=1e-5) or np.prod(o.scale) <= 0:
                culprit = o
                break
            o = o.parent
        kind = "unevenly" if uneven else "negatively (mirrored)"
        raise SkeletonError(
            f"armature {obj.name!r} is scaled {kind} in the world {tuple(np.round(scale, 4))}"
            + (f" by {culprit.name!r}" if culprit is not obj else "")
            + f": apply the scale of {culprit.name!r} (Ctrl+A > Scale), or scale it by the same positive factor on every axis"
        )
    return M / scale[0], M


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
    W, M = _world_transform(obj)
    return Skeleton(
        parents=parents,
        rest_heads=matrices[order, :3, 3] @ M.T,
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
    _refuse(
        obj,
        constrained,
        "have active constraints, which would override the captured rotations: disable or remove them, or capture "
        "onto a constraint-free deform rig",
    )
    data = obj.animation_data
    if data is not None and data.use_tweak_mode:
        raise CaptureError(f"{obj.name!r} is in NLA tweak mode: leave it (Tab in the NLA editor) and capture again")
    if data is not None and any(not t.mute for t in data.nla_tracks):
        if data.action_blend_type != "REPLACE" or data.action_influence < 1:
            raise CaptureError(
                f"{obj.name!r} blends its action over the NLA ({data.action_blend_type.title()}, influence "
                f"{data.action_influence:g}), which would mix the captured keys with the strips: set the action's "
                "blending to Replace at influence 1 (NLA editor, Sidebar > Animated Influence) and capture again"
            )
    driven = sorted({name for fc in (data.drivers if data else ()) if (name := keys.bone_of(fc.data_path))})
    _refuse(
        obj,
        driven,
        "have drivers on their rotation, which would override the captured keys: remove the drivers (or capture onto "
        "a copy of the rig without them)",
    )
    locked = [b.name for b in obj.pose.bones if any(b.lock_rotation) or (b.lock_rotations_4d and b.lock_rotation_w)]
    _refuse(
        obj,
        locked,
        "have locked rotation channels, which a capture would key anyway: unlock them (Sidebar > Item > Transform) "
        "to capture every rotation",
    )
    try:
        _world_transform(obj)
    except SkeletonError as error:
        raise CaptureError(str(error)) from None


def _refuse(obj, bones: list[str], why: str) -> None:
    if bones:
        listed = ", ".join(bones[:4]) + (", ..." if len(bones) > 4 else "")
        raise CaptureError(f"{len(bones)} bone(s) of {obj.name!r} ({listed}) {why}")


def rotation_modes(obj, names: list[str]) -> list[str]:
    return [obj.pose.bones[n].rotation_mode for n in names]


def scene_of(obj):
    """The scene an object is in (the first, if several)."""
    if not obj.users_scene:
        raise CaptureError(f"{obj.name!r} is in no scene")
    return obj.users_scene[0]


def hinge_bones(obj, names: list[str]) -> np.ndarray:
    """(J,) bool: bones with Inherit Rotation off, which Blender turns from their rest frame
    alone (`model.kinematics.local_from_world`)."""
    return np.array([not obj.data.bones[n].use_inherit_rotation for n in names])


def evaluated_pose(obj, skeleton: Skeleton, frames) -> tuple[np.ndarray, np.ndarray]:
    """Joint heads (T, J, 3) in world orientation (object translation dropped) and local
    rotations (T, J, 3, 3) in the model's convention, from the world frames Blender
    evaluates at `frames` (`pose_bone.matrix`: keys, NLA, drivers and every inherit setting
    included), with the armature in Pose Position for the reading. The scene is put back
    on its current frame, and the armature in the position it had, afterwards."""
    scene, bones = scene_of(obj), obj.pose.bones
    J = len(bones)
    world, heads = np.empty((len(frames), J * 16), np.float32), np.empty((len(frames), J * 3), np.float32)
    current, position = (scene.frame_current, scene.frame_subframe), obj.data.pose_position
    try:
        obj.data.pose_position = "POSE"
        for t, frame in enumerate(frames):
            scene.frame_set(int(frame))
            bones.foreach_get("matrix", world[t])
            bones.foreach_get("head", heads[t])
    finally:
        obj.data.pose_position = position
        scene.frame_set(current[0], subframe=current[1])
    order = [bones.find(n) for n in skeleton.names]
    G = world.reshape(-1, J, 4, 4).transpose(0, 1, 3, 2)[:, order, :3, :3].astype(np.float64)
    G = G / np.linalg.norm(G, axis=-2, keepdims=True)  # bone scale keys leave the rotation
    W, M = _world_transform(obj)
    rotations = nearest_rotation(local_from_world(skeleton, W @ G))
    return heads.reshape(-1, J, 3)[:, order].astype(np.float64) @ M.T, rotations


def reference_source(obj):
    """(action, slot) holding the user's own animation: the assigned action, or, when that is
    an earlier capture, the action it replaced (never a capture's own keys); (None, None)
    where the rig's animation is in the NLA only."""
    data = obj.animation_data
    action = data.action if data else None
    if action is None or keys.SOURCE_KEY not in action:
        return action, keys.slot_of(obj, action) if action else None
    if action[keys.SOURCE_KEY] == "":  # captured against the NLA alone
        return None, None
    source = bpy.data.actions.get(action[keys.SOURCE_KEY])
    if source is None:
        raise CaptureError(
            f"{obj.name!r} has the capture {action.name!r} assigned and the action it replaced is gone: assign your own "
            "animation, with the reference pose keyed, before capturing again"
        )
    slot = next((s for s in source.slots if s.identifier == action.get(keys.SOURCE_SLOT_KEY)), None) if keys.SLOTTED else None
    return source, slot or keys.slot_of(obj, source)


def reference_pose(obj, skeleton: Skeleton, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """The pose of the user's own animation at a keyed frame (`reference_source`): joint
    heads (J, 3) and local rotations (J, 3, 3), as `evaluated_pose` gives them. An earlier
    capture assigned is swapped out for the reading and put back."""
    source, slot = reference_source(obj)
    keyed = keys.keyed_frames(obj, source, slot)
    if frame not in keyed:
        near = f"; keyed frames include {sorted(keyed)[:8]}" if keyed else "; the armature has no rotation keys at all"
        raise CaptureError(
            f"reference frame {frame} of {obj.name!r} is not keyed{near}. Pose the rig to match the video at that "
            "frame and key the rotations of all bones (Pose Mode, select all, I)"
        )
    data = obj.animation_data
    assigned = (data.action, keys.slot_of(obj, data.action)) if data and data.action else (None, None)
    swap = source != assigned[0]  # an earlier capture is assigned: read without it
    try:
        if swap:
            keys.assign_only(obj, source, slot)
        heads, rotations = evaluated_pose(obj, skeleton, [frame])
    finally:
        if swap:
            keys.assign_only(obj, *assigned)
    return heads[0], rotations[0]
