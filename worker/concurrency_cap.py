"""A cap on the HTTP requests one web process serves at once (`WEB_MAX_CONCURRENCY`).

Every request in the app holds a task, its buffers and, for a webhook, a Redis connection from
the pool; without a cap, a flood of slow or parallel requests grows all of them without end.
Beyond the cap a request is answered 503 at once, before the app sees it, with `Retry-After`;
Persona delivers a refused webhook again later. The cap is ASGI middleware, so it holds
wherever the app runs: under the Procfile's uvicorn (whose `--limit-concurrency` bounds the
connections as well) or embedded in another server. Lifespan events pass through uncounted.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["ConcurrencyCap"]

_BUSY = JSONResponse(
    {"error": "too many requests in progress; try again shortly"},
    status_code=503,
    headers={"retry-after": "1", "connection": "close"},
)


class ConcurrencyCap:
    """ASGI middleware: at most `limit` HTTP requests inside `app` at once, 503 beyond.

    Args:
        app: the app it guards.
        limit: the most requests served at once.
    """

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        if limit < 1:
            raise ValueError("the concurrency cap must be at least 1")
        self.app = app
        self.limit = limit
        self.active = 0
        """Requests inside the app right now."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.active >= self.limit:
            await _BUSY(scope, receive, send)
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1
