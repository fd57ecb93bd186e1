"""Whether a rig is a humanoid, by its tree and its rest pose: the person path's condition.

A humanoid (DESIGN.md section 4, the Subject option) has two leg chains that meet at a
pelvis, two arm chains that meet at a chest above it, and a spine between them that
stands up: a biped standing in its rest pose, whatever it has besides (fingers, a face,
a tail, twist bones), facing the front or a side. Quadrupeds (a level spine), birds (no arms apart from the wings'
level body) and arms or snakes (no two legs) are not. The rig is in world orientation
(DESIGN.md section 3): Z up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .skeleton import Skeleton


@dataclass(frozen=True)
class Humanoid:
    ok: bool
    reason: str  # why it is or is not, in a user's words
    pelvis: int = -1  # where the legs meet
    chest: int = -1  # where the arms meet


def path_to_root(parents: np.ndarray, j: int) -> list[int]:
    """`j`, its parent, ... the root."""
    path = [j]
    while parents[path[-1]] >= 0:
        path.append(int(parents[path[-1]]))
    return path


def _meeting(parents: np.ndarray, a: int, b: int) -> int:
    """The deepest joint both paths to the root pass (-1: different trees)."""
    above_a = set(path_to_root(parents, a))
    return next((j for j in path_to_root(parents, b) if j in above_a), -1)


def check(skeleton: Skeleton) -> Humanoid:
    """Facing the front (-Y) as Blender's rigs do, or sideways (as some imports are)."""
    first = _check(skeleton, 0)
    return first if first.ok else next((r for r in [_check(skeleton, 1)] if r.ok), first)


def _check(skeleton: Skeleton, side_axis: int) -> Humanoid:
    h, parents = skeleton.rest_heads, skeleton.parents
    if skeleton.num_joints < 9:
        return Humanoid(False, f"it has {skeleton.num_joints} bones, too few for a body with a spine, two arms and two legs")
    low, top = h[:, 2].min(), h[:, 2].max()
    height = top - low
    if height <= 0.3 * skeleton.scale:
        return Humanoid(False, "it does not stand up in its rest pose (it is longer than it is tall)")
    side = h[:, side_axis]
    centre = np.median(side)
    left, right = side > centre, side < centre
    # Feet: the lowest joint on each side; the legs meet at the pelvis.
    feet = [int(np.flatnonzero(half)[np.argmin(h[half, 2])]) for half in (left, right) if half.any()]
    if len(feet) < 2 or max(h[feet, 2]) > low + 0.15 * height:
        return Humanoid(False, "it has no two feet at the bottom of its rest pose, one on each side")
    pelvis = _meeting(parents, *feet)
    if pelvis < 0 or h[pelvis, 2] < low + 0.3 * height:
        return Humanoid(False, "its legs do not meet at a pelvis well above the feet")
    legs = set(path_to_root(parents, feet[0])) | set(path_to_root(parents, feet[1]))
    # Hands: the joint farthest out on each side, off the legs and above the knees (arms
    # may hang down at rest).
    upper = np.array([j not in legs and h[j, 2] > low + 0.35 * height for j in range(skeleton.num_joints)])
    hands = []
    for half in (left, right):
        pick = np.flatnonzero(half & upper)
        if pick.size:
            hands.append(int(pick[np.argmax(np.abs(side[pick] - centre))]))
    if len(hands) < 2 or min(abs(side[hands] - centre)) < 0.1 * height:
        return Humanoid(False, "it has no two arms, one on each side, off the legs")
    chest = _meeting(parents, *hands)
    spine = h[chest] - h[pelvis]
    if chest < 0 or chest in legs and chest != pelvis or spine[2] < 0.1 * height or spine[2] < 0.7 * np.linalg.norm(spine):
        return Humanoid(False, "its arms do not meet at a chest that stands above the pelvis")
    if pelvis not in path_to_root(parents, chest):
        return Humanoid(False, "its arms and legs hang on different branches, not on one spine")
    names = skeleton.names
    return Humanoid(True, f"a biped: legs from '{names[pelvis]}', arms from '{names[chest]}'", pelvis, chest)
