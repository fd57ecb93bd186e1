"""BVH motion files: reader and writer.

A BVH skeleton is the special case `rest_frames = I` (DESIGN.md section 3): a joint's
rotation is world-aligned and its position channels, where present, replace its OFFSET
(as Blender's importer reads them). Any channel order, 3- and 6-channel joints (and any
subset), several roots and End Sites are supported; writing then reading gives back the
same rotations to the printed precision.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np

from ..rotations import axis_rotation, bone_to_world_local, matrix_to_euler
from ..skeleton import Skeleton, parent_first_order
from .motion import Motion, MotionError

_CHANNELS = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")


class BvhError(ValueError):
    """The file is not a well-formed BVH file."""


@dataclass(frozen=True, eq=False)
class BvhClip(Motion):
    channels: tuple[tuple[str, ...], ...] = ()  # per joint, as listed in the file
    end_sites: dict | None = None  # joint index -> End Site offset (3,)
    local_translations: np.ndarray | None = None  # (T, J, 3) where non-root joints have position channels


class _Tokens:
    def __init__(self, text: str, path: str):
        self.path = path
        self.items = [(tok, n) for n, line in enumerate(text.splitlines(), 1) for tok in line.split()]
        self.i = 0

    def error(self, message: str) -> BvhError:
        line = self.items[min(self.i, len(self.items) - 1)][1] if self.items else 0
        return BvhError(f"{self.path}:{line}: {message}")

    def next(self, what: str) -> str:
        if self.i >= len(self.items):
            raise self.error(f"unexpected end of file, expected {what}")
        self.i += 1
        return self.items[self.i - 1][0]

    def expect(self, word: str) -> None:
        tok = self.next(repr(word))
        if tok != word:
            self.i -= 1
            raise self.error(f"expected {word!r}, found {tok!r}")

    def number(self, what: str) -> float:
        tok = self.next(what)
        try:
            return float(tok)
        except ValueError:
            self.i -= 1
            raise self.error(f"expected a number for {what}, found {tok!r}") from None


def _parse_joint(tok: _Tokens, parent: int, joints: list, end_sites: dict) -> None:
    name = tok.next("joint name")
    index = len(joints)
    tok.expect("{")
    tok.expect("OFFSET")
    offset = [tok.number("OFFSET") for _ in range(3)]
    tok.expect("CHANNELS")
    count = tok.number("channel count")
    if count != int(count) or not 0 <= count <= 6:
        raise tok.error(f"joint {name!r} has {count} channels; expected 0 to 6")
    channels = tuple(tok.next("channel name") for _ in range(int(count)))
    for c in channels:
        if c not in _CHANNELS:
            raise tok.error(f"unknown channel {c!r} in joint {name!r}")
    if len(set(channels)) != len(channels):
        raise tok.error(f"joint {name!r} lists a channel twice")
    joints.append((name, parent, np.array(offset), channels))
    while True:
        word = tok.next("JOINT, End Site or '}'")
        if word == "}":
            return
        if word == "JOINT":
            _parse_joint(tok, index, joints, end_sites)
        elif word == "End":
            tok.expect("Site")
            tok.expect("{")
            tok.expect("OFFSET")
            end_sites[index] = np.array([tok.number("End Site OFFSET") for _ in range(3)])
            tok.expect("}")
        else:
            tok.i -= 1
            raise tok.error(f"expected JOINT, End Site or '}}', found {word!r}")


def load_bvh(path: str | os.PathLike) -> BvhClip:
    """Read a BVH file. Raises BvhError (malformed file) or MotionError (no frames)."""
    path = os.fspath(path)
    with open(path, encoding="utf-8", errors="replace") as f:
        tok = _Tokens(f.read(), path)
    tok.expect("HIERARCHY")
    joints, end_sites = [], {}
    while tok.i < len(tok.items) and tok.items[tok.i][0] == "ROOT":
        tok.next("ROOT")
        _parse_joint(tok, -1, joints, end_sites)
    if not joints:
        raise tok.error("no ROOT joint")
    tok.expect("MOTION")
    tok.expect("Frames:")
    num_frames = tok.number("frame count")
    tok.expect("Frame")
    tok.expect("Time:")
    frame_time = tok.number("frame time")
    if num_frames != int(num_frames) or num_frames < 0:
        raise tok.error(f"bad frame count {num_frames}")
    if num_frames == 0:
        raise MotionError(f"{path}: the clip is empty (0 frames)")
    if not frame_time > 0:
        raise tok.error(f"frame time must be positive, got {frame_time}")

    width = sum(len(j[3]) for j in joints)
    values = tok.items[tok.i :]
    if width == 0 or len(values) % width:
        raise tok.error(f"the MOTION section holds {len(values)} values, not a whole number of {width}-value frames")
    if len(values) != int(num_frames) * width:
        # Like Blender's importer, trust the data over the header (real files disagree).
        warnings.warn(f"{path}: header says {int(num_frames)} frames, data holds {len(values) // width}", stacklevel=2)
    try:
        data = np.array([v for v, _ in values], dtype=np.float64).reshape(-1, width)
    except ValueError:
        raise BvhError(f"{path}: the MOTION section holds something that is not a number") from None
    if not np.isfinite(data).all():
        raise BvhError(f"{path}: the MOTION section holds non-finite values")

    names = [j[0] for j in joints]
    if len(set(names)) != len(names):
        raise BvhError(f"{path}: joint names are not unique")
    parents = np.array([j[1] for j in joints])
    offsets = np.array([j[2] for j in joints])
    heads = offsets.copy()
    for j, p in enumerate(parents):
        if p >= 0:
            heads[j] += heads[p]

    T, J = data.shape[0], len(joints)
    rotations = np.broadcast_to(np.eye(3), (T, J, 3, 3)).copy()
    translations = np.broadcast_to(offsets, (T, J, 3)).copy()
    column = 0
    for j, (_, _, _, channels) in enumerate(joints):
        for c in channels:
            axis = "XYZ".index(c[0])
            if c.endswith("rotation"):
                rotations[:, j] = rotations[:, j] @ axis_rotation(axis, np.radians(data[:, column]))
            else:
                translations[:, j, axis] = data[:, column]
            column += 1
    roots = parents < 0
    moved = np.array([any(c.endswith("position") for c in ch) for *_, ch in joints])
    return BvhClip(
        skeleton=Skeleton(parents=parents, rest_heads=heads, names=names),
        local_rotations=rotations,
        # Several roots share one translation: that of the first.
        root_translation=translations[:, 0] - offsets[0],
        fps=1.0 / frame_time,
        channels=tuple(j[3] for j in joints),
        end_sites=end_sites,
        local_translations=translations if (moved & ~roots).any() else None,
    )


def _format(values: np.ndarray, precision: int) -> str:
    return " ".join(f"{v:.{precision}g}" for v in values)


def save_bvh(path: str | os.PathLike, motion: Motion, *, rotation_order: str = "ZXY", precision: int = 10) -> None:
    """Write a clip as BVH, joints depth-first. Rotations are written world-aligned
    (BVH has no bone rolls).

    A `BvhClip` keeps its own channels and End Sites; other clips get 6 channels on
    roots and 3 elsewhere in `rotation_order`, and End Sites along each leaf bone.
    """
    sk = motion.skeleton
    T = motion.num_frames
    channels = getattr(motion, "channels", ()) or tuple(
        tuple(f"{a}position" for a in ("XYZ" if p < 0 else "")) + tuple(f"{a}rotation" for a in rotation_order)
        for p in sk.parents
    )
    end_sites = getattr(motion, "end_sites", None)
    if end_sites is None:
        bone = np.median(
            [np.linalg.norm(sk.rest_heads[j] - sk.rest_heads[p]) for j, p in enumerate(sk.parents) if p >= 0] or [1.0]
        )
        end_sites = {j: sk.rest_frames[j][:, 1] * (bone or 1.0) for j in np.flatnonzero(sk.leaf_mask)}
    translations = getattr(motion, "local_translations", None)

    world_local = bone_to_world_local(motion.local_rotations, sk.rest_frames)
    columns = []
    for j in parent_first_order(sk.parents):  # depth-first, the order the hierarchy is written in
        chans = channels[j]
        rot_axes = "".join(c[0] for c in chans if c.endswith("rotation"))
        # Fewer than three rotation channels: decompose with the missing axes last,
        # whose angles must then be zero.
        order = rot_axes + "".join(a for a in "XYZ" if a not in rot_axes)
        angles = np.degrees(matrix_to_euler(world_local[:, j], order))
        if len(rot_axes) < 3 and np.abs(angles[:, len(rot_axes) :]).max() > 1e-6:
            raise ValueError(f"joint {sk.names[j]!r} rotates about axes its channels {rot_axes or 'none'!r} cannot write")
        for c in chans:
            axis = "XYZ".index(c[0])
            if c.endswith("rotation"):
                columns.append(angles[:, rot_axes.index(c[0])])
            elif sk.parents[j] < 0:
                columns.append(sk.rest_heads[j, axis] + motion.root_translation[:, axis])
            else:
                offset = sk.rest_heads[j] - sk.rest_heads[sk.parents[j]]
                columns.append(translations[:, j, axis] if translations is not None else np.full(T, offset[axis]))
    data = np.stack(columns, -1) if columns else np.zeros((T, 0))

    lines = ["HIERARCHY"]

    def write(j: int, indent: str) -> None:
        p = sk.parents[j]
        offset = sk.rest_heads[j] - (sk.rest_heads[p] if p >= 0 else 0.0)
        lines.append(f"{indent}{'ROOT' if p < 0 else 'JOINT'} {sk.names[j]}")
        lines.append(f"{indent}{{")
        lines.append(f"{indent}\tOFFSET {_format(offset, precision)}")
        lines.append(f"{indent}\tCHANNELS {len(channels[j])} {' '.join(channels[j])}".rstrip())
        for c in sk.children[j]:
            write(c, indent + "\t")
        if j in end_sites:
            lines.extend(
                [
                    f"{indent}\tEnd Site",
                    f"{indent}\t{{",
                    f"{indent}\t\tOFFSET {_format(end_sites[j], precision)}",
                    f"{indent}\t}}",
                ]
            )
        lines.append(f"{indent}}}")

    for root in sk.roots:
        write(root, "")
    lines += ["MOTION", f"Frames: {T}", f"Frame Time: {1.0 / motion.fps:.{precision}g}"]
    lines += [_format(row, precision) for row in data]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
