"""The benchmark stage end to end: data → each model (train, predict the 3×3 window) →
scores and error analysis → report folder.

A model that fails is recorded in ``metrics.json`` with its error and the others still run
(a failed unit is reported, never a crash of the whole run).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmark import error_analysis, metrics
from benchmark.composites import BANDS
from benchmark.config import BenchmarkConfig
from benchmark.dataset import BenchmarkData, load
from benchmark.inputs import CENTER_SHIFT, WINDOW_SHIFTS, LazyInputs, WindowInputs
from benchmark.legend_apply import LegendLike
from benchmark.legend_apply import load as load_legend
from benchmark.models.registry import check_extras, get_model
from benchmark.progress import training as training_of
from benchmark.resume import Checkpoint, ModelResults, fingerprint, remove_leftovers
from benchmark.versions import versions
from lucas.safe_files import OutputLock

log = logging.getLogger(__name__)

ProgressFn = Callable[[str], None]


def evaluate_model(
    name: str, cfg: BenchmarkConfig, data: BenchmarkData, checkpoint: Checkpoint | None = None
) -> dict[str, Any]:
    """Train ``name`` on the train part, early-stop on val, score on test (center + window)."""
    train_idx, val_idx, test_idx = (data.index(p) for p in ("train", "val", "test"))
    if len(train_idx) == 0 or len(test_idx) == 0:
        raise ValueError(
            f"{len(train_idx)} training and {len(test_idx)} test points: nothing to benchmark"
        )
    started = time.perf_counter()
    model = get_model(
        name, cfg.params[name], cfg.train, n_bands=len(BANDS), n_classes=len(data.classes),
        checkpoint=checkpoint,
    )
    with training_of(name):
        training = model.fit(
            LazyInputs(name, data.composites, train_idx), data.y[train_idx],
            LazyInputs(name, data.composites, val_idx), data.y[val_idx],
        )
    train_seconds = time.perf_counter() - started
    window_proba = predict_window(model, name, data, test_idx)
    y_test = data.y[test_idx]
    result = metrics.score(y_test, window_proba, data.classes)
    center_pred = window_proba[:, CENTER_SHIFT].argmax(axis=1)
    result["errors"] = error_analysis.breakdown(
        y_test, center_pred, data.classes,
        data.column("lc1")[test_idx], data.column("lu1")[test_idx],
    )
    result["training"] = training | {"seconds": round(train_seconds, 2),
                                     "n_train": len(train_idx), "n_val": len(val_idx)}
    predict_seconds = time.perf_counter() - started - train_seconds
    result["predict_seconds"] = round(predict_seconds, 2)
    result["predict_points_per_s"] = (
        round(len(test_idx) / predict_seconds, 1) if predict_seconds > 0 else None)
    return result


def predict_window(model: Any, name: str, data: BenchmarkData, index: np.ndarray) -> np.ndarray:
    """(n, 9, classes): one pass over the 9 shifted inputs when the model can, else 9."""
    if hasattr(model, "predict_window"):
        return np.asarray(model.predict_window(WindowInputs(name, data.composites, index)))
    return np.stack([model.predict_proba(LazyInputs(name, data.composites, index, shift))
                     for shift in WINDOW_SHIFTS], axis=1)


def run(
    cfg: BenchmarkConfig,
    legend: LegendLike | None = None,
    progress: ProgressFn | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Run the benchmark and write the report folder; returns the ``metrics.json`` content.

    ``legend`` overrides ``cfg.legend`` (tests, callers with their own legend object).
    Models finished by an earlier run with the same fingerprint are reused and interrupted
    trainings continue from their last epoch (``benchmark.resume``) unless ``force``.
    """
    with OutputLock(cfg.out_dir):
        return _run_locked(cfg, legend, progress or _log_progress, force)


def _log_progress(message: str) -> None:
    log.info("%s", message)


def _run_locked(
    cfg: BenchmarkConfig, legend: LegendLike | None, say: ProgressFn, force: bool
) -> dict[str, Any]:
    check_extras(cfg.models)
    legend_obj = legend if legend is not None else load_legend(cfg.legend)
    say("reading composites")
    data = load(cfg, legend_obj)
    store = ModelResults(cfg.out_dir)
    remove_leftovers(cfg.out_dir)  # temp files of a run killed while writing
    results: dict[str, Any] = {}
    for name in cfg.models:
        stamp = fingerprint(name, cfg, data)
        checkpoint = Checkpoint.of(cfg.out_dir, name, stamp)
        if force:
            store.forget(name)
            checkpoint.remove()
        previous = store.load(name, stamp)
        if previous is not None:
            say(f"model {name}: finished by an earlier run with the same data and settings, "
                "reused (--force retrains)")
            results[name] = previous | {"reused": True}
            continue
        say(f"model {name}")
        try:
            results[name] = evaluate_model(name, cfg, data, checkpoint)
        except Exception as e:  # one model's failure must not lose the others' results
            log.exception("model %s failed", name)
            results[name] = {"error": f"{type(e).__name__}: {e}"}
            continue
        store.save(name, stamp, results[name])
    report_data = {
        "config": cfg.to_json(),
        "seed": cfg.seed,
        "versions": versions(),
        "classes": list(data.classes),
        "legend_name": str(getattr(legend_obj, "name", cfg.legend)),
        "data": data.summary,
        "models": results,
        "failed": [m for m, r in results.items() if "error" in r],
    }
    from benchmark.report import write_report

    write_report(cfg.out_dir, report_data)
    say(f"report written to {cfg.out_dir}")
    return report_data
