"""Seeded procedural skeletons and motion: unlimited data for training and testing.

`random_skeleton(seed)` builds a creature facing -Y with Z up (Blender's front view):
hips, a spine and, as its bone budget allows, a neck and head, a tail, legs, arms or
wings, then extra chains (fingers, toes, ears, horns, tentacles). Proportions, rest
poses and bone rolls are random; some children start at their parent's head (zero
offset), as in real rigs. `random_motion(skeleton, ...)` animates *any* skeleton with
smooth, joint-limited, gait-like motion: periodic per-joint rotations (left/right
limbs in anti-phase), smoothed noise, a wandering root. Same seed, same output.
"""

from __future__ import annotations

import numpy as np

from ..rotations import axis_angle_to_matrix, axis_rotation
from ..skeleton import Skeleton, bone_frames
from .motion import Motion

MIN_BONES, MAX_BONES = 5, 256


class _Builder:
    def __init__(self, rng: np.random.Generator, num_bones: int):
        self.rng, self.budget = rng, num_bones
        self.parents, self.heads, self.tails, self.names = [], [], [], []

    @property
    def remaining(self) -> int:
        return self.budget - len(self.names)

    def bone(self, name: str, parent: int, head, tail) -> int:
        self.parents.append(parent)
        self.heads.append(np.asarray(head, float))
        self.tails.append(np.asarray(tail, float))
        self.names.append(name)
        return len(self.names) - 1

    def turn(self, direction: np.ndarray, angle: float) -> np.ndarray:
        """The direction bent by a random angle up to `angle` radians."""
        axis = np.cross(direction, self.rng.normal(size=3))
        axis *= self.rng.uniform(0, angle) / max(np.linalg.norm(axis), 1e-9)
        return axis_angle_to_matrix(axis) @ direction

    def chain(self, name: str, parent: int, start, direction, count: int, length: float, bend: float = 0.3) -> list[int]:
        """`count` connected bones of total `length`, each bent a little from the last."""
        count = min(count, self.remaining)
        ids, head = [], np.asarray(start, float)
        direction = np.asarray(direction, float) / np.linalg.norm(direction)
        for k in range(count):
            direction = self.turn(direction, bend)
            tail = head + direction * length / count * self.rng.uniform(0.7, 1.3)
            ids.append(self.bone(f"{name}.{k + 1:03d}", ids[-1] if ids else parent, head, tail))
            head = tail
        return ids

    def pair(self, name: str, parent: int, start, direction, count: int, length: float, bend: float = 0.3):
        """A left (+X) chain and its mirror image, if the budget holds both."""
        count = min(count, self.remaining // 2)
        if count == 0:
            return [], []
        left = self.chain(f"{name}.L", parent, start, direction, count, length, bend)
        mirror = np.array([-1.0, 1.0, 1.0])
        right = []
        for k, j in enumerate(left):
            p = parent if k == 0 else right[-1]
            right.append(self.bone(self.names[j].replace(".L.", ".R."), p, self.heads[j] * mirror, self.tails[j] * mirror))
        return left, right


def random_skeleton(seed: int, num_bones: int | None = None) -> Skeleton:
    """A random creature with `num_bones` bones (random in [5, 200] if not given)."""
    rng = np.random.default_rng(seed)
    J = int(round(np.exp(rng.uniform(np.log(MIN_BONES), np.log(200))))) if num_bones is None else int(num_bones)
    if not MIN_BONES <= J <= MAX_BONES:
        raise ValueError(f"num_bones must be in [{MIN_BONES}, {MAX_BONES}], got {J}")
    b = _Builder(rng, J)
    size = float(np.exp(rng.uniform(np.log(0.3), np.log(4.0))))
    plan = rng.choice(["biped", "quadruped", "bird", "serpent"], p=[0.3, 0.35, 0.2, 0.15])
    up, front = np.array([0.0, 0, 1]), np.array([0.0, -1, 0])
    torso = {"biped": up, "quadruped": front, "bird": up + front, "serpent": front}[plan]
    leg_length = 0.0 if plan == "serpent" else size * rng.uniform(0.3, 0.55)
    hips_head = np.array([0.0, 0.0, leg_length + size * 0.05])
    torso_length = size * rng.uniform(0.25, 0.5)

    hips = b.bone("hips", -1, hips_head, hips_head + b.turn(torso, 0.2) * torso_length * 0.2)
    spine = [hips] + b.chain("spine", hips, b.tails[hips], torso, int(rng.integers(1, 6)), torso_length * 0.8, 0.15)
    chest = spine[-1]
    parts = ["neck", "tail", "legs", "arms"]
    rng.shuffle(parts)
    for part in ["legs"] * (plan != "serpent") + [p for p in parts if p != "legs"]:
        if b.remaining <= 0:
            break
        lateral = np.array([rng.uniform(0.05, 0.15) * size, 0.0, 0.0])
        if part == "neck":
            b.chain(
                "neck",
                chest,
                b.tails[chest],
                torso + up * rng.uniform(0, 1),
                int(rng.integers(1, 7)),
                size * rng.uniform(0.1, 0.4),
            )
        elif part == "tail":  # starts at the hips' head: a zero offset, as rigs often have
            b.chain(
                "tail",
                hips,
                b.heads[hips],
                -torso - up * rng.uniform(0, 0.5),
                int(rng.integers(1, 21)),
                size * rng.uniform(0.1, 0.8),
                0.2,
            )
        elif part == "legs":
            for k in range(int(rng.integers(1, 3)) if plan == "quadruped" else 1):
                attach = spine[min(k * (len(spine) - 1), len(spine) - 1)]
                start = (b.heads[attach] if k == 0 else b.tails[attach]) + lateral
                b.pair(f"leg{k}", attach, start, b.turn(-up, 0.4), int(rng.integers(3, 6)), leg_length, 0.5)
        elif part == "arms" and plan in ("biped", "bird"):
            out = np.array([1.0, 0, 0]) + (-up if plan == "biped" else 0) * rng.uniform(0, 1.2)
            length = size * (rng.uniform(0.6, 1.2) if plan == "bird" else rng.uniform(0.25, 0.45))
            b.pair(
                "arm" if plan == "biped" else "wing", chest, b.tails[chest] + lateral, out, int(rng.integers(3, 6)), length, 0.4
            )
    while b.remaining > 0:  # spend what is left on extra chains, mirrored where possible
        attach = int(rng.integers(len(b.names)))
        direction = b.turn(b.tails[attach] - b.heads[attach], 1.2)
        start = b.heads[attach] + (b.tails[attach] - b.heads[attach]) * rng.choice([0.0, rng.uniform(0.3, 1.0), 1.0])
        count, length = int(rng.integers(1, 5)), size * rng.uniform(0.03, 0.3)
        name = f"extra{len(b.names)}"
        if ".L." in b.names[attach] and b.remaining >= 2:
            mirror = b.names.index(b.names[attach].replace(".L.", ".R."))
            left, right = b.pair(name, attach, start, direction, count, length)
            for j in right:  # the mirrored chain hangs from the mirrored bone
                b.parents[j] = mirror if b.parents[j] == attach else b.parents[j]
        else:
            b.chain(name, attach, start, direction, count, length)

    heads, tails = np.array(b.heads), np.array(b.tails)
    rolls = rng.uniform(-np.pi, np.pi, J) if rng.random() < 0.8 else np.zeros(J)
    return Skeleton(parents=np.array(b.parents), rest_heads=heads, rest_frames=bone_frames(heads, tails, rolls), names=b.names)


_SIDE_SWAPS = [("Left", "Right"), ("left", "right"), (".L", ".R"), ("_L", "_R"), (".l", ".r"), ("_l", "_r")]


def mirror_partner(names) -> np.ndarray:
    """For each joint the index of its left/right counterpart by name, or -1."""
    index = {n: i for i, n in enumerate(names)}
    partner = np.full(len(names), -1)
    for i, n in enumerate(names):
        for a, b in _SIDE_SWAPS:
            other = n.replace(a, b, 1) if a in n else n.replace(b, a, 1)
            if index.get(other, i) != i:
                partner[i] = index[other]
                break
    return partner


def _smooth_noise(rng: np.random.Generator, shape, sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise along axis 0, unit standard deviation."""
    radius = int(3 * sigma) + 1
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    white = rng.normal(size=(shape[0] + 2 * radius,) + tuple(shape[1:]))
    out = np.apply_along_axis(lambda x: np.convolve(x, kernel, mode="valid"), 0, white)
    return out / (np.linalg.norm(kernel) + 1e-12)


def random_motion(skeleton: Skeleton, num_frames: int, *, fps: float = 30.0, seed: int = 0) -> Motion:
    """Smooth, joint-limited, gait-like motion for any skeleton."""
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    rng = np.random.default_rng(seed)
    J = skeleton.num_joints
    t = np.arange(num_frames)[:, None, None] / fps
    freq = np.exp(rng.uniform(np.log(0.4), np.log(2.0)))

    # Per joint: a kind (hinge, ball, stiff), amplitudes per local axis, a mean pose.
    kind = rng.choice(3, size=J, p=[0.3, 0.5, 0.2])
    amp = rng.uniform(0.05, 0.7, (J, 3))  # ball joints
    hinge, stiff = kind == 0, kind == 2
    amp[hinge] = 0.02
    amp[hinge, rng.choice([0, 2], hinge.sum())] = rng.uniform(0.3, 1.2, hinge.sum())  # bend about X or Z
    amp[stiff] = rng.uniform(0.0, 0.12, (stiff.sum(), 3))
    amp[:, 1] *= rng.uniform(0.2, 0.8, J)  # twist about the bone is usually smaller
    phase = rng.uniform(0, 2 * np.pi, (J, 3))
    second = rng.uniform(0, 0.4, (J, 3))
    mean = rng.normal(0, 0.25, (J, 3)) * amp
    partner = mirror_partner(skeleton.names)
    left = np.flatnonzero(partner > np.arange(J))  # copy each left joint's pattern to its right, half a cycle later
    for arr in (amp, second, mean):
        arr[partner[left]] = arr[left]
    phase[partner[left]] = phase[left] + np.pi

    cycle = 2 * np.pi * freq * t
    wave = np.sin(cycle + phase) + second * np.sin(2 * cycle + 2 * phase)
    wave = np.where(hinge[:, None], (1 + wave) / 2, wave)  # hinges bend one way
    noise = _smooth_noise(rng, (num_frames, J, 3), sigma=fps / (4 * freq)) * rng.uniform(0, 0.3) * (amp + 0.05)
    rotvec = mean + amp * wave + noise
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)
    limit = np.radians(150)
    rotvec *= limit * np.tanh(angle / limit) / np.maximum(angle, 1e-12)  # soft joint limit
    R = axis_angle_to_matrix(rotvec)

    # Roots turn about the world's Z and rock a little; the body travels and bobs.
    time = t[:, 0, 0]
    yaw = rng.uniform(-np.pi, np.pi) + rng.normal(0, 0.4) * time + 0.2 * _smooth_noise(rng, (num_frames,), fps)
    rock = rng.uniform(0, 0.15, 2)[None] * np.sin(2 * np.pi * freq * time[:, None] + rng.uniform(0, 2 * np.pi, 2))
    world = axis_rotation(2, yaw) @ axis_rotation(0, rock[:, 0]) @ axis_rotation(1, rock[:, 1])
    for r in skeleton.roots:
        B = skeleton.rest_frames[r]
        R[:, r] = B.T @ world @ B @ R[:, r]
    speed = skeleton.scale * rng.uniform(0, 1.5)
    heading = world @ np.array([0.0, -1.0, 0.0])
    translation = np.cumsum(heading * speed / fps, axis=0)
    translation[:, 2] += skeleton.scale * 0.03 * np.sin(4 * np.pi * freq * time)
    return Motion(skeleton, R, translation - translation[0], fps)
