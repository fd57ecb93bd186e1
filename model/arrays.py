"""One torch implementation serving numpy callers too.

Every numeric function in `model` is written once, in torch (so it batches, runs on
CUDA and is differentiable). Decorated with `numpy_io`, it also accepts numpy arrays:
numpy in, numpy out, at the input's own precision (float64 stays float64).
"""
from __future__ import annotations

import functools

import numpy as np
import torch


def _to_torch(value):
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
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
        numpy_in = any(isinstance(a, np.ndarray) for a in (*args, *kwargs.values()))
        out = fn(*map(_to_torch, args), **{k: _to_torch(v) for k, v in kwargs.items()})
        return _to_numpy(out) if numpy_in else out

    return wrapper
