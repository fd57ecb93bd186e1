import numpy as np
import pytest
from conftest import needs_bpy

from model.data.procedural import random_motion, random_skeleton
from model.data.rigify import METARIGS, load_metarig
from model.ik import LEAF, PROCRUSTES, SWING, InputError, _constants, _effective_children, solve_rotations
from model.kinematics import forward_kinematics
from model.rotations import axis_angle_to_matrix, geodesic_angle
from model.skeleton import Skeleton


def solve(motion, reference=0, **kw):
    P = motion.positions()
    return solve_rotations(motion.skeleton, P, P[reference], motion.local_rotations[reference], **kw), P


def branching_skeleton() -> Skeleton:
    """Every non-leaf joint has children in several directions: positions fix all but leaves."""
    parents = [-1, 0, 0, 0, 1, 1, 2, 2, 3, 3]
    heads = np.array(
        [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [2, 0, 0], [1, 1, 0], [0, 2, 0], [0, 1, 1], [0, 0, 2], [1, 0, 1]], float
    )
    return Skeleton(
        parents=parents, rest_heads=heads, rest_frames=axis_angle_to_matrix(np.random.default_rng(0).normal(size=(10, 3)))
    )


def test_exact_where_positions_determine_rotations(rng):
    sk = branching_skeleton()
    R = axis_angle_to_matrix(rng.normal(0, 1, (50, 10, 3)))
    R[:, sk.leaf_mask] = R[0, sk.leaf_mask]  # leaves move nothing: they keep the reference's
    P = forward_kinematics(sk, R)[1]
    solved = solve_rotations(sk, P, P[0], R[0])
    assert np.degrees(geodesic_angle(solved, R)).max() < 1e-4


@needs_bpy
@pytest.mark.parametrize("name", list(METARIGS))
def test_round_trip_on_real_rigs(name):
    sk = load_metarig(name)
    motion = random_motion(sk, 40, seed=3)
    solved, P = solve(motion)
    G_true = forward_kinematics(sk, motion.local_rotations)[0]
    G, heads = forward_kinematics(sk, solved, motion.root_translation)
    # Every head is reproduced, and the reference frame is given back exactly.
    assert np.abs(heads - P).max() / sk.scale < 1e-9
    assert np.degrees(geodesic_angle(solved[0], motion.local_rotations[0])).max() < 1e-4
    kind = _constants(sk, 1e-3)[0]
    # Joints fitted to direct children in several directions: world rotations exact.
    # (Those fitted through moving zero-length links are ambiguous, and not checked.)
    direct = np.array([sorted(e) == sorted(c) for e, c in zip(_effective_children(sk), sk.children)])
    fitted = (kind == PROCRUSTES) & direct
    assert fitted.sum() > 0
    assert np.degrees(geodesic_angle(G[:, fitted], G_true[:, fitted])).max() < 1e-4
    # Joints with children along one line: exact up to a twist about that line.
    for j in np.flatnonzero(kind == SWING):
        c = next(c for c in sk.children[j] if np.linalg.norm(sk.rest_heads[c] - sk.rest_heads[j]) > 0)
        axis = sk.rest_frames[j].T @ (sk.rest_heads[c] - sk.rest_heads[j])
        error = G_true[:, j].transpose(0, 2, 1) @ G[:, j]  # in the bone's frame
        assert np.abs(error @ axis - axis).max() / sk.scale < 1e-9


def test_twist_comes_from_the_reference(rng):
    """A single-child bone twisting only: the solver keeps the reference's twist, so its
    error is exactly the twist the motion added."""
    sk = Skeleton(parents=[-1, 0, 1], rest_heads=[[0, 0, 0], [0, 1, 0], [0, 2, 0]])
    twist = np.linspace(0, 1.0, 20)
    R = np.tile(np.eye(3), (20, 3, 1, 1))
    R[:, 1] = axis_angle_to_matrix(twist[:, None] * [0, 1, 0])
    solved = solve_rotations(sk, forward_kinematics(sk, R)[1], np.zeros((3, 3)), R[0])
    np.testing.assert_allclose(geodesic_angle(solved[:, 1], R[:, 1]), twist, atol=1e-9)


def test_zero_length_links_are_looked_through():
    """A root whose children all sit at its head (CMU hips) is solved from its grandchildren."""
    heads = [[0, 0, 0], [0, 0, 0], [0, 0, 0], [1, 0, 0], [0, 1, 0]]
    sk = Skeleton(parents=[-1, 0, 0, 1, 2], rest_heads=heads)
    assert _constants(sk, 1e-3)[0][0] == PROCRUSTES and _constants(sk, 1e-3)[0][3] == LEAF
    R = np.tile(np.eye(3), (5, 5, 1, 1))
    R[:, 0] = axis_angle_to_matrix(np.random.default_rng(1).normal(size=(5, 3)))
    P = forward_kinematics(sk, R)[1]
    assert np.degrees(geodesic_angle(solve_rotations(sk, P, P[0], R[0]), R)).max() < 1e-4


def test_torch_float32_agrees_with_numpy():
    import torch

    motion = random_motion(random_skeleton(4, 50), 20, seed=4)
    P = motion.positions()
    ref = motion.local_rotations[0]
    expected = solve_rotations(motion.skeleton, P, P[0], ref)
    got = solve_rotations(
        motion.skeleton,
        torch.tensor(P, dtype=torch.float32),
        torch.tensor(P[0], dtype=torch.float32),
        torch.tensor(ref, dtype=torch.float32),
    )
    assert np.degrees(geodesic_angle(got.numpy().astype(np.float64), expected)).max() < 0.05


@needs_bpy
def test_noise_degrades_gracefully(rng):
    motion = random_motion(load_metarig("basic_human"), 60, seed=2)
    P = motion.positions()
    noisy = P + rng.normal(0, 0.005 * motion.skeleton.scale, P.shape)
    solved = solve_rotations(motion.skeleton, noisy, P[0], motion.local_rotations[0])
    assert np.isfinite(solved).all()
    assert np.abs(solved @ solved.swapaxes(-1, -2) - np.eye(3)).max() < 1e-9


@pytest.mark.parametrize(
    "positions, ref_positions, ref_rotations, message",
    [
        (np.zeros((4, 5, 3)), np.zeros((6, 3)), np.tile(np.eye(3), (6, 1, 1)), "positions must have shape"),
        (np.zeros((6, 3)), np.zeros((6, 3)), np.tile(np.eye(3), (6, 1, 1)), "positions must have shape"),
        (np.zeros((4, 6, 3)), np.zeros((6, 2)), np.tile(np.eye(3), (6, 1, 1)), "ref_positions"),
        (np.zeros((4, 6, 3)), np.zeros((4, 6, 3)), np.tile(np.eye(3), (6, 1, 1)), "ref_positions"),
        (np.zeros((4, 6, 3)), np.zeros((6, 3)), np.tile(np.eye(3), (5, 1, 1)), "ref_rotations"),
        (np.full((4, 6, 3), np.nan), np.zeros((6, 3)), np.tile(np.eye(3), (6, 1, 1)), "NaN"),
    ],
)
def test_bad_inputs(positions, ref_positions, ref_rotations, message):
    with pytest.raises(InputError, match=message):
        solve_rotations(random_skeleton(0, 6), positions, ref_positions, ref_rotations)
