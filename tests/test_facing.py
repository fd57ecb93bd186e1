"""The heading a capture keeps (`model.facing`) and the evaluation's scene (`model.evaluate_video`)."""

import numpy as np
import pytest
import torch

from model import metrics
from model.data import procedural
from model.data.evalsets import VideoClip
from model.evaluate_video import hold_scores
from model.facing import body_joint, keep_heading, keeps_heading
from model.kinematics import forward_kinematics
from model.rotations import axis_rotation, geodesic_angle
from model.skeleton import Skeleton


def turn_z(degrees) -> np.ndarray:
    return axis_rotation(2, torch.tensor(np.radians(np.atleast_1d(degrees)), dtype=torch.float64)).numpy()


def motion(seed=3):
    m = procedural.random_motion(procedural.random_skeleton(seed, 12), 6, seed=seed)
    return m.skeleton, m.local_rotations


def turned_root(sk, rotations, degrees):
    """The same pose with the whole body turned about the scene's up (its root's world frame)."""
    out, root = rotations.copy(), sk.roots[0]
    B = sk.rest_frames[root]
    out[:, root] = B.T @ turn_z(degrees) @ B @ out[:, root]
    return out


def test_a_turned_body_gets_the_references_heading_back_and_keeps_its_tilt():
    sk, rotations = motion()
    ref = rotations[0]
    still = np.broadcast_to(ref, rotations.shape).copy()
    turned = turned_root(sk, still, [0, 30, -100, 170, 45, 90])  # heading only: fully undone
    np.testing.assert_allclose(keep_heading(turned, sk, ref), still, atol=1e-9)
    # A tilt (about a horizontal axis) stays: the result is the reference tilted, not the input.
    B, root = sk.rest_frames[sk.roots[0]], sk.roots[0]
    tilt = axis_rotation(0, torch.tensor(np.radians([20.0]), dtype=torch.float64)).numpy()[0]
    tilted = still.copy()
    tilted[:, root] = B.T @ tilt @ B @ ref[root]
    kept = keep_heading(turned_root(sk, tilted, 75.0), sk, ref)
    np.testing.assert_allclose(kept, tilted, atol=1e-9)
    # Only the roots move; the other joints are the input's, bit for bit.
    moving = turned_root(sk, rotations, 60.0)
    out = keep_heading(moving, sk, ref)
    others = np.setdiff1d(np.arange(sk.num_joints), sk.roots)
    assert np.array_equal(out[:, others], moving[:, others])
    assert np.degrees(geodesic_angle(out[:, root], moving[:, root])).min() > 50  # turned back toward the reference


def test_the_evaluation_scores_in_the_scene_where_the_reference_pose_was_keyed():
    """A clip filmed from 35 deg: its truth is in the view frame (the scene turned by -35
    deg); scored in the scene, holding the reference is off by what the subject did, not by
    where the camera stood."""
    sk, rotations = motion(5)
    ref = rotations[0]
    view = turned_root(sk, rotations, -35.0)
    heads = forward_kinematics(sk, view)[1]
    clip = VideoClip("creature.proc@35", None, sk, view, heads, forward_kinematics(sk, ref[None])[1][0], ref, camera_yaw=35.0)
    np.testing.assert_allclose(clip.in_scene()[0], rotations, atol=1e-9)
    np.testing.assert_allclose(clip.in_scene()[1], forward_kinematics(sk, rotations)[1], atol=1e-9)
    held = np.broadcast_to(ref, rotations.shape)
    assert hold_scores(clip)[1] == pytest.approx(metrics.rotation_error(held, rotations), abs=1e-9)
    # Scored in the view frame instead (the truth not turned back), the root would count the camera's 35 deg.
    seen_from_front = VideoClip("creature.proc@0", None, sk, view, heads, clip.ref_positions, ref, camera_yaw=0.0)
    assert hold_scores(seen_from_front)[1] > hold_scores(clip)[1] + 1


def test_a_floor_bone_stays_and_the_body_it_holds_turns():
    """Game rigs often hang the hips under a bone on the floor: the body's heading is the
    hips', and the turn goes there, the floor bone untouched."""
    sk, rotations = motion()
    root = sk.roots[0]
    floor = Skeleton(
        np.r_[-1, np.where(sk.parents < 0, 0, sk.parents + 1)],
        np.r_[[sk.rest_heads[root] - [0.0, 0.0, 0.5 * sk.scale]], sk.rest_heads],
        np.r_[[np.eye(3)], sk.rest_frames],
    )
    assert body_joint(floor, 0) == root + 1 and body_joint(sk, root) == root
    with_floor = np.concatenate([np.broadcast_to(np.eye(3), (len(rotations), 1, 3, 3)), rotations], 1)
    ref = with_floor[0]
    still = np.broadcast_to(ref, with_floor.shape).copy()
    turned = still.copy()
    B = floor.rest_frames[root + 1]
    turned[:, root + 1] = B.T @ turn_z([10, -40, 95, 180, 0, 60]) @ B @ ref[root + 1]
    kept = keep_heading(turned, floor, ref)
    np.testing.assert_allclose(kept, still, atol=1e-9)
    assert np.array_equal(kept[:, 0], turned[:, 0])


def test_auto_keeps_the_references_heading_on_the_general_path_only():
    assert [keeps_heading(f, "general") for f in ("AUTO", "REFERENCE", "VIDEO")] == [True, True, False]
    assert [keeps_heading(f, "person") for f in ("AUTO", "REFERENCE", "VIDEO")] == [False, True, False]
