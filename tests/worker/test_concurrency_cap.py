"""The web process's concurrency cap: what it refuses is counted, and logged at a pace."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from jobs.metrics import Metrics, reset_metrics
from worker.concurrency_cap import LOG_EVERY_S, ConcurrencyCap


@pytest.fixture
def fresh() -> Metrics:
    return reset_metrics()


class HeldApp:
    """An app whose requests stay inside it until released."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.entered.set()
        await self.release.wait()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _request(cap: ConcurrencyCap) -> int:
    """One GET through the cap; its status."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/healthz",
        "headers": [],
        "query_string": b"",
    }
    await cap(scope, receive, send)
    return int(sent[0]["status"])


async def test_each_refusal_is_counted_and_the_log_keeps_its_pace(
    fresh: Metrics, caplog: pytest.LogCaptureFixture
) -> None:
    held = HeldApp()
    now = [1_000.0]
    cap = ConcurrencyCap(held, limit=1, clock=lambda: now[0])
    inside = asyncio.create_task(_request(cap))
    await held.entered.wait()

    with caplog.at_level(logging.WARNING, logger="worker.concurrency_cap"):
        refused = [await _request(cap) for _ in range(3)]
        now[0] += LOG_EVERY_S
        refused.append(await _request(cap))
    held.release.set()

    assert refused == [503, 503, 503, 503]
    assert await inside == 204
    assert fresh.registry.get_sample_value("persona_worker_web_busy_refusals_total") == 4
    assert [record.getMessage() for record in caplog.records] == [
        "1 request(s) answered 503: WEB_MAX_CONCURRENCY (1) requests in progress",
        "3 request(s) answered 503: WEB_MAX_CONCURRENCY (1) requests in progress",
    ]
