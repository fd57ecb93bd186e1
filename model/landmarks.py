"""A person's landmarks, the evidence of the person path (DESIGN.md section 4).

BlazePose (PyPI `mediapipe==0.10.21`, Apache-2.0) finds one person per frame and gives 33
landmarks: where each is in the image (pixels here, with a relative depth on the same
scale), where it is in metres about the hips (the *world* landmarks) and how visible it
is. `detector()` runs it over frames one at a time (video mode: it tracks the person it
found); the synthetic landmarks of training (`model.data.humans`) take the same form.

What the network reads of each landmark (`features`): its place in a square box around
the person (the box smoothed over time, as the general path's crop), its relative depth,
its world position turned into the view frame's axes (x right, y away from the camera,
z up) and its visibility. Left and right are the person's own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import crop
from .video import iter_frames

NAMES = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)
COUNT = len(NAMES)
INDEX = {name: i for i, name in enumerate(NAMES)}
# Each landmark's counterpart on the other side (itself for the nose).
MIRROR = np.array([INDEX[n.replace("left", "@").replace("right", "left").replace("@", "right")] for n in NAMES], dtype=np.int64)
HIPS = (INDEX["left_hip"], INDEX["right_hip"])
# The body's landmarks (shoulders to feet): what says whether a person was seen.
BODY = np.arange(INDEX["left_shoulder"], COUNT)
# The skeleton drawn in the preview: pairs of landmarks.
CONNECTIONS = (
    (11, 12), (11, 13), (13, 15), (12, 14), (14, 16), (11, 23), (12, 24), (23, 24),
    (23, 25), (25, 27), (27, 29), (29, 31), (27, 31), (24, 26), (26, 28), (28, 30), (30, 32), (28, 32),
    (15, 19), (16, 20), (0, 2), (0, 5), (2, 7), (5, 8),
)  # fmt: skip
PACKED = 7  # what the detector gives of a landmark: x, y, depth in pixels; world x, y, z; visibility
FEATURES = 7  # what the network reads: x, y in the box; depth; world x, y, z; visibility
VISIBLE = 0.5  # a landmark at least this visible counts as seen


@dataclass
class Landmarks:
    """One person's landmarks over T frames, as the detector gives them (NaN where no
    person was found)."""

    image: np.ndarray  # (T, 33, 3): x, y in pixels of the frame; depth about the hips, on x's scale (pixels)
    world: np.ndarray  # (T, 33, 3): metres about the hips' midpoint, view-frame axes (x right, y away, z up)
    visibility: np.ndarray  # (T, 33) in [0, 1]

    @property
    def found(self) -> np.ndarray:
        """(T,) whether a person was found in the frame."""
        return found(self.image)

    def packed(self) -> np.ndarray:
        """(T, 33, PACKED) float32: image, world, visibility; what the capture's stages pass on."""
        return np.concatenate([self.image, self.world, self.visibility[..., None]], -1).astype(np.float32)


def found(marks: np.ndarray) -> np.ndarray:
    """(..., 33, k) landmarks, pixels first -> (...,) whether the detector found a person."""
    return np.isfinite(marks[..., :2]).all((-1, -2))


def view_axes(camera: np.ndarray) -> np.ndarray:
    """(..., 3) in camera axes (x right, y down, z away) -> the view frame's (x right, y away, z up)."""
    return np.stack([camera[..., 0], camera[..., 2], -camera[..., 1]], -1)


def boxes(packed: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Packed landmarks (n, 33, PACKED) -> square boxes (n, 3) around the seen landmarks
    (`crop.boxes`); frames with none seen take the whole frame."""
    image, visibility = packed[..., :2], packed[..., 6]
    seen = (visibility >= VISIBLE)[..., None] & torch.isfinite(image)
    low = torch.where(seen, image, torch.inf).amin(1)
    high = torch.where(seen, image, -torch.inf).amax(1)
    out = crop.boxes(torch.stack([low, high], 1), height, width)
    whole = torch.tensor([width / 2, height / 2, float(max(height, width))], dtype=out.dtype)
    return torch.where(seen.any(1).all(-1, keepdim=True), out, whole)


def features(packed: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """(n, 33, PACKED) landmarks and their boxes (n, 3) -> (n, 33, FEATURES): place and
    depth in the box (-1..1 edge to edge), world position (metres), visibility; zero
    where no person was found (visibility 0 says so)."""
    half = boxes[:, None, 2:] / 2
    place = (packed[..., :2] - boxes[:, None, :2]) / half
    out = torch.cat([place, packed[..., 2:3] / half, packed[..., 3:]], -1)
    return torch.nan_to_num(out, nan=0.0).float()


class DetectorMissing(RuntimeError):
    """The person detector (mediapipe) is not installed in this Python."""


def available() -> bool:
    try:
        _solutions()
    except DetectorMissing:
        return False
    return True


def _solutions():
    try:
        from mediapipe.python.solutions import pose
    except Exception as error:  # ImportError, or a wheel for another platform
        raise DetectorMissing(f"the person detector (mediapipe 0.10.21) cannot be loaded: {error}") from None
    return pose


class Detector:
    """BlazePose over the frames of one video, in order (it tracks the person it found).
    Use as a context manager; `(frame) -> (33, PACKED)` landmarks (NaN: no person)."""

    def __init__(self, complexity: int = 1):
        self.pose = _solutions().Pose(
            static_image_mode=False, model_complexity=complexity, smooth_landmarks=True, enable_segmentation=False
        )

    def __enter__(self) -> Detector:
        return self

    def __exit__(self, *exc) -> None:
        self.pose.close()

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        result = self.pose.process(np.ascontiguousarray(frame))
        out = np.full((COUNT, PACKED), np.nan, dtype=np.float32)
        if result.pose_landmarks is None:
            return out
        H, W = frame.shape[:2]
        image = np.array([(p.x, p.y, p.z, p.visibility) for p in result.pose_landmarks.landmark])
        world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark])
        out[:, 0], out[:, 1], out[:, 2] = image[:, 0] * W, image[:, 1] * H, image[:, 2] * W
        out[:, 3:6] = view_axes(world)
        out[:, 6] = image[:, 3]
        return out


def detect_file(path, frames) -> np.ndarray:
    """(K, 33, PACKED) the detector's landmarks on the given frames of a video file, in
    order (tracking from one to the next), for evaluation."""
    with Detector() as detect:
        return np.stack([detect(frame) for _, frame in iter_frames(path, frames)])
