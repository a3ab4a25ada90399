"""Throttle: error classes, the token bucket under a fake clock, adaptive concurrency, retries."""

from __future__ import annotations

import itertools
import threading
import time

import ee
import pytest

from exports.gee.throttle import (
    AdaptiveLimiter,
    ErrorKind,
    RetryPolicy,
    Throttle,
    TokenBucket,
    classify,
)
from lucas.errors import ConfigError
from tests.exports.gee_fakes import FakeClock


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ee.EEException("Too many concurrent aggregations."), ErrorKind.QUOTA),
        (ee.EEException("Quota exceeded for quota metric 'Requests'."), ErrorKind.QUOTA),
        (ee.EEException("User memory limit exceeded."), ErrorKind.DETERMINISTIC),
        (ee.EEException("Image.load: Image asset 'X/Y' not found."), ErrorKind.DETERMINISTIC),
        (ee.EEException("Invalid argument: bad grid."), ErrorKind.DETERMINISTIC),
        (ee.EEException("Deadline expired before operation could complete."), ErrorKind.TRANSIENT),
        (ee.EEException("An internal error has occurred."), ErrorKind.TRANSIENT),
        (ee.EEException("Service Unavailable"), ErrorKind.TRANSIENT),
        (ee.EEException("Computation timed out."), ErrorKind.TRANSIENT),
        (ConnectionResetError(104, "Connection reset by peer"), ErrorKind.TRANSIENT),
        (TimeoutError("read timed out"), ErrorKind.TRANSIENT),
        (ValueError("something else"), ErrorKind.DETERMINISTIC),
    ],
)
def test_classify(error: BaseException, kind: ErrorKind) -> None:
    assert classify(error) is kind


def test_classify_reads_http_status_when_present() -> None:
    class Resp:
        status = 503

    class HttpError(Exception):
        resp = Resp()

    assert classify(HttpError("boom")) is ErrorKind.TRANSIENT
    Resp.status = 429
    assert classify(HttpError("boom")) is ErrorKind.QUOTA


def test_token_bucket_holds_the_rate_under_a_fake_clock() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=80.0, burst=10, clock=clock, sleep=clock.sleep)
    for _ in range(810):
        bucket.acquire()
    # 10 free (the burst), then 800 at 80/s: 10 s of fake time.
    assert clock.now == pytest.approx(10.0, rel=1e-6)
    starts: list[float] = []
    for _ in range(300):
        bucket.acquire()
        starts.append(clock.now)
    # Never 100 or more starts within any one second.
    assert max(sum(1 for t in starts if s <= t < s + 1.0) for s in starts) < 100


def test_token_bucket_rejects_a_bad_rate() -> None:
    with pytest.raises(ConfigError):
        TokenBucket(rate=0)


def test_limiter_lowers_on_quota_once_per_cooldown_and_regrows_to_the_level_that_failed() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(40, regrow_after=2, probe_after=10, cooldown_s=2.0, clock=clock)
    limiter.on_quota()
    limiter.on_quota()  # the same overload reported by another request in flight
    assert (limiter.limit, limiter.ceiling) == (30, 40)
    limiter.on_success()
    assert limiter.limit == 30  # refused within the cooldown: no growth yet
    clock.now += 2.5
    limiter.on_quota()  # still too many after the cooldown: lower again
    assert (limiter.limit, limiter.ceiling) == (22, 30)
    clock.now += 2.5
    for _ in range(2 * 7):  # quick regrowth below the level that failed
        limiter.on_success()
    assert limiter.limit == 29
    for _ in range(9):  # at the ceiling, one slot higher only after probe_after successes
        limiter.on_success()
    assert limiter.limit == 29
    limiter.on_success()
    assert (limiter.limit, limiter.ceiling) == (30, 31)


def test_limiter_settles_at_a_competitors_share() -> None:
    """Another job holds 20 of the 40 slots: the bound ends at 20 and stays near it."""
    clock = FakeClock()
    limiter = AdaptiveLimiter(40, clock=clock)
    levels = []
    for _ in range(400):  # one round: the limit's worth of requests, 1 s each
        refused = max(limiter.limit - 20, 0)
        for _ in range(limiter.limit - refused):
            limiter.on_success()
        if refused:
            limiter.on_quota()
        clock.now += 1.0
        levels.append(limiter.limit)
    tail = levels[100:]
    assert max(tail) <= 21
    assert sum(min(level, 20) for level in tail) / len(tail) >= 0.9 * 20


def test_limiter_bounds_requests_in_flight() -> None:
    limiter = AdaptiveLimiter(3)
    active = 0
    peak = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal active, peak
        with limiter.slot():
            with lock:
                active += 1
                peak = max(peak, active)
            time.sleep(0.01)
            with lock:
                active -= 1

    threads = [threading.Thread(target=work) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak <= 3


def _throttle(clock: FakeClock, attempts: int = 4) -> Throttle:
    return Throttle(
        workers=8,
        retry=RetryPolicy(max_attempts=attempts, backoff_max_s=30.0, jitter_s=0.5),
        clock=clock,
        sleep=clock.sleep,
    )


def test_429_is_retried_with_backoff_then_succeeds_and_lowers_concurrency() -> None:
    clock = FakeClock()
    throttle = _throttle(clock)
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ee.EEException("Too many concurrent aggregations.")
        return "pixels"

    assert throttle.call(flaky, what="test") == "pixels"
    assert len(calls) == 3
    backoffs = [s for s in clock.sleeps if s >= 1.0]
    assert len(backoffs) == 2 and backoffs[1] > backoffs[0] - 0.5  # exponential, with jitter
    assert throttle.limiter.limit == 6  # 8 × 0.75, once: the second 429 is within the cooldown


def test_deterministic_error_is_not_retried() -> None:
    clock = FakeClock()
    throttle = _throttle(clock)
    calls = []

    def heavy() -> None:
        calls.append(1)
        raise ee.EEException("User memory limit exceeded.")

    with pytest.raises(ee.EEException, match="User memory limit exceeded"):
        throttle.call(heavy, what="test")
    assert len(calls) == 1
    assert clock.sleeps == []


def test_transient_errors_stop_after_bounded_attempts() -> None:
    clock = FakeClock()
    throttle = _throttle(clock, attempts=3)
    calls = []

    def down() -> None:
        calls.append(1)
        raise ee.EEException("Service Unavailable")

    with pytest.raises(ee.EEException, match="Service Unavailable"):
        throttle.call(down, what="test")
    assert len(calls) == 3
    assert throttle.limiter.limit == 8  # not a quota signal: concurrency unchanged


def test_workers_above_the_quota_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="--workers"):
        Throttle(workers=41)


def test_a_429_storm_of_two_minutes_is_survived() -> None:
    """A competing job holds the quota for 2 minutes: the call waits it out and succeeds."""
    clock = FakeClock()
    throttle = Throttle(workers=8, clock=clock, sleep=clock.sleep)
    calls = []

    def stormy() -> str:
        calls.append(clock.now)
        if clock.now < 120.0:
            raise ee.EEException("Too many concurrent aggregations.")
        return "pixels"

    assert throttle.call(stormy, what="test") == "pixels"
    assert len(calls) > RetryPolicy().max_attempts  # quota errors are not bounded by count
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert max(gaps) <= RetryPolicy().quota_backoff_max_s + RetryPolicy().jitter_s
    assert 120.0 <= calls[-1] <= 120.0 + max(gaps)


def test_quota_errors_beyond_the_budget_are_raised() -> None:
    clock = FakeClock()
    policy = RetryPolicy(quota_budget_s=300.0)
    throttle = Throttle(workers=8, retry=policy, clock=clock, sleep=clock.sleep)

    def full() -> None:
        raise ee.EEException("Too many concurrent aggregations.")

    with pytest.raises(ee.EEException, match="Too many concurrent aggregations"):
        throttle.call(full, what="test")
    assert 300.0 <= clock.now <= 300.0 + policy.quota_backoff_max_s + policy.jitter_s


def test_transient_errors_keep_their_attempt_cap_between_quota_errors() -> None:
    clock = FakeClock()
    throttle = _throttle(clock, attempts=3)
    errors = iter(["Too many concurrent aggregations."] * 5 + ["Service Unavailable"] * 5)
    calls = []

    def mixed() -> None:
        calls.append(1)
        raise ee.EEException(next(errors))

    with pytest.raises(ee.EEException, match="Service Unavailable"):
        throttle.call(mixed, what="test")
    assert len(calls) == 5 + 3
