"""Throttle: error classes, the token bucket under a fake clock, adaptive concurrency, retries."""

from __future__ import annotations

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


def test_limiter_halves_on_quota_once_per_cooldown_and_recovers() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(16, recover_after=3, cooldown_s=2.0, clock=clock)
    limiter.on_quota()
    limiter.on_quota()  # the same overload reported by another request in flight
    assert limiter.limit == 8
    clock.now += 5
    limiter.on_quota()
    assert limiter.limit == 4
    for _ in range(6):
        limiter.on_success()
    assert limiter.limit == 6


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
    assert throttle.limiter.limit == 4


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
