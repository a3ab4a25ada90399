"""Keep Earth Engine calls inside the project's quota, and retry only what may succeed later.

Earth Engine's default per-project quota is 40 concurrent interactive requests and 100
requests per second; above it the server answers HTTP 429 ("Too many concurrent
aggregations", "Quota exceeded"). Three pieces cooperate:

- :class:`TokenBucket` spaces request *starts* under the per-second rate;
- :class:`AdaptiveLimiter` bounds requests *in flight* and halves that bound when a quota
  error comes back (then creeps back up after a run of successes), so a project shared with
  other jobs settles where it stops getting 429s;
- :class:`Throttle` wraps one call with both and with tenacity retries (exponential backoff
  + jitter, bounded attempts) for transient failures only. Deterministic failures ("User
  memory limit exceeded", "asset not found", invalid argument) are raised at once.

The Earth Engine client flattens HTTP errors into ``EEException(message)``, so the
classification reads the message (:func:`classify`).
"""

from __future__ import annotations

import enum
import http.client
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import tenacity

from lucas.errors import ConfigError

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_WORKERS = 40  # the default per-project concurrent-request quota
DEFAULT_WORKERS = 16
DEFAULT_RATE = 80.0  # requests/s; with the burst below, < 100 in any one-second window
DEFAULT_BURST = 10


class ErrorKind(enum.Enum):
    """What a failed call deserves: each kind has its own reaction in :class:`Throttle`."""
    QUOTA = "quota"  # 429: back off and lower concurrency
    TRANSIENT = "transient"  # 5xx, deadlines, dropped connections: back off and retry
    DETERMINISTIC = "deterministic"  # the same request will fail again: never retry


# Checked in this order: a deterministic marker wins over a transient-looking word.
_DETERMINISTIC = (
    "user memory limit exceeded",
    "not found",
    "invalid argument",
    "does not have",
    "permission denied",
    "too many bands",
    "total request size",
    "must be less than or equal to",
)
_QUOTA = (
    "too many concurrent aggregations",
    "quota exceeded",
    "too many requests",
    "rate limit",
    "resource_exhausted",
    "resource exhausted",
    "429",
)
_TRANSIENT = (
    "internal error",
    "backend error",
    "unavailable",
    "deadline",
    "timed out",
    "timeout",
    "connection reset",
    "connection aborted",
    "broken pipe",
    "bad gateway",
    "try again",
    " 500",
    " 502",
    " 503",
    " 504",
)


def classify(exc: BaseException) -> ErrorKind:
    """Whether retrying a failed Earth Engine call may help, and how to back off."""
    status = getattr(getattr(exc, "resp", None), "status", None)
    if isinstance(status, int):
        if status == 429:
            return ErrorKind.QUOTA
        if status >= 500:
            return ErrorKind.TRANSIENT
    message = str(exc).lower()
    if any(m in message for m in _DETERMINISTIC):
        return ErrorKind.DETERMINISTIC
    if any(m in message for m in _QUOTA):
        return ErrorKind.QUOTA
    if isinstance(exc, TimeoutError | ConnectionError | http.client.HTTPException):
        return ErrorKind.TRANSIENT
    if any(m in message for m in _TRANSIENT):
        return ErrorKind.TRANSIENT
    if isinstance(exc, OSError):  # socket errors, requests' ConnectionError, ...
        return ErrorKind.TRANSIENT
    return ErrorKind.DETERMINISTIC


class TokenBucket:
    """At most ``burst`` requests at once, refilled at ``rate`` per second (thread-safe)."""

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``clock`` and ``sleep`` are injectable so tests run without waiting."""
        if rate <= 0 or burst < 1:
            raise ConfigError(f"token bucket needs rate > 0 and burst >= 1 (got {rate}, {burst})")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Take one token, sleeping (outside the lock) until one is available."""
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1.0 - 1e-9:  # tolerance: float refills land a hair short
                    self._tokens -= 1.0
                    return
                wait = (1.0 - self._tokens) / self.rate
            self._sleep(wait)


class AdaptiveLimiter:
    """A semaphore whose size halves on quota errors and grows back one by one on success.

    Decreases closer together than ``cooldown_s`` count once: the many requests in flight
    when the server starts refusing all report the same overload.
    """

    def __init__(
        self,
        limit: int,
        *,
        minimum: int = 1,
        recover_after: int = 20,
        cooldown_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``limit`` is the ceiling it recovers to; ``minimum`` the floor quota errors stop at."""
        self.maximum = limit
        self.minimum = max(1, min(minimum, limit))
        self._limit = limit
        self._active = 0
        self._successes = 0
        self._recover_after = recover_after
        self._cooldown = cooldown_s
        self._clock = clock
        self._last_decrease = -float("inf")
        self._cond = threading.Condition()

    @property
    def limit(self) -> int:
        """The current bound on calls in flight (reported, and read by tests)."""
        return self._limit

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the ``limit`` slots while a call runs; waits while all are taken."""
        with self._cond:
            while self._active >= self._limit:
                self._cond.wait()
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def on_quota(self) -> None:
        """A 429: halve the bound, once per cooldown, as the server asks for less."""
        with self._cond:
            now = self._clock()
            self._successes = 0
            if now - self._last_decrease < self._cooldown or self._limit == self.minimum:
                return
            self._last_decrease = now
            self._limit = max(self.minimum, self._limit // 2)
            log.warning("Earth Engine quota pushback: concurrency lowered to %d", self._limit)

    def on_success(self) -> None:
        """Grow back one slot after ``recover_after`` successes, up to the maximum."""
        with self._cond:
            if self._limit >= self.maximum:
                return
            self._successes += 1
            if self._successes >= self._recover_after:
                self._successes = 0
                self._limit += 1
                self._cond.notify_all()


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries of transient failures: waits of ~1, 2, 4, … s (+ jitter), capped."""

    max_attempts: int = 6
    backoff_max_s: float = 60.0
    jitter_s: float = 1.0


class Throttle:
    """Run Earth Engine calls under the rate, the adaptive concurrency bound and retries."""

    def __init__(
        self,
        workers: int = DEFAULT_WORKERS,
        rate: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
        retry: RetryPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``workers`` above the concurrent-request quota is refused: it only earns 429s."""
        if not 1 <= workers <= MAX_WORKERS:
            raise ConfigError(
                f"--workers must be between 1 and {MAX_WORKERS} (the default Earth Engine "
                f"concurrent-request quota), got {workers}"
            )
        self.workers = workers
        self.retry = retry or RetryPolicy()
        if self.retry.max_attempts < 1:
            raise ConfigError(f"retry attempts must be >= 1, got {self.retry.max_attempts}")
        self.bucket = TokenBucket(rate, burst, clock=clock, sleep=sleep)
        self.limiter = AdaptiveLimiter(workers, clock=clock)
        self._sleep = sleep

    def call(self, fn: Callable[[], T], what: str) -> T:
        """``fn()`` with retries of transient errors; the last error is re-raised as is."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.retry.max_attempts),
            wait=tenacity.wait_exponential_jitter(
                max=self.retry.backoff_max_s, jitter=self.retry.jitter_s
            ),
            retry=tenacity.retry_if_exception(lambda e: classify(e) is not ErrorKind.DETERMINISTIC),
            sleep=self._sleep,
            reraise=True,
            before_sleep=lambda state: _log_retry(what, state),
        )
        return retrying(self._attempt, fn)

    def _attempt(self, fn: Callable[[], T]) -> T:
        with self.limiter.slot():
            self.bucket.acquire()
            try:
                result = fn()
            except Exception as e:
                if classify(e) is ErrorKind.QUOTA:
                    self.limiter.on_quota()
                raise
        self.limiter.on_success()
        return result


def _log_retry(what: str, state: tenacity.RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.info(
        "%s: attempt %d failed (%s); retrying in %.1f s", what, state.attempt_number, exc, wait
    )
