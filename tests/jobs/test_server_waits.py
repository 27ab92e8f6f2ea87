"""A wait a server asks for is taken at most at `MAX_SERVER_WAIT_S`, wherever it is read.

Regression: a `RateLimit-Reset` or `Retry-After` of ten years was taken at its word: the job
was parked for ten years, and the shared limiter's floor held every worker back as long.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, Final

import httpx
import pytest
from arq import Retry
from pydantic import SecretStr
from redis.asyncio import Redis

from jobs.actions.decide_inquiry import decide_inquiry
from jobs.context import CTX_KEY, JobContext
from jobs.persona.client import PersonaClient
from jobs.persona.ratelimit import RedisRateLimiter
from jobs.pipeline.create_inquiry import create_inquiry
from jobs.state.redis_typing import resolved
from tests.conftest import TEST_API_KEY

pytestmark = pytest.mark.redis

#: The clamp: Persona's window is a minute; two windows is the most any header is taken at.
CLAMP_S: Final = 120.0
TEN_YEARS_S: Final = 10 * 365 * 86_400
LIMITER_KEY: Final = "persona:ratelimit"

TEN_YEAR_WAITS = {
    "ratelimit-reset": {"RateLimit-Reset": str(TEN_YEARS_S)},
    "retry-after-seconds": {"Retry-After": str(TEN_YEARS_S)},
    "retry-after-date": {
        "Retry-After": format_datetime(datetime.now(UTC) + timedelta(days=3_650), usegmt=True)
    },
}

JOBS: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
    "create": (create_inquiry, {"reference_id": "person-1"}),
    "action": (decide_inquiry, {"inquiry_id": "inq_1", "decision": "approve"}),
}


def _gated_context(context: JobContext, redis: Redis, headers: dict[str, str]) -> JobContext:
    """The context with a Persona that answers 429 with `headers`, behind the shared limiter."""

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429, json={"errors": [{"title": "Rate limit exceeded"}]}, headers=headers
        )

    http = httpx.AsyncClient(
        base_url="http://persona.test/api/v1", transport=httpx.MockTransport(handle)
    )
    gate = RedisRateLimiter(redis, per_minute=6_000, key=LIMITER_KEY)
    persona = PersonaClient(http, api_key=SecretStr(TEST_API_KEY), gate=gate)
    return dataclasses.replace(context, persona=persona)


async def _floor_ahead_s(redis: Redis) -> float:
    """How far ahead of Redis's clock the limiter holds every worker back."""
    floor = await resolved(redis.hget(LIMITER_KEY, "floor"))
    seconds, micros = await redis.time()
    return float(floor or 0) / 1000 - (float(seconds) + float(micros) / 1e6)


@pytest.mark.parametrize("headers", list(TEN_YEAR_WAITS.values()), ids=list(TEN_YEAR_WAITS))
@pytest.mark.parametrize("job_name", list(JOBS))
async def test_a_wait_of_ten_years_parks_nothing_beyond_the_clamp(
    context: JobContext, decoded_redis: Redis, headers: dict[str, str], job_name: str
) -> None:
    job, kwargs = JOBS[job_name]
    gated = _gated_context(context, decoded_redis, headers)

    with pytest.raises(Retry) as retry:
        await job({CTX_KEY: gated, "job_id": "job-1", "job_try": 1}, **kwargs)

    parked_s = (retry.value.defer_score or 0) / 1000
    assert CLAMP_S - 1 <= parked_s <= CLAMP_S + 1, "the window's wait, at most the clamp"
    # Only a 429's RateLimit-Reset moves the floor; either way never past the clamp.
    assert await _floor_ahead_s(decoded_redis) <= CLAMP_S


async def test_a_far_reset_with_little_budget_left_holds_back_no_longer_than_the_clamp(
    decoded_redis: Redis,
) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        headers = {
            "RateLimit-Limit": "300",
            "RateLimit-Remaining": "1",
            "RateLimit-Reset": str(TEN_YEARS_S),
        }
        return httpx.Response(200, json={"data": [], "links": {}}, headers=headers)

    gate = RedisRateLimiter(decoded_redis, per_minute=6_000, key=LIMITER_KEY)
    async with httpx.AsyncClient(
        base_url="http://persona.test/api/v1", transport=httpx.MockTransport(handle)
    ) as http:
        persona = PersonaClient(http, api_key=SecretStr(TEST_API_KEY), gate=gate)
        await persona.list_inquiries()

    assert persona.last_rate_limit.reset_s == CLAMP_S
    assert 0 < await _floor_ahead_s(decoded_redis) <= CLAMP_S
