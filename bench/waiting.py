"""Waiting on the pipeline from outside: a condition, results on the stream, an idle queue.

Neither the benchmark nor the tests sleep for a fixed time to let something happen: they wait
for the thing itself, with one generous deadline, so a run goes on as soon as it can and a
stuck one fails with a message naming what it waited for instead of hanging. Results are
waited for with blocking reads of the stream (`jobs.state.results`); conditions with no event
to block on (a queue draining, a process's state) are looked at every few milliseconds.

The worker's cron jobs (the polling tick, the sweep) are queued and run for ever, so "idle"
leaves them out; and a followed inquiry has no job between its checks, so a deployment is done
only when the request ledger has no open request either (`idle(..., keys=...)`).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

from redis.asyncio import Redis

from jobs.state.keys import ARQ_IN_PROGRESS_PREFIX, KeySpace, is_cron_job_id
from jobs.state.results import wait_for_length

__all__ = ["idle", "settle", "until", "wait_for_results"]

T = TypeVar("T")

#: arq marks a job it runs with `arq:in-progress:<job id>`.
#: The names of the worker's cron jobs after their deployment's prefix (`worker.arq_settings`).


@overload
async def until(
    condition: Callable[[], Awaitable[T]],
    *,
    timeout_s: float,
    what: str,
    every_s: float = ...,
    tolerate: tuple[type[BaseException], ...] = ...,
) -> T: ...


@overload
async def until(
    condition: Callable[[], T],
    *,
    timeout_s: float,
    what: str,
    every_s: float = ...,
    tolerate: tuple[type[BaseException], ...] = ...,
) -> T: ...


async def until(
    condition: Callable[[], Any],
    *,
    timeout_s: float,
    what: str,
    every_s: float = 0.05,
    tolerate: tuple[type[BaseException], ...] = (),
) -> Any:
    """Look at `condition()` (sync or async) until it is truthy; return that value.

    Args:
        tolerate: exceptions that count as "not yet" (e.g. Redis errors while it restarts).

    Raises:
        TimeoutError: still falsy after `timeout_s`; the message names `what`.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = condition()
            if inspect.isawaitable(value):
                value = await value
        except tolerate:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:g} s waiting for {what}")
        await asyncio.sleep(every_s)


async def idle(
    redis: Redis, queue: str, *, only_due: bool = False, keys: KeySpace | None = None
) -> bool:
    """Whether no pipeline job is queued and none is running (cron jobs aside).

    Args:
        redis: a client that decodes answers.
        only_due: count only queued jobs due by now (a follow-up scheduled later is fine).
        keys: the deployment's keys: then also no request may be waiting for its answer (a
            followed inquiry has no job between its checks).
    """
    if keys is not None and await redis.zcard(keys.open_requests):
        return False
    upper = int(time.time() * 1000) if only_due else "+inf"
    if any(not is_cron_job_id(job) for job in await redis.zrangebyscore(queue, "-inf", upper)):
        return False
    async for key in redis.scan_iter(match=ARQ_IN_PROGRESS_PREFIX + "*", count=1_000):
        if not is_cron_job_id(key.removeprefix(ARQ_IN_PROGRESS_PREFIX)):
            return False
    return True


async def settle(
    redis: Redis, queue: str, *, timeout_s: float = 30.0, keys: KeySpace | None = None
) -> None:
    """Wait until no pipeline job is due or running (and, given `keys`, every request of the
    deployment has its answer).

    Raises:
        TimeoutError: the queue did not settle in time.
    """
    await until(
        lambda: idle(redis, queue, only_due=True, keys=keys),
        timeout_s=timeout_s,
        what=f"{queue} to settle",
    )


async def wait_for_results(
    redis: Redis,
    stream: str,
    count: int,
    *,
    timeout_s: float,
    followed_by: KeySpace | None = None,
) -> int:
    """Wait until the stream holds `count` entries; return the peak of inquiries followed by
    the deployment `followed_by` (its due set, sampled at every new result and at least ten
    times a second; 0 without it).

    Raises:
        TimeoutError: not all results arrived in time (the message says how many did).
    """
    peak = 0

    async def sample() -> None:
        nonlocal peak
        assert followed_by is not None
        peak = max(peak, int(await redis.zcard(followed_by.due)))

    await wait_for_length(
        redis,
        stream,
        count,
        timeout_s=timeout_s,
        each=sample if followed_by is not None else None,
        every_ms=100,
    )
    return peak
