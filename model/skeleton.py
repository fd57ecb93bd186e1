"""The skeleton every part of MoCap Anything shares (DESIGN.md section 3).

J joints, one per bone, parents before children:
- `parents` (J,) int, -1 for a root;
- `rest_heads` (J, 3) bone heads at rest, world orientation;
- `rest_frames` (J, 3, 3) rotation part of `bone.matrix_local` (columns: bone X, Y along
  the bone, Z), roll included; identity for a BVH skeleton;
- `names`, J unique strings.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from .rotations import axis_angle_to_matrix


class SkeletonError(ValueError):
    """A skeleton's arrays do not describe a valid parent-first tree of bones."""


# Edge types for the attention bias, in order of precedence.
EDGE_SELF, EDGE_PARENT, EDGE_CHILD, EDGE_SIBLING, EDGE_END_EFFECTOR, EDGE_OTHER = range(6)
NUM_EDGE_TYPES = 6
MIRROR_X = np.diag([-1.0, 1.0, 1.0])
# Hop distance reported between joints of different trees (several roots).
UNREACHABLE = np.iinfo(np.int32).max


@dataclass(frozen=True, eq=False)
class Skeleton:
    parents: np.ndarray
    rest_heads: np.ndarray
    rest_frames: np.ndarray | None = None
    names: tuple[str, ...] | None = None
    _cache: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        parents = np.asarray(self.parents)
        if parents.ndim != 1 or parents.size == 0:
            raise SkeletonError(f"parents must be a non-empty (J,) array, got shape {parents.shape}")
        if not np.issubdtype(parents.dtype, np.integer):
            raise SkeletonError(f"parents must be integers, got {parents.dtype}")
        J = parents.size
        parents = parents.astype(np.int64)
        _check_tree(parents)

        heads = np.asarray(self.rest_heads, dtype=np.float64)
        if heads.shape != (J, 3):
            raise SkeletonError(f"rest_heads must have shape ({J}, 3), got {heads.shape}")
        frames = np.broadcast_to(np.eye(3), (J, 3, 3)) if self.rest_frames is None else self.rest_frames
        frames = np.asarray(frames, dtype=np.float64)
        if frames.shape != (J, 3, 3):
            raise SkeletonError(f"rest_frames must have shape ({J}, 3, 3), got {frames.shape}")
        if not (np.isfinite(heads).all() and np.isfinite(frames).all()):
            raise SkeletonError("rest_heads and rest_frames must be finite")
        ortho = np.abs(frames.transpose(0, 2, 1) @ frames - np.eye(3)).max(axis=(1, 2))
        bad = np.flatnonzero((ortho > 1e-4) | (np.linalg.det(frames) < 0))
        if bad.size:
            raise SkeletonError(f"rest_frames must be rotations (orthonormal, det +1); joint {bad[0]} is not")
        # Snap to the nearest exact rotation: float32 or approximate frames (Blender's own
        # are both) would otherwise make B^T differ from B^-1 and FK from its inverse.
        u, _, vt = np.linalg.svd(frames)
        frames = u @ vt

        names = tuple(f"joint_{j}" for j in range(J)) if self.names is None else tuple(map(str, self.names))
        if len(names) != J:
            raise SkeletonError(f"names must have {J} entries, got {len(names)}")
        if len(set(names)) != J:
            raise SkeletonError("names must be unique")

        for key, value in (("parents", parents), ("rest_heads", heads), ("rest_frames", frames)):
            value.setflags(write=False)
            object.__setattr__(self, key, value)
        object.__setattr__(self, "names", names)

    def cached(self, key, make):
        """Memoise something derived from this (immutable) skeleton."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    # ---- size ----------------------------------------------------------------
    @property
    def num_joints(self) -> int:
        return self.parents.size

    @property
    def scale(self) -> float:
        """Max extent of the rest heads (fits the rest pose in a unit cube); 1 if degenerate."""
        extent = float(np.ptp(self.rest_heads, axis=0).max())
        return extent if extent > 0 else 1.0

    # ---- topology --------------------------------------------------------------
    @functools.cached_property
    def roots(self) -> np.ndarray:
        return np.flatnonzero(self.parents < 0)

    @functools.cached_property
    def children(self) -> tuple[tuple[int, ...], ...]:
        kids = [[] for _ in range(self.num_joints)]
        for j, p in enumerate(self.parents):
            if p >= 0:
                kids[p].append(j)
        return tuple(map(tuple, kids))

    @functools.cached_property
    def num_children(self) -> np.ndarray:
        return np.bincount(self.parents[self.parents >= 0], minlength=self.num_joints)

    @property
    def leaf_mask(self) -> np.ndarray:
        return self.num_children == 0

    @property
    def single_child_mask(self) -> np.ndarray:
        return self.num_children == 1

    @functools.cached_property
    def depth(self) -> np.ndarray:
        depth = np.zeros(self.num_joints, dtype=np.int64)
        for j, p in enumerate(self.parents):
            if p >= 0:
                depth[j] = depth[p] + 1
        return depth

    @functools.cached_property
    def levels(self) -> tuple[np.ndarray, ...]:
        """Joint indices grouped by depth: every parent of level d is in level d-1."""
        return tuple(np.flatnonzero(self.depth == d) for d in range(self.depth.max() + 1))

    @functools.cached_property
    def ancestor_mask(self) -> np.ndarray:
        """(J, J) bool, [i, k] true when k is i itself or one of its ancestors."""
        mask = np.eye(self.num_joints, dtype=bool)
        for j, p in enumerate(self.parents):
            if p >= 0:
                mask[j] |= mask[p]
        return mask

    @functools.cached_property
    def hop_distances(self) -> np.ndarray:
        """(J, J) tree distance in edges; UNREACHABLE between different trees."""
        anc = self.ancestor_mask.astype(np.int64)
        common = anc @ anc.T  # number of common ancestors = depth(lowest common ancestor) + 1
        dist = self.depth[:, None] + self.depth[None, :] - 2 * (common - 1)
        return np.where(common > 0, dist, UNREACHABLE).astype(np.int32)

    @functools.cached_property
    def edge_types(self) -> np.ndarray:
        """(J, J) relation of joint k to joint i: EDGE_SELF, _PARENT (k is i's parent),
        _CHILD, _SIBLING, _END_EFFECTOR (k is a leaf, none of the above), _OTHER."""
        J, p = self.num_joints, self.parents
        idx = np.arange(J)
        edges = np.full((J, J), EDGE_OTHER, dtype=np.int64)
        edges[:, self.leaf_mask] = EDGE_END_EFFECTOR
        siblings = (p[:, None] == p[None, :]) & (p[:, None] >= 0)
        edges[siblings] = EDGE_SIBLING
        has_parent = p >= 0
        edges[idx[has_parent], p[has_parent]] = EDGE_PARENT
        edges[p[has_parent], idx[has_parent]] = EDGE_CHILD
        edges[idx, idx] = EDGE_SELF
        return edges

    def rest_reference(self) -> tuple[np.ndarray, np.ndarray]:
        """The rest pose as a reference pair: heads (J, 3) and local rotations (J, 3, 3),
        all identity; what a rig keyed at rest gives."""
        return self.rest_heads.copy(), np.tile(np.eye(3), (self.num_joints, 1, 1))

    # ---- transforms --------------------------------------------------------------
    def rotated(self, rotation: np.ndarray) -> Skeleton:
        """The same rig seen in a rotated world (heads and frames turn; local rotations
        keep their meaning, DESIGN.md section 3)."""
        rotation = np.asarray(rotation, dtype=np.float64)
        return Skeleton(self.parents, self.rest_heads @ rotation.T, rotation @ self.rest_frames, self.names)

    def with_frames(self, rest_frames: np.ndarray) -> Skeleton:
        return Skeleton(self.parents, self.rest_heads, rest_frames, self.names)

    def subset(self, keep: np.ndarray) -> Skeleton:
        """The rig of the joints `keep` (ascending indices), each still a child of its
        parent: a joint's parent must be kept too, unless it is a root."""
        keep = np.asarray(keep, dtype=np.int64)
        position = np.full(self.num_joints, -1, dtype=np.int64)
        position[keep] = np.arange(keep.size)
        parents = np.where(self.parents[keep] >= 0, position[self.parents[keep]], -1)
        orphans = keep[(self.parents[keep] >= 0) & (parents < 0)]
        if orphans.size:
            raise SkeletonError(f"joint {orphans[0]} is kept without its parent {self.parents[orphans[0]]}")
        return Skeleton(parents, self.rest_heads[keep], self.rest_frames[keep], tuple(self.names[j] for j in keep))

    def mirrored(self) -> Skeleton:
        """The rig in a mirror across the world's YZ plane (X -> -X). Frames are conjugated
        by the reflection, which keeps them rotations with Y still along the bone; names
        stay, so a "left" bone now stands on the right."""
        return Skeleton(self.parents, self.rest_heads @ MIRROR_X, MIRROR_X @ self.rest_frames @ MIRROR_X, self.names)


def _check_tree(parents: np.ndarray) -> None:
    J = parents.size
    out_of_range = np.flatnonzero((parents < -1) | (parents >= J))
    if out_of_range.size:
        j = out_of_range[0]
        raise SkeletonError(f"joint {j} has parent {parents[j]}, outside [-1, {J})")
    late = np.flatnonzero(parents >= np.arange(J))
    if not late.size:
        return
    for start in late:  # tell a cycle apart from a mere ordering problem
        seen, j = set(), start
        while j >= 0 and j not in seen:
            seen.add(j)
            j = parents[j]
        if j >= 0:
            raise SkeletonError(f"parents contain a cycle through joint {j}")
    j = late[0]
    raise SkeletonError(f"joint {j} comes before its parent {parents[j]}; parents must precede children")


def parent_first_order(parents: np.ndarray) -> np.ndarray:
    """An order of joints in which each parent precedes its children (stable)."""
    parents = np.asarray(parents, dtype=np.int64)
    kids = [[] for _ in parents]
    for j, p in enumerate(parents):
        if p >= 0:
            kids[p].append(j)
    order, stack = [], [j for j in range(parents.size - 1, -1, -1) if parents[j] < 0]
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(reversed(kids[j]))
    if len(order) != parents.size:
        raise SkeletonError("parents contain a cycle")
    return np.asarray(order, dtype=np.int64)


def bone_frames(heads: np.ndarray, tails: np.ndarray, rolls: np.ndarray) -> np.ndarray:
    """Rest frames of bones from head, tail and roll, exactly as Blender computes
    `bone.matrix_local` (vec_roll_to_mat3): Y along the bone, then rolled about it."""
    heads, tails = np.asarray(heads, np.float64), np.asarray(tails, np.float64)
    axis = tails - heads
    length = np.linalg.norm(axis, axis=-1, keepdims=True)
    if (length <= 0).any():
        raise SkeletonError("every bone needs a tail distinct from its head")
    x, y, z = np.moveaxis(axis / length, -1, 0)
    theta = 1.0 + y
    theta_alt = x * x + z * z
    theta = np.where(theta <= 6.1e-3, theta_alt * 0.5 + theta_alt * theta_alt * 0.125, theta)
    safe = np.where(theta > 0, theta, 1.0)
    base = np.stack(
        [
            np.stack([1 - x * x / safe, -x, -x * z / safe], -1),
            np.stack([x, y, z], -1),
            np.stack([-x * z / safe, -z, 1 - z * z / safe], -1),
        ],
        -1,
    )
    # Pointing straight down -Y: Blender's symmetric fallback.
    down = (1.0 + y <= 6.1e-3) & (theta_alt <= 2.5e-4**2)
    base[down] = np.diag([-1.0, -1.0, 1.0])
    roll = axis_angle_to_matrix(np.stack([x, y, z], -1) * np.asarray(rolls, np.float64)[..., None])
    return roll @ base


def default_tails(skeleton: Skeleton, leaf_offsets: dict | None = None) -> np.ndarray:
    """Bone tails as Blender's BVH importer places them: at the only child's head, at the
    mean of several children's heads, or at head + `leaf_offsets[j]` (End Sites) for
    leaves; a bone that would have no length continues its parent's direction."""
    h = skeleton.rest_heads
    tails = h.copy()
    for j, kids in enumerate(skeleton.children):
        if kids:
            tails[j] = h[list(kids)].mean(axis=0)
        elif leaf_offsets and j in leaf_offsets:
            tails[j] = h[j] + leaf_offsets[j]
    length = 0.05 * skeleton.scale
    for j, p in enumerate(skeleton.parents):  # parents first, so theirs are already fixed
        if np.linalg.norm(tails[j] - h[j]) <= 1e-6 * skeleton.scale:
            direction = tails[p] - h[p] if p >= 0 else np.array([0.0, 0.0, 1.0])
            tails[j] = h[j] + direction / np.linalg.norm(direction) * length
    return tails
