"""The shared rate limiter on a real Redis: budget, burst, priority, and Persona's signals."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from jobs.errors import RateLimitedError
from jobs.persona.client import ApiCall, RateLimitInfo
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


async def _deferral(limiter: RedisRateLimiter, operation: str = READ) -> float:
    with pytest.raises(RateLimitedError) as raised:
        await limiter.acquire(operation)
    assert raised.value.retry_after_s is not None
    return raised.value.retry_after_s


async def test_reads_may_burst_then_wait_for_the_steady_rate(redis: Redis) -> None:
    limiter = _limiter(redis)
    for _ in range(3):
        await limiter.acquire(READ)

    assert 0 < await _deferral(limiter) <= 1.0


async def test_creates_get_no_burst(redis: Redis) -> None:
    limiter = _limiter(redis)
    await limiter.acquire(CREATE)

    assert 0 < await _deferral(limiter, CREATE) <= 1.0


async def test_reads_go_ahead_of_a_waiting_create(redis: Redis) -> None:
    limiter = _limiter(redis)
    await limiter.acquire(CREATE)
    await _deferral(limiter, CREATE)

    await limiter.acquire(READ)


async def test_every_process_shares_one_budget(redis: Redis) -> None:
    first, second = _limiter(redis), _limiter(redis)
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
    await first.observe(_answer(429, limit=300, remaining=0, reset=30))

    assert 29 <= await _deferral(second) <= 30
    assert first.stats.throttles == 1


async def test_a_429_without_headers_still_holds_back(redis: Redis) -> None:
    limiter = _limiter(redis, per_minute=6_000)
    await limiter.observe(_answer(429, limit=None, remaining=None, reset=None))

    assert 4 <= await _deferral(limiter) <= 5


async def test_a_low_remaining_budget_is_spread_to_the_reset(redis: Redis) -> None:
    limiter = _limiter(redis, per_minute=6_000)
    await limiter.observe(_answer(200, limit=300, remaining=10, reset=20))

    assert 1.5 <= await _deferral(limiter) <= 2.0


async def test_a_healthy_remaining_budget_changes_nothing(redis: Redis) -> None:
    limiter = _limiter(redis, per_minute=6_000)
    await limiter.observe(_answer(200, limit=300, remaining=200, reset=20))

    await limiter.acquire(READ)
    assert limiter.stats.throttles == 0


async def test_short_waits_are_slept_inside_the_job(redis: Redis) -> None:
    limiter = _limiter(redis, per_minute=1_200, burst=0, max_wait_s=5.0)
    await limiter.acquire(READ)
    await limiter.acquire(READ)

    assert limiter.stats.waits == 1
    assert 0 < limiter.stats.waited_s <= 0.05


@pytest.mark.parametrize(("per_minute", "burst"), [(0, 1), (-5, 1), (60, -1)])
def test_nonsense_limits_are_refused(redis: Redis, per_minute: int, burst: int) -> None:
    with pytest.raises(ValueError, match="must"):
        RedisRateLimiter(redis, per_minute=per_minute, burst=burst)
