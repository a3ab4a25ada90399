"""``etl benchmark --task multilabel``: train and score the BigEarthNet-MM models on a tree.

Load the tree (flagged and unlabeled patches left out, counted), normalise with statistics
of the training split, then for each model: train (networks: early stopping, per-epoch
checkpoints; the forest: one fit), score validation and test, tune per-class thresholds on
validation, report both thresholds, and retrieve test patches among training patches by the
model's features (χ² as the paper, and cosine). A finished model's result is kept with a
fingerprint of what it depends on, so a re-run trains only what is missing or changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.models.registry import list_models, model_spec
from benchmark.multilabel.metrics import (
    label_frequency_baseline,
    multilabel_report,
    tune_thresholds,
)
from benchmark.multilabel.report import write_report
from benchmark.multilabel.retrieval import retrieval_scores
from benchmark.multilabel.train import (
    MultiLabelTrain,
    fingerprint_params,
    params_dict,
    pick_device,
)
from benchmark.progress import training as training_of
from benchmark.versions import versions
from exports.clc.codes import BEN19_CLASSES
from lucas.errors import ConfigError
from lucas.safe_files import atomic_write_text

log = logging.getLogger(__name__)

TASK = "multilabel"
RETRIEVAL_K = (10, 100)
MAX_QUERIES = 2000  # test patches used as retrieval queries (χ² is quadratic)


@dataclass(frozen=True)
class MultiLabelConfig:
    """Everything the multi-label benchmark needs."""

    data: Path
    out: Path
    models: tuple[str, ...] = ("resnet50",)
    modality: str = "s1s2"
    train: MultiLabelTrain = field(default_factory=MultiLabelTrain)
    cache_dir: Path | None = None
    force: bool = False


def check_models(models: Sequence[str]) -> None:
    """Every model is a multi-label one (the Sen4Map models are a different task)."""
    known = list_models(TASK)
    bad = [m for m in models if m not in known]
    if bad:
        raise ConfigError(f"--models: {', '.join(bad)} not a --task multilabel model; choose "
                          f"from {', '.join(known)}")


def run_multilabel(cfg: MultiLabelConfig, progress: Callable[[str], None] | None = None
                   ) -> dict[str, Any]:
    """Train and score every model; the report folder is written at the end."""
    import benchmark.multilabel.data as ben

    say = progress or (lambda message: None)
    check_models(cfg.models)
    tree = ben.load_tree(cfg.data, cfg.modality, cfg.cache_dir)
    splits = {name: tree.split(name) for name in ("train", "validation", "test")}
    empty = [n for n, s in splits.items() if len(s) == 0]
    if empty:
        raise ConfigError(f"{cfg.data}: no {', '.join(empty)} patch in metadata.parquet's "
                          "split column (after leaving out flagged and unlabeled patches)")
    stats = ben.train_stats(tree, cfg.cache_dir)
    dataset = ben.PatchDataset
    sets = {name: dataset(tree, name, stats) for name in splits}
    y = {name: tree.targets[s.rows].astype(np.int64) for name, s in splits.items()}
    frequencies = label_frequency_baseline(y["train"], 1)
    baseline_thresholds = tune_thresholds(y["validation"],
                                          np.repeat(frequencies, len(y["validation"]), axis=0))
    baseline_scores = np.repeat(frequencies, len(y["test"]), axis=0)
    baseline = multilabel_report(y["test"], baseline_scores, 0.5, BEN19_CLASSES)
    baseline_tuned = multilabel_report(y["test"], baseline_scores, baseline_thresholds,
                                       BEN19_CLASSES)
    metrics: dict[str, Any] = {
        "task": TASK,
        "config": {"data": str(cfg.data), "modality": cfg.modality, "models": list(cfg.models),
                   "train": params_dict(cfg.train),
                   "device": str(pick_device(cfg.train.device)),
                   "precision": "bf16 autocast" if pick_device(cfg.train.device).type == "cuda"
                   else "fp32"},
        "versions": versions(),
        "data": {"patches": {n: len(s) for n, s in splits.items()},
                 "exclusions": dict(tree.exclusions), "channels": list(tree.channels),
                 "metadata_sha256": tree.metadata_sha256, "split_sha256": tree.split_sha256,
                 "normalisation": stats.to_dict(),
                 "cooccurrence": (y["train"].T @ y["train"]).tolist()},
        "baseline": {"name": "label frequencies of the training split",
                     "f2": baseline["f2"], "hamming_loss": baseline["hamming_loss"],
                     "f2_tuned": baseline_tuned["f2"]},
        "models": {},
    }
    failed = []
    for name in cfg.models:
        say(f"{name}: training on {len(splits['train']):,} patches")
        start = time.perf_counter()
        try:
            metrics["models"][name] = _model(cfg, name, tree, sets, y, say)
        except (RuntimeError, ValueError, MemoryError) as e:  # one model, not the run
            log.exception("model %s failed", name)
            metrics["models"][name] = {"error": f"{type(e).__name__}: {e}"}
            failed.append(name)
        metrics["models"][name]["seconds"] = round(time.perf_counter() - start, 1)
    metrics["failed"] = failed
    write_report(cfg.out, metrics, BEN19_CLASSES)
    return metrics


def retrieval_examples(out: Path, tree: Any, splits: dict[str, Any], query_feats: np.ndarray,
                       db_feats: np.ndarray, n_queries: int = 4, n_results: int = 5) -> Path | None:
    """``retrieval_examples.png``: a few test patches and their nearest training patches
    (cosine on the model's features), in true colour (B04, B03, B02 stretched)."""
    channels = list(tree.channels)
    if not {"B02", "B03", "B04"} <= set(channels):
        return None  # radar only: no true colour
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    from benchmark.multilabel.retrieval import cosine_distance

    rgb = [channels.index(b) for b in ("B04", "B03", "B02")]
    queries = np.arange(min(n_queries, len(query_feats)))
    dist = cosine_distance(query_feats[queries], db_feats)
    nearest = np.argsort(dist, axis=1, kind="stable")[:, :n_results]

    def image(split: str, i: int) -> np.ndarray:
        x = tree.image(int(splits[split].rows[i]))[rgb].transpose(1, 2, 0)
        return np.clip(x / 3000.0, 0, 1)

    fig, axes = plt.subplots(len(queries), n_results + 1,
                             figsize=(1.6 * (n_results + 1), 1.6 * len(queries)), squeeze=False)
    for r, q in enumerate(queries):
        axes[r][0].imshow(image("test", int(q)))
        axes[r][0].set_title("query", fontsize=7)
        for c, j in enumerate(nearest[r], start=1):
            axes[r][c].imshow(image("train", int(j)))
            axes[r][c].set_title(f"#{c}", fontsize=7)
    for ax in axes.ravel():
        ax.axis("off")
    fig.tight_layout()
    path = out / "retrieval_examples.png"
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _fingerprint(cfg: MultiLabelConfig, name: str, tree: Any) -> str:
    spec = model_spec(name)
    train = fingerprint_params(cfg.train) if spec.epoch_training else {"seed": cfg.train.seed}
    blob = json.dumps({"model": name, "params": asdict(spec.default_params()), "train": train,
                       "modality": cfg.modality, "metadata": tree.metadata_sha256,
                       "split": tree.split_sha256, "versions": versions()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _model(cfg: MultiLabelConfig, name: str, tree: Any, sets: dict[str, Any],
           y: dict[str, np.ndarray], say: Callable[[str], None]) -> dict[str, Any]:
    from benchmark.multilabel.models import build

    fingerprint = _fingerprint(cfg, name, tree)
    done = cfg.out / "models" / f"{name}.json"
    if done.is_file() and not cfg.force:
        kept = json.loads(done.read_text())
        if kept.get("fingerprint") == fingerprint:
            say(f"{name}: finished in an earlier run (same data and settings), kept")
            return dict(kept["result"])
    spec = model_spec(name)
    model = build(spec.default_params(), len(tree.channels), len(BEN19_CLASSES), cfg.train)
    checkpoint = cfg.out / "checkpoints" / f"{name}.pt"
    if cfg.force:
        checkpoint.unlink(missing_ok=True)
    with training_of(name):
        model.fit(sets["train"], sets["validation"], checkpoint, fingerprint,
                  lambda message: say(f"{name}: {message}"))
    val_scores, _ = model.scores_and_features(sets["validation"])
    test_scores, test_feats = model.scores_and_features(sets["test"])
    _, train_feats = model.scores_and_features(sets["train"])
    thresholds = tune_thresholds(y["validation"], val_scores)
    if not (cfg.out / "retrieval_examples.png").exists():  # the first model's
        retrieval_examples(cfg.out, tree, {n: tree.split(n) for n in ("train", "test")},
                           test_feats, train_feats)
    result = {
        "threshold_0.5": multilabel_report(y["test"], test_scores, 0.5, BEN19_CLASSES),
        "tuned": multilabel_report(y["test"], test_scores, thresholds, BEN19_CLASSES),
        "retrieval": _retrieval(test_feats, y["test"], train_feats, y["train"]),
        "history": model.history,
        "fingerprint": fingerprint,
    }
    done.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(done, json.dumps({"fingerprint": fingerprint, "result": result},
                                       default=_plain) + "\n")
    return result


def _retrieval(q: np.ndarray, qy: np.ndarray, db: np.ndarray, dby: np.ndarray
               ) -> dict[str, Any]:
    """Test patches (at most MAX_QUERIES, the first ones) retrieved among training ones."""
    q, qy = q[:MAX_QUERIES], qy[:MAX_QUERIES]
    k = tuple(min(k, len(db)) for k in RETRIEVAL_K)
    out = {}
    for metric in ("chi2", "cosine"):
        scores = retrieval_scores(q, qy, db, dby, k=k, metric=metric,
                                  negatives="relu" if metric == "chi2" else "raise")
        out[metric] = {key: value for key, value in scores.items()
                       if "@" in key}
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(type(value).__name__)
