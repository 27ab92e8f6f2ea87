"""End-to-end harness: a real redis-server, the sandbox in-process, arq workers in the test loop.

The sandbox runs on a fast clock (one sandbox minute in 0.1 real seconds), so a person's whole
inquiry plays out in a fraction of a second, and the worker polls on matching short intervals.
Burst workers stop by themselves once arq's queue is empty, so "run the worker" is also "wait
until every chain has ended": no sleeps stand in for synchronisation. The harness itself is
shared with the action tests (`tests.harness`); this package adds a producer pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis
from redis.asyncio import Redis

from jobs.context import JobContext, persona_client
from jobs.producer import connect, enqueue_create
from persona_sandbox import SandboxConfig
from settings import Settings
from tests.conftest import TEST_API_KEY
from tests.harness import Harness, marked, sandbox_and_settings
from worker.embedded_redis import RedisServer

#: Sandbox seconds per real second: a 60 s person takes 0.1 s.
TIME_SCALE = 600.0
#: Longest a burst run (or a wait) may take before a test fails instead of hanging.
RUN_TIMEOUT_S = 60.0


@dataclass
class Pipeline(Harness):
    """What a pipeline test drives: the shared harness plus an arq pool for the producer."""

    pool: ArqRedis

    async def create(self, reference_id: str, note: str | None = None, **options: Any) -> str:
        """Enqueue `create_inquiry` through the producer helper; return its job id."""
        job_id = options.pop("job_id", None) or f"create-{reference_id}"
        await enqueue_create(
            self.pool, reference_id=reference_id, note=note, job_id=job_id, **options
        )
        return str(job_id)


@pytest.fixture
def sandbox_config(request: pytest.FixtureRequest) -> SandboxConfig:
    """The test's sandbox: fast defaults, changed per test with `@pytest.mark.sandbox(...)`."""
    values: dict[str, Any] = {
        "api_key": TEST_API_KEY,
        "rate_limit_per_minute": 0,
        "time_scale": TIME_SCALE,
        "decision_after_s": 30.0,
        "review_after_s": 60.0,
    }
    values.update(marked(request, "sandbox"))
    return SandboxConfig(**values)


@pytest.fixture
def pipeline_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings changed per test (`@pytest.mark.settings(...)`) or per module (override)."""
    return marked(request, "settings")


@pytest.fixture
async def pipeline(
    redis_server: RedisServer,
    decoded_redis: Redis,
    make_settings: Callable[..., Settings],
    sandbox_config: SandboxConfig,
    pipeline_overrides: dict[str, Any],
) -> AsyncIterator[Pipeline]:
    """The sandbox on a free loopback port, our settings pointing at it, a clean Redis."""
    values: dict[str, Any] = {
        # The shared limiter has its own tests; here it must not slow the pipeline down.
        "rate_limit_per_minute": 60_000,
        **pipeline_overrides,
    }
    async with sandbox_and_settings(sandbox_config, make_settings, redis_server.url, values) as (
        sandbox,
        settings,
    ):
        pool = await connect(redis_server.url, queue_name=settings.queue_name)
        try:
            yield Pipeline(settings, sandbox, decoded_redis, pool=pool, wait_s=RUN_TIMEOUT_S)
        finally:
            await pool.aclose()


@pytest.fixture
async def receiver(pipeline: Pipeline) -> AsyncIterator[JobContext]:
    """A job context as the webhook receiver builds one, on the test's Redis and queue."""
    async with httpx.AsyncClient(base_url=pipeline.sandbox.url) as http:
        yield JobContext.build(
            pipeline.settings,
            persona=persona_client(pipeline.settings, http),
            redis=pipeline.redis,
            queue=pipeline.pool,
        )


async def follow_one(context: JobContext, request_id: str, *, status: str) -> float:
    """Make a request follow `inq_1` (last known in `status`), next checked in ten minutes;
    when that check is due."""
    now = context.clock()
    await context.ledger.open(request_id, "poll_inquiry", now)
    await context.ledger.follow(
        "inq_1", request_id, reference_id=None, status=status, now=now, first_due=now + 600
    )
    due = await context.redis.zscore(context.keys.due, "inq_1")
    assert due is not None
    return float(due)


async def answered_then_followed(context: JobContext, *, answer: str, status: str) -> None:
    """`poll-1` followed `inq_1` and has its answer, `answer`; `poll-2` follows it now (the
    inquiry's next answer round), with the status last known as `status`."""
    await follow_one(context, "poll-1", status=status)
    record = await context.ledger.inquiry("inq_1")
    assert record is not None
    await context.ledger.answer_followers(
        record, event=f"inquiry.{answer}", status=answer, data_for={"poll-1": {}}, now=1.0
    )
    await follow_one(context, "poll-2", status=status)
