"""Evaluate video pipelines on a rendered evaluation set and print markdown tables.

    python -m model.evaluate_video --set out/evalset               # the shipped pipelines
    python -m model.evaluate_video --set out/evalset --pipeline my_v2p.safetensors ik

A pipeline is a V2P checkpoint (frames -> positions) followed by a rotation solver: the
analytic IK (`ik`) or a checkpoint with a P2R part. Every clip is decoded from its file
(`model.video.read_video`), and scored on all its frames against the ground truth in
the view frame (MPJPE of the V2P positions; rotation, twist and angular-velocity errors
of the rotations, as `model.metrics` defines them).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from . import ik, metrics
from .data.evalsets import VideoClip, load_video_set
from .evaluate import Row, mean_values, row_table
from .network import CAPTURE_WEIGHTS, POSE2ROT_WEIGHTS, WEIGHTS_DIR, Network
from .video import read_video

VIDEO2POSE_WEIGHTS = WEIGHTS_DIR / "video2pose.safetensors"  # V2P trained alone (stage v2p)
COLUMNS = ("MPJPE of V2P (cm)", "rotation error (deg)", "twist error (deg)", "angular velocity error (deg/frame)")
PIPELINES = {  # name: (V2P checkpoint, rotation solver)
    "end-to-end": (CAPTURE_WEIGHTS, CAPTURE_WEIGHTS),
    "V2P + IK": (CAPTURE_WEIGHTS, "ik"),
    "V2P + P2R trained separately": (VIDEO2POSE_WEIGHTS, POSE2ROT_WEIGHTS),
    "separate V2P + IK": (VIDEO2POSE_WEIGHTS, "ik"),
}


class Pipeline:
    def __init__(self, v2p: str | Path, rotations: str | Path):
        self.v2p = Network.load(v2p)
        self.p2r = None if str(rotations) == "ik" else Network.load(rotations)

    def __call__(self, clip: VideoClip, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sk = clip.skeleton
        positions = self.v2p.video_to_pose(frames, sk, clip.ref_positions, clip.ref_rotations)
        if self.p2r is None:
            return positions, ik.solve_rotations(sk, positions, clip.ref_positions, clip.ref_rotations)
        return positions, self.p2r.pose_to_rotation(sk, clip.ref_positions, clip.ref_rotations, positions)


def rig_of(clip_name: str) -> str:
    """`<rig>.<motion>@<yaw>` -> `<rig>`."""
    return clip_name.split("@")[0].split(".")[0]


def evaluate_clip(pipeline: Pipeline, clip: VideoClip, frames: np.ndarray) -> tuple[float, ...]:
    positions, rotations = pipeline(clip, frames)
    sk = clip.skeleton
    return (
        metrics.mpjpe_cm(positions, clip.heads, sk),
        metrics.rotation_error(rotations, clip.rotations),
        metrics.twist_error(rotations, clip.rotations, sk),
        metrics.angular_velocity_error(rotations, clip.rotations),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model.evaluate_video", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--set", required=True, help="folder of a rendered set (scripts/render_evalset.py)")
    parser.add_argument(
        "--pipeline", nargs=2, action="append", metavar=("V2P", "ROTATIONS"), help="instead of the shipped pipelines"
    )
    parser.add_argument("--out", help="also write the tables to this markdown file")
    args = parser.parse_args(argv)
    chosen = {f"{Path(v).stem} + {Path(r).stem}": (v, r) for v, r in args.pipeline} if args.pipeline else PIPELINES
    pipelines = {name: Pipeline(*paths) for name, paths in chosen.items()}
    clips = load_video_set(args.set)
    videos = [read_video(c.video) for c in clips]
    rows: dict[str, list[Row]] = {name: [] for name in pipelines}
    for name, pipeline in pipelines.items():
        start = time.perf_counter()
        for clip, frames in zip(clips, videos, strict=True):
            rows[name].append(Row(clip.name, clip.skeleton.num_joints, len(frames), evaluate_clip(pipeline, clip, frames)))
        print(f"  {name}: {len(clips)} clips in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)

    head = ["| pipeline | " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * len(COLUMNS)]
    head += [f"| {name} | " + " | ".join(f"{v:.2f}" for v in mean_values(r)) + " |" for name, r in rows.items()]
    groups = sorted({rig_of(c.name) for c in clips})
    by_rig = ["| pipeline | rig | " + " | ".join(COLUMNS) + " |", "|---|---|" + "---:|" * len(COLUMNS)]
    for name, r in rows.items():
        for g in groups:
            sel = [x for x in r if rig_of(x.clip) == g]
            by_rig.append(f"| {name} | {g} | " + " | ".join(f"{v:.2f}" for v in mean_values(sel)) + " |")
    sections = [f"### {name}\n\n{row_table(r, COLUMNS)}\n" for name, r in rows.items()]
    text = (
        f"## Mean over {len(clips)} clips of {args.set}\n\n"
        + "\n".join(head)
        + "\n\n## By rig\n\n"
        + "\n".join(by_rig)
        + "\n\n"
        + "\n".join(sections)
    )
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
