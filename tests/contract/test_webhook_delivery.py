"""The webhooks the sandbox actually POSTs, against the official webhook schemas.

`test_webhook_events` checks the bodies the sandbox records; this checks the requests it sends
for them: method, body and the four declared delivery headers (`Persona-Signature` and the
`Persona-Webhook-Attempts-*` / `-First-Attempted-At` integers) of every delivery, first
attempts and retries alike, while the real client drives the sandbox through the contract
checker. Each delivery must also verify with the worker's own signature check. Deliveries
also follow a webhook subscription made through the API: its events, and its secrets as the
API answered them, before, during and after a rotation.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

import httpx
import pytest

from jobs.context import persona_client, persona_http
from jobs.errors import SignatureError
from jobs.webhooks.signature import verify
from persona_sandbox import ManualClock, SandboxConfig, WebhookSettings, create_app, sandbox_of
from tests.conftest import TEST_API_KEY, TEST_WEBHOOK_SECRET
from tests.contract.conftest import API_URL
from tests.contract.flows import DELAY_S, create_with_outcome, key
from tests.contract.harness import ContractTransport, Rig
from tests.contract.webhooks import load_webhooks

RECEIVER_URL: Final = "http://receiver.test/webhooks/persona"
_EVERY_STEP_S: Final = DELAY_S + 30 + 300 + 1
_WAIT_S: Final = 60.0


class Capture:
    """Stands in for the receiver: keeps every delivery; answers 500 to the first `failing`."""

    def __init__(self, failing: int = 0) -> None:
        self.failing = failing
        self.requests: list[httpx.Request] = []
        self._arrived = asyncio.Condition()

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        async with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()
        return httpx.Response(500 if len(self.requests) <= self.failing else 200)

    def transport(self) -> httpx.MockTransport:
        """The transport the sandbox delivers through."""
        return httpx.MockTransport(self._handle)

    def names(self) -> list[str]:
        """The event names delivered so far, in arrival order."""
        return [_document(request)["data"]["attributes"]["name"] for request in self.requests]

    async def wait_for_name(self, name: str) -> None:
        """Wait until an event of this name was delivered."""
        async with asyncio.timeout(_WAIT_S), self._arrived:
            await self._arrived.wait_for(lambda: name in self.names())


def _document(request: httpx.Request) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(request.content)
    return document


@pytest.fixture
async def delivering(make_settings: Any) -> AsyncIterator[Callable[[Capture], Rig]]:
    """Build a rig whose sandbox delivers webhooks to a `Capture`, background tasks running."""
    started: list[Rig] = []

    def build(capture: Capture) -> Rig:
        hooks = WebhookSettings(
            url=RECEIVER_URL, secrets=(TEST_WEBHOOK_SECRET,), retry_compression=1_000_000.0
        )
        config = SandboxConfig(api_key=TEST_API_KEY, rate_limit_per_minute=0, webhooks=hooks)
        clock = ManualClock()
        app = create_app(config, clock=clock, webhook_transport=capture.transport())
        contract = ContractTransport(app)
        settings = make_settings(persona_api_key=TEST_API_KEY, persona_api_url=API_URL)
        http = persona_http(settings, transport=contract.transport)
        client = persona_client(settings, http)
        rig = Rig(app, sandbox_of(app), clock, contract, client, http, TEST_API_KEY)
        rig.sandbox.start_background()
        started.append(rig)
        return rig

    yield build
    for rig in started:
        await rig.sandbox.stop_background()
        await rig.http.aclose()


async def _settle(rig: Rig) -> None:
    async with asyncio.timeout(_WAIT_S):
        await rig.sandbox.webhooks.wait_idle()


def _check(capture: Capture) -> None:
    webhooks = load_webhooks()
    for request in capture.requests:
        webhooks.validate_delivery(request)
        signature = request.headers["Persona-Signature"]
        verify(signature, request.content, [TEST_WEBHOOK_SECRET], now=time.time())


@pytest.mark.parametrize(
    ("outcome", "last_event"),
    [
        ("approved", "inquiry.approved"),
        ("declined", "inquiry.declined"),
        ("failed", "inquiry.failed"),
        ("review_declined", "inquiry.declined"),
        ("expired", "inquiry.expired"),
    ],
)
async def test_delivered_webhooks_keep_the_contract(
    delivering: Callable[[Capture], Rig], outcome: str, last_event: str
) -> None:
    capture = Capture()
    rig = delivering(capture)
    await create_with_outcome(rig, outcome, fields={"name-first": "Jane"})
    rig.advance(_EVERY_STEP_S)

    await capture.wait_for_name(last_event)
    await _settle(rig)

    _check(capture)
    delivered = [_document(request)["data"]["id"] for request in capture.requests]
    assert delivered == [event.id for event in rig.sandbox.events]


async def test_retried_webhooks_keep_the_contract(delivering: Callable[[Capture], Rig]) -> None:
    capture = Capture(failing=2)
    rig = delivering(capture)
    await create_with_outcome(rig, "approved")

    await _settle(rig)

    _check(capture)
    attempts = [request.headers["Persona-Webhook-Attempts-Made"] for request in capture.requests]
    assert attempts == ["1", "2", "3"]


# --- a subscription made through the API ----------------------------------------------------

_PAST_DECISION_S = DELAY_S + 30 + 1


async def subscribe(rig: Rig) -> tuple[str, str]:
    """Create and enable a subscription to `inquiry.approved` only: its id and secret."""
    webhook = await rig.client.create_webhook(
        name="results",
        url=RECEIVER_URL,
        enabled_events=["inquiry.approved"],
        include={"inquiry": ["verifications"]},
        idempotency_key=key(),
    )
    await rig.client.enable_webhook(webhook.id, idempotency_key=key())
    return webhook.id, webhook.attributes.secrets[0].value.get_secret_value()


async def rotate(rig: Rig, webhook_id: str, expires_in_s: int) -> str:
    """Rotate the subscription's secret: the new one."""
    rotated = await rig.client.rotate_webhook_secret(
        webhook_id, idempotency_key=key(), expires_in_s=expires_in_s
    )
    return rotated.attributes.secrets[0].value.get_secret_value()


async def approval_delivered(rig: Rig, capture: Capture) -> httpx.Request:
    """Approve an inquiry and return the one delivery that follows."""
    await create_with_outcome(rig, "approved")
    rig.advance(_PAST_DECISION_S)
    await capture.wait_for_name("inquiry.approved")
    (request,) = capture.requests
    return request


def check_signed_with(request: httpx.Request, secret: str) -> None:
    """The worker's signature check passes with `secret` alone (`SignatureError` otherwise)."""
    verify(request.headers["Persona-Signature"], request.content, [secret], now=time.time())


async def test_only_the_subscribed_events_arrive_signed_with_its_secret(
    delivering: Callable[[Capture], Rig],
) -> None:
    capture = Capture()
    rig = delivering(capture)
    _, secret = await subscribe(rig)

    request = await approval_delivered(rig, capture)

    assert capture.names() == ["inquiry.approved"]
    check_signed_with(request, secret)


async def test_during_a_rotation_either_secret_verifies_a_delivery(
    delivering: Callable[[Capture], Rig],
) -> None:
    capture = Capture()
    rig = delivering(capture)
    webhook_id, old = await subscribe(rig)
    new = await rotate(rig, webhook_id, 3_600)

    request = await approval_delivered(rig, capture)

    check_signed_with(request, new)
    check_signed_with(request, old)


async def test_after_the_rotation_window_the_old_secret_no_longer_verifies(
    delivering: Callable[[Capture], Rig],
) -> None:
    capture = Capture()
    rig = delivering(capture)
    webhook_id, old = await subscribe(rig)
    await rotate(rig, webhook_id, 10)
    rig.advance(11)

    request = await approval_delivered(rig, capture)

    with pytest.raises(SignatureError):
        check_signed_with(request, old)
