"""What the benchmark asks of a classifier, in a module that imports nothing of the benchmark
but its parameter classes.

The registry, every model module and the training loop need these types. Keeping them in a
leaf (no registry, no torch, no resume) is what lets each of those import them without an
import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from benchmark.params import TrainParams

# The inputs ``benchmark.inputs.model_input`` can cut; a model names one in the registry.
INPUT_KINDS: tuple[str, ...] = ("pixel", "annual_crop", "monthly_crop",
                                 "patch")  # patch: a BigEarthNet S1/S2 patch (multilabel)
TASKS: tuple[str, ...] = ("sen4map", "multilabel")

P = TypeVar("P")


class Inputs(Protocol):
    """An array of model inputs, or anything indexable like one (``inputs.LazyInputs``).

    The EU's inputs do not fit in memory, so models must only index them by batches.
    """

    def __len__(self) -> int: ...

    def __getitem__(self, rows: Any) -> np.ndarray: ...


class Classifier(Protocol):
    """Fit on (inputs, class indices); predict class probabilities (n, n_classes).

    Probabilities, not labels, because the report scores mean predictive entropy.
    """

    def fit(
        self, x_train: Inputs, y_train: np.ndarray, x_val: Inputs, y_val: np.ndarray
    ) -> dict[str, Any]:
        """Train; the returned log ends up in ``metrics.json`` under ``training``."""
        ...

    def predict_proba(self, x: Inputs) -> np.ndarray:
        """(len(x), n_classes) probabilities; rows sum to 1."""
        ...


# A classifier may also have ``predict_window(x) -> (len(x), 9, n_classes)``, where ``x[rows]``
# is (n, 9, …), the inputs at the 3×3 window's shifts: the benchmark then scores the window in
# one pass (``benchmark.run``); without it, ``predict_proba`` is called once per shift.


class TrainingStore(Protocol):
    """Where a model keeps its training state between epochs (``resume.Checkpoint``).

    Typed here rather than imported from ``benchmark.resume`` so the models and the training
    loop never import the resume machinery, which imports the registry.
    """

    def load(self) -> dict[str, Any] | None:
        """The state saved by an earlier run of the same model, data and settings, or None."""
        ...

    def save(self, state: dict[str, Any]) -> None:
        """Keep ``state`` safely on disk (replacing the previous one)."""
        ...


@dataclass(frozen=True)
class BuildRequest(Generic[P]):
    """Everything a builder gets: one object, so adding a field never breaks a builder."""

    params: P  # the model's own parameter class (the registry checks it)
    train: TrainParams
    n_bands: int
    n_classes: int
    checkpoint: TrainingStore | None = None  # None: train from scratch, save nothing
