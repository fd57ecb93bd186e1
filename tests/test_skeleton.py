import numpy as np
import pytest

from model.skeleton import (
    EDGE_CHILD,
    EDGE_END_EFFECTOR,
    EDGE_OTHER,
    EDGE_PARENT,
    EDGE_SELF,
    EDGE_SIBLING,
    UNREACHABLE,
    Skeleton,
    SkeletonError,
    bone_frames,
    default_tails,
    parent_first_order,
)

#        0
#      /   \
#     1     4
#    / \
#   2   3        5 (second root)
PARENTS = np.array([-1, 0, 1, 1, 0, -1])


def tree() -> Skeleton:
    heads = np.array([[0, 0, 0], [0, 0, 1], [0, 0, 2], [1, 0, 2], [0, 1, 0], [5, 5, 5]], float)
    return Skeleton(parents=PARENTS, rest_heads=heads, names=list("abcdef"))


def test_topology_of_a_known_tree():
    sk = tree()
    assert sk.children == ((1, 4), (2, 3), (), (), (), ())
    np.testing.assert_array_equal(sk.roots, [0, 5])
    np.testing.assert_array_equal(sk.depth, [0, 1, 2, 2, 1, 0])
    np.testing.assert_array_equal(sk.leaf_mask, [0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(sk.single_child_mask, [0] * 6)
    assert sk.ancestor_mask[2].tolist() == [True, True, True, False, False, False]
    hops = sk.hop_distances
    assert hops[2, 3] == 2 and hops[2, 4] == 3 and hops[0, 3] == 2 and hops[3, 3] == 0
    assert hops[0, 5] == UNREACHABLE and (hops == hops.T).all()
    e = sk.edge_types
    assert e[1, 1] == EDGE_SELF and e[1, 0] == EDGE_PARENT and e[1, 2] == EDGE_CHILD
    assert e[2, 3] == EDGE_SIBLING and e[1, 4] == EDGE_SIBLING
    assert e[2, 4] == EDGE_END_EFFECTOR and e[2, 0] == EDGE_OTHER
    assert sk.scale == 5.0
    assert [lvl.tolist() for lvl in sk.levels] == [[0, 5], [1, 4], [2, 3]]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(parents=[-1, 2, 1]), "cycle"),
        (dict(parents=[-1, 2, 0]), "before its parent"),
        (dict(parents=[-1, 0, 7]), "outside"),
        (dict(parents=[[-1, 0, 1]]), "shape"),
        (dict(parents=[]), "non-empty"),
        (dict(parents=[-1.0, 0.0, 1.0]), "integers"),
        (dict(rest_heads=np.zeros((3, 2))), "rest_heads"),
        (dict(rest_heads=np.full((3, 3), np.nan)), "finite"),
        (dict(rest_frames=np.zeros((2, 3, 3))), "rest_frames"),
        (dict(rest_frames=np.tile(np.diag([1.0, 1.0, 2.0]), (3, 1, 1))), "orthonormal"),
        (dict(rest_frames=np.tile(np.diag([1.0, 1.0, -1.0]), (3, 1, 1))), "det"),
        (dict(names=["a", "a", "b"]), "unique"),
        (dict(names=["a"]), "3 entries"),
    ],
)
def test_bad_skeletons_are_rejected(kwargs, message):
    args = dict(parents=[-1, 0, 1], rest_heads=np.zeros((3, 3)))
    args.update(kwargs)
    with pytest.raises(SkeletonError, match=message):
        Skeleton(**args)


def test_frames_are_snapped_to_exact_rotations():
    frame = np.eye(3) + 1e-6
    sk = Skeleton(parents=[-1], rest_heads=np.zeros((1, 3)), rest_frames=frame[None])
    assert np.abs(sk.rest_frames[0].T @ sk.rest_frames[0] - np.eye(3)).max() < 1e-14


def test_rotated_skeleton(rng):
    sk = tree()
    M = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1.0]])
    turned = sk.rotated(M)
    assert np.allclose(turned.rest_heads, sk.rest_heads @ M.T)
    assert np.allclose(turned.rest_frames, M @ sk.rest_frames)


def test_a_subset_keeps_each_joint_under_its_parent():
    sk = tree()
    sub = sk.subset(np.array([0, 1, 3, 5]))
    assert sub.parents.tolist() == [-1, 0, 1, -1]
    assert np.array_equal(sub.rest_heads, sk.rest_heads[[0, 1, 3, 5]])
    assert sub.names == ("a", "b", "d", "f")
    with pytest.raises(SkeletonError, match="kept without its parent"):
        sk.subset(np.array([0, 2]))


def test_parent_first_order():
    parents = np.array([2, -1, 1, 0])
    order = parent_first_order(parents)
    position = {j: i for i, j in enumerate(order)}
    assert all(position[p] < position[j] for j, p in enumerate(parents) if p >= 0)
    with pytest.raises(SkeletonError, match="cycle"):
        parent_first_order(np.array([1, 0]))


def test_bone_frames_point_y_along_the_bone(rng):
    heads, tails = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    frames = bone_frames(heads, tails, rng.uniform(-3, 3, 50))
    axis = (tails - heads) / np.linalg.norm(tails - heads, axis=1, keepdims=True)
    assert np.abs(frames[:, :, 1] - axis).max() < 1e-12
    with pytest.raises(SkeletonError, match="tail"):
        bone_frames(heads[:1], heads[:1], [0.0])


def test_default_tails():
    sk = tree()
    tails = default_tails(sk, leaf_offsets={2: np.array([0, 0, 0.5])})
    assert np.allclose(tails[0], (sk.rest_heads[1] + sk.rest_heads[4]) / 2)
    assert np.allclose(tails[2], [0, 0, 2.5])
    assert np.linalg.norm(tails - sk.rest_heads, axis=1).min() > 0  # every bone has a length
