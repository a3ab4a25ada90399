"""Every model trains one step and predicts class probabilities of the right shape."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmark import composites as comp
from benchmark.inputs import input_for_model
from benchmark.models.registry import default_params, get_model
from benchmark.params import (
    PixelTransformerParams,
    RFParams,
    TrainParams,
    ViTParams,
    ViViTParams,
)

N_CLASSES = 3
TINY = {
    "rf": RFParams(n_estimators=5, n_jobs=1),
    "transformer": PixelTransformerParams(embed_dim=16, hidden_dim=32, heads=2, layers=1),
    "vit": ViTParams(embed_dim=16, hidden_dim=32, heads=2, layers=1),
    "vivit": ViViTParams(embed_dim=16, hidden_dim=32, heads=2, spatial_layers=1,
                         temporal_layers=1),
}
ONE_STEP = TrainParams(epochs=1, batch_size=4, device="cpu", seed=0)


def _composites(n: int) -> comp.Composites:
    rng = np.random.default_rng(0)
    shape = (n, 12, comp.REGION_SIZE, comp.REGION_SIZE, len(comp.BANDS))
    monthly = rng.uniform(0, 5000, shape).astype(np.float32)
    return comp.Composites(monthly, np.zeros(shape[:-1], bool), monthly[:, 5],
                           np.zeros(shape[:-1], bool)[:, 0])


def _require(model: str) -> None:
    pytest.importorskip("sklearn" if model == "rf" else "torch")


@pytest.mark.parametrize("model", ["rf", "transformer", "vit", "vivit"])
def test_trains_one_step_and_predicts_shape(model: str) -> None:
    _require(model)
    data = _composites(4)
    x = input_for_model(model, data)
    y = np.array([0, 1, 2, 1])
    clf = get_model(model, TINY[model], ONE_STEP, n_bands=len(comp.BANDS), n_classes=N_CLASSES)
    log = clf.fit(x, y, x[:2], y[:2])
    proba = clf.predict_proba(x[:3])
    assert proba.shape == (3, N_CLASSES)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    if model != "rf":
        assert log["epochs_run"] == 1


def test_rf_spreads_probabilities_over_unseen_classes() -> None:
    _require("rf")
    data = _composites(4)
    x = input_for_model("rf", data)
    clf = get_model("rf", TINY["rf"], ONE_STEP, n_bands=10, n_classes=5)
    clf.fit(x, np.array([1, 1, 3, 3]), x[:0], np.array([], dtype=int))
    proba = clf.predict_proba(x)
    assert proba.shape == (4, 5) and not proba[:, [0, 2, 4]].any()


@pytest.mark.parametrize("model", ["transformer", "vit", "vivit"])
def test_paper_sized_networks_predict_shape(model: str) -> None:
    _require(model)
    x = input_for_model(model, _composites(2))
    clf = get_model(model, default_params()[model], ONE_STEP, n_bands=10, n_classes=9)
    assert clf.predict_proba(x).shape == (2, 9)


def test_training_is_deterministic() -> None:
    _require("transformer")
    data = _composites(4)
    x = input_for_model("transformer", data)
    y = np.array([0, 1, 2, 1])
    runs = []
    for _ in range(2):
        clf = get_model("transformer", TINY["transformer"], ONE_STEP, n_bands=10, n_classes=3)
        clf.fit(x, y, x, y)
        runs.append(clf.predict_proba(x))
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize("model", ["rf", "vivit"])
def test_window_in_one_pass_equals_nine_passes(model: str) -> None:
    _require(model)
    from benchmark.inputs import WINDOW_SHIFTS, LazyInputs, WindowInputs
    from benchmark.pool import PooledComposites

    data = PooledComposites([_composites(6)])
    index = np.arange(6)
    y = np.array([0, 1, 2, 1, 0, 2])
    clf = get_model(model, TINY[model], ONE_STEP, n_bands=len(comp.BANDS), n_classes=N_CLASSES)
    clf.fit(LazyInputs(model, data, index), y, LazyInputs(model, data, index[:2]), y[:2])
    window = clf.predict_window(WindowInputs(model, data, index))  # type: ignore[attr-defined]
    assert window.shape == (6, 9, N_CLASSES)
    for k, shift in enumerate(WINDOW_SHIFTS):
        np.testing.assert_allclose(
            window[:, k], clf.predict_proba(LazyInputs(model, data, index, shift)), rtol=1e-5,
            atol=1e-6)


def test_the_data_loader_changes_speed_never_the_weights() -> None:
    """Batches gathered in the main process, by the DataLoader, or by a worker process: the
    same trained network (seeded dropout, batch order drawn in the main process)."""
    _require("transformer")
    from benchmark.inputs import LazyInputs
    from benchmark.pool import PooledComposites

    data = PooledComposites([_composites(24)])
    index = np.arange(24)
    y = np.arange(24) % N_CLASSES
    results = []
    for use_loader, workers in ((False, 0), (True, 0), (True, 1)):
        train = TrainParams(epochs=2, batch_size=8, device="cpu", seed=0, workers=workers)
        clf = get_model("transformer", TINY["transformer"], train, n_bands=len(comp.BANDS),
                        n_classes=N_CLASSES)
        clf.use_loader = use_loader  # type: ignore[attr-defined]
        log = clf.fit(LazyInputs("transformer", data, index), y,
                      LazyInputs("transformer", data, index[:8]), y[:8])
        assert log["precision"] == "fp32" and log["workers"] == workers
        results.append(clf.predict_proba(LazyInputs("transformer", data, index)))
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])


def test_data_loader_workers_persist_across_epochs_and_end_with_the_training(
        tmp_path: Path) -> None:
    """Three epochs with one worker: the training points are gathered by one process and
    the validation points by another for the whole training (not a new process per pass),
    and no worker outlives ``fit``."""
    _require("transformer")
    import multiprocessing
    import os

    from benchmark.inputs import LazyInputs
    from benchmark.pool import PooledComposites

    class RecordingInputs(LazyInputs):
        def __getitem__(self, rows: np.ndarray | slice) -> np.ndarray:
            with open(tmp_path / f"{self.shift}-{len(self)}.pids", "a") as f:
                f.write(f"{os.getpid()}\n")
            return super().__getitem__(rows)

    data = PooledComposites([_composites(24)])
    index = np.arange(24)
    y = np.arange(24) % N_CLASSES
    train = TrainParams(epochs=3, patience=10, batch_size=8, device="cpu", seed=0, workers=1)
    clf = get_model("transformer", TINY["transformer"], train, n_bands=len(comp.BANDS),
                    n_classes=N_CLASSES)
    log = clf.fit(RecordingInputs("transformer", data, index), y,
                  RecordingInputs("transformer", data, index[:8]), y[:8])
    assert log["epochs_run"] == 3
    train_pids = (tmp_path / "(0, 0)-24.pids").read_text().split()
    val_pids = (tmp_path / "(0, 0)-8.pids").read_text().split()
    assert len(train_pids) == 3 * 3 and len(val_pids) == 3  # 3 batches × 3 epochs; 1 × 3
    assert len(set(train_pids)) == 1 and len(set(val_pids)) == 1
    assert set(train_pids) != set(val_pids) and str(os.getpid()) not in train_pids + val_pids
    assert multiprocessing.active_children() == []


def test_window_prediction_batches_hold_batch_size_inputs() -> None:
    """A 3×3-window batch holds batch_size // 9 points: each forward call sees at most
    batch_size inputs, as in training."""
    _require("transformer")
    from benchmark.inputs import WindowInputs
    from benchmark.pool import PooledComposites

    data = PooledComposites([_composites(10)])
    train = TrainParams(epochs=1, batch_size=18, device="cpu", seed=0, workers=0)
    clf = get_model("transformer", TINY["transformer"], train, n_bands=len(comp.BANDS),
                    n_classes=N_CLASSES)
    seen: list[int] = []
    net = clf.net  # type: ignore[attr-defined]
    net.register_forward_hook(lambda _m, args, _out: seen.append(len(args[0])))
    window = clf.predict_window(WindowInputs("transformer", data, np.arange(10)))  # type: ignore[attr-defined]
    assert window.shape == (10, 9, N_CLASSES)
    assert seen == [18, 18, 18, 18, 18]  # 2 points × 9 shifts, five times


def test_learning_rate_follows_the_batch_size() -> None:
    assert TrainParams(batch_size=256).learning_rate(3e-4) == pytest.approx(6e-4)  # √4
    assert TrainParams(batch_size=256, lr_scaling="linear").learning_rate(3e-4) == \
        pytest.approx(1.2e-3)
    assert TrainParams(batch_size=16, lr_scaling="none").learning_rate(3e-5) == 3e-5
