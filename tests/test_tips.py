"""Leaf tips (`model.tips`): the skeleton with them, their positions, and what they give
the IK and the network: with exact positions and tips, the leaves' swing is exact."""

import numpy as np
import pytest

from model import ik, metrics, tips
from model.data.procedural import random_motion, random_skeleton
from model.ik import InputError
from model.kinematics import forward_kinematics
from model.rotations import rotation_between
from model.skeleton import default_tails
from tests.test_network import wild


def motion_of(seed: int, bones: int, frames: int = 12):
    return random_motion(random_skeleton(seed, bones), frames, seed=seed)


def swing_deg(skeleton, R_pred, R_true, joints):
    """How far each joint's bone (head to rest tail) points from the truth's, in degrees."""
    tails = default_tails(skeleton)
    bone = (skeleton.rest_frames.swapaxes(-1, -2) @ (tails - skeleton.rest_heads)[..., None])[..., 0]
    d_pred, d_true = ((forward_kinematics(skeleton, R)[0] @ bone[..., None])[..., 0][:, joints] for R in (R_pred, R_true))
    return np.degrees(metrics.geodesic_angle(rotation_between(d_pred, d_true), np.eye(3)))


def test_the_skeleton_with_tips():
    sk = random_skeleton(3, 40)
    tipped, ends = tips.with_tips(sk), tips.leaves(sk)
    J, L = sk.num_joints, len(ends)
    assert L > 0 and tipped.num_joints == J + L
    assert (tipped.parents[J:] == ends).all() and (tipped.parents[:J] == sk.parents).all()
    assert np.allclose(tipped.rest_heads[J:], default_tails(sk)[ends])
    assert (tipped.num_children[ends] == 1).all() and (tipped.num_children[J:] == 0).all()
    with pytest.raises(ValueError, match="tails must have shape"):
        tips.with_tips(sk, np.zeros((J - 1, 3)))


def test_a_motion_with_tips_keeps_its_heads_and_puts_tips_at_the_leaves_ends():
    motion = motion_of(4, 30)
    tipped = motion.with_tips()
    J = motion.skeleton.num_joints
    heads = tipped.positions()
    assert np.allclose(heads[:, :J], motion.positions())
    expected = tips.tip_positions(motion.skeleton, motion.local_rotations, motion.positions())
    assert np.allclose(heads[:, J:], expected)
    # a tip never turns: the metrics and the loss see it as a joint that never moves
    assert not metrics.moving_joints(tipped.local_rotations)[J:].any()


def test_with_exact_positions_and_tips_the_ik_gets_every_leaf_s_swing():
    motion = motion_of(5, 50, 20)
    sk, P, R = motion.skeleton, motion.positions(), motion.local_rotations
    ends = tips.leaves(sk)
    without = ik.solve_rotations(sk, P[1:], P[0], R[0])
    tipped = motion.with_tips()
    Q = tipped.positions()
    with_tips = ik.solve_rotations(tipped.skeleton, Q[1:], Q[0], tipped.local_rotations[0])[:, : sk.num_joints]
    assert swing_deg(sk, with_tips, R[1:], ends).max() < 1e-3
    assert swing_deg(sk, without, R[1:], ends).max() > 5  # the leaves did move: without tips, their swing is lost


@pytest.mark.parametrize("seed, bones", [(31, 12), (32, 70)])
def test_the_network_with_tips_reproduces_heads_and_tips_whatever_the_weights(seed, bones):
    motion = motion_of(seed, bones, 16)
    sk, P, R = motion.skeleton, motion.positions(), motion.local_rotations
    T = tips.tip_positions(sk, R, P)
    net = wild(seed)
    out = net.pose_to_rotation(sk, P[0], R[0], P[1:], tips=T[1:])
    assert out.shape == R[1:].shape
    root = sk.roots[0]
    heads = forward_kinematics(sk, out, P[1:, root] - sk.rest_heads[root])[1]
    assert np.abs(heads - P[1:]).max() < 1e-4 * sk.scale
    assert np.abs(tips.tip_positions(sk, out, heads) - T[1:]).max() < 1e-4 * sk.scale
    assert swing_deg(sk, out, R[1:], tips.leaves(sk)).max() < 0.01
    # one definition: the same as the network on the skeleton with tips
    tipped = motion.with_tips()
    Q = tipped.positions()
    direct = net.pose_to_rotation(tipped.skeleton, Q[0], tipped.local_rotations[0], Q[1:])[:, : sk.num_joints]
    assert np.allclose(out, direct, atol=1e-9)


def test_bad_tips_give_clear_errors():
    motion = motion_of(6, 20, 6)
    sk, P, R = motion.skeleton, motion.positions(), motion.local_rotations
    T = tips.tip_positions(sk, R, P)
    net = wild()
    with pytest.raises(InputError, match="one per leaf"):
        net.pose_to_rotation(sk, P[0], R[0], P[1:], tips=T[1:, :-1])
    bad = T[1:].copy()
    bad[2, 0, 1] = np.nan
    with pytest.raises(InputError, match="finite"):
        net.pose_to_rotation(sk, P[0], R[0], P[1:], tips=bad)
    with pytest.raises(InputError, match="tails must have shape"):
        net.pose_to_rotation(sk, P[0], R[0], P[1:], tips=T[1:], tails=np.zeros((3, 3)))
    big = motion_of(7, 230, 3)
    Pb, Rb = big.positions(), big.local_rotations
    with pytest.raises(InputError, match="at most 256 together"):
        net.pose_to_rotation(big.skeleton, Pb[0], Rb[0], Pb[1:], tips=tips.tip_positions(big.skeleton, Rb, Pb)[1:])
