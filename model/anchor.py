"""The person path's limbs anchored to the detector's own 3D.

The person network reads the detector's landmarks and places every joint of the rig,
including those the landmarks lack; but on the limbs it knows less than the detector
itself (measured on rendered people: the detector's world landmarks are 1-3 cm nearer the
truth at the wrists, ankles and shoulders). So where the detector saw a limb, the limb of
the result points where the detector's does: each upper arm, forearm, thigh and shin is
turned, with everything it carries, about its joint, keeping the rig's bone lengths and
the network's torso. Where the detector did not see a limb (low visibility), or the rig
has no joint the network places at a landmark, the network's pose stays.

Which rig joint is at which landmark comes from the network's own placement: the joint it
puts nearest the landmark in the image over the frames so far (`Matcher`; in the image,
where the detector is sure: its image positions are 3-5 % of the body's box off on
rendered people, its depths far more). Left and right are taken from the detector as they
agree best with the network's pose in each frame (the detector swaps them now and then,
seen from the back or the side).
"""

from __future__ import annotations

import numpy as np

from . import landmarks
from .rotations import rotation_between

# The limbs: (upper joint, middle joint, end joint) landmarks; each side's twin follows it.
LIMBS = (("left_shoulder", "left_elbow", "left_wrist"), ("left_hip", "left_knee", "left_ankle"))
SIDES = ("left", "right")


def _side(limb: tuple[str, ...], side: str) -> list[int]:
    return [landmarks.INDEX[name.replace("left", side)] for name in limb]


WANTED = sorted({i for limb in LIMBS for side in SIDES for i in _side(limb, side)})
FAR = 0.5  # a landmark this far from a joint (share of the box) counts as this far: a swapped frame weighs no more


class Matcher:
    """Which rig joint is at which limb landmark, frame by frame, from the frames so far
    (so that a capture streamed in chunks of any size anchors alike): for each landmark,
    the joint the network places nearest it in the image on average over the frames up to
    this one where the detector found the person (in shares of the joints' box; of joints
    at one place, the one nearest the root); kept for the limbs whose three joints hang
    one below the other in the rig, apart from the other side's."""

    def __init__(self, parents: np.ndarray):
        self.parents = parents
        self.depth = np.array([_depth(parents, j) for j in range(len(parents))])
        self.total = np.zeros((len(WANTED), len(parents)))
        self.known: dict[tuple[int, ...], dict[int, int]] = {}

    def __call__(self, pixels: np.ndarray, marks: np.ndarray) -> list[dict[int, int]]:
        """pixels (T, J, 2): the network's joints; marks (T, 33, 2): the detector's
        landmarks (NaN where not found) -> per frame, landmark -> joint."""
        box = np.maximum(np.ptp(pixels, axis=1).max(-1), 1e-9)[:, None, None]
        distance = np.linalg.norm(pixels[:, None] - marks[:, WANTED, None], axis=-1) / box  # (T, landmarks, J)
        distance = np.nan_to_num(np.minimum(distance, FAR), nan=0.0)  # (frames without a person add nothing)
        totals = self.total + np.cumsum(distance, 0)
        if len(totals):
            self.total = totals[-1]
        nearest = np.argmin(totals + 1e-9 * self.depth, -1)  # (T, landmarks)
        return [self._limbs(tuple(row)) if row_total.any() else {} for row, row_total in zip(nearest, totals, strict=True)]

    def _limbs(self, nearest: tuple[int, ...]) -> dict[int, int]:
        if nearest not in self.known:
            at, parents = dict(zip(WANTED, nearest, strict=True)), self.parents
            out = {}
            for limb in LIMBS:
                chains = [[at[i] for i in _side(limb, side)] for side in SIDES]
                apart = not any(a == b or _above(parents, a, b) or _above(parents, b, a) for a in chains[0] for b in chains[1])
                if apart and all(_above(parents, a, b) and _above(parents, b, c) for a, b, c in chains):
                    for side, chain in zip(SIDES, chains, strict=True):
                        out.update(zip(_side(limb, side), chain, strict=True))
            self.known[nearest] = out
        return self.known[nearest]


def _depth(parents: np.ndarray, j: int) -> int:
    return 0 if parents[j] < 0 else 1 + _depth(parents, int(parents[j]))


def _above(parents: np.ndarray, a: int, b: int) -> bool:
    """Whether joint `a` is an ancestor of `b`."""
    while b >= 0:
        b = int(parents[b])
        if b == a:
            return True
    return False


def anchor(positions: np.ndarray, packed: np.ndarray, parents: np.ndarray, at: list[dict[int, int]]) -> np.ndarray:
    """The network's positions (T, J, 3) with each limb the detector saw turned to point
    where the detector's does (`packed`: (T, 33, PACKED) landmarks; `at`: per frame,
    landmark -> joint, `Matcher`)."""
    out = positions.copy()
    world, visible = packed[..., 3:6], packed[..., 6] >= landmarks.VISIBLE
    found = np.isfinite(world).all((-1, -2))
    keys = [tuple(sorted(a.items())) for a in at]
    for key in set(keys):
        _limbs(out, world, visible, found & np.array([k == key for k in keys], dtype=bool), parents, dict(key))
    return out


def _limbs(out: np.ndarray, world: np.ndarray, visible: np.ndarray, frames: np.ndarray, parents, at: dict[int, int]) -> None:
    """`anchor` on the frames (a mask) with one landmark -> joint mapping, in place."""
    for limb in LIMBS:
        sides = [_side(limb, s) for s in SIDES]
        if not all(i in at for i in sides[0] + sides[1]):
            continue
        # The detector's left and right as they agree best with the network's pose.
        joints = [[at[i] for i in mine] for mine in sides]
        kept = sum(_agreement(out, world, js, mine) for js, mine in zip(joints, sides, strict=True))
        swapped = sum(_agreement(out, world, js, theirs) for js, theirs in zip(joints, sides[::-1], strict=True))
        swap = swapped > kept
        for mine, theirs in zip(sides, sides[::-1], strict=True):
            source = np.where(swap[:, None], theirs, mine)  # (T, 3) the detector's landmarks for this side
            for k in range(2):  # the upper bone, then the lower one (after the upper has turned)
                j, child = at[mine[k]], at[mine[k + 1]]
                a, b = (np.take_along_axis(world, source[:, i, None, None], 1)[:, 0] for i in (k, k + 1))
                seen = frames & np.take_along_axis(visible, source[:, k : k + 2], 1).all(-1)
                turn = rotation_between(out[seen, child] - out[seen, j], b[seen] - a[seen])
                _turn(out, seen, _below(parents, j), out[seen, j], turn)


def _turn(out: np.ndarray, frames: np.ndarray, joints: np.ndarray, pivot: np.ndarray, turn: np.ndarray) -> None:
    """Turn the joints of the frames (a mask) about the pivots (n, 3) by the rotations (n, 3, 3), in place."""
    pick = np.ix_(frames, joints)
    out[pick] = (out[pick] - pivot[:, None]) @ turn.transpose(0, 2, 1) + pivot[:, None]


def _agreement(pose: np.ndarray, world: np.ndarray, joints: list[int], theirs: list[int]) -> np.ndarray:
    """(T,) sum of the cosines between the limb's two bones in the pose (joints) and in
    the detector's world landmarks (`theirs`); 0 where it found nobody."""
    total = np.zeros(len(pose))
    for k in range(2):
        mine = pose[:, joints[k + 1]] - pose[:, joints[k]]
        seen = world[:, theirs[k + 1]] - world[:, theirs[k]]
        cosine = (mine * seen).sum(-1) / (np.linalg.norm(mine, axis=-1) * np.linalg.norm(seen, axis=-1) + 1e-12)
        total += np.nan_to_num(cosine)
    return total


def _below(parents: np.ndarray, j: int) -> np.ndarray:
    """`j` and every joint below it."""
    mask = np.arange(len(parents)) == j
    while True:  # a level further down each time
        grown = mask | (parents >= 0) & mask[np.maximum(parents, 0)]
        if (grown == mask).all():
            return np.flatnonzero(mask)
        mask = grown
