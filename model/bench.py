"""Speed benchmarks: median of several runs, printed as a markdown table.

python -m model.bench                    # IK baseline and FK, J = 30 / 70 / 175
python -m model.bench --frames 2000 --runs 7
"""

from __future__ import annotations

import argparse
import functools
import platform
import statistics
import sys
import time

import torch

from model.data.procedural import random_motion, random_skeleton
from model.ik import solve_rotations
from model.kinematics import forward_kinematics


def median_seconds(fn, runs: int) -> float:
    fn()  # warm-up: caches, allocator
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model.bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--joints", nargs="+", type=int, default=[30, 70, 175], help="skeleton sizes (default: 30 70 175)")
    parser.add_argument("--frames", type=int, default=1000, help="frames per clip (default: 1000)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per case; the median is reported (default: 5)")
    args = parser.parse_args(argv)
    if args.frames < 2 or args.runs < 1:
        parser.error("--frames must be at least 2 and --runs at least 1")

    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    print(f"{args.frames} frames per clip, median of {args.runs} runs (float64 numpy in and out)\n")
    print("| joints | IK solve (s) | IK frames/s | FK (s) | FK frames/s |")
    print("|---:|---:|---:|---:|---:|")
    for J in args.joints:
        motion = random_motion(random_skeleton(J, J), args.frames, seed=J)
        sk, P, R = motion.skeleton, motion.positions(), motion.local_rotations
        ik_s = median_seconds(functools.partial(solve_rotations, sk, P, P[0], R[0]), args.runs)
        fk_s = median_seconds(functools.partial(forward_kinematics, sk, R), args.runs)
        print(f"| {J} | {ik_s:.3f} | {args.frames / ik_s:,.0f} | {fk_s:.3f} | {args.frames / fk_s:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
