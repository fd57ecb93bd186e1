"""Evaluate rotation solvers on the named evaluation sets and print markdown tables.

    python -m model.evaluate                       # IK baseline and shipped network, every set
    python -m model.evaluate --noise 0 1 2 --out results.md
    python -m model.evaluate --solvers ik --weights a.safetensors b.safetensors   # any checkpoints

Every table has the do-nothing predictor (`hold`: the reference pose held for every frame)
and the analytic IK (`ik`) beside the network, on the same data. Each clip's reference
pair is frame `--reference-frame` (exact, as a keyed frame is), or with `--rest-reference`
the rig's rest pose (what a rig keyed at rest gives; that frame is still left out);
the solver sees the other frames' joint heads (with optional Gaussian noise of the
given standard deviation per coordinate, in cm at 1 m scale) and is scored on them.
With `--tips` it also sees where each leaf bone ends (`model.tips`: every clip on its
skeleton with leaf tips, noised alike); the tips, which never turn, are not scored as
joints, but the MPJPE of the result counts them.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import ik, metrics
from .data import zeroad
from .data.evalsets import OPTIONAL_SETS, SETS, load_set
from .data.motion import Motion
from .kinematics import forward_kinematics

Solver = Callable[..., np.ndarray]  # (skeleton, positions, ref_positions, ref_rotations) -> rotations


def network_solver(weights: str | None = None) -> Solver:
    """The shipped P2R network, or the checkpoint at `weights`, as a solver."""
    from . import network

    net = network.Network.load(network.POSE2ROT_WEIGHTS if weights is None else weights)
    return lambda sk, positions, ref_positions, ref_rotations: net.pose_to_rotation(sk, ref_positions, ref_rotations, positions)


def hold_reference(skeleton, positions, ref_positions, ref_rotations) -> np.ndarray:
    """The do-nothing predictor: the reference pose for every frame."""
    return np.broadcast_to(ref_rotations, (len(positions), *np.shape(ref_rotations))).copy()


SOLVERS: dict[str, Callable[[], Solver]] = {
    "hold": lambda: hold_reference,
    "ik": lambda: ik.solve_rotations,
    "network": network_solver,
}
COLUMNS = (
    "rotation error (deg)",
    "twist error (deg)",
    "MPJPE of result (cm)",
    "angular velocity error (deg/frame)",
    *(f"{c} (deg)" for c in metrics.JOINT_CLASSES),
)


@dataclass
class Row:
    clip: str
    joints: int
    frames: int
    values: tuple[float, ...]  # in COLUMNS order


def evaluate_clip(
    solver: Solver, motion: Motion, *, noise_cm: float = 0.0, reference_frame: int = 0, seed: int = 0, rest: bool = False
) -> tuple[float, ...]:
    sk = motion.skeleton
    if not 0 <= reference_frame < motion.num_frames:
        raise ValueError(f"reference frame {reference_frame} outside the clip's {motion.num_frames} frames")
    true_positions = motion.positions()
    others = np.delete(np.arange(motion.num_frames), reference_frame)
    if others.size == 0:
        raise ValueError("a clip needs frames besides the reference frame")
    noisy = true_positions[others] + np.random.default_rng(seed).normal(
        0.0, noise_cm / 100.0 * sk.scale, (others.size, sk.num_joints, 3)
    )
    pair = sk.rest_reference() if rest else (true_positions[reference_frame], motion.local_rotations[reference_frame])
    pred = solver(sk, noisy, *pair)
    true = motion.local_rotations[others]
    result_positions = forward_kinematics(sk, pred)[1]
    return (
        metrics.rotation_error(pred, true),
        metrics.twist_error(pred, true, sk),
        metrics.mpjpe_cm(result_positions, true_positions[others], sk),
        metrics.angular_velocity_error(pred, true),
        *metrics.class_errors(pred, true, sk).values(),
    )


def evaluate_set(
    solver: Solver,
    clips: list[tuple[str, Motion]],
    *,
    noise_cm: float,
    max_frames: int | None,
    reference_frame: int,
    rest: bool = False,
) -> list[Row]:
    rows = []
    for i, (name, motion) in enumerate(clips):
        if max_frames:
            motion = motion.frames(slice(0, max_frames))
        values = evaluate_clip(solver, motion, noise_cm=noise_cm, reference_frame=reference_frame, seed=i, rest=rest)
        rows.append(Row(name, motion.skeleton.num_joints, motion.num_frames, values))
    return rows


def _fmt(x: float) -> str:
    return "n/a" if np.isnan(x) else f"{x:.2f}"


def mean_values(rows: list[Row]) -> tuple[float, ...]:
    """Mean over clips of each column (clips where a metric does not apply are skipped)."""
    return tuple(
        float(np.nanmean(col)) if not np.isnan(col).all() else float("nan") for col in zip(*(r.values for r in rows), strict=True)
    )


def row_table(rows: list[Row], columns: tuple[str, ...] = COLUMNS) -> str:
    lines = ["| clip | joints | frames | " + " | ".join(columns) + " |", "|---|---:|---:|" + "---:|" * len(columns)]
    lines += [f"| {r.clip} | {r.joints} | {r.frames} | " + " | ".join(map(_fmt, r.values)) + " |" for r in rows]
    lines.append("| **mean over clips** | | | " + " | ".join(f"**{_fmt(v)}**" for v in mean_values(rows)) + " |")
    return "\n".join(lines)


def label(checkpoint: str, checkpoints: list[str]) -> str:
    """A checkpoint's name in the tables: its stem, or its folder and stem where another of
    `checkpoints` has the same stem (training runs all save `pose2rot`)."""
    path = Path(checkpoint)
    others = {Path(c) for c in checkpoints if Path(c) != path}
    return f"{path.parent.name}/{path.stem}" if path.stem in {c.stem for c in others} else path.stem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model.evaluate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sets",
        nargs="+",
        default=[s for s in SETS if s not in OPTIONAL_SETS or zeroad.available()],
        choices=SETS,
        metavar="SET",
        help=f"evaluation sets (default: all of {', '.join(SETS)}; "
        f"{' and '.join(OPTIONAL_SETS)} where scripts/fetch_0ad.sh has cached them)",
    )
    parser.add_argument(
        "--solvers",
        nargs="+",
        default=list(SOLVERS),
        choices=sorted(SOLVERS),
        help="built-in solvers (default: hold ik network)",
    )
    parser.add_argument("--weights", nargs="+", default=[], help="also evaluate these network checkpoints (named by file stem)")
    parser.add_argument(
        "--noise", nargs="+", type=float, default=[0.0], metavar="CM", help="position noise levels, cm at 1 m scale (default: 0)"
    )
    parser.add_argument("--max-frames", type=int, default=None, help="use at most this many frames of each clip")
    parser.add_argument(
        "--reference-frame", type=int, default=0, help="frame of each clip used as the reference pair (default: 0)"
    )
    parser.add_argument(
        "--rest-reference",
        action="store_true",
        help="the rig's rest pose as every clip's reference pair (local rotations identity)",
    )
    parser.add_argument("--tips", action="store_true", help="the solvers also see where each leaf bone ends (model.tips)")
    parser.add_argument("--out", help="also write the tables to this markdown file")
    args = parser.parse_args(argv)
    if any(n < 0 for n in args.noise):
        parser.error("noise levels must be >= 0")

    solvers = {name: SOLVERS[name]() for name in args.solvers}
    named = {label(w, args.weights): w for w in args.weights}
    if len(named) < len(args.weights) or set(named) & set(args.solvers):  # one would replace another in the tables
        parser.error("two solvers get the same name in the tables (a checkpoint twice, or one named like a solver)")
    solvers.update({name: network_solver(w) for name, w in named.items()})
    sections, summary = [], {}
    for set_name in args.sets:
        print(f"loading {set_name} ...", file=sys.stderr, flush=True)
        clips = [(name, motion.with_tips() if args.tips else motion) for name, motion in load_set(set_name)]
        for noise in args.noise:
            for name, solver in solvers.items():
                start = time.perf_counter()
                rows = evaluate_set(
                    solver,
                    clips,
                    noise_cm=noise,
                    max_frames=args.max_frames,
                    reference_frame=args.reference_frame,
                    rest=args.rest_reference,
                )
                print(
                    f"  {set_name}, noise {noise:g} cm, {name}: {len(rows)} clips in {time.perf_counter() - start:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
                summary[(set_name, noise, name)] = mean_values(rows)
                sections.append(f"### {set_name}, solver `{name}`, noise {noise:g} cm\n\n{row_table(rows)}\n")

    head = ["| set | noise (cm) | solver | " + " | ".join(COLUMNS) + " |", "|---|---:|---|" + "---:|" * len(COLUMNS)]
    head += [f"| {s} | {n:g} | {name} | " + " | ".join(map(_fmt, v)) + " |" for (s, n, name), v in summary.items()]
    text = "## Mean over clips\n\n" + "\n".join(head) + "\n\n" + "\n".join(sections)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
