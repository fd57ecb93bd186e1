"""Time-local work over a stream of chunks, equal to one pass over the whole clip.

Every network stage of a capture, and the smoothing after them, computes frame t from
frames t - halo .. t + halo only (temporal convolutions with replicate padding at the
clip's ends). `Sliding` runs such a function over frames that arrive a chunk at a time:
it holds the frames still needed as context, runs the function on a window with `halo`
frames of context each side (clipped at the clip's ends, as one pass would be), and
emits each output frame exactly once. Memory is bounded by chunk + 2 * halo frames per
stage, whatever the clip's length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch

Stage = Callable[[torch.Tensor], torch.Tensor]  # (n, ...) -> (n, ...), time-local


class Sliding:
    def __init__(self, fn: Stage, halo: int, chunk: int):
        if halo < 0 or chunk < 1:
            raise ValueError(f"halo must be >= 0 and chunk >= 1, got {halo}, {chunk}")
        self.fn, self.halo, self.chunk = fn, halo, chunk
        self.buffer: torch.Tensor | None = None
        self.start = 0  # clip index of buffer[0]
        self.done = 0  # frames emitted so far

    def push(self, frames: torch.Tensor) -> Iterator[torch.Tensor]:
        """Take the next frames of the clip; yields outputs once enough context has come."""
        self.buffer = frames if self.buffer is None else torch.cat([self.buffer, frames])
        while self.start + len(self.buffer) - self.halo - self.done >= self.chunk:
            yield self._emit(self.done + self.chunk, final=False)

    def finish(self) -> Iterator[torch.Tensor]:
        """The clip has ended: the outputs of the frames not emitted yet."""
        end = self.start + (0 if self.buffer is None else len(self.buffer))
        while self.done < end:
            yield self._emit(min(end, self.done + self.chunk), final=True)

    def _emit(self, stop: int, final: bool) -> torch.Tensor:
        lo = max(self.start, self.done - self.halo)
        hi = self.start + len(self.buffer) if final else stop + self.halo
        out = self.fn(self.buffer[lo - self.start : hi - self.start])[self.done - lo : stop - lo]
        self.done = stop
        keep = max(self.start, stop - self.halo)
        self.buffer, self.start = self.buffer[keep - self.start :], keep
        return out


def chain(stages: list[Sliding], chunks: Iterable[torch.Tensor]) -> Iterator[torch.Tensor]:
    """Feed `chunks` through the stages in turn; yields the last stage's outputs."""

    def feed(k: int, x: torch.Tensor) -> Iterator[torch.Tensor]:
        if k == len(stages):
            yield x
            return
        for y in stages[k].push(x):
            yield from feed(k + 1, y)

    def drain(k: int) -> Iterator[torch.Tensor]:
        if k == len(stages):
            return
        for y in stages[k].finish():
            yield from feed(k + 1, y)
        yield from drain(k + 1)

    for chunk in chunks:
        yield from feed(0, chunk)
    yield from drain(0)


def run(fn: Stage, halo: int, chunk: int, frames: torch.Tensor) -> torch.Tensor:
    """`fn` over a whole clip, `chunk` frames at a time (what the numpy API uses)."""
    if len(frames) == 0:
        return fn(frames)
    return torch.cat(list(chain([Sliding(fn, halo, chunk)], frames.split(chunk))))
