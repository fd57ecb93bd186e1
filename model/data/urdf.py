"""Robot skeletons from the URDF files in PyPI `pybullet` (`pybullet_data`): quadrupeds (A1,
Aliengo, Laikago, Mini Cheetah) and arms (KUKA iiwa, Franka Panda).

One bone per link, its head at the link's frame origin at the zero configuration (joint
origins composed from the base, `rpy` included); bones point at their children (Blender's
BVH-import convention, `skeleton.default_tails`), roll 0. URDFs are Z-up with the robot
facing +X; the skeleton is turned to face -Y (Blender's front view). Only the geometry is
read: joint types and limits are not, and motion comes from elsewhere (procedural).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from ..rotations import axis_rotation, euler_to_matrix
from ..skeleton import Skeleton, bone_frames, default_tails

ROBOTS = {  # name: path inside pybullet_data
    "a1": "a1/a1.urdf",
    "aliengo": "aliengo/aliengo.urdf",
    "laikago": "laikago/laikago_toes_zup.urdf",
    "mini_cheetah": "mini_cheetah/mini_cheetah.urdf",
    "kuka_iiwa": "kuka_iiwa/model.urdf",
    "franka_panda": "franka_panda/panda.urdf",
}
FACE_FRONT = axis_rotation(2, np.array(-np.pi / 2))  # +X (URDF forward) -> -Y (Blender's front)


def _origin(joint) -> np.ndarray:
    """The joint's 4x4 transform from its parent link's frame (URDF: fixed-axis roll, pitch, yaw)."""
    T = np.eye(4)
    origin = joint.find("origin")
    if origin is not None:
        roll, pitch, yaw = np.array(origin.get("rpy", "0 0 0").split(), float)
        T[:3, :3] = euler_to_matrix(np.array([yaw, pitch, roll]), "ZYX")  # R_Z(yaw) @ R_Y(pitch) @ R_X(roll)
        T[:3, 3] = np.array(origin.get("xyz", "0 0 0").split(), float)
    return T


def load_urdf(path: str | os.PathLike) -> Skeleton:
    tree = ET.fromstring(Path(path).read_bytes().rstrip(b"\0\r\n "))
    links = [link.get("name") for link in tree.findall("link")]
    joints = {j.find("child").get("link"): j for j in tree.findall("joint")}
    roots = [name for name in links if name not in joints]
    if len(roots) != 1:
        raise ValueError(f"{path}: expected one base link, found {roots}")
    children: dict[str, list[str]] = {name: [] for name in links}
    for child, joint in joints.items():
        children[joint.find("parent").get("link")].append(child)
    order, world = [], {roots[0]: np.eye(4)}
    stack = [roots[0]]
    while stack:  # parents first
        name = stack.pop()
        order.append(name)
        for child in reversed(children[name]):
            world[child] = world[name] @ _origin(joints[child])
            stack.append(child)
    index = {name: i for i, name in enumerate(order)}
    parents = np.array([index[joints[n].find("parent").get("link")] if n in joints else -1 for n in order])
    heads = np.array([world[n][:3, 3] for n in order]) @ FACE_FRONT.T
    skeleton = Skeleton(parents=parents, rest_heads=heads, names=order)
    return Skeleton(parents, heads, bone_frames(heads, default_tails(skeleton), np.zeros(len(order))), order)


def load_robot(name: str) -> Skeleton:
    from .deepmimic import data_dir

    return load_urdf(data_dir() / ROBOTS[name])
