"""A webhook receiver for the delivery tests: it records every request it gets and answers as
the test scripts it, and tests wait on what it has received instead of sleeping.

The same receiver serves either in-process, as an `httpx.MockTransport` injected into the
sandbox's deliverer (fast, no socket), or on a loopback port under uvicorn (`serve_receiver`),
for the tests about real connections, timeouts and the whole served sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from persona_sandbox.server import bind_socket, serve_app

__all__ = ["MOCK_URL", "WAIT_S", "Received", "Receiver", "serve_receiver"]

#: The longest any test waits for a delivery; far above what a passing run needs.
WAIT_S: Final = 60.0
PATH: Final = "/webhooks/persona"
#: Where the sandbox delivers when the receiver is reached through `Receiver.transport()`.
MOCK_URL: Final = f"http://receiver.test{PATH}"


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the receiver got it: raw body bytes, headers, arrival time."""

    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def document(self) -> dict[str, Any]:
        """The body, parsed."""
        document: dict[str, Any] = json.loads(self.body)
        return document

    @property
    def event_id(self) -> str:
        """The delivered event's `evt_...` id."""
        return str(self.document["data"]["id"])

    @property
    def name(self) -> str:
        """The delivered event's name, e.g. `inquiry.approved`."""
        return str(self.document["data"]["attributes"]["name"])

    @property
    def signature(self) -> str:
        """The `Persona-Signature` header."""
        return self.headers["persona-signature"]


def _always_ok(index: int) -> int:
    return 200


def _never(index: int) -> bool:
    return False


@dataclass
class Receiver:
    """Records deliveries and answers each by its index (0 = the first request it gets).

    `answer(index)` is the status (200 by default); `hold(index)` keeps that request open until
    `release` (or shutdown), standing for a receiver that does not answer in time.
    """

    answer: Callable[[int], int] = _always_ok
    hold: Callable[[int], bool] = _never
    url: str = MOCK_URL
    received: list[Received] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    async def _receive(self, headers: dict[str, str], body: bytes) -> int:
        """Record one request; its status once any hold is over."""
        async with self._arrived:
            index = len(self.received)
            self.received.append(Received(headers, body, asyncio.get_running_loop().time()))
            self._arrived.notify_all()
        if self.hold(index):
            await self._released.wait()
        return self.answer(index)

    async def _endpoint(self, request: Request) -> Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        return Response(status_code=await self._receive(headers, await request.body()))

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        return httpx.Response(await self._receive(headers, await request.aread()))

    def app(self) -> Starlette:
        """The receiver as an ASGI app, for `serve_receiver`."""
        return Starlette(routes=[Route(PATH, self._endpoint, methods=["POST"])])

    def transport(self) -> httpx.MockTransport:
        """The receiver as an httpx transport: every request lands here, whatever its URL."""
        return httpx.MockTransport(self._handle)

    def release(self) -> None:
        """Answer every held request now."""
        self._released.set()

    async def wait_for(self, done: Callable[[list[Received]], bool]) -> list[Received]:
        """Wait until `done(received)` holds; a copy of the requests then.

        Raises:
            TimeoutError: it did not hold within `WAIT_S` seconds.
        """
        async with asyncio.timeout(WAIT_S), self._arrived:
            await self._arrived.wait_for(lambda: done(self.received))
            return list(self.received)

    async def wait_for_count(self, count: int) -> list[Received]:
        """Wait until at least `count` requests arrived."""
        return await self.wait_for(lambda received: len(received) >= count)

    async def wait_for_event(self, name: str) -> list[Received]:
        """Wait until an event of this name arrived."""
        return await self.wait_for(lambda received: any(r.name == name for r in received))


@contextlib.asynccontextmanager
async def serve_receiver(receiver: Receiver) -> AsyncIterator[Receiver]:
    """Serve `receiver` on a free loopback port (sets `receiver.url`) for the `async with` body."""
    sock = bind_socket("127.0.0.1", 0)
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}{PATH}"
    async with serve_app(receiver.app(), sock):
        try:
            yield receiver
        finally:
            receiver.release()
