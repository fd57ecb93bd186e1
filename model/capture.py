"""Capture a video onto a rig from the command line, without Blender.

    python -m model.capture examples/creature.mp4 --rig examples/creature.npz --out out/capture

The rig file (npz) holds the skeleton (`parents`, `rest_heads`, `rest_frames`, `names`)
and one keyed reference frame (`ref_positions`, `ref_rotations`), as
`scripts/render_evalset.py` writes them; if it also holds ground-truth `rotations` for
the video, the errors are printed and the truth is drawn in the preview, both in the
scene (a rendered clip's truth, kept in the camera's view frame, turned back by its
`yaw_deg`). Writes `<video>.bvh` (the captured rotations, root fixed: the network
predicts root-relative motion), `<video>.npz` (local rotations (T, J, 3, 3) in the rig's
conventions, positions (T, J, 3) in the skeleton's space and the video frame of each)
and `<video>.preview.png` (frames, what Video-to-Pose saw in them, and the captured
skeleton seen from the front). Frames count from 0 and run at the video's own rate; the
capture options are the add-on's (`model.pipeline.CaptureOptions`), through the one
pipeline.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from . import landmarks, metrics
from .data.bvh import save_bvh
from .data.evalsets import to_scene
from .data.motion import Motion
from .kinematics import forward_kinematics
from .network import CAPTURE_WEIGHTS, PERSON_WEIGHTS, load_pretrained
from .pipeline import add_option_flags, capture_video, options_from_flags, plan_frames
from .skeleton import Skeleton
from .video import iter_frames, video_info

PREVIEW_FRAMES, PREVIEW_SIZE = 4, 256


def load_rig(path: str | Path) -> tuple[Skeleton, np.ndarray, np.ndarray, np.ndarray | None]:
    with np.load(path) as f:
        missing = {"parents", "rest_heads", "rest_frames", "ref_positions", "ref_rotations"} - set(f.files)
        if missing:
            raise ValueError(f"{path} lacks {sorted(missing)}")
        names = [str(n) for n in f["names"]] if "names" in f.files else None
        skeleton = Skeleton(f["parents"], f["rest_heads"], f["rest_frames"], names)
        truth = f["rotations"] if "rotations" in f.files else None
        if truth is not None and "yaw_deg" in f.files:  # rendered (`render_evalset.py`): into the scene, as the result is
            truth = to_scene(skeleton, truth, None, float(f["yaw_deg"]))[0]
        return skeleton, f["ref_positions"], f["ref_rotations"], truth


def draw_bones(image: np.ndarray, skeleton: Skeleton, pixels: np.ndarray, colour, thickness: int) -> np.ndarray:
    """A line from each joint's pixel (J, 2) to its parent's."""
    at = np.round(pixels).astype(int)
    for j, p in enumerate(skeleton.parents):
        if p >= 0:
            cv2.line(image, tuple(map(int, at[p])), tuple(map(int, at[j])), colour, thickness, cv2.LINE_AA)
    return image


def draw_landmarks(image: np.ndarray, pixels: np.ndarray, visibility: np.ndarray) -> np.ndarray:
    """The person detector's skeleton (`landmarks.CONNECTIONS`) where both ends are seen."""
    seen = np.isfinite(pixels).all(-1) & (np.nan_to_num(visibility) >= landmarks.VISIBLE)
    at = np.round(np.nan_to_num(pixels)).astype(int)
    for a, b in landmarks.CONNECTIONS:
        if seen[a] and seen[b]:
            cv2.line(image, tuple(map(int, at[a])), tuple(map(int, at[b])), (60, 200, 60), 1, cv2.LINE_AA)
    return image


def draw_skeleton(skeleton: Skeleton, heads: np.ndarray, size: int, colour, image=None, extent=None) -> np.ndarray:
    """Bones as lines, seen from the front of the view frame (x right, z up)."""
    image = np.full((size, size, 3), 255, np.uint8) if image is None else image
    xz = heads[:, [0, 2]] * np.array([1.0, -1.0])
    extent = extent if extent is not None else max(np.abs(xz).max(), 1e-9) * 1.15
    return draw_bones(image, skeleton, xz / extent * size / 2 + size / 2, colour, 2)


def preview(
    frames: np.ndarray,
    skeleton: Skeleton,
    heads: np.ndarray,
    true_heads: np.ndarray | None = None,
    pixels: np.ndarray | None = None,
    confidence: np.ndarray | None = None,
    marks: np.ndarray | None = None,
) -> np.ndarray:
    """One row per frame, three tiles: the video frame | the same with the person
    detector's landmarks (`marks` (K, 33, 3): pixels and visibility, green), the joints
    where Video-to-Pose saw them (`pixels` (K, J, 2), orange) and its confidence, where
    given | the skeleton posed by `heads` (K, J, 3), seen from the front (blue), over
    `true_heads` (grey) if given. Heads are drawn root-relative."""
    heads = heads - heads[:, skeleton.roots[:1]]
    if true_heads is not None:
        true_heads = true_heads - true_heads[:, skeleton.roots[:1]]
    extent = max(np.abs(heads[..., [0, 2]]).max(), 1e-9) * 1.15
    rows = []
    for k, frame in enumerate(frames):
        h, w = frame.shape[:2]
        scale = PREVIEW_SIZE / max(h, w)
        tile = np.zeros((PREVIEW_SIZE, PREVIEW_SIZE, 3), np.uint8)
        small = cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        y, x = (PREVIEW_SIZE - small.shape[0]) // 2, (PREVIEW_SIZE - small.shape[1]) // 2
        tile[y : y + small.shape[0], x : x + small.shape[1]] = small
        seen = tile.copy()
        if marks is not None:
            draw_landmarks(seen, marks[k, :, :2] * scale + [x, y], marks[k, :, 2])
        if pixels is not None and np.isfinite(pixels[k]).all():
            draw_bones(seen, skeleton, pixels[k] * scale + [x, y], (255, 150, 30), 1)
        if confidence is not None and np.isfinite(confidence[k]):
            cv2.putText(
                seen, f"confidence {confidence[k]:.2f}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA
            )
        canvas = None
        if true_heads is not None:
            canvas = draw_skeleton(skeleton, true_heads[k], PREVIEW_SIZE, (170, 170, 170), extent=extent)
        posed = draw_skeleton(skeleton, heads[k], PREVIEW_SIZE, (40, 90, 220), canvas, extent)
        rows.append(np.concatenate([tile, seen, posed], 1))
    return np.concatenate(rows, 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model.capture", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("video", help="a video file (mp4, avi, mov, mkv: whatever OpenCV reads)")
    parser.add_argument("--rig", required=True, help="npz with the skeleton and a reference pair")
    parser.add_argument("--out", default="out/capture", help="output folder (default: out/capture)")
    parser.add_argument("--weights", default=str(CAPTURE_WEIGHTS), help="end-to-end checkpoint (default: the shipped one)")
    parser.add_argument(
        "--person-weights", default=str(PERSON_WEIGHTS), help="the person path's checkpoint (default: the shipped one)"
    )
    add_option_flags(parser, skip=("reference_frame",))  # the rig file holds the reference
    args = parser.parse_args(argv)
    try:
        options = options_from_flags(args)
        skeleton, ref_positions, ref_rotations, truth = load_rig(args.rig)
        start = time.perf_counter()
        info = video_info(args.video)
        plan = plan_frames(options, info, scene_start=0, scene_fps=info.fps)
        net = load_pretrained(options.device.lower(), args.weights, args.person_weights)
        result = capture_video(net, args.video, skeleton, ref_positions, ref_rotations, plan, options)
        elapsed = time.perf_counter() - start
    except (OSError, ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{result.path}", file=sys.stderr)
    for text in result.warnings:
        print(f"warning: {text}", file=sys.stderr)
    rotations, picked = result.rotations, result.video_frames
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(args.video).stem
    fps = info.fps / options.stride
    save_bvh(out / f"{stem}.bvh", Motion(skeleton, rotations, np.zeros((len(rotations), 3)), fps))
    np.savez_compressed(out / f"{stem}.npz", rotations=rotations, positions=result.positions, video_frames=picked)
    if truth is not None:
        truth = truth[picked] if picked.max() < len(truth) else None
    picks = np.linspace(0, len(rotations) - 1, min(PREVIEW_FRAMES, len(rotations))).round().astype(int)
    images = np.array([frame for _, frame in iter_frames(args.video, picked[picks])])
    heads = forward_kinematics(skeleton, rotations[picks])[1]
    true_heads = forward_kinematics(skeleton, truth[picks])[1] if truth is not None else None
    marks = result.landmarks[picks] if result.landmarks is not None else None
    image = preview(images, skeleton, heads, true_heads, result.pixels[picks], result.confidence[picks], marks)
    cv2.imwrite(str(out / f"{stem}.preview.png"), image[..., ::-1])
    print(f"{len(rotations)} frames, {skeleton.num_joints} joints in {elapsed:.1f} s -> {out}/{stem}.bvh, .npz, .preview.png")
    if truth is not None:
        print(
            f"against the ground truth: rotation error {metrics.rotation_error(rotations, truth):.2f} deg, "
            f"twist error {metrics.twist_error(rotations, truth, skeleton):.2f} deg"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
