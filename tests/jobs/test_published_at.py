"""Every event's `published_at` comes from the job context's clock, never the wall clock.

The context's clock is pinned far in the past, so a stamp read from the wall clock instead
could not pass.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from jobs.pipeline.follow import PollingDeadlineError, fail_request, publish_document
from jobs.state.store import InquiryRecord

from jobs.actions.base import ActionRun, Outcome, run_action
from jobs.context import CTX_KEY, JobContext
from jobs.contract import SET_CASE_STATUS, SetCaseStatusArgs
from jobs.documents import published_at
from jobs.persona.models import InquiryDocument
from jobs.state import keys
from jobs.state.redis_typing import resolved

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
    await context.store.follow(
        inquiry_id,
        request_id=f"create-{inquiry_id}",
        reference_id="person-1",
        status="pending",
        now=PINNED - 60,
        first_due=PINNED - 55,
        poll_job=keys.poll_job_id(inquiry_id, 0),
    )
    record = await context.store.get(inquiry_id)
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

    await publish_document(pinned, record, document)

    assert (await _only_event(pinned))["published_at"] == STAMP
    stored = await resolved(pinned.redis.hget(keys.inquiry_key("inq_1"), "published_at"))
    assert stored == repr(PINNED)


async def test_a_failure_event_carries_the_context_clock(pinned: JobContext) -> None:
    record = await _followed(pinned, "inq_2")

    await fail_request(pinned, record, "poll:inq_2:0", PollingDeadlineError("too late"))

    event = await _only_event(pinned)
    assert (event["event"], event["published_at"]) == ("job.failed", STAMP)


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

    result = await run_action(
        {CTX_KEY: pinned, "job_id": "case-1", "job_try": 1},
        job=SET_CASE_STATUS,
        model=SetCaseStatusArgs,
        args=(),
        kwargs={"case_id": "cas_1", "status": "Approved"},
        perform=perform,
    )

    assert result["published_at"] == STAMP
    assert (await _only_event(pinned))["published_at"] == STAMP
