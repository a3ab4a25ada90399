"""The multi-label models behind the registry: the paper's networks and the forest.

Each registry entry names a parameter class here (the architecture is a parameter, so one
builder serves the five networks) and :func:`build`. A model exposes ``fit`` (train split,
validation split) and ``scores_and_features`` (sigmoid scores per class, and the features
retrieval compares: the layer before the classifier, or the forest's band statistics).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.multilabel.forest import ForestParams, band_statistics, fit_forest, forest_scores
from benchmark.multilabel.train import MultiLabelTrain, pick_device, predict, train_net


@dataclass(frozen=True)
class NetParams:
    """A network trained from scratch (the paper's setting; no downloaded weights)."""

    arch: str = "resnet50"


@dataclass(frozen=True)
class ResNet50(NetParams):
    arch: str = "resnet50"


@dataclass(frozen=True)
class ResNet101(NetParams):
    arch: str = "resnet101"


@dataclass(frozen=True)
class ResNet152(NetParams):
    arch: str = "resnet152"


@dataclass(frozen=True)
class VGG16(NetParams):
    arch: str = "vgg16"


@dataclass(frozen=True)
class VGG19(NetParams):
    arch: str = "vgg19"


class NetModel:
    """A network of :mod:`benchmark.multilabel.nets` with its training settings."""

    def __init__(self, params: NetParams, in_channels: int, n_classes: int,
                 train: MultiLabelTrain) -> None:
        from benchmark.multilabel.nets import build_net

        self.net = build_net(params.arch, in_channels, n_classes, vgg_init=train.vgg_init)
        self.train = train
        self.history: list[dict[str, float]] = []

    def fit(self, train_ds: Any, val_ds: Any, checkpoint: Path, fingerprint: str,
            progress: Any = None) -> None:
        self.net, self.history = train_net(self.net, train_ds, val_ds, self.train, checkpoint,
                                           fingerprint, progress)

    def scores_and_features(self, ds: Any) -> tuple[np.ndarray, np.ndarray]:
        return predict(self.net, ds, self.train.batch_size, pick_device(self.train.device),
                       self.train.workers)


class ForestModel:
    """One-vs-rest random forest on per-band patch statistics (the CPU baseline)."""

    def __init__(self, params: ForestParams, train: MultiLabelTrain) -> None:
        self.params = params
        self.train = train
        self.model: Any = None
        self.history: list[dict[str, float]] = []

    def fit(self, train_ds: Any, val_ds: Any, checkpoint: Path, fingerprint: str,
            progress: Any = None) -> None:
        x, y = _arrays(train_ds)
        self.model = fit_forest(band_statistics(x), y, self.params, self.train.seed)

    def scores_and_features(self, ds: Any) -> tuple[np.ndarray, np.ndarray]:
        x, _ = _arrays(ds)
        features = band_statistics(x)
        return forest_scores(self.model, features), features


def build(params: Any, in_channels: int, n_classes: int, train: MultiLabelTrain) -> Any:
    """The model of ``params`` (a network's architecture, or the forest's settings)."""
    if isinstance(params, ForestParams):
        return ForestModel(params, train)
    return NetModel(params, in_channels, n_classes, train)


def _arrays(ds: Any) -> tuple[np.ndarray, np.ndarray]:
    """A dataset's (x, y) stacked (the forest works on statistics: small per patch)."""
    xs, ys = zip(*(ds[i] for i in range(len(ds))), strict=True)
    return (np.stack([np.asarray(x) for x in xs]), np.stack([np.asarray(y) for y in ys]))
