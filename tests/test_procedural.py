import numpy as np
import pytest
from conftest import needs_bpy

from model.data.procedural import mirror_partner, random_motion, random_skeleton
from model.metrics import angular_velocity
from model.rotations import geodesic_angle, matrix_to_axis_angle


def test_seeded_and_reproducible():
    a, b = random_skeleton(42), random_skeleton(42)
    assert a.names == b.names and np.array_equal(a.rest_frames, b.rest_frames)
    assert np.array_equal(random_motion(a, 30, seed=1).local_rotations, random_motion(b, 30, seed=1).local_rotations)
    other = random_skeleton(43)
    assert other.num_joints != a.num_joints or not np.allclose(other.rest_heads, a.rest_heads)


@pytest.mark.parametrize("bones", [5, 6, 30, 70, 175, 256])
def test_exact_bone_counts(bones):
    assert random_skeleton(bones, bones).num_joints == bones


def test_varied_valid_creatures():
    sizes, mirrored = [], []
    for seed in range(40):
        sk = random_skeleton(seed)
        assert 5 <= sk.num_joints <= 200 and len(sk.roots) == 1
        sizes.append(sk.num_joints)
        mirrored.append((mirror_partner(sk.names) >= 0).any())
    assert min(sizes) < 15 and max(sizes) > 80  # small and large creatures both occur
    assert np.mean(mirrored) > 0.6  # most have left/right limbs (serpents need not)
    with pytest.raises(ValueError, match="num_bones"):
        random_skeleton(0, 4)


def test_motion_is_smooth_and_joint_limited():
    sk = random_skeleton(5, 60)
    motion = random_motion(sk, 300, fps=30, seed=5)
    R = motion.local_rotations
    non_root = np.ones(sk.num_joints, bool)
    non_root[sk.roots] = False
    assert np.degrees(geodesic_angle(np.eye(3), R[:, non_root])).max() <= 150.0 + 1e-6
    speed = np.degrees(np.linalg.norm(angular_velocity(R), axis=-1))
    assert np.median(speed) < 10.0 and speed.max() < 60.0  # degrees per frame at 30 fps
    assert (speed.mean(axis=0) > 0.01).mean() > 0.9  # nearly every joint moves


@needs_bpy
def test_left_and_right_move_in_antiphase():
    """Mirrored joints (found by name) share a gait pattern half a cycle apart, so their
    main rotation component is anti-correlated over time (unrelated joints: about 0)."""
    from model.data.rigify import load_metarig

    sk = load_metarig("basic_human")
    partner = mirror_partner(sk.names)
    assert partner[sk.names.index("thigh.L")] == sk.names.index("thigh.R")
    v = matrix_to_axis_angle(random_motion(sk, 600, seed=0).local_rotations)
    correlations = []
    for left in np.flatnonzero(partner > np.arange(sk.num_joints)):
        k = np.argmax(v[:, left].var(axis=0))
        correlations.append(np.corrcoef(v[:, left, k], v[:, partner[left], k])[0, 1])
    assert len(correlations) >= 10 and np.median(correlations) < -0.5
    with pytest.raises(ValueError, match="num_frames"):
        random_motion(sk, 0)
