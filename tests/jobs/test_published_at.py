"""Every event's `published_at` comes from the job context's clock, never the wall clock.

The context's clock is pinned far in the past, so a stamp read from the wall clock instead
could not pass.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from jobs.actions.base import ActionRun, Outcome, action_job
from jobs.context import CTX_KEY, JobContext
from jobs.contract import CREATE_INQUIRY, POLL_INQUIRY, SET_CASE_STATUS, SetCaseStatusArgs
from jobs.documents import published_at
from jobs.errors import AuthenticationError
from jobs.persona.models import InquiryDocument
from jobs.pipeline.answers import fail_followers, publish_result
from jobs.pipeline.poll_tick import PollingDeadlineError
from jobs.pipeline.requests import fail_request
from jobs.state.ledger import InquiryRecord

pytestmark = pytest.mark.redis

PINNED = 1_000_000_000.0
STAMP = "2001-09-09T01:46:40Z"


def test_the_stamp_is_utc_to_the_second() -> None:
    assert published_at(PINNED) == STAMP
    assert published_at(PINNED + 0.999) == STAMP
    assert published_at(0) == "1970-01-01T00:00:00Z"


@pytest.fixture
def pinned(context: JobContext) -> JobContext:
    return dataclasses.replace(context, clock=lambda: PINNED)


async def _followed(context: JobContext, inquiry_id: str) -> InquiryRecord:
    """The record of an inquiry that one create request follows, since a minute ago."""
    request_id = f"create-{inquiry_id}"
    await context.ledger.open(request_id, CREATE_INQUIRY, PINNED - 60, reference_id="person-1")
    outcome = await context.ledger.follow(
        inquiry_id,
        request_id,
        reference_id="person-1",
        status="pending",
        now=PINNED - 60,
        first_due=PINNED - 55,
        creator=True,
    )
    assert outcome.following
    record = await context.ledger.inquiry(inquiry_id)
    assert record is not None
    return record


async def _only_event(context: JobContext) -> dict[str, Any]:
    [(_, fields)] = await context.redis.xrange(context.settings.results_stream)
    data: dict[str, Any] = json.loads(fields["data"])
    return data


async def test_a_result_event_and_its_record_carry_the_context_clock(pinned: JobContext) -> None:
    record = await _followed(pinned, "inq_1")
    document = InquiryDocument.model_validate(
        {"data": {"type": "inquiry", "id": "inq_1", "attributes": {"status": "approved"}}}
    )

    assert await publish_result(pinned, record, document) == ("inquiry.approved", 1)

    event = await _only_event(pinned)
    assert (event["request_id"], event["published_at"]) == ("create-inq_1", STAMP)
    answered = await pinned.ledger.inquiry("inq_1")
    assert answered is not None
    assert (answered.status, answered.updated_at, answered.done) == ("approved", PINNED, True)


async def test_a_failure_of_the_followers_carries_the_context_clock(pinned: JobContext) -> None:
    record = await _followed(pinned, "inq_2")

    assert await fail_followers(pinned, record, POLL_INQUIRY, PollingDeadlineError("too late")) == 1

    event = await _only_event(pinned)
    assert (event["event"], event["request_id"], event["published_at"]) == (
        "job.failed",
        "create-inq_2",
        STAMP,
    )
    assert event["error"]["type"] == "PollingDeadlineError"


async def test_a_failed_request_carries_the_context_clock(pinned: JobContext) -> None:
    await pinned.ledger.open("create-9", CREATE_INQUIRY, PINNED - 60, reference_id="person-9")

    answer = await fail_request(
        pinned, "create-9", CREATE_INQUIRY, AuthenticationError("bad key"), reference_id="person-9"
    )

    assert answer.new
    event = await _only_event(pinned)
    assert (event["event"], event["job_id"], event["published_at"]) == (
        "job.failed",
        "create-9",
        STAMP,
    )


async def test_an_action_event_carries_the_context_clock(pinned: JobContext) -> None:
    async def perform(run: ActionRun, args: SetCaseStatusArgs) -> Outcome:
        return Outcome(
            "case.status-set",
            {
                "case_id": args.case_id,
                "status": args.status,
                "resolution": None,
                "resolved_at": None,
                "updated_at": None,
            },
        )

    job = action_job(SET_CASE_STATUS, SetCaseStatusArgs, perform, doc="Set a case's status.")
    result = await job(
        {CTX_KEY: pinned, "job_id": "case-1", "job_try": 1}, case_id="cas_1", status="Approved"
    )

    assert result["published_at"] == STAMP
    assert (await _only_event(pinned))["published_at"] == STAMP
