"""`poll_inquiry` follows an inquiry created elsewhere (e.g. by another service's own call)."""

from __future__ import annotations

from jobs.producer import enqueue_poll
from persona_sandbox.state import NewInquiry
from tests.pipeline.conftest import Pipeline


def _created_elsewhere(pipeline: Pipeline, scenario: str) -> str:
    state = pipeline.sandbox.state
    inquiry = state.create_inquiry(
        NewInquiry(
            inquiry_template_id="itmpl_ElsewhereTemplate0000000",
            reference_id="elsewhere-1",
            note=f"sandbox-outcome={scenario} sandbox-after=30",
        ),
        state.clock.now(),
    )
    return inquiry.id


async def test_an_inquiry_created_elsewhere_gets_one_result(pipeline: Pipeline) -> None:
    inquiry_id = _created_elsewhere(pipeline, "completed")
    await enqueue_poll(pipeline.pool, inquiry_id, job_id="follow-elsewhere-1")

    await pipeline.run()

    [result] = await pipeline.events()
    assert (result.event, result.inquiry_id) == ("inquiry.completed", inquiry_id)
    assert result.data["request_id"] == "follow-elsewhere-1"
    assert result.data["reference_id"] == "elsewhere-1"
    assert pipeline.calls("create-an-inquiry") == 0


async def test_two_requests_to_follow_one_inquiry_get_one_answer_each_from_one_read(
    pipeline: Pipeline,
) -> None:
    inquiry_id = _created_elsewhere(pipeline, "failed")
    await enqueue_poll(pipeline.pool, inquiry_id, job_id="follow-a")
    await enqueue_poll(pipeline.pool, inquiry_id, job_id="follow-b")

    await pipeline.run()

    events = await pipeline.events()
    assert sorted(event.data["request_id"] for event in events) == ["follow-a", "follow-b"]
    assert {event.event for event in events} == {"inquiry.failed"}
    assert pipeline.calls("retrieve-an-inquiry") == 1


async def test_a_request_for_an_inquiry_already_answered_gets_its_own_answer(
    pipeline: Pipeline,
) -> None:
    inquiry_id = _created_elsewhere(pipeline, "failed")
    await enqueue_poll(pipeline.pool, inquiry_id, job_id="follow-first")
    await pipeline.run()
    await enqueue_poll(pipeline.pool, inquiry_id, job_id="follow-later")

    await pipeline.run()

    events = await pipeline.events()
    assert [event.data["request_id"] for event in events] == ["follow-first", "follow-later"]


async def test_following_an_unknown_inquiry_ends_in_job_failed(pipeline: Pipeline) -> None:
    await enqueue_poll(pipeline.pool, "inq_DoesNotExist000000000000", job_id="follow-missing")

    await pipeline.run()

    [result] = await pipeline.events()
    assert result.event == "job.failed"
    assert result.data["error"]["type"] == "NotFoundError"
    assert result.data["request_id"] == "follow-missing"
    assert result.data["job_id"] == "follow-missing"
    assert pipeline.calls("retrieve-an-inquiry") == 1
