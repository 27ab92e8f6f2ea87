"""The `web` process: Persona's webhooks in, liveness and readiness out.

`POST /webhooks/persona` reads the raw body (bounded in size, time and memory:
`worker.request_body`), verifies `Persona-Signature` over those exact bytes, reads the event
envelope and hands it to `jobs.webhooks.events`, answering 202 well inside Persona's 5-second
limit: the work itself happens in the worker. Refusals touch nothing: 400 for a missing or
malformed signature header or a body that is not a Persona event, 401 for a signature that does
not match (or is stale when a tolerance is set), 408 for a body slower than
`WEBHOOK_READ_TIMEOUT_S`, 413 for a body over `WEBHOOK_MAX_BODY_BYTES`, 415 for a non-JSON
content type. When Redis is unreachable, or the body had to be dropped to keep the memory of
arriving bodies bounded, the answer is 503, so Persona delivers the event again later. A sender
that disconnects mid-body is let go with a debug line.

Every route sits behind `worker.concurrency_cap` (`WEB_MAX_CONCURRENCY` requests at once, 503
beyond), so the bounds hold wherever the app is served.

The app refuses to be built without a webhook secret (`PERSONA_WEBHOOK_SECRETS`), and to start on
a Redis that may evict keys (`jobs.state.eviction`).

`GET /metrics` serves the process's Prometheus metrics (`worker.metrics`), `GET /healthz` says
the process answers and `GET /readyz` that Redis does. Started by uvicorn from the environment
(`uvicorn --factory worker.web:create_app`), the app also configures the process's logging
(`worker.logs`); given settings explicitly (tests, embedding), it leaves logging alone.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from arq.connections import ArqRedis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from jobs.context import JobContext, persona_client
from jobs.errors import ConfigError, WebhookError
from jobs.metrics import observe_webhook
from jobs.producer import connect
from jobs.state.connections import RedisTimeouts
from jobs.state.deployment import claim_prefix
from jobs.state.eviction import check_eviction_policy
from jobs.state.keys import KeySpace
from jobs.webhooks.events import handle_event, parse_event
from jobs.webhooks.signature import verify
from settings import Settings, load_settings
from worker.concurrency_cap import ConcurrencyCap
from worker.console import console_routes
from worker.logs import configure_logging
from worker.metrics import scrape
from worker.request_body import BodyBudget, BodyError, BodyTooLargeError, read_body
from worker.resources import close_on_exit, open_persona_http, open_redis

__all__ = ["BodyTooLargeError", "create_app", "require_webhook_secrets"]

logger = logging.getLogger(__name__)


def require_webhook_secrets(settings: Settings) -> None:
    """Refuse to serve webhooks without a secret to check them with.

    Without one every delivery would be refused with 401 while the process looks healthy; the
    worker needs no secret, so this is the web process's own start-up check.

    Raises:
        ConfigError: `PERSONA_WEBHOOK_SECRETS` is empty.
    """
    if not settings.persona_webhook_secrets:
        raise ConfigError(
            "invalid configuration:\n  PERSONA_WEBHOOK_SECRETS: the web process needs at least"
            " one webhook secret (wbhsec_...), comma-separated during a rotation"
        )


def _refusal(context: JobContext, error: WebhookError, *, close: bool = False) -> JSONResponse:
    """Log and count a refused delivery (metrics, the console's history) and answer it; `close`
    when the rest of its body may still come."""
    logger.info("webhook refused (%d): %s", error.http_status, error.message)
    observe_webhook("refused")
    context.history.count("wh:refused")
    headers = {"connection": "close"} if close else None
    return JSONResponse({"error": error.message}, status_code=error.http_status, headers=headers)


async def receive_webhook(request: Request) -> Response:
    """Verify one Persona delivery and trigger the pipeline; never do the work inline."""
    context: JobContext = request.app.state.context
    settings = context.settings
    if not request.headers.get("content-type", "").startswith("application/json"):
        return JSONResponse({"error": "content type must be application/json"}, status_code=415)
    try:
        body = await read_body(
            request,
            limit=settings.webhook_max_body_bytes,
            timeout_s=settings.webhook_read_timeout_s,
            budget=request.app.state.body_budget,
        )
    except ClientDisconnect:
        # Nobody is left to answer: a debug line, not an error with a traceback.
        logger.debug("webhook sender disconnected before its body arrived")
        return Response(status_code=400)
    except BodyError as exc:
        return _refusal(context, exc, close=True)
    try:
        verify(
            request.headers.get("persona-signature"),
            body,
            [secret.get_secret_value() for secret in settings.persona_webhook_secrets],
            now=time.time(),
            tolerance_s=settings.webhook_tolerance_s,
        )
        event = parse_event(body)
    except WebhookError as exc:
        return _refusal(context, exc)
    try:
        outcome = await handle_event(context, event)
    except RedisError:
        logger.exception("webhook %s not handled: Redis is unavailable", event.event_id)
        observe_webhook("unavailable")
        return JSONResponse({"error": "temporarily unavailable"}, status_code=503)
    observe_webhook(outcome.action)
    logger.info(
        "webhook %s %s for %s: %s", event.event_id, event.name, outcome.inquiry_id, outcome.action
    )
    return JSONResponse({"event_id": event.event_id, "action": outcome.action}, status_code=202)


async def healthz(request: Request) -> Response:
    """Liveness: the process answers."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: Redis answers, so webhooks can be accepted."""
    context: JobContext = request.app.state.context
    try:
        await context.redis.ping()
    except (RedisError, OSError):
        return JSONResponse({"status": "unavailable", "redis": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "redis": "ok"})


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus scrape: this process's metrics and the shared in-flight gauge."""
    context: JobContext = request.app.state.context
    return await scrape(context.ledger, request)


def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI app (`uvicorn --factory worker.web:create_app`); settings from the environment.

    Without `settings` the app is the process's entry point, so it also takes over logging
    from uvicorn's defaults (`LOG_FORMAT`, `LOG_LEVEL`).
    """
    if settings is None:
        try:
            settings = load_settings()
            require_webhook_secrets(settings)
        except ConfigError as exc:
            print(f"persona-worker web: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        configure_logging(settings)
    else:
        require_webhook_secrets(settings)
    resolved = settings

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Closed in reverse order on the way out, also when a later one fails to open.
        async with contextlib.AsyncExitStack() as stack:
            http = open_persona_http(stack, resolved)
            redis = open_redis(stack, resolved)
            await check_eviction_policy(redis, allow_eviction=resolved.redis_allow_eviction)
            await claim_prefix(
                redis,
                KeySpace(resolved.key_prefix),
                queue_name=resolved.queue_name,
                stream=resolved.results_stream,
            )
            queue: ArqRedis = await connect(
                str(resolved.redis_url),
                queue_name=resolved.queue_name,
                timeouts=RedisTimeouts.from_settings(resolved),
            )
            close_on_exit(stack, "the arq pool", queue.aclose)
            app.state.context = JobContext.build(
                resolved, persona=persona_client(resolved, http), redis=redis, queue=queue
            )
            close_on_exit(stack, "the console's history", app.state.context.history.close)
            yield

    routes: list[Any] = [
        Route("/webhooks/persona", receive_webhook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        *console_routes(resolved),
    ]
    middleware = [Middleware(ConcurrencyCap, limit=resolved.web_max_concurrency)]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.body_budget = BodyBudget.for_bodies_of(resolved.webhook_max_body_bytes)
    return app
