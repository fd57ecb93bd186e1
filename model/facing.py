"""Which way the captured body faces: its heading, the turn of its root about the scene's up.

One camera leaves the heading the most open of all a capture estimates (a body and its
mirror image in depth look alike), and the general Video-to-Pose gets it worst: on the
evaluation set its bodies are turned about 56 deg from the truth where holding the reference
pose's heading is 24 deg off (BENCHMARKS.md, "the body keeps the reference's heading"). So
with Facing REFERENCE the capture keeps the reference's heading and takes everything else
from the video: the root's tilt and every joint below it; with VIDEO it keeps the heading the
network saw too. AUTO (the default) takes VIDEO on the person path, whose detector, trained
on real people, tells which way a person faces (over longer takes, where people turn, the
closer of the two), and REFERENCE on the general path.
"""

from __future__ import annotations

import numpy as np

from .kinematics import forward_kinematics
from .rotations import axis_rotation
from .skeleton import Skeleton

FACINGS = ("AUTO", "REFERENCE", "VIDEO")


def keeps_heading(facing: str, path: str) -> bool:
    """Whether a capture with this Facing option, on this path ("person" or "general"),
    keeps the reference's heading."""
    return facing == "REFERENCE" or (facing == "AUTO" and path != "person")


def body_joint(skeleton: Skeleton, root: int) -> int:
    """The joint whose frame is the body's under `root`: the root itself, or, where the root
    is a chain of single bones (a floor bone holding the hips, as game rigs have), the first
    joint below it with several children."""
    children, j = skeleton.children, root
    while len(children[j]) == 1:
        j = children[j][0]
    return j if children[j] else root


def keep_heading(rotations: np.ndarray, skeleton: Skeleton, ref_rotations: np.ndarray) -> np.ndarray:
    """Local rotations (T, J, 3, 3) -> the same with each root's body (`body_joint`) turned
    about the scene's up (Z), by its own local rotation, so that its heading is the
    reference's (J, 3, 3): the turn that brings the body joint's world frame closest to the
    reference's (least squares over its three axes). Nothing else changes."""
    out = np.array(rotations, dtype=np.float64)
    G, G_ref = forward_kinematics(skeleton, out)[0], forward_kinematics(skeleton, np.asarray(ref_rotations, np.float64))[0]
    for b in {body_joint(skeleton, int(r)) for r in skeleton.roots}:
        M = G[:, b] @ G_ref[b].T
        # the turn Rz(a) maximising trace(Rz(a) M): a = atan2(M01 - M10, M00 + M11)
        turn = axis_rotation(2, np.arctan2(M[:, 0, 1] - M[:, 1, 0], M[:, 0, 0] + M[:, 1, 1]))
        # G_b' = turn @ G_b, by the joint's own rotation: R_b' = R_b @ G_b^T @ turn @ G_b
        out[:, b] = out[:, b] @ G[:, b].swapaxes(-1, -2) @ turn @ G[:, b]
    return out
