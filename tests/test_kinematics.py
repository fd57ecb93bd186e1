import numpy as np
import torch

from model.data.procedural import random_motion, random_skeleton
from model.kinematics import forward_kinematics
from model.rotations import axis_angle_to_matrix


def test_rest_pose_gives_rest_heads_and_frames():
    sk = random_skeleton(7, 40)
    G, heads = forward_kinematics(sk, np.tile(np.eye(3), (3, sk.num_joints, 1, 1)))
    assert np.abs(heads - sk.rest_heads).max() < 1e-12
    assert np.abs(G - sk.rest_frames).max() < 1e-12


def test_matches_a_per_joint_reference_loop(rng):
    sk = random_skeleton(8, 30)
    R = axis_angle_to_matrix(rng.normal(size=(4, sk.num_joints, 3)))
    t = rng.normal(size=(4, 3))
    G, heads = forward_kinematics(sk, R, t)
    B, h = sk.rest_frames, sk.rest_heads
    for f in range(4):  # DESIGN.md section 3, written out joint by joint
        g, p = np.zeros((sk.num_joints, 3, 3)), np.zeros((sk.num_joints, 3))
        for j, par in enumerate(sk.parents):
            if par < 0:
                g[j], p[j] = B[j] @ R[f, j], h[j] + t[f]
            else:
                g[j] = g[par] @ B[par].T @ B[j] @ R[f, j]
                p[j] = p[par] + g[par] @ B[par].T @ (h[j] - h[par])
        assert np.abs(G[f] - g).max() < 1e-12 and np.abs(heads[f] - p).max() < 1e-12


def test_torch_batched_and_differentiable(rng):
    sk = random_skeleton(9, 20)
    v = torch.tensor(rng.normal(size=(2, 5, sk.num_joints, 3)), requires_grad=True)
    G, heads = forward_kinematics(sk, axis_angle_to_matrix(v))
    assert G.shape == (2, 5, sk.num_joints, 3, 3) and heads.shape == (2, 5, sk.num_joints, 3)
    heads.sum().backward()
    assert torch.isfinite(v.grad).all() and v.grad.abs().sum() > 0


def test_a_mirrored_clip_is_the_clip_in_a_mirror():
    motion = random_motion(random_skeleton(9, 30), 12, seed=9)
    mirror = motion.mirrored()
    M = np.diag([-1.0, 1.0, 1.0])
    assert np.abs(mirror.positions() - motion.positions() @ M).max() < 1e-12
    G, _ = forward_kinematics(mirror.skeleton, mirror.local_rotations, mirror.root_translation)
    G0, _ = forward_kinematics(motion.skeleton, motion.local_rotations, motion.root_translation)
    assert np.abs(np.linalg.det(G) - 1).max() < 1e-12  # still rotations
    assert np.abs(G[..., 1] - G0[..., 1] @ M).max() < 1e-12  # each bone's axis is the mirrored axis
    assert not np.allclose(mirror.positions(), motion.positions())
