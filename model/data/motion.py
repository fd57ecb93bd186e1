"""A clip of motion on a skeleton, whatever file or generator it came from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import tips
from ..kinematics import forward_kinematics
from ..rotations import rebase_local_rotations
from ..skeleton import MIRROR_X, Skeleton


class MotionError(ValueError):
    """A clip's arrays are empty, non-finite or do not match its skeleton."""


@dataclass(frozen=True, eq=False)
class Motion:
    skeleton: Skeleton
    local_rotations: np.ndarray  # (T, J, 3, 3), relative to each bone's rest frame
    root_translation: np.ndarray  # (T, 3), world orientation
    fps: float

    def __post_init__(self):
        R = np.asarray(self.local_rotations, dtype=np.float64)
        J = self.skeleton.num_joints
        if R.ndim != 4 or R.shape[1:] != (J, 3, 3):
            raise MotionError(f"local_rotations must have shape (T, {J}, 3, 3), got {R.shape}")
        if R.shape[0] == 0:
            raise MotionError("the clip is empty (0 frames)")
        t = np.asarray(self.root_translation, dtype=np.float64)
        if t.shape != (R.shape[0], 3):
            raise MotionError(f"root_translation must have shape ({R.shape[0]}, 3), got {t.shape}")
        if not (np.isfinite(R).all() and np.isfinite(t).all()):
            raise MotionError("the clip holds non-finite values")
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise MotionError(f"fps must be positive, got {self.fps}")
        object.__setattr__(self, "local_rotations", R)
        object.__setattr__(self, "root_translation", t)
        object.__setattr__(self, "fps", float(self.fps))

    @property
    def num_frames(self) -> int:
        return self.local_rotations.shape[0]

    def positions(self) -> np.ndarray:
        """(T, J, 3) joint heads by forward kinematics."""
        return forward_kinematics(self.skeleton, self.local_rotations, self.root_translation)[1]

    def frames(self, index) -> Motion:
        """A sub-clip: a slice or an array of frame indices."""
        return Motion(self.skeleton, self.local_rotations[index], self.root_translation[index], self.fps)

    def rotated(self, rotation: np.ndarray) -> Motion:
        """The same clip in a rotated world (e.g. Y-up file data into Blender's Z-up)."""
        rotation = np.asarray(rotation, dtype=np.float64)
        return Motion(self.skeleton.rotated(rotation), self.local_rotations, self.root_translation @ rotation.T, self.fps)

    def mirrored(self) -> Motion:
        """The clip in a mirror (`Skeleton.mirrored`): the performer's left-right twin, a
        motion as real as the clip's. Local rotations are conjugated like the frames, so
        forward kinematics gives the mirrored positions."""
        M = MIRROR_X
        return Motion(self.skeleton.mirrored(), M @ self.local_rotations @ M, self.root_translation @ M, self.fps)

    def with_tips(self, tails=None) -> Motion:
        """The clip on its skeleton with leaf tips (`model.tips`): each leaf's end a joint."""
        count = len(tips.leaves(self.skeleton))
        rotations = tips.with_tip_rotations(self.local_rotations, count)
        return Motion(tips.with_tips(self.skeleton, tails), rotations, self.root_translation, self.fps)

    def with_frames(self, rest_frames: np.ndarray) -> Motion:
        """The same world-space motion on a rig whose bones have other rest frames."""
        R = rebase_local_rotations(self.local_rotations, self.skeleton.rest_frames, np.asarray(rest_frames))
        return Motion(self.skeleton.with_frames(rest_frames), R, self.root_translation, self.fps)


# Blender's BVH/glTF import axis change: file Y-up (front +Z) -> scene Z-up (front -Y).
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
