"""A cap on the HTTP requests one web process serves at once (`WEB_MAX_CONCURRENCY`).

Every request in the app holds a task, its buffers and, for a webhook, a Redis connection from
the pool; without a cap, a flood of slow or parallel requests grows all of them without end.
Beyond the cap a request is answered 503 at once, before the app sees it, with `Retry-After`;
Persona delivers a refused webhook again later. The cap is ASGI middleware, so it holds
wherever the app runs: under the Procfile's uvicorn (whose `--limit-concurrency` bounds the
connections as well) or embedded in another server. Lifespan events pass through uncounted.

Each refusal is counted (`persona_worker_web_busy_refusals_total`); the log says so once per
`LOG_EVERY_S` at most, with how many were refused since, so a flood does not flood the log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from jobs.metrics import observe_web_busy

__all__ = ["LOG_EVERY_S", "ConcurrencyCap"]

logger = logging.getLogger(__name__)

#: Shortest time between two log lines about refusals at the cap.
LOG_EVERY_S: Final = 10.0

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
        clock: monotonic seconds, for the pace of the log lines.
    """

    def __init__(
        self, app: ASGIApp, *, limit: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1:
            raise ValueError("the concurrency cap must be at least 1")
        self.app = app
        self.limit = limit
        self.active = 0
        """Requests inside the app right now."""
        self._clock = clock
        self._unlogged = 0
        self._logged_at: float | None = None

    def _refused(self) -> None:
        observe_web_busy()
        self._unlogged += 1
        now = self._clock()
        if self._logged_at is not None and now - self._logged_at < LOG_EVERY_S:
            return
        logger.warning(
            "%d request(s) answered 503: WEB_MAX_CONCURRENCY (%d) requests in progress",
            self._unlogged,
            self.limit,
        )
        self._unlogged = 0
        self._logged_at = now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.active >= self.limit:
            self._refused()
            await _BUSY(scope, receive, send)
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1
