"""Shared fixtures: isolated settings, a real redis-server per run, a clean Redis per test, and
a stack for the tests that start processes."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from bench.stack import Stack
from settings import Settings, load_settings
from worker.embedded_redis import RedisServer

TEST_API_KEY = "persona_sandbox_test0key0for0tests"
TEST_TEMPLATE_ID = "itmpl_TestTemplate000000000000"
TEST_WEBHOOK_SECRET = "wbhsec_test_secret"

_SETTINGS_ENV = {name.upper() for name in Settings.model_fields}
#: The settings of the processes tests start: the test credentials, fast polling on a grid
#: scaled like it (the default grid is 10 s), short timeouts, no waiting on the shared limiter.
PROCESS_SETTINGS: Mapping[str, Any] = {
    "persona_api_key": TEST_API_KEY,
    "persona_template_id": TEST_TEMPLATE_ID,
    "persona_webhook_secrets": TEST_WEBHOOK_SECRET,
    "poll_min_interval_s": 0.05,
    "poll_max_interval_s": 0.2,
    "poll_tick_s": 0.05,
    "http_timeout_s": 3.0,
    "job_timeout_s": 8.0,
    "rate_limit_per_minute": 60_000,
    "log_level": "INFO",
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's environment and `.env` out of every test."""
    for name in list(os.environ):
        if name in _SETTINGS_ENV:
            monkeypatch.delenv(name)


@pytest.fixture
def make_settings() -> Any:
    """Build settings for a test from overrides, ignoring any `.env` file."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "persona_api_key": TEST_API_KEY,
            "persona_api_url": "http://persona.test/api/v1",
            "persona_template_id": TEST_TEMPLATE_ID,
            "persona_webhook_secrets": TEST_WEBHOOK_SECRET,
            "_env_file": None,
        }
        values.update(overrides)
        return load_settings(**values)

    return build


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole run, on a free loopback port."""
    server = RedisServer()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A client on the run's redis-server, flushed before each test."""
    client: Redis = Redis.from_url(redis_server.url)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
async def decoded_redis(redis: Redis, redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A client on the same (already flushed) server that decodes answers to str."""
    client: Redis = Redis.from_url(redis_server.url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def set_eviction_policy(redis: Redis) -> AsyncIterator[Callable[[str], Awaitable[None]]]:
    """Set the run's redis-server's `maxmemory-policy`; `noeviction` again afterwards."""

    async def set_policy(policy: str) -> None:
        await redis.config_set("maxmemory-policy", policy)

    yield set_policy
    await set_policy("noeviction")


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """Processes for one test (the sandbox, workers, the web app, private Redis servers) on
    loopback, with `PROCESS_SETTINGS`; each is stopped by its own pid afterwards, and their
    logs stay in the test's `tmp_path`."""
    async with Stack.open(base=PROCESS_SETTINGS, workdir=tmp_path) as opened:
        yield opened
