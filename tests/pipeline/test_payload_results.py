"""Results from webhook payloads: a terminal event whose `included` holds the inquiry's
verifications is published without an API read, and is the result a read gives.

End to end the sandbox delivers signed events whose `included` follows a subscription's
allowlist; polling is set to a minute, so a result within a second came by webhook. The
payload rules themselves (incomplete, stale, refused) are driven event by event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from arq.worker import Worker

from jobs.context import CTX_KEY, JobContext, persona_client
from jobs.pipeline.fetch_verification import fetch_verification
from jobs.pipeline.result import build_result
from jobs.webhooks.events import WebhookEvent, handle_event
from persona_sandbox.webhook_settings import WebhookSettings
from tests.conftest import TEST_WEBHOOK_SECRET
from tests.harness import serve
from tests.pipeline.conftest import Pipeline, answered_then_followed, follow_one
from worker.web import create_app

pytestmark = [
    pytest.mark.settings(
        poll_min_interval_s=60.0, poll_max_interval_s=300.0, publish_fields=("name-first",)
    ),
    pytest.mark.sandbox(decision_after_s=3_600.0),
]

PEOPLE = 3
UPDATED = "2026-01-01T12:00:00.000Z"
EARLIER = "2026-01-01T11:00:00.000Z"


# --- end to end ------------------------------------------------------------------------------


@pytest.fixture
async def deliver_with(pipeline: Pipeline) -> AsyncIterator[Any]:
    """Start the receiver; `deliver_with(names)` makes the sandbox include those relationships."""
    async with serve(create_app(pipeline.settings)) as root:

        def configure(names: tuple[str, ...]) -> None:
            pipeline.sandbox.sandbox.configure_webhooks(
                WebhookSettings(
                    url=f"{root}/webhooks/persona",
                    secrets=(TEST_WEBHOOK_SECRET,),
                    duplicate_rate=0.5,
                    seed=5,
                    included_relationships=names,
                )
            )

        yield configure


async def _decide_with(pipeline: Pipeline, deliver_with: Any, names: tuple[str, ...]) -> None:
    """Deliver webhooks including `names`; decide every person; wait until all is handled."""
    deliver_with(names)
    async with pipeline.running() as worker:
        await _decide(pipeline, worker)


async def _decide(pipeline: Pipeline, worker: Worker) -> None:
    for index in range(PEOPLE):
        await pipeline.create(
            f"person-{index}",
            note="sandbox-outcome=approved sandbox-after=30",
            fields={"name-first": "Jane", "name-last": "Doe"},
        )
    await pipeline.wait_for_events(PEOPLE)
    await asyncio.wait_for(pipeline.sandbox.sandbox.webhooks.wait_idle(), pipeline.wait_s)
    await pipeline.wait_until(lambda: pipeline.settled(worker), "the queue to settle")


async def test_a_result_from_an_included_payload_is_the_result_a_read_gives(
    pipeline: Pipeline, deliver_with: Any
) -> None:
    await _decide_with(pipeline, deliver_with, ("verifications",))

    assert pipeline.calls("retrieve-an-inquiry") == 0, "every result came from its payload"
    assert pipeline.calls("list-all-inquiries") == 0
    async with httpx.AsyncClient(base_url=pipeline.sandbox.url) as http:
        client = persona_client(pipeline.settings, http)
        for event in await pipeline.events():
            read = await client.retrieve_inquiry(event.inquiry_id, include=("verifications",))
            expected = build_result(
                read,
                request_id=event.data["request_id"],
                reference_id=event.data["reference_id"],
                publish_fields=pipeline.settings.publish_fields,
                now=0.0,
            )
            assert read.verifications(), "the inquiry has verifications to carry"
            assert {**event.data, "published_at": None} == {**expected, "published_at": None}
            assert event.data["fields"] == {"name-first": "Jane"}


async def test_a_payload_without_the_verifications_falls_back_to_a_read(
    pipeline: Pipeline, deliver_with: Any
) -> None:
    await _decide_with(pipeline, deliver_with, ("account",))

    assert len(await pipeline.events()) == PEOPLE
    assert pipeline.calls("retrieve-an-inquiry") == PEOPLE


# --- event by event --------------------------------------------------------------------------


@pytest.fixture
def context(receiver: JobContext) -> JobContext:
    """A job context as the receiver builds one, on the test's Redis and queue."""
    return receiver


def _payload(
    status: str = "approved", *, updated: str = UPDATED, carried: tuple[str, ...] = ("ver_1",)
) -> dict[str, Any]:
    linked = [{"type": "verification/selfie", "id": ver_id} for ver_id in ("ver_1", "ver_2")]
    return {
        "data": {
            "type": "inquiry",
            "id": "inq_1",
            "attributes": {
                "status": status,
                "updated-at": updated,
                "fields": {
                    "name-first": {"type": "string", "value": "Jane"},
                    "name-last": {"type": "string", "value": "Doe"},
                },
            },
            "relationships": {"verifications": {"data": linked}},
        },
        "included": [
            {
                "type": "verification/selfie",
                "id": ver_id,
                "attributes": {"status": "passed", "checks": [], "country-code": "DE"},
            }
            for ver_id in carried
        ],
    }


def _event(payload: dict[str, Any], event_id: str = "evt_1") -> WebhookEvent:
    status = payload["data"]["attributes"]["status"]
    return WebhookEvent(
        event_id=event_id,
        name=f"inquiry.{status}",
        created_at=UPDATED,
        object_type="inquiry",
        object_id="inq_1",
        status=status,
        payload=payload,
    )


async def _follow(context: JobContext, request_id: str = "poll-1") -> None:
    await follow_one(context, request_id, status="pending")


async def test_a_complete_payload_is_kept_reduced_to_what_the_result_needs(
    context: JobContext,
) -> None:
    await _follow(context)

    outcome = await handle_event(context, _event(_payload(carried=("ver_1", "ver_2"))))

    assert outcome.action == "payload kept"
    stored = await context.payloads.take("inq_1")
    assert stored is not None
    assert stored.status == "approved"
    attributes = stored.document["data"]["attributes"]
    assert attributes["fields"] == {"name-first": {"type": "string", "value": "Jane"}}
    assert "country-code" not in stored.document["included"][0]["attributes"]
    record = await context.ledger.inquiry("inq_1")
    assert record is not None
    assert record.status == "approved"


async def test_an_incomplete_included_keeps_nothing_and_the_fetch_reads(
    context: JobContext,
) -> None:
    await _follow(context)

    outcome = await handle_event(context, _event(_payload(carried=("ver_1",))))

    assert outcome.action == "fetch enqueued"
    assert await context.payloads.take("inq_1") is None


async def test_a_payload_older_than_a_published_result_changes_nothing(
    context: JobContext,
) -> None:
    await answered_then_followed(context, answer="approved", status="pending")
    await context.payloads.published("inq_1", _seconds(UPDATED))

    late = _payload("completed", updated=EARLIER, carried=("ver_1", "ver_2"))
    outcome = await handle_event(context, _event(late))

    assert outcome.action == "stale payload"
    assert await context.payloads.take("inq_1") is None
    after = await context.ledger.inquiry("inq_1")
    assert after is not None
    assert after.status == "approved", "the late status is not noted"


async def test_an_older_payload_does_not_replace_a_newer_one(context: JobContext) -> None:
    await _follow(context)
    await handle_event(context, _event(_payload(carried=("ver_1", "ver_2"))))

    late = _payload("completed", updated=EARLIER, carried=("ver_1", "ver_2"))
    outcome = await handle_event(context, _event(late, event_id="evt_0"))

    assert outcome.action == "stale payload"
    stored = await context.payloads.take("inq_1")
    assert stored is not None
    assert stored.status == "approved"


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


async def _fetch(context: JobContext) -> Any:
    job_id = context.keys.fetch_job_id("inq_1", 0)
    ctx = {CTX_KEY: context, "job_id": job_id, "job_try": 1}
    return await fetch_verification(ctx, inquiry_id="inq_1")


async def test_the_fetch_publishes_a_kept_payload_without_a_read(
    pipeline: Pipeline, context: JobContext
) -> None:
    await _follow(context)
    await handle_event(context, _event(_payload(carried=("ver_1", "ver_2"))))

    outcome = await _fetch(context)

    assert (outcome["source"], outcome["answered"]) == ("payload", 1)
    assert pipeline.calls("retrieve-an-inquiry") == 0
    [event] = await pipeline.events()
    assert [item["id"] for item in event.data["verifications"]] == ["ver_1", "ver_2"]
    assert await context.payloads.take("inq_1") is None, "a published payload is dropped"


async def test_a_kept_payload_whose_status_a_check_contradicted_is_not_used(
    pipeline: Pipeline, context: JobContext
) -> None:
    await _follow(context)
    await handle_event(context, _event(_payload(carried=("ver_1", "ver_2"))))
    await context.ledger.note_status("inq_1", "declined", context.clock())

    outcome = await _fetch(context)

    assert pipeline.calls("retrieve-an-inquiry") == 1, "it read the inquiry instead"
    assert "failed" in outcome, "the sandbox knows no inq_1: the read names the reason"


async def test_an_inquiry_whose_creator_asked_for_screening_is_read_not_taken_from_its_payload(
    pipeline: Pipeline, context: JobContext
) -> None:
    now = context.clock()
    await context.ledger.open("create-1", "create_inquiry", now)
    await context.ledger.follow(
        "inq_1",
        "create-1",
        reference_id=None,
        status="pending",
        now=now,
        first_due=now + 600,
        creator=True,
    )
    await context.report_waits.set_plan("create-1", ["watchlist"])
    await handle_event(context, _event(_payload(carried=("ver_1", "ver_2"))))

    await _fetch(context)

    assert pipeline.calls("retrieve-an-inquiry") == 1, "the screening's names need a read"
