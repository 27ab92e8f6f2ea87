"""Start-up and shutdown of a worker process: build the process context, then close it.

The HTTP client, our Redis pool and the Persona client are created once per process in
`startup` and closed in `shutdown`, each close in its own `try`, so one failure does not skip
the rest.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.asyncio import Redis

from jobs.client import PersonaClient
from jobs.context import CTX_KEY, JobContext
from jobs.ratelimit import RedisRateLimiter
from settings import Settings

__all__ = ["SETTINGS_KEY", "shutdown", "startup"]

logger = logging.getLogger(__name__)

#: Where `WorkerSettings.ctx` carries the settings the process was started with.
SETTINGS_KEY = "settings"


async def startup(ctx: dict[str, Any]) -> None:
    """arq's on_startup: create the process singletons and store the context in `ctx`."""
    settings: Settings = ctx[SETTINGS_KEY]
    http = PersonaClient.build_http(settings)
    redis: Redis = Redis.from_url(str(settings.redis_url), decode_responses=True)
    # One budget for every worker process: Persona counts per environment, not per client.
    gate = RedisRateLimiter(redis, per_minute=settings.rate_limit_per_minute)
    persona = PersonaClient.from_settings(settings, http, gate)
    ctx["http"] = http
    ctx[CTX_KEY] = JobContext.build(settings, persona=persona, redis=redis, queue=ctx["redis"])
    logger.info(
        "worker ready: Persona at %s (version %s), queue %s, results to %s",
        settings.api_base_url,
        settings.persona_version,
        settings.queue_name,
        settings.results_stream,
    )


async def shutdown(ctx: dict[str, Any]) -> None:
    """arq's on_shutdown: close what `startup` opened."""
    context = ctx.get(CTX_KEY)
    http = ctx.get("http")
    if isinstance(context, JobContext):
        try:
            await context.batcher.aclose()
        except Exception:
            logger.exception("answering the last status checks failed")
    if http is not None:
        try:
            await http.aclose()
        except Exception:
            logger.exception("closing the HTTP client failed")
    if isinstance(context, JobContext):
        try:
            await context.redis.aclose()
        except Exception:
            logger.exception("closing the Redis client failed")
