"""The API key goes to Persona in the Authorization header and nowhere else.

Every request the worker sends on a full run (creates, retries after 5xx and timeouts, the
lookups before a retry whose outcome is unknown, status checks, result reads) is recorded at
the transport; the key must appear only as `Authorization: Bearer <key>`, never in a URL, a
query, another header (such as the Idempotency-Key) or a body, and never in a published event.
Logs are covered by the logging tests.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from jobs.persona.client import PersonaClient
from persona_sandbox.faults import FaultSettings
from tests.conftest import TEST_API_KEY, TEST_WEBHOOK_SECRET
from tests.pipeline.conftest import Pipeline


class RecordingTransport(httpx.AsyncBaseTransport):
    """Real HTTP, with a copy of every request kept for inspection."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> RecordingTransport:
    """Every PersonaClient built from now on sends through one recording transport."""
    transport = RecordingTransport()
    build = PersonaClient.build_http

    def build_recorded(**options: Any) -> httpx.AsyncClient:
        return build(**{**options, "transport": transport})

    monkeypatch.setattr(PersonaClient, "build_http", staticmethod(build_recorded))
    return transport


@pytest.mark.settings(http_timeout_s=0.3)
async def test_the_api_key_travels_only_in_the_authorization_header(
    pipeline: Pipeline, recorded: RecordingTransport
) -> None:
    pipeline.sandbox.sandbox.faults.configure(
        FaultSettings(error_rate=0.2, hang_rate=0.1, hang_s=0.6, seed=3)
    )
    for index in range(4):
        await pipeline.create(f"person-{index}", note="sandbox-outcome=approved sandbox-after=30")

    await pipeline.run()

    events = await pipeline.events()
    assert len(events) == 4
    operations = {request.url.path.rsplit("/", 1)[-1] for request in recorded.requests}
    assert "inquiries" in operations, "creates and lookups were sent"
    assert pipeline.sandbox.counters_json()["faults"], "retries happened"
    for request in recorded.requests:
        assert request.headers["authorization"] == f"Bearer {TEST_API_KEY}"
        others = {name: value for name, value in request.headers.items() if name != "authorization"}
        assert TEST_API_KEY not in str(request.url)
        assert TEST_API_KEY not in str(others)
        assert TEST_API_KEY.encode() not in request.content
    everything_published = str([event.to_json() for event in events])
    assert TEST_API_KEY not in everything_published
    assert TEST_WEBHOOK_SECRET not in everything_published
