"""The start-up check on Redis's eviction policy, against a real redis-server.

Redis holds every request's state: a policy that may evict keys loses requests silently, so
only `noeviction` passes, unless `REDIS_ALLOW_EVICTION` overrides it with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from jobs.errors import ConfigError
from jobs.state.eviction import check_eviction_policy

pytestmark = pytest.mark.redis

SetPolicy = Callable[[str], Awaitable[None]]


@pytest.mark.parametrize("policy", ["volatile-lru", "allkeys-lru"])
async def test_a_policy_that_evicts_is_refused_with_the_fix(
    redis: Redis, set_eviction_policy: SetPolicy, policy: str
) -> None:
    await set_eviction_policy(policy)

    with pytest.raises(ConfigError) as refused:
        await check_eviction_policy(redis, allow_eviction=False)

    message = str(refused.value)
    assert f"maxmemory-policy is {policy}" in message
    assert "CONFIG SET maxmemory-policy noeviction" in message
    assert "REDIS_ALLOW_EVICTION=true" in message


async def test_noeviction_passes_silently(
    redis: Redis, decoded_redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="jobs.state.eviction"):
        await check_eviction_policy(redis, allow_eviction=False)
        await check_eviction_policy(decoded_redis, allow_eviction=False)

    assert caplog.records == []


async def test_the_override_starts_with_a_warning_naming_the_policy_and_the_risk(
    redis: Redis, set_eviction_policy: SetPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    await set_eviction_policy("volatile-lru")

    with caplog.at_level(logging.WARNING, logger="jobs.state.eviction"):
        await check_eviction_policy(redis, allow_eviction=True)

    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "maxmemory-policy is volatile-lru" in record.getMessage()
    assert "lost" in record.getMessage()


class _InfoWithoutPolicy:
    """A server whose `INFO memory` lacks the field (no real redis-server omits it)."""

    async def info(self, section: str) -> dict[str, Any]:
        return {"used_memory": 1}


@pytest.mark.parametrize("allow", [False, True])
async def test_a_policy_that_cannot_be_read_is_refused_unless_overridden(
    allow: bool, caplog: pytest.LogCaptureFixture
) -> None:
    server: Any = _InfoWithoutPolicy()
    with caplog.at_level(logging.WARNING, logger="jobs.state.eviction"):
        if allow:
            await check_eviction_policy(server, allow_eviction=True)
        else:
            with pytest.raises(ConfigError, match="did not report its maxmemory-policy"):
                await check_eviction_policy(server, allow_eviction=False)

    assert [r.levelno for r in caplog.records] == ([logging.WARNING] if allow else [])
