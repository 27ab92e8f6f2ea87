"""Serving a sandbox on a port: inside the current event loop, or as the CLI's process.

`run_sandbox` is for the demo and end-to-end tests: it binds a loopback socket (port 0 picks a
free one), runs uvicorn as a task of the running loop, yields once the server accepts
connections and stops it cleanly on exit, releasing any answers held by the hang fault. The
app's lifespan runs webhook delivery and the advance pass, so both stop with the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final

import httpx
import uvicorn
from starlette.applications import Starlette

from persona_sandbox.app import API_PREFIX, create_app, sandbox_of
from persona_sandbox.clock import Clock
from persona_sandbox.config import SandboxConfig
from persona_sandbox.runtime import Sandbox
from persona_sandbox.state import SandboxState

__all__ = ["SandboxHandle", "bind_socket", "run_sandbox", "serve_app", "uvicorn_config"]


@dataclass(frozen=True, slots=True)
class SandboxHandle:
    """A sandbox serving on a port."""

    url: str
    """Base URL of the API, e.g. `http://127.0.0.1:53817/api/v1`."""
    root_url: str
    """The server root, where `/_sandbox/...` lives."""
    port: int
    sandbox: Sandbox
    app: Starlette

    @property
    def state(self) -> SandboxState:
        """The sandbox's objects and state machine."""
        return self.sandbox.state

    @property
    def config(self) -> SandboxConfig:
        """The sandbox's configuration."""
        return self.sandbox.config

    def counters_json(self) -> dict[str, Any]:
        """The call counters, as `GET /_sandbox/counters` shows them."""
        return self.sandbox.counters.to_json()


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `host:port` (port 0 picks a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


#: Seconds uvicorn gives open requests when the server stops.
_SHUTDOWN_GRACE_S: Final = 2


def uvicorn_config(app: Starlette, *, log_level: str = "warning") -> uvicorn.Config:
    """Uvicorn settings for the sandbox: fast protocol stack, no access log, short grace."""
    return uvicorn.Config(
        app,
        loop="auto",
        http="auto",
        lifespan="on",
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=_SHUTDOWN_GRACE_S,
    )


#: Seconds uvicorn may take to accept connections before start-up counts as failed.
_STARTUP_TIMEOUT_S: Final = 10.0


@contextlib.asynccontextmanager
async def serve_app(app: Starlette, sock: socket.socket) -> AsyncIterator[uvicorn.Server]:
    """Serve `app` on the listening `sock` from a task of the running loop, for the body.

    Yields once uvicorn serves; on exit it stops uvicorn (open requests get a short grace) and
    closes the socket.

    Raises:
        RuntimeError: the server stopped during start-up.
    """
    server = uvicorn.Server(uvicorn_config(app))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(_STARTUP_TIMEOUT_S):
            while not server.started:
                if task.done():
                    raise RuntimeError("the server stopped during start-up")
                await asyncio.sleep(0.01)
        yield server
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()


@contextlib.asynccontextmanager
async def run_sandbox(
    config: SandboxConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Clock | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[SandboxHandle]:
    """Serve a new sandbox on `host:port` in the current event loop for the `async with` body.

    Webhooks are delivered while it serves when `config.webhooks` names a URL and a secret,
    e.g. `SandboxConfig(webhooks=WebhookSettings(url=..., secrets=("wbhsec_...",)))`, or once
    `POST /_sandbox/webhooks` turns them on.

    Args:
        config: the sandbox configuration.
        host: interface to bind (loopback by default).
        port: port to bind; 0 picks a free one (see `handle.port`).
        clock: sandbox time; defaults to a scaled wall clock.
        webhook_transport: the httpx transport webhooks go through; defaults to real HTTP.

    Yields:
        A handle with the API base URL (`.url`), `.state` and `.config`.

    Raises:
        RuntimeError: the server did not start.
    """
    app = create_app(config, clock=clock, webhook_transport=webhook_transport)
    sandbox = sandbox_of(app)
    sock = bind_socket(host, port)
    bound_port = sock.getsockname()[1]
    netloc = f"[{host}]:{bound_port}" if ":" in host else f"{host}:{bound_port}"
    root = f"http://{netloc}"
    async with serve_app(app, sock):
        try:
            yield SandboxHandle(root + API_PREFIX, root, bound_port, sandbox, app)
        finally:
            # Held answers go first, so that uvicorn's grace is not spent waiting for them.
            sandbox.faults.release_all()
