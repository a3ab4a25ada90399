"""Training a multi-label network: sigmoid cross-entropy, Adam, early stopping, resume.

The paper's settings are the defaults (Adam at 1e-3, 100 epochs, sigmoid cross-entropy);
training stops when the validation loss has not improved for ``patience`` epochs and the
best epoch's weights are kept. The whole training state is saved after every epoch (temp
file + rename), stamped with a fingerprint, so a stopped run continues after its last
finished epoch and a changed setting starts afresh.

On a GPU (the rules of ``benchmark.accel``, shared with the Sen4Map networks): batches come
from a DataLoader with ``workers`` processes and pinned memory, copied without blocking, and
the forward pass runs under bf16 autocast (the loss in FP32, as autocast does for
``BCEWithLogitsLoss``); on the CPU everything stays FP32. ``workers`` changes speed, not
results, so it is not part of the fingerprint (:func:`fingerprint_params`); the device is
(bf16 on a GPU trains other weights).
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.progress import epoch_done

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MultiLabelTrain:
    """Training settings (the paper's as defaults; epochs and batch size are flags)."""

    epochs: int = 100
    batch_size: int = 64
    learning_rate: float = 1e-3
    patience: int = 10
    device: str = "auto"
    seed: int = 42
    workers: int | None = None  # DataLoader processes; None: 4 on a GPU, 0 on the CPU
    vgg_init: str = "slim"  # VGGs' initial weights: the paper's TF-Slim, or torchvision's


def pick_device(name: str) -> Any:
    """``auto``: the first GPU when torch sees one, else the CPU; a bad name is a ConfigError."""
    from benchmark.accel import resolve_device

    return resolve_device(name)


def batches(ds: Any, batch_size: int, device: Any, workers: int | None = 0,
            shuffle: bool = False, generator: Any = None) -> Any:
    """A DataLoader over ``ds`` by the shared GPU rules (``benchmark.accel.loader``)."""
    from benchmark.accel import loader, resolve_workers

    return loader(ds, batch_size, device, resolve_workers(workers, device), shuffle=shuffle,
                  generator=generator)


def autocast(device: Any) -> Any:
    """bf16 autocast on CUDA, FP32 on the CPU (``benchmark.accel.autocast``)."""
    from benchmark.accel import autocast as shared_autocast

    return shared_autocast(device)


def train_net(
    net: Any, train_ds: Any, val_ds: Any, params: MultiLabelTrain, checkpoint: Path,
    fingerprint: str, progress: Any = None,
) -> tuple[Any, list[dict[str, float]]]:
    """Train ``net`` (a torch module with ``forward`` → logits); returns it with the best
    validation epoch's weights, and the per-epoch history."""
    import torch

    device = pick_device(params.device)
    torch.manual_seed(params.seed)
    net = net.to(device)
    optimiser = torch.optim.Adam(net.parameters(), lr=params.learning_rate)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    state = _load(checkpoint, fingerprint)
    history: list[dict[str, float]] = []
    best = float("inf")
    best_weights = None
    start, waited = 0, 0
    if state is not None:
        net.load_state_dict(state["net"])
        optimiser.load_state_dict(state["optimiser"])
        history, best, waited = state["history"], state["best"], state["waited"]
        best_weights, start = state["best_weights"], state["epoch"] + 1
        torch.set_rng_state(state["rng"])
        log.info("resuming after epoch %d", state["epoch"] + 1)
    generator = torch.Generator().manual_seed(params.seed)
    for epoch in range(start, params.epochs):
        generator.manual_seed(params.seed + epoch)  # the same batches after a resume
        loader = batches(train_ds, params.batch_size, device, params.workers, shuffle=True,
                         generator=generator)
        net.train()
        total, count = 0.0, 0
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            optimiser.zero_grad()
            with autocast(device):
                loss = loss_fn(net(x), y)
            loss.backward()
            optimiser.step()
            total += loss.item() * len(x)
            count += len(x)
        val_loss = evaluate_loss(net, val_ds, params.batch_size, device, params.workers)
        history.append({"epoch": epoch + 1, "train_loss": total / max(count, 1),
                        "val_loss": val_loss})
        if val_loss < best:
            best, waited = val_loss, 0
            best_weights = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        else:
            waited += 1
        _save(checkpoint, fingerprint, {
            "epoch": epoch, "net": net.state_dict(), "optimiser": optimiser.state_dict(),
            "history": history, "best": best, "waited": waited, "best_weights": best_weights,
            "rng": torch.get_rng_state()})
        epoch_done(epoch + 1, params.epochs, history[-1]["train_loss"], val_loss)
        if progress is not None:
            progress(f"epoch {epoch + 1}: train loss {history[-1]['train_loss']:.4f}, "
                     f"validation loss {val_loss:.4f}")
        if waited >= params.patience:
            log.info("early stop after epoch %d (best validation loss %.4f)", epoch + 1, best)
            break
    if best_weights is not None:
        net.load_state_dict(best_weights)
    return net, history


def evaluate_loss(net: Any, ds: Any, batch_size: int, device: Any,
                  workers: int | None = 0) -> float:
    """Mean sigmoid cross-entropy of ``net`` on ``ds``."""
    import torch

    device = torch.device(device)
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="sum")
    net.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for x, y in batches(ds, batch_size, device, workers):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with autocast(device):
                logits = net(x)
            total += float(loss_fn(logits.float(), y))
            count += y.numel()
    return total / max(count, 1)


def predict(net: Any, ds: Any, batch_size: int, device: Any,
            workers: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """(sigmoid scores (n, C), features (n, D): the layer before the classifier), FP32."""
    import torch

    device = torch.device(device)
    net.eval()
    scores, feats = [], []
    with torch.no_grad():
        for x, _ in batches(ds, batch_size, device, workers):
            with autocast(device):
                f = net.features(x.to(device, non_blocking=True))
                logits = net.classify(f)
            scores.append(torch.sigmoid(logits.float()).cpu().numpy())
            feats.append(f.float().cpu().numpy())
    return np.concatenate(scores), np.concatenate(feats)


def _load(path: Path, fingerprint: str) -> dict[str, Any] | None:
    import torch

    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # a damaged checkpoint: start again, say so
        log.warning("checkpoint %s unreadable (%s): training from scratch", path, e)
        return None
    return state["state"] if state.get("fingerprint") == fingerprint else None


def _save(path: Path, fingerprint: str, state: dict[str, Any]) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save({"fingerprint": fingerprint, "state": state}, tmp)
    os.replace(tmp, path)


def params_dict(params: MultiLabelTrain) -> dict[str, Any]:
    """The settings as the report records them."""
    return asdict(params)


def fingerprint_params(params: MultiLabelTrain) -> dict[str, Any]:
    """The settings that change the trained weights (all but ``workers``)."""
    kept = asdict(params)
    del kept["workers"]
    return kept
