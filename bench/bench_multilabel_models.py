"""Samples per second of the BigEarthNet-MM networks on the CPU, training and inference.

For each network (``benchmark.multilabel.nets``): training throughput (forward + sigmoid
cross-entropy + backward + Adam step, batches of 8) and inference throughput (eval mode, no
gradients, batches of 32) on random 120×120 patches, after warm-up. Each figure is printed
with its ratio to ResNet50 measured in the same process (ResNet50 is always measured first),
so figures from different machines or thread counts compare as ratios.

    python bench/bench_multilabel_models.py                      # all five, S1+S2 (12 bands)
    python bench/bench_multilabel_models.py --bands 2 --models resnet50,vgg16
    python bench/bench_multilabel_models.py --threads 8 --repeats 5
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from torch import nn

from benchmark.multilabel.nets import N_CLASSES, NETS, build_net

PATCH = 120
BASELINE = "resnet50"


def _best_rate(step: Callable[[], None], batch: int, repeats: int, warmup: int) -> float:
    """Samples per second of the fastest of ``repeats`` calls of ``step`` after ``warmup``."""
    for _ in range(warmup):
        step()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    return batch / best


def measure(
    name: str, bands: int, train_batch: int, infer_batch: int, repeats: int, warmup: int
) -> tuple[int, float, float]:
    """(parameters, training samples/s, inference samples/s) of network ``name``."""
    torch.manual_seed(0)
    net = build_net(name, bands)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)
    loss_fn = nn.BCEWithLogitsLoss()
    x_train = torch.randn(train_batch, bands, PATCH, PATCH)
    y_train = (torch.rand(train_batch, N_CLASSES) < 0.3).float()
    x_infer = torch.randn(infer_batch, bands, PATCH, PATCH)

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss_fn(net(x_train), y_train).backward()
        optimizer.step()

    def infer_step() -> None:
        with torch.inference_mode():
            net(x_infer)

    net.train()
    train = _best_rate(train_step, train_batch, repeats, warmup)
    net.eval()
    infer = _best_rate(infer_step, infer_batch, repeats, warmup)
    return sum(p.numel() for p in net.parameters()), train, infer


def main() -> None:
    """Measure the chosen networks and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(NETS),
                        help=f"comma-separated, from {', '.join(NETS)}")
    parser.add_argument("--bands", type=int, default=12, help="2 (S1), 10 (S2), 12 (S1+S2)")
    parser.add_argument("--train-batch", type=int, default=8)
    parser.add_argument("--infer-batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="timed calls; the best counts")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in NETS]
    if unknown:
        parser.error(f"unknown models {', '.join(unknown)} (choose from {', '.join(NETS)})")
    models = [BASELINE, *(m for m in models if m != BASELINE)]

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.bands} bands, "
          f"{PATCH}×{PATCH}; train batch {args.train_batch}, inference batch "
          f"{args.infer_batch}; best of {args.repeats}")
    print(f"{'model':<10} {'params':>12} {'train /s':>9} {'× r50':>6} "
          f"{'infer /s':>9} {'× r50':>6}")
    base: tuple[float, float] | None = None
    for name in models:
        n_params, train, infer = measure(name, args.bands, args.train_batch, args.infer_batch,
                               args.repeats, args.warmup)
        if base is None:
            base = (train, infer)
        print(f"{name:<10} {n_params:>12,} {train:>9.2f} {train / base[0]:>6.2f} "
              f"{infer:>9.2f} {infer / base[1]:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
