"""Which path a capture takes (the Subject option), and why.

- `OTHER`: the general path (any creature; Video-to-Pose over image tokens).
- `PERSON`: the person path (Video-to-Pose over a person detector's landmarks,
  `model.landmarks`); the rig must be a humanoid (`model.humanoid`), the detector
  installed and the checkpoint must hold the person network.
- `AUTO`: the person path when all of that holds and the detector, tracking as the
  capture does, finds a person in most of the first `PROBE_FRAMES` frames captured, else
  the general path. (Frame by frame, without tracking, it misses a small person in a
  large frame about a third of the time: measured on the sports2d clip, 136 of 230 frames
  against 222 tracking.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from . import humanoid, landmarks
from .skeleton import Skeleton

SUBJECTS = ("AUTO", "PERSON", "OTHER")
PROBE_FRAMES = 48
MOST = 0.6  # share of the first frames with a person for AUTO to take the person path


@dataclass(frozen=True)
class Choice:
    path: str  # "person" or "general"
    reason: str

    def __str__(self) -> str:
        return f"{self.path} path: {self.reason}"


class PathError(ValueError):
    """The person path was asked for and cannot run; the message says why."""


def probe_frames(count: int) -> np.ndarray:
    """Which of `count` captured frames (0-based) the probe looks at."""
    return np.arange(min(count, PROBE_FRAMES))


def people_found(frames: Iterable[np.ndarray]) -> tuple[int, int]:
    """(frames with a person, frames looked at), tracking from frame to frame."""
    found = looked = 0
    with landmarks.Detector() as detect:
        for frame in frames:
            looked += 1
            found += bool(np.isfinite(detect(frame)).all())
    return found, looked


def choose(subject: str, skeleton: Skeleton, has_network: bool, sample: Callable[[], Iterable[np.ndarray]]) -> Choice:
    """The path for `subject` on this rig; `sample()` gives the probe's frames (only AUTO
    asks). PathError where PERSON cannot run."""
    if subject == "OTHER":
        return Choice("general", "Subject is Animal or Other")
    rig = humanoid.check(skeleton)
    why_not = None
    if not rig.ok:
        why_not = f"the rig is not a humanoid ({rig.reason})"
    elif not has_network:
        why_not = "this checkpoint has no person network"
    elif not landmarks.available():
        why_not = "the person detector (mediapipe 0.10.21) is not installed for this Python"
    if why_not:
        if subject == "PERSON":
            raise PathError(f"Subject Person needs the person path, but {why_not}: choose Auto or Animal or Other")
        return Choice("general", why_not)
    if subject == "PERSON":
        return Choice("person", f"Subject is Person; the rig is {rig.reason}")
    found, looked = people_found(sample())
    if found < MOST * looked:
        return Choice("general", f"a person was found in {found} of {looked} first frames")
    return Choice("person", f"a person was found in {found} of {looked} first frames, and the rig is {rig.reason}")
