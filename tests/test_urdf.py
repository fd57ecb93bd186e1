"""Robot skeletons from pybullet_data's URDFs: joint origins composed with their rpy, facing -Y."""

import numpy as np
import pytest

from model.data import evalsets, urdf


def test_arm_joint_origins_compose_with_their_rotations():
    arm = urdf.load_robot("kuka_iiwa")
    # Straight up at zero configuration: each offset lies along the previous link's rotated axes.
    offsets = [0.1575, 0.2025, 0.2045, 0.2155, 0.1845, 0.2155, 0.081]
    np.testing.assert_allclose(arm.rest_heads[:, 2], np.r_[0, np.cumsum(offsets)], atol=1e-9)
    np.testing.assert_allclose(arm.rest_heads[:, :2], 0, atol=1e-9)
    assert arm.parents.tolist() == [-1, 0, 1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("name", ["a1", "aliengo", "laikago", "mini_cheetah"])
def test_quadrupeds_face_the_front_view(name):
    sk = urdf.load_robot(name)
    head = {n.lower(): h for n, h in zip(sk.names, sk.rest_heads)}
    front = [h for n, h in head.items() if "fr" in n.split("_")[0] or n.endswith("fr") or "_fr" in n]
    hind = [h for n, h in head.items() if "rr" in n.split("_")[0] or n.endswith("rr") or "_hr" in n]
    assert front and hind and max(h[1] for h in front) < min(h[1] for h in hind)  # front legs toward -Y
    assert max(h[0] for h in front) < 0.0 < max(h[0] for h in head.values())  # the right side at -X
    R = sk.rest_frames
    np.testing.assert_allclose(R @ R.swapaxes(-1, -2), np.tile(np.eye(3), (sk.num_joints, 1, 1)), atol=1e-9)


def test_robots_are_an_evaluation_set():
    clips = evalsets.load_set("robots")
    assert [n for n, _ in clips] == list(urdf.ROBOTS)
    assert all(m.num_frames == evalsets.RIGIFY_FRAMES and np.isfinite(m.positions()).all() for _, m in clips)
