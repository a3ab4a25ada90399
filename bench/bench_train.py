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
(train + validation points) + nine inputs per test point, for the paper's split sizes. Two
estimates: (a) this machine's measured rates × ``--gpu-speedup`` (an assumed factor), and
(b) the larger of the compute time (the networks' counted FLOPs, ``torch.utils.flop_counter``,
training = 3 × forward, at ``--gpu-tflops`` achieved: an assumption; the CPU's achieved
GFLOP/s are printed to judge it) and the loading time (the measured rate at which one
process gathers batches from the memory-mapped composites, × ``--gpu-workers``). Every
figure is the best of ``--repeats`` interleaved runs (the machine may be shared); ``noise``
is how far the training rate of the same code moved between those runs, the scale against
which the ratios are read, and ``DL µs/batch`` what the DataLoader in the main process adds
to a batch, measured alone (gathering through it against gathering directly). On the
GPU itself, run it with ``--device cuda --gpu-speedup 1``.

    python bench/bench_train.py                          # CPU, short (workers 0, the CPU default)
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


def gather_rate(name: str, data: PooledComposites, n: int, batch: int,
                through_loader: bool = False) -> float:
    """Points/s at which one process gathers shuffled training batches (no model), directly
    or through the benchmark's DataLoader in the main process (its overhead, alone)."""
    from benchmark.train import Feed

    order = np.random.default_rng(0).permutation(n)
    feed = Feed(LazyInputs(name, data, np.arange(n)), np.zeros(n, np.int64),
                torch.device("cpu"), 0, use_loader=through_loader)
    batches = [order[i:i + batch] for i in range(0, n, batch)]
    start = time.perf_counter()
    for _ in feed(batches):
        pass
    return n / (time.perf_counter() - start)


def forward_flops(name: str) -> float:
    """FLOPs of one sample's forward pass (matrix products; counted by torch)."""
    from torch.utils.flop_counter import FlopCounterMode

    from benchmark.inputs import input_for_model

    model = _model(name, TrainParams(device="cpu"))
    net = model.net  # type: ignore[attr-defined]
    side = comp.REGION_SIZE
    one = comp.Composites(np.zeros((8, 12, side, side, 10), np.float32),
                          np.zeros((8, 12, side, side), bool),
                          np.zeros((8, side, side, 10), np.float32),
                          np.zeros((8, side, side), bool))
    x = torch.from_numpy(input_for_model(name, one))
    counter = FlopCounterMode(display=False)
    with counter:  # train mode: eval's fused encoder kernel is not counted
        net.train()(x)
    return counter.get_total_flops() / len(x)


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
    parser.add_argument("--points", type=int, default=640, help="training points")
    parser.add_argument("--test-points", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=0,
                        help="DataLoader processes of the 'with' run (0: in the main process, "
                        "the benchmark's CPU default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--epochs", type=int, default=100, help="epochs of the estimate")
    parser.add_argument("--gpu-speedup", type=float, default=100.0,
                        help="assumed GPU speed / this machine's (1 when run on the GPU)")
    parser.add_argument("--gpu-tflops", type=float, default=50.0,
                        help="assumed achieved bf16 TFLOP/s of the GPU on these small networks")
    parser.add_argument("--gpu-workers", type=int, default=4,
                        help="DataLoader processes on the GPU machine (the default there)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"device {args.device}, torch threads {torch.get_num_threads()}, batch "
          f"{args.batch_size}, {args.points} training / {args.test_points} test points, "
          f"DataLoader workers {args.workers}")
    with tempfile.TemporaryDirectory() as tmp:
        data = _memmapped(Path(tmp), args.points + args.test_points, seed=0)
        header = (f"{'model':<12}{'train/s':>10}{'no DL':>10}{'ratio':>7}"
                  f"{'predict/s':>11}{'no DL':>10}{'ratio':>7}{'9 passes':>10}{'1 vs 9':>7}"
                  f"{'noise':>7}{'MFLOP':>9}{'CPU GFLOP/s':>13}{'gather/s':>10}"
                  f"{'DL µs/batch':>12}")
        print(header)
        rates: dict[str, dict[str, float]] = {}
        flops: dict[str, float] = {}
        gathers: dict[str, float] = {}
        overhead: dict[str, float] = {}
        for name in args.models.split(","):
            runs: dict[bool, list[dict[str, float]]] = {True: [], False: []}
            for k in range(args.repeats):  # interleaved, alternating order, best of each
                for use_loader in ((True, False) if k % 2 == 0 else (False, True)):
                    runs[use_loader].append(measure(name, data, TrainParams(
                        epochs=1, batch_size=args.batch_size, device=args.device, seed=0,
                        workers=args.workers if use_loader else 0),
                        args.points, args.test_points, use_loader=use_loader))
            with_dl, without = ({k: max(r[k] for r in runs[u]) for k in runs[u][0]}
                                for u in (True, False))
            flops[name] = forward_flops(name)
            gathers[name] = max(gather_rate(name, data, args.points, args.batch_size)
                                for _ in range(args.repeats))
            via_loader = max(gather_rate(name, data, args.points, args.batch_size, True)
                             for _ in range(args.repeats))
            # Microseconds the main-process DataLoader adds to each batch.
            overhead[name] = 1e6 * args.batch_size * (1 / via_loader - 1 / gathers[name])
            rates[name] = with_dl
            # How far the same code's training rate moved between runs: the scale against
            # which the ratios are read (the DataLoader in the main process cannot differ
            # by more than its few microseconds per batch).
            noise = max(max(r["train"] for r in rs) / min(r["train"] for r in rs) - 1
                        for rs in runs.values())
            achieved = 3 * flops[name] * with_dl["train"] / 1e9
            print(f"{name:<12}{with_dl['train']:>10.1f}{without['train']:>10.1f}"
                  f"{with_dl['train'] / without['train']:>7.2f}"
                  f"{with_dl['predict']:>11.1f}{without['predict']:>10.1f}"
                  f"{with_dl['predict'] / without['predict']:>7.2f}"
                  f"{without['predict_nine']:>10.1f}"
                  f"{without['predict'] / without['predict_nine']:>7.2f}"
                  f"{noise:>6.0%} "
                  f"{flops[name] / 1e6:>9.1f}{achieved:>13.1f}{gathers[name]:>10.0f}"
                  f"{overhead[name]:>12.0f}")
    print(f"\nEstimated full-scale hours per network at {args.gpu_speedup:g}× this machine's "
          f"rates, {args.epochs} epochs (an upper bound: early stopping ends sooner):")
    for legend in SPLITS:
        hours = {m: gpu_hours(r["train"] * args.gpu_speedup, r["predict"] * args.gpu_speedup,
                              args.epochs, legend) for m, r in rates.items()}
        cells = ", ".join(f"{m} {h:.2f} h" for m, h in hours.items())
        print(f"  {legend}: {cells}; all networks {sum(hours.values()):.2f} h")
    print(f"Estimated as the larger of compute (counted FLOPs at {args.gpu_tflops:g} TFLOP/s "
          f"achieved) and loading (gather rate × {args.gpu_workers} workers):")
    for legend in SPLITS:
        n_train, n_val, n_test = SPLITS[legend]
        loaded = args.epochs * (n_train + n_val) + 9 * n_test  # inputs gathered
        bounds: dict[str, tuple[float, str]] = {}
        for m, f in flops.items():
            compute = (args.epochs * (3 * n_train + n_val) + 9 * n_test) * f / (
                args.gpu_tflops * 1e12)
            loading = loaded / (gathers[m] * args.gpu_workers)
            bounds[m] = (max(compute, loading) / 3600, "compute" if compute > loading else "load")
        cells = ", ".join(f"{m} {60 * h:.1f} min ({why})" for m, (h, why) in bounds.items())
        print(f"  {legend}: {cells}; all networks {sum(h for h, _ in bounds.values()):.2f} h")


if __name__ == "__main__":
    main()
