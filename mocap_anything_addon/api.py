"""The Python API: one synchronous capture, the same code path as the button.

    import bpy
    from bl_ext.user_default.mocap_anything import api   # installed as an extension
    action = api.capture(bpy.data.objects["Armature"], "/path/clip.mp4", reference_frame=1)

Usable from `blender --background file.blend --python script.py` and from the `bpy`
module. Raises `CaptureError` (a ValueError) for bad input, with what to do; the scene is
unchanged unless it returns. A video that ends before its header says is captured on
the frames that decode, with a `UserWarning` saying how many.
"""

from __future__ import annotations

import warnings

from model.pipeline import CaptureError, CaptureOptions

from . import capture as _capture
from .job import solve

__all__ = ["capture", "CaptureError"]


def capture(
    armature_object,
    video_path: str,
    *,
    reference_frame: int | None = CaptureOptions.reference_frame,
    frame_start: int | None = CaptureOptions.frame_start,
    frame_end: int | None = CaptureOptions.frame_end,
    view: str = CaptureOptions.view,
    camera_angle: float = CaptureOptions.camera_angle,
    facing: str = CaptureOptions.facing,
    device: str = CaptureOptions.device,
    stride: int = CaptureOptions.stride,
    video_start: int = CaptureOptions.video_start,
    mapping: str = CaptureOptions.mapping,
    subject: str = CaptureOptions.subject,
    person_x: float | None = CaptureOptions.person_x,
    person_y: float | None = CaptureOptions.person_y,
    smoothing: float = CaptureOptions.smoothing,
):
    """Capture `video_path` onto `armature_object`: returns the new `bpy.types.Action`,
    already assigned to it, with a key per bone every `stride` scene frames from
    `frame_start` (default: the scene's start) to `frame_end` (default: as far as the video
    goes). The keywords are `model.pipeline.CaptureOptions`, whose help they share:

    `reference_frame` (default: the current frame) must be keyed with the rig posed as the
    subject is at that frame. `view` is where the camera stood: FRONT, BACK, LEFT or RIGHT
    of the rig, and `camera_angle` the degrees further round (as FRONT turns to RIGHT) where
    it stood between those. `facing` REFERENCE keeps the reference's heading (the body's turn
    about the scene's up), VIDEO takes it from the video too, AUTO takes VIDEO on the person path and
    REFERENCE on the general path. `device` is AUTO (CUDA when torch sees one), CPU or
    CUDA. `mapping` TIME takes for each key the video frame nearest its scene time (from
    `video_start`), FRAME takes video frame n for scene frame n. `subject` is AUTO (the
    person path when the rig is a humanoid and a person is seen), PERSON or OTHER; the action's custom property
    "mocap_anything_path" says which path ran and why, and whom it followed. Where several
    people are filmed, the person path follows the first one found, or the one seen first
    at (`person_x`, `person_y`): fractions of the frame from its left and top edges.
    `smoothing` is a Gaussian sigma in keys (frames at stride 1; 0: none).
    """
    options = CaptureOptions(
        reference_frame=reference_frame,
        frame_start=frame_start,
        frame_end=frame_end,
        video_start=video_start,
        stride=stride,
        mapping=mapping,
        view=view,
        camera_angle=camera_angle,
        facing=facing,
        device=device,
        subject=subject,
        person_x=person_x,
        person_y=person_y,
        smoothing=smoothing,
    )
    request = _capture.prepare(armature_object, video_path, options)
    result = solve(request)
    for text in _capture.messages(request, result):
        warnings.warn(text, UserWarning, stacklevel=2)
    return _capture.write(armature_object, request, result)
