"""The two main-thread halves of a capture, shared by the operator, the Python API and the
command line: `prepare` (check everything, copy what the worker needs out of Blender) and
`write` (the result as a new action). Neither changes the scene unless it succeeds."""

from __future__ import annotations

import os
from pathlib import Path

import bpy

from model.kinematics import forward_kinematics, local_from_world
from model.network import MAX_JOINTS, resolve_device
from model.pipeline import CaptureError, CaptureOptions, CaptureResult, check_rig, plan_frames
from model.video import VideoError, video_info

from . import keys
from .armature import (
    check_armature,
    hinge_bones,
    reference_pose,
    reference_source,
    rotation_modes,
    scene_of,
    skeleton_from_armature,
)
from .job import Request


def video_path(path: str) -> str:
    """A path as the user gave it (`//` relative to the .blend, `~`) made absolute."""
    if not path or not path.strip():
        raise CaptureError("no video was chosen: pick a video file")
    return os.path.abspath(bpy.path.abspath(os.path.expanduser(path)))


def scene_fps(scene) -> float:
    return scene.render.fps / scene.render.fps_base


def prepare(obj, video: str, options: CaptureOptions) -> Request:
    """Check the input and read the rig: the worker's request. Everything a capture can
    refuse is refused here, before any frame is decoded. Raises `CaptureError`."""
    check_armature(obj)
    try:
        resolve_device(options.device)
    except RuntimeError as error:  # CUDA asked for, none seen
        raise CaptureError(str(error)) from None
    path = video_path(video)
    try:
        info = video_info(path)
    except VideoError as error:
        raise CaptureError(str(error)) from None
    scene = scene_of(obj)
    plan = plan_frames(options, info, scene_start=scene.frame_start, scene_fps=scene_fps(scene))
    skeleton = skeleton_from_armature(obj)
    frame = scene.frame_current if options.reference_frame is None else options.reference_frame
    ref_positions, ref_rotations = reference_pose(obj, skeleton, frame)
    check_rig(skeleton, ref_positions, ref_rotations, MAX_JOINTS)
    notes = []
    if obj.data.pose_position == "REST":
        notes.append(f"{obj.name!r} shows its Rest Position: switch it to Pose Position to see the capture")
    return Request(skeleton, ref_positions, ref_rotations, path, plan, options, notes)


def check_unchanged(obj, request: Request) -> None:
    """Before writing a result computed in the background: the rig still takes it."""
    check_armature(obj)
    if skeleton_from_armature(obj).names != request.skeleton.names:
        raise CaptureError(f"the bones of {obj.name!r} changed during the capture; nothing was written: capture again")


def messages(request: Request, result: CaptureResult) -> list[str]:
    """What to tell the user besides success: the request's notes and the capture's warnings."""
    return [*request.notes, *result.warnings]


def write(obj, request: Request, result: CaptureResult):
    """Key the result into a new action named after the video, assigned to `obj`
    (`keys.assign` keeps the action it replaces safe). Bones with Inherit Rotation off get
    the rotations that give the predicted world frames (`model.kinematics.local_from_world`).
    The action records the user's action it was captured against, where later captures
    read their reference, and which path the capture took and why. Returns the action."""
    skeleton, names = request.skeleton, request.skeleton.names
    world = forward_kinematics(skeleton, result.rotations)[0]
    basis = local_from_world(skeleton, world, hinge_bones(obj, names))
    source, source_slot = reference_source(obj)
    action, slot = keys.new_action(
        obj, f"{Path(request.video).stem} capture", result.scene_frames, basis, names, rotation_modes(obj, names)
    )
    action[keys.SOURCE_KEY] = source.name if source is not None else ""
    action[keys.PATH_KEY] = str(result.path)
    if source_slot is not None:
        action[keys.SOURCE_SLOT_KEY] = source_slot.identifier
    keys.assign(obj, action, slot)
    return action
