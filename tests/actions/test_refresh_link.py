"""`refresh_link` end to end: a new link, a resume when expired, a followed inquiry checked."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.actions.conftest import NO_STATUS_CHECKS, Actions, refusals

pytestmark = pytest.mark.redis


async def test_a_live_inquiry_gets_a_new_link_without_a_resume(actions: Actions) -> None:
    inquiry = await actions.new_inquiry()

    job_id, event = await actions.outcome(
        "refresh_link", inquiry_id=inquiry.id, expires_in_seconds=600
    )

    assert event.event == "inquiry.link-refreshed"
    assert event.inquiry_id == inquiry.id
    assert event.data["status"] == "created"
    assert event.data["resumed"] is False
    assert event.data["one_time_link"].startswith("https://")
    assert event.data["one_time_link_short"].startswith("https://")
    assert event.data["expires_in_seconds"] == 600
    assert event.data["following"] is False
    result = await actions.job_result(job_id)
    assert result["r"]["one_time_link"] == event.data["one_time_link"]
    assert actions.calls("resume-an-inquiry") == 0
    assert actions.calls("generate-a-one-time-link") == 1


async def test_an_expired_inquiry_is_resumed_first(actions: Actions) -> None:
    inquiry = await actions.new_inquiry()
    await actions.simulate(inquiry.id, "expire_inquiry")

    _, event = await actions.outcome("refresh_link", inquiry_id=inquiry.id)

    assert event.data["resumed"] is True
    assert event.data["status"] == "pending"
    assert event.data["one_time_link"]
    assert await actions.status(inquiry.id) == "pending"
    assert actions.calls("resume-an-inquiry") == 1


async def test_a_rerun_returns_the_same_link_without_calls(actions: Actions) -> None:
    inquiry = await actions.new_inquiry()
    await actions.simulate(inquiry.id, "expire_inquiry")

    job_id, first = await actions.assert_rerun_changes_nothing(
        "refresh_link", inquiry_id=inquiry.id
    )

    result = await actions.job_result(job_id)
    assert result["r"]["one_time_link"] == first.data["one_time_link"]
    assert result["r"]["published"] is False


async def test_a_finished_inquiry_gets_no_link(actions: Actions) -> None:
    inquiry = await actions.new_inquiry()
    await actions.simulate(inquiry.id, "complete_inquiry")

    job_id = await actions.enqueue("refresh_link", inquiry_id=inquiry.id)
    await actions.run()

    event = await actions.assert_failed_once(job_id, "ConflictError")
    assert event.data["error"]["status_code"] == 409


async def test_a_redacted_inquiry_gets_no_link(actions: Actions) -> None:
    inquiry = await actions.new_inquiry()
    await actions.persona.redact_inquiry(inquiry.id, idempotency_key=uuid.uuid4().hex)

    _, event = await actions.outcome("refresh_link", inquiry_id=inquiry.id)

    assert event.data["error"]["type"] == "UnprocessableError"


async def test_an_expired_answer_stays_and_a_new_request_follows_the_resumed_inquiry(
    actions: Actions,
) -> None:
    async with actions.running():
        create_id, inquiry_id = await actions.followed("person-3")
        await actions.simulate(inquiry_id, "expire_inquiry")
        expired = await actions.wait_for_event(lambda e: e.data.get("request_id") == create_id)

        job_id = await actions.enqueue("refresh_link", inquiry_id=inquiry_id)
        refreshed = await actions.wait_for_event(lambda e: e.data.get("job_id") == job_id)
        # The person finishes through the new link; a new request follows to that result.
        poll_id = await actions.enqueue("poll_inquiry", inquiry_id=inquiry_id)
        await actions.simulate(inquiry_id, "complete_inquiry")
        completed = await actions.wait_for_event(lambda e: e.data.get("request_id") == poll_id)

    assert expired.event == "inquiry.expired"
    assert refreshed.data["resumed"] is True
    assert refreshed.data["following"] is False, "no request was waiting any more"
    assert completed.event == "inquiry.completed"
    assert await actions.events_for(create_id) == [expired], "one answer per request"
    request = await actions.answered(create_id)
    assert (request.event, request.entry) == ("inquiry.expired", expired.entry_id)
    assert [e.event for e in await actions.events()] == [
        "inquiry.expired",
        "inquiry.link-refreshed",
        "inquiry.completed",
    ]


@NO_STATUS_CHECKS
async def test_a_refresh_has_a_followed_inquiry_checked_by_the_next_tick(
    actions: Actions,
) -> None:
    async with actions.running():
        create_id, inquiry_id = await actions.followed("person-4")
        job_id = await actions.enqueue("refresh_link", inquiry_id=inquiry_id)
        record = await actions.wait_for_checks(inquiry_id)

    [refreshed] = await actions.events_for(job_id)
    assert refreshed.data["following"] is True
    assert refreshed.data["resumed"] is False
    assert actions.calls("list-all-inquiries") == 1
    assert create_id in record.followers
    assert await actions.events_for(create_id) == []


BAD_ARGUMENTS: list[tuple[str, dict[str, Any]]] = [
    ("missing inquiry", {}),
    ("expiry as a string", {"inquiry_id": "inq_1", "expires_in_seconds": "600"}),
    ("expiry as a boolean", {"inquiry_id": "inq_1", "expires_in_seconds": True}),
    ("zero expiry", {"inquiry_id": "inq_1", "expires_in_seconds": 0}),
    ("expiry too long", {"inquiry_id": "inq_1", "expires_in_seconds": 10**9}),
    ("inquiry id with a separator", {"inquiry_id": "inq_1:poll"}),
]


@refusals(BAD_ARGUMENTS)
async def test_bad_arguments_fail_once_without_calls(
    actions: Actions, kwargs: dict[str, Any]
) -> None:
    await actions.assert_refused_once("refresh_link", kwargs)
