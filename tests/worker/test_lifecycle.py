"""The worker's start-up and shutdown: every resource opened is closed, in reverse order."""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from jobs.context import CTX_KEY, JobContext
from jobs.errors import ConfigError
from jobs.state.keys import KeySpace
from jobs.state.redis_typing import resolved
from settings import Settings
from worker.embedded_redis import RedisServer, free_port
from worker.lifecycle import RESOURCES_KEY, SETTINGS_KEY, shutdown, startup
from worker.metrics import MetricsServer

pytestmark = pytest.mark.redis

#: What each spied `aclose` is recorded as, in the order the process opens them.
_CLOSES: dict[str, tuple[type, str]] = {
    "http": (httpx.AsyncClient, "aclose"),
    "redis": (Redis, "aclose"),
    "metrics": (MetricsServer, "close"),
}


@pytest.fixture
def closed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the resources closed, in order (the real close still runs)."""
    order: list[str] = []

    def spy(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        async def aclose(self: object, *args: Any, **kwargs: Any) -> Any:
            order.append(name)
            return await original(self, *args, **kwargs)

        return aclose

    for name, (owner, method) in _CLOSES.items():
        monkeypatch.setattr(owner, method, spy(name, getattr(owner, method)))
    return order


@pytest.fixture
def worker_ctx(make_settings: Any, redis_server: RedisServer, redis: Redis) -> Callable[..., Any]:
    """arq's ctx for `startup`, with settings changed by keyword."""

    def build(**overrides: Any) -> dict[str, Any]:
        settings: Settings = make_settings(redis_url=redis_server.url, **overrides)
        return {SETTINGS_KEY: settings, "redis": redis}

    return build


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port someone else listens on."""
    with socket.create_server(("0.0.0.0", 0)) as sock:
        yield sock.getsockname()[1]


async def test_a_later_resource_failing_at_startup_closes_the_earlier_ones(
    worker_ctx: Callable[..., dict[str, Any]], closed: list[str], taken_port: int
) -> None:
    ctx = worker_ctx(metrics_port=taken_port)

    with pytest.raises(ConfigError, match=rf"^METRICS_PORT: cannot listen on {taken_port}"):
        await startup(ctx)

    assert closed == ["redis", "http"]
    assert RESOURCES_KEY not in ctx
    assert CTX_KEY not in ctx
    await shutdown(ctx)  # arq may still call on_shutdown: nothing is left to close
    assert closed == ["redis", "http"]


async def test_shutdown_closes_everything_in_reverse_order_once(
    worker_ctx: Callable[..., dict[str, Any]], closed: list[str]
) -> None:
    port = free_port()
    ctx = worker_ctx(metrics_port=port)
    await startup(ctx)
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"http://127.0.0.1:{port}/metrics")).status_code == 200
    assert isinstance(ctx[CTX_KEY], JobContext)

    await shutdown(ctx)
    await shutdown(ctx)

    assert closed == ["metrics", "redis", "http"]
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(f"http://127.0.0.1:{port}/metrics")


async def test_a_failing_close_is_logged_and_the_rest_still_close(
    worker_ctx: Callable[..., dict[str, Any]],
    closed: list[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    close = MetricsServer.close

    async def broken(self: MetricsServer) -> None:
        await close(self)
        raise OSError("connection reset")

    monkeypatch.setattr(MetricsServer, "close", broken)
    ctx = worker_ctx(metrics_port=free_port())
    await startup(ctx)
    with caplog.at_level(logging.ERROR, logger="worker.resources"):
        await shutdown(ctx)

    assert closed == ["metrics", "redis", "http"]
    assert [record.getMessage() for record in caplog.records] == [
        "closing the metrics endpoint failed"
    ]


async def test_a_redis_that_may_evict_keys_is_refused_and_nothing_stays_open(
    worker_ctx: Callable[..., dict[str, Any]],
    closed: list[str],
    set_eviction_policy: Callable[[str], Awaitable[None]],
) -> None:
    await set_eviction_policy("volatile-lru")
    ctx = worker_ctx()

    with pytest.raises(ConfigError, match="maxmemory-policy is volatile-lru; set it to noeviction"):
        await startup(ctx)

    assert closed == ["redis", "http"]
    assert RESOURCES_KEY not in ctx
    assert CTX_KEY not in ctx


async def test_a_prefix_another_queue_owns_is_refused_and_nothing_stays_open(
    worker_ctx: Callable[..., dict[str, Any]], closed: list[str]
) -> None:
    await startup(first := worker_ctx())
    await shutdown(first)
    closed.clear()
    ctx = worker_ctx(queue_name="another-queue")

    with pytest.raises(ConfigError, match="give each deployment its own KEY_PREFIX"):
        await startup(ctx)

    assert closed == ["redis", "http"]
    assert CTX_KEY not in ctx


async def test_the_override_starts_the_worker_on_a_redis_that_may_evict_keys(
    worker_ctx: Callable[..., dict[str, Any]],
    set_eviction_policy: Callable[[str], Awaitable[None]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await set_eviction_policy("allkeys-lru")
    ctx = worker_ctx(redis_allow_eviction=True)

    with caplog.at_level(logging.WARNING, logger="jobs.state.eviction"):
        await startup(ctx)
    await shutdown(ctx)

    assert any("allkeys-lru" in record.getMessage() for record in caplog.records)


async def test_startup_counts_followed_inquiries_written_without_counts(
    worker_ctx: Callable[..., dict[str, Any]], redis: Redis
) -> None:
    ctx = worker_ctx()
    keys = KeySpace(ctx[SETTINGS_KEY].key_prefix)
    # A record and a due entry as a version without status counts left them.
    await resolved(redis.hset(keys.inquiry("inq_old"), mapping={"since": "1", "status": "pending"}))
    await redis.zadd(keys.due, {"inq_old": 1})

    await startup(ctx)
    try:
        assert await ctx[CTX_KEY].ledger.status_counts() == {"pending": 1}
    finally:
        await shutdown(ctx)
