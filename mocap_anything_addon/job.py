"""The capture itself, on plain arrays: what runs in the worker thread. Never imports bpy.

`Request` holds everything copied out of Blender on the main thread; `solve` turns it into
local rotations; `Job` runs `solve` in a thread, reports progress through a queue and can
be cancelled between chunks of frames.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

import numpy as np

from .model.network import Network, load_pretrained, resolve_device
from .model.rotations import axis_rotation, smooth_rotations
from .model.skeleton import Skeleton
from .model.video import read_video, video_info

# Where the camera stood, as Blender's numpad views name them -> the yaw (about Z) taking
# the view frame (camera on -Y looking toward +Y) to the skeleton's world orientation.
VIEWS = {"FRONT": 0.0, "RIGHT": 90.0, "BACK": 180.0, "LEFT": -90.0}
V2P_SHARE = 0.85  # share of the work (time) that is video -> pose, for the progress bar
_networks: dict[str, Network] = {}
_networks_lock = threading.Lock()


class CaptureError(ValueError):
    """Input a capture cannot use as it is (rig, reference frame, video, range); the message
    says why and what to do."""


class Cancelled(Exception):
    """The user stopped the capture."""


@dataclass
class Request:
    skeleton: Skeleton
    ref_positions: np.ndarray  # (J, 3) heads at the reference frame, world orientation
    ref_rotations: np.ndarray  # (J, 3, 3) local rotations at the reference frame
    video: str
    video_start: int  # first video frame (from 0)
    frames: int  # how many frames to capture
    stride: int = 1  # every n-th video frame
    view: str = "FRONT"
    device: str = "AUTO"
    smoothing: float = 0.0  # Gaussian sigma in frames, 0 = none


def video_frames(path: str) -> int:
    """Frames in a video file, checked readable (`VideoError` otherwise)."""
    return video_info(path).frames


def network(device: str) -> Network:
    """The shipped network on `device`, loaded once per device and session."""
    key = str(resolve_device(device.lower()))
    with _networks_lock:
        if key not in _networks:
            _networks[key] = load_pretrained(key)
        return _networks[key]


def solve(request: Request, progress=lambda fraction, text: None) -> np.ndarray:
    """The request's local rotations (T, J, 3, 3). `progress(fraction, text)` is called as
    work is done; an exception raised by it (`Cancelled`) stops the work there."""
    progress(0.0, "reading the video")
    stop = request.video_start + request.frames * request.stride
    frames = read_video(request.video, request.video_start, stop, request.stride)
    if len(frames) < request.frames:
        raise ValueError(f"{request.video} gave {len(frames)} frames where {request.frames} were asked for")
    T = len(frames)
    net = network(request.device)
    progress(0.0, f"video -> pose, 0/{T} frames")
    sk, ref_pos, ref_rot = request.skeleton, request.ref_positions, request.ref_rotations
    view = net.video_to_pose(
        frames, sk, ref_pos, ref_rot, progress=lambda n: progress(V2P_SHARE * n / T, f"video -> pose, {n}/{T} frames")
    )
    positions = view @ axis_rotation(2, np.radians([VIEWS[request.view]]))[0].T
    rotations = net.pose_to_rotation(
        sk,
        ref_pos,
        ref_rot,
        positions,
        progress=lambda n: progress(V2P_SHARE + (1 - V2P_SHARE) * n / T, f"pose -> rotation, {n}/{T} frames"),
    )
    return smooth_rotations(rotations, request.smoothing)


class Job:
    """`solve` in a worker thread. The main thread calls `poll()` (from a timer) to get the
    latest progress; when `done`, `result` or `error` holds the outcome."""

    def __init__(self, request: Request):
        self.request = request
        self.fraction, self.text, self.started = 0.0, "starting", time.perf_counter()
        self.result: np.ndarray | None = None
        self.error: BaseException | None = None
        self._cancel = threading.Event()
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="mocap-capture", daemon=True)

    def start(self) -> Job:
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return isinstance(self.error, Cancelled)

    @property
    def done(self) -> bool:
        return not self._thread.is_alive() and self._queue.empty()

    def _progress(self, fraction: float, text: str) -> None:
        if self._cancel.is_set():
            raise Cancelled("capture cancelled")
        self._queue.put((fraction, text))

    def _run(self) -> None:
        try:
            self.result = solve(self.request, self._progress)
        except BaseException as error:  # handed to the main thread, which reports it
            self.error = error

    def poll(self) -> tuple[float, str]:
        """Drain the progress queue; returns (fraction done, text with an ETA)."""
        while not self._queue.empty():
            self.fraction, self.text = self._queue.get_nowait()
        elapsed = time.perf_counter() - self.started
        if 0.02 < self.fraction < 1:
            return self.fraction, f"{self.text}, ETA {elapsed * (1 - self.fraction) / self.fraction:.0f} s"
        return self.fraction, self.text

    def wait(self) -> None:
        self._thread.join()
