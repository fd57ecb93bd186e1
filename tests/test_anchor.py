"""The person path's limbs anchored to the detector's 3D (`model.anchor`)."""

import numpy as np

from model import anchor, landmarks
from model.data import humans
from model.kinematics import forward_kinematics
from model.rotations import axis_angle_to_matrix

LIMB_MARKS = [name.replace("left", side) for limb in anchor.LIMBS for name in limb for side in anchor.SIDES]


def walk():
    """A CMU clip's heads (T, J, 3) root at the origin, its anchors by name, and what a
    perfect detector gives: landmarks (T, 33, PACKED) with pixels seen from the front
    (x across, z up) and metres about the hips."""
    (_, clip), *_ = humans.human_clips()
    motion = clip.frames(slice(0, 300, 30))
    sk, anchors = motion.skeleton, humans.anchors_of(clip.skeleton)
    heads = forward_kinematics(sk, motion.local_rotations, motion.root_translation)[1]
    heads = heads - heads[:, sk.roots[:1]]
    marks = humans.landmarks_of(motion, anchors) - motion.positions()[:, sk.roots[:1]]
    hips = marks[:, [landmarks.INDEX["left_hip"], landmarks.INDEX["right_hip"]]].mean(1, keepdims=True)
    seen = np.ones_like(marks[..., :1])
    packed = np.concatenate([pixels_of(marks), marks[..., 1:2], (marks - hips) * 0.07, seen], -1)
    return sk, anchors, heads, packed


def pixels_of(heads: np.ndarray) -> np.ndarray:
    return heads[..., [0, 2]] * [4.0, -4.0]  # as `walk` sees the landmarks


def test_the_limbs_joints_are_found_where_the_network_puts_them():
    sk, anchors, heads, packed = walk()
    nobody = np.full_like(packed[..., :2], np.nan)
    match = anchor.Matcher(sk.parents)
    assert match(pixels_of(heads[:3]), nobody[:3]) == [{}] * 3  # nobody seen yet
    at = match(pixels_of(heads), packed[..., :2])
    assert all({landmarks.NAMES[k]: j for k, j in a.items()} == {n: anchors[n] for n in LIMB_MARKS} for a in at)
    assert match(pixels_of(heads[:2]), nobody[:2]) == at[-1:] * 2  # what was seen before counts


def test_the_match_holds_whatever_the_chunks():
    sk, _, heads, packed = walk()
    noisy = pixels_of(heads) + np.random.default_rng(0).normal(0, 2.0, heads[..., :2].shape)
    whole = anchor.Matcher(sk.parents)(noisy, packed[..., :2])
    assert len({tuple(sorted(a.items())) for a in whole}) > 1  # the match changes as frames come in
    chunked = anchor.Matcher(sk.parents)
    assert sum((chunked(noisy[i : i + 3], packed[i : i + 3, :, :2]) for i in range(0, len(noisy), 3)), []) == whole


def bent(heads: np.ndarray, parents: np.ndarray, joint: int, angle: float) -> np.ndarray:
    """The heads with `joint`'s subtree turned about its head by `angle` (radians) about X."""
    out = heads.copy()
    below = [k for k in range(len(parents)) if k == joint or anchor._above(parents, joint, k)]
    turn = axis_angle_to_matrix(np.array([angle, 0.0, 0.0]))
    out[:, below] = (heads[:, below] - heads[:, joint : joint + 1]) @ turn.T + heads[:, joint : joint + 1]
    return out


def test_limbs_turn_to_the_detectors_and_keep_their_lengths():
    sk, anchors, heads, packed = walk()
    at = [{landmarks.INDEX[n]: anchors[n] for n in LIMB_MARKS}] * len(heads)
    wrong = bent(bent(heads, sk.parents, anchors["left_elbow"], 0.6), sk.parents, anchors["right_hip"], -0.4)
    fixed = anchor.anchor(wrong, packed, sk.parents, at)
    limbs = list(at[0].values())  # every limb as the detector has it (what hangs below the wrists and ankles
    assert np.abs(fixed[:, limbs] - heads[:, limbs]).max() < 1e-6 * sk.scale  # may keep a turn about the forearm)
    child = np.flatnonzero(sk.parents >= 0)
    length = lambda p: np.linalg.norm(p[:, child] - p[:, sk.parents[child]], axis=-1)  # noqa: E731
    assert np.allclose(length(fixed), length(heads))  # the rig's bones keep their lengths

    # The detector swaps left and right in some frames: the side that agrees with the network is used.
    swapped = packed.copy()
    swapped[::2] = packed[::2][:, landmarks.MIRROR]
    assert np.allclose(anchor.anchor(wrong, swapped, sk.parents, at), fixed)

    # A wrist the detector does not see: that forearm stays where the network put it.
    unsure = packed.copy()
    unsure[:, landmarks.INDEX["left_wrist"], 6] = 0.2
    kept = anchor.anchor(wrong, unsure, sk.parents, at)
    forearm = [k for k in range(sk.num_joints) if anchor._above(sk.parents, anchors["left_elbow"], k)]
    assert np.allclose(kept[:, forearm], wrong[:, forearm]) and not np.allclose(wrong[:, forearm], heads[:, forearm])
    assert np.allclose(np.delete(kept, forearm, 1), np.delete(fixed, forearm, 1))

    # Frames without a person are left as they are.
    nobody = packed.copy()
    nobody[3] = np.nan
    assert np.array_equal(anchor.anchor(wrong, nobody, sk.parents, at)[3], wrong[3])
