"""Fixtures for the fault tests: a Redis of their own (it gets restarted), worker processes.

These tests kill and restart things, so they never touch the run's shared redis-server: each
gets a private one with AOF on (`appendfsync always`), on its own port, from the test's `stack`
(the harness the chaos run and the benchmarks use). Worker processes run the Procfile's command
(`python -m worker.run`) and are ended by their own pid when the stack closes, whatever the test
did; their logs stay in the test's `tmp_path`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, Final

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bench.stack import Stack
from bench.waiting import until
from jobs.producer import connect, enqueue_create
from jobs.state.keys import ARQ_IN_PROGRESS_PREFIX, KeySpace, is_cron_job_id
from jobs.state.results import ResultEvent, read_range
from persona_sandbox import FaultSettings, SandboxConfig
from tests.conftest import TEST_API_KEY
from worker.embedded_redis import RedisServer

#: The keys of the processes these tests start (the default `KEY_PREFIX`).
KEYS: Final = KeySpace()
STREAM: Final = KEYS.default_results_stream
QUEUE: Final = KEYS.default_queue


@pytest.fixture
async def own_redis(stack: Stack) -> RedisServer:
    """A redis-server for this test only, with AOF, so it can be restarted without loss."""
    return await stack.start_redis(aof=True)


@pytest.fixture
async def own_client(own_redis: RedisServer) -> AsyncIterator[Redis]:
    """A decoding client on the test's own Redis (it reconnects after a restart)."""
    client: Redis = Redis.from_url(own_redis.url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


def sandbox_config(**faults: Any) -> SandboxConfig:
    """An in-process sandbox on a fast clock, no rate limit, with these faults."""
    return SandboxConfig(
        api_key=TEST_API_KEY,
        rate_limit_per_minute=0,
        time_scale=600,
        faults=FaultSettings(**faults),
    )


async def enqueue_creates(
    redis_url: str, count: int, prefix: str, *, after_s: int, queue: str = QUEUE
) -> list[str]:
    """Enqueue `count` create requests (`<prefix>-<i>`, for `<prefix>-person-<i>`) whose people
    complete after `after_s` sandbox seconds; their job ids."""
    pool = await connect(redis_url, queue_name=queue)
    try:
        for index in range(count):
            await enqueue_create(
                pool,
                reference_id=f"{prefix}-person-{index}",
                note=f"sandbox-outcome=completed sandbox-after={after_s}",
                job_id=f"{prefix}-{index}",
            )
    finally:
        await pool.aclose()
    return [f"{prefix}-{index}" for index in range(count)]


async def wait_for(
    condition: Callable[[], Any], timeout_s: float, what: str, *, every_s: float = 0.05
) -> Any:
    """Wait until `condition()` (sync or async) is truthy; its value.

    A Redis error counts as "not yet": these tests restart Redis under the condition's feet.
    """
    return await until(
        condition, timeout_s=timeout_s, what=what, every_s=every_s, tolerate=(RedisError, OSError)
    )


async def results(client: Redis) -> list[ResultEvent]:
    """Every results-stream entry, oldest first."""
    return await read_range(client, STREAM)


def answered(events: list[ResultEvent], request_id: str) -> list[ResultEvent]:
    """The events answering one request (a result's `request_id`, a failure's `job_id`)."""
    return [event for event in events if event.answers(request_id)]


async def running_jobs(client: Redis) -> list[str]:
    """Jobs marked in progress, apart from the cron jobs (the polling tick and the sweep keep
    their mark on purpose)."""
    keys = [key async for key in client.scan_iter(match=ARQ_IN_PROGRESS_PREFIX + "*")]
    return [key for key in keys if not is_cron_job_id(key.removeprefix(ARQ_IN_PROGRESS_PREFIX))]
