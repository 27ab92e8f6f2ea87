"""The shared rate limiter on a real Redis: budget, burst, priority, and Persona's signals.

The limiter reads Redis's clock, so every wait it hands out is "the planned delay minus the
time that passed since the slot or floor was set". A test measures that time around its calls
(`_Stopwatch`) and expects exactly the delay less what it measured: a machine that stalls
between two calls shortens the wait, and the expectation with it. The planned delays are long
(a minute where the burst is concerned) so that no stall can use one up entirely.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from redis.asyncio import Redis

from jobs.errors import RateLimitedError
from jobs.persona import ratelimit
from jobs.persona.client import ApiCall, RateLimitInfo
from jobs.persona.errors import DEFAULT_RATE_LIMIT_WAIT_S
from jobs.persona.ratelimit import RedisRateLimiter

READ = "retrieve-an-inquiry"
CREATE = "create-an-inquiry"


def _limiter(redis: Redis, **options: float) -> RedisRateLimiter:
    values: dict[str, float] = {"per_minute": 60, "burst": 2, "max_wait_s": 0.0}
    values.update(options)
    return RedisRateLimiter(
        redis,
        per_minute=int(values["per_minute"]),
        burst=int(values["burst"]),
        max_wait_s=values["max_wait_s"],
    )


def _answer(
    status: int, *, limit: int | None, remaining: int | None, reset: float | None
) -> ApiCall:
    return ApiCall(READ, "GET", status, 0.01, RateLimitInfo(limit, remaining, reset), "req_1")


#: Redis's clock, as the limiter reads it, has millisecond steps.
_CLOCK_STEP_S = 0.002


class _Stopwatch:
    """Real time since it was made: at least what Redis's clock saw between the same calls."""

    def __init__(self) -> None:
        self._started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def assert_left(self, wait_s: float, planned_s: float) -> None:
        """`wait_s` is what is left of `planned_s` after the time measured so far."""
        assert planned_s - self.elapsed() - _CLOCK_STEP_S <= wait_s <= planned_s


async def _deferral(limiter: RedisRateLimiter, operation: str = READ) -> float:
    with pytest.raises(RateLimitedError) as raised:
        await limiter.acquire(operation)
    assert raised.value.retry_after_s is not None
    return raised.value.retry_after_s


async def test_reads_may_burst_then_wait_for_the_steady_rate(redis: Redis) -> None:
    limiter = _limiter(redis, per_minute=1)
    stopwatch = _Stopwatch()
    for _ in range(3):
        await limiter.acquire(READ)

    # Two ahead of the rate, then the third slot's turn: one interval after the first.
    stopwatch.assert_left(await _deferral(limiter), 60.0)


async def test_creates_get_no_burst(redis: Redis) -> None:
    limiter = _limiter(redis, per_minute=1)
    stopwatch = _Stopwatch()
    await limiter.acquire(CREATE)

    stopwatch.assert_left(await _deferral(limiter, CREATE), 60.0)


async def test_reads_go_ahead_of_a_waiting_create(redis: Redis) -> None:
    limiter = _limiter(redis, per_minute=1)
    await limiter.acquire(CREATE)
    await _deferral(limiter, CREATE)

    await limiter.acquire(READ)


async def test_every_process_shares_one_budget(redis: Redis) -> None:
    first, second = _limiter(redis, per_minute=1), _limiter(redis, per_minute=1)
    for _ in range(3):
        await first.acquire(READ)

    await _deferral(second)


async def test_separate_keys_have_separate_budgets(redis: Redis) -> None:
    production = RedisRateLimiter(redis, per_minute=60, burst=0, max_wait_s=0, key="rl:prod")
    sandbox = RedisRateLimiter(redis, per_minute=60, burst=0, max_wait_s=0, key="rl:sandbox")
    await production.acquire(READ)

    await sandbox.acquire(READ)


async def test_a_429_holds_every_worker_until_the_reset(redis: Redis) -> None:
    first, second = _limiter(redis, per_minute=6_000), _limiter(redis, per_minute=6_000)
    stopwatch = _Stopwatch()
    await first.observe(_answer(429, limit=300, remaining=0, reset=30))

    stopwatch.assert_left(await _deferral(second), 30.0)
    assert first.stats.throttles == 1


async def test_a_429_without_headers_still_holds_back(redis: Redis) -> None:
    limiter = _limiter(redis, per_minute=6_000)
    stopwatch = _Stopwatch()
    await limiter.observe(_answer(429, limit=None, remaining=None, reset=None))

    stopwatch.assert_left(await _deferral(limiter), DEFAULT_RATE_LIMIT_WAIT_S)


async def test_a_low_remaining_budget_is_spread_to_the_reset(redis: Redis) -> None:
    limiter = _limiter(redis, per_minute=6_000)
    stopwatch = _Stopwatch()
    # 2 requests left of 300 for the next 60 s: one every 30 s.
    await limiter.observe(_answer(200, limit=300, remaining=2, reset=60))

    stopwatch.assert_left(await _deferral(limiter), 30.0)


async def test_a_healthy_remaining_budget_changes_nothing(redis: Redis) -> None:
    limiter = _limiter(redis, per_minute=6_000)
    await limiter.observe(_answer(200, limit=300, remaining=200, reset=20))

    await limiter.acquire(READ)
    assert limiter.stats.throttles == 0


async def test_short_waits_are_slept_inside_the_job(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    # The limiter's own sleep only: the minute's wait is recorded instead of spent.
    monkeypatch.setattr(ratelimit, "asyncio", SimpleNamespace(sleep=sleep))
    limiter = _limiter(redis, per_minute=1, burst=0, max_wait_s=120.0)
    stopwatch = _Stopwatch()
    await limiter.acquire(READ)
    await limiter.acquire(READ)

    assert limiter.stats.waits == 1
    assert slept == [limiter.stats.waited_s]
    stopwatch.assert_left(limiter.stats.waited_s, 60.0)


@pytest.mark.parametrize(("per_minute", "burst"), [(0, 1), (-5, 1), (60, -1)])
def test_nonsense_limits_are_refused(redis: Redis, per_minute: int, burst: int) -> None:
    with pytest.raises(ValueError, match="must"):
        RedisRateLimiter(redis, per_minute=per_minute, burst=burst)
