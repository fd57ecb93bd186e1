import numpy as np
import pytest

from model import metrics
from model.rotations import axis_angle_to_matrix, axis_rotation
from model.skeleton import Skeleton

CHAIN = Skeleton(parents=[-1, 0, 1], rest_heads=[[0, 0, 0], [0, 0.5, 0], [0, 1, 0]])


def test_rotation_error_known_offset_and_still_joints(rng):
    true = axis_angle_to_matrix(rng.normal(size=(10, 3, 3)))
    true[:, 2] = np.eye(3)  # never moves: skipped
    pred = true @ axis_rotation(0, np.radians(10.0))
    pred[:, 2] = axis_rotation(0, np.radians(90.0))
    assert metrics.moving_joints(true).tolist() == [True, True, False]
    assert metrics.rotation_error(pred, true) == pytest.approx(10.0)


def test_twist_error_sees_only_twist(rng):
    true = axis_angle_to_matrix(rng.normal(size=(10, 3, 3)))
    swung = true.copy()
    swung[:, 1:] = axis_rotation(0, np.radians(30.0)) @ true[:, 1:]  # swing only (about X, applied after)
    twisted = true @ axis_rotation(1, np.radians(20.0))
    assert metrics.twist_error(twisted, true, CHAIN) == pytest.approx(20.0)
    # Joint 0 has one child too, so all three count; the root-only change is not twist.
    assert metrics.rotation_error(twisted, true) == pytest.approx(20.0)
    assert metrics.twist_error(true, true, CHAIN) == pytest.approx(0.0, abs=1e-6)


def test_mpjpe_is_root_relative_and_scaled():
    true = np.tile(CHAIN.rest_heads, (4, 1, 1))
    pred = true + [5.0, 0, 0]  # a pure translation: no error
    assert metrics.mpjpe_cm(pred, true, CHAIN) == pytest.approx(0.0)
    pred = true.copy()
    pred[:, 2, 0] += 0.1  # 0.1 on a 1.0-sized rig = 10 cm at 1 m, on one joint of three
    assert metrics.mpjpe_cm(pred, true, CHAIN) == pytest.approx(10.0 / 3)


def test_pa_mpjpe_forgives_place_size_and_heading_only(rng):
    true = rng.normal(size=(5, 12, 3))
    turn = axis_angle_to_matrix(rng.normal(size=3))
    moved = 3.7 * true @ turn.T + [1.0, -2.0, 0.5]  # another unit, heading and place: the same pose
    moved[1] = np.nan  # nobody found: left out
    assert metrics.pa_mpjpe_cm(moved, true, CHAIN) == pytest.approx(0.0, abs=1e-9)
    mirrored = true * [-1.0, 1.0, 1.0]  # left for right: no rotation undoes it
    assert metrics.pa_mpjpe_cm(mirrored, true, CHAIN) > 10
    bent = true.copy()
    bent[:, 0] += [0.3, 0.0, 0.0]  # a real error survives the alignment, smaller but not nil
    assert 0 < metrics.pa_mpjpe_cm(bent, true, CHAIN) < metrics.mpjpe_cm(bent, true, CHAIN)
    assert np.isnan(metrics.pa_mpjpe_cm(np.full_like(true, np.nan), true, CHAIN))


def test_body_turn_error_is_the_turn_between_whole_bodies(rng):
    true = rng.normal(size=(6, 12, 3))
    assert metrics.body_turn_error(true + [1.0, 2.0, 3.0], true) == pytest.approx(0.0, abs=1e-6)  # place: no turn
    for degrees in (30.0, 150.0):
        turned = true @ axis_rotation(2, np.radians(degrees)).T  # facing elsewhere, same pose
        assert metrics.body_turn_error(turned, true) == pytest.approx(degrees)
    noisy = true + rng.normal(scale=0.05, size=true.shape)  # a rough pose facing right barely turns
    assert metrics.body_turn_error(noisy, true) < 5.0


def test_angular_velocity_error():
    t = np.radians(np.arange(20) * 2.0)
    true = np.stack([axis_rotation(2, t)] * 3, 1)
    pred = np.stack([axis_rotation(2, 2 * t)] * 3, 1)  # twice as fast: 2 deg/frame off
    assert metrics.angular_velocity_error(pred, true) == pytest.approx(2.0)
    assert metrics.angular_velocity_error(true, true) == pytest.approx(0.0, abs=1e-9)
