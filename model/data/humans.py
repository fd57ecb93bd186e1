"""People without images: the person path's training data (DESIGN.md section 4).

An example is a window of real human motion (the training split of the CMU and
DeepMimic clips) on a randomised humanoid rig, seen by a random camera, with the
landmarks a pose detector would give for it (`model.landmarks`) and the rig's joints as
targets:

1. the body: the clip's limbs lengthened or shortened, its poses bent a little by smooth
   random rotations (poses the few clips lack);
2. landmarks hang on named joints of the clip's skeleton (`ANCHORS`): at a joint, or at an
   offset from it in the body's rest axes (`RECIPES`, in body heights) that turns with it;
3. the rig: other rest pose and rolls (`augment.randomise_rig`, the same world motion),
   then other topology: bones split in two, joints dropped, rigid leaves added (fingers,
   face bones, toes, a tail), so that the network meets rigs unlike the clips' own;
4. the camera: a random side, height, distance, lens and frame size; the landmarks
   projected and corrupted as the detector errs (`detector_view`, fitted to its errors
   on rendered people, `python -m model.evaluate_person --detector`): offsets and errors
   that wander from frame to frame, depth errors, left/right swaps, limbs lost with low
   visibility, frames with no person;
5. targets: the rig's heads in the view frame, root at the origin, in units of the
   rig's scale, and their places in the landmarks' box (-1..1).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import torch

from .. import crop
from .. import landmarks as lm
from ..kinematics import forward_kinematics, local_from_world
from ..rotations import axis_angle_to_matrix, axis_rotation
from ..skeleton import Skeleton, parent_first_order
from ..video2pose import query_features
from . import augment, clips, evalsets
from .motion import Motion

BODY_JOINTS = tuple(f"{s}_{j}" for s in ("left", "right") for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"))
ANCHORS = {
    "cmu": {
        "left_shoulder": "LeftArm", "right_shoulder": "RightArm", "left_elbow": "LeftForeArm", "right_elbow": "RightForeArm",
        "left_wrist": "LeftHand", "right_wrist": "RightHand", "left_hip": "LeftUpLeg", "right_hip": "RightUpLeg",
        "left_knee": "LeftLeg", "right_knee": "RightLeg", "left_ankle": "LeftFoot", "right_ankle": "RightFoot", "head": "Head",
    },
    "acclaim": {  # a bone's joint is at its start: lhumerus at the shoulder, lwrist at the wrist
        **{f"{s}_{j}": f"{s[0]}{b}" for s in ("left", "right") for j, b in (
            ("shoulder", "humerus"), ("elbow", "radius"), ("wrist", "wrist"),
            ("hip", "femur"), ("knee", "tibia"), ("ankle", "foot"),
        )},
        "head": "head",
    },
    "deepmimic": {
        **{j: j for j in BODY_JOINTS},
        "head": "neck",
    },
    "rigify": {  # the human and basic human metarigs (their bones' heads)
        **{f"{s}_{j}": f"{b}.{s[0].upper()}" for s in ("left", "right") for j, b in (
            ("shoulder", "upper_arm"), ("elbow", "forearm"), ("wrist", "hand"),
            ("hip", "thigh"), ("knee", "shin"), ("ankle", "foot"),
        )},
        "head": "spine.006",
    },
}  # fmt: skip
HEAD_HEIGHT = 0.83  # the skull's base above the ankles, in body heights

# Landmark -> (anchor, basis, offset in body heights). Bases: "body" (left, forward, up at
# rest), "hand" (along the forearm, forward, across). Left-side offsets; the right side
# mirrors them.
_FACE = {
    "nose": (0.0, 0.055, 0.045),
    "left_eye_inner": (0.009, 0.05, 0.058),
    "left_eye": (0.018, 0.048, 0.059),
    "left_eye_outer": (0.026, 0.043, 0.059),
    "left_ear": (0.042, 0.0, 0.05),
    "mouth_left": (0.014, 0.05, 0.028),
}
_HAND = {"pinky": (0.045, -0.014, 0.0), "index": (0.05, 0.012, 0.0), "thumb": (0.028, 0.022, 0.01)}
_FOOT = {"heel": (0.0, -0.025, -0.03), "foot_index": (0.0, 0.085, -0.035)}


def _recipes() -> dict[str, tuple[str, str, np.ndarray]]:
    out = {}
    for name in lm.NAMES:
        side = "left" if "left" in name else "right" if "right" in name else ""
        sign = -1.0 if side == "right" else 1.0
        flip = np.array([sign, 1.0, 1.0])
        base = name.replace(f"{side}_", "") if side else name
        if name in _FACE or name.replace("right", "left") in _FACE:
            out[name] = ("head", "body", np.array(_FACE[name.replace("right", "left")]) * flip)
        elif base in _HAND:
            out[name] = (f"{side}_wrist", "hand", np.array(_HAND[base]) * np.array([1.0, 1.0, sign]))
        elif base in _FOOT:
            out[name] = (f"{side}_ankle", "body", np.array(_FOOT[base]))
        else:
            out[name] = (name, "body", np.zeros(3))
    return out


RECIPES = _recipes()


def anchors_of(skeleton: Skeleton) -> dict[str, int] | None:
    """The anchor joints of a clip's skeleton by name, or None if it is none of `ANCHORS`."""
    index = {n: j for j, n in enumerate(skeleton.names)}
    for names in ANCHORS.values():
        if all(n in index for n in names.values()):
            return {a: index[n] for a, n in names.items()}
    return None


@functools.lru_cache(maxsize=2)
def human_clips(split: str = "training") -> list[tuple[str, Motion]]:
    """The `training` or `evaluation` split of the real human clips (`evalsets`), each
    turned to face the front (-Y) at rest."""
    clips = evalsets.training_clips() if split == "training" else evalsets.load_set("cmu") + evalsets.load_set("deepmimic")
    out = []
    for name, motion in clips:
        anchors = anchors_of(motion.skeleton)
        if anchors is not None:
            out.append((name, motion.rotated(_facing_front(motion.skeleton, anchors))))
    return out


def _body_axes(heads: np.ndarray, anchors: dict[str, int]) -> np.ndarray:
    """(3, 3) columns: the body's left, forward and up at rest (up: world Z)."""
    across = sum(heads[anchors[f"left_{j}"]] - heads[anchors[f"right_{j}"]] for j in ("shoulder", "hip"))
    left = np.array([across[0], across[1], 0.0])
    left /= np.linalg.norm(left)
    up = np.array([0.0, 0.0, 1.0])
    return np.stack([left, np.cross(left, up), up], 1)


def _facing_front(skeleton: Skeleton, anchors: dict[str, int]) -> np.ndarray:
    """The turn about Z that makes the rest pose face -Y (its left on +X)."""
    left = _body_axes(skeleton.rest_heads, anchors)[:, 0]
    return axis_rotation(2, np.array(-np.arctan2(left[1], left[0])))


def _body(motion: Motion, rng: np.random.Generator) -> Motion:
    """The clip on a body of other proportions, its poses bent by up to 20 degrees a joint."""
    sk, J = motion.skeleton, motion.skeleton.num_joints
    parents = sk.parents
    scale = rng.uniform(0.85, 1.18, (J, 1)) * rng.uniform(0.9, 1.1, (1, 1))
    offsets = (sk.rest_heads - sk.rest_heads[np.maximum(parents, 0)]) * scale
    heads = sk.rest_heads.copy()
    for j in range(J):  # parents first
        if parents[j] >= 0:
            heads[j] = heads[parents[j]] + offsets[j]
    axes = rng.normal(size=(J, 3))
    bend = axis_angle_to_matrix(axes / np.linalg.norm(axes, axis=-1, keepdims=True) * np.radians(rng.uniform(0, 20, (J, 1))))
    body = Skeleton(parents, heads, sk.rest_frames, sk.names)
    return Motion(body, motion.local_rotations @ bend, motion.root_translation * float(scale.mean()), motion.fps)


def body_height(skeleton: Skeleton, anchors: dict[str, int]) -> float:
    heads = skeleton.rest_heads
    ankles = (heads[anchors["left_ankle"], 2] + heads[anchors["right_ankle"], 2]) / 2
    return float(heads[anchors["head"], 2] - ankles) / HEAD_HEIGHT


def landmarks_of(motion: Motion, anchors: dict[str, int], rng: np.random.Generator | None = None) -> np.ndarray:
    """(T, 33, 3) where the landmarks are on the clip's body (world), each offset jittered
    by about 1% of the body's height when `rng` is given (people differ)."""
    sk = motion.skeleton
    G, P = forward_kinematics(sk, motion.local_rotations, motion.root_translation)
    rest, B = sk.rest_heads, sk.rest_frames
    axes, height = _body_axes(rest, anchors), body_height(sk, anchors)
    out = np.empty((motion.num_frames, lm.COUNT, 3))
    for i, name in enumerate(lm.NAMES):
        anchor, basis, offset = RECIPES[name]
        j = anchors[anchor]
        if basis == "hand":
            along = rest[j] - rest[anchors[anchor.replace("wrist", "elbow")]]
            along /= np.linalg.norm(along)
            front = axes[:, 1] - axes[:, 1] @ along * along
            front /= np.linalg.norm(front)
            frame = np.stack([along, front, np.cross(along, front)], 1)
        else:
            frame = axes
        jitter = rng.normal(0, 0.01, 3) if rng is not None else 0.0
        rest_offset = frame @ (offset + jitter) * height
        out[:, i] = P[:, j] + (G[:, j] @ B[j].T) @ rest_offset
    return out


# ---- other rigs for the same body -------------------------------------------------------


class _Rig:
    """A skeleton being edited: joints added or re-parented, with their world positions."""

    def __init__(self, skeleton: Skeleton, positions: np.ndarray, frames: np.ndarray):
        self.parents = list(skeleton.parents)
        self.heads, self.rest_frames = list(skeleton.rest_heads), list(skeleton.rest_frames)
        self.names, self.positions = list(skeleton.names), list(positions.transpose(1, 0, 2))
        self.delta = [frames[:, j] @ skeleton.rest_frames[j].T for j in range(skeleton.num_joints)]

    def add(self, parent: int, head: np.ndarray, positions: np.ndarray, anchor: int) -> int:
        """A joint under `parent`, moving as given; its rest frame and turn are the anchor's."""
        self.parents.append(parent)
        self.heads.append(np.asarray(head, np.float64))
        self.rest_frames.append(self.rest_frames[anchor])
        self.delta.append(self.delta[anchor])
        self.names.append(f"extra.{len(self.names)}")
        self.positions.append(positions)
        return len(self.parents) - 1

    def rigid(self, parent: int, anchor: int, offset: np.ndarray) -> int:
        """A joint at a fixed rest offset from `anchor`, turning with it."""
        head = self.heads[anchor] + offset
        return self.add(parent, head, self.positions[anchor] + self.delta[anchor] @ offset, anchor)

    def chain(self, anchor: int, start: np.ndarray, direction: np.ndarray, count: int, length: float) -> None:
        parent = anchor
        for k in range(count):
            parent = self.rigid(parent, anchor, start + direction * length * k)

    def build(self, drop: set[int]) -> tuple[Skeleton, np.ndarray, np.ndarray]:
        """The edited skeleton (parents first; dropped joints' children on their nearest kept
        ancestor), its positions (T, J, 3) and world frames (T, J, 3, 3)."""
        keep = [j for j in range(len(self.parents)) if j not in drop]
        index = {j: i for i, j in enumerate(keep)}

        def kept_parent(j: int) -> int:
            p = self.parents[j]
            while p in drop:
                p = self.parents[p]
            return index[p] if p >= 0 else -1

        parents = np.array([kept_parent(j) for j in keep])
        order = parent_first_order(parents)
        where = np.empty_like(order)
        where[order] = np.arange(len(order))
        parents = np.where(parents[order] >= 0, where[np.maximum(parents[order], 0)], -1)
        pick = [keep[i] for i in order]
        skeleton = Skeleton(
            parents, np.array([self.heads[j] for j in pick]), np.array([self.rest_frames[j] for j in pick]),
            [self.names[j] for j in pick],
        )  # fmt: skip
        frames = np.stack([self.delta[j] @ self.rest_frames[j] for j in pick], 1)
        return skeleton, np.stack([self.positions[j] for j in pick], 1), frames


def vary_rig(motion: Motion, anchors: dict[str, int], rng: np.random.Generator) -> tuple[Skeleton, np.ndarray, np.ndarray]:
    """Another humanoid rig for the same world motion: randomised rest pose and rolls, bones
    split, joints dropped, rigid leaves added (fingers, toes, a head top, face bones, a
    tail). -> (skeleton, world heads (T, J, 3), world frames (T, J, 3, 3)). The heads are the
    body's, where the landmarks are; the frames' rotations reproduce them wherever no joint
    above was dropped (below one, the rig cannot bend where the body does)."""
    rig = augment.randomise_rig(motion, rng, rest_deg=15.0, lengths=(1.0, 1.0), yaw=False)
    G, P = forward_kinematics(rig.skeleton, rig.local_rotations, rig.root_translation)
    sk = rig.skeleton
    edit, kids = _Rig(sk, P, G), sk.children
    height = body_height(motion.skeleton, anchors)
    rest, front = sk.rest_heads, _body_axes(sk.rest_heads, anchors)[:, 1]  # leaves are placed on the rig's own rest
    for c in range(sk.num_joints):  # split bones
        p = sk.parents[c]
        if p >= 0 and len(kids[p]) == 1 and rng.random() < 0.15:
            f = rng.uniform(0.3, 0.7)
            m = edit.add(p, rest[p] + f * (rest[c] - rest[p]), P[:, p] + f * (P[:, c] - P[:, p]), p)
            edit.parents[c] = m
    for side in ("left", "right"):
        wrist, elbow = anchors[f"{side}_wrist"], anchors[f"{side}_elbow"]
        if not kids[wrist] and rng.random() < 0.5:  # fingers
            along = (rest[wrist] - rest[elbow]) / np.linalg.norm(rest[wrist] - rest[elbow])
            for _ in range(int(rng.integers(1, 6))):
                d = along + rng.normal(0, 0.25, 3)
                edit.chain(wrist, along * 0.04 * height, d / np.linalg.norm(d), int(rng.integers(2, 4)), 0.025 * height)
        ankle = anchors[f"{side}_ankle"]
        if not kids[ankle] and rng.random() < 0.6:  # a toe
            edit.rigid(ankle, ankle, front * 0.08 * height - np.array([0.0, 0.0, 0.04 * height]))
    head = anchors["head"]
    if rng.random() < 0.5:  # a head top
        edit.rigid(head, head, np.array([0.0, 0.0, 0.12 * height]))
    if rng.random() < 0.3:  # face bones
        for _ in range(int(rng.integers(3, 30))):
            offset = np.array([rng.uniform(-0.04, 0.04), 0.0, rng.uniform(0.0, 0.11)]) * height
            edit.rigid(head, head, offset + front * rng.uniform(0, 0.06) * height)
    if rng.random() < 0.15:  # a tail
        root = int(sk.roots[0])
        d = -front + np.array([0.0, 0.0, -rng.uniform(0.2, 1.0)])
        edit.chain(root, -front * 0.05 * height, d / np.linalg.norm(d), int(rng.integers(3, 9)), 0.06 * height)
    drop = {j for j in range(sk.num_joints) if sk.parents[j] >= 0 and len(kids[j]) == 1 and rng.random() < 0.1}
    return edit.build(drop)


# ---- a camera, and what the detector would say -------------------------------------------

FRAME_SIZES = ((1920, 1080), (1280, 720), (1080, 1920), (640, 480), (720, 1280))
METRES = 1.7  # the detector's world landmarks assume a person about this tall
LIMBS = ([13, 15, 17, 19, 21], [14, 16, 18, 20, 22], [25, 27, 29, 31], [26, 28, 30, 32], list(range(11)))  # arms, legs, face


class Camera:
    """A camera that follows the subject (`target`, per frame), looking along the view
    frame's +Y from a random height, at a distance where the person fills a random share
    of the frame (2.5 body heights at least), with a random lens and frame size."""

    def __init__(self, rng: np.random.Generator, height: float, target: np.ndarray):
        self.width, self.height = FRAME_SIZES[rng.integers(len(FRAME_SIZES))]
        self.focal = self.width / 2 / np.tan(np.radians(rng.uniform(35, 75)) / 2)
        share = rng.uniform(0.25, 0.9)  # of the frame's height the person fills
        distance = max(2.5 * height, self.focal * height / (share * self.height))
        e = np.radians(rng.uniform(-5, 25))
        self.forward, self.up = np.array([0.0, np.cos(e), -np.sin(e)]), np.array([0.0, np.sin(e), np.cos(e)])
        self.position = target[:, None] - distance * self.forward  # (T, 1, 3)
        self.centre = np.array([self.width * rng.uniform(0.3, 0.7), self.height * rng.uniform(0.35, 0.65)])

    def axes(self, points: np.ndarray) -> np.ndarray:
        """(T, N, 3) view-frame points -> camera coordinates: right, down, depth."""
        q = points - self.position
        return np.stack([q[..., 0], -(q @ self.up), q @ self.forward], -1)

    def pixels(self, points: np.ndarray) -> np.ndarray:
        c = self.axes(points)
        return self.focal * c[..., :2] / np.maximum(c[..., 2:], 1e-6) + self.centre


def detector_view(points: np.ndarray, camera: Camera, height: float, rng: np.random.Generator) -> lm.Landmarks:
    """Landmarks (T, 33, 3, view frame) as the detector would report them, errors and all:
    each landmark off by a constant offset and by an error that wanders slowly from frame
    to frame, alike in the image and in the world (measured on rendered people: 2-7 % of
    the body's size, lag-1 correlation 0.8-0.9; BENCHMARKS.md; the world's depth error is
    squashed with its depth, and the world's hips carry errors of their own), depth
    squashed and noisy, left and right swapped for some frames, a limb lost (low
    visibility, drifting), frames with nobody found, landmarks behind the body or outside
    the frame less visible."""
    T = len(points)
    c = camera.axes(points)  # right, down, depth
    hips = c[:, list(lm.HIPS)].mean(1, keepdims=True)
    image = np.concatenate([camera.pixels(points), (c[..., 2:] - hips[..., 2:]) * camera.focal / hips[..., 2:]], -1)
    box = (image[..., :2].max(1) - image[..., :2].min(1)).max(-1)[:, None, None]  # (T, 1, 1)
    # the error, in shares of the landmarks' box along the camera's axes: offset + wander;
    # the world landmarks take 0.6 of it (a body model constrains them: measured)
    error = rng.normal(0, rng.uniform(0.01, 0.045), (1, lm.COUNT, 3))
    error = error + wander(rng, (T, lm.COUNT, 3), rng.uniform(0.75, 0.95)) * rng.uniform(0.006, 0.03)
    to_metres = METRES / height * rng.uniform(0.9, 1.1)
    world = (c - hips) * to_metres + error * 0.6 * METRES  # camera axes, metres
    depth_scale = rng.uniform(0.5, 1.15)
    world[..., 2] = world[..., 2] * depth_scale + rng.normal(0, rng.uniform(0.01, 0.05), (1, lm.COUNT))
    world += rng.normal(0, 0.005, world.shape)
    image[..., 2] *= depth_scale
    image += error * box + rng.normal(0, 0.003, image.shape) * box
    behind = c[..., 2] - hips[..., 2] > 0.08 * height
    visibility = np.where(behind, rng.uniform(0.3, 0.85, (T, lm.COUNT)), rng.uniform(0.85, 1.0, (T, lm.COUNT)))
    outside = ((image[..., :2] < 0) | (image[..., :2] > [camera.width, camera.height])).any(-1)
    visibility = np.where(outside, visibility * 0.2, visibility)
    # Left and right swapped for some frames: on rendered people with faces, 0-4 % of the
    # frames seen from the front, 40 % from behind (BENCHMARKS.md, the detector's errors)
    if rng.random() < 0.4:
        run = _run(rng, T, 2, max(16, T // 2))
        for array in (image, world, visibility):
            array[run] = array[run][:, lm.MIRROR]
    if rng.random() < 0.3:  # a limb lost
        limb = LIMBS[rng.integers(len(LIMBS))]
        run = _run(rng, T, 3, T)
        drift = np.cumsum(rng.normal(0, 0.03, (run.stop - run.start, 1, 2)), 0) * box[run]
        image[run, limb, :2] += drift
        visibility[run, limb] = rng.uniform(0.0, 0.4, (run.stop - run.start, len(limb)))
    world = lm.view_axes(world)
    if rng.random() < 0.1:  # nobody found
        run = _run(rng, T, 1, 5)
        image[run], world[run], visibility[run] = np.nan, np.nan, np.nan
    return lm.Landmarks(image, world, visibility)


def wander(rng: np.random.Generator, shape: tuple[int, ...], correlation: float) -> np.ndarray:
    """Gaussian noise of unit variance that wanders along the first axis (time), each value
    correlated with the one before by `correlation` (a first-order autoregression)."""
    out = rng.normal(size=shape)
    for t in range(1, shape[0]):
        out[t] = correlation * out[t - 1] + np.sqrt(1 - correlation**2) * out[t]
    return out


def _run(rng: np.random.Generator, T: int, shortest: int, longest: int) -> slice:
    length = int(rng.integers(min(shortest, T), min(longest, T) + 1))
    start = int(rng.integers(0, T - length + 1))
    return slice(start, start + length)


# ---- examples ------------------------------------------------------------------------------


def example(seed: int, frames: int, split: str = "training", rest_share: float = 0.0) -> dict:
    """One example of `frames` frames from a clip of the split; the same for the same seed.
    For a `rest_share` of seeds the reference pair is the rig's rest pose (`clips.at_rest`)."""
    rng = np.random.default_rng(seed)
    seen = seen_example(clips.excerpt(human_clips(split), rng, frames), rng)
    return clips.at_rest(seen) if clips.rest_drawn(seed, rest_share) else seen


class Sighting(NamedTuple):
    body: Motion  # the clip on a varied body (world)
    anchors: dict[str, int]
    height: float  # the body's
    turn: np.ndarray  # world -> view frame
    camera: Camera
    seen: lm.Landmarks  # what the detector reports of the first `frames` frames


def sighting(motion: Motion, rng: np.random.Generator, frames: int) -> Sighting:
    """A human clip facing -Y at rest on a varied body, turned to a random heading, its
    first `frames` frames seen by a random camera and reported as the detector errs."""
    anchors = anchors_of(motion.skeleton)
    body = _body(motion, rng)
    height = body_height(body.skeleton, anchors)
    turn = axis_rotation(2, np.array(rng.uniform(-np.pi, np.pi)))  # world -> view frame
    points = landmarks_of(body, anchors, rng)[:frames] @ turn.T
    camera = Camera(rng, height, points[:, list(lm.HIPS)].mean(1))
    return Sighting(body, anchors, height, turn, camera, detector_view(points, camera, height, rng))


def seen_example(motion: Motion, rng: np.random.Generator) -> dict:
    """Frames of a human clip facing -Y at rest, the last the reference, on a varied body
    and rig, seen by a random camera -> the example's arrays (the window's frames)."""
    frames = motion.num_frames - 1
    body, anchors, _, turn, camera, seen = sighting(motion, rng, frames)
    skeleton, heads, frames_world = vary_rig(body, anchors, rng)
    view_heads = heads[:frames] @ turn.T
    packed = torch.as_tensor(seen.packed(), dtype=torch.float64)
    boxes = crop.smooth(lm.boxes(packed, camera.height, camera.width))
    root = int(skeleton.roots[0])
    uv = (torch.as_tensor(camera.pixels(view_heads)) - boxes[:, None, :2]) / (boxes[:, None, 2:] / 2)
    return {
        "skeleton": skeleton,
        "features": (lm.features(packed, boxes),),
        "positions": torch.as_tensor((view_heads - view_heads[:, root : root + 1]) / skeleton.scale, dtype=torch.float32),
        "uv": uv.float(),
        "queries": query_features(skeleton, heads[frames]),
        "ref_positions": torch.as_tensor(heads[frames], dtype=torch.float32),
        # the rig's rotations: the window's as the view frame sees them (turning the roots),
        # the reference's in the world, as a P2R fed the view-frame positions must give them
        "rotations": torch.as_tensor(local_from_world(skeleton, turn @ frames_world[:frames]), dtype=torch.float32),
        "ref_rotations": torch.as_tensor(local_from_world(skeleton, frames_world[frames]), dtype=torch.float32),
        "turn": torch.as_tensor(turn, dtype=torch.float32),  # world -> view frame
    }
