"""Signed webhook delivery from the sandbox, checked at the receiving end.

Most tests run the sandbox in-process with its background tasks started and the receiver
injected as an httpx transport; the ones about real connections, timeouts and the served app's
lifespan run both over loopback (`run_sandbox` and a uvicorn receiver). Tests wait on what the
receiver got, or on the deliverer going idle, with a bounded timeout; none sleeps in place of
synchronising.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any, Final

import httpx
import pytest

from jobs.errors import SignatureError
from jobs.webhooks.signature import parse_header, verify
from persona_sandbox import (
    ManualClock,
    Sandbox,
    SandboxConfig,
    WebhookSettings,
    create_app,
    run_sandbox,
    sandbox_of,
)
from persona_sandbox.counters import Counters
from persona_sandbox.events import EventLog
from persona_sandbox.serialize import dumps
from persona_sandbox.server import bind_socket
from persona_sandbox.state import NewInquiry
from persona_sandbox.webhook_delivery import WebhookDeliverer
from persona_sandbox.webhook_sender import MAX_ATTEMPTS, RETRY_INTERVALS_S
from tests.sandbox.receiver import WAIT_S, Received, Receiver, serve_receiver
from tests.sandbox.support import HEADERS, Harness, create_body

SECRET: Final = "wbhsec_sandbox_tests_current"
OLD_SECRET: Final = "wbhsec_sandbox_tests_previous"
#: Divides Persona's ~51 hours of retries down to about 0.2 s.
INSTANT: Final = 1_000_000.0
#: Long enough that a scheduled retry is still waiting when the test acts on it.
SLOW: Final = 1.0
#: Sandbox seconds that take an `approved` scenario (60 s delay) past its decision.
PAST_DECISION_S: Final = 60 + 30 + 1


@pytest.fixture
def receiver() -> Receiver:
    """A receiver reached in-process; it answers 200 unless a test scripts otherwise."""
    return Receiver()


@pytest.fixture
async def loopback_receiver() -> AsyncIterator[Receiver]:
    """A receiver served by uvicorn on a free loopback port."""
    async with serve_receiver(Receiver()) as served:
        yield served


def hooks(receiver: Receiver, **changes: Any) -> WebhookSettings:
    """Delivery to `receiver`, signed with SECRET, retries compressed to nothing."""
    values: dict[str, Any] = {"url": receiver.url, "secrets": (SECRET,)}
    values.update({"retry_compression": INSTANT, **changes})
    return WebhookSettings(**values)


@contextlib.asynccontextmanager
async def delivering(
    settings: WebhookSettings, transport: httpx.AsyncBaseTransport
) -> AsyncIterator[Harness]:
    """An in-process sandbox on a manual clock with its background tasks running."""
    clock = ManualClock()
    config = SandboxConfig(rate_limit_per_minute=0, webhooks=settings)
    app = create_app(config, clock=clock, webhook_transport=transport)
    sandbox = sandbox_of(app)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://sandbox.test/api/v1",
        headers=HEADERS,
    ) as client:
        sandbox.start_background()
        try:
            yield Harness(client, sandbox, clock)
        finally:
            await sandbox.stop_background()


def delivering_to(
    receiver: Receiver, **changes: Any
) -> contextlib.AbstractAsyncContextManager[Harness]:
    """`delivering` to an in-process receiver with `hooks(receiver, **changes)`."""
    return delivering(hooks(receiver, **changes), receiver.transport())


def create(sandbox: Sandbox, outcome: str = "approved") -> str:
    """A new inquiry with a 60-second scenario, made without any API call."""
    note = f"sandbox-outcome={outcome} sandbox-after=60"
    spec = NewInquiry(inquiry_template_id="itmpl_WebhookTests", note=note)
    return sandbox.state.create_inquiry(spec, sandbox.clock.now()).id


async def settle(sandbox: Sandbox) -> None:
    """Wait until the sandbox has no delivery left to make."""
    async with asyncio.timeout(WAIT_S):
        await sandbox.webhooks.wait_idle()


async def decided(sandbox: Sandbox, receiver: Receiver) -> list[Received]:
    """Create an approved inquiry, let it be decided, and wait until everything was sent."""
    create(sandbox)
    sandbox.clock.advance(PAST_DECISION_S)
    await receiver.wait_for_event("inquiry.approved")
    await settle(sandbox)
    return list(receiver.received)


def verifies(header: str, body: bytes, secret: str) -> bool:
    """Whether the worker's own verifier accepts `header` for `body` with `secret` alone."""
    try:
        verify(header, body, [secret], now=time.time())
    except SignatureError:
        return False
    return True


def recorded_ids(sandbox: Sandbox) -> list[str]:
    return [event.id for event in sandbox.events]


def tallies(sandbox: Sandbox) -> dict[str, Any]:
    webhooks: dict[str, Any] = sandbox.counters.to_json()["webhooks"]
    return webhooks


# --- signature and shape ------------------------------------------------------------------


async def test_delivery_is_signed_with_the_configured_secret(loopback_receiver: Receiver) -> None:
    config = SandboxConfig(rate_limit_per_minute=0, webhooks=hooks(loopback_receiver))
    async with run_sandbox(config, clock=ManualClock()) as handle:
        create(handle.sandbox)
        (delivery,) = await loopback_receiver.wait_for_count(1)

    now = time.time()
    matched = verify(delivery.signature, delivery.body, [SECRET], now=now, tolerance_s=60)
    assert len(parse_header(delivery.signature)) == 1
    assert abs(matched.timestamp - now) < 60
    assert not verifies(delivery.signature, delivery.body, OLD_SECRET)


async def test_rotation_signs_with_every_secret(receiver: Receiver) -> None:
    async with delivering_to(receiver, secrets=(SECRET, OLD_SECRET), rotation=True) as harness:
        create(harness.sandbox)
        (delivery,) = await receiver.wait_for_count(1)

    new_pair, old_pair = delivery.signature.split(" ")
    assert verifies(new_pair, delivery.body, SECRET)
    assert verifies(old_pair, delivery.body, OLD_SECRET)
    assert not verifies(new_pair, delivery.body, OLD_SECRET)


async def test_without_rotation_only_the_first_secret_signs(receiver: Receiver) -> None:
    async with delivering_to(receiver, secrets=(SECRET, OLD_SECRET)) as harness:
        create(harness.sandbox)
        (delivery,) = await receiver.wait_for_count(1)

    assert len(parse_header(delivery.signature)) == 1
    assert verifies(delivery.signature, delivery.body, SECRET)


async def test_body_is_the_recorded_event_as_raw_json(receiver: Receiver) -> None:
    async with delivering_to(receiver) as harness:
        create(harness.sandbox)
        (delivery,) = await receiver.wait_for_count(1)
        (event,) = harness.sandbox.events

    assert delivery.body == dumps(event.to_webhook_body())
    assert delivery.headers["content-type"].startswith("application/json")
    assert delivery.document["data"]["attributes"]["payload"]["included"] == []


async def test_first_attempt_headers_count_attempts(receiver: Receiver) -> None:
    async with delivering_to(receiver) as harness:
        create(harness.sandbox)
        (delivery,) = await receiver.wait_for_count(1)

    assert delivery.headers["persona-webhook-attempts-made"] == "1"
    assert delivery.headers["persona-webhook-attempts-left"] == str(MAX_ATTEMPTS - 1)
    first_attempted_at = int(delivery.headers["persona-webhook-first-attempted-at"])
    assert abs(first_attempted_at - time.time()) < 60


# --- which events, when -----------------------------------------------------------------------


async def test_decided_inquiry_is_delivered_without_any_api_read(
    loopback_receiver: Receiver,
) -> None:
    config = SandboxConfig(rate_limit_per_minute=0, webhooks=hooks(loopback_receiver))
    async with run_sandbox(config, clock=ManualClock()) as handle:
        async with httpx.AsyncClient(base_url=handle.url, headers=HEADERS) as client:
            note = "sandbox-outcome=approved sandbox-after=60"
            created = await client.post("/inquiries", json=create_body(note=note))
        handle.sandbox.clock.advance(PAST_DECISION_S)

        received = await loopback_receiver.wait_for_event("inquiry.approved")

        assert created.status_code == 201
        assert handle.counters_json()["operations"] == {"create-an-inquiry": {"201": 1}}
    assert received[0].name == "inquiry.created"


async def test_delivery_turned_on_at_run_time_fires_without_reads(receiver: Receiver) -> None:
    async with delivering(WebhookSettings(), receiver.transport()) as harness:
        changes = {"url": receiver.url, "secrets": [SECRET], "retry_compression": INSTANT}
        turned_on = await harness.admin("POST", "webhooks", changes)

        received = await decided(harness.sandbox, receiver)

        assert turned_on.status_code == 200
        assert [delivery.event_id for delivery in received] == recorded_ids(harness.sandbox)
        assert harness.sandbox.counters.requests == 0


async def test_events_arrive_once_in_order_unless_asked_otherwise(receiver: Receiver) -> None:
    async with delivering_to(receiver) as harness:
        received = await decided(harness.sandbox, receiver)

        assert [delivery.event_id for delivery in received] == recorded_ids(harness.sandbox)
        assert tallies(harness.sandbox)["duplicates"] == 0
        assert tallies(harness.sandbox)["reordered"] == 0


async def test_only_the_configured_events_are_delivered(receiver: Receiver) -> None:
    async with delivering_to(receiver, events=("inquiry.approved", "*.completed")) as harness:
        received = await decided(harness.sandbox, receiver)

    assert [delivery.name for delivery in received] == ["inquiry.completed", "inquiry.approved"]


async def test_request_path_does_not_wait_for_delivery(receiver: Receiver) -> None:
    receiver.hold = lambda index: True
    async with delivering_to(receiver, timeout_s=60) as harness:
        async with asyncio.timeout(WAIT_S):
            created = await harness.create()

        held = await receiver.wait_for_count(1)

        assert created.status_code == 201
        assert held[0].event_id == recorded_ids(harness.sandbox)[0]


# --- retries ----------------------------------------------------------------------------------


async def test_failed_delivery_is_retried_until_it_succeeds(receiver: Receiver) -> None:
    receiver.answer = lambda index: 500 if index < 2 else 200
    async with delivering_to(receiver) as harness:
        create(harness.sandbox)
        received = await receiver.wait_for_count(3)
        await settle(harness.sandbox)

        counters = tallies(harness.sandbox)
    assert len({delivery.event_id for delivery in received}) == 1
    assert [r.headers["persona-webhook-attempts-made"] for r in received] == ["1", "2", "3"]
    assert len({r.headers["persona-webhook-first-attempted-at"] for r in received}) == 1
    assert counters["attempted"] == 3
    assert counters["failed"] == 2
    assert counters["succeeded"] == 1
    assert counters["retries"] == 2
    assert counters["answers"] == {"200": 1, "500": 2}


async def test_retries_wait_persona_intervals_divided_by_the_compression(
    receiver: Receiver,
) -> None:
    compression = 100.0
    receiver.answer = lambda index: 500 if index < 2 else 200
    async with delivering_to(receiver, retry_compression=compression) as harness:
        create(harness.sandbox)
        first, second, third = await receiver.wait_for_count(3)

    first_gap, second_gap = second.at - first.at, third.at - second.at
    assert RETRY_INTERVALS_S[0] / compression <= first_gap < RETRY_INTERVALS_S[1] / compression
    assert RETRY_INTERVALS_S[1] / compression <= second_gap < RETRY_INTERVALS_S[2] / compression


async def test_delivery_gives_up_after_persona_attempts(receiver: Receiver) -> None:
    receiver.answer = lambda index: 503
    async with delivering_to(receiver) as harness:
        create(harness.sandbox)
        await settle(harness.sandbox)

        counters = tallies(harness.sandbox)
    assert len(receiver.received) == MAX_ATTEMPTS == 8
    assert receiver.received[-1].headers["persona-webhook-attempts-left"] == "0"
    assert counters["exhausted"] == 1
    assert counters["retries"] == MAX_ATTEMPTS - 1


@pytest.mark.parametrize("status", [200, 201, 202, 204])
async def test_persona_success_codes_end_the_delivery(receiver: Receiver, status: int) -> None:
    receiver.answer = lambda index: status
    async with delivering_to(receiver) as harness:
        create(harness.sandbox)
        await settle(harness.sandbox)

        assert tallies(harness.sandbox)["attempted"] == 1


@pytest.mark.parametrize("status", [203, 301, 400, 410, 429])
async def test_other_answers_are_retried(receiver: Receiver, status: int) -> None:
    receiver.answer = lambda index: status if index == 0 else 200
    async with delivering_to(receiver) as harness:
        create(harness.sandbox)
        await settle(harness.sandbox)

    assert [r.headers["persona-webhook-attempts-made"] for r in receiver.received] == ["1", "2"]


async def test_timeout_is_retried(loopback_receiver: Receiver) -> None:
    loopback_receiver.hold = lambda index: index == 0
    config = SandboxConfig(
        rate_limit_per_minute=0, webhooks=hooks(loopback_receiver, timeout_s=0.2)
    )
    async with run_sandbox(config, clock=ManualClock()) as handle:
        create(handle.sandbox)
        await settle(handle.sandbox)

        answers = handle.counters_json()["webhooks"]["answers"]
    # The held first attempt timed out and a retry got through. On a loaded machine an answered
    # attempt may take longer than 0.2 s too: that is one more timeout and one more retry.
    assert set(answers) == {"200", "timeout"}
    assert answers["200"] == 1
    assert answers["timeout"] >= 1
    first, *retries = loopback_receiver.received
    assert retries
    assert {retry.event_id for retry in retries} == {first.event_id}


async def test_refused_connection_is_a_failed_attempt() -> None:
    closed = bind_socket("127.0.0.1", 0)
    nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}/webhooks/persona"
    closed.close()
    settings = WebhookSettings(url=nowhere, secrets=(SECRET,), retry_compression=INSTANT)
    async with run_sandbox(SandboxConfig(webhooks=settings), clock=ManualClock()) as handle:
        create(handle.sandbox)
        await settle(handle.sandbox)

        counters = handle.counters_json()["webhooks"]
    assert counters["answers"] == {"connection_error": MAX_ATTEMPTS}
    assert counters["exhausted"] == 1


async def test_connection_error_is_retried() -> None:
    attempts: list[httpx.Request] = []

    def refuse_once(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        if len(attempts) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(204)

    settings = hooks(Receiver())
    async with delivering(settings, httpx.MockTransport(refuse_once)) as harness:
        create(harness.sandbox)
        await settle(harness.sandbox)

        assert tallies(harness.sandbox)["answers"] == {"204": 1, "connection_error": 1}
    assert [request.headers["persona-webhook-attempts-made"] for request in attempts] == ["1", "2"]


async def test_retry_uses_the_secrets_in_force_when_sent(receiver: Receiver) -> None:
    new_secret = "wbhsec_sandbox_tests_rotated_in"
    async with delivering_to(receiver) as harness:

        def rotate_then_accept(index: int) -> int:
            if index > 0:
                return 200
            rotated = hooks(receiver, secrets=(new_secret, SECRET), rotation=True)
            harness.sandbox.configure_webhooks(rotated)
            return 500

        receiver.answer = rotate_then_accept
        create(harness.sandbox)
        first, retry = await receiver.wait_for_count(2)

    assert len(parse_header(first.signature)) == 1
    new_pair, old_pair = retry.signature.split(" ")
    assert verifies(new_pair, retry.body, new_secret)
    assert verifies(old_pair, retry.body, SECRET)


# --- duplicates and reordering ----------------------------------------------------------------


async def test_duplicates_are_sent_when_asked(receiver: Receiver) -> None:
    async with delivering_to(receiver, duplicate_rate=1.0) as harness:
        received = await decided(harness.sandbox, receiver)

        ids = recorded_ids(harness.sandbox)
        assert [delivery.event_id for delivery in received] == [i for i in ids for _ in (1, 2)]
        assert tallies(harness.sandbox)["duplicates"] == len(ids)


async def test_reordering_sends_a_later_event_first_when_asked(receiver: Receiver) -> None:
    async with delivering_to(receiver, reorder_rate=1.0, reorder_hold_s=1.0) as harness:
        create(harness.sandbox)
        harness.sandbox.clock.advance(PAST_DECISION_S)
        # Every event is queued before the dispatcher takes the first one: the next is there to
        # overtake it at once, not only if the background pass runs within the 1 s hold.
        harness.sandbox.state.advance_all()
        await receiver.wait_for_event("inquiry.approved")
        await settle(harness.sandbox)
        received = list(receiver.received)

        ids = recorded_ids(harness.sandbox)
        arrived = [delivery.event_id for delivery in received]
        assert sorted(arrived) == sorted(ids)
        assert arrived[:2] == [ids[1], ids[0]]
        assert tallies(harness.sandbox)["reordered"] >= 1


async def test_held_back_event_goes_alone_when_nothing_follows(receiver: Receiver) -> None:
    async with delivering_to(receiver, reorder_rate=1.0, reorder_hold_s=0.01) as harness:
        create(harness.sandbox)
        await settle(harness.sandbox)

        assert [delivery.event_id for delivery in receiver.received] == recorded_ids(
            harness.sandbox
        )
        assert tallies(harness.sandbox)["reordered"] == 0


async def test_seeded_draws_repeat(receiver: Receiver) -> None:
    patterns = []
    for _ in range(2):
        receiver.received.clear()
        async with delivering_to(receiver, duplicate_rate=0.5, seed=11) as harness:
            received = await decided(harness.sandbox, receiver)
            index = {event_id: n for n, event_id in enumerate(recorded_ids(harness.sandbox))}
        patterns.append([index[delivery.event_id] for delivery in received])

    assert patterns[0] == patterns[1]
    assert len(patterns[0]) > len(set(patterns[0]))


# --- turning it off, shutting down, overload ------------------------------------------------


async def _retry_waiting(sandbox: Sandbox, receiver: Receiver) -> None:
    """Make the first event fail, so its retry waits, and wait until that is certain.

    First attempts go out in order and a failure is handed to its retry task before the next
    event is sent, so once the second event has arrived the first one's retry is waiting.
    """
    receiver.answer = lambda index: 500 if index == 0 else 200
    create(sandbox)
    create(sandbox)
    await receiver.wait_for_count(2)


async def test_disabling_delivery_cancels_pending_retries(receiver: Receiver) -> None:
    async with delivering_to(receiver, retry_compression=SLOW) as harness:
        await _retry_waiting(harness.sandbox, receiver)

        response = await harness.admin("DELETE", "webhooks")
        await settle(harness.sandbox)

        assert response.json()["url"] is None
        assert tallies(harness.sandbox)["cancelled"] == 1
    assert len(receiver.received) == 2


async def test_shutdown_leaves_no_task_behind(loopback_receiver: Receiver) -> None:
    before = asyncio.all_tasks()
    settings = hooks(loopback_receiver, retry_compression=SLOW)
    async with run_sandbox(SandboxConfig(webhooks=settings), clock=ManualClock()) as handle:
        await _retry_waiting(handle.sandbox, loopback_receiver)
        deliverer = handle.sandbox.webhooks

    leftover = [task for task in asyncio.all_tasks() - before if not task.done()]
    assert leftover == []
    assert not deliverer.running
    assert deliverer.pending == 0
    assert handle.counters_json()["webhooks"]["cancelled"] == 1
    assert len(loopback_receiver.received) == 2


async def test_full_queue_drops_events_instead_of_blocking() -> None:
    events, counters = EventLog(), Counters()
    settings = WebhookSettings(url="http://127.0.0.1:9/webhooks", secrets=(SECRET,))
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    deliverer = WebhookDeliverer(events, counters, settings, transport=transport, queue_size=1)
    deliverer.start()
    try:
        for _ in range(3):
            events.record("inquiry.created", ManualClock().now(), {}, inquiry_id=None)
    finally:
        await deliverer.stop()

    assert counters.to_json()["webhooks"]["enqueued"] == 1
    assert counters.to_json()["webhooks"]["dropped"] == 2


async def test_counters_show_deliveries(receiver: Receiver) -> None:
    async with delivering_to(receiver) as harness:
        create(harness.sandbox)
        await settle(harness.sandbox)

        shown = (await harness.admin("GET", "counters")).json()

    assert shown["webhooks"] == {
        "enqueued": 1,
        "attempted": 1,
        "succeeded": 1,
        "failed": 0,
        "retries": 0,
        "exhausted": 0,
        "duplicates": 0,
        "reordered": 0,
        "dropped": 0,
        "cancelled": 0,
        "answers": {"200": 1},
    }
