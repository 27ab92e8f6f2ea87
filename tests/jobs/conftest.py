"""Fixtures of the domain tests: a job context on a real Redis, with no Persona behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from arq.connections import ArqRedis
from redis.asyncio import Redis

from jobs.context import JobContext, persona_client
from jobs.producer import connect
from settings import Settings
from worker.embedded_redis import RedisServer


@pytest.fixture
async def context(
    make_settings: Callable[..., Settings], redis_server: RedisServer, decoded_redis: Redis
) -> AsyncIterator[JobContext]:
    """A context as a worker builds it; its Persona client reaches nothing (no test calls it)."""
    settings = make_settings(redis_url=redis_server.url)
    queue: ArqRedis = await connect(redis_server.url, queue_name=settings.queue_name)
    async with httpx.AsyncClient(base_url="http://persona.test") as http:
        yield JobContext.build(
            settings,
            persona=persona_client(settings, http),
            redis=decoded_redis,
            queue=queue,
        )
    await queue.aclose()
