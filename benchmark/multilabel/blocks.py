"""The layers the multi-label networks are built of, as torchvision defines them.

ResNet's bottleneck block (v1.5: the stride on the 3×3 convolution) and the VGG
convolution stacks of configurations "D" (VGG16) and "E" (VGG19), without batch
normalisation as in the original VGG and in the BigEarthNet-MM paper. Names of the
sub-modules are torchvision's so a state dict maps over key for key (``resnet*``) or after
renaming ``features.`` to ``convs.`` (``vgg*``).
"""

from __future__ import annotations

import torch
from torch import nn

# torchvision's VGG configurations: a number is a 3×3 convolution with that many output
# channels (+ ReLU), "M" a 2×2 max-pool of stride 2.
VGG_CONFIGS: dict[str, tuple[int | str, ...]] = {
    "D": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
          512, 512, 512, "M", 512, 512, 512, "M"),
    "E": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
          512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """A 3×3 convolution with padding 1 and no bias (a batch norm follows it)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """A 1×1 convolution without bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class Bottleneck(nn.Module):
    """ResNet's bottleneck: 1×1 reduce, 3×3 (carrying the stride), 1×1 expand ×4, + shortcut.

    Args:
        inplanes: Channels in.
        planes: Width of the 3×3 convolution; the block puts out ``planes * 4`` channels.
        stride: Stride of the 3×3 convolution (and of the projection shortcut).
        downsample: The projection shortcut (1×1 convolution + batch norm), or None for
            the identity.
    """

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, inplanes, H, W) → (B, planes * 4, H / stride, W / stride)."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += identity
        return self.relu(out)


def resnet_stage(inplanes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    """One ResNet stage (``layer1`` … ``layer4``): ``blocks`` bottlenecks, the first strided.

    Args:
        inplanes: Channels in.
        planes: Bottleneck width; the stage puts out ``planes * 4`` channels.
        blocks: Number of bottleneck blocks.
        stride: Stride of the first block.

    Returns:
        The stage, its first block with a projection shortcut when the shape changes.
    """
    out_planes = planes * Bottleneck.expansion
    downsample = None
    if stride != 1 or inplanes != out_planes:
        downsample = nn.Sequential(
            conv1x1(inplanes, out_planes, stride), nn.BatchNorm2d(out_planes)
        )
    layers = [Bottleneck(inplanes, planes, stride, downsample)]
    layers += [Bottleneck(out_planes, planes) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


def vgg_convs(config: str, in_channels: int) -> nn.Sequential:
    """VGG's convolution stack (torchvision's ``make_layers`` without batch norm).

    Args:
        config: "D" (VGG16) or "E" (VGG19).
        in_channels: Bands of the input.

    Returns:
        3×3 convolutions (with bias) + ReLU and 2×2 max-pools; 512 channels out.
    """
    layers: list[nn.Module] = []
    channels = in_channels
    for v in VGG_CONFIGS[config]:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            assert isinstance(v, int)
            layers += [nn.Conv2d(channels, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = v
    return nn.Sequential(*layers)
