"""The web app against hostile clients: slow bodies, disconnects, floods of requests.

Bodies that stall are async generators the test releases, so the app is caught reading a body
at a known point with no sleeps; deadlines are tested on the loop's hand-moved clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette

from settings import Settings
from tests.loop_clock import loop_clock
from tests.worker.test_web import event_body, signed
from worker.embedded_redis import RedisServer
from worker.request_body import BODY_BUDGET_BODIES
from worker.web import create_app

pytestmark = pytest.mark.redis


class StalledBody:
    """A request body that sends `first`, waits until released, then sends `rest`."""

    def __init__(self, first: bytes, rest: bytes = b"") -> None:
        self.first, self.rest = first, rest
        self.stalled = asyncio.Event()
        """Set once the app has taken `first` and asked for more."""
        self.released = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.first
        self.stalled.set()
        await self.released.wait()
        if self.rest:
            yield self.rest


class Senders:
    """Requests with stalled bodies, each in its own task; all released at the end."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.bodies: list[StalledBody] = []
        self.tasks: list[asyncio.Task[httpx.Response]] = []

    async def stall(
        self, body: StalledBody, headers: dict[str, str]
    ) -> asyncio.Task[httpx.Response]:
        """Post `body` and return once the app is waiting for the rest of it."""
        post = self.client.post("/webhooks/persona", content=body, headers=headers)
        task = asyncio.create_task(post)
        self.bodies.append(body)
        self.tasks.append(task)
        stalled = asyncio.create_task(body.stalled.wait())
        await asyncio.wait({task, stalled}, return_when=asyncio.FIRST_COMPLETED)
        stalled.cancel()
        return task

    async def close(self) -> None:
        for body in self.bodies:
            body.released.set()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@pytest.fixture
async def senders(web: httpx.AsyncClient) -> AsyncIterator[Senders]:
    opened = Senders(web)
    yield opened
    await opened.close()


def _json_headers() -> dict[str, str]:
    return {"content-type": "application/json"}


async def test_a_body_slower_than_the_read_deadline_is_refused_with_408_at_the_deadline(
    senders: Senders, web_settings: Settings, redis: Redis
) -> None:
    deadline = web_settings.webhook_read_timeout_s
    with loop_clock() as clock:
        task = await senders.stall(StalledBody(b'{"data": '), _json_headers())
        await clock.advance(deadline - 0.01)
        assert not task.done()
        await clock.advance(0.02)
    async with asyncio.timeout(10):  # a bound in real time: the answer is already on its way
        response = await task

    assert response.status_code == 408
    assert response.headers["connection"] == "close"
    assert await redis.zcard(web_settings.queue_name) == 0


async def test_a_sender_that_disconnects_mid_body_is_let_go_without_an_error(
    web_app: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    messages = iter(
        [
            {"type": "http.request", "body": b'{"data": ', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[Any] = []

    async def receive() -> Any:
        return next(messages)

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/webhooks/persona",
        "raw_path": b"/webhooks/persona",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    with caplog.at_level(logging.DEBUG):
        await web_app(scope, receive, send)

    assert [record for record in caplog.records if record.levelno >= logging.WARNING] == []
    assert "webhook sender disconnected before its body arrived" in caplog.messages


@pytest.fixture
async def capped(
    make_settings: Any, redis_server: RedisServer, redis: Redis
) -> AsyncIterator[Senders]:
    """A web app serving at most two requests at once, and a client of it."""
    app = create_app(make_settings(redis_url=redis_server.url, web_max_concurrency=2))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://w") as client,
    ):
        opened = Senders(client)
        yield opened
        await opened.close()


async def test_requests_beyond_the_concurrency_cap_are_refused_with_503(capped: Senders) -> None:
    body = event_body()
    for _ in range(2):
        await capped.stall(StalledBody(body[:10], body[10:]), signed(body))

    refused = await capped.client.get("/healthz")

    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert "too many requests" in refused.json()["error"]


async def test_requests_held_at_the_cap_are_answered_once_their_bodies_arrive(
    capped: Senders,
) -> None:
    body = event_body()
    held = [await capped.stall(StalledBody(body[:10], body[10:]), signed(body)) for _ in range(2)]
    for stalled in capped.bodies:
        stalled.released.set()

    answers = [await task for task in held]

    assert [answer.status_code for answer in answers] == [202, 202]


async def _fill_the_budget(
    senders: Senders, web_settings: Settings, size: int = 4_000
) -> list[Any]:
    """Stall as many bodies of `size` bytes (sent without a length) as the budget holds."""
    budget = BODY_BUDGET_BODIES * web_settings.webhook_max_body_bytes
    return [
        await senders.stall(StalledBody(b"x" * size), _json_headers())
        for _ in range(budget // size)
    ]


async def test_the_body_holding_the_most_is_dropped_when_bodies_outgrow_their_budget(
    senders: Senders, web_settings: Settings
) -> None:
    small_and_oldest = await senders.stall(StalledBody(b"x" * 100), _json_headers())
    largest, *others = await _fill_the_budget(senders, web_settings)

    await senders.stall(StalledBody(b"x" * 4_000), _json_headers())

    dropped = await largest
    assert dropped.status_code == 503
    assert dropped.headers["connection"] == "close"
    assert not small_and_oldest.done()
    assert not any(task.done() for task in others)


async def test_a_declared_length_counts_against_the_budget_before_the_body_arrives(
    senders: Senders, web_settings: Settings
) -> None:
    first, *_ = await _fill_the_budget(senders, web_settings)
    declared = {**_json_headers(), "content-length": str(web_settings.webhook_max_body_bytes)}

    await senders.stall(StalledBody(b"x" * 10), declared)

    assert (await first).status_code == 503


async def test_a_delivery_gets_through_while_stalled_bodies_fill_the_budget(
    senders: Senders, web_settings: Settings
) -> None:
    await _fill_the_budget(senders, web_settings)
    body = event_body()

    response = await senders.client.post("/webhooks/persona", content=body, headers=signed(body))

    assert response.status_code == 202
