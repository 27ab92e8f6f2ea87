"""The sandbox as a Starlette app: Persona's routes under `/api/v1`, admin under `/_sandbox`.

`create_app(config, clock=...)` builds an independent sandbox each time (no module state), so
tests can run many side by side in-process through `httpx.ASGITransport`. The lifespan runs the
sandbox's background tasks: the pass that advances live inquiries (`advance_interval_s`, or a
short one while webhooks are on), so events fire even when nobody asks, and signed webhook
delivery (`SandboxConfig.webhooks`), both stopped at shutdown.

Routing follows the raw path, as Persona's does: an id with an encoded `/` (`%2F`) stays one
path segment, and any `/api/v1` path no operation serves is a 404 that still went through
authentication and the rate limiter (with their headers), including a known path called with a
method it does not serve; there are no trailing-slash redirects.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Final
from urllib.parse import unquote

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from persona_sandbox import routes_actions as actions
from persona_sandbox import routes_inquiries as inquiries
from persona_sandbox import routes_reports as reports
from persona_sandbox import routes_resources as resources
from persona_sandbox import routes_webhooks as webhooks
from persona_sandbox.admin import admin_routes
from persona_sandbox.clock import Clock
from persona_sandbox.config import SandboxConfig
from persona_sandbox.errors import RefusalError
from persona_sandbox.pipeline import MEDIA_TYPE, Answer, Call, Handler, Pipeline
from persona_sandbox.runtime import Sandbox
from persona_sandbox.serialize import dumps

__all__ = ["API_PREFIX", "OPERATIONS", "create_app", "sandbox_of"]

API_PREFIX: Final = "/api/v1"
#: (path under /api/v1, method, Persona operationId, handler).
OPERATIONS: Final[tuple[tuple[str, str, str, Handler], ...]] = (
    ("/inquiries", "POST", "create-an-inquiry", inquiries.create_inquiry),
    ("/inquiries", "GET", "list-all-inquiries", inquiries.list_all_inquiries),
    ("/inquiries/{inquiry_id}", "GET", "retrieve-an-inquiry", inquiries.retrieve_inquiry),
    ("/inquiries/{inquiry_id}", "DELETE", "redact-an-inquiry", inquiries.redact_inquiry),
    ("/inquiries/{inquiry_id}/resume", "POST", "resume-an-inquiry", actions.resume_inquiry),
    (
        "/inquiries/{inquiry_id}/generate-one-time-link",
        "POST",
        "generate-a-one-time-link",
        actions.generate_one_time_link,
    ),
    ("/inquiries/{inquiry_id}/approve", "POST", "approve-an-inquiry", actions.approve_inquiry),
    ("/inquiries/{inquiry_id}/decline", "POST", "decline-an-inquiry", actions.decline_inquiry),
    (
        "/inquiries/{inquiry_id}/mark-for-review",
        "POST",
        "mark-an-inquiry-for-review",
        actions.mark_for_review,
    ),
    ("/inquiries/{inquiry_id}/expire", "POST", "expire-an-inquiry", actions.expire_inquiry),
    (
        "/inquiries/{inquiry_id}/perform-simulate-actions",
        "POST",
        "inquiries-perform-simulate-actions",
        actions.perform_simulate_actions,
    ),
    (
        "/verifications/{verification_id}",
        "GET",
        "retrieve-a-verification",
        resources.retrieve_a_verification,
    ),
    ("/cases", "POST", "create-a-case", resources.create_a_case),
    ("/cases/{case_id}", "GET", "retrieve-case", resources.retrieve_case),
    (
        "/cases/{case_id}/set-status",
        "POST",
        "set-status-for-a-case",
        resources.set_status_for_a_case,
    ),
    ("/accounts/{account_id}", "GET", "retrieve-an-account", resources.retrieve_an_account),
    (
        "/accounts/{account_id}/add-relation",
        "POST",
        "accounts-add-relation",
        resources.accounts_add_relation,
    ),
    (
        "/accounts/{account_id}/relations",
        "GET",
        "accounts-list-all-relations",
        resources.accounts_list_all_relations,
    ),
    ("/reports", "POST", "create-a-report", reports.create_a_report),
    ("/reports/{report_id}", "GET", "retrieve-a-report", reports.retrieve_a_report),
    ("/webhooks", "POST", "create-a-webhook", webhooks.create_a_webhook),
    ("/webhooks", "GET", "list-all-webhooks", webhooks.list_all_webhooks),
    ("/webhooks/{webhook_id}", "GET", "retrieve-a-webhook", webhooks.retrieve_a_webhook),
    ("/webhooks/{webhook_id}/enable", "POST", "enable-a-webhook", webhooks.enable_a_webhook),
    (
        "/webhooks/{webhook_id}/rotate-secret",
        "POST",
        "rotate-a-webhook-secret",
        webhooks.rotate_a_webhook_secret,
    ),
    ("/rate-limits", "GET", "list-all-rate-limits", webhooks.list_all_rate_limits),
)


def _route(pipeline: Pipeline, path: str, method: str, operation: str, handler: Handler) -> Route:
    async def endpoint(request: Request) -> Response:
        return await pipeline.run(request, operation, handler)

    return Route(API_PREFIX + path, endpoint, methods=[method], name=operation)


class RawPathSegments:
    """Route on the raw path: decode each segment alone, keeping `/` and `%` in it escaped.

    Path parameters then arrive with only those two characters escaped; the pipeline unquotes
    them, so `inq%2Fwith%2Fslash` is the id `inq/with/slash` of one operation, not three
    segments of no operation.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path") if scope["type"] == "http" else None
        if raw:
            segments = raw.split(b"?", 1)[0].decode("latin-1").split("/")
            scope = dict(scope)
            scope["path"] = "/".join(
                unquote(segment).replace("%", "%25").replace("/", "%2F") for segment in segments
            )
        await self.app(scope, receive, send)


def _no_operation(call: Call) -> Answer:
    raise RefusalError(404, "Not Found", "No operation serves this method and path")


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    title = {404: "Not Found", 405: "Method Not Allowed"}.get(status, "Error")
    details = f"No route for {request.method} {request.url.path}"
    return Response(
        dumps({"errors": [{"title": title, "details": details}]}), status, None, MEDIA_TYPE
    )


def create_app(
    config: SandboxConfig | None = None,
    *,
    clock: Clock | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """A new sandbox app.

    Args:
        config: the sandbox configuration; defaults to `SandboxConfig()`.
        clock: sandbox time (a `ManualClock` in tests); defaults to a scaled wall clock.
        webhook_transport: the httpx transport webhooks go through (e.g. an
            `httpx.MockTransport` in tests); defaults to real HTTP.

    Returns:
        The Starlette app; its sandbox is `sandbox_of(app)`.
    """
    sandbox = Sandbox(config, clock, webhook_transport=webhook_transport)
    pipeline = Pipeline(sandbox)
    routes = [_route(pipeline, *operation) for operation in OPERATIONS]
    routes.extend(admin_routes(sandbox))

    async def unmatched(request: Request) -> Response:
        return await pipeline.run(request, "unmatched", _no_operation)

    every_method = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    routes.append(Route(API_PREFIX + "/{rest:path}", unmatched, methods=every_method))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sandbox.start_background()
        try:
            yield
        finally:
            sandbox.faults.release_all()
            await sandbox.stop_background()

    app = Starlette(
        routes=routes,
        middleware=[Middleware(RawPathSegments)],
        exception_handlers={404: _http_error, 405: _http_error},
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    app.state.sandbox = sandbox
    return app


def sandbox_of(app: Starlette) -> Sandbox:
    """The sandbox behind an app made by `create_app`."""
    sandbox = app.state.sandbox
    if not isinstance(sandbox, Sandbox):
        raise TypeError("not a sandbox app")
    return sandbox
