"""Blender-side speed and memory, with the extension built and installed as a user gets it:
writing keys (bulk against `keyframe_insert`), a whole capture from the operator call to
keys written, and (`--memory`) the peak memory and wall time of long captures through
`api.capture` (each in a fresh process) and how fast Cancel ends a running job.

    .venv/bin/python build.py --no-wheels && .venv/bin/python scripts/bench_blender.py --runs 3
    .venv/bin/python scripts/bench_blender.py --memory --frames 500 5000 10000

Prints Markdown tables (medians of `--runs`, each after one warm-up run) for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if "BLENDER_USER_RESOURCES" not in os.environ:  # a user folder for this run only, removed at its end
    os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="mocap-bench-user-")
    atexit.register(shutil.rmtree, os.environ["BLENDER_USER_RESOURCES"], ignore_errors=True)
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
            settings.video, settings.device, settings.use_reference_frame = video, "CPU", False
            bpy.context.scene.frame_set(1)
            seconds = median_seconds(lambda: bpy.ops.mocap_anything.capture(), runs)
            print(f"| {joints} | {seconds:.2f} | {120 / seconds:.0f} |")


SIZES = {"640x360": (640, 360), "1080p": (1920, 1080)}
MEMORY_BONES = 30


def long_video(path: str, frames: int, size: tuple[int, int]) -> None:
    """A `frames`-long mp4 of a rendered creature: 120 rendered frames, looped, upscaled."""
    import cv2

    from model.data import render
    from model.data.procedural import random_motion, random_skeleton

    motion = random_motion(random_skeleton(MEMORY_BONES, MEMORY_BONES), 120, seed=MEMORY_BONES)
    rng = np.random.default_rng(MEMORY_BONES)
    images = render.render_clip(motion, render.random_body(rng, motion.skeleton), rng, 96)[0]
    scaled = [cv2.resize(image[..., ::-1], size, interpolation=cv2.INTER_LINEAR) for image in images]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 30.0, size)
    for t in range(frames):
        writer.write(scaled[t % len(scaled)])
    writer.release()


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) / 1024


def keyed_rig(ext):
    obj, sk = fresh_rig(ext, MEMORY_BONES)
    obj.animation_data_create().action = bpy.data.actions.new("reference")
    for bone in obj.pose.bones:
        bone.keyframe_insert("rotation_quaternion", frame=1)
    return obj


def probe_memory(ext, video: str, frames: int) -> None:
    """One capture of `frames` frames in this (fresh) process: peak growth, time, what stays."""
    import gc
    import time

    obj = keyed_rig(ext)
    # A short capture first, so that the baseline holds the weights and torch's warm buffers.
    ext.api.capture(obj, video, reference_frame=1, frame_start=1, frame_end=8, mapping="FRAME", device="CPU")
    obj.animation_data.action = bpy.data.actions["reference"]
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # VmHWM := current resident set
    before, started = _status_mb("VmRSS"), time.perf_counter()
    ext.api.capture(obj, video, reference_frame=1, frame_start=1, frame_end=frames, mapping="FRAME", device="CPU")
    seconds = time.perf_counter() - started
    gc.collect()
    print(f"{_status_mb('VmHWM') - before:.0f} {seconds:.1f} {_status_mb('VmRSS') - before:.0f}")


def bench_memory(frame_counts: list[int]) -> None:
    import subprocess

    print(f"\nLong captures through `api.capture` ({MEMORY_BONES} bones, CPU, fresh process each):\n")
    print("| video | frames | peak growth (MB) | kept after (MB) | seconds | frames/s |\n|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, size in SIZES.items():
            video = f"{tmp}/{name}.mp4"
            long_video(video, max(frame_counts), size)
            for frames in frame_counts:
                out = subprocess.run(
                    [sys.executable, __file__, "--probe", video, str(frames)], capture_output=True, text=True, check=True
                ).stdout.split()
                peak, seconds, kept = float(out[-3]), float(out[-2]), float(out[-1])
                print(f"| {name} | {frames:,} | {peak:.0f} | {kept:.0f} | {seconds:.1f} | {frames / seconds:.0f} |", flush=True)


def bench_cancel(ext, runs: int) -> None:
    """Seconds from Cancel to the job ending, while decoding (at once) and later (mid-clip)."""
    import time

    print(f"\nCancel to job ended ({MEMORY_BONES} bones, 1080p, median of {runs}):\n")
    print("| cancelled | seconds |\n|---|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        video = f"{tmp}/cancel.mp4"
        long_video(video, 600, SIZES["1080p"])
        obj = keyed_rig(ext)
        options = ext.job.CaptureOptions(reference_frame=1, device="CPU")
        for label, after in (("while decoding the first frames", 0.0), ("mid-clip, 3 s in", 3.0)):
            waits = []
            for _ in range(runs):
                job = ext.job.Job(ext.capture.prepare(obj, video, options)).start()
                time.sleep(after)
                stage = job.poll()[1]
                started = time.perf_counter()
                job.cancel()
                job.wait()
                waits.append(time.perf_counter() - started)
                assert job.cancelled, job.error
            print(f"| {label} ({stage.split(',')[0]}) | {sorted(waits)[len(waits) // 2]:.3f} |", flush=True)


def bench_eta(ext) -> None:
    """How right the progress bar's time left is: predicted against actual, at points of the run."""
    import time

    print(f"\nTime left as reported against as it turned out ({MEMORY_BONES} bones, 1,500 frames, 640x360):\n")
    print("| done | reported (s) | actual (s) | ratio |\n|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        video = f"{tmp}/eta.mp4"
        long_video(video, 1500, SIZES["640x360"])
        obj = keyed_rig(ext)
        request = ext.capture.prepare(obj, video, ext.job.CaptureOptions(reference_frame=1, mapping="FRAME", device="CPU"))
        seen = []
        ext.job.solve(request, progress=lambda p: seen.append((time.perf_counter(), p.fraction, p.eta)))
        end = time.perf_counter()
        for share in (0.05, 0.1, 0.25, 0.5, 0.75):
            t, fraction, eta = next(x for x in seen if x[1] >= share and x[2] is not None)
            print(f"| {fraction:.0%} | {eta:.1f} | {end - t:.1f} | {eta / (end - t):.2f} |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="long captures' memory and time, and Cancel, instead")
    parser.add_argument("--frames", nargs="+", type=int, default=[500, 5000, 10000], help="--memory: clip lengths")
    parser.add_argument("--eta", action="store_true", help="only how right the reported time left is")
    parser.add_argument("--probe", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    zips = sorted((ROOT / "dist").glob("mocap_anything-*.zip"), key=lambda p: p.stat().st_mtime)
    if not zips:
        raise SystemExit("bench_blender: run `python build.py --no-wheels` first")
    ext = install(zips[-1])
    for name in ("api", "armature", "capture", "job", "keys", "operators"):
        importlib.import_module(f"{ext.__name__}.{name}")
    if args.probe:
        probe_memory(ext, args.probe[0], int(args.probe[1]))
        return 0
    print(f"Blender {bpy.app.version_string} (bpy module), torch threads {__import__('torch').get_num_threads()}")
    if args.eta:
        bench_eta(ext)
        return 0
    if args.memory:
        bench_memory(args.frames)
        bench_cancel(ext, args.runs)
        bench_eta(ext)
        return 0
    bench_keys(ext, 175, 1000, args.runs, insert_frames=50)
    bench_capture(ext, [30, 75, 175], args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
