import numpy as np
import pytest

from model.data.bvh import BvhClip, BvhError, load_bvh, save_bvh
from model.data.evalsets import CMU_CLIPS, CMU_DIR
from model.data.motion import Motion, MotionError
from model.data.procedural import random_motion, random_skeleton
from model.rotations import euler_to_matrix

SMALL = """HIERARCHY
ROOT hips
{
  OFFSET 0 1 0
  CHANNELS 6 Xposition Yposition Zposition Yrotation Xrotation Zrotation
  JOINT spine
  {
    OFFSET 0 2 0
    CHANNELS 3 Xrotation Zrotation Yrotation
    End Site
    {
      OFFSET 0 1 0
    }
  }
  JOINT leg
  {
    OFFSET 1 0 0
    CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
    JOINT foot
    {
      OFFSET 0 -1 0
      CHANNELS 2 Zrotation Xrotation
      End Site
      {
        OFFSET 0 0 1
      }
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.04
1 2 3 10 20 30 40 50 60 1 0 0 5 6 7 15 25
4 5 6 -10 -20 -30 -40 -50 -60 1.5 0 0 8 9 10 -15 -25
"""


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "small.bvh"
    path.write_text(SMALL)
    return path


def test_reads_channels_orders_and_end_sites(small):
    clip = load_bvh(small)
    assert clip.skeleton.names == ("hips", "spine", "leg", "foot")
    np.testing.assert_array_equal(clip.skeleton.parents, [-1, 0, 0, 2])
    assert clip.fps == pytest.approx(25.0) and clip.num_frames == 2
    np.testing.assert_allclose(clip.skeleton.rest_heads, [[0, 1, 0], [0, 3, 0], [1, 1, 0], [1, 0, 0]])
    # The root's position channels replace its offset.
    np.testing.assert_allclose(clip.root_translation[0] + clip.skeleton.rest_heads[0], [1, 2, 3])
    np.testing.assert_allclose(clip.local_rotations[0, 0], euler_to_matrix(np.radians([10, 20, 30]), "YXZ"))
    np.testing.assert_allclose(clip.local_rotations[1, 1], euler_to_matrix(np.radians([-40, -50, -60]), "XZY"))
    np.testing.assert_allclose(clip.local_translations[1, 2], [1.5, 0, 0])
    assert set(clip.end_sites) == {1, 3}


def test_round_trip_is_exact(small, tmp_path):
    clip = load_bvh(small)
    save_bvh(tmp_path / "again.bvh", clip)
    again = load_bvh(tmp_path / "again.bvh")
    assert again.channels == clip.channels
    assert np.abs(again.local_rotations - clip.local_rotations).max() < 1e-9
    assert np.abs(again.positions() - clip.positions()).max() < 1e-9
    assert np.abs(again.local_translations - clip.local_translations).max() < 1e-9


@pytest.mark.parametrize("name", CMU_CLIPS)
def test_cmu_round_trip(name, tmp_path):
    path = CMU_DIR / f"{name}.bvh"
    if not path.exists():
        pytest.skip("assimp-testmodels is not installed")
    clip = load_bvh(path)
    assert clip.num_frames > 2000 and clip.skeleton.num_joints in (21, 31)
    save_bvh(tmp_path / "x.bvh", clip)
    again = load_bvh(tmp_path / "x.bvh")
    assert np.abs(again.local_rotations - clip.local_rotations).max() < 1e-9
    assert np.abs(again.root_translation - clip.root_translation).max() < 1e-9


def test_writes_a_rig_with_rolls_as_world_aligned_rotations(tmp_path):
    motion = random_motion(random_skeleton(3, 25), 10, seed=3)
    save_bvh(tmp_path / "rig.bvh", motion)
    again = load_bvh(tmp_path / "rig.bvh")
    assert isinstance(again, BvhClip)
    # Same world-space motion (joints may be reordered depth-first): compare by name.
    order = [again.skeleton.names.index(n) for n in motion.skeleton.names]
    assert np.abs(again.positions()[:, order] - motion.positions()).max() < 1e-7 * motion.skeleton.scale


def test_header_frame_count_mismatch_warns_and_trusts_the_data(small, tmp_path):
    path = tmp_path / "more.bvh"
    path.write_text(SMALL.replace("Frames: 2", "Frames: 1"))
    with pytest.warns(UserWarning, match="header says 1 frames, data holds 2"):
        assert load_bvh(path).num_frames == 2


@pytest.mark.parametrize(
    "edit, error, message",
    [
        (lambda s: s.replace("HIERARCHY", "HIERARCHIE"), BvhError, "expected 'HIERARCHY'"),
        (lambda s: s.replace("OFFSET 0 2 0", "OFFSET 0 two 0"), BvhError, "expected a number"),
        (lambda s: s.replace("Zrotation Xrotation\n", "Zrotation Wrotation\n"), BvhError, "unknown channel"),
        (lambda s: s.replace("CHANNELS 3", "CHANNELS 9"), BvhError, "channels"),
        (lambda s: s[: s.index("MOTION")], BvhError, "end of file"),
        (lambda s: s.replace("  JOINT leg", "  JOINT spine"), BvhError, "unique"),
        (lambda s: s.rsplit("\n", 2)[0] + " 7\n", BvhError, "whole number"),
        (lambda s: s.replace("5 6 7 15", "5 6 x 15"), BvhError, "not a number"),
        (lambda s: s.replace("5 6 7 15", "5 6 nan 15"), BvhError, "non-finite"),
        (lambda s: s.replace("Frame Time: 0.04", "Frame Time: 0"), BvhError, "frame time"),
        (lambda s: s[: s.index("Frames:")] + "Frames: 0\nFrame Time: 0.04\n", MotionError, "empty"),
    ],
)
def test_malformed_files_raise_clear_errors(edit, error, message, tmp_path):
    path = tmp_path / "bad.bvh"
    path.write_text(edit(SMALL))
    with pytest.raises(error, match=message):
        load_bvh(path)


def test_motion_rejects_bad_arrays():
    sk = random_skeleton(0, 6)
    with pytest.raises(MotionError, match="empty"):
        Motion(sk, np.zeros((0, 6, 3, 3)), np.zeros((0, 3)), 30)
    with pytest.raises(MotionError, match="shape"):
        Motion(sk, np.zeros((2, 5, 3, 3)), np.zeros((2, 3)), 30)
    with pytest.raises(MotionError, match="non-finite"):
        Motion(sk, np.full((2, 6, 3, 3), np.nan), np.zeros((2, 3)), 30)
    with pytest.raises(MotionError, match="fps"):
        Motion(sk, np.tile(np.eye(3), (2, 6, 1, 1)), np.zeros((2, 3)), 0)
