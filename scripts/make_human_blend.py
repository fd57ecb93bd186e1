"""Make a .blend for the person demo: Rigify's basic human ("human", the metarig as
Rigify adds it: never used in training), its rest pose keyed at frame 0 as the reference
(a person standing), and the scene's frames 1..N at the video's rate for N video frames.

    .venv/bin/python scripts/make_human_blend.py examples/sports2d.mp4 out/demo/human.blend
"""

from __future__ import annotations

import sys
from pathlib import Path

import bpy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from model.video import video_info  # noqa: E402


def main(video: str, out: str) -> None:
    import addon_utils  # (Blender's, importable once bpy is)

    info = video_info(video)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    addon_utils.enable("rigify", default_set=True)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, info.frames
    scene.render.fps, scene.render.fps_base = round(info.fps), round(info.fps) / info.fps
    bpy.ops.object.armature_basic_human_metarig_add()
    obj = bpy.context.active_object
    obj.name = "human"
    obj.animation_data_create().action = bpy.data.actions.new("human reference")
    for bone in obj.pose.bones:
        bone.rotation_mode = "QUATERNION"
        bone.keyframe_insert("rotation_quaternion", frame=0)
    scene.frame_set(0)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(Path(out).resolve()), compress=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
