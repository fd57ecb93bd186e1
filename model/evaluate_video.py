"""Evaluate video pipelines on a rendered evaluation set and print markdown tables.

    python -m model.evaluate_video --set out/evalset               # the shipped pipelines
    python -m model.evaluate_video --set out/evalset --pipeline my_v2p.safetensors my_p2r.safetensors --no-crop
    python -m model.evaluate_video --set out/evalset-people --person      # people: the person path beside
    python -m model.evaluate_video --set out/tuneset --smoothing 0 1 2 3  # a capture setting, on the tuning set

A pipeline is a V2P checkpoint (frames -> positions) followed by a P2R checkpoint, run
as every capture runs (`model.pipeline.capture_video`, frame by frame from the file); the
analytic IK on the same V2P positions, faced and smoothed alike, is scored beside each (`... + IK`;
`--smoothing` and `--facing` run each pipeline with other options than the capture's), and
so is the do-nothing predictor (the reference pose held, as keyed). Each capture is told
where the camera stood as a user would tell it (the Camera option nearest the clip's
camera), and clips are scored on all their frames against the ground truth in the scene,
where the rig and its reference pose are (MPJPE of the V2P positions; rotation, twist and
angular-velocity errors of the rotations, as `model.metrics` defines them); on rigs
named as a known human skeleton, also the PA-MPJPE of the 12 body joints, and with
`--person` the same for the person detector's own 3D, where it found the person (what
monocular human pose tools give).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from . import humanoid, ik, landmarks, metrics
from .data import humans
from .data.evalsets import VideoClip, load_video_set
from .evaluate import Row, hold_reference, label, mean_values, row_table
from .facing import keep_heading, keeps_heading
from .kinematics import forward_kinematics
from .network import CAPTURE_WEIGHTS, PERSON_WEIGHTS, POSE2ROT_WEIGHTS, WEIGHTS_DIR, Network
from .pipeline import VIEWS, CaptureOptions, CaptureResult, capture_video, option_fields, plan_frames
from .rotations import smooth_rotations
from .video import video_info

VIDEO2POSE_WEIGHTS = WEIGHTS_DIR / "video2pose.safetensors"  # V2P trained alone (stage v2p)
COLUMNS = (
    "MPJPE of V2P (cm)",
    "rotation error (deg)",
    "twist error (deg)",
    "angular velocity error (deg/frame)",
    "2D joint error (% of box)",
    "PA-MPJPE, 12 body joints (cm)",
    "body turn error (deg)",
)
PIPELINES = {  # name: (V2P checkpoint, P2R checkpoint)
    "end-to-end": (CAPTURE_WEIGHTS, CAPTURE_WEIGHTS),
    "V2P + P2R trained separately": (VIDEO2POSE_WEIGHTS, POSE2ROT_WEIGHTS),
}


class WholeFrame:
    """A network seen as one that cannot locate: the pipeline takes its one look at the
    whole frame, no crop (the ablation `--no-crop`)."""

    locates = False

    def __init__(self, net: Network):
        self.net = net

    def __getattr__(self, name):
        return getattr(self.net, name)


class Pipeline:
    """V2P (or with `person`, the person path's network, and with `own_p2r` its own P2R
    where the person checkpoint has one) and P2R checkpoints as one capture."""

    def __init__(
        self,
        v2p: str | Path,
        p2r: str | Path,
        crop: bool = True,
        person: str | Path | None = None,
        subject: str | None = None,
        own_p2r: bool = False,
        smoothing: float = CaptureOptions.smoothing,
        facing: str = CaptureOptions.facing,
        exact_camera: bool = False,
    ):
        parts = {"video2pose": Network.load(v2p).parts["video2pose"], "pose2rot": Network.load(p2r).parts["pose2rot"]}
        if person is not None:
            theirs = Network.load(person).parts
            parts.update({k: v for k, v in theirs.items() if k == "person2pose" or (own_p2r and k == "person2rot")})
        self.subject = subject or ("PERSON" if person is not None else "OTHER")
        self.smoothing, self.facing, self.exact_camera = smoothing, facing, exact_camera
        self.net = Network(parts) if crop else WholeFrame(Network(parts))

    def __call__(self, clip: VideoClip) -> CaptureResult:
        """The clip through the one capture pipeline, every frame, told where the camera stood
        as a user would tell it: the Camera option nearest the clip's camera, and with
        `exact_camera` the Camera Angle that makes up the rest."""
        info = video_info(clip.video)
        off = {v: (clip.camera_yaw - VIEWS[v] + 180) % 360 - 180 for v in VIEWS}
        view = min(VIEWS, key=lambda v: abs(off[v]))
        options = CaptureOptions(
            mapping="FRAME",
            device="CPU",
            view=view,
            camera_angle=off[view] if self.exact_camera else 0.0,
            facing=self.facing,
            subject=self.subject,
            smoothing=self.smoothing,
        )
        plan = plan_frames(options, info, scene_start=0, scene_fps=info.fps)
        result = capture_video(self.net, clip.video, clip.skeleton, clip.ref_positions, clip.ref_rotations, plan, options)
        if self.subject == "AUTO":
            print(f"    {clip.name}: {result.path}", file=sys.stderr, flush=True)
        return result


def rig_of(clip_name: str) -> str:
    """`<rig>.<motion>@<yaw>` -> `<rig>`."""
    return clip_name.split("@")[0].split(".")[0]


def pixel_error(pixels: np.ndarray | None, truth: np.ndarray | None) -> float:
    """Mean distance between where V2P saw each joint and where the camera shows it, in
    percent of the true joints' box (its longer side, per frame), over the frames where it
    placed them (the person path places none where the detector found nobody); NaN
    without both."""
    seen = np.isfinite(pixels).all((-1, -2)) if pixels is not None else np.zeros(0, bool)
    if truth is None or not seen.any():
        return float("nan")
    box = (truth.max(1) - truth.min(1)).max(-1)  # (T,)
    return float((np.linalg.norm(pixels[seen] - truth[seen], axis=-1) / box[seen, None]).mean() * 100)


def body_joints(clip: VideoClip) -> list[int] | None:
    """The rig's joints at a person's shoulders, elbows, wrists, hips, knees and ankles,
    where its bones are named as a known human skeleton's (`humans.ANCHORS`)."""
    anchors = humans.anchors_of(clip.skeleton)
    return None if anchors is None else [anchors[n] for n in humans.BODY_JOINTS]


def scores(clip: VideoClip, positions: np.ndarray, rotations: np.ndarray, pixels: np.ndarray | None = None) -> tuple[float, ...]:
    """A result in the scene (as the capture writes it, and the reference pose is) against the
    truth there."""
    (true_rotations, heads), sk, body = clip.in_scene(), clip.skeleton, body_joints(clip)
    return (
        metrics.mpjpe_cm(positions, heads, sk),
        metrics.rotation_error(rotations, true_rotations),
        metrics.twist_error(rotations, true_rotations, sk),
        metrics.angular_velocity_error(rotations, true_rotations),
        pixel_error(pixels, clip.pixels),
        float("nan") if body is None else metrics.pa_mpjpe_cm(positions[:, body], heads[:, body], sk),
        metrics.body_turn_error(positions, heads),
    )


def detector_scores(clip: VideoClip) -> tuple[float, ...]:
    """The person detector's own monocular 3D (BlazePose's world landmarks), where it found
    the person: PA-MPJPE of the 12 body joints only (NaN on rigs without them)."""
    body, pa = body_joints(clip), float("nan")
    if body is not None:
        marks = landmarks.detect_file(clip.video, range(len(clip.heads)))[:, [landmarks.INDEX[n] for n in humans.BODY_JOINTS]]
        pa = metrics.pa_mpjpe_cm(marks[..., 3:6], clip.heads[:, body], clip.skeleton)
    return (*[float("nan")] * (len(COLUMNS) - 2), pa, float("nan"))


def evaluate_clip(pipeline: Pipeline, clip: VideoClip) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Scores of the pipeline and of the IK on its V2P positions (faced and smoothed alike)."""
    result = pipeline(clip)
    if len(result.rotations) != len(clip.rotations):
        raise ValueError(f"{clip.video} decoded {len(result.rotations)} of its {len(clip.rotations)} frames")
    solved = ik.solve_rotations(clip.skeleton, result.positions, clip.ref_positions, clip.ref_rotations)
    if keeps_heading(pipeline.facing, result.path.path):
        solved = keep_heading(solved, clip.skeleton, clip.ref_rotations)
    solved = smooth_rotations(solved, pipeline.smoothing)
    return scores(clip, result.positions, result.rotations, result.pixels), scores(clip, result.positions, solved, result.pixels)


def at_rest(clip: VideoClip) -> VideoClip:
    """The clip with the rig's rest pose as its reference pair (local rotations identity)."""
    heads, rotations = clip.skeleton.rest_reference()
    return dataclasses.replace(clip, ref_positions=heads, ref_rotations=rotations)


def hold_scores(clip: VideoClip) -> tuple[float, ...]:
    """The do-nothing predictor: the reference pose for every frame."""
    held = hold_reference(clip.skeleton, clip.heads, clip.ref_positions, clip.ref_rotations)
    return scores(clip, forward_kinematics(clip.skeleton, held)[1], held)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model.evaluate_video", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--set", required=True, help="folder of a rendered set (scripts/render_evalset.py)")
    parser.add_argument("--pipeline", nargs=2, action="append", metavar=("V2P", "P2R"), help="instead of the shipped pipelines")
    parser.add_argument("--no-crop", action="store_true", help="also run each pipeline without the crop (one look, whole frame)")
    parser.add_argument(
        "--person",
        nargs="?",
        const=str(PERSON_WEIGHTS),
        help="the person path too (this checkpoint; default the shipped one), with each P2R; only the humanoid clips",
    )
    for option in option_fields():
        if option.name in ("smoothing", "facing"):
            m = option.metadata
            parser.add_argument(
                f"--{option.name}",
                nargs="+",
                type=m["kind"],
                choices=m["choices"],
                default=[option.default],
                help=f"run each pipeline with each of these {m['label']} options (default: the capture's)",
            )
    parser.add_argument(
        "--reference",
        choices=("keyed", "rest"),
        default="keyed",
        help="the reference pair every row is given: the clip's keyed frame (default), or the rig's rest pose, "
        "as a user who keys no pose of the subject gives it",
    )
    parser.add_argument(
        "--exact-camera",
        action="store_true",
        help="tell each capture the clip's camera exactly (Camera and Camera Angle), not only the nearest Camera",
    )
    parser.add_argument("--out", help="also write the tables to this markdown file")
    args = parser.parse_args(argv)
    checkpoints = [c for pipeline in args.pipeline or [] for c in pipeline]
    named = {f"{label(v, checkpoints)} + {label(r, checkpoints)}": (v, r) for v, r in args.pipeline or []}
    if len(named) < len(args.pipeline or []):  # one would replace another in the tables
        parser.error("two --pipeline get the same name in the tables (the same checkpoints twice?)")
    chosen = named or PIPELINES
    kinds = {name: ((v, r), {}) for name, (v, r) in chosen.items()}  # name: (V2P and P2R, Pipeline's options)
    if args.no_crop:
        kinds.update({f"{name}, no crop": (paths, {"crop": False}) for name, paths in chosen.items()})
    clips = load_video_set(args.set)
    if args.reference == "rest":
        clips = [at_rest(c) for c in clips]
    if args.person:
        clips = [c for c in clips if humanoid.check(c.skeleton).ok]
        for p2r in (CAPTURE_WEIGHTS, POSE2ROT_WEIGHTS):
            kinds[f"person path + {Path(p2r).stem} P2R"] = ((CAPTURE_WEIGHTS, p2r), {"person": args.person})
        if Network.load(args.person).has("person2rot"):
            kinds["person path + its own P2R"] = ((CAPTURE_WEIGHTS, CAPTURE_WEIGHTS), {"person": args.person, "own_p2r": True})
        kinds["end-to-end, Subject Auto"] = (
            (CAPTURE_WEIGHTS, CAPTURE_WEIGHTS),
            {"person": args.person, "subject": "AUTO", "own_p2r": True},
        )
    pipelines = {
        name + (f", smoothing {sigma:g}" if sigma else "") + (f", facing {facing}" if len(args.facing) > 1 else ""): Pipeline(
            *paths, **options, smoothing=sigma, facing=facing, exact_camera=args.exact_camera
        )
        for name, (paths, options) in kinds.items()
        for sigma in args.smoothing
        for facing in args.facing
    }
    row = lambda clip, values: Row(clip.name, clip.skeleton.num_joints, len(clip.rotations), values)  # noqa: E731
    rows: dict[str, list[Row]] = {"hold the reference pose": [row(c, hold_scores(c)) for c in clips]}
    if args.person:
        rows["the detector's own 3D (BlazePose world landmarks)"] = [row(c, detector_scores(c)) for c in clips]
    for name, pipeline in pipelines.items():
        start = time.perf_counter()
        for clip in clips:
            net, solved = evaluate_clip(pipeline, clip)
            rows.setdefault(name, []).append(row(clip, net))
            rows.setdefault(f"{name}: V2P + IK", []).append(row(clip, solved))
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
