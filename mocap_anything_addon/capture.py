"""The two main-thread halves of a capture, shared by the operator, the Python API and the
command line: `prepare` (check everything, copy what the worker needs out of Blender) and
`write` (the result as a new action). Neither changes the scene unless it succeeds."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import keys
from .armature import check_armature, reference_pose, rotation_modes, scene_of, skeleton_from_armature
from .job import VIEWS, CaptureError, Request, video_frames
from .model.network import resolve_device
from .model.video import VideoError

DEVICES = ("AUTO", "CPU", "CUDA")


def prepare(
    obj,
    video_path: str,
    *,
    reference_frame: int | None = None,
    frame_start: int | None = None,
    frame_end: int | None = None,
    video_start: int = 0,
    stride: int = 1,
    view: str = "FRONT",
    device: str = "AUTO",
    smoothing: float = 0.0,
) -> tuple[Request, int]:
    """Check the input and read the rig: (the worker's request, the scene frame of its first
    captured frame). Video frame `video_start + k * stride` lands on scene frame
    `frame_start + k`; `frame_start` defaults to the scene's start, `frame_end` to as far
    as the video goes. Raises `CaptureError` with what to do."""
    check_armature(obj)
    if view not in VIEWS:
        raise CaptureError(f"view must be one of {', '.join(VIEWS)}, got {view!r}")
    if device.upper() not in DEVICES:
        raise CaptureError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    try:
        resolve_device(device)
    except RuntimeError as error:  # CUDA asked for, none seen
        raise CaptureError(str(error)) from None
    if stride < 1 or video_start < 0 or smoothing < 0:
        raise CaptureError("stride must be >= 1, the video start >= 0 and smoothing >= 0")
    path = os.path.abspath(os.path.expanduser(video_path or ""))
    try:
        available = max(0, video_frames(path) - video_start + stride - 1) // stride
    except VideoError as error:
        raise CaptureError(str(error)) from None
    scene = scene_of(obj)
    start = scene.frame_start if frame_start is None else frame_start
    count = available if frame_end is None else frame_end - start + 1
    if count < 1:
        raise CaptureError(f"the frame range {start}-{frame_end} is empty")
    if count > available:
        raise CaptureError(
            f"{Path(path).name} has {available} frames from video frame {video_start} at stride {stride}, "
            f"but scene frames {start}-{start + count - 1} need {count}: shorten the range or leave the end unset"
        )
    skeleton = skeleton_from_armature(obj)
    frame = scene.frame_current if reference_frame is None else reference_frame
    ref_positions, ref_rotations = reference_pose(obj, skeleton, frame)
    request = Request(skeleton, ref_positions, ref_rotations, path, video_start, count, stride, view, device.upper(), smoothing)
    return request, start


def write(obj, request: Request, rotations: np.ndarray, frame_start: int):
    """Key `rotations` into a new action named after the video, assigned to `obj` (the
    action it had keeps a fake user and is not touched). Returns the action."""
    frames = frame_start + np.arange(len(rotations))
    names = request.skeleton.names
    action, slot = keys.new_action(
        obj, f"{Path(request.video).stem} capture", frames, rotations, names, rotation_modes(obj, names)
    )
    action.use_fake_user = True  # a later capture onto the same rig must not orphan this one
    keys.assign(obj, action, slot)
    return action
