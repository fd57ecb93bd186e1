"""The network pieces Pose-to-Rotation and Video-to-Pose share: the config base, FiLM, the
per-joint temporal convolution and the pre-norm Block around GL-GMHA (`model.attention`)."""

from __future__ import annotations

from dataclasses import asdict, fields

import torch
from torch import nn

from .attention import ATTENTION_KINDS, Graph, GraphAttention

# Bounds of a network's sizes: a configuration read from a file cannot ask for a network
# that would take gigabytes before anything else could fail.
MAX_SIZE = {"width": 1024, "heads": 32, "kernel": 31, "window": 31, "image_size": 1024}
MAX_LAYERS = 32


class Config:
    """What the networks' frozen config dataclasses share: the checks (attention kind,
    sizes within bounds) and the json round trip (unknown keys are ignored, missing ones
    take the defaults)."""

    def __post_init__(self):
        if self.attention not in ATTENTION_KINDS:
            raise ValueError(f"attention must be one of {ATTENTION_KINDS}, got {self.attention!r}")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in (int, "int"):
                low, top = (1, MAX_SIZE[f.name]) if f.name in MAX_SIZE else (0, MAX_LAYERS)
                if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= top:
                    raise ValueError(f"{f.name} must be a whole number in [{low}, {top}], got {value!r}")
            elif f.type in (bool, "bool") and not isinstance(value, bool):
                raise ValueError(f"{f.name} must be true or false, got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


class FiLM(nn.Module):
    """x * (1 + 0.1 gamma) + beta, with (gamma, beta) from the rest encoding; starts as identity."""

    def __init__(self, width: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.proj = nn.Linear(width, 2 * width)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, rest: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.proj(self.norm(rest)).chunk(2, -1)
        return x * (1 + 0.1 * gamma) + beta


class TemporalConv(nn.Module):
    """A depthwise convolution over `kernel` frames for each joint and channel."""

    def __init__(self, width: int, kernel: int):
        super().__init__()
        self.conv = nn.Conv1d(width, width, kernel, groups=width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, J, D)
        B, T, J, D = x.shape
        y = x.permute(0, 2, 3, 1).reshape(B * J, D, T)
        pad = self.conv.kernel_size[0] // 2
        y = self.conv(nn.functional.pad(y, (pad, pad), mode="replicate"))
        return self.proj(y.reshape(B, J, D, T).permute(0, 3, 1, 2))


class Block(nn.Module):
    """[FiLM] -> [temporal window] -> GL-GMHA -> [cross-attention to the reference] -> FFN,
    each a pre-norm residual step."""

    def __init__(self, config, *, local: bool, film=False, temporal=False, cross=False):
        super().__init__()
        w = config.width
        self.film = FiLM(w) if film else None
        self.temporal = nn.Sequential(nn.LayerNorm(w), TemporalConv(w, config.kernel)) if temporal else None
        self.norm_attn = nn.LayerNorm(w)
        self.attn = GraphAttention(w, config.heads, local=local, kind=config.attention)
        self.cross = GraphAttention(w, config.heads, local=False, kind=config.attention) if cross else None
        self.norm_cross = nn.LayerNorm(w) if cross else None
        self.ffn = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, 2 * w), nn.GELU(), nn.Linear(2 * w, w))

    def forward(self, x, graph: Graph, rest=None, ref=None):
        if self.film is not None:
            x = self.film(x, rest)
        if self.temporal is not None:
            x = x + self.temporal(x)
        x = x + self.attn(self.norm_attn(x), graph)
        if self.cross is not None:
            x = x + self.cross(self.norm_cross(x), graph, context=ref)
        return x + self.ffn(x)
