"""Start-up and shutdown of a worker process: build the process context, then close it.

The HTTP client, our Redis pool, the Persona client and (with `METRICS_PORT`) the metrics
endpoint are created once per process in `startup`, each registered on one
`contextlib.AsyncExitStack` as it opens (`worker.resources`). `shutdown` closes that stack:
everything in reverse order, a failed close logged without skipping the rest. When a later
step fails (Redis may evict keys, `jobs.state.eviction`, or the metrics port is taken), the
resources opened before it are closed the same way before the error leaves `startup`.
The shared rate limiter is sized by `RATE_LIMIT_PER_MINUTE`; with `auto`, from Persona's
answer, read once per process (`worker.rate_budget`); a failed read stops the start-up the same
way. A worker started by the `arq` CLI also takes over the process's logging here
(`worker.logs`), after arq configured its own.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from typing import Any

from arq.connections import ArqRedis

from jobs.context import CTX_KEY, JobContext, persona_client
from jobs.errors import ConfigError
from jobs.metrics import observe_api_call, record_rate_limit_wait
from jobs.persona.ratelimit import RedisRateLimiter
from jobs.state.deployment import claim_prefix
from jobs.state.eviction import check_eviction_policy
from jobs.state.keys import KeySpace
from jobs.state.ledger import Ledger
from settings import Settings
from worker.logs import configure_logging, redact_arq_records
from worker.metrics import MetricsServer
from worker.rate_budget import RateBudget, rate_budget
from worker.resources import close_on_exit, open_persona_http, open_redis

__all__ = [
    "BUDGET_KEY",
    "CONFIGURE_LOGS_KEY",
    "RESOURCES_KEY",
    "SETTINGS_KEY",
    "prepare_redis",
    "shutdown",
    "startup",
]

logger = logging.getLogger(__name__)

#: Where `WorkerSettings.ctx` carries the settings the process was started with.
SETTINGS_KEY = "settings"
#: When true in `WorkerSettings.ctx`, the worker owns the process and configures its logging
#: (the `arq` CLI); embedders (the demo, tests) keep their own.
CONFIGURE_LOGS_KEY = "configure_logs"
#: Where the exit stack that closes the process's resources lives between startup and shutdown.
RESOURCES_KEY = "resources"
#: Where the limiter's budget is kept once known: the `ctx` outlives an arq worker restarted
#: after a Redis outage, which then asks Persona nothing again.
BUDGET_KEY = "rate_budget"


def _limiter_waited(operation: str, seconds: float) -> None:
    """The limiter's `on_wait`: count the wait (the operation stays out of the labels)."""
    record_rate_limit_wait(seconds, reason="limiter")


async def _open_context(
    stack: AsyncExitStack, settings: Settings, queue: ArqRedis, ctx: dict[str, Any]
) -> JobContext:
    """The jobs' context around a new HTTP client and Redis pool, all closed with `stack`.

    Raises:
        ConfigError: `RATE_LIMIT_PER_MINUTE=auto` and Persona's limits could not be read.
    """
    http = open_persona_http(stack, settings)
    redis = open_redis(stack, settings)
    budget = ctx.get(BUDGET_KEY)
    if not isinstance(budget, RateBudget) or budget.fallback:
        budget = ctx[BUDGET_KEY] = await rate_budget(settings, persona_client(settings, http))
    # One budget for every worker process: Persona counts per environment, not per client.
    gate = RedisRateLimiter(
        redis,
        per_minute=budget.per_minute,
        burst=budget.burst,
        key=KeySpace(settings.key_prefix).rate_limit,
        on_wait=_limiter_waited,
    )
    persona = persona_client(settings, http, gate)
    context = JobContext.build(settings, persona=persona, redis=redis, queue=queue)
    persona.observers += [observe_api_call, context.history.api_call]
    close_on_exit(stack, "the console's history", context.history.close)
    return context


async def _serve_metrics(stack: AsyncExitStack, ledger: Ledger, port: int) -> None:
    """The metrics endpoint on `port`, stopped with `stack`.

    Raises:
        ConfigError: naming `METRICS_PORT`, when the port cannot be bound.
    """
    server = MetricsServer(ledger, port=port)
    try:
        await server.start()
    except OSError as exc:
        raise ConfigError(f"METRICS_PORT: cannot listen on {port}: {exc}") from None
    close_on_exit(stack, "the metrics endpoint", server.close)
    logger.info("metrics served on port %d at /metrics", server.port)


async def prepare_redis(context: JobContext) -> None:
    """Start-up's own Redis commands: refuse an evicting Redis and a prefix another deployment
    owns, then count the followed inquiries afresh (the ledger's scripts keep the counts;
    counting at start takes in records written by an older version, or touched by hand, while
    no worker ran)."""
    settings = context.settings
    await check_eviction_policy(context.redis, allow_eviction=settings.redis_allow_eviction)
    await claim_prefix(
        context.redis,
        context.keys,
        queue_name=settings.queue_name,
        stream=settings.results_stream,
    )
    await context.ledger.recount()


async def startup(ctx: dict[str, Any]) -> None:
    """arq's on_startup: create the process singletons and store the context in `ctx`."""
    settings: Settings = ctx[SETTINGS_KEY]
    if ctx.get(CONFIGURE_LOGS_KEY):
        configure_logging(settings)
    redact_arq_records()
    async with AsyncExitStack() as stack:
        context = await _open_context(stack, settings, ctx["redis"], ctx)
        await prepare_redis(context)
        if settings.metrics_port:
            await _serve_metrics(stack, context.ledger, settings.metrics_port)
        # Everything started: from here on `shutdown` closes it.
        ctx[RESOURCES_KEY] = stack.pop_all()
    ctx[CTX_KEY] = context
    logger.info(
        "worker ready: Persona at %s (version %s), queue %s, results to %s",
        settings.api_base_url,
        settings.persona_version,
        settings.queue_name,
        settings.results_stream,
    )


async def shutdown(ctx: dict[str, Any]) -> None:
    """arq's on_shutdown: close what `startup` opened, in reverse order (once)."""
    resources = ctx.pop(RESOURCES_KEY, None)
    if isinstance(resources, AsyncExitStack):
        await resources.aclose()
