"""The BigEarthNet-MM networks: ResNet50/101/152 and VGG16/19, built with plain torch.nn.

Layer for layer torchvision's architectures (torchvision itself is not a dependency), with
two changes the benchmark needs: the first convolution takes ``in_channels`` bands (2 for
S1, 10 for S2, 12 for S1+S2) and the last layer has ``n_classes`` outputs (19). Trained from
scratch: nothing is downloaded. ResNets are initialised as torchvision does (Kaiming-normal,
fan-out). VGGs are initialised as the paper's code did: BigEarthNet's models are built on
TF-Slim, whose ``conv2d`` and ``fully_connected`` default to Glorot-uniform weights and zero
biases. torchvision's VGG initialisation (Kaiming-normal convolutions, N(0, 0.01) linear
layers, meant for SGD) does not learn at the paper's Adam 1e-3 without batch norm: on the
generated test tree it stays at the label-frequency baseline for 6 epochs, where Glorot
learns (``init="torchvision"`` keeps it for comparison).

Every network is a ``MultiLabelNet``: ``forward`` gives logits (one per class, for a sigmoid
cross-entropy such as ``nn.BCEWithLogitsLoss``), ``features`` the layer before the
classifier, which the retrieval experiments compare.

On 120×120 patches VGG's last feature map is 3×3; torchvision's ``AdaptiveAvgPool2d((7, 7))``
is kept, so it is repeated to 7×7 and the classifier keeps its 512·7·7 inputs.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmark.multilabel.blocks import Bottleneck, resnet_stage, vgg_convs

N_CLASSES = 19  # BigEarthNet's 19-class nomenclature

# Bottleneck blocks per stage.
RESNET_LAYERS: dict[str, tuple[int, int, int, int]] = {
    "resnet50": (3, 4, 6, 3),
    "resnet101": (3, 4, 23, 3),
    "resnet152": (3, 8, 36, 3),
}
VGG_CONFIG: dict[str, str] = {"vgg16": "D", "vgg19": "E"}
VGG_INITS: tuple[str, ...] = ("slim", "torchvision")

NETS: tuple[str, ...] = (*RESNET_LAYERS, *VGG_CONFIG)


class MultiLabelNet(nn.Module):
    """A network of the benchmark: ``features`` (B, D) then a classifier to (B, n_classes).

    Args:
        name: One of ``NETS``.
        in_channels: Bands of the input patches.
        n_classes: Outputs (logits) of the classifier.
        feature_dim: D, the width of ``features``.
    """

    def __init__(self, name: str, in_channels: int, n_classes: int, feature_dim: int) -> None:
        super().__init__()
        self.name = name
        self.in_channels = in_channels
        self.n_classes = n_classes
        self.feature_dim = feature_dim

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) → (B, feature_dim), the layer before the classifier."""
        raise NotImplementedError

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """(B, feature_dim) → (B, n_classes) logits."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) → (B, n_classes) logits (no sigmoid)."""
        return self.classify(self.features(x))


class ResNet(MultiLabelNet):
    """ResNet v1.5 with bottleneck blocks, as torchvision's ``resnet50/101/152``.

    Args:
        name: "resnet50", "resnet101" or "resnet152".
        in_channels: Bands of the input patches.
        n_classes: Outputs of the last (fully connected) layer.
        zero_init_residual: Start the last batch norm of each block at zero, so every block
            begins as the identity (torchvision's option; off by default, as there).
    """

    def __init__(
        self, name: str, in_channels: int, n_classes: int = N_CLASSES,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__(name, in_channels, n_classes, 512 * Bottleneck.expansion)
        layers = RESNET_LAYERS[name]
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = resnet_stage(64, 64, layers[0], stride=1)
        self.layer2 = resnet_stage(256, 128, layers[1], stride=2)
        self.layer3 = resnet_stage(512, 256, layers[2], stride=2)
        self.layer4 = resnet_stage(1024, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(self.feature_dim, n_classes)  # PyTorch's default init, as torchvision

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.constant_(m.bn3.weight, 0)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) → (B, 2048), the globally average-pooled last stage."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """(B, 2048) → (B, n_classes) logits."""
        out: torch.Tensor = self.fc(features)
        return out


class VGG(MultiLabelNet):
    """VGG16 (configuration "D") or VGG19 ("E") without batch norm, as torchvision's.

    ``classifier`` is torchvision's, indices included: Linear(25088, 4096), ReLU, Dropout,
    Linear(4096, 4096), ReLU, Dropout, Linear(4096, n_classes). ``features`` stops after the
    second ReLU (index 4); the convolution stack, torchvision's ``features``, is ``convs``.

    Args:
        name: "vgg16" or "vgg19".
        in_channels: Bands of the input patches.
        n_classes: Outputs of the last linear layer.
        dropout: Dropout probability of the classifier (torchvision's 0.5).
        init: "slim" (Glorot-uniform, zero biases: the paper's TF-Slim code) or
            "torchvision" (Kaiming-normal convolutions, N(0, 0.01) linear layers).
    """

    def __init__(
        self, name: str, in_channels: int, n_classes: int = N_CLASSES, dropout: float = 0.5,
        init: str = "slim",
    ) -> None:
        if init not in VGG_INITS:
            raise ValueError(f"{name}: unknown init {init!r} (choose from {', '.join(VGG_INITS)})")
        super().__init__(name, in_channels, n_classes, 4096)
        self.convs = vgg_convs(VGG_CONFIG[name], in_channels)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, n_classes),
        )
        for m in self.modules():
            if not isinstance(m, nn.Conv2d | nn.Linear):
                continue
            if init == "slim":
                nn.init.xavier_uniform_(m.weight)
            elif isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            else:
                nn.init.normal_(m.weight, 0, 0.01)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) → (B, 4096), the second fully connected layer after ReLU."""
        x = torch.flatten(self.avgpool(self.convs(x)), 1)
        out: torch.Tensor = self.classifier[:5](x)
        return out

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """(B, 4096) → (B, n_classes) logits (dropout, then the last linear layer)."""
        out: torch.Tensor = self.classifier[5:](features)
        return out


def build_net(
    name: str, in_channels: int, n_classes: int = N_CLASSES, *, zero_init_residual: bool = False,
    vgg_init: str = "slim",
) -> MultiLabelNet:
    """A fresh, randomly initialised network.

    Args:
        name: One of ``NETS``: resnet50, resnet101, resnet152, vgg16, vgg19.
        in_channels: Bands of the input (2: S1 VV, VH; 10: S2; 12: S1+S2).
        n_classes: Outputs (19 for BigEarthNet).
        zero_init_residual: ResNets only: start each block as the identity.
        vgg_init: VGGs only: "slim" (the paper's code) or "torchvision" (see :class:`VGG`).

    Returns:
        The network, in training mode.

    Raises:
        ValueError: An unknown name, a non-positive size, or ``zero_init_residual`` for VGG.
    """
    if in_channels < 1 or n_classes < 1:
        raise ValueError(f"{name}: in_channels and n_classes must be ≥ 1, got "
                         f"{in_channels} and {n_classes}")
    if name in RESNET_LAYERS:
        return ResNet(name, in_channels, n_classes, zero_init_residual)
    if name in VGG_CONFIG:
        if zero_init_residual:
            raise ValueError(f"{name} has no residual blocks (zero_init_residual)")
        return VGG(name, in_channels, n_classes, init=vgg_init)
    raise ValueError(f"unknown network {name!r} (choose from {', '.join(NETS)})")

