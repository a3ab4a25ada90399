"""The one model registry: name → parameter class, input kind and builder.

Everything else that depends on the set of models derives from it: the inputs a model gets
(``benchmark.inputs``), its default hyper-parameters and the validation of
``BenchmarkConfig``, the ``--models`` help of ``etl benchmark``, the extras checked before a
run and what the resume fingerprint hashes. Adding a classifier is one module and one line
in ``_BUILTIN`` (or one ``register`` call from a plug-in or a test).

Importing this module loads neither torch nor scikit-learn: builders (and, optionally,
parameter classes) are named as ``"module:attribute"`` and imported on first use, and no
model module imports this one back.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from benchmark import deps
from benchmark.models.protocols import (
    INPUT_KINDS,
    TASKS,
    BuildRequest,
    Classifier,
    TrainingStore,
)
from benchmark.params import (
    PixelTransformerParams,
    RFParams,
    TrainParams,
    ViTParams,
    ViViTParams,
)

Builder = Callable[[BuildRequest[Any]], Classifier]


def _resolve(ref: Any, what: str) -> Any:
    """A ``"module:attribute"`` reference imported, anything else returned as it is."""
    if not isinstance(ref, str):
        return ref
    module, _, attribute = ref.partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except ImportError as e:
        raise deps.MissingExtraError(f"{what} {ref}: {e}; {deps.INSTALL_HINT}") from e


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry.

    ``params`` is a frozen dataclass whose defaults are the model's defaults, or its
    ``"module:Class"`` when it lives in the model's own module (imported when the defaults
    are first needed). ``epoch_training`` False means the model ignores ``TrainParams`` but
    its seed, so changing ``--epochs`` reuses its finished result.
    """

    name: str
    params: type[Any] | str
    input_kind: str  # one of protocols.INPUT_KINDS
    builder: Builder | str  # a callable or its "module:function"
    requires: tuple[str, ...] = ()  # modules of the [benchmark] extra it needs
    epoch_training: bool = True
    task: str = "sen4map"  # which benchmark it serves (protocols.TASKS)

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.strip().lower() or "," in self.name:
            raise ValueError(f"model name {self.name!r}: use a lower-case word without commas")
        if self.task not in TASKS:
            raise ValueError(f"model {self.name}: task {self.task!r} is not one of "
                             f"{', '.join(TASKS)}")
        if self.input_kind not in INPUT_KINDS:
            raise ValueError(
                f"model {self.name}: input kind {self.input_kind!r} is not one of "
                f"{', '.join(INPUT_KINDS)}"
            )

    @property
    def params_class(self) -> type[Any]:
        """The parameter class, imported if it was named by string."""
        cls: type[Any] = _resolve(self.params, f"model {self.name}: parameters")
        return cls

    def default_params(self) -> Any:
        """The paper's (or the model author's) hyper-parameters."""
        return self.params_class()


_BUILTIN = (
    ModelSpec("rf", RFParams, "pixel", "benchmark.models.rf:build", ("sklearn",), False),
    ModelSpec("transformer", PixelTransformerParams, "pixel",
              "benchmark.models.transformer:build", ("torch",)),
    ModelSpec("vit", ViTParams, "annual_crop", "benchmark.models.vit:build", ("torch",)),
    ModelSpec("vivit", ViViTParams, "monthly_crop", "benchmark.models.vivit:build", ("torch",)),
    # BigEarthNet-MM (--task multilabel): the paper's networks from scratch, the RF baseline.
    *(ModelSpec(name, f"benchmark.multilabel.models:{params}", "patch",
                "benchmark.multilabel.models:build", ("torch",), task="multilabel")
      for name, params in (("resnet50", "ResNet50"), ("resnet101", "ResNet101"),
                           ("resnet152", "ResNet152"), ("vgg16", "VGG16"), ("vgg19", "VGG19"))),
    ModelSpec("forest", "benchmark.multilabel.forest:ForestParams", "patch",
              "benchmark.multilabel.models:build", ("sklearn",), epoch_training=False,
              task="multilabel"),
)
_MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in _BUILTIN}


def register(spec: ModelSpec) -> ModelSpec:
    """Add a model; a name already taken is refused so a plug-in cannot shadow a paper model."""
    if spec.name in _MODELS:
        raise ValueError(f"model {spec.name!r} is already registered")
    _MODELS[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a registered model (plug-ins and tests that registered one clean up with it)."""
    _MODELS.pop(name, None)


def list_models(task: str = "sen4map") -> tuple[str, ...]:
    """Registered model names of a benchmark task, in registration order (the paper's
    first)."""
    return tuple(name for name, spec in _MODELS.items() if spec.task == task)


def model_spec(name: str) -> ModelSpec:
    """The entry of ``name``; unknown names get the list to choose from."""
    try:
        return _MODELS[name]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r} (choose from {', '.join(_MODELS)})"
        ) from None


def input_kind(name: str) -> str:
    """Which input ``benchmark.inputs`` cuts for model ``name``."""
    return model_spec(name).input_kind


def default_params(names: Iterable[str] | None = None) -> dict[str, Any]:
    """Default hyper-parameters of ``names`` (every registered model when None)."""
    chosen = list_models() if names is None else names
    return {name: model_spec(name).default_params() for name in chosen}


def check_extras(models: Iterable[str]) -> None:
    """Fail early, before any composite is computed, if a chosen model cannot run."""
    for name in models:
        for module in model_spec(name).requires:
            deps.require(module)


def get_model(
    name: str, params: Any, train: TrainParams, n_bands: int, n_classes: int,
    checkpoint: TrainingStore | None = None,
) -> Classifier:
    """A fresh, untrained classifier ``name``.

    A network saves its training state to ``checkpoint`` after every epoch and continues
    from it when it matches (``benchmark.resume``); models that train in one go ignore it.
    """
    spec = model_spec(name)
    cls = spec.params_class
    if not isinstance(params, cls):
        raise TypeError(f"model {name} needs {cls.__name__}, got {type(params).__name__}")
    check_extras([name])
    builder: Builder = _resolve(spec.builder, f"model {name}: builder")
    return builder(BuildRequest(params, train, n_bands, n_classes, checkpoint))
