"""``etl benchmark``: the click command of the benchmark stage (named in the ``etl.commands``
entry-point group of pyproject.toml, which ``pipeline.cli`` loads).

Importing this module loads neither torch nor scikit-learn: the run (and with it the heavy
libraries) is imported inside the command, so ``etl`` works without the [benchmark] extra
and ``etl benchmark`` without it says how to install it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from benchmark.composites import COMPOSITE_MODES, DEFAULT_MASK_CLASSES, EMPTY_MONTH_FILLS
from benchmark.legend_apply import ACCEPTED as LEGENDS
from benchmark.models.registry import list_models

DEFAULT_CACHE = Path.home() / ".cache" / "sen4map-etl" / "composites"


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _ints(value: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in _csv(value))
    except ValueError as e:
        raise click.BadParameter(f"{value!r}: expected integers like 0,1,3,8,9,10") from e


class _ModelsOption(click.Option):
    """``--models``: its default and help list the registry at the time of use, so a model
    registered after this module was imported (a plug-in, a test) is offered too."""

    def get_default(self, ctx: click.Context, call: bool = True) -> str:
        return ",".join(list_models())

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        self.help = f"Comma-separated: {', '.join(list_models())}."
        return super().get_help_record(ctx)


def _setup_logging() -> None:
    root = logging.getLogger()
    if root.handlers:  # the parent CLI already configured logging
        return
    from rich.logging import RichHandler

    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[RichHandler()])


def _summary(metrics: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="benchmark (test set)")
    for column in ("model", "OA center", "OA 3×3", "W-F1 center", "W-F1 3×3", "entropy"):
        table.add_column(column)
    for model, r in metrics["models"].items():
        if "error" in r:
            table.add_row(model, f"[red]failed: {r['error']}[/red]", "", "", "", "")
            continue
        table.add_row(
            model,
            *(f"{r[w][k]:.3f}" for k in ("overall_accuracy", "weighted_f1")
              for w in ("center", "window")),
            f"{r['mean_entropy_nats']:.3f}",
        )
    console = Console()
    console.print(table)
    first = next((r for r in metrics["models"].values() if "error" not in r), None)
    if first:
        console.print(f"majority-class accuracy: {first['majority_class_accuracy']:.3f}")


@click.command("benchmark")
@click.option("--data", "data_dir", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Year folder holding the <CC>.h5 files.")
@click.option("--countries", default=None,
              help="Comma-separated country codes (default: all files).")
@click.option("--legend", default="landcover", show_default=True,
              help=f"{LEGENDS} (LC1 code → class).")
@click.option("--models", cls=_ModelsOption, show_default=True)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Report folder (metrics.json, report.md, PNGs).")
@click.option("--split-keys", default=None,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder with {train,val,test}_keys.txt (default: random 70/15/15 per country).")
@click.option("--epochs", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--batch-size", default=None, type=click.IntRange(min=1),
              help="Points per batch (default: 256 for --task sen4map, sized for a GPU; 64 "
              "for --task multilabel).")
@click.option("--lr-scaling", type=click.Choice(["sqrt", "linear", "none"]), default="sqrt",
              show_default=True,
              help="--task sen4map: the paper's learning rates hold at batch 64; at another "
              "--batch-size they are scaled by √(batch/64), batch/64, or not at all.")
@click.option("--device", default="auto", show_default=True,
              help="auto (a GPU when present, else CPU), cpu, cuda, cuda:1, …")
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--mask-classes", default=",".join(map(str, DEFAULT_MASK_CLASSES)),
              show_default=True,
              help="SCL classes masked before compositing (--composite masked).")
@click.option("--composite", type=click.Choice(COMPOSITE_MODES), default="masked",
              show_default=True,
              help="masked (leave out --mask-classes observations) or reader (the public "
              "Sen4Map reader's rule: values where SCL < 9, masked values 0 in the median, "
              "an empty month takes the year's median), to match the released numbers.")
@click.option("--empty-months", type=click.Choice(EMPTY_MONTH_FILLS), default=None,
              help="A month without a clear observation: interpolated between clear months "
              "(default for --composite masked) or the year's median (the reader's rule).")
@click.option("--cache-dir", default=DEFAULT_CACHE, show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Where composites are cached (one file per country and kind).")
@click.option("--force", is_flag=True,
              help="Retrain every model, ignoring results and checkpoints of earlier runs.")
@click.option("--task", type=click.Choice(["sen4map", "multilabel"]), default="sen4map",
              show_default=True,
              help="sen4map (the Sen4Map point classifiers on <CC>.h5 files) or multilabel "
              "(BigEarthNet-MM: --data is a BigEarthNet tree, OUT/bigearthnet or reBEN's).")
@click.option("--modality", type=click.Choice(["s1", "s2", "s1s2"]), default="s1s2",
              show_default=True, help="--task multilabel: the input patches.")
@click.option("--patience", default=10, show_default=True, type=click.IntRange(min=1),
              help="--task multilabel: epochs without a better validation loss before "
              "training stops (the best epoch is kept).")
@click.option("--learning-rate", default=1e-3, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="--task multilabel: Adam's learning rate (the paper's 1e-3).")
@click.option("--workers", default=None, type=click.IntRange(min=0),
              help="DataLoader worker processes (default: 4 on a GPU, 0 on the CPU).")
@click.option("--vgg-init", type=click.Choice(["slim", "torchvision"]), default="slim",
              show_default=True,
              help="--task multilabel: VGG's initial weights: slim (Glorot-uniform, the paper's "
              "TF-Slim code) or torchvision (Kaiming-normal; learns at a lower --learning-rate).")
@click.pass_context
def benchmark(
    ctx: click.Context,
    data_dir: Path,
    countries: str | None,
    legend: str,
    models: str,
    out_dir: Path,
    split_keys: Path | None,
    epochs: int,
    batch_size: int | None,
    lr_scaling: str,
    device: str,
    seed: int,
    mask_classes: str,
    composite: str,
    empty_months: str | None,
    cache_dir: Path,
    force: bool,
    task: str,
    modality: str,
    patience: int,
    learning_rate: float,
    workers: int | None,
    vgg_init: str,
) -> None:
    """Composites → legend → split → models → metrics report (paper Tables III–V); with
    --task multilabel the BigEarthNet-MM benchmark (paper Tables I–II)."""
    if task == "multilabel":
        given = ctx.get_parameter_source("models") != click.core.ParameterSource.DEFAULT
        _multilabel(data_dir, out_dir, _csv(models) if given else ("resnet50",), modality,
                    MultiLabelTrainArgs(epochs, batch_size or 64, device, seed, patience,
                                        learning_rate, workers, vgg_init),
                    cache_dir, force)
        return
    from benchmark.config import BenchmarkConfig
    from benchmark.legend_apply import load as load_legend
    from benchmark.params import TrainParams
    from benchmark.run import run

    _setup_logging()
    # Bad input raises an EtlError: the etl group prints it as one line, exit code 2.
    legend_obj = load_legend(legend)  # before the report folder is created
    cfg = BenchmarkConfig(
        data_dir=data_dir,
        out_dir=out_dir,
        legend=legend,
        countries=tuple(c.upper() for c in _csv(countries)) if countries else None,
        models=_csv(models),
        split_keys=split_keys,
        mask_classes=_ints(mask_classes),
        composite=composite,
        empty_months=empty_months,
        cache_dir=cache_dir,
        train=TrainParams(epochs=epochs, batch_size=batch_size or TrainParams.batch_size,
                          device=device, seed=seed, lr_scaling=lr_scaling, workers=workers),
    )
    from benchmark.cli_progress import epoch_bars

    with epoch_bars() as bars:
        metrics = run(cfg, legend=legend_obj, force=force, progress=bars.say)
    _summary(metrics)
    if metrics["failed"]:
        raise click.ClickException(f"model(s) failed: {', '.join(metrics['failed'])}")


@dataclass(frozen=True)
class MultiLabelTrainArgs:
    """The training flags of --task multilabel."""

    epochs: int
    batch_size: int
    device: str
    seed: int
    patience: int
    learning_rate: float = 1e-3
    workers: int | None = None
    vgg_init: str = "slim"


def _multilabel(data_dir: Path, out_dir: Path, models: tuple[str, ...], modality: str,
                args: MultiLabelTrainArgs, cache_dir: Path, force: bool) -> None:
    from benchmark.multilabel.run import MultiLabelConfig, check_models, run_multilabel
    from benchmark.multilabel.train import MultiLabelTrain

    _setup_logging()
    check_models(models)  # one line and exit code 2 before anything is read
    cfg = MultiLabelConfig(data=data_dir, out=out_dir, models=models, modality=modality,
                           train=MultiLabelTrain(epochs=args.epochs, batch_size=args.batch_size,
                                                 device=args.device, seed=args.seed,
                                                 patience=args.patience,
                                                 learning_rate=args.learning_rate,
                                                 workers=args.workers,
                                                 vgg_init=args.vgg_init),
                           cache_dir=cache_dir / "bigearthnet", force=force)
    from benchmark.cli_progress import epoch_bars

    with epoch_bars() as bars:
        metrics = run_multilabel(cfg, progress=bars.say)
    from rich.console import Console

    console = Console()
    console.print(f"report: {out_dir / 'report.md'}")
    console.print(f"label-frequency baseline F2: {metrics['baseline']['f2'] * 100:.2f} % at "
                  f"0.5, {metrics['baseline']['f2_tuned'] * 100:.2f} % tuned")
    for name, result in metrics["models"].items():
        if "error" in result:
            console.print(f"{name}: failed: {result['error']}")
            continue
        r = result["threshold_0.5"]
        console.print(f"{name}: F2 {r['f2'] * 100:.2f} %, Hamming loss {r['hamming_loss']:.4f}, "
                      f"mAP {r['map'] * 100:.2f} %")
    if metrics["failed"]:
        raise click.ClickException(f"model(s) failed: {', '.join(metrics['failed'])}")
