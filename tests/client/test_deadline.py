"""One deadline bounds each whole exchange, not only each phase of it.

httpx's timeout applies per phase (connect, write, each read, the pool wait), so an answer that
arrives a byte at a time, each byte inside the read timeout, never times out. A loopback server
here does exactly that, on a real socket, well past the deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Final

import pytest
from pydantic import SecretStr

from jobs import errors
from jobs.persona.client import ApiCall, PersonaClient
from tests.client.fakes import API_KEY
from tests.client.operations import INQUIRY_ID, TEMPLATE_ID
from tests.loopback import loopback_server

#: Each phase's timeout: every byte of the trickle arrives well inside it.
PHASE_TIMEOUT_S: Final = 0.5
#: Between two bytes of the answer.
DRIP_S: Final = 0.05
#: Bytes of the answer's body: the whole answer would take 10 s to arrive.
BODY_BYTES: Final = 200


async def _trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read one request, then answer it one byte every `DRIP_S`."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        + f"content-length: {BODY_BYTES}\r\n\r\n".encode()
    )
    for _ in range(BODY_BYTES):
        writer.write(b" ")
        await writer.drain()
        await asyncio.sleep(DRIP_S)


@contextlib.asynccontextmanager
async def _trickling_server() -> AsyncIterator[str]:
    async with loopback_server(_trickle) as port:
        yield f"http://127.0.0.1:{port}/api/v1"


def _call(client: PersonaClient, method: str) -> Awaitable[object]:
    if method == "GET":
        return client.retrieve_inquiry(INQUIRY_ID)
    return client.create_inquiry(template_id=TEMPLATE_ID, idempotency_key="k-1")


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_an_answer_that_trickles_in_ends_at_the_deadline(method: str) -> None:
    async with _trickling_server() as url:
        http = PersonaClient.build_http(base_url=url, timeout_s=PHASE_TIMEOUT_S, max_connections=1)
        async with http:
            client = PersonaClient(http, api_key=SecretStr(API_KEY))
            calls: list[ApiCall] = []
            client.observers.append(calls.append)
            started = time.monotonic()
            # The guard only turns a hang into a failure; the client must end well before it.
            async with asyncio.timeout(5):
                with pytest.raises(errors.ApiTimeoutError) as caught:
                    await _call(client, method)
            elapsed = time.monotonic() - started

    # The deadline defaults to the longest phase timeout: the whole exchange gets that long.
    assert client.deadline_s == PHASE_TIMEOUT_S
    assert PHASE_TIMEOUT_S <= elapsed < PHASE_TIMEOUT_S + 1.0
    assert caught.value.outcome_unknown, "a POST may have been carried out"
    assert caught.value.method == method
    assert [(call.status_code, call.method) for call in calls] == [(None, method)]


async def test_an_explicit_deadline_wins_over_the_phase_timeouts() -> None:
    async with _trickling_server() as url:
        http = PersonaClient.build_http(base_url=url, timeout_s=30, max_connections=1)
        async with http:
            client = PersonaClient(http, api_key=SecretStr(API_KEY), deadline_s=0.3)
            started = time.monotonic()
            async with asyncio.timeout(5):
                with pytest.raises(errors.ApiTimeoutError):
                    await client.retrieve_inquiry(INQUIRY_ID)
            assert time.monotonic() - started < 1.3


@pytest.mark.parametrize("deadline_s", [0.0, -1.0])
async def test_a_deadline_must_be_positive(deadline_s: float) -> None:
    http = PersonaClient.build_http(base_url="http://persona.test", timeout_s=1, max_connections=1)
    async with http:
        with pytest.raises(errors.ClientSetupError, match="deadline"):
            PersonaClient(http, api_key=SecretStr(API_KEY), deadline_s=deadline_s)
