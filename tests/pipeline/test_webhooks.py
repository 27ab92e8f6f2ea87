"""The webhook fast path end to end: sandbox → signed delivery → receiver → fetch → one event.

Polling is set to a minute, so a result that arrives in a second or two came through the
webhook; the sandbox delivers every event twice and holds some back so later ones overtake
them, and still exactly one result is published per request.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest
from jobs.state.store import Store

from bench.waiting import settle
from jobs.state import keys
from persona_sandbox.webhook_settings import WebhookSettings
from tests.conftest import TEST_WEBHOOK_SECRET
from tests.harness import serve
from tests.pipeline.conftest import Pipeline
from worker.web import create_app

pytestmark = [
    pytest.mark.settings(poll_min_interval_s=60.0, poll_max_interval_s=300.0, poll_align_s=0.0),
    pytest.mark.sandbox(decision_after_s=3_600.0),
]

PEOPLE = 5


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


async def _settled(pipeline: Pipeline) -> None:
    """Wait until every delivery was made and no job is due or running: every delivered
    trigger has been handled."""
    await asyncio.wait_for(pipeline.sandbox.sandbox.webhooks.wait_idle(), pipeline.wait_s)
    await settle(pipeline.redis, pipeline.settings.queue_name, timeout_s=pipeline.wait_s)


async def test_a_decision_arrives_by_webhook_long_before_a_poll_and_once(
    pipeline: Pipeline, webhook_url: str
) -> None:
    started = time.monotonic()
    async with pipeline.running():
        for index in range(PEOPLE):
            await pipeline.create(
                f"person-{index}", note="sandbox-outcome=completed sandbox-after=60"
            )
        await pipeline.wait_for_events(PEOPLE)
        elapsed = time.monotonic() - started
        await _settled(pipeline)

    events = await pipeline.events()
    assert sorted(event.data["reference_id"] for event in events) == [
        f"person-{index}" for index in range(PEOPLE)
    ]
    assert {event.event for event in events} == {"inquiry.completed"}
    assert elapsed < pipeline.settings.poll_min_interval_s
    store = Store(pipeline.redis, record_ttl_s=60)
    for event in events:
        record = await store.get(event.inquiry_id)
        assert record is not None
        assert record.polls == 0, "no status check ran: the webhook brought the result"
    webhooks = pipeline.sandbox.counters_json()["webhooks"]
    assert webhooks["duplicates"] > 0
    assert webhooks["succeeded"] >= webhooks["enqueued"]
    # One create and one read per result: the webhook path sits at the floor.
    assert pipeline.calls("create-an-inquiry") == PEOPLE
    assert pipeline.calls("retrieve-an-inquiry") == PEOPLE
    assert pipeline.calls("list-all-inquiries") == 0


async def test_each_delivered_event_is_acted_on_once(pipeline: Pipeline, webhook_url: str) -> None:
    async with pipeline.running():
        await pipeline.create("person-1", note="sandbox-outcome=failed sandbox-after=30")
        await pipeline.wait_for_events(1)
        await _settled(pipeline)

    delivered = {
        event.id
        for event in pipeline.sandbox.state.events.events()
        if event.name.startswith("inquiry.")
    }
    remembered = {
        key.removeprefix(keys.webhook_event_key(""))
        for key in await pipeline.redis.keys(keys.webhook_event_key("*"))
    }
    assert delivered <= remembered
    [result] = await pipeline.events()
    assert json.dumps(result.data).count("inquiry.failed") == 1
