"""The two main-thread halves of a capture, shared by the operator, the Python API and the
command line: `prepare` (check everything, copy what the worker needs out of Blender) and
`write` (the result as a new action). Neither changes the scene unless it succeeds."""

from __future__ import annotations

import os
from pathlib import Path

import bpy

from . import keys
from .armature import check_armature, reference_pose, rotation_modes, scene_of, skeleton_from_armature
from .job import Request
from model.network import MAX_JOINTS, resolve_device
from model.pipeline import CaptureError, CaptureOptions, CaptureResult, check_rig, plan_frames
from model.video import VideoError, video_info


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
    if skeleton.num_joints > MAX_JOINTS:
        raise CaptureError(f"{obj.name!r} has {skeleton.num_joints} bones; at most {MAX_JOINTS} are supported")
    frame = scene.frame_current if options.reference_frame is None else options.reference_frame
    ref_positions, ref_rotations = reference_pose(obj, skeleton, frame)
    check_rig(skeleton, ref_positions, ref_rotations, MAX_JOINTS)
    return Request(skeleton, ref_positions, ref_rotations, path, plan, options)


def write(obj, request: Request, result: CaptureResult):
    """Key the result into a new action named after the video, assigned to `obj` (the
    action it had keeps a fake user and is not touched). Returns the action."""
    names = request.skeleton.names
    action, slot = keys.new_action(
        obj, f"{Path(request.video).stem} capture", result.scene_frames, result.rotations, names, rotation_modes(obj, names)
    )
    action.use_fake_user = True  # a later capture onto the same rig must not orphan this one
    keys.assign(obj, action, slot)
    return action
