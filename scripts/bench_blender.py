"""Blender-side speed: writing keys (bulk against `keyframe_insert`) and a whole capture from
the operator call to keys written, with the extension built and installed as a user gets it.

    .venv/bin/python build.py --no-wheels && .venv/bin/python scripts/bench_blender.py --runs 3

Prints Markdown tables (medians of `--runs`, each after one warm-up run) for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="mocap-bench-user-"))
sys.path.insert(0, str(ROOT))

import bpy  # noqa: E402
import numpy as np  # noqa: E402

from model.bench import median_seconds, video_file  # noqa: E402
from model.rotations import axis_angle_to_matrix, matrix_to_quaternion  # noqa: E402
from scripts.blender_cli import install  # noqa: E402


def fresh_rig(ext, joints: int):
    from model.data.procedural import random_skeleton

    bpy.ops.wm.read_factory_settings(use_empty=True)
    importlib.import_module("addon_utils").enable(ext.__name__, default_set=True)
    skeleton = random_skeleton(joints, joints)  # as model.bench.video_file makes it
    obj = ext.armature.armature_from_skeleton(skeleton, "rig", bpy.context.scene)
    for bone in obj.pose.bones:
        bone.rotation_mode = "QUATERNION"
    return obj, ext.armature.skeleton_from_armature(obj)


def bench_keys(ext, joints: int, frames: int, runs: int, insert_frames: int) -> None:
    obj, sk = fresh_rig(ext, joints)
    R = axis_angle_to_matrix(np.random.default_rng(0).normal(0, 0.5, (frames, joints, 3)))
    modes = ["QUATERNION"] * joints
    bulk = median_seconds(lambda: ext.keys.new_action(obj, "bulk", np.arange(frames), R, sk.names, modes), runs)

    q = matrix_to_quaternion(R[:insert_frames])
    bones = [obj.pose.bones[n] for n in sk.names]

    def insert():
        obj.animation_data_create().action = bpy.data.actions.new("insert")
        for t in range(insert_frames):
            for j, bone in enumerate(bones):
                bone.rotation_quaternion = q[t, j].tolist()
                bone.keyframe_insert("rotation_quaternion", frame=t)

    per_key = median_seconds(insert, 1) / insert_frames
    print(f"\n{joints} bones x {frames} frames ({4 * joints * frames:,} key values, quaternions):\n")
    print("| method | seconds | ratio |\n|---|---:|---:|")
    print(f"| bulk (`keyframe_points.add` + `foreach_set`), median of {runs} | {bulk:.2f} | 1 |")
    print(
        f"| `keyframe_insert` per bone and frame (timed on {insert_frames} frames, x{frames // insert_frames}) "
        f"| {per_key * frames:.1f} | {per_key * frames / bulk:.0f} |"
    )


def bench_capture(ext, joints_list: list[int], runs: int) -> None:
    print(f"\nWhole capture, 120-frame 640 x 360 mp4, operator call to keys written (median of {runs} after a warm-up):\n")
    print("| bones | seconds | frames/s |\n|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for joints in joints_list:
            video = f"{tmp}/clip{joints}.mp4"
            skeleton = video_file(video, joints, 120)[0]
            obj, sk = fresh_rig(ext, joints)
            assert sk.num_joints == skeleton.num_joints
            obj.animation_data_create().action = bpy.data.actions.new("reference")
            for bone in obj.pose.bones:
                bone.keyframe_insert("rotation_quaternion", frame=1)
            settings = bpy.context.scene.mocap_anything
            settings.video, settings.device, settings.use_current_frame = video, "CPU", True
            bpy.context.scene.frame_set(1)
            seconds = median_seconds(lambda: bpy.ops.mocap_anything.capture(), runs)
            print(f"| {joints} | {seconds:.2f} | {120 / seconds:.0f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    zips = sorted((ROOT / "dist").glob("mocap_anything-*.zip"), key=lambda p: p.stat().st_mtime)
    if not zips:
        raise SystemExit("bench_blender: run `python build.py --no-wheels` first")
    ext = install(zips[-1])
    for name in ("armature", "keys", "operators"):
        importlib.import_module(f"{ext.__name__}.{name}")
    print(f"Blender {bpy.app.version_string} (bpy module), torch threads {__import__('torch').get_num_threads()}")
    bench_keys(ext, 175, 1000, args.runs, insert_frames=50)
    bench_capture(ext, [30, 75, 175], args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
