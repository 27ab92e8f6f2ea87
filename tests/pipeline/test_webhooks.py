"""Webhooks: what each verified event does to the ledger, and the fast path end to end.

End to end: sandbox → signed delivery → receiver → fetch → one answer per request. Polling is
set to a minute, so a result that arrives in a second or two came through the webhook; the
sandbox delivers every event twice and holds some back so later ones overtake them, and still
each request is answered exactly once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest
from arq.worker import Worker

from jobs.context import JobContext
from jobs.state.keys import ARQ_JOB_PREFIX
from jobs.webhooks.events import WebhookEvent, handle_event
from persona_sandbox.webhook_settings import WebhookSettings
from tests.conftest import TEST_WEBHOOK_SECRET
from tests.harness import serve
from tests.pipeline.conftest import Pipeline, answered_then_followed, follow_one
from worker.web import create_app

pytestmark = [
    pytest.mark.settings(poll_min_interval_s=60.0, poll_max_interval_s=300.0),
    pytest.mark.sandbox(decision_after_s=3_600.0),
]

PEOPLE = 5


# --- what one event does ---------------------------------------------------------------------


@pytest.fixture
def context(receiver: JobContext) -> JobContext:
    """A job context as the receiver builds one, on the test's Redis and queue."""
    return receiver


def _event(name: str, event_id: str = "evt_1", inquiry_id: str = "inq_1") -> WebhookEvent:
    return WebhookEvent(
        event_id=event_id,
        name=name,
        created_at=None,
        object_type="inquiry",
        object_id=inquiry_id,
        status=None,
    )


async def _follow(context: JobContext, request_id: str = "poll-1") -> float:
    """Make a request follow `inq_1`, next checked in ten minutes; when that check is due."""
    return await follow_one(context, request_id, status="created")


async def _queued(context: JobContext) -> list[str]:
    return [str(job) for job in await context.redis.zrange(context.settings.queue_name, 0, -1)]


async def test_a_terminal_event_of_a_followed_inquiry_enqueues_its_one_fetch(
    context: JobContext,
) -> None:
    await _follow(context)

    first = await handle_event(context, _event("inquiry.completed"))
    second = await handle_event(context, _event("inquiry.approved", event_id="evt_2"))

    assert (first.action, first.inquiry_id) == ("fetch enqueued", "inq_1")
    assert second.action == "fetch enqueued"
    fetch_id = context.keys.fetch_job_id("inq_1", 0)
    assert await _queued(context) == [fetch_id], "one fetch per answer round"
    assert await context.redis.exists(ARQ_JOB_PREFIX + fetch_id)


async def test_a_request_following_after_an_answer_gets_a_fetch_of_its_own(
    context: JobContext,
) -> None:
    await answered_then_followed(context, answer="expired", status="created")

    outcome = await handle_event(context, _event("inquiry.completed"))

    assert outcome.action == "fetch enqueued"
    assert await _queued(context) == [context.keys.fetch_job_id("inq_1", 1)]


async def test_a_redelivered_event_id_does_nothing(context: JobContext) -> None:
    await _follow(context)
    await handle_event(context, _event("inquiry.completed"))
    await context.redis.delete(context.settings.queue_name)

    again = await handle_event(context, _event("inquiry.completed"))

    assert again.action == "duplicate"
    assert await _queued(context) == []
    marker = context.keys.webhook_event("evt_1")
    assert await context.redis.get(marker) == "inquiry.completed"
    assert 0 < await context.redis.ttl(marker) <= context.settings.webhook_dedupe_ttl_s


async def test_another_status_of_a_followed_inquiry_is_noted_and_its_check_keeps_its_time(
    context: JobContext,
) -> None:
    due = await _follow(context)

    outcome = await handle_event(context, _event("inquiry.started"))

    assert outcome.action == "status noted"
    record = await context.ledger.inquiry("inq_1")
    assert record is not None
    assert (record.status, record.polls, record.followers) == ("pending", 0, {"poll-1": None})
    assert await context.redis.zscore(context.keys.due, "inq_1") == due
    assert await _queued(context) == []


async def test_an_event_of_an_inquiry_nobody_follows_changes_nothing(context: JobContext) -> None:
    outcome = await handle_event(context, _event("inquiry.completed"))

    assert (outcome.action, outcome.inquiry_id) == ("not followed", "inq_1")
    assert await context.ledger.inquiry("inq_1") is None
    assert await context.redis.zcard(context.keys.due) == 0
    assert await _queued(context) == []


async def test_an_event_after_every_request_was_answered_changes_nothing(
    context: JobContext,
) -> None:
    await _follow(context)
    await context.ledger.answer("poll-1", event="inquiry.completed", data={}, inquiry_id="inq_1")

    outcome = await handle_event(context, _event("inquiry.approved"))

    assert outcome.action == "already published"
    record = await context.ledger.inquiry("inq_1")
    assert record is not None
    assert (record.done, record.status) == (True, "created")
    assert await _queued(context) == []


@pytest.mark.parametrize(
    ("name", "object_type"),
    [("inquiry.transitioned", "inquiry"), ("case.approved", "case"), ("inquiry.approved", None)],
)
async def test_an_event_that_announces_no_inquiry_status_is_ignored(
    context: JobContext, name: str, object_type: str | None
) -> None:
    await _follow(context)
    event = WebhookEvent(
        event_id="evt_1",
        name=name,
        created_at=None,
        object_type=object_type,
        object_id="inq_1",
        status=None,
    )

    outcome = await handle_event(context, event)

    assert outcome.action == "ignored"
    assert await _queued(context) == []
    assert await context.redis.exists(context.keys.webhook_event("evt_1"))


# --- the fast path end to end ----------------------------------------------------------------


@pytest.fixture
async def webhook_url(pipeline: Pipeline) -> AsyncIterator[str]:
    """The receiver (`web` process) on loopback, and the sandbox delivering to it."""
    async with serve(create_app(pipeline.settings)) as root:
        url = f"{root}/webhooks/persona"
        pipeline.sandbox.sandbox.configure_webhooks(
            WebhookSettings(
                url=url,
                secrets=(TEST_WEBHOOK_SECRET,),
                duplicate_rate=1.0,
                reorder_rate=0.5,
                reorder_hold_s=0.2,
                seed=11,
            )
        )
        yield url


async def _settled(pipeline: Pipeline, worker: Worker) -> None:
    """Wait until every delivery was made and every job it enqueued has run: every delivered
    trigger has been handled."""
    await asyncio.wait_for(pipeline.sandbox.sandbox.webhooks.wait_idle(), pipeline.wait_s)
    await pipeline.wait_until(lambda: pipeline.settled(worker), "the queue to settle")


async def test_a_decision_arrives_by_webhook_long_before_a_poll_and_once(
    pipeline: Pipeline, webhook_url: str
) -> None:
    started = time.monotonic()
    async with pipeline.running() as worker:
        for index in range(PEOPLE):
            await pipeline.create(
                f"person-{index}", note="sandbox-outcome=completed sandbox-after=60"
            )
        await pipeline.wait_for_events(PEOPLE)
        elapsed = time.monotonic() - started
        await _settled(pipeline, worker)

    events = await pipeline.events()
    assert sorted(event.data["reference_id"] for event in events) == [
        f"person-{index}" for index in range(PEOPLE)
    ]
    assert {event.event for event in events} == {"inquiry.completed"}
    assert elapsed < pipeline.settings.poll_min_interval_s
    for event in events:
        record = await pipeline.record(event.inquiry_id)
        assert record is not None
        assert record.polls == 0, "no status check ran: the webhook brought the result"
        assert (record.done, record.followers) == (True, {})
        request = await pipeline.request(event.data["request_id"])
        assert request is not None
        assert request.entry == event.entry_id
    webhooks = pipeline.sandbox.counters_json()["webhooks"]
    assert webhooks["duplicates"] > 0
    assert webhooks["succeeded"] >= webhooks["enqueued"]
    # One create and one read per result: the webhook path sits at the floor.
    assert pipeline.calls("create-an-inquiry") == PEOPLE
    assert pipeline.calls("retrieve-an-inquiry") == PEOPLE
    assert pipeline.calls("list-all-inquiries") == 0


async def test_each_delivered_event_is_acted_on_once(pipeline: Pipeline, webhook_url: str) -> None:
    async with pipeline.running() as worker:
        await pipeline.create("person-1", note="sandbox-outcome=failed sandbox-after=30")
        await pipeline.wait_for_events(1)
        await _settled(pipeline, worker)

    delivered = {
        event.id
        for event in pipeline.sandbox.state.events.events()
        if event.name.startswith("inquiry.")
    }
    remembered = {
        key.removeprefix(pipeline.keys.webhook_event(""))
        for key in await pipeline.redis.keys(pipeline.keys.webhook_event("*"))
    }
    assert delivered <= remembered
    [result] = await pipeline.events()
    assert json.dumps(result.data).count("inquiry.failed") == 1
