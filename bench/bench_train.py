"""Samples per second of the Sen4Map networks, training and prediction, with and without the
DataLoader, and the 3×3 window predicted in one pass against nine.

For each network (transformer, ViT, ViViT with the paper's sizes): one training epoch
(``TorchClassifier.fit``, Adam-W, cross-entropy) and one 3×3-window prediction over random
composites held in memory maps, as the composite cache serves them. Every figure is measured
in this process twice: with the DataLoader (``benchmark.accel``: ``--workers`` processes
gathering the next batches) and without it (batches gathered in the main process, as the
benchmark did before); the ratio is printed. Prediction is also timed the old way (nine
passes, one per shift) against the one pass of ``predict_window``.

At the end, the full-scale cost per legend is estimated from the measured figures: epochs ×
(train + validation points) + nine inputs per test point, for the paper's split sizes, with a
``--gpu-speedup`` factor from this machine to the GPU (an assumption; measure it with
``--device cuda`` on the GPU itself, where the factor is 1).

    python bench/bench_train.py                          # CPU, short
    python bench/bench_train.py --points 2048 --workers 2
    python bench/bench_train.py --device cuda --points 20000 --batch-size 256 --gpu-speedup 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from benchmark import composites as comp
from benchmark.inputs import WINDOW_SHIFTS, LazyInputs, WindowInputs
from benchmark.models.registry import default_params, get_model
from benchmark.params import TrainParams
from benchmark.pool import PooledComposites

MODELS = ("transformer", "vit", "vivit")
# The paper's split sizes (land cover, crops) and the epochs of a full run (early stopping
# may end sooner: an upper bound).
SPLITS = {"landcover": (234_555, 50_284, 50_286), "crops": (196_514, 48_394, 48_396)}


def _memmapped(folder: Path, n: int, seed: int) -> PooledComposites:
    """Random composites of ``n`` points in memory-mapped files (like the cache)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    shapes = {"monthly": (n, 12, comp.REGION_SIZE, comp.REGION_SIZE, len(comp.BANDS)),
              "annual": (n, comp.REGION_SIZE, comp.REGION_SIZE, len(comp.BANDS))}
    for name, shape in shapes.items():
        mm = np.memmap(folder / f"{name}.f32", dtype=np.float32, mode="w+", shape=shape)
        mm[:] = rng.uniform(0, 6000, size=shape).astype(np.float32)
        mm.flush()
        arrays[name] = np.memmap(folder / f"{name}.f32", dtype=np.float32, mode="r", shape=shape)
    filled = np.zeros(shapes["monthly"][:4], bool)
    return PooledComposites([comp.Composites(arrays["monthly"], filled, arrays["annual"],
                                             filled[:, 0])])


def _model(name: str, train: TrainParams) -> object:
    torch.manual_seed(0)
    return get_model(name, default_params()[name], train, n_bands=len(comp.BANDS), n_classes=9)


def measure(name: str, data: PooledComposites, train: TrainParams, n_train: int, n_test: int,
            use_loader: bool) -> dict[str, float]:
    """Training samples/s (one epoch) and window-prediction points/s (one pass), or the nine
    passes' points/s when ``use_loader`` is False (the old way)."""
    model = _model(name, train)
    model.use_loader = use_loader  # type: ignore[attr-defined]
    y = np.random.default_rng(1).integers(0, 9, size=n_train)
    train_idx = np.arange(n_train)
    test_idx = np.arange(n_train, n_train + n_test)
    empty = np.zeros(0, dtype=np.int64)
    log = model.fit(LazyInputs(name, data, train_idx), y,  # type: ignore[attr-defined]
                    LazyInputs(name, data, empty), y[:0])
    sync = torch.cuda.synchronize if train.device.startswith("cuda") else (lambda: None)
    sync()
    start = time.perf_counter()
    model.predict_window(WindowInputs(name, data, test_idx))  # type: ignore[attr-defined]
    sync()
    one_pass = n_test / (time.perf_counter() - start)
    start = time.perf_counter()
    for shift in WINDOW_SHIFTS:
        model.predict_proba(LazyInputs(name, data, test_idx, shift))  # type: ignore[attr-defined]
    sync()
    nine_passes = n_test / (time.perf_counter() - start)
    return {"train": float(log["train_samples_per_s"]), "predict": one_pass,
            "predict_nine": nine_passes}


def gpu_hours(train_rate: float, predict_rate: float, epochs: int, legend: str) -> float:
    """Hours of one full run of one network: ``epochs`` × (training + validation) + test.

    Validation is forward only; it is costed at the prediction rate × 9 (one input per
    point, where the window prediction makes nine).
    """
    n_train, n_val, n_test = SPLITS[legend]
    seconds = epochs * (n_train / train_rate + n_val / (9 * predict_rate)) + n_test / predict_rate
    return seconds / 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=256, help="training points")
    parser.add_argument("--test-points", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1,
                        help="DataLoader processes of the 'with' run (0: main process)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--epochs", type=int, default=100, help="epochs of the estimate")
    parser.add_argument("--gpu-speedup", type=float, default=40.0,
                        help="assumed GPU speed / this machine's (1 when run on the GPU)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"device {args.device}, torch threads {torch.get_num_threads()}, batch "
          f"{args.batch_size}, {args.points} training / {args.test_points} test points, "
          f"DataLoader workers {args.workers}")
    with tempfile.TemporaryDirectory() as tmp:
        data = _memmapped(Path(tmp), args.points + args.test_points, seed=0)
        header = (f"{'model':<12}{'train/s':>10}{'no DL':>10}{'ratio':>7}"
                  f"{'predict/s':>11}{'no DL':>10}{'ratio':>7}{'9 passes':>10}{'ratio':>7}")
        print(header)
        rates = {}
        for name in args.models.split(","):
            with_dl = measure(name, data, TrainParams(
                epochs=1, batch_size=args.batch_size, device=args.device, seed=0,
                workers=args.workers), args.points, args.test_points, use_loader=True)
            without = measure(name, data, TrainParams(
                epochs=1, batch_size=args.batch_size, device=args.device, seed=0, workers=0),
                args.points, args.test_points, use_loader=False)
            rates[name] = with_dl
            print(f"{name:<12}{with_dl['train']:>10.1f}{without['train']:>10.1f}"
                  f"{with_dl['train'] / without['train']:>7.2f}"
                  f"{with_dl['predict']:>11.1f}{without['predict']:>10.1f}"
                  f"{with_dl['predict'] / without['predict']:>7.2f}"
                  f"{without['predict_nine']:>10.1f}"
                  f"{with_dl['predict'] / without['predict_nine']:>7.2f}")
    print(f"\nEstimated full-scale hours per network at {args.gpu_speedup:g}× this machine's "
          f"rates, {args.epochs} epochs (an upper bound: early stopping ends sooner):")
    for legend in SPLITS:
        hours = {m: gpu_hours(r["train"] * args.gpu_speedup, r["predict"] * args.gpu_speedup,
                              args.epochs, legend) for m, r in rates.items()}
        cells = ", ".join(f"{m} {h:.2f} h" for m, h in hours.items())
        print(f"  {legend}: {cells}; all networks {sum(hours.values()):.2f} h")


if __name__ == "__main__":
    main()
