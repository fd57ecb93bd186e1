import numpy as np
import pytest
import torch

from model import rotations as r

ORDERS = ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"]


@pytest.fixture
def R(rng):
    v = rng.normal(size=(500, 3))
    v *= rng.uniform(0, np.pi, (500, 1)) / np.linalg.norm(v, axis=1, keepdims=True)
    v[:3] = [[np.pi, 0, 0], [0, 1e-12, 0], [0, 0, 0]]  # half turn, tiny, identity
    return r.axis_angle_to_matrix(v)


def test_matrices_are_rotations(R):
    assert np.abs(R @ R.transpose(0, 2, 1) - np.eye(3)).max() < 1e-12
    assert np.allclose(np.linalg.det(R), 1.0)


def test_round_trips(R):
    for there, back in [
        (r.matrix_to_quaternion, r.quaternion_to_matrix),
        (r.matrix_to_axis_angle, r.axis_angle_to_matrix),
        (r.matrix_to_rot6d, r.rot6d_to_matrix),
    ]:
        assert np.abs(back(there(R)) - R).max() < 1e-12


@pytest.mark.parametrize("order", ORDERS)
def test_euler_round_trip_including_gimbal_lock(R, order):
    assert np.abs(r.euler_to_matrix(r.matrix_to_euler(R, order), order) - R).max() < 1e-12
    locked = r.euler_to_matrix(np.array([[0.3, np.pi / 2, 0.2], [-1.0, -np.pi / 2, 0.5]]), order)
    assert np.abs(r.euler_to_matrix(r.matrix_to_euler(locked, order), order) - locked).max() < 1e-12


def test_euler_order_is_the_matrix_product():
    a = np.array([0.3, -0.7, 1.1])
    expected = r.axis_rotation(2, a[0]) @ r.axis_rotation(0, a[1]) @ r.axis_rotation(1, a[2])
    assert np.allclose(r.euler_to_matrix(a, "ZXY"), expected)
    with pytest.raises(ValueError, match="permutation"):
        r.euler_to_matrix(a, "XXY")


def test_6d_is_the_first_two_columns(R):
    d6 = r.matrix_to_rot6d(R)
    assert np.array_equal(d6[:, :3], R[:, :, 0]) and np.array_equal(d6[:, 3:], R[:, :, 1])
    # Gram-Schmidt keeps the first column's direction and repairs a perturbed second one.
    noisy = d6 + np.concatenate([np.zeros((500, 3)), 1e-3 * np.ones((500, 3))], 1)
    assert np.allclose(r.rot6d_to_matrix(noisy)[:, :, 0], R[:, :, 0])


def test_quaternions_are_wxyz_with_nonnegative_w():
    q = r.matrix_to_quaternion(r.axis_rotation(2, np.array([np.pi / 2])))
    assert np.allclose(q, [[np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)]])
    assert (r.matrix_to_quaternion(r.axis_angle_to_matrix(np.array([[0, 0, 3.0]])))[:, 0] >= 0).all()


def test_geodesic_angle_is_the_relative_rotation_angle(R, rng):
    angles = rng.uniform(0, np.pi, 500)
    axes = rng.normal(size=(500, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    delta = r.axis_angle_to_matrix(axes * angles[:, None])
    assert np.abs(r.geodesic_angle(R, R @ delta) - angles).max() < 1e-9
    assert np.abs(r.geodesic_angle(R, R)).max() < 1e-7


def test_swing_twist(R):
    swing, twist = r.swing_twist(R)
    y = np.array([0.0, 1.0, 0.0])
    assert np.abs(swing @ r.axis_rotation(1, twist) - R).max() < 1e-12
    assert np.abs(swing @ y - R @ y).max() < 1e-12  # the twist leaves the bone axis alone
    assert np.abs(r.swing_twist(swing)[1]).max() < 1e-9  # the swing has no twist
    # A pure twist is all twist.
    assert np.allclose(r.swing_twist(r.axis_rotation(1, np.array([0.7])))[1], [0.7])


def test_rotation_between(rng):
    a, b = rng.normal(size=(100, 3)), rng.normal(size=(100, 3))
    b[:3] = -a[:3] * [[1.0], [2.0], [0.5]]  # opposite directions
    M = r.rotation_between(a, b)
    unit = lambda v: v / np.linalg.norm(v, axis=-1, keepdims=True)
    assert np.abs((M @ unit(a)[..., None])[..., 0] - unit(b)).max() < 1e-12
    assert np.allclose(np.linalg.det(M), 1.0)
    # Smallest rotation: its axis is perpendicular to both vectors.
    axis = r.matrix_to_axis_angle(M[3:])
    assert np.abs(np.einsum("ij,ij->i", axis, a[3:])).max() < 1e-9
    assert np.allclose(r.rotation_between(np.zeros(3), np.ones(3)), np.eye(3))


def test_bone_and_world_local_rotations_are_conjugate(R, rng):
    frames = r.axis_angle_to_matrix(rng.normal(size=(500, 3)))
    L = r.bone_to_world_local(R, frames)
    assert np.allclose(L, frames @ R @ frames.transpose(0, 2, 1))
    assert np.abs(r.world_to_bone_local(L, frames) - R).max() < 1e-12


def test_torch_matches_numpy_and_is_differentiable(R):
    v = torch.tensor(r.matrix_to_axis_angle(R[3:]), dtype=torch.float32, requires_grad=True)
    M = r.axis_angle_to_matrix(v)
    assert isinstance(M, torch.Tensor) and M.dtype == torch.float32
    assert np.abs(M.detach().numpy() - R[3:]).max() < 1e-5
    loss = r.geodesic_angle(M, torch.eye(3)).sum() + r.rot6d_to_matrix(r.matrix_to_rot6d(M)).sum()
    loss.backward()
    assert torch.isfinite(v.grad).all()


@pytest.mark.parametrize("frames", [2, 5, 40])
def test_smoothing_is_a_gaussian_average_of_quaternions_at_any_clip_length(frames, rng):
    """Each frame becomes the normalised Gaussian-weighted mean of the clip's (sign-aligned)
    quaternions, the window cut at the clip's ends: also when it is wider than the clip
    (sigma 3 reaches 9 frames each way), as a short capture with the default Smoothing is."""
    small = r.axis_angle_to_matrix(rng.normal(scale=0.2, size=(frames, 4, 3)))
    R = np.einsum("jab,tjbc->tjac", r.axis_angle_to_matrix(rng.normal(size=(4, 3))), small)
    q = r.continuous_quaternions(r.matrix_to_quaternion(R))
    t = np.arange(frames)
    w = np.exp(-0.5 * ((t[None] - t[:, None]) / 3.0) ** 2) * (np.abs(t[None] - t[:, None]) <= 9)
    mean = np.einsum("ts,sjk->tjk", w, q)
    expected = r.quaternion_to_matrix(mean / np.linalg.norm(mean, axis=-1, keepdims=True))
    np.testing.assert_allclose(r.smooth_rotations(R, 3.0), expected, atol=1e-9)
    np.testing.assert_allclose(r.smooth_rotations(np.repeat(R[:1], frames, 0), 3.0), np.repeat(R[:1], frames, 0), atol=1e-9)
