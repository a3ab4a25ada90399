"""Keep Earth Engine calls inside the project's quota, and retry only what may succeed later.

Earth Engine's default per-project quota is 40 concurrent interactive requests and 100
requests per second; above it the server answers HTTP 429 ("Too many concurrent
aggregations", "Quota exceeded"). Three pieces cooperate:

- :class:`TokenBucket` spaces request *starts* under the per-second rate;
- :class:`AdaptiveLimiter` bounds requests *in flight*, lowers that bound when a quota
  error comes back and regrows it up to the level that failed, so a project shared with
  other jobs settles just below where it gets 429s;
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
import random
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
    """A semaphore whose size shrinks on quota errors and grows back on success.

    A 429 means the project's slots are taken (by us, or by another job on the project):
    the bound drops to ``decrease`` of itself, and the level that failed is remembered as
    the ceiling. Below the ceiling the bound grows back quickly (one slot per
    ``regrow_after`` successes); at the ceiling it probes one slot higher only after
    ``probe_after`` successes, so a competitor's share is found within a few 429s and
    held, instead of a sawtooth that halves and crawls back (about 25 % of the remaining
    capacity lost). Decreases closer together than ``cooldown_s`` count once: the many
    requests in flight when the server starts refusing all report the same overload, and
    nothing grows until ``cooldown_s`` pass without one.
    """

    def __init__(
        self,
        limit: int,
        *,
        minimum: int = 1,
        decrease: float = 0.75,
        regrow_after: int = 2,
        probe_after: int = 100,
        cooldown_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``limit`` is the ceiling it recovers to; ``minimum`` the floor quota errors stop at."""
        if not 0.0 < decrease < 1.0:
            raise ConfigError(f"limiter decrease must be within (0, 1), got {decrease}")
        self.maximum = limit
        self.minimum = max(1, min(minimum, limit))
        self.decrease = decrease
        self._limit = limit
        self._ceiling = limit + 1  # the lowest level a 429 was seen at (none yet)
        self._active = 0
        self._successes = 0
        self._regrow_after = regrow_after
        self._probe_after = probe_after
        self._cooldown = cooldown_s
        self._clock = clock
        self._last_decrease = -float("inf")
        self._last_quota = -float("inf")
        self._cond = threading.Condition()

    @property
    def limit(self) -> int:
        """The current bound on calls in flight (reported, and read by tests)."""
        return self._limit

    @property
    def ceiling(self) -> int:
        """The bound at which the server last refused (``maximum + 1`` before any 429)."""
        return self._ceiling

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
        """A 429: remember the level as too high, lower the bound, once per cooldown."""
        with self._cond:
            now = self._clock()
            self._successes = 0
            self._last_quota = now
            if now - self._last_decrease < self._cooldown or self._limit == self.minimum:
                return
            self._last_decrease = now
            self._ceiling = self._limit
            self._limit = max(self.minimum, int(self._limit * self.decrease))
            log.warning("Earth Engine quota pushback: concurrency lowered to %d", self._limit)

    def on_success(self) -> None:
        """Grow one slot after a few successes below the ceiling, after many at it."""
        with self._cond:
            if self._limit >= self.maximum or self._clock() - self._last_quota < self._cooldown:
                return  # still refused lately: growing now would only earn more 429s
            self._successes += 1
            probing = self._limit + 1 >= self._ceiling
            if self._successes >= (self._probe_after if probing else self._regrow_after):
                self._successes = 0
                self._limit += 1
                self._ceiling = max(self._ceiling, self._limit + 1 if probing else 0)
                self._cond.notify_all()


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures are retried, how long: waits of ~1, 2, 4, … s (+ jitter), capped.

    Transient failures (5xx, dropped connections) get ``max_attempts``. Quota errors (429)
    get time instead: another job on the project can hold its slots for minutes, and a
    point that gives up after a few seconds is only exported again later at the same
    cost, so a 429 is retried until ``quota_budget_s`` have passed since the first attempt.
    """

    max_attempts: int = 6
    backoff_max_s: float = 60.0
    jitter_s: float = 1.0
    quota_budget_s: float = 15 * 60.0
    quota_backoff_max_s: float = 30.0


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
        if self.retry.quota_budget_s < 0:
            raise ConfigError(f"quota retry budget must be >= 0 s, got {self.retry.quota_budget_s}")
        self.bucket = TokenBucket(rate, burst, clock=clock, sleep=sleep)
        self._clock = clock
        self.limiter = AdaptiveLimiter(workers, clock=clock)
        self._sleep = sleep

    def call(self, fn: Callable[[], T], what: str) -> T:
        """``fn()`` with retries of transient errors and of quota errors within the budget;
        the last error is re-raised as is."""
        started = self._clock()
        policy = self.retry
        others = 0  # failures that were not quota errors: they get max_attempts

        def give_up(state: tenacity.RetryCallState) -> bool:
            nonlocal others
            exc = state.outcome.exception() if state.outcome else None
            if exc is not None and classify(exc) is ErrorKind.QUOTA:
                return self._clock() - started >= policy.quota_budget_s
            others += 1
            return others >= policy.max_attempts

        def pause(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            quota = exc is not None and classify(exc) is ErrorKind.QUOTA
            cap = policy.quota_backoff_max_s if quota else policy.backoff_max_s
            return wait_exponential_jitter(state.attempt_number, cap, policy.jitter_s)

        retrying = tenacity.Retrying(
            stop=give_up,
            wait=pause,
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


def wait_exponential_jitter(attempt: int, cap_s: float, jitter_s: float) -> float:
    """~1, 2, 4, … s before retry ``attempt`` + 1, capped, plus up to ``jitter_s`` at random
    (so the threads refused together do not come back together)."""
    return min(cap_s, 2.0 ** (attempt - 1)) + random.uniform(0.0, jitter_s)


def _log_retry(what: str, state: tenacity.RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.info(
        "%s: attempt %d failed (%s); retrying in %.1f s", what, state.attempt_number, exc, wait
    )
