"""Headless capture: `blender --command mocap_anything capture ...` (Blender 4.2+).

    blender --command mocap_anything capture --blend shot.blend --armature Rig \
        --video clip.mp4 --reference-frame 1 --out shot_captured.blend --bvh clip.bvh

Batches: several `--video`s onto one armature, one video onto several `--armature`s, or N
of each paired in order; every input, and that every output can be written, is checked
before anything is captured. Every file is written under a temporary name beside its
place and moved there only when the whole batch has succeeded. Exit status 0 on success;
otherwise 1 and one line on stderr, and nothing is written.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import bpy

from model.pipeline import CaptureError, add_option_flags, options_from_flags
from model.video import VideoError

from . import capture, export
from .job import solve

COMMAND = "mocap_anything"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"blender --command {COMMAND}", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("capture", help="capture videos onto armatures and save the result")
    c.add_argument("--blend", help="the .blend to open (default: the file Blender has open)")
    c.add_argument("--armature", nargs="+", required=True, help="armature object name(s)")
    c.add_argument("--video", nargs="+", required=True, help="video file(s)")
    add_option_flags(c)  # the capture options, as `CaptureOptions` defines them
    c.add_argument("--out", required=True, help="the .blend to write")
    c.add_argument("--overwrite", action="store_true", help="allow --out to be the --blend it reads")
    c.add_argument("--bvh", help="BVH of the captured action (a folder when capturing several)")
    c.add_argument("--preview", help="PNG: video frames beside the posed rig (a folder when capturing several)")
    c.add_argument("--twist-report", help="twist per bone and frame, .csv or .json (a folder when capturing several)")
    c.add_argument("--truth-action", help="an action with the true motion: twist errors in the report, grey in the preview")
    return p


def _pairs(armatures: list[str], videos: list[str]) -> list[tuple[str, str]]:
    if len(armatures) == len(videos):
        return list(zip(armatures, videos, strict=True))
    if len(armatures) == 1 or len(videos) == 1:
        return [(a, v) for a in armatures for v in videos]
    raise CaptureError(f"give one armature, one video, or as many of each ({len(armatures)} and {len(videos)} given)")


SUFFIXES = {"bvh": (".bvh",), "twist_report": (".csv", ".json"), "preview": (".png", ".jpg", ".jpeg")}


class Outputs:
    """The files of a run, written under temporary names beside their places and moved there
    only when everything has succeeded (`commit`); otherwise (`rollback`) none is left."""

    def __init__(self):
        self.moves: list[tuple[Path, Path]] = []
        self.made: list[Path] = []

    @staticmethod
    def check(path: Path, suffixes: tuple[str, ...] | None = None) -> None:
        """Refuse, before any capture, a file that could not be written."""
        if suffixes and path.suffix.lower() not in suffixes:
            raise CaptureError(f"{path}: the file name must end in {' or '.join(suffixes)}")
        if path.is_dir():
            raise CaptureError(f"{path} is a folder, not a file")
        folder = path.parent
        while not folder.exists():
            folder = folder.parent
        if not os.access(folder, os.W_OK | os.X_OK):
            raise CaptureError(f"cannot write {path}: {folder} is not writable")

    def temporary(self, path: Path) -> Path:
        if any(path == final for _, final in self.moves):
            raise CaptureError(f"two outputs of this run would both be {path}: give the videos distinct names")
        missing = [p for p in [path.parent, *path.parent.parents] if not p.exists()]
        for folder in reversed(missing):
            folder.mkdir()
            self.made.append(folder)
        temporary = path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")
        self.moves.append((temporary, path))
        return temporary

    def commit(self) -> list[Path]:
        """Move every file into place; if one move fails, the ones before are taken back."""
        done = []
        try:
            for temporary, path in self.moves:
                os.replace(temporary, path)
                done.append(path)
        except OSError:
            for path in done:
                path.unlink(missing_ok=True)
            raise
        return done

    def rollback(self) -> None:
        for temporary, _ in self.moves:
            temporary.unlink(missing_ok=True)
        for folder in reversed(self.made):
            if folder.exists() and not any(folder.iterdir()):
                folder.rmdir()


def _output(path: str | None, action, suffix: str, several: bool) -> Path | None:
    if path is None:
        return None
    return Path(path).resolve() / f"{bpy.path.clean_name(action.name)}{suffix}" if several else Path(path).resolve()


def run(args) -> None:
    out = Path(args.out).resolve()
    if args.blend:
        if not Path(args.blend).is_file():
            raise CaptureError(f"no such .blend file: {args.blend}")
        if out == Path(args.blend).resolve() and not args.overwrite:
            raise CaptureError(f"--out is the input {args.blend}: write elsewhere, or add --overwrite to replace it")
        bpy.ops.wm.open_mainfile(filepath=str(Path(args.blend).resolve()))
    truth = None
    if args.truth_action:
        truth = bpy.data.actions.get(args.truth_action)
        if truth is None:
            raise CaptureError(f"no action named {args.truth_action!r} in the file")
    jobs = []
    for name, video in _pairs(args.armature, args.video):
        obj = bpy.data.objects.get(name)
        if obj is None:
            raise CaptureError(f"no object named {name!r} in the file")
        jobs.append((obj, capture.prepare(obj, video, options_from_flags(args))))
    several = len(jobs) > 1
    Outputs.check(out, (".blend",))
    for kind, suffixes in SUFFIXES.items():
        if (path := getattr(args, kind)) is not None:
            Outputs.check(Path(path).resolve() / f"x{suffixes[0]}" if several else Path(path).resolve(), suffixes)
    outputs = Outputs()
    try:
        written = capture_all(args, jobs, several, truth, outputs)
        bpy.ops.wm.save_as_mainfile(filepath=str(outputs.temporary(out)), copy=True)
        outputs.commit()
    except BaseException:
        outputs.rollback()
        raise
    for line in written:
        print(line)
    print(f"saved {out}")


def capture_all(args, jobs, several: bool, truth, outputs: Outputs) -> list[str]:
    """Capture every job and write its files (under temporary names); the lines to print."""
    lines = []
    for obj, request in jobs:
        started = time.perf_counter()
        result = solve(request)
        for text in capture.messages(request, result):
            print(f"{COMMAND}: warning: {text}", file=sys.stderr)
        action = capture.write(obj, request, result)
        files = []
        if path := _output(args.bvh, action, ".bvh", several):
            export.export_bvh(obj, action, outputs.temporary(path))
            files.append(path)
        if path := _output(args.twist_report, action, ".csv", several):
            export.write_twist_report(export.twist_report(obj, action, truth), outputs.temporary(path))
            files.append(path)
        if path := _output(args.preview, action, ".png", several):
            preview = outputs.temporary(path)
            export.write_preview(obj, action, request.video, preview, result, truth=truth)
            files.append(path)
        lines.append(
            f"{Path(request.video).name} -> {obj.name}: {len(result.rotations)} frames x {request.skeleton.num_joints} bones "
            f"in {time.perf_counter() - started:.1f} s ({result.path}), action {action.name!r}" + "".join(f", {p}" for p in files)
        )
    return lines


def command(argv: list[str]) -> int:
    """The registered command: 0 on success, else 1 (2 for bad arguments) and one stderr line."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exit:  # argparse has printed the usage and the problem
        return int(exit.code or 0)
    try:
        run(args)
    except (CaptureError, VideoError, OSError, RuntimeError, ValueError) as error:
        print(f"{COMMAND}: error: {error}", file=sys.stderr)
        return 1
    return 0


_handle = None


def register():
    global _handle
    _handle = bpy.utils.register_cli_command(COMMAND, command)


def unregister():
    bpy.utils.unregister_cli_command(_handle)
