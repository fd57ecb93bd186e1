import numpy as np
import pytest
import torch

from model.attention import HOP_CAP, NUM_HOPS, Graph, GraphAttention
from model.data.procedural import random_skeleton
from model.skeleton import EDGE_CHILD, EDGE_PARENT, EDGE_SELF, Skeleton


def chain_and_branch() -> Skeleton:
    # 0 -> 1 -> 2, 0 -> 3; and a second tree rooted at 4 (several roots)
    parents = np.array([-1, 0, 1, 0, -1])
    return Skeleton(parents=parents, rest_heads=np.arange(15.0).reshape(5, 3))


def test_masks_on_a_known_tree():
    sk = chain_and_branch()
    g = Graph.of([sk, random_skeleton(3, 7)])
    local = g.allowed(local=True)[0, :5, :5].numpy()
    assert local.tolist() == [
        [True, False, False, False, False],
        [True, True, False, False, False],
        [True, True, True, False, False],
        [True, False, False, True, False],
        [False, False, False, False, True],
    ]
    assert g.allowed(local=False)[0, :5, :5].all()
    # The smaller skeleton is padded to 7: no real joint attends to padding (padding rows
    # keep at least themselves, so that no softmax row is empty).
    for local in (True, False):
        allowed = g.allowed(local=local)[0]
        assert not allowed[:5, 5:].any() and allowed[5, 5] and allowed[6, 6]
    assert g.hops[0, 2, 3] == 3 and g.hops[0, 0, 4] == NUM_HOPS - 1  # different trees
    assert g.edges[0, 1, 0] == EDGE_PARENT and g.edges[0, 0, 1] == EDGE_CHILD and g.edges[0, 2, 2] == EDGE_SELF
    long_chain = Skeleton(parents=np.arange(-1, 9), rest_heads=np.zeros((10, 3)))
    assert Graph.of([long_chain]).hops[0, 0, 9] == HOP_CAP


@pytest.mark.parametrize("kind,local", [("gl", True), ("gl", False), ("global", False), ("full", False)])
def test_padded_joints_change_nothing(kind, local):
    torch.manual_seed(0)
    attn = GraphAttention(16, 4, local=local, kind=kind)
    if attn.graph_bias is not None:
        torch.nn.init.normal_(attn.graph_bias)
    small, big = random_skeleton(5, 9), random_skeleton(6, 20)
    x = torch.randn(2, 3, 20, 16)
    alone = attn(x[:1, :, :9], Graph.of([small]))
    batched = attn(x, Graph.of([small, big]))
    assert torch.allclose(alone[0], batched[0, :, :9], atol=1e-5)
    x_changed = x.clone()
    x_changed[0, :, 9:] = 100.0  # whatever is in the padding
    assert torch.allclose(attn(x_changed, Graph.of([small, big]))[0, :, :9], batched[0, :, :9], atol=1e-5)


@pytest.mark.parametrize("kind,local", [("gl", True), ("gl", False), ("global", False)])
def test_inference_and_training_attend_alike(kind, local):
    """Without gradients the layer takes torch's fused kernel (batch and frames as one
    dimension); with them, the unfused one: the same attention, cross-attention included."""
    torch.manual_seed(3)
    attn = GraphAttention(16, 4, local=local, kind=kind)
    if attn.graph_bias is not None:
        torch.nn.init.normal_(attn.graph_bias)
    graph = Graph.of([random_skeleton(5, 9), random_skeleton(6, 20)])
    x, reference = torch.randn(2, 7, 20, 16), torch.randn(2, 1, 20, 16)
    for context in (None, reference):
        trained = attn(x, graph, context)
        with torch.no_grad():
            inferred = attn(x, graph, context)
        assert torch.allclose(trained, inferred, atol=1e-5)


def test_local_layer_ignores_other_branches():
    torch.manual_seed(1)
    attn = GraphAttention(8, 2, local=True)
    sk = chain_and_branch()
    x = torch.randn(1, 1, 5, 8)
    y = attn(x, Graph.of([sk]))
    x2 = x.clone()
    x2[0, 0, 3] += 1.0  # joint 3 is no ancestor of 0, 1, 2
    y2 = attn(x2, Graph.of([sk]))
    assert torch.allclose(y[0, 0, :3], y2[0, 0, :3]) and not torch.allclose(y[0, 0, 3], y2[0, 0, 3])


def test_graph_bias_tells_trees_apart_and_plain_attention_does_not():
    torch.manual_seed(2)
    x = torch.randn(1, 1, 5, 8)
    biased = GraphAttention(8, 2, local=False, kind="global")
    torch.nn.init.normal_(biased.graph_bias)
    plain = GraphAttention(8, 2, local=False, kind="full")
    sk = chain_and_branch()
    star = Skeleton(parents=np.array([-1, 0, 0, 0, 0]), rest_heads=np.zeros((5, 3)))
    assert not torch.allclose(biased(x, Graph.of([sk])), biased(x, Graph.of([star])))
    assert torch.allclose(plain(x, Graph.of([sk])), plain(x, Graph.of([star])))


def test_bad_configuration():
    with pytest.raises(ValueError, match="attention kind"):
        GraphAttention(8, 2, local=True, kind="sparse")
    with pytest.raises(ValueError, match="divisible"):
        GraphAttention(10, 4, local=True)
