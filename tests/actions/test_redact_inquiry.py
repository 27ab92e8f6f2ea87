"""`redact_inquiry` end to end: erased at Persona, our own copies of personal data dropped."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from redis.asyncio import Redis

from jobs.context import JobContext
from jobs.pipeline.answers import publish_result
from jobs.producer import connect
from jobs.state.forget import forget_inquiry
from jobs.state.keys import ARQ_RESULT_PREFIX
from jobs.state.redis_typing import resolved
from tests.actions.conftest import NO_STATUS_CHECKS, Actions, refusals

pytestmark = pytest.mark.redis


@pytest.fixture
def action_overrides() -> dict[str, Any]:
    # PII is opt-in: let one field into result events, so there is a copy to drop.
    return {"publish_fields": "name-first"}


async def test_redaction_erases_at_persona_and_publishes_once(actions: Actions) -> None:
    inquiry = await actions.new_inquiry(fields={"name-first": "Jane"})

    job_id, event = await actions.outcome("redact_inquiry", inquiry_id=inquiry.id)

    assert event.event == "inquiry.redacted"
    assert event.inquiry_id == inquiry.id
    assert event.data["status"] == "created"
    assert event.data["redacted_at"] is not None
    assert event.data["already_redacted"] is False
    assert event.data["dropped"] == {
        "inquiry_records": 0,
        "create_requests": 0,
        "job_results": 0,
        "stream_events": 0,
        "screenings": 0,
    }
    assert actions.sandbox.state.inquiry(inquiry.id).redacted_at is not None
    assert (await actions.job_result(job_id))["s"] is True


async def test_a_rerun_changes_nothing(actions: Actions) -> None:
    inquiry = await actions.new_inquiry()

    job_id, _ = await actions.assert_rerun_changes_nothing("redact_inquiry", inquiry_id=inquiry.id)

    assert (await actions.job_result(job_id))["r"]["published"] is False


async def test_an_inquiry_redacted_before_is_confirmed_not_failed(actions: Actions) -> None:
    inquiry = await actions.new_inquiry()
    await actions.persona.redact_inquiry(inquiry.id, idempotency_key=uuid.uuid4().hex)

    _, event = await actions.outcome("redact_inquiry", inquiry_id=inquiry.id)

    assert event.event == "inquiry.redacted"
    assert event.data["already_redacted"] is True
    assert actions.counters()["operations"]["redact-an-inquiry"] == {"200": 1, "409": 1}


async def test_an_unknown_inquiry_is_one_failure(actions: Actions) -> None:
    job_id = await actions.enqueue("redact_inquiry", inquiry_id="inq_Unknown")
    await actions.run()

    await actions.assert_failed_once(job_id, "NotFoundError")


async def test_our_copies_of_personal_data_are_dropped(actions: Actions) -> None:
    async with actions.running():
        create_id, inquiry_id = await actions.followed("person-5", fields={"name-first": "Jane"})
        await actions.simulate(inquiry_id, "complete_inquiry")
        completed = await actions.wait_for_event(lambda e: e.event == "inquiry.completed")
        assert completed.data["fields"] == {"name-first": "Jane"}
        # A result event without field values (another inquiry) stays.
        other = await actions.new_inquiry(reference_id="person-6")
        poll_id = await actions.enqueue("poll_inquiry", inquiry_id=other.id)
        await actions.simulate(other.id, "fail_inquiry")
        await actions.wait_for_event(lambda e: e.data.get("request_id") == poll_id)

        job_id = await actions.enqueue("redact_inquiry", inquiry_id=inquiry_id)
        redacted = await actions.wait_for_event(lambda e: e.data.get("job_id") == job_id)

    # The create request's reference id went with its answer; the record stays, without one.
    assert redacted.data["dropped"] == {
        "inquiry_records": 1,
        "create_requests": 0,
        "job_results": 1,
        "stream_events": 1,
        "screenings": 0,
    }
    record = await actions.record(inquiry_id)
    assert record is not None
    assert (record.creator, record.reference_id) == (create_id, None)
    request = await actions.answered(create_id)
    assert (request.inquiry_id, request.reference_id) == (inquiry_id, None)
    assert not await actions.redis.exists(ARQ_RESULT_PREFIX + create_id)
    remaining = await actions.events()
    assert [e.event for e in remaining] == ["inquiry.failed", "inquiry.redacted"]
    assert "Jane" not in str([e.data for e in remaining])
    assert "person-5" not in str([e.data for e in remaining])


@NO_STATUS_CHECKS
async def test_the_reference_ids_of_waiting_requests_are_blanked(actions: Actions) -> None:
    async with actions.running():
        create_id, inquiry_id = await actions.followed("person-5")
        job_id = await actions.enqueue("redact_inquiry", inquiry_id=inquiry_id)
        redacted = await actions.wait_for_event(lambda e: e.data.get("job_id") == job_id)

    assert redacted.data["dropped"]["inquiry_records"] == 1
    assert redacted.data["dropped"]["create_requests"] == 1
    record = await actions.record(inquiry_id)
    assert record is not None
    assert record.followers == {create_id: None}, "the request still waits, without its id"
    request = await actions.answered(create_id)
    assert (request.reference_id, request.entry) == (None, None)
    assert "person-5" not in str(await _everything_in_redis(actions.redis))


@NO_STATUS_CHECKS
async def test_a_followed_inquiry_redacted_still_answers_its_request_without_fields(
    actions: Actions,
) -> None:
    async with actions.running():
        create_id, inquiry_id = await actions.followed("person-5", fields={"name-first": "Jane"})
        # Completed, but not checked yet: the create request still waits when it is redacted.
        await actions.simulate(inquiry_id, "complete_inquiry")
        job_id = await actions.enqueue("redact_inquiry", inquiry_id=inquiry_id)
        await actions.wait_for_event(lambda e: e.data.get("job_id") == job_id)
        # A new request is checked at once, and the result answers every waiting request.
        await actions.enqueue("poll_inquiry", inquiry_id=inquiry_id)
        completed = await actions.wait_for_event(lambda e: e.data.get("request_id") == create_id)

    assert completed.event == "inquiry.completed"
    assert completed.data["fields"] == {"name-first": None}, "Persona erased the value"
    assert "Jane" not in str(completed.data)


async def test_a_result_read_before_the_redaction_is_published_without_field_values(
    actions: Actions,
) -> None:
    inquiry = await actions.new_inquiry(reference_id="person-5", fields={"name-first": "Jane"})
    await actions.simulate(inquiry.id, "complete_inquiry")
    queue = await connect(str(actions.settings.redis_url), queue_name=actions.settings.queue_name)
    try:
        context = JobContext.build(
            actions.settings, persona=actions.persona, redis=actions.redis, queue=queue
        )
        now = context.clock()
        await context.ledger.open("poll-1", "poll_inquiry", now)
        await context.ledger.follow(
            inquiry.id, "poll-1", reference_id=None, status="completed", now=now, first_due=now
        )
        # A fetch reads the completed inquiry; before it publishes, a redaction runs whole.
        record = await context.ledger.inquiry(inquiry.id)
        document = await actions.persona.retrieve_inquiry(inquiry.id, include=("verifications",))
        await actions.persona.redact_inquiry(inquiry.id, idempotency_key=uuid.uuid4().hex)
        dropped = await forget_inquiry(context, inquiry.id)
        assert record is not None
        _, answered = await publish_result(context, record, document)
    finally:
        await queue.aclose()

    assert document.data.attributes.fields["name-first"].value == "Jane", "read before"
    assert dropped["stream_events"] == 0, "nothing was published before the redaction"
    assert answered == 1
    [completed] = await actions.events_for("poll-1")
    assert completed.event == "inquiry.completed"
    assert completed.data["fields"] == {"name-first": None}
    assert "Jane" not in str(await _everything_in_redis(actions.redis))


BAD_ARGUMENTS: list[tuple[str, dict[str, Any]]] = [
    ("missing inquiry", {}),
    ("inquiry id as a list", {"inquiry_id": ["inq_1"]}),
    ("empty inquiry id", {"inquiry_id": ""}),
    ("unknown argument", {"inquiry_id": "inq_1", "also_account": True}),
]


@refusals(BAD_ARGUMENTS)
async def test_bad_arguments_fail_once_without_calls(
    actions: Actions, kwargs: dict[str, Any]
) -> None:
    await actions.assert_refused_once("redact_inquiry", kwargs)


async def _everything_in_redis(redis: Redis) -> dict[str, str]:
    """Every key and its whole value as text, whatever its type (the test's Redis only)."""
    dump: dict[str, str] = {}
    async for key in redis.scan_iter(count=500):
        kind = await redis.type(key)
        if kind == "string":
            value: object = await redis.get(key)
        elif kind == "hash":
            value = await resolved(redis.hgetall(key))
        elif kind == "stream":
            value = await redis.xrange(key)
        elif kind == "zset":
            value = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "list":
            value = await resolved(redis.lrange(key, 0, -1))
        else:
            value = await resolved(redis.smembers(key))
        dump[key] = repr(value)
    return dump


async def test_after_redaction_no_field_value_or_link_is_left_in_redis(actions: Actions) -> None:
    fields = {"name-first": "Jane", "name-last": "Oyelaran-Quist"}
    async with actions.running():
        create_id = await actions.enqueue("create_inquiry", reference_id="person-5", fields=fields)
        created = (await actions.job_result(create_id))["r"]
        inquiry_id = created["inquiry_id"]
        refresh_id = await actions.enqueue("refresh_link", inquiry_id=inquiry_id)
        refreshed = (await actions.job_result(refresh_id))["r"]
        await actions.simulate(inquiry_id, "complete_inquiry")
        await actions.wait_for_event(lambda e: e.event == "inquiry.completed")
        job_id = await actions.enqueue("redact_inquiry", inquiry_id=inquiry_id)
        redacted = await actions.wait_for_event(lambda e: e.data.get("job_id") == job_id)

    # The create's and the refresh's results; the completed and the link-refreshed events.
    assert redacted.data["dropped"]["job_results"] == 2
    assert redacted.data["dropped"]["stream_events"] == 2
    secrets = [
        *fields.values(),
        created["one_time_link"],
        created["one_time_link_short"],
        refreshed["one_time_link"],
        refreshed["one_time_link_short"],
    ]
    assert all(secrets), "every copy to look for was really made"
    left = {
        key: [secret for secret in secrets if secret in value]
        for key, value in (await _everything_in_redis(actions.redis)).items()
    }
    assert {key: found for key, found in left.items() if found} == {}
