"""Per-epoch training progress, told to whoever listens (the CLI's progress bars).

Why a hook and not a parameter: the training loops (``benchmark/train.py``,
``benchmark/multilabel/train.py``) end each epoch with one :func:`epoch_done` call, and the
run loops name the model being trained with :func:`training`; nothing else in between
needs to carry a callback. Without a listener (the library, the tests) nothing happens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class EpochEnd:
    """One finished epoch of one model."""

    model: str
    epoch: int  # from 1
    epochs: int  # the most the training may run (early stopping may end it sooner)
    train_loss: float
    val_loss: float


EpochListener = Callable[[EpochEnd], None]

_listener: EpochListener | None = None
_model = ""


@contextmanager
def listening(listener: EpochListener) -> Iterator[None]:
    """Send every :class:`EpochEnd` of the block to ``listener``."""
    global _listener
    previous, _listener = _listener, listener
    try:
        yield
    finally:
        _listener = previous


@contextmanager
def training(model: str) -> Iterator[None]:
    """The epochs of the block belong to ``model``."""
    global _model
    previous, _model = _model, model
    try:
        yield
    finally:
        _model = previous


def epoch_done(epoch: int, epochs: int, train_loss: float, val_loss: float) -> None:
    """Called by a training loop at the end of each epoch."""
    if _listener is not None:
        _listener(EpochEnd(_model, epoch, epochs, train_loss, val_loss))
