"""One torch implementation serving numpy callers too.

Every numeric function in `model` is written once, in torch (so it batches, runs on
CUDA and is differentiable). Decorated with `numpy_io`, it also accepts numpy arrays:
numpy in, numpy out, at the input's own precision (float64 stays float64).
"""

from __future__ import annotations

import functools

import numpy as np
import torch


def _is_numpy(value) -> bool:
    return isinstance(value, (np.ndarray, np.floating))


def _to_torch(value):
    if _is_numpy(value):
        array = np.asarray(value)
        if not (array.flags.writeable and array.flags.c_contiguous):
            array = array.copy()  # torch wants writable memory (skeleton arrays are frozen)
        return torch.from_numpy(array)
    return value


def _to_numpy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, tuple):
        return tuple(_to_numpy(v) for v in value)
    return value


def numpy_io(fn):
    """Let a torch function take numpy arrays; it then returns numpy arrays."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        numpy_in = any(map(_is_numpy, (*args, *kwargs.values())))
        out = fn(*map(_to_torch, args), **{k: _to_torch(v) for k, v in kwargs.items()})
        return _to_numpy(out) if numpy_in else out

    return wrapper
