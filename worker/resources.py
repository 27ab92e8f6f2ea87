"""The connections a process opens at start-up, each closed by the exit stack it is put on.

The worker (`worker.lifecycle`) and the web app (`worker.web`) open their HTTP client and Redis
pool here onto a `contextlib.AsyncExitStack`: whatever opens later, the stack closes everything
in reverse order, also when a later step of the start-up fails. A close that fails is logged
with what it was closing and never stops the closes after it, so one broken connection cannot
leak the others.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

import httpx
from redis.asyncio import Redis

from jobs.context import persona_http
from jobs.state.connections import RedisTimeouts, redis_client
from settings import Settings

__all__ = ["close_on_exit", "open_persona_http", "open_redis"]

logger = logging.getLogger(__name__)


def close_on_exit(
    stack: AsyncExitStack, what: str, aclose: Callable[[], Awaitable[object]]
) -> None:
    """Have `stack` await `aclose()` when it closes; a failure is logged, naming `what`."""

    async def close() -> None:
        try:
            await aclose()
        except Exception:
            logger.exception("closing %s failed", what)

    stack.push_async_callback(close)


def open_persona_http(stack: AsyncExitStack, settings: Settings) -> httpx.AsyncClient:
    """The process's HTTP client for Persona, closed with `stack`."""
    http = persona_http(settings)
    close_on_exit(stack, "the HTTP client", http.aclose)
    return http


def open_redis(stack: AsyncExitStack, settings: Settings) -> Redis:
    """Our Redis pool (decoded answers, bounded waits) on `REDIS_URL`, closed with `stack`."""
    redis = redis_client(str(settings.redis_url), RedisTimeouts.from_settings(settings))
    close_on_exit(stack, "the Redis client", redis.aclose)
    return redis
