"""The benchmark's classifiers behind one small interface.

The submodules import scikit-learn or torch at import time, so this package's ``__init__``
imports none of them: ``build`` loads only the module of the model asked for.
"""

from __future__ import annotations

from typing import Any

from benchmark.models.protocols import Classifier, Inputs, TrainingStore
from benchmark.params import ModelParams, TrainParams

__all__ = ["Classifier", "Inputs", "build"]


def build(
    name: str, params: ModelParams, train: TrainParams, n_bands: int, n_classes: int,
    checkpoint: TrainingStore | None = None,
) -> Classifier:
    """A fresh, untrained classifier ``name`` (rf, transformer, vit, vivit).

    A network saves its training state to ``checkpoint`` after every epoch and continues
    from it when it matches (``benchmark.resume``); the forest, minutes to train, has none.
    """
    from benchmark import deps
    from benchmark.params import (
        PixelTransformerParams,
        RFParams,
        ViTParams,
        ViViTParams,
    )

    if name == "rf":
        deps.require("sklearn")
        from benchmark.models.rf import RandomForest

        _expect(name, params, RFParams)
        assert isinstance(params, RFParams)  # for the type checker
        return RandomForest(params, n_classes=n_classes, seed=train.seed)
    deps.require("torch")
    from benchmark.train import TorchClassifier, seed_everything

    seed_everything(train.seed)  # weight initialisation is part of the run's determinism

    if name == "transformer":
        from benchmark.models.transformer import PixelTransformer

        _expect(name, params, PixelTransformerParams)
        assert isinstance(params, PixelTransformerParams)
        net: Any = PixelTransformer(params, n_bands=n_bands, n_classes=n_classes)
    elif name == "vit":
        from benchmark.models.vit import ViT

        _expect(name, params, ViTParams)
        assert isinstance(params, ViTParams)
        net = ViT(params, n_bands=n_bands, n_classes=n_classes)
    elif name == "vivit":
        from benchmark.models.vivit import ViViT

        _expect(name, params, ViViTParams)
        assert isinstance(params, ViViTParams)
        net = ViViT(params, n_bands=n_bands, n_classes=n_classes)
    else:
        raise ValueError(f"unknown model {name!r} (choose from rf, transformer, vit, vivit)")
    return TorchClassifier(
        net, lr=params.lr, train=train, n_classes=n_classes, checkpoint=checkpoint
    )


def _expect(name: str, params: object, cls: type) -> None:
    if not isinstance(params, cls):
        raise TypeError(f"model {name} needs {cls.__name__}, got {type(params).__name__}")
