"""Model and training hyper-parameters: the paper's Appendix values as defaults.

Plain frozen dataclasses with no torch import, so the config can be built, validated and
written to ``metrics.json`` before (and without) loading the heavy libraries. Override any
field with ``dataclasses.replace`` or by passing an instance in ``BenchmarkConfig.params``.
Which class belongs to which model is said once, in ``benchmark.models.registry``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RFParams:
    """Random forest: 400 trees, gini, grown until pure, sqrt features."""

    n_estimators: int = 400
    criterion: str = "gini"
    max_depth: int | None = None  # grown until leaves are pure
    max_features: str = "sqrt"
    n_jobs: int | None = -1


@dataclass(frozen=True)
class PixelTransformerParams:
    """Transformer over the 12 monthly tokens of the center pixel."""

    embed_dim: int = 128
    hidden_dim: int = 256
    heads: int = 4
    layers: int = 3
    dropout: float = 0.2
    lr: float = 3e-4


@dataclass(frozen=True)
class ViTParams:
    """ViT on the 15×15 annual composite, 3×3 patches (25 tokens)."""

    patch: int = 3
    embed_dim: int = 256
    hidden_dim: int = 512
    heads: int = 8
    layers: int = 6
    dropout: float = 0.2
    lr: float = 3e-4


@dataclass(frozen=True)
class ViViTParams:
    """ViViT factorised encoder on 12 monthly 15×15 frames, 3×3×3 tubelets."""

    patch: int = 3
    tubelet: int = 3
    embed_dim: int = 256
    hidden_dim: int = 512
    heads: int = 8
    spatial_layers: int = 3
    temporal_layers: int = 3
    dropout: float = 0.2  # the paper lists none for ViViT; the other models' value
    lr: float = 3e-5


@dataclass(frozen=True)
class TrainParams:
    """How the neural models are trained (shared by the three of them)."""

    epochs: int = 100
    batch_size: int = 64
    patience: int = 10  # early stopping: epochs without a better validation loss
    device: str = "auto"  # "auto" = a GPU when one is present, else the CPU
    seed: int = 42
    weight_decay: float = 0.0

