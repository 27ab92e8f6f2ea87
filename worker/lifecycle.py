"""Start-up and shutdown of a worker process: build the process context, then close it.

The HTTP client, our Redis pool, the Persona client and (with `METRICS_PORT`) the metrics
endpoint are created once per process in `startup` and closed in `shutdown`, each close in its
own `try`, so one failure does not skip the rest. A worker started by the `arq` CLI also takes
over the process's logging here (`worker.logs`), after arq configured its own.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.asyncio import Redis

from jobs.context import CTX_KEY, JobContext, persona_client, persona_http
from jobs.errors import ConfigError
from jobs.metrics import observe_api_call, record_rate_limit_wait
from jobs.persona.ratelimit import RedisRateLimiter
from settings import Settings
from worker.logs import configure_logging, redact_arq_records
from worker.metrics import MetricsServer

__all__ = ["CONFIGURE_LOGS_KEY", "SETTINGS_KEY", "shutdown", "startup"]

logger = logging.getLogger(__name__)

#: Where `WorkerSettings.ctx` carries the settings the process was started with.
SETTINGS_KEY = "settings"
#: When true in `WorkerSettings.ctx`, the worker owns the process and configures its logging
#: (the `arq` CLI); embedders (the demo, tests) keep their own.
CONFIGURE_LOGS_KEY = "configure_logs"
#: Where the worker's metrics endpoint lives between startup and shutdown.
METRICS_SERVER_KEY = "metrics_server"


def _limiter_waited(operation: str, seconds: float) -> None:
    """The limiter's `on_wait`: count the wait (the operation stays out of the labels)."""
    record_rate_limit_wait(seconds, reason="limiter")


async def startup(ctx: dict[str, Any]) -> None:
    """arq's on_startup: create the process singletons and store the context in `ctx`."""
    settings: Settings = ctx[SETTINGS_KEY]
    if ctx.get(CONFIGURE_LOGS_KEY):
        configure_logging(settings)
    redact_arq_records()
    http = persona_http(settings)
    redis: Redis = Redis.from_url(str(settings.redis_url), decode_responses=True)
    # One budget for every worker process: Persona counts per environment, not per client.
    gate = RedisRateLimiter(
        redis, per_minute=settings.rate_limit_per_minute, on_wait=_limiter_waited
    )
    persona = persona_client(settings, http, gate)
    persona.observers.append(observe_api_call)
    ctx["http"] = http
    ctx[CTX_KEY] = JobContext.build(settings, persona=persona, redis=redis, queue=ctx["redis"])
    if settings.metrics_port:
        server = MetricsServer(redis, port=settings.metrics_port)
        try:
            await server.start()
        except OSError as exc:
            port = settings.metrics_port
            raise ConfigError(f"METRICS_PORT: cannot listen on {port}: {exc}") from None
        ctx[METRICS_SERVER_KEY] = server
        logger.info("metrics served on port %d at /metrics", server.port)
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
    server = ctx.pop(METRICS_SERVER_KEY, None)
    if isinstance(server, MetricsServer):
        try:
            await server.close()
        except Exception:
            logger.exception("stopping the metrics endpoint failed")
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
