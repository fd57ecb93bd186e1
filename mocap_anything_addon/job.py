"""The capture itself, on plain arrays: what runs in the worker thread. Never imports bpy.

`Request` holds everything copied out of Blender on the main thread; `solve` runs the one
capture pipeline (`model.pipeline.capture_video`) on it; `Job` runs `solve` in a thread,
reports its progress through a queue and can be cancelled at any decoded frame.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field

import numpy as np

from model.network import Network, load_pretrained, resolve_device
from model.pipeline import Cancelled, CaptureOptions, CaptureResult, Plan, Progress, capture_video
from model.skeleton import Skeleton

_networks: dict[str, Network] = {}
_networks_lock = threading.Lock()


@dataclass
class Request:
    skeleton: Skeleton
    ref_positions: np.ndarray  # (J, 3) heads at the reference frame, world orientation
    ref_rotations: np.ndarray  # (J, 3, 3) local rotations at the reference frame
    video: str  # absolute path
    plan: Plan  # scene frames and the video frame each takes
    options: CaptureOptions
    notes: list[str] = field(default_factory=list)  # what the user should know, said with the result


def network(device: str) -> Network:
    """The shipped network on `device`, loaded once per device and session."""
    key = str(resolve_device(device.lower()))
    with _networks_lock:
        if key not in _networks:
            _networks[key] = load_pretrained(key)
        return _networks[key]


def solve(request: Request, progress=None, cancelled=None) -> CaptureResult:
    """The request's capture (`model.pipeline.capture_video`, with its `progress` and
    `cancelled` callbacks)."""
    r = request
    net = network(r.options.device)
    return capture_video(
        net, r.video, r.skeleton, r.ref_positions, r.ref_rotations, r.plan, r.options, progress=progress, cancelled=cancelled
    )


class Job:
    """`solve` in a worker thread. The main thread calls `poll()` (from a timer) to get the
    latest progress; when `done`, `result` or `error` holds the outcome."""

    def __init__(self, request: Request):
        self.request = request
        self.fraction, self.text = 0.0, "starting"
        self.result: CaptureResult | None = None
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

    def _progress(self, progress: Progress) -> None:
        self._queue.put((progress.fraction, str(progress)))

    def _run(self) -> None:
        try:
            self.result = solve(self.request, self._progress, self._cancel.is_set)
        except BaseException as error:  # handed to the main thread, which reports it
            error.__context__ = error.__cause__ = None  # keeps no frame of the capture (or its buffers) alive
            self.error = error.with_traceback(None)

    def poll(self) -> tuple[float, str]:
        """Drain the progress queue; returns (fraction done, text with the time left)."""
        while not self._queue.empty():
            self.fraction, self.text = self._queue.get_nowait()
        return self.fraction, self.text

    def wait(self) -> None:
        self._thread.join()
