"""`RATE_LIMIT_PER_MINUTE`: a number as it is; `auto` read from Persona at worker start."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from jobs.context import persona_client, persona_http
from jobs.errors import ConfigError
from jobs.persona.client import PersonaClient
from jobs.persona.models import RateLimit, RateLimitAttributes
from jobs.persona.ratelimit import DEFAULT_BURST
from persona_sandbox import SandboxConfig, create_app, run_sandbox
from persona_sandbox.server import SandboxHandle
from settings import Settings
from tests.conftest import TEST_API_KEY
from worker.embedded_redis import RedisServer
from worker.lifecycle import BUDGET_KEY, RESOURCES_KEY, SETTINGS_KEY, shutdown, startup
from worker.rate_budget import FALLBACK_PER_MINUTE, RateBudget, budget_from_limits, rate_budget

API_URL = "http://persona.test/api/v1"


def api_limit(limit: int | None) -> RateLimit:
    return RateLimit(type="rate-limit/api", attributes=RateLimitAttributes(limit=limit))


def test_auto_keeps_a_fifth_of_the_limit_free() -> None:
    assert budget_from_limits([api_limit(300)]) == (300, RateBudget(240, DEFAULT_BURST))


def test_auto_burst_never_takes_the_budget_past_a_small_limit() -> None:
    limit, budget = budget_from_limits([api_limit(10)])
    assert budget.per_minute + budget.burst <= limit


def test_auto_without_an_api_limit_in_the_answer_is_refused() -> None:
    with pytest.raises(ValueError, match="no API rate limit"):
        budget_from_limits([RateLimit(type="rate-limit/other", attributes=RateLimitAttributes())])


@contextlib.asynccontextmanager
async def sandbox_client(settings: Settings, **config: Any) -> AsyncIterator[PersonaClient]:
    """The client of `settings`, reaching an in-process sandbox of `config`."""
    app = create_app(SandboxConfig(api_key=TEST_API_KEY, **config))
    async with persona_http(settings, transport=httpx.ASGITransport(app=app)) as http:
        yield persona_client(settings, http)


async def test_a_number_is_taken_as_it_is_without_asking_persona(make_settings: Any) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    settings = make_settings(rate_limit_per_minute=120)
    async with persona_http(settings, transport=httpx.MockTransport(refuse)) as http:
        budget = await rate_budget(settings, persona_client(settings, http))
    assert budget == RateBudget(120, DEFAULT_BURST)


async def test_auto_reads_the_environments_limit(make_settings: Any) -> None:
    settings = make_settings(rate_limit_per_minute="auto", persona_api_url=API_URL)
    async with sandbox_client(settings, rate_limit_per_minute=600) as persona:
        budget = await rate_budget(settings, persona)
    assert budget.per_minute == 480


async def test_auto_that_persona_refuses_names_the_setting(make_settings: Any) -> None:
    settings = make_settings(
        rate_limit_per_minute="auto",
        persona_api_url=API_URL,
        persona_api_key="persona_sandbox_not0the0right0key",
    )
    async with sandbox_client(settings) as persona:
        with pytest.raises(ConfigError, match=r"^RATE_LIMIT_PER_MINUTE=auto: .*401.*set a number"):
            await rate_budget(settings, persona)


async def test_auto_with_an_answer_outside_the_spec_names_the_setting(make_settings: Any) -> None:
    def garbled(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": {"limit": 300}})

    settings = make_settings(rate_limit_per_minute="auto")
    async with persona_http(settings, transport=httpx.MockTransport(garbled)) as http:
        with pytest.raises(ConfigError, match=r"^RATE_LIMIT_PER_MINUTE=auto: .*unexpected body"):
            await rate_budget(settings, persona_client(settings, http))


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(503, json={"errors": [{"title": "Service Unavailable"}]}),
        httpx.Response(429, headers={"RateLimit-Reset": "5"}, json={"errors": []}),
        httpx.ConnectError("refused"),
    ],
    ids=["503", "429", "unreachable"],
)
async def test_auto_while_persona_cannot_answer_starts_with_the_default_budget(
    make_settings: Any,
    answer: httpx.Response | httpx.ConnectError,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, httpx.ConnectError):
            raise answer
        return answer

    settings = make_settings(rate_limit_per_minute="auto")
    async with persona_http(settings, transport=httpx.MockTransport(down)) as http:
        budget = await rate_budget(settings, persona_client(settings, http))

    assert budget == RateBudget(FALLBACK_PER_MINUTE, DEFAULT_BURST, fallback=True)
    assert any(
        "RATE_LIMIT_PER_MINUTE=auto" in record.getMessage() and record.levelname == "WARNING"
        for record in caplog.records
    )


# --- at worker start -------------------------------------------------------------------------


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxHandle]:
    async with run_sandbox(SandboxConfig(api_key=TEST_API_KEY, rate_limit_per_minute=600)) as h:
        yield h


@pytest.fixture
def auto_ctx(
    make_settings: Any, redis_server: RedisServer, redis: Redis, sandbox: SandboxHandle
) -> Callable[..., dict[str, Any]]:
    def build(**overrides: Any) -> dict[str, Any]:
        settings = make_settings(
            redis_url=redis_server.url,
            persona_api_url=sandbox.url,
            rate_limit_per_minute="auto",
            **overrides,
        )
        return {SETTINGS_KEY: settings, "redis": redis}

    return build


def rate_limit_reads(sandbox: SandboxHandle) -> int:
    operations = sandbox.counters_json()["operations"]
    return sum(operations.get("list-all-rate-limits", {}).values())


@pytest.mark.redis
async def test_worker_start_sizes_the_limiter_from_persona(
    auto_ctx: Callable[..., dict[str, Any]], sandbox: SandboxHandle
) -> None:
    ctx = auto_ctx()
    await startup(ctx)
    try:
        assert ctx[BUDGET_KEY] == RateBudget(480, DEFAULT_BURST)
    finally:
        await shutdown(ctx)


@pytest.mark.redis
async def test_a_restarted_worker_does_not_ask_again(
    auto_ctx: Callable[..., dict[str, Any]], sandbox: SandboxHandle
) -> None:
    ctx = auto_ctx()
    await startup(ctx)
    await shutdown(ctx)
    await startup(ctx)
    await shutdown(ctx)
    assert rate_limit_reads(sandbox) == 1


@pytest.mark.redis
async def test_a_start_on_the_default_budget_asks_again_at_the_next_start(
    auto_ctx: Callable[..., dict[str, Any]], sandbox: SandboxHandle
) -> None:
    ctx = auto_ctx()
    ctx[BUDGET_KEY] = RateBudget(FALLBACK_PER_MINUTE, fallback=True)

    await startup(ctx)
    await shutdown(ctx)

    assert ctx[BUDGET_KEY] == RateBudget(480, DEFAULT_BURST)
    assert rate_limit_reads(sandbox) == 1


@pytest.mark.redis
async def test_a_failed_read_stops_the_start_and_leaves_nothing_open(
    auto_ctx: Callable[..., dict[str, Any]],
) -> None:
    ctx = auto_ctx(persona_api_key="persona_sandbox_not0the0right0key")
    with pytest.raises(ConfigError, match=r"^RATE_LIMIT_PER_MINUTE=auto"):
        await startup(ctx)
    assert RESOURCES_KEY not in ctx
    assert BUDGET_KEY not in ctx
