"""The 0 A.D. animation reader on a clip written here in the game's format (the real
clips are optional training data, fetched by scripts/fetch_0ad.sh)."""

import struct

import numpy as np
import pytest

from model.data import procedural, zeroad
from model.data.motion import MotionError
from model.kinematics import forward_kinematics
from model.rotations import matrix_to_quaternion
from model.skeleton import Skeleton

SKELETON = """<?xml version='1.0' encoding='utf-8'?>
<skeletons>
  <standard_skeleton id="Biped" title="Biped">
    <bone name="hip">
      <bone name="spine"><bone name="head" /><bone name="sword" /></bone>
      <bone name="thigh_L"><bone name="leg_L" /></bone>
    </bone>
    <bone name="knee_L" />
  </standard_skeleton>
</skeletons>"""
KEEP = ("hip", "spine", "head", "thigh_L", "leg_L")


def psa(keys: np.ndarray, fps: float, name: bytes = b"") -> bytes:
    body = struct.pack("<I", len(name)) + name + struct.pack("<fII", 1000.0 / fps, keys.shape[1], keys.shape[0])
    body += keys.astype("<f4").tobytes()
    return b"PSSA" + struct.pack("<II", 1, len(body)) + body


def test_a_clip_in_the_games_format_is_its_world_motion():
    names, parents = zeroad.bone_tree(SKELETON)
    assert names == ["hip", "spine", "head", "sword", "thigh_L", "leg_L", "knee_L"] and parents == [-1, 0, 1, 1, 0, 4, -1]
    # A world motion of the full tree (props and the helper too), in the model's space.
    rig = Skeleton(np.array(parents), np.random.default_rng(3).normal(size=(len(names), 3)))
    shaped = procedural.random_motion(rig, 9, seed=4)
    G, P = forward_kinematics(shaped.skeleton, shaped.local_rotations, shaped.root_translation)
    q = matrix_to_quaternion(G)  # (w, x, y, z)
    keys = np.concatenate([P, q[..., [1, 2, 3, 0]]], -1)
    fps, read = zeroad.read_psa(psa(keys, 30.0, b"walk"))
    assert fps == pytest.approx(30.0, rel=1e-6) and np.abs(read - keys).max() < 1e-5
    motion = zeroad.motion_of(read, fps, names, parents, KEEP)
    index = [names.index(n) for n in KEEP]
    G2, P2 = forward_kinematics(motion.skeleton, motion.local_rotations, motion.root_translation)
    assert motion.skeleton.parents.tolist() == [-1, 0, 1, 0, 3] and motion.skeleton.names == KEEP
    assert np.abs(P2 - P[:, index]).max() < 1e-5 and np.abs(G2 - G[:, index]).max() < 1e-5


def test_damaged_files_and_trees_are_clear_errors():
    names, parents = zeroad.bone_tree(SKELETON)
    keys = np.zeros((2, len(names), 7))
    keys[..., 6] = 1.0
    with pytest.raises(MotionError, match="PSSA"):
        zeroad.read_psa(b"PSSB" + psa(keys, 30.0)[4:])
    with pytest.raises(MotionError, match="damaged"):
        zeroad.read_psa(psa(keys, 30.0)[:-10])
    with pytest.raises(MotionError, match="one tree"):
        zeroad.motion_of(keys, 30.0, names, parents, ("hip", "head"))
    with pytest.raises(MotionError, match="standard_skeleton"):
        zeroad.bone_tree("<skeletons />")


def test_animals_are_read_on_their_species_main_tree(tmp_path):
    """A species' clip on the skeleton named for it in `ANIMALS`, keeping the largest tree
    (the loose roots are IK targets); clips of other species are skipped, and a clip whose
    bone count fits none of its skeletons is a clear error."""
    names, parents = zeroad.bone_tree(SKELETON)
    assert zeroad.main_tree(names, parents) == ("hip", "spine", "head", "sword", "thigh_L", "leg_L")
    (tmp_path / "art/skeletons").mkdir(parents=True)
    (tmp_path / "art/skeletons/goat.xml").write_text(SKELETON)
    quadrupeds = tmp_path / "art/animation/quadraped"
    quadrupeds.mkdir(parents=True)
    keys = np.zeros((3, len(names), 7))
    keys[..., :3] = np.random.default_rng(5).normal(size=(len(names), 3))
    keys[..., 6] = 1.0
    (quadrupeds / "goat_walk.dae.cached.psa").write_bytes(psa(keys, 30.0))
    (quadrupeds / "rabbit_walk.dae.cached.psa").write_bytes(psa(keys, 30.0))
    with pytest.raises(FileNotFoundError, match="fetch_0ad"):
        zeroad.animal_clips(tmp_path)
    (tmp_path / zeroad.READY).touch()
    [(name, motion)] = zeroad.animal_clips(tmp_path)
    assert name == "goat_walk" and motion.skeleton.names == zeroad.main_tree(names, parents) and motion.num_frames == 3
    (quadrupeds / "goat_run.dae.cached.psa").write_bytes(psa(keys[:, :5], 30.0))
    with pytest.raises(MotionError, match="5 bones"):
        zeroad.animal_clips(tmp_path)
