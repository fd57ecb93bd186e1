"""Finding the subject and cutting it out: Video-to-Pose looks at every frame twice.

1. On the whole frame, letterboxed to the network's square: where the joints are
   (`V2POutput.uv`) gives a box around the subject (`boxes`). On a rig of many joints this
   look places the body's joints only (`first_look_joints`).
2. The boxes, smoothed over time (`smooth`), cut a square around the subject out of each
   frame (`cut`), so a small subject in a large frame fills the network's input (up to
   `MAX_ZOOM` times the footage's own pixels: beyond, a blur hides more than it shows); the second
   look, at the crop, gives the positions and the joints' places in the frame.

Boxes are (cx, cy, side) in pixels of the frame as decoded, or of a working copy no larger
than `WORK_SIZE` (`working_copy`; cutting from it keeps memory bounded whatever the
footage). `confidence` scores each frame by the two looks' agreement and the share of
joints inside the frame.
"""

from __future__ import annotations

import heapq
import math

import cv2
import numpy as np
import torch

from .skeleton import Skeleton, parent_first_order

WORK_SIZE = 960  # long side of the working copy a crop is cut from (pixels)
MARGIN = 1.35  # crop side / the joints' extent: room for the body around the joints
MIN_SIDE = 0.12  # of the frame's long side: a lost or tiny subject does not zoom in on noise
MAX_ZOOM = 2.0  # a crop enlarges the footage at most this much: more blurs a small subject (training: <= 1x)
SMOOTHING = 2.0  # frames (Gaussian sigma) over which a box moves
LOW_CONFIDENCE = 0.5
LOOK_JOINTS = 32  # the most joints the first look places: it wants the body's extent, not each finger


def first_look_joints(skeleton: Skeleton, limit: int = LOOK_JOINTS) -> np.ndarray:
    """(J,) for each joint, the joint whose place the first look takes for it: itself, or
    on a rig of more than `limit` joints where it was left out, its nearest ancestor kept.
    Left out, one at a time until `limit` remain, is the leaf (of the joints still kept)
    whose leaving moves the places taken least: fingers and faces, which barely move a box
    around the body. The first look costs as much as the second, and its attention over the
    joints grows with their square."""
    parents, heads = skeleton.parents, skeleton.rest_heads
    source = np.arange(skeleton.num_joints)
    if skeleton.num_joints <= limit:
        return source
    below = skeleton.ancestor_mask.T  # [k, j]: j is k or below it

    def cost(j: int) -> float:  # the farthest that leaving j out moves a place: from j's parent
        return float(np.linalg.norm(heads[below[j]] - heads[parents[j]], axis=-1).max())

    children = skeleton.num_children.copy()
    leaves = [(cost(j), j) for j in np.flatnonzero(children == 0) if parents[j] >= 0]
    heapq.heapify(leaves)
    kept, count = np.ones(skeleton.num_joints, dtype=bool), skeleton.num_joints
    while count > limit and leaves:
        _, j = heapq.heappop(leaves)
        kept[j], count = False, count - 1
        p = parents[j]
        children[p] -= 1
        if children[p] == 0 and parents[p] >= 0:
            heapq.heappush(leaves, (cost(p), p))
    for j in parent_first_order(parents):
        if not kept[j]:
            source[j] = source[parents[j]]
    return source


def working_copy(frame: np.ndarray) -> tuple[np.ndarray, float]:
    """(H, W, 3) -> the frame no larger than `WORK_SIZE`, and its scale to the original."""
    H, W = frame.shape[:2]
    scale = min(1.0, WORK_SIZE / max(H, W))
    if scale == 1.0:
        return frame, 1.0
    size = (max(1, round(W * scale)), max(1, round(H * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA), scale


def letterbox_to_pixels(uv: torch.Tensor, height: int, width: int, size: int) -> torch.Tensor:
    """Places in the letterboxed square (`video.prepare_frames`, -1..1) -> pixels of the frame."""
    scale = size / max(height, width)
    h, w = max(1, round(height * scale)), max(1, round(width * scale))
    offset = torch.tensor([(size - w) // 2, (size - h) // 2], dtype=uv.dtype)
    return ((uv + 1) / 2 * size - offset) / scale


def boxes(pixels: torch.Tensor, height: int, width: int, size: int = 0) -> torch.Tensor:
    """Joints' places (n, J, 2) -> square boxes (n, 3) around them: centre and side. With
    the `size` of the square they will be cut to, no side is under `size / MAX_ZOOM`: a
    subject a few pixels tall in low-resolution footage is seen sharp and small rather than
    blown up into a blur (BENCHMARKS.md, "Video capture: the crop's zoom capped")."""
    low, high = pixels.amin(1), pixels.amax(1)
    side = ((high - low).amax(-1) * MARGIN).clamp(min=max(MIN_SIDE * max(height, width), size / MAX_ZOOM))
    return torch.cat([(low + high) / 2, side[:, None]], -1)


def smooth(boxes: torch.Tensor, sigma: float = SMOOTHING) -> torch.Tensor:
    """Gaussian smoothing over time (edge frames repeated): a box that follows the subject
    without jitter. Time-local with halo `math.ceil(3 * sigma)`."""
    halo = math.ceil(3 * sigma)
    if halo == 0 or len(boxes) == 0:
        return boxes
    kernel = torch.exp(-0.5 * (torch.arange(-halo, halo + 1, dtype=boxes.dtype) / sigma) ** 2)
    padded = torch.cat([boxes[:1].expand(halo, -1), boxes, boxes[-1:].expand(halo, -1)])
    windows = padded.unfold(0, 2 * halo + 1, 1)  # (n, 3, window)
    return (windows * kernel).sum(-1) / kernel.sum()


def cut(frames: list[np.ndarray], boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Square crops (n, 3, size, size) in [0, 1], black outside the frame (as the letterbox)."""
    out = np.empty((len(frames), size, size, 3), dtype=np.uint8)
    for i, (frame, (cx, cy, side)) in enumerate(zip(frames, boxes.tolist(), strict=True)):
        s = size / side
        affine = np.array([[s, 0, size / 2 - cx * s], [0, s, size / 2 - cy * s]])
        interpolation = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
        out[i] = cv2.warpAffine(frame, affine, (size, size), flags=interpolation, borderMode=cv2.BORDER_CONSTANT)
    return torch.from_numpy(out).permute(0, 3, 1, 2).float() / 255.0


def crop_to_pixels(uv: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Places in the crops (n, J, 2, -1..1) -> pixels of the frame."""
    return boxes[:, None, :2] + uv * boxes[:, None, 2:] / 2


def confidence(located: np.ndarray, seen: np.ndarray, boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """Per frame in [0, 1]: the share of joints inside the frame, times how well the two
    looks agree on where the joints are (median distance against half the box; the first
    look, at the whole frame, is the coarser).
    Low where the subject is lost, hidden or partly out of frame."""
    inside = ((seen >= 0) & (seen <= [width, height])).all(-1).mean(-1)
    distance = np.median(np.linalg.norm(located - seen, axis=-1), axis=-1)
    return inside * np.clip(1 - distance / (0.5 * boxes[:, 2]), 0, 1)
