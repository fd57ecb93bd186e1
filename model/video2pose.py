"""Video-to-Pose (V2P): video frames + the target skeleton -> 3D joint positions per frame.

1. An image encoder turns each frame into tokens. `efficientnet_lite0` (the default):
   ImageNet-pretrained EfficientNet-Lite0 (`model.efficientnet`), frozen, its stride-16
   feature map projected to tokens (with `fine_tokens`, its stride-8 map too: a finer
   grid to place a joint on, at about 2.4x the training step's cost); its `features` are
   what training caches.
   `cnn`: the compact CNN trained from scratch that earlier checkpoints carry. Anything
   with `features(images)`, `tokens(features)` and `places(features)` can replace them.
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
   the origin, in units of the skeleton's scale; with the pretrained encoder, a second
   head gives where each joint is in the image (x right, y down, -1..1 edge to edge of
   the network's input square).

The person path (DESIGN.md section 4) is the same network over other tokens: encoder
`landmarks` makes one token of each of a person detector's 33 landmarks
(`model.landmarks.features`), and its 2D head places the joints in the landmarks' box.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import efficientnet, landmarks
from .attention import Graph
from .layers import Block, Config
from .padding import stack_padded
from .pose2rot import REST_FEATURES, rest_features
from .skeleton import Skeleton

FREQUENCIES = 6
QUERY_FEATURES = REST_FEATURES + 2 * 3 * (2 * FREQUENCIES + 1)


@dataclass(frozen=True)
class V2PConfig(Config):
    image_size: int = 160  # frames are letterboxed to this square (`model.video.prepare_frames`)
    encoder: str = "efficientnet_lite0"  # or "cnn" (trained from scratch, earlier checkpoints), "landmarks" (person path)
    width: int = 96
    heads: int = 4
    query_layers: int = 2
    decoder_layers: int = 2
    window: int = 5  # frames of image tokens that reach each frame's queries
    kernel: int = 1  # (no temporal convolution in the shared blocks)
    attention: str = "gl"
    shared_memory: bool = True  # one key/value projection of the tokens for all decoder layers
    fine_tokens: bool = False  # the pretrained encoder's stride-8 tokens too (5x the tokens, about 2.4x a step's cost)
    tuned: bool = False  # the pretrained encoder's stages 4-5 trained too, from its frozen stage 3

    def __post_init__(self):
        super().__post_init__()
        if self.window % 2 == 0 or self.image_size % 16:
            raise ValueError(f"window must be odd and image_size a multiple of 16, got {self.window}, {self.image_size}")
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {sorted(ENCODERS)}, got {self.encoder!r}")
        if self.tuned and self.encoder != "efficientnet_lite0":
            raise ValueError(f"only the pretrained encoder has stages to tune, not {self.encoder!r}")

    @property
    def locates(self) -> bool:
        """Whether the network gives each joint's place in the image (a 2D head): in the
        input square (image encoders: it can find the subject and look at a crop around
        it, `model.crop`) or in the landmarks' box."""
        return self.encoder != "cnn"

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


def _grid(cells: int) -> torch.Tensor:
    """(cells^2, 2) centres of a square grid's cells, x right, y down, -1..1."""
    axis = (torch.arange(cells, dtype=torch.float32) + 0.5) / cells * 2 - 1
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xx, yy], -1).reshape(-1, 2)


class CNNEncoder(nn.Module):
    """(N, 3, S, S) in [0, 1] -> (N, (S/8)^2, width) tokens, at stride 8, trained from scratch."""

    def __init__(self, config: V2PConfig):
        super().__init__()
        w, g = config.width, config.image_size // 8
        self.net = nn.Sequential(_conv(3, 32, 2), _conv(32, 64, 2), _conv(64, 64, 1), _conv(64, w, 2), _conv(w, w, 1))
        self.position = nn.Parameter(torch.randn(g * g, w) * 0.02)
        self.register_buffer("token_xy", _grid(g), persistent=False)
        self.register_buffer("mean", torch.tensor([0.45, 0.45, 0.45]).view(1, 3, 1, 1), persistent=False)

    def features(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (images,)

    def tokens(self, images: torch.Tensor) -> torch.Tensor:
        features = self.net((images - self.mean) * 4)
        return features.flatten(2).transpose(1, 2) + self.position

    def places(self, features: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return self.token_xy


class PretrainedEncoder(nn.Module):
    """(N, 3, S, S) in [0, 1] -> (N, (S/16)^2 [+ (S/8)^2], width) tokens: the frozen
    EfficientNet-Lite0's stage-5 map (stride 16) and, with `fine_tokens`, its stage-3 map
    (stride 8), each projected to the width, with a learned embedding of the token's place.
    `features` gives both maps whatever the sizes (what the training cache holds: stage 3 is
    computed on the way to stage 5 anyway). With `tuned`, a trainable copy of stages 4-5
    (from the pretrained weights) makes the stage-5 map from the stage-3 one, which is then
    all `features` gives (`tokens` takes the cached pair too, and uses the first)."""

    TAPS = (3, 5)

    def __init__(self, config: V2PConfig):
        super().__init__()
        w, S = config.width, config.image_size
        self.backbone = efficientnet.pretrained(max(self.TAPS)).requires_grad_(False).eval()
        self.used = (0, 1) if config.fine_tokens else (1,)  # which of TAPS make tokens
        stride = {3: 8, 5: 16}
        self.project = nn.ModuleList(nn.Linear(self.backbone.channels[self.TAPS[i] - 1], w) for i in self.used)
        cells = [S // stride[self.TAPS[i]] for i in self.used]
        self.position = nn.Parameter(torch.randn(sum(c * c for c in cells), w) * 0.02)
        self.register_buffer("token_xy", torch.cat([_grid(c) for c in cells]), persistent=False)
        self.fine_cells = S // stride[self.TAPS[0]]
        if config.tuned:
            first, last = (self.backbone.stage_ends[tap - 1] for tap in self.TAPS)
            self.upper = copy.deepcopy(self.backbone._blocks[first:last]).requires_grad_(True)

    def train(self, mode: bool = True):
        super().train(mode)
        self.backbone.eval()  # frozen: its batch norms keep the pretrained statistics
        if hasattr(self, "upper"):
            self.upper.eval()  # tuned, but on the pretrained statistics (small maps, few frames a batch)
        return self

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The frozen part's output, per tap (N, cells, channels); with `tuned`, the stage-3
        map alone (the trainable copy makes the stage-5 one from it)."""
        taps = self.TAPS[:1] if hasattr(self, "upper") else self.TAPS
        return tuple(f.flatten(2).transpose(1, 2) for f in self.backbone(images, taps))

    def tokens(self, *features: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "upper"):
            x = features[0].transpose(1, 2).unflatten(2, (self.fine_cells, self.fine_cells))
            for block in self.upper:
                x = block(x)
            features = (features[0], x.flatten(2).transpose(1, 2))
        used = [features[i] for i in self.used]
        return torch.cat([p(f) for p, f in zip(self.project, used, strict=True)], 1) + self.position

    def places(self, features: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Where each token is in the input square (M, 2), whatever the frame (N, ...)."""
        return self.token_xy


class LandmarkEncoder(nn.Module):
    """(N, 33, landmarks.FEATURES) -> (N, 33, width): each landmark's features, and which
    landmark it is, as a token. Its place is where the detector saw it (in its box)."""

    def __init__(self, config: V2PConfig):
        super().__init__()
        w = config.width
        self.project = nn.Sequential(nn.Linear(landmarks.FEATURES, w), nn.GELU(), nn.Linear(w, w))
        self.identity = nn.Parameter(torch.randn(landmarks.COUNT, w) * 0.02)

    def features(self, packed: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (packed,)

    def tokens(self, features: torch.Tensor) -> torch.Tensor:
        return self.project(features) + self.identity

    def places(self, features: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """(N, 33, 2): each frame's own places."""
        return features[0][..., :2]


ENCODERS = {"cnn": CNNEncoder, "efficientnet_lite0": PretrainedEncoder, "landmarks": LandmarkEncoder}


class ImageAttention(nn.Module):
    """Cross-attention from joint queries (B, T, J, D) to image tokens (B, T, M, D), which
    also returns the attention-weighted token coordinates per head as a feature. Keys and
    values come from the layer's own projections of the tokens, or (`own_memory=False`)
    from projections all layers share (`VideoToPose.memory`): with hundreds of tokens per
    frame, projecting them once instead of once per layer is most of the decoder's cost."""

    def __init__(self, width: int, heads: int, own_memory: bool = True):
        super().__init__()
        self.heads, self.head_dim = heads, width // heads
        self.q, self.out = nn.Linear(width, width), nn.Linear(width, width)
        if own_memory:
            self.k, self.v = nn.Linear(width, width), nn.Linear(width, width)
        self.where = nn.Linear(2 * heads, width)

    def memory(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.k(tokens), self.v(tokens)

    def forward(self, x: torch.Tensor, memory: tuple[torch.Tensor, torch.Tensor], token_xy: torch.Tensor):
        """`memory`: keys and values (B, T, M, D) -> (update (B, T, J, D), where the first
        head looked (B, T, J, 2))."""

        def split(t):
            return t.unflatten(-1, (self.heads, self.head_dim)).transpose(-2, -3)

        q, k, v = split(self.q(x)), split(memory[0]), split(memory[1])
        weights = torch.softmax(q @ k.transpose(-1, -2) / self.head_dim**0.5, -1)  # (B, T, H, J, M)
        out = self.out((weights @ v).transpose(-2, -3).flatten(-2))
        where = (weights @ token_xy).transpose(-2, -3)  # (B, T, J, H, 2); token_xy (B, T, 1, M, 2)
        return out + self.where(where.flatten(-2)), where[..., 0, :]


class V2POutput(NamedTuple):
    positions: torch.Tensor  # (B, T, J, 3): view frame / the skeleton's scale, root at the origin
    uv: torch.Tensor | None  # (B, T, J, 2): place in the input square, -1..1 (None: `cnn` encoder)
    looked: torch.Tensor  # (layers, B, T, J, 2): where each layer's first head looked (trained towards uv)


class VideoToPose(nn.Module):
    def __init__(self, config: V2PConfig):
        super().__init__()
        self.config = c = config
        w = c.width
        self.encoder = ENCODERS[c.encoder](c)
        self.embed_query = nn.Linear(QUERY_FEATURES, w)
        self.query_blocks = nn.ModuleList(Block(c, local=i % 2 == 0) for i in range(c.query_layers))
        self.temporal = nn.Conv1d(w, w, c.window, groups=w)
        self.norm_image = nn.LayerNorm(w)
        self.norm_cross = nn.ModuleList(nn.LayerNorm(w) for _ in range(c.decoder_layers))
        self.cross = nn.ModuleList(ImageAttention(w, c.heads, not c.shared_memory) for _ in range(c.decoder_layers))
        if c.shared_memory:
            self.memory = nn.Linear(w, 2 * w)
        self.decoder = nn.ModuleList(Block(c, local=i % 2 == 0) for i in range(c.decoder_layers))
        self.head = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, w), nn.GELU(), nn.Linear(w, 3))
        if c.locates:
            self.head_uv = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, w), nn.GELU(), nn.Linear(w, 2))

    def windowed(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, T, N, D): each token plus a depthwise mix of the same token over the window of
        frames (edge frames repeated)."""
        B, T, N, D = tokens.shape
        h = self.config.halo
        x = tokens.permute(0, 2, 3, 1).reshape(B * N, D, T)
        x = self.temporal(F.pad(x, (h, h), mode="replicate"))
        return tokens + x.reshape(B, N, D, T).permute(0, 3, 1, 2)

    def forward(self, images: torch.Tensor, queries: torch.Tensor, graph: Graph, root: torch.Tensor) -> V2POutput:
        """images (B, T, 3, S, S), queries (B, J, QUERY_FEATURES), root (B,) long."""
        B, T = images.shape[:2]
        features = self.encoder.features(images.flatten(0, 1))
        return self.decode(tuple(f.unflatten(0, (B, T)) for f in features), queries, graph, root)

    def decode(self, features: tuple[torch.Tensor, ...], queries: torch.Tensor, graph: Graph, root: torch.Tensor) -> V2POutput:
        """The network after the encoder's frozen part: `features` as `encoder.features`
        gives them, per frame (B, T, ...), e.g. read from a training cache."""
        B, T = features[0].shape[:2]
        seen = self.frame_tokens(tuple(f.flatten(0, 1) for f in features))
        return self.attend(seen.unflatten(0, (B, T)), queries, graph, root)

    def frame_tokens(self, features: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """What each frame alone gives (N, M, width + 2): its normalised tokens, each with
        its place (x, y) appended. A capture computes it once per frame (`Network.video_stages`),
        however many windows of frames then read it."""
        tokens = self.norm_image(self.encoder.tokens(*features))
        places = self.encoder.places(features).to(tokens)  # (M, 2) the same for every frame, or (N, M, 2)
        return torch.cat([tokens, places.expand(len(tokens), -1, -1)], -1)

    def attend(self, seen: torch.Tensor, queries: torch.Tensor, graph: Graph, root: torch.Tensor) -> V2POutput:
        """The joint queries over a window of frames' `frame_tokens` (B, T, M, width + 2)."""
        B, T = seen.shape[:2]
        tokens, token_xy = self.windowed(seen[..., :-2]), seen[..., None, :, -2:]
        x = self.embed_query(queries)[:, None]
        for block in self.query_blocks:
            x = block(x, graph)
        x = x.expand(B, T, -1, -1)
        looked, shared = [], self.memory(tokens).chunk(2, -1) if hasattr(self, "memory") else None
        for norm, cross, block in zip(self.norm_cross, self.cross, self.decoder, strict=True):
            update, place = cross(norm(x), shared or cross.memory(tokens), token_xy)
            looked.append(place)
            x = block(x + update, graph)
        positions = self.head(x)
        root_position = positions.gather(2, root.view(B, 1, 1, 1).expand(B, T, 1, 3))
        uv = self.head_uv(x) if self.config.locates else None
        return V2POutput(positions - root_position, uv, torch.stack(looked))


def collate_queries(items: list[torch.Tensor]) -> torch.Tensor:
    """Pad per-clip query features (J_b, F) to (B, J, F)."""
    return stack_padded(items, 0)
