"""Requests on one pool, decoding on another: the quota is spent on requests only.

A request thread that decodes its own answer (8 MB of NPY, then the stack) is a request
not in flight: with 40 threads at 1 s latency, every 25 ms of decoding costs 1 of the 40
concurrent requests the project is allowed. Here the request threads hand the raw bytes
over and take the next point at once; a small decode pool (numpy releases the GIL for its
copies) turns answers into stacks. The decode queue is bounded, so a slow consumer slows
the requests instead of filling memory with answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

A = TypeVar("A")
M = TypeVar("M")
R = TypeVar("R")

DECODE_WORKERS = 2
QUEUED_PER_DECODER = 4  # raw answers waiting per decode thread before requests wait too


def decode_behind(
    items: Iterable[A],
    request: Callable[[A], M],
    decode: Callable[[M], R],
    *,
    run_requests: Callable[[Iterable[A], Callable[[A], M]], Iterator[M]],
    decode_workers: int = DECODE_WORKERS,
) -> Iterator[R]:
    """``decode(request(item))`` of every item, each result as soon as it is ready.

    ``run_requests`` runs the requests (the source's bounded, completion-ordered pool);
    ``decode`` runs on ``decode_workers`` threads of its own. Leaving early cancels the
    decodes not started.
    """
    pool = ThreadPoolExecutor(decode_workers, thread_name_prefix="gee-decode")
    decoding: set[Future[R]] = set()
    limit = decode_workers * QUEUED_PER_DECODER
    try:
        for raw in run_requests(items, request):
            decoding.add(pool.submit(decode, raw))
            ready, _ = wait(decoding, timeout=0)
            if len(decoding) - len(ready) >= limit:  # backpressure on the request side
                ready, _ = wait(decoding, return_when=FIRST_COMPLETED)
            for fut in ready:
                decoding.discard(fut)
                yield fut.result()
        while decoding:
            ready, _ = wait(decoding, return_when=FIRST_COMPLETED)
            for fut in ready:
                decoding.discard(fut)
                yield fut.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
