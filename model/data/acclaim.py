"""Acclaim motion capture (ASF skeleton + AMC motion), as Vicon's BodyBuilder writes it and
the CMU database began: read into a `Motion` on a BVH-like skeleton (rest frames = I).

An ASF bone runs from its parent's end to its own, along `direction` for `length`; its
rotation at a frame is G = G_parent C M C^-1, with C its `axis` (Euler angles in the
listed order) and M its AMC values applied in the order of its `dof` line. Each bone
becomes the joint at its start, whose children sit at its end (so the root's own
children sit at the root), and the ends of leaf bones are End Sites. Lengths are in the
file's units scaled to metres as the CMU database documents (1 / `length` inches).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..rotations import axis_rotation, euler_to_matrix
from ..skeleton import Skeleton
from .bvh import BvhClip
from .motion import MotionError

INCH = 0.0254
AXES = {"x": 0, "y": 1, "z": 2}


class AcclaimError(ValueError):
    """The ASF or AMC file is not what this reader understands."""


def _euler(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """(3,) angles about x, y, z (degrees) applied in `order` ("XYZ": x first) -> (3, 3)."""
    applied_last_first = order.upper()[::-1]
    return euler_to_matrix(np.radians(np.asarray(angles_deg))[[AXES[a] for a in applied_last_first.lower()]], applied_last_first)


def _sections(text: str) -> dict[str, list[list[str]]]:
    """':keyword' sections -> their lines, split into words (comments dropped)."""
    sections, current = {}, None
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        if words[0].startswith(":"):
            current = words[0][1:].lower()
            sections[current] = [words[1:]] if len(words) > 1 else []
        elif current is not None:
            sections[current].append(words)
    return sections


def _bones(lines: list[list[str]], path: str) -> list[dict]:
    bones, bone = [], None
    for words in lines:
        key = words[0].lower()
        if key == "begin":
            bone = {"dof": [], "axis": np.zeros(3), "order": "XYZ"}
        elif key == "end":
            missing = {"name", "direction", "length"} - bone.keys()
            if missing:
                raise AcclaimError(f"{path}: a bone lacks {sorted(missing)}")
            bones.append(bone)
        elif key == "name":
            bone["name"] = words[1]
        elif key == "direction":
            bone["direction"] = np.array(words[1:4], float)
        elif key == "length":
            bone["length"] = float(words[1])
        elif key == "axis":
            bone["axis"], bone["order"] = np.array(words[1:4], float), words[4].upper()
        elif key == "dof":
            bone["dof"] = [w.lower() for w in words[1:]]
    for bone in bones:
        if any(d not in ("rx", "ry", "rz") for d in bone["dof"]):
            raise AcclaimError(f"{path}: bone {bone['name']} has degrees of freedom {bone['dof']}; only rotations are read")
    return bones


def load_acclaim(asf_path: str | os.PathLike, amc_path: str | os.PathLike, fps: float = 120.0) -> BvhClip:
    """An ASF skeleton and one AMC motion of it -> a Y-up clip (as `bvh.load_bvh` gives)."""
    asf_path, amc_path = os.fspath(asf_path), os.fspath(amc_path)
    asf = _sections(Path(asf_path).read_text(encoding="utf-8", errors="replace"))
    units = {w[0].lower(): w[1] for w in asf.get("units", []) if len(w) > 1}
    if units.get("angle", "deg").lower() != "deg":
        raise AcclaimError(f"{asf_path}: angles in {units['angle']}; only degrees are read")
    scale = INCH / float(units.get("length", 1.0))
    root = {w[0].lower(): w[1:] for w in asf["root"]}
    channels = [c.lower() for c in root["order"]]
    bones = _bones(asf["bonedata"], asf_path)
    index = {b["name"]: i + 1 for i, b in enumerate(bones)}  # joint 0 is the root
    parents = np.full(len(bones) + 1, -1)
    for words in asf["hierarchy"]:
        if words[0].lower() in ("begin", "end"):
            continue
        unknown = [w for w in words if w not in index and w.lower() != "root"]
        if unknown:
            raise AcclaimError(f"{asf_path}: the hierarchy names bones that :bonedata lacks: {unknown}")
        parent = 0 if words[0].lower() == "root" else index[words[0]]
        for child in words[1:]:
            parents[index[child]] = parent
    if (parents[1:] < 0).any():
        raise AcclaimError(f"{asf_path}: bones outside the hierarchy")
    if (parents[1:] >= np.arange(1, len(parents))).any():
        raise AcclaimError(f"{asf_path}: the hierarchy lists a bone before its parent")

    ends = np.zeros((len(parents), 3))  # where each joint's children sit, at rest
    ends[0] = np.array(root.get("position", [0, 0, 0]), float) * scale
    heads = ends.copy()
    for j, b in enumerate(bones, 1):
        heads[j] = ends[parents[j]]
        ends[j] = heads[j] + b["direction"] * b["length"] * scale
    orientation = _euler(np.array(root.get("orientation", [0, 0, 0]), float), root["axis"][0])
    C = np.stack([orientation] + [_euler(b["axis"], b["order"]) for b in bones])

    frames, current = [], None
    for words in _sections(Path(amc_path).read_text(encoding="utf-8", errors="replace")).get("degrees", []):
        if len(words) == 1 and words[0].isdigit():
            current = {}
            frames.append(current)
        elif current is not None:
            current[words[0]] = np.array(words[1:], float)
    if not frames:
        raise MotionError(f"{amc_path}: no frames")
    T = len(frames)
    M = np.broadcast_to(np.eye(3), (T, len(parents), 3, 3)).copy()
    translation = np.zeros((T, 3))
    for j, (name, dof) in enumerate([("root", channels)] + [(b["name"], b["dof"]) for b in bones]):
        values = np.zeros((T, len(dof)))  # a joint a frame leaves out stays at rest
        for t, frame in enumerate(frames):
            if name in frame:
                given = frame[name]
                if len(given) != len(dof):
                    counts = f"{len(given)} values for {len(dof)} degrees of freedom"
                    raise AcclaimError(f"{amc_path}: frame {t + 1} gives {name} {counts}")
                values[t] = given
        for column, d in enumerate(dof):  # each turn applied after the ones listed before it
            if d.startswith("t"):
                translation[:, AXES[d[1]]] = values[:, column] * scale
            else:
                M[:, j] = axis_rotation(AXES[d[1]], np.radians(values[:, column])) @ M[:, j]
    world = C @ M @ np.swapaxes(C, -1, -2)  # each joint's turn from rest, in the file's frame
    for j in range(1, len(parents)):
        world[:, j] = world[:, parents[j]] @ world[:, j]
    local = world.copy()
    local[:, 1:] = np.swapaxes(world[:, parents[1:]], -1, -2) @ world[:, 1:]
    leaves = set(range(1, len(parents))) - set(parents.tolist())
    return BvhClip(
        skeleton=Skeleton(parents=parents, rest_heads=heads, names=["root"] + [b["name"] for b in bones]),
        local_rotations=local,
        root_translation=translation - heads[0],
        fps=fps,
        end_sites={j: ends[j] - heads[j] for j in sorted(leaves)},
    )
