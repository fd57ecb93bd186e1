"""Speed and memory benchmarks: medians of several runs, printed as markdown tables.

python -m model.bench                    # IK baseline, shipped P2R network, FK; J = 30 / 70 / 175
python -m model.bench --frames 2000 --runs 7
python -m model.bench --tips             # the solvers also given the leaves' tips (model.tips)
python -m model.bench --video            # a 120-frame 640x360 mp4: decode, V2P, P2R (end-to-end)
python -m model.bench --first-look       # one V2P look at a rig's joints, and at the first look's (model.crop)

Peak memory is measured in a fresh process per case: the resident set's high-water mark
(VmHWM, reset just before the call) while solving a `--memory-frames` clip, minus the
resident set before it (after a warm-up call on a few frames has loaded everything).
Linux only. (ru_maxrss would not do: a child inherits its parent's high-water mark.)
"""

from __future__ import annotations

import argparse
import functools
import platform
import statistics
import subprocess
import sys
import time

import torch

from .data import render
from .data.procedural import random_motion, random_skeleton
from .ik import solve_rotations
from .kinematics import forward_kinematics
from .network import CAPTURE_WEIGHTS, POSE2ROT_WEIGHTS, load_pretrained


def median_seconds(fn, runs: int) -> float:
    fn()  # warm-up: caches, allocator
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def alternate_median_seconds(fns, runs: int) -> list[float]:
    """`median_seconds` of each, their runs taken in turn: a machine whose speed drifts
    slows them alike."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(runs):
        for fn, spent in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]


def solvers():
    net = load_pretrained(path=POSE2ROT_WEIGHTS)
    return {"IK": solve_rotations, "network": lambda sk, P, rp, rr: net.pose_to_rotation(sk, rp, rr, P)}


def clip(joints: int, frames: int, tips: bool = False):
    """A `joints`-bone creature's clip: skeleton, heads, rotations; with `tips`, on the
    skeleton with leaf tips (one more joint per leaf)."""
    motion = random_motion(random_skeleton(joints, joints), frames, seed=joints)
    motion = motion.with_tips() if tips else motion
    return motion.skeleton, motion.positions(), motion.local_rotations


def peak_memory_mb(solver: str, joints: int, frames: int, tips: bool = False) -> float:
    """Run in a fresh process (see the module docstring)."""
    sk, P, R = clip(joints, frames, tips)
    solve = solvers()[solver]
    solve(sk, P[:8], P[0], R[0])
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current resident set
    before_kb = _status_kb("VmRSS")
    solve(sk, P, P[0], R[0])
    return (_status_kb("VmHWM") - before_kb) / 1024


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def video_file(path: str, joints: int, frames: int, size=(640, 360)) -> tuple:
    """A rendered clip of a `joints`-bone creature, upscaled and encoded as mp4."""
    import cv2
    import numpy as np

    motion = random_motion(random_skeleton(joints, joints), frames, seed=joints)  # as `clip` makes it
    rng = np.random.default_rng(joints)
    images = render.render_clip(motion, render.random_body(rng, motion.skeleton), rng, 96)[0]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 30.0, size)
    for image in images:
        writer.write(cv2.resize(image[..., ::-1], size, interpolation=cv2.INTER_LINEAR))
    writer.release()
    return motion.skeleton, motion.positions()[0], motion.local_rotations[0]


def bench_video(joints: list[int], frames: int, runs: int, weights: str = str(CAPTURE_WEIGHTS)) -> None:
    import tempfile

    from .pipeline import CaptureOptions, capture_video, plan_frames
    from .video import video_info

    net = load_pretrained(path=weights)
    options = CaptureOptions(device="CPU")
    print(f"{frames}-frame 640x360 mp4 clip through the capture pipeline (decode, V2P, P2R), median of {runs} runs\n")
    print("| joints | capture (s) | frames/s |")
    print("|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for J in joints:
            path = f"{tmp}/clip{J}.mp4"
            sk, ref_p, ref_r = video_file(path, J, frames)
            info = video_info(path)
            plan = plan_frames(options, info, scene_start=0, scene_fps=info.fps)
            run = functools.partial(capture_video, net, path, sk, ref_p, ref_r, plan, options)
            total = median_seconds(run, runs)
            print(f"| {J} | {total:.2f} | {frames / total:.0f} |", flush=True)


def look_once(stages, images: torch.Tensor) -> torch.Tensor:
    """Video-to-Pose's stages (`Network.video_stages`) over frames at once."""
    for fn, _ in stages:
        images = fn(images)
    return images


def bench_first_look(joints: list[int], frames: int, runs: int, weights: str = str(CAPTURE_WEIGHTS)) -> None:
    """One V2P look at `frames` frames for every joint of the rig, and for the joints the
    capture's first look places (`crop.first_look_joints`)."""
    import numpy as np

    from .crop import first_look_joints

    net = load_pretrained(path=weights)
    images = torch.rand(frames, 3, net.image_size, net.image_size, generator=torch.Generator().manual_seed(0))
    print(f"one V2P look at {frames} frames, median of {runs} runs\n")
    print("| joints | all joints (s) | first look's joints | first look (s) | ratio |")
    print("|---:|---:|---:|---:|---:|")
    for J in joints:
        sk = random_skeleton(J, J)
        body = np.unique(first_look_joints(sk))
        looks = [net.video_stages(sk, sk.rest_heads), net.video_stages(sk.subset(body), sk.rest_heads[body])]
        whole, first = alternate_median_seconds([functools.partial(look_once, look, images) for look in looks], runs)
        print(f"| {J} | {whole:.3f} | {body.size} | {first:.3f} | {first / whole:.2f} |", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model.bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--joints", nargs="+", type=int, default=[30, 70, 175], help="skeleton sizes (default: 30 70 175)")
    parser.add_argument("--frames", type=int, default=1000, help="frames per clip (default: 1000)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per case; the median is reported (default: 5)")
    parser.add_argument("--memory-frames", type=int, default=2000, help="clip length for peak memory (default: 2000)")
    parser.add_argument("--tips", action="store_true", help="the solvers also see the leaves' tips (model.tips)")
    parser.add_argument("--video", action="store_true", help="time video capture (decode, V2P, P2R) instead")
    parser.add_argument("--first-look", action="store_true", help="time one V2P look at all joints and the first look's")
    parser.add_argument(
        "--weights", default=str(CAPTURE_WEIGHTS), help="--video: the end-to-end checkpoint (default: the shipped one)"
    )
    parser.add_argument("--video-frames", type=int, default=120, help="frames of the --video clip (default: 120)")
    parser.add_argument("--memory-probe", nargs=2, metavar=("SOLVER", "JOINTS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.frames < 2 or args.runs < 1 or args.memory_frames < 2:
        parser.error("--frames and --memory-frames must be at least 2 and --runs at least 1")
    if args.memory_probe:
        print(f"{peak_memory_mb(args.memory_probe[0], int(args.memory_probe[1]), args.memory_frames, args.tips):.1f}")
        return 0

    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    if args.video:
        bench_video(args.joints, args.video_frames, args.runs, args.weights)
        return 0
    if args.first_look:
        bench_first_look(args.joints, 12, args.runs, args.weights)
        return 0
    tipped = ", with leaf tips (one more joint per leaf)" if args.tips else ""
    print(f"{args.frames} frames per clip{tipped}, median of {args.runs} runs (float64 numpy in and out)\n")
    print("| joints | IK (s) | IK frames/s | network (s) | network frames/s | FK (s) | FK frames/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    solve = solvers()
    for J in args.joints:
        sk, P, R = clip(J, args.frames, args.tips)
        times = [median_seconds(functools.partial(fn, sk, P, P[0], R[0]), args.runs) for fn in solve.values()]
        times.append(median_seconds(functools.partial(forward_kinematics, sk, R), args.runs))
        print(f"| {J} | " + " | ".join(f"{t:.3f} | {args.frames / t:,.0f}" for t in times) + " |", flush=True)

    print(f"\nPeak memory growth while solving a {args.memory_frames}-frame clip (MB, fresh process each)\n")
    print("| joints | " + " | ".join(solve) + " |")
    print("|---:|" + "---:|" * len(solve))
    for J in args.joints:
        cells = []
        for name in solve:
            probe = ["--memory-probe", name, str(J), "--memory-frames", str(args.memory_frames)] + ["--tips"] * args.tips
            cells.append(
                subprocess.run(
                    [sys.executable, "-m", "model.bench", *probe], capture_output=True, text=True, check=True
                ).stdout.strip()
            )
        print(f"| {J} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
