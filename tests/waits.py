"""Letting a worker's long waits pass at once, so tests of many rate-limit windows stay fast.

A job that waits (a 429's window, a deferral by the shared limiter, a backoff after a failure)
is parked in arq's queue with a later score, and the shared limiter keeps a floor in Redis that
holds every request back. `waits_pass_at_once` plays the part of time passing for both: while
its body runs it moves every parked job of the queue to now and clears the limiter's state,
every few milliseconds. The worker itself runs unchanged; only the clock it waits on is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Final

from redis.asyncio import Redis

__all__ = ["LIMITER_KEY", "waits_pass_at_once"]

#: The shared limiter's key in Redis (`RedisRateLimiter`'s default).
LIMITER_KEY: Final = "persona:ratelimit"
#: How often the parked jobs are moved: far shorter than any wait a worker schedules.
_TICK_S: Final = 0.005


async def _skip_waits(redis: Redis, queue: str) -> None:
    while True:
        now_ms = int(time.time() * 1000)
        parked = await redis.zrangebyscore(queue, f"({now_ms}", "+inf")
        async with redis.pipeline(transaction=True) as pipe:
            if parked:
                pipe.zadd(queue, dict.fromkeys(parked, now_ms), xx=True, lt=True)
            pipe.delete(LIMITER_KEY)
            await pipe.execute()
        await asyncio.sleep(_TICK_S)


@contextlib.asynccontextmanager
async def waits_pass_at_once(redis: Redis, queue: str) -> AsyncIterator[None]:
    """For the body: parked jobs of `queue` fall due at once and the limiter never holds back."""
    task = asyncio.create_task(_skip_waits(redis, queue))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
