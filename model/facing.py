"""Which way the captured body faces: its heading, the turn of its root about the scene's up.

One camera leaves the heading the most open of all a capture estimates (a body and its
mirror image in depth look alike), and the general Video-to-Pose gets it worst: on the
evaluation set its bodies are turned about 56 deg from the truth where holding the reference
pose's heading is 24 deg off (BENCHMARKS.md, "the body keeps the reference's heading"). So by
default (Facing REFERENCE) the capture keeps the reference's heading and takes everything
else from the video: the root's tilt and every joint below it. Facing VIDEO keeps the
heading the network saw, for subjects that turn around.
"""

from __future__ import annotations

import numpy as np

from .skeleton import Skeleton

FACINGS = ("REFERENCE", "VIDEO")


def keep_heading(rotations: np.ndarray, skeleton: Skeleton, ref_rotations: np.ndarray) -> np.ndarray:
    """Local rotations (T, J, 3, 3) -> the same with each root turned about the scene's up
    (Z) so that its heading is the reference's (J, 3, 3): the turn that brings the root's
    world frame closest to the reference's (least squares over its three axes)."""
    out = np.array(rotations, dtype=np.float64)
    for root in skeleton.roots:
        B = skeleton.rest_frames[root]
        M = B @ out[:, root] @ (B @ ref_rotations[root]).T  # (T, 3, 3): the root's world frame times the reference's, transposed
        # the turn Rz(a) maximising trace(Rz(a) M): a = atan2(M01 - M10, M00 + M11)
        a = np.arctan2(M[:, 0, 1] - M[:, 1, 0], M[:, 0, 0] + M[:, 1, 1])
        c, s, zero, one = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
        turn = np.stack([c, -s, zero, s, c, zero, zero, zero, one], -1).reshape(-1, 3, 3)
        out[:, root] = B.T @ turn @ B @ out[:, root]
    return out
