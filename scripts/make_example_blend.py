"""Make examples/creature.blend from examples/creature.npz: the rig as an armature
("creature"), its reference pose keyed at frame 0 (the frame just before the video, as the
rig was posed there), the scene's frames 1-60 for the video's 60 frames, and the ground
truth of the video as an action of its own ("creature truth", fake user), for twist
errors and the grey skeleton in previews.

    .venv/bin/python scripts/make_example_blend.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import bpy
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mocap_anything_addon import keys  # noqa: E402
from mocap_anything_addon.armature import armature_from_skeleton  # noqa: E402
from model.capture import load_rig  # noqa: E402
from model.rotations import matrix_to_quaternion  # noqa: E402


def main() -> None:
    skeleton, ref_positions, ref_rotations, truth = load_rig(ROOT / "examples" / "creature.npz")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end, scene.render.fps = 1, len(truth), 30
    obj = armature_from_skeleton(skeleton, "creature", scene)
    obj.animation_data_create().action = bpy.data.actions.new("creature reference")
    root = skeleton.roots[0]
    for j, name in enumerate(skeleton.names):
        bone = obj.pose.bones[name]
        bone.rotation_mode = "QUATERNION"
        bone.rotation_quaternion = matrix_to_quaternion(ref_rotations[j]).tolist()
        bone.keyframe_insert("rotation_quaternion", frame=0)
    location = skeleton.rest_frames[root].T @ (ref_positions[root] - skeleton.rest_heads[root])
    obj.pose.bones[skeleton.names[root]].location = location.tolist()
    obj.pose.bones[skeleton.names[root]].keyframe_insert("location", frame=0)
    frames = np.arange(1, len(truth) + 1)
    modes = ["QUATERNION"] * skeleton.num_joints
    action, _ = keys.new_action(obj, "creature truth", frames, truth, skeleton.names, modes)
    action.use_fake_user = True
    scene.frame_set(0)
    bpy.ops.wm.save_as_mainfile(filepath=str(ROOT / "examples" / "creature.blend"), compress=True)


if __name__ == "__main__":
    main()
