"""Batches of skeletons of different sizes: one way to pad a joint axis."""

from __future__ import annotations

import torch


def pad_joints(a: torch.Tensor, J: int, dim: int, fill=0.0) -> torch.Tensor:
    """`a` with its joint axis `dim` padded to `J` entries. `fill` is a scalar, or a tensor
    broadcast to the padding (an identity (3, 3) for frames, indices for parents)."""
    n = J - a.shape[dim]
    if n <= 0:
        return a
    shape = list(a.shape)
    shape[dim] = n
    filler = torch.as_tensor(fill, dtype=a.dtype, device=a.device).expand(shape)
    return torch.cat([a, filler], dim)


def stack_padded(items: list[torch.Tensor], dim: int, fill=0.0) -> torch.Tensor:
    """Clips' tensors, each padded to the largest joint count, stacked into a batch."""
    J = max(a.shape[dim] for a in items)
    return torch.stack([pad_joints(a, J, dim, fill) for a in items])
