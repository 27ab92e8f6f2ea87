"""Serving the metrics: `/metrics` for the web app and a small endpoint in the worker.

Both processes answer a scrape the same way (`scrape`): refresh the in-flight and polling-mode
gauges from Redis, then encode the process's registry (`jobs.metrics`) in the format the
scraper asked for (Prometheus text, or OpenMetrics when its `Accept` header says so). The
in-flight gauge is read from the counts the request ledger's scripts keep
(`Ledger.status_counts`), the mode from `jobs.state.webhook_flow`: two Redis commands per scrape
whatever the number in flight, exact with no background task.

The worker's endpoint (`MetricsServer`, on `METRICS_PORT`, 0 = off) is a one-route Starlette
app served by uvicorn as a task of the worker's own event loop, so it needs no thread, and it
stops with the worker's on_shutdown. uvicorn runs there as a guest: it installs no signal
handlers (the worker handles SIGTERM itself, `worker.run`), configures no logging and writes
no access lines. It answers `GET /metrics` and nothing else of interest; the health of a
worker is `arq --check worker.WorkerSettings`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any, Final

import uvicorn
from prometheus_client.exposition import choose_encoder
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol, RequestResponseCycle

from jobs.metrics import metrics, set_inflight, set_polling_mode
from jobs.state.keys import KeySpace
from jobs.state.ledger import Ledger
from jobs.state.webhook_flow import WebhookFlow

__all__ = ["MetricsServer", "metrics_app", "refresh_inflight", "refresh_mode", "render", "scrape"]

logger = logging.getLogger(__name__)

#: How long a scraper may take to send its request before the connection is dropped.
_REQUEST_TIMEOUT_S: Final = 10.0
#: How long open scrapes may take to finish when the endpoint stops.
_SHUTDOWN_GRACE_S: Final = 2


async def refresh_inflight(ledger: Ledger) -> None:
    """Read the in-flight counts by status; on a Redis error, drop the gauge's series.

    An absent series is what an alert on "no data" catches; a stale count would look healthy.
    """
    try:
        counts = await ledger.status_counts()
    except (RedisError, OSError):
        logger.warning("metrics: Redis unavailable, in-flight gauge left empty")
        metrics().inflight.clear()
        return
    set_inflight(counts)


async def refresh_mode(redis: Redis, keys: KeySpace) -> None:
    """Show the shared polling mode; on a Redis error, drop the gauge's series."""
    try:
        state = await WebhookFlow(redis, keys).state()
    except (RedisError, OSError):
        set_polling_mode(None)
        return
    set_polling_mode(state.mode.value)


async def render(ledger: Ledger, accept: str | None) -> tuple[bytes, str]:
    """The scrape's body and content type, after refreshing the shared gauges."""
    await refresh_inflight(ledger)
    await refresh_mode(ledger.redis, ledger.keys)
    encoder, content_type = choose_encoder(accept or "")
    return encoder(metrics().registry), content_type


async def scrape(ledger: Ledger, request: Request) -> Response:
    """The answer to one `GET /metrics`: this process's metrics and the shared in-flight gauge."""
    body, content_type = await render(ledger, request.headers.get("accept"))
    return Response(body, headers={"Content-Type": content_type})


def metrics_app(ledger: Ledger) -> Starlette:
    """The worker's endpoint as an ASGI app: `GET /metrics` (and HEAD), 404 elsewhere."""

    async def endpoint(request: Request) -> Response:
        return await scrape(ledger, request)

    return Starlette(routes=[Route("/metrics", endpoint, methods=["GET"])])


class _GuestServer(uvicorn.Server):
    """uvicorn inside a process it does not own: the process's signal handlers stay in place.

    `uvicorn.Server.serve` replaces the SIGINT and SIGTERM handlers while it runs and raises the
    signal again when it ends; in the worker that would take SIGTERM from the supervisor.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _deadline_protocol(request_timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, hanging up on a client whose request does not arrive in time.

    uvicorn waits for a request's headers as long as the client keeps the connection open; a
    scraper that stalls (or anything else that connects and stays silent) would hold a
    connection for good. The deadline starts when the connection opens and again after each
    answer; a request under way when it passes is not touched.
    """

    class DeadlineProtocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = self.loop.call_later(request_timeout_s, self._expire)

        def _expire(self) -> None:
            # uvicorn types `cycle` as always set; it is None until the first request.
            cycle: RequestResponseCycle | None = self.cycle
            idle = cycle is None or cycle.response_complete
            if idle and not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            super().connection_lost(exc)

    return DeadlineProtocol


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on `host:port`; `OSError` when it cannot be bound (port taken)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


class MetricsServer:
    """`GET /metrics` on a TCP port, served by uvicorn from the running event loop.

    Args:
        ledger: the request ledger, whose in-flight counts each scrape reads.
        port: the port to listen on; 0 picks a free one (tests read `port` afterwards).
        host: the address to bind; all interfaces by default, as scrapers run elsewhere.
        request_timeout_s: how long a client may take to send its request before it is dropped.
    """

    def __init__(
        self,
        ledger: Ledger,
        *,
        port: int,
        host: str = "0.0.0.0",
        request_timeout_s: float = _REQUEST_TIMEOUT_S,
    ) -> None:
        self._ledger = ledger
        self._host = host
        self._requested_port = port
        self._request_timeout_s = request_timeout_s
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The port actually bound (after `start`)."""
        if self._socket is None:
            raise RuntimeError("the metrics server is not running")
        port: int = self._socket.getsockname()[1]
        return port

    def _config(self) -> uvicorn.Config:
        return uvicorn.Config(
            metrics_app(self._ledger),
            http=_deadline_protocol(self._request_timeout_s),
            ws="none",
            lifespan="off",
            # The worker's logging stays as `worker.logs` set it, and no access lines: a
            # scrape is routine, and request lines are not ours to keep.
            log_config=None,
            log_level="warning",
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=_SHUTDOWN_GRACE_S,
        )

    async def start(self) -> None:
        """Listen, then serve from a task; raises `OSError` when the port cannot be bound.

        The socket listens before this returns, so a scrape sent right after is answered.
        """
        sock = _listen(self._host, self._requested_port)
        server = _GuestServer(self._config())
        self._socket, self._server = sock, server
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name="metrics-endpoint")
        self._task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        logger.error("the metrics endpoint stopped: %r", task.exception())

    async def close(self) -> None:
        """Stop listening and give open scrapes a short grace to finish."""
        server, task, sock = self._server, self._task, self._socket
        self._server = self._task = self._socket = None
        if server is None or task is None or sock is None:
            return
        server.should_exit = True
        try:
            await task
        except Exception:
            logger.debug("the metrics endpoint had already stopped", exc_info=True)
        finally:
            sock.close()

    async def __aenter__(self) -> MetricsServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()
