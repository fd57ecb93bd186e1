"""GL-GMHA: graph-guided multi-head attention over the joint tokens of a frame.

Scores for joints i, j (per head):

    q_i.k_j / sqrt(head dim) + b_hop[d_ij] + b_edge[e_ij]

with d_ij the tree hop distance capped at `HOP_CAP` (joints of different trees get their
own index), e_ij the edge type of `model.skeleton`, and b learned per head. (AnyTop's
form multiplies learned embeddings of d_ij and e_ij with q_i and k_j; on a CPU that costs
four (T, J, J) gathers per head and layer, 60% of a training step here, where this
form costs one (J, J) table per batch.) *Local*
layers let a joint attend only to itself and its ancestors, *global* layers to every joint.
Batches of different skeletons are padded to the largest J; `Graph` carries the padded
index tables and masks. Token tensors are (B, T, J, D): T frames share one skeleton.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .skeleton import NUM_EDGE_TYPES, UNREACHABLE, Skeleton

HOP_CAP = 5
NUM_HOPS = HOP_CAP + 2  # 0..HOP_CAP, and "different tree"
ATTENTION_KINDS = ("gl", "global", "full")  # GL-GMHA; graph bias without local layers; plain attention


@dataclass
class Graph:
    """Padded graph tables for a batch of skeletons (B of them, J = largest)."""

    hops: torch.Tensor  # (B, J, J) long, hop index 0..NUM_HOPS-1
    edges: torch.Tensor  # (B, J, J) long, edge type
    valid: torch.Tensor  # (B, J) bool, real (not padding) joints
    ancestors: torch.Tensor  # (B, J, J) bool, [i, k]: k is i or an ancestor of i

    @staticmethod
    def of(skeletons: Sequence[Skeleton], device: torch.device | str = "cpu") -> Graph:
        J = max(s.num_joints for s in skeletons)
        B = len(skeletons)
        hops = np.full((B, J, J), NUM_HOPS - 1, dtype=np.int64)
        edges = np.zeros((B, J, J), dtype=np.int64)
        valid = np.zeros((B, J), dtype=bool)
        ancestors = np.tile(np.eye(J, dtype=bool), (B, 1, 1))
        for b, s in enumerate(skeletons):
            n = s.num_joints
            d = s.hop_distances
            hops[b, :n, :n] = np.where(d == UNREACHABLE, NUM_HOPS - 1, np.minimum(d, HOP_CAP))
            edges[b, :n, :n] = s.edge_types
            valid[b, :n] = True
            ancestors[b, :n, :n] = s.ancestor_mask
        return Graph(*(torch.as_tensor(a, device=device) for a in (hops, edges, valid, ancestors)))

    def to(self, device: torch.device | str) -> Graph:
        return Graph(*(t.to(device) for t in (self.hops, self.edges, self.valid, self.ancestors)))

    def allowed(self, local: bool) -> torch.Tensor:
        """(B, J, J) bool: which keys each query may attend to (always at least itself)."""
        eye = torch.eye(self.valid.shape[1], dtype=torch.bool, device=self.valid.device)
        keys = self.ancestors if local else self.valid[:, None, :].expand_as(self.ancestors)
        return (keys & self.valid[:, None, :]) | eye


class GraphAttention(nn.Module):
    """One GL-GMHA layer (self-attention, or cross-attention to another token set of the
    same skeleton, e.g. the reference tokens). `kind` "full" drops the graph bias."""

    def __init__(self, width: int, heads: int, *, local: bool, kind: str = "gl"):
        super().__init__()
        if kind not in ATTENTION_KINDS:
            raise ValueError(f"attention kind must be one of {ATTENTION_KINDS}, got {kind!r}")
        if width % heads:
            raise ValueError(f"width {width} is not divisible by {heads} heads")
        self.heads, self.head_dim = heads, width // heads
        self.local = local and kind == "gl"
        self.q, self.k, self.v, self.out = (nn.Linear(width, width) for _ in range(4))
        # Per head, one learned score per hop distance and one per edge type.
        self.graph_bias = nn.Parameter(torch.zeros(heads, NUM_HOPS + NUM_EDGE_TYPES)) if kind != "full" else None

    def _split(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, J, D) -> (B, T, H, J, d)
        return x.unflatten(-1, (self.heads, self.head_dim)).transpose(-2, -3)

    def scores_bias(self, graph: Graph, dtype: torch.dtype) -> torch.Tensor:
        """(B, 1, H, J, J) added to q.k / sqrt(d): the graph bias, -inf where not allowed."""
        allowed = graph.allowed(self.local)[:, None]  # (B, 1, J, J)
        bias = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(~allowed, float("-inf"))
        if self.graph_bias is not None:
            table = self.graph_bias.to(dtype)
            bias = bias + (table[:, graph.hops] + table[:, graph.edges + NUM_HOPS]).transpose(0, 1)
        return bias[:, None]

    def forward(self, x: torch.Tensor, graph: Graph, context: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, T, J, D) queries; context: (B, T or 1, J, D) keys and values (default x)."""
        context = x if context is None else context
        q, k, v = self._split(self.q(x)), self._split(self.k(context)), self._split(self.v(context))
        k, v = k.expand_as(q), v.expand_as(q)
        return self.out(_attend(q, k, v, self.scores_bias(graph, x.dtype)).transpose(-2, -3).flatten(-2))


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Attention over (B, T, H, J, d) with the (B, 1, H, J, J) bias. Without gradients, batch
    and frames go in as one dimension: torch's fused CPU kernel takes only 4-D inputs, and
    the unfused path of 5-D ones costs 1.7-3x as long (J = 30-175). A bias that needs a
    gradient (training) takes the unfused path either way, so it is not copied per frame."""
    if bias.requires_grad:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    bias = bias.expand(*q.shape[:-1], q.shape[-2])
    out = F.scaled_dot_product_attention(*(t.flatten(0, 1) for t in (q, k, v)), attn_mask=bias.flatten(0, 1))
    return out.unflatten(0, q.shape[:2])
