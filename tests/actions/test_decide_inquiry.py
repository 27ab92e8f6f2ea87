"""`decide_inquiry` end to end: one decision, one event, a clear refusal, a followed inquiry."""

from __future__ import annotations

from typing import Any

import pytest

from persona_sandbox import FaultSettings
from tests.actions.conftest import NO_STATUS_CHECKS, Actions

pytestmark = pytest.mark.redis


@pytest.mark.parametrize(
    ("decision", "status", "final"),
    [
        ("approve", "approved", True),
        ("decline", "declined", True),
        ("mark_for_review", "needs_review", False),
    ],
)
async def test_a_decision_is_recorded_once_with_its_event(
    actions: Actions, decision: str, status: str, final: bool
) -> None:
    inquiry = await actions.new_inquiry()
    await actions.simulate(inquiry.id, "complete_inquiry")

    job_id, event = await actions.outcome(
        "decide_inquiry", inquiry_id=inquiry.id, decision=decision
    )

    assert event.event == "inquiry.decision-recorded"
    assert event.inquiry_id == inquiry.id
    assert event.data["decision"] == decision
    assert event.data["status"] == status
    assert event.data["final"] is final
    assert event.data["following"] is False
    assert await actions.status(inquiry.id) == status
    result = await actions.job_result(job_id)
    assert result["s"] is True
    assert result["r"]["status"] == status
    assert result["r"]["published"] is True


async def test_a_job_id_that_is_not_ascii_gets_its_decision_and_one_event(
    actions: Actions,
) -> None:
    inquiry = await actions.new_inquiry()
    await actions.simulate(inquiry.id, "complete_inquiry")

    job_id = await actions.enqueue(
        "decide_inquiry", job_id="décision-✓", inquiry_id=inquiry.id, decision="approve"
    )
    await actions.run()

    [event] = await actions.events_for(job_id)
    assert event.event == "inquiry.decision-recorded"
    assert await actions.status(inquiry.id) == "approved"
    assert (await actions.job_result(job_id))["s"] is True


async def test_the_comment_reaches_persona_but_not_the_event(actions: Actions) -> None:
    inquiry = await actions.new_inquiry()
    comment = "Checked against the passport of Jane Doe"

    _, event = await actions.outcome(
        "decide_inquiry", inquiry_id=inquiry.id, decision="decline", comment=comment
    )

    assert actions.sandbox.state.inquiry(inquiry.id).reviewer_comment == comment
    assert comment not in str(event.data)


async def test_a_rerun_of_the_same_job_changes_nothing(actions: Actions) -> None:
    inquiry = await actions.new_inquiry()

    job_id, first = await actions.assert_rerun_changes_nothing(
        "decide_inquiry", inquiry_id=inquiry.id, decision="approve"
    )

    result = await actions.job_result(job_id)
    assert result["r"]["published"] is False
    assert result["r"]["entry_id"] == first.entry_id
    assert result["r"]["status"] == "approved"


async def test_deciding_a_decided_inquiry_is_one_clear_failure(actions: Actions) -> None:
    inquiry = await actions.new_inquiry()
    await actions.simulate(inquiry.id, "complete_inquiry", "approve_inquiry")

    job_id = await actions.enqueue("decide_inquiry", inquiry_id=inquiry.id, decision="decline")
    await actions.run()

    event = await actions.assert_failed_once(job_id, "InquiryAlreadyDecidedError")
    assert event.inquiry_id == inquiry.id
    error = event.data["error"]
    assert "already approved" in error["message"]
    assert error["status_code"] == 409
    assert error["transient"] is False
    assert not await actions.retries_pending(job_id)
    assert actions.calls("decline-an-inquiry") == 1
    assert await actions.status(inquiry.id) == "approved"


async def test_marking_a_reviewed_inquiry_again_fails_with_personas_reason(
    actions: Actions,
) -> None:
    inquiry = await actions.new_inquiry()
    await actions.simulate(inquiry.id, "complete_inquiry", "mark_for_review_inquiry")

    _, event = await actions.outcome(
        "decide_inquiry", inquiry_id=inquiry.id, decision="mark_for_review"
    )

    assert event.event == "job.failed"
    assert event.data["error"]["type"] == "ConflictError"
    assert "'needs_review'" in event.data["error"]["details"]


async def test_an_unknown_inquiry_is_one_failure(actions: Actions) -> None:
    job_id = await actions.enqueue("decide_inquiry", inquiry_id="inq_Unknown", decision="approve")
    await actions.run()

    await actions.assert_failed_once(job_id, "NotFoundError")


async def test_a_lost_answer_is_retried_under_the_same_key(actions: Actions) -> None:
    inquiry = await actions.new_inquiry()
    faults = actions.sandbox.sandbox.faults
    # The approve is carried out, then answered 500 as if the answer were lost.
    faults.configure(
        FaultSettings(error_after_rate=1.0, operations=frozenset({"approve-an-inquiry"}))
    )

    async with actions.running():
        job_id = await actions.enqueue("decide_inquiry", inquiry_id=inquiry.id, decision="approve")
        await actions.wait_until(lambda: actions.calls("approve-an-inquiry") == 1, "the approve")
        faults.configure(FaultSettings())
        [event] = [await actions.wait_for_event(lambda e: e.data.get("job_id") == job_id)]

    assert event.event == "inquiry.decision-recorded"
    assert event.data["status"] == "approved"
    # The retry got Persona's stored answer back: one decision, no 409.
    assert actions.counters()["operations"]["approve-an-inquiry"] == {"200": 1, "500": 1}
    assert (await actions.job_result(job_id))["t"] == 2
    assert len(await actions.events_for(job_id)) == 1


async def test_a_decision_on_a_followed_inquiry_leads_to_its_result(actions: Actions) -> None:
    async with actions.running():
        create_id, inquiry_id = await actions.followed("person-7")
        record = await actions.record(inquiry_id)
        assert record is not None
        assert create_id in record.followers

        job_id = await actions.enqueue("decide_inquiry", inquiry_id=inquiry_id, decision="approve")
        result = await actions.wait_for_event(lambda e: e.event == "inquiry.approved")
        recorded = await actions.wait_for_event(lambda e: e.data.get("job_id") == job_id)

    assert result.data["request_id"] == create_id
    assert result.data["reference_id"] == "person-7"
    assert result.data["final"] is True
    assert recorded.event == "inquiry.decision-recorded"
    assert recorded.data["following"] is True
    assert [e.event for e in await actions.events()].count("inquiry.approved") == 1


async def test_marking_a_followed_inquiry_for_review_keeps_following_it(
    actions: Actions,
) -> None:
    async with actions.running():
        create_id, inquiry_id = await actions.followed("person-8")
        job_id = await actions.enqueue(
            "decide_inquiry", inquiry_id=inquiry_id, decision="mark_for_review"
        )
        recorded = await actions.wait_for_event(lambda e: e.data.get("job_id") == job_id)
        assert recorded.data["following"] is True
        # A reviewer approves at Persona; the still-running polling publishes the decision.
        await actions.simulate(inquiry_id, "approve_inquiry")
        result = await actions.wait_for_event(lambda e: e.event == "inquiry.approved")

    assert result.data["request_id"] == create_id
    assert result.data["timestamps"]["marked_for_review_at"] is not None


@NO_STATUS_CHECKS
async def test_a_final_decision_has_the_result_fetched_without_a_status_check(
    actions: Actions,
) -> None:
    async with actions.running():
        create_id, inquiry_id = await actions.followed("person-9")
        job_id = await actions.enqueue("decide_inquiry", inquiry_id=inquiry_id, decision="decline")
        result = await actions.wait_for_event(lambda e: e.data.get("request_id") == create_id)

    assert result.event == "inquiry.declined"
    assert actions.calls("list-all-inquiries") == 0, "the decision enqueued the fetch itself"
    [recorded] = await actions.events_for(job_id)
    assert recorded.data["following"] is True
    request = await actions.answered(create_id)
    assert (request.event, request.entry) == ("inquiry.declined", result.entry_id)


@NO_STATUS_CHECKS
async def test_marking_for_review_has_the_inquiry_checked_by_the_next_tick(
    actions: Actions,
) -> None:
    async with actions.running():
        create_id, inquiry_id = await actions.followed("person-10")
        job_id = await actions.enqueue(
            "decide_inquiry", inquiry_id=inquiry_id, decision="mark_for_review"
        )
        await actions.wait_for_checks(inquiry_id)

    record = await actions.record(inquiry_id)
    assert record is not None
    assert (record.status, record.polls) == ("needs_review", 1)
    assert create_id in record.followers, "the create request still waits for a decision"
    assert actions.calls("list-all-inquiries") == 1
    [recorded] = await actions.events_for(job_id)
    assert recorded.data["following"] is True
    assert await actions.events_for(create_id) == []


async def test_a_decision_after_the_answer_leaves_the_answered_request_alone(
    actions: Actions,
) -> None:
    inquiry = await actions.new_inquiry()
    await actions.simulate(inquiry.id, "complete_inquiry")
    poll_id = await actions.enqueue("poll_inquiry", inquiry_id=inquiry.id)
    await actions.run()
    [completed] = await actions.events_for(poll_id)

    job_id, recorded = await actions.outcome(
        "decide_inquiry", inquiry_id=inquiry.id, decision="approve"
    )

    assert completed.event == "inquiry.completed"
    assert recorded.data["following"] is False
    assert await actions.events_for(poll_id) == [completed]
    assert [e.event for e in await actions.events()] == [
        "inquiry.completed",
        "inquiry.decision-recorded",
    ]
    assert actions.calls("retrieve-an-inquiry") == 1, "no fetch after the decision"
    assert (await actions.job_result(job_id))["r"]["following"] is False


BAD_ARGUMENTS: list[tuple[str, dict[str, Any], list[Any] | None]] = [
    ("missing decision", {"inquiry_id": "inq_1"}, None),
    ("missing inquiry", {"decision": "approve"}, None),
    ("unknown decision", {"inquiry_id": "inq_1", "decision": "accept"}, None),
    ("inquiry id not a string", {"inquiry_id": 12, "decision": "approve"}, None),
    ("comment not a string", {"inquiry_id": "inq_1", "decision": "approve", "comment": 5}, None),
    (
        "comment on mark for review",
        {"inquiry_id": "inq_1", "decision": "mark_for_review", "comment": "x"},
        None,
    ),
    ("unknown argument", {"inquiry_id": "inq_1", "decision": "approve", "force": True}, None),
    ("positional arguments", {}, ["inq_1", "approve"]),
]


@pytest.mark.parametrize(
    ("kwargs", "args"), [(k, a) for _, k, a in BAD_ARGUMENTS], ids=[n for n, _, _ in BAD_ARGUMENTS]
)
async def test_bad_arguments_fail_once_without_calls(
    actions: Actions, kwargs: dict[str, Any], args: list[Any] | None
) -> None:
    await actions.assert_refused_once("decide_inquiry", kwargs, args)
