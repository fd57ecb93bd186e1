"""DeepMimic humanoid clips as shipped in PyPI `pybullet` (`pybullet_data`).

A clip is JSON whose frames hold [duration, root position (3), root quaternion (4),
then per URDF joint in file order: 4 values (w, x, y, z) for a spherical joint, 1 angle
for a revolute one, none for a fixed one]. The skeleton comes from the humanoid's URDF:
one joint per link, rest frames identity, Y up, as in the files.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from ..rotations import axis_angle_to_matrix, quaternion_to_matrix
from ..skeleton import Skeleton
from .motion import Motion, MotionError

# pybullet loads this humanoid with globalScaling=0.25; the clips' root positions are in
# that scaled space.
URDF_SCALE = 0.25
_DOFS = {"spherical": 4, "revolute": 1, "fixed": 0}


def data_dir() -> Path:
    import pybullet_data  # a plain data package, no simulator import

    return Path(pybullet_data.getDataPath())


def clip_paths() -> list[Path]:
    return sorted((data_dir() / "data" / "motions").glob("humanoid3d_*.txt"))


def load_urdf_skeleton(urdf_path: str | os.PathLike | None = None):
    """(Skeleton, joint types, revolute axes) from the humanoid URDF."""
    path = Path(urdf_path) if urdf_path else data_dir() / "humanoid" / "humanoid.urdf"
    root = ET.fromstring(path.read_bytes().rstrip(b"\0\r\n "))  # the shipped file ends in NUL
    joints = root.findall("joint")
    names, parent_links, types, offsets, axes = [], [], [], [], []
    for joint in joints:
        child, parent = joint.find("child").get("link"), joint.find("parent").get("link")
        origin = joint.find("origin")
        if origin is not None and np.any(np.array(origin.get("rpy", "0 0 0").split(), float)):
            raise ValueError(f"{path}: joint {joint.get('name')!r} has a rotated origin, not supported")
        names.append(child)
        parent_links.append(parent)
        types.append(joint.get("type"))
        offsets.append(np.array(origin.get("xyz").split(), float) if origin is not None else np.zeros(3))
        axis = joint.find("axis")
        axes.append(np.array(axis.get("xyz").split(), float) if axis is not None else np.zeros(3))
    index = {n: i for i, n in enumerate(names)}
    parents = np.array([index.get(p, -1) for p in parent_links])
    heads = np.array(offsets) * URDF_SCALE
    for j, p in enumerate(parents):
        if p >= j:
            raise ValueError(f"{path}: joints are not listed parent-first")
        if p >= 0:
            heads[j] += heads[p]
    return Skeleton(parents=parents, rest_heads=heads, names=names), types, np.array(axes)


def load_deepmimic(path: str | os.PathLike, urdf_path: str | os.PathLike | None = None) -> Motion:
    skeleton, types, axes = load_urdf_skeleton(urdf_path)
    with open(path, encoding="utf-8") as f:
        frames = np.asarray(json.load(f)["Frames"], dtype=np.float64)
    if frames.ndim != 2 or frames.shape[0] == 0:
        raise MotionError(f"{path}: no frames")
    dofs = [_DOFS[t] for t in types[1:]]  # the first joint is the root: position + quaternion
    if frames.shape[1] != 8 + sum(dofs):
        raise MotionError(f"{path}: frames have {frames.shape[1]} values, the URDF needs {8 + sum(dofs)}")
    T, J = frames.shape[0], skeleton.num_joints
    R = np.broadcast_to(np.eye(3), (T, J, 3, 3)).copy()
    R[:, 0] = quaternion_to_matrix(frames[:, 4:8])
    column = 8
    for j, dof in enumerate(dofs, start=1):
        if dof == 4:
            R[:, j] = quaternion_to_matrix(frames[:, column : column + 4])
        elif dof == 1:
            R[:, j] = axis_angle_to_matrix(frames[:, column, None] * axes[j])
        column += dof
    return Motion(skeleton, R, frames[:, 1:4] - skeleton.rest_heads[0], fps=1.0 / frames[0, 0])
