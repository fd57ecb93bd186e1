"""Video-to-Pose (V2P): video frames + the target skeleton -> 3D joint positions per frame.

1. An image encoder turns each frame into a grid of tokens. It is a compact CNN trained
   from scratch (no pretrained backbone can be downloaded here); anything with the same
   `forward(images) -> (N, tokens, width)` and `token_xy` can replace it.
2. Joint queries come from the skeleton alone: its rest-pose features (as in P2R), and a
   frequency embedding of the rest and reference heads, refined by GL-GMHA blocks, so a
   query knows which part of the body it is (a leaf of the longest chain, a wing tip...).
3. Decoder blocks: cross-attention from every joint query to its frame's image tokens,
   which a depthwise convolution over a window of frames (t-2..t+2) has mixed with their
   neighbours' (the paper attends to all tokens of the window: five times the cost here
   for the same reach), then GL-GMHA over the joints and an FFN. Each
   cross-attention also reports *where* it looked (the attention-weighted token
   coordinates), a cheap spatial read-out that the next layers use; training asks each
   layer's first head to look at the joint's place in the image.
4. A head gives each joint's position in the view frame (DESIGN.md section 3), root at
   the origin, in units of the skeleton's scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .attention import Graph
from .layers import Block, Config
from .padding import stack_padded
from .pose2rot import REST_FEATURES, rest_features
from .skeleton import Skeleton

FREQUENCIES = 6
QUERY_FEATURES = REST_FEATURES + 2 * 3 * (2 * FREQUENCIES + 1)


@dataclass(frozen=True)
class V2PConfig(Config):
    image_size: int = 96  # frames are letterboxed to this square (`model.video.prepare_frames`)
    width: int = 96
    heads: int = 4
    query_layers: int = 2
    decoder_layers: int = 4
    window: int = 5  # frames of image tokens that reach each frame's queries
    kernel: int = 1  # (no temporal convolution in the shared blocks)
    attention: str = "gl"

    def __post_init__(self):
        super().__post_init__()
        if self.window % 2 == 0 or self.image_size % 8:
            raise ValueError(f"window must be odd and image_size a multiple of 8, got {self.window}, {self.image_size}")

    @property
    def halo(self) -> int:
        return self.window // 2


def _frequency_embedding(x: torch.Tensor) -> torch.Tensor:
    scales = 2.0 ** torch.arange(FREQUENCIES, dtype=x.dtype) * np.pi
    angles = x[..., None] * scales
    return torch.cat([x, angles.sin().flatten(-2), angles.cos().flatten(-2)], -1)


def query_features(skeleton: Skeleton, ref_positions) -> torch.Tensor:
    """(J, QUERY_FEATURES): what V2P knows of each joint before it sees a frame."""
    root, s = int(skeleton.roots[0]), skeleton.scale
    rest = torch.as_tensor(skeleton.rest_heads / s, dtype=torch.float32)
    ref = torch.as_tensor(np.asarray(ref_positions) / s, dtype=torch.float32)
    return torch.cat(
        [rest_features(skeleton), _frequency_embedding(rest - rest[root]), _frequency_embedding(ref - ref[root])], -1
    )


def _conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.GroupNorm(8, cout), nn.GELU())


class ImageEncoder(nn.Module):
    """(N, 3, S, S) in [0, 1] -> (N, (S/8)^2, width) tokens, at stride 8."""

    def __init__(self, config: V2PConfig):
        super().__init__()
        w, g = config.width, config.image_size // 8
        self.net = nn.Sequential(_conv(3, 32, 2), _conv(32, 64, 2), _conv(64, 64, 1), _conv(64, w, 2), _conv(w, w, 1))
        self.position = nn.Parameter(torch.randn(g * g, w) * 0.02)
        axis = (torch.arange(g, dtype=torch.float32) + 0.5) / g * 2 - 1
        yy, xx = torch.meshgrid(axis, axis, indexing="ij")
        self.register_buffer("token_xy", torch.stack([xx, yy], -1).reshape(-1, 2), persistent=False)
        self.register_buffer("mean", torch.tensor([0.45, 0.45, 0.45]).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.net((images - self.mean) * 4)
        return features.flatten(2).transpose(1, 2) + self.position


class ImageAttention(nn.Module):
    """Cross-attention from joint queries (B, T, J, D) to image tokens (B, T, M, D), which
    also returns the attention-weighted token coordinates per head as a feature."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads, self.head_dim = heads, width // heads
        self.q, self.k, self.v, self.out = (nn.Linear(width, width) for _ in range(4))
        self.where = nn.Linear(2 * heads, width)

    def forward(self, x: torch.Tensor, tokens: torch.Tensor, token_xy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (update (B, T, J, D), where the first head looked (B, T, J, 2))."""

        def split(t):
            return t.unflatten(-1, (self.heads, self.head_dim)).transpose(-2, -3)

        q, k, v = split(self.q(x)), split(self.k(tokens)), split(self.v(tokens))
        weights = torch.softmax(q @ k.transpose(-1, -2) / self.head_dim**0.5, -1)  # (B, T, H, J, M)
        out = self.out((weights @ v).transpose(-2, -3).flatten(-2))
        where = (weights @ token_xy).transpose(-2, -3)  # (B, T, J, H, 2)
        return out + self.where(where.flatten(-2)), where[..., 0, :]


class VideoToPose(nn.Module):
    def __init__(self, config: V2PConfig):
        super().__init__()
        self.config = c = config
        w = c.width
        self.encoder = ImageEncoder(c)
        self.embed_query = nn.Linear(QUERY_FEATURES, w)
        self.query_blocks = nn.ModuleList(Block(c, local=i % 2 == 0) for i in range(c.query_layers))
        self.temporal = nn.Conv1d(w, w, c.window, groups=w)
        self.norm_image = nn.LayerNorm(w)
        self.norm_cross = nn.ModuleList(nn.LayerNorm(w) for _ in range(c.decoder_layers))
        self.cross = nn.ModuleList(ImageAttention(w, c.heads) for _ in range(c.decoder_layers))
        self.decoder = nn.ModuleList(Block(c, local=i % 2 == 0) for i in range(c.decoder_layers))
        self.head = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, w), nn.GELU(), nn.Linear(w, 3))

    def windowed(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, T, N, D): each token plus a depthwise mix of the same token over the window of
        frames (edge frames repeated)."""
        B, T, N, D = tokens.shape
        h = self.config.halo
        x = tokens.permute(0, 2, 3, 1).reshape(B * N, D, T)
        x = self.temporal(F.pad(x, (h, h), mode="replicate"))
        return tokens + x.reshape(B, N, D, T).permute(0, 3, 1, 2)

    def forward(self, images: torch.Tensor, queries: torch.Tensor, graph: Graph, root: torch.Tensor, where: bool = False):
        """images (B, T, 3, S, S), queries (B, J, QUERY_FEATURES), root (B,) long ->
        view-frame positions (B, T, J, 3) / scale, each clip's root at the origin; with
        `where`, also where each layer's first head looked, (layers, B, T, J, 2), which
        training supervises with the joints' image positions."""
        B, T = images.shape[:2]
        tokens = self.norm_image(self.encoder(images.flatten(0, 1)).unflatten(0, (B, T)))
        tokens = self.windowed(tokens)
        token_xy = self.encoder.token_xy.to(tokens)
        x = self.embed_query(queries)[:, None]
        for block in self.query_blocks:
            x = block(x, graph)
        x = x.expand(B, T, -1, -1)
        looked = []
        for norm, cross, block in zip(self.norm_cross, self.cross, self.decoder, strict=True):
            update, place = cross(norm(x), tokens, token_xy)
            looked.append(place)
            x = block(x + update, graph)
        positions = self.head(x)
        root_position = positions.gather(2, root.view(B, 1, 1, 1).expand(B, T, 1, 3))
        positions = positions - root_position
        return (positions, torch.stack(looked)) if where else positions


def collate_queries(items: list[torch.Tensor]) -> torch.Tensor:
    """Pad per-clip query features (J_b, F) to (B, J, F)."""
    return stack_padded(items, 0)
