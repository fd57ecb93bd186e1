"""Video in: encoded files to RGB frames, and the one preprocessing every network input gets.

    frames = read_video("clip.mp4", start=10, stop=130, stride=2)   # (T, H, W, 3) uint8 RGB
    for index, frame in iter_frames("clip.mp4", [0, 0, 5, 10]): ...  # one frame at a time

OpenCV decodes whatever its FFmpeg build reads (mp4, avi, mov, mkv; any size and frame
rate). `prepare_frames` letterboxes any frame size to the square the image encoder
expects, the same way at training (rendered clips) and at inference (decoded files).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch


class VideoError(ValueError):
    """A video file is missing, unreadable, empty, or the frame range asked for is absurd."""


@dataclass(frozen=True)
class VideoInfo:
    frames: int  # as the container reports it; decoding stops at the real end either way
    fps: float
    width: int
    height: int


def _open(path: str | Path) -> cv2.VideoCapture:
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"no video file at {path}")
    if path.stat().st_size == 0:
        raise VideoError(f"{path} is empty (0 bytes)")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VideoError(f"{path} is not a video OpenCV can read (unknown format or corrupt)")
    return capture


def _rate(fps: float) -> float:
    """The container's frame rate; 30 where it states none that makes sense (0, NaN, absurd)."""
    return float(fps) if np.isfinite(fps) and 0 < fps < 10_000 else 30.0


def video_info(path: str | Path) -> VideoInfo:
    capture = _open(path)
    try:
        info = VideoInfo(
            frames=max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0),
            fps=_rate(capture.get(cv2.CAP_PROP_FPS)),
            width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
    finally:
        capture.release()
    if info.width <= 0 or info.height <= 0:
        raise VideoError(f"{path} has no video stream")
    return info


def iter_frames(path: str | Path, indices) -> Iterator[tuple[int, np.ndarray]]:
    """(index, (H, W, 3) uint8 RGB) for each of the non-decreasing frame `indices` (a
    repeated index gives the same frame again), decoding one frame at a time; frames in
    between are grabbed, not converted. Stops early where the file ends, which may be
    before its header says (truncated or variable-frame-rate files): callers count."""
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size and (indices[0] < 0 or np.any(np.diff(indices) < 0)):
        raise VideoError("frame indices must be >= 0 and non-decreasing")
    if not indices.size:
        return
    capture = _open(path)
    try:
        if indices[0]:
            capture.set(cv2.CAP_PROP_POS_FRAMES, int(indices[0]))
        position, frame = int(indices[0]), None  # position: index of the next frame to decode
        for index in indices:
            while position <= index:
                if position < index and not capture.grab():
                    return
                if position == index:
                    ok, bgr = capture.read()
                    if not ok:
                        return
                    frame = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                position += 1
            yield int(index), frame
    finally:
        capture.release()


def read_video(path: str | Path, start: int = 0, stop: int | None = None, stride: int = 1) -> np.ndarray:
    """Frames `start, start + stride, ...` before `stop` (default: the end), as
    (T, H, W, 3) uint8 RGB. Frame numbers count from 0."""
    if start < 0 or stride < 1 or (stop is not None and stop <= start):
        raise VideoError(f"bad frame range: start {start}, stop {stop}, stride {stride} (need 0 <= start < stop, stride >= 1)")
    if stop is None:
        stop = max(video_info(path).frames, start + 1) * 2 + 1000  # past any end the header may understate
    frames = [frame for _, frame in iter_frames(path, np.arange(start, stop, stride))]
    if not frames:
        if start:
            raise VideoError(f"{path} has no frames from frame {start} on (it has {video_info(path).frames})")
        raise VideoError(f"{path} holds no decodable frames (zero-length or corrupt)")
    return np.stack(frames)


def prepare_frames(frames, size: int) -> torch.Tensor:
    """uint8 RGB frames (T, H, W, 3) of any size -> float (T, 3, size, size) in [0, 1]:
    scaled to fit, centred, padded with black (the aspect ratio is kept)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise VideoError(f"frames must be uint8 RGB of shape (T, H, W, 3), got {frames.dtype} {frames.shape}")
    T, H, W = frames.shape[:3]
    if min(H, W) == 0:
        raise VideoError(f"frames have no pixels ({H} x {W})")
    scale = size / max(H, W)
    h, w = max(1, round(H * scale)), max(1, round(W * scale))
    out = np.zeros((T, size, size, 3), dtype=np.uint8)
    top, left = (size - h) // 2, (size - w) // 2
    for t in range(T):
        out[t, top : top + h, left : left + w] = cv2.resize(frames[t], (w, h), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(out).permute(0, 3, 1, 2).float() / 255.0
