"""Which person the person path follows when a video has several (DESIGN.md section 4).

The detector (`model.landmarks.Detector`) finds one person per frame and, in video mode,
tracks whom it found; when that person leaves, lands behind something or is lost for a
frame, it picks up anyone else, and nothing says so. `Follower` keeps a capture on one
person: the first one the detector finds, or the one at a place the user gives. A
sighting is the followed person when its body's box is near where that person was last
seen: its centre moves by less than `JUMP` box sides from one frame to the next, `SLACK`
more per frame unseen, up to `MAX_JUMP` (the smaller of the two boxes' sides: a box the
detector botched does not widen the reach). Any other sighting is someone else: it is
dropped (for the capture, the followed person was not found in that frame) and that
person's box is painted over in the next `MASK_FRAMES` frames, so that the detector
looks for the followed one again instead of tracking the other.

Where is all it goes by: a person who comes back after a long absence far from where
they left counts as someone else, and two people who cross paths may be swapped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import landmarks

JUMP = 0.75  # box sides a box's centre may move between consecutive frames
SLACK = 0.25  # more per frame the followed person went unseen...
MAX_JUMP = 1.25  # ...up to this: after a long absence, someone far away is someone else
MASK_FRAMES = 15  # frames another person's last box stays painted over
MARGIN = 0.25  # of a box's side, around it: a pick point this close counts, a mask grows this much
PAINT = 127  # the grey a mask paints


@dataclass(frozen=True)
class Box:
    """A body's box in the image (pixels)."""

    low: np.ndarray  # (2,) x, y
    high: np.ndarray  # (2,)

    @property
    def centre(self) -> np.ndarray:
        return (self.low + self.high) / 2

    @property
    def side(self) -> float:
        return float((self.high - self.low).max())

    def holds(self, point: np.ndarray, margin: float = 0.0) -> bool:
        pad = margin * self.side
        return bool(((self.low - pad <= point) & (point <= self.high + pad)).all())


def body_box(marks: np.ndarray) -> Box | None:
    """(33, PACKED) landmarks -> the box of the body's seen landmarks (None: nobody seen)."""
    body = marks[landmarks.BODY]
    seen = (body[:, 6] >= landmarks.VISIBLE) & np.isfinite(body[:, :2]).all(-1)
    if not seen.any():
        return None
    return Box(body[seen, :2].min(0), body[seen, :2].max(0))


class Follower:
    """`detect` ((H, W, 3) frame -> (33, PACKED) landmarks, NaN: nobody) made to follow one
    person through the frames of a video, in order: the first one found, or with `at`
    (x from the left edge, y from the top, as fractions of the frame) the first one whose
    body's box holds that place. Called on each frame, it gives the followed person's
    landmarks (NaN where not seen); `others` lists the frames (0-based, in call order)
    where someone else was seen instead."""

    def __init__(self, detect: Callable[[np.ndarray], np.ndarray], at: tuple[float, float] | None = None):
        self.detect = detect
        self.at = None if at is None else np.asarray(at, dtype=np.float64)  # fractions; pixels once a frame is seen
        self.at_pixels: np.ndarray | None = None
        self.last: tuple[int, Box] | None = None  # the followed person's last sighting
        self.masks: list[tuple[int, Box]] = []  # other people's last boxes
        self.others: list[int] = []
        self.frame = -1

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        self.frame += 1
        if self.at is not None and self.at_pixels is None:
            self.at_pixels = self.at * frame.shape[1::-1]
        marks = self.detect(self._masked(frame))
        box = body_box(marks)
        if box is None:
            return marks
        if self._is_followed(box):
            self.last = (self.frame, box)
            return marks
        self.others.append(self.frame)
        self.masks.append((self.frame, box))
        return np.full_like(marks, np.nan)

    def _is_followed(self, box: Box) -> bool:
        if self.last is None:
            return self.at_pixels is None or box.holds(self.at_pixels, MARGIN)
        seen, before = self.last
        reach = min(JUMP + SLACK * (self.frame - seen - 1), MAX_JUMP) * min(box.side, before.side)
        return float(np.linalg.norm(box.centre - before.centre)) <= reach

    def _masked(self, frame: np.ndarray) -> np.ndarray:
        """The frame with the other people seen lately painted over (never over the followed
        person's last place)."""
        self.masks = [(t, b) for t, b in self.masks if self.frame - t <= MASK_FRAMES]
        if not self.masks:
            return frame
        out = frame.copy()
        H, W = frame.shape[:2]
        for _, box in self.masks:
            if self.last is not None and _overlap(box, self.last[1]):
                continue
            pad = MARGIN * box.side
            x0, y0 = np.clip(np.floor(box.low - pad), 0, [W, H]).astype(int)
            x1, y1 = np.clip(np.ceil(box.high + pad), 0, [W, H]).astype(int)
            out[y0:y1, x0:x1] = PAINT
        return out


def _overlap(a: Box, b: Box) -> bool:
    return bool((a.low <= b.high).all() and (b.low <= a.high).all())
