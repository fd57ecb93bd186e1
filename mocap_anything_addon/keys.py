"""Keyframes in and out of actions: bulk writing, reading back, Blender 4.2 to 5.x.

Blender 4.4 made actions "slotted" (layers > strips > one channelbag of F-curves per
slot) and 5.0 removed the old `Action.fcurves`; `_channelbag` hides the difference. Keys
are written per F-curve in bulk (`keyframe_points.add` + `foreach_set`), never one by one.
"""

from __future__ import annotations

import bpy
import numpy as np

from model.rotations import (
    axis_angle_to_matrix,
    continuous_quaternions,
    euler_to_matrix,
    matrix_to_axis_angle,
    matrix_to_euler,
    matrix_to_quaternion,
    quaternion_to_matrix,
)

SLOTTED = bpy.app.version >= (4, 4, 0)
PROPERTIES = {"QUATERNION": ("rotation_quaternion", 4), "AXIS_ANGLE": ("rotation_axis_angle", 4)}
EULER = ("rotation_euler", 3)
REST_VALUES = {"rotation_quaternion": (1.0, 0.0, 0.0, 0.0), "rotation_axis_angle": (0.0, 0.0, 1.0, 0.0)}
_AXIS = {"X": 0, "Y": 1, "Z": 2}


def channel_fcurves(action, slot):
    """The F-curves of `slot` in `action` (None where it has none yet), any Blender version."""
    if not SLOTTED:
        return action.fcurves
    from bpy_extras.anim_utils import action_get_channelbag_for_slot

    bag = action_get_channelbag_for_slot(action, slot)
    return bag.fcurves if bag is not None else None


def slot_of(obj, action):
    """The slot `obj` uses in `action` (when assigned), else the action's first object slot;
    None before 4.4."""
    if not SLOTTED:
        return None
    data = obj.animation_data
    if data is not None and data.action == action and data.action_slot is not None:
        return data.action_slot
    return next((s for s in action.slots if s.target_id_type == "OBJECT"), None)


def assigned_fcurves(obj):
    """The F-curves driving `obj` now (its action and, on 4.4+, its slot), or None."""
    data = obj.animation_data
    if data is None or data.action is None:
        return None
    return channel_fcurves(data.action, slot_of(obj, data.action))


def bone_of(data_path: str) -> str | None:
    if data_path.startswith('pose.bones["') and ".rotation_" in data_path:
        return data_path[len('pose.bones["') : data_path.rindex('"]')]
    return None


def _keyed(fcurves, to_scene, within=(-np.inf, np.inf)) -> set[int]:
    frames = set()
    for fc in fcurves or []:
        if bone_of(fc.data_path) is not None and len(fc.keyframe_points):
            co = np.empty(2 * len(fc.keyframe_points), np.float32)
            fc.keyframe_points.foreach_get("co", co)
            scene = [to_scene(f) for f in co[0::2].astype(float)]
            frames.update(int(round(f)) for f in scene if abs(f - round(f)) < 1e-4 and within[0] <= f <= within[1])
    return frames


def keyed_frames(obj, action=None, slot=None) -> set[int]:
    """Scene frames at which bone rotations are keyed: in `action` (its `slot`), or, with
    none, in the actions of the NLA's unmuted strips (their keys mapped to scene time)."""
    if action is not None:
        return _keyed(channel_fcurves(action, slot), lambda f: f)
    frames = set()
    for track in obj.animation_data.nla_tracks if obj.animation_data else ():
        for strip in () if track.mute else track.strips:
            if strip.action is not None and not strip.mute:
                # The first pass of the strip (repeats and reversal are not followed).
                to_scene = lambda f, s=strip: s.frame_start + (f - s.action_frame_start) * s.scale  # noqa: E731
                within = (strip.frame_start, strip.frame_end)
                frames |= _keyed(channel_fcurves(strip.action, strip.action_slot if SLOTTED else None), to_scene, within)
    return frames


def channels(mode: str) -> tuple[str, int]:
    """The pose-bone property holding a rotation in `mode`, and its length."""
    return PROPERTIES.get(mode, EULER)


def to_channels(R: np.ndarray, mode: str) -> np.ndarray:
    """(T, 3, 3) local rotations -> (T, n) values of the bone's rotation property in `mode`,
    continuous over time (quaternions in one hemisphere, Euler angles unwrapped)."""
    if mode == "QUATERNION":
        return continuous_quaternions(matrix_to_quaternion(R))
    if mode == "AXIS_ANGLE":
        v = matrix_to_axis_angle(R)
        angle = np.linalg.norm(v, axis=-1, keepdims=True)
        axis = np.where(angle > 1e-12, v / np.maximum(angle, 1e-12), [0.0, 1.0, 0.0])
        return np.concatenate([angle, axis], -1)
    # Blender's order "XYZ" applies X first: R = R_Z @ R_Y @ R_X, our product order "ZYX".
    product = mode[::-1]
    angles = matrix_to_euler(R, product)
    values = np.empty_like(angles)
    for k, letter in enumerate(product):
        values[:, _AXIS[letter]] = angles[:, k]
    return np.unwrap(values, axis=0)


def from_channels(values: np.ndarray, mode: str) -> np.ndarray:
    """Inverse of `to_channels`: (T, n) property values -> (T, 3, 3)."""
    if mode == "QUATERNION":
        return quaternion_to_matrix(values)
    if mode == "AXIS_ANGLE":
        return axis_angle_to_matrix(values[:, 1:] / np.linalg.norm(values[:, 1:], axis=-1, keepdims=True) * values[:, :1])
    product = mode[::-1]
    return euler_to_matrix(values[:, [_AXIS[letter] for letter in product]], product)


def _path(bone: str, prop: str) -> str:
    return f'pose.bones["{bpy.utils.escape_identifier(bone)}"].{prop}'


def new_action(obj, name: str, frames: np.ndarray, rotations: np.ndarray, names: list[str], modes: list[str]):
    """A new action (with a slot for `obj` on 4.4+) keying `rotations` (T, J, 3, 3) of bones
    `names` at scene `frames` (T,), each bone in its rotation mode. Not assigned to anything."""
    action = bpy.data.actions.new(name)
    slot = None
    if SLOTTED:
        slot = action.slots.new(id_type="OBJECT", name=obj.name)
        bag = action.layers.new("Layer").strips.new(type="KEYFRAME").channelbag(slot, ensure=True)
    co = np.empty(2 * len(frames), np.float32)
    co[0::2] = frames
    for j, bone in enumerate(names):
        prop, n = channels(modes[j])
        values = to_channels(rotations[:, j], modes[j])
        if SLOTTED:
            group = bag.groups.new(bone)
        for i in range(n):
            if SLOTTED:
                fc = bag.fcurves.new(_path(bone, prop), index=i)
                fc.group = group
            else:
                fc = action.fcurves.new(_path(bone, prop), index=i, action_group=bone)
            fc.keyframe_points.add(len(frames))
            co[1::2] = values[:, i]
            fc.keyframe_points.foreach_set("co", co)
            fc.update()  # handles
    return action, slot


SOURCE_KEY = "mocap_anything_source"  # on a capture's action: the name of the action it replaced
SOURCE_SLOT_KEY = "mocap_anything_source_slot"  # ... and that action's slot (Blender 4.4+)
PATH_KEY = "mocap_anything_path"  # ... and which path the capture took, and why
STASH = "[Action Stash]"  # Blender's own name for a muted NLA track that keeps an action


def assign_only(obj, action, slot) -> None:
    """Make `action` (with `slot`; None: nothing) drive `obj`, and nothing else."""
    data = obj.animation_data or obj.animation_data_create()
    data.action = action
    if SLOTTED and action is not None and slot is not None:
        data.action_slot = slot


def assign(obj, action, slot) -> None:
    """Make the capture `action` drive `obj`, keeping the action it replaces safe, its keys
    untouched: the user's own action with a fake user (one, on it only), an earlier capture
    stashed in a muted NLA track (as Blender's Action editor stashes), so that captures
    never pile up fake users and none is lost when the file is saved."""
    data = obj.animation_data or obj.animation_data_create()
    old = data.action
    if old is not None:
        if SOURCE_KEY in old:
            track = data.nla_tracks.new()
            track.name, track.mute = STASH, True
            strip = track.strips.new(old.name, int(old.frame_range[0]), old)
            if SLOTTED and data.action_slot is not None:
                strip.action_slot = data.action_slot
        elif not old.use_fake_user:
            old.use_fake_user = True
    assign_only(obj, action, slot)


def read_rotations(action, slot, frames, names: list[str], modes: list[str]) -> np.ndarray:
    """The local rotations (T, J, 3, 3) an action gives bones `names` at `frames`; channels
    it does not key are at rest."""
    fcurves = channel_fcurves(action, slot)
    out = np.empty((len(frames), len(names), 3, 3))
    for j, bone in enumerate(names):
        prop, n = channels(modes[j])
        values = np.empty((len(frames), n))
        for i in range(n):
            fc = fcurves.find(_path(bone, prop), index=i) if fcurves is not None else None
            rest = REST_VALUES.get(prop, (0.0,) * 3)[i]
            values[:, i] = [fc.evaluate(f) for f in frames] if fc is not None else rest
        out[:, j] = from_channels(values, modes[j])
    return out
