"""What a captured action gives out: BVH, the twist report for riggers, the preview image.

Twist is the rotation about the bone's own Y axis (swing-twist, `model.rotations`), the
part of a pose that joint positions cannot show; it is where a rig's conventions matter.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import bpy
import cv2
import numpy as np

from model.capture import preview
from model.data.bvh import save_bvh
from model.data.motion import Motion
from model.kinematics import forward_kinematics, local_from_world, world_from_local
from model.rotations import swing_twist
from model.video import iter_frames

from . import keys
from .armature import evaluated_pose, hinge_bones, rotation_modes, skeleton_from_armature


def action_frames(action) -> np.ndarray:
    start, end = action.frame_range
    return np.arange(math.floor(start), math.ceil(end) + 1)


def action_rotations(obj, action, frames=None) -> tuple[np.ndarray, np.ndarray]:
    """(frames (T,), local rotations (T, J, 3, 3)) of `action` on `obj`'s bones, parent-first,
    in the model's convention (each relative to its parent, also for bones with Inherit
    Rotation off, whose keys Blender applies from their rest frame alone)."""
    frames = action_frames(action) if frames is None else np.asarray(frames)
    skeleton = skeleton_from_armature(obj)
    names = skeleton.names
    basis = keys.read_rotations(action, keys.slot_of(obj, action), frames, names, rotation_modes(obj, names))
    hinge = hinge_bones(obj, names)
    return frames, local_from_world(skeleton, world_from_local(skeleton, basis, hinge)) if hinge.any() else basis


def export_bvh(obj, action, path: str | Path) -> Path:
    """The action as BVH (world-aligned rotations, root fixed: the capture is root-relative)."""
    frames, rotations = action_rotations(obj, action)
    render = obj.users_scene[0].render if obj.users_scene else bpy.context.scene.render
    skeleton = skeleton_from_armature(obj)
    path = Path(bpy.path.abspath(str(path)))
    path.parent.mkdir(parents=True, exist_ok=True)
    save_bvh(path, Motion(skeleton, rotations, np.zeros((len(frames), 3)), render.fps / render.fps_base))
    return path


def twist_report(obj, action, truth=None) -> dict:
    """Per bone: twist (degrees) at each frame of `action` and, given a ground-truth action,
    the truth's twist and the error (wrapped difference)."""
    frames, rotations = action_rotations(obj, action)
    twist = np.degrees(swing_twist(rotations)[1])
    report = {"armature": obj.name, "action": action.name, "frames": frames.tolist(), "bones": {}}
    if truth is not None:
        report["truth"] = truth.name
        true_twist = np.degrees(swing_twist(action_rotations(obj, truth, frames)[1])[1])
        error = np.abs((twist - true_twist + 180) % 360 - 180)
    for j, name in enumerate(skeleton_from_armature(obj).names):
        bone = {"twist_deg": twist[:, j].round(3).tolist()}
        if truth is not None:
            bone["truth_twist_deg"] = true_twist[:, j].round(3).tolist()
            bone["mean_error_deg"] = round(float(error[:, j].mean()), 3)
        report["bones"][name] = bone
    return report


def write_twist_report(report: dict, path: str | Path) -> Path:
    """JSON for a `.json` path, otherwise CSV with one row per frame and bone."""
    path = Path(bpy.path.abspath(str(path)))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        return path
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        has_truth = "truth" in report
        out.writerow(["frame", "bone", "twist_deg"] + (["truth_twist_deg", "error_deg"] if has_truth else []))
        for name, bone in report["bones"].items():
            for t, frame in enumerate(report["frames"]):
                row = [frame, name, bone["twist_deg"][t]]
                if has_truth:
                    twist, true = bone["twist_deg"][t], bone["truth_twist_deg"][t]
                    row += [true, round(abs((twist - true + 180) % 360 - 180), 3)]
                out.writerow(row)
    return path


def write_preview(obj, action, video: str, path: str | Path, result, *, truth=None, count=4) -> Path:
    """A PNG of `count` of the action's keys, each a row: the video frame with the joints
    where Video-to-Pose saw them (and the person path's landmarks) | the rig as Blender poses it at that key's scene frame
    (blue; the ground-truth action in grey beneath, if given). `result`: the capture's
    `CaptureResult` (each key's scene frame, the video frame it came from, the joints'
    pixels and the confidence)."""
    scene_frames, video_frames = np.asarray(result.scene_frames), np.asarray(result.video_frames)
    picks = np.linspace(0, len(scene_frames) - 1, min(count, len(scene_frames))).round().astype(int)
    images = [frame for _, frame in iter_frames(video, video_frames[picks])]
    data = obj.animation_data
    if not data or data.action != action:
        raise ValueError(f"{action.name!r} is not the action of {obj.name!r}")
    skeleton = skeleton_from_armature(obj)
    heads = evaluated_pose(obj, skeleton, scene_frames[picks])[0]
    true_heads = None
    if truth is not None:
        true_heads = forward_kinematics(skeleton, action_rotations(obj, truth, scene_frames[picks])[1])[1]
    marks = result.landmarks[picks] if result.landmarks is not None else None
    image = preview(np.array(images), skeleton, heads, true_heads, result.pixels[picks], result.confidence[picks], marks)
    path = Path(bpy.path.abspath(str(path)))
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image[..., ::-1]):
        raise OSError(f"could not write the preview {path} (an image file name: .png or .jpg)")
    return path
