"""Serving the metrics: `/metrics` for the web app and a small endpoint in the worker.

Both processes answer a scrape the same way (`render`): refresh the in-flight gauge from Redis,
then encode the process's registry (`jobs.metrics`) in the format the scraper asked for
(Prometheus text, or OpenMetrics when its `Accept` header says so). Counting in-flight
inquiries at scrape time keeps the gauge exact with no background task, and Prometheus decides
how often that read happens.

The worker's endpoint (`MetricsServer`, on `METRICS_PORT`, 0 = off) runs in the worker's own
event loop on `asyncio.start_server`, so it needs no thread and no web framework, and it stops
with the worker's on_shutdown. It answers `GET /metrics` and nothing else of interest; the
health of a worker is `arq --check worker.WorkerSettings`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from prometheus_client.exposition import choose_encoder
from redis.asyncio import Redis
from redis.exceptions import RedisError

from jobs.metrics import metrics, set_inflight
from worker.state_views import inflight_rows

__all__ = ["MetricsServer", "refresh_inflight", "render"]

logger = logging.getLogger(__name__)

#: How long a scraper may take to send its request before the connection is dropped.
_REQUEST_TIMEOUT_S: Final = 10.0
#: Most header lines read from one request.
_MAX_HEADERS: Final = 100


async def refresh_inflight(redis: Redis) -> None:
    """Recount in-flight inquiries by status; on a Redis error, drop the gauge's series.

    An absent series is what an alert on "no data" catches; a stale count would look healthy.
    """
    try:
        rows = await inflight_rows(redis)
    except (RedisError, OSError):
        logger.warning("metrics: Redis unavailable, in-flight gauge left empty")
        metrics().inflight.clear()
        return
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    set_inflight(counts)


async def render(redis: Redis, accept: str | None) -> tuple[bytes, str]:
    """The scrape's body and content type, after refreshing the in-flight gauge."""
    await refresh_inflight(redis)
    encoder, content_type = choose_encoder(accept or "")
    return encoder(metrics().registry), content_type


def _response(status: str, body: bytes, content_type: str, *, head: bool = False) -> bytes:
    head_lines = (
        f"HTTP/1.1 {status}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head_lines.encode("latin-1") + (b"" if head else body)


class MetricsServer:
    """`GET /metrics` on a TCP port, served from the running event loop.

    Args:
        redis: where the in-flight gauge is read from at each scrape.
        port: the port to listen on; 0 picks a free one (tests read `port` afterwards).
        host: the address to bind; all interfaces by default, as scrapers run elsewhere.
        request_timeout_s: how long a client may take to send its request before it is dropped.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        port: int,
        host: str = "0.0.0.0",
        request_timeout_s: float = _REQUEST_TIMEOUT_S,
    ) -> None:
        self._redis = redis
        self._host = host
        self._request_timeout_s = request_timeout_s
        self._requested_port = port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The port actually bound (after `start`)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the metrics server is not running")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        """Start listening; raises `OSError` when the port is taken."""
        self._server = await asyncio.start_server(self._handle, self._host, self._requested_port)

    async def close(self) -> None:
        """Stop listening and wait for open connections to finish."""
        if self._server is None:
            return
        self._server.close()
        await self._server.wait_closed()
        self._server = None

    async def _read_request(self, reader: asyncio.StreamReader) -> tuple[str, str, str]:
        request_line = (await reader.readline()).decode("latin-1").strip()
        accept = ""
        for _ in range(_MAX_HEADERS):
            line = (await reader.readline()).decode("latin-1")
            if line in ("\r\n", "\n", ""):
                break
            name, _, value = line.partition(":")
            if name.strip().lower() == "accept":
                accept = value.strip()
        method, target, *_ = [*request_line.split(" "), "", ""]
        return method, target.split("?", 1)[0], accept

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(self._request_timeout_s):
                method, path, accept = await self._read_request(reader)
            text = "text/plain; charset=utf-8"
            if path != "/metrics":
                answer = _response("404 Not Found", b"not found: try /metrics\n", text)
            elif method not in ("GET", "HEAD"):
                answer = _response("405 Method Not Allowed", b"GET only\n", text)
            else:
                body, content_type = await render(self._redis, accept)
                answer = _response("200 OK", body, content_type, head=method == "HEAD")
            writer.write(answer)
            await writer.drain()
        except (TimeoutError, ValueError, ConnectionError):
            # A slow, oversized or vanished scraper: drop it, the next scrape will come.
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
