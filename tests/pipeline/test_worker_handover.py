"""A worker that stops mid-way leaves every chain in Redis; the next worker finishes them."""

from __future__ import annotations

from jobs.context import persona_client, persona_http
from tests.pipeline.conftest import Pipeline


async def _complete(pipeline: Pipeline, inquiry_id: str) -> None:
    """The person finishes now (a sandbox simulate action), not after some real time."""
    async with persona_http(pipeline.settings) as http:
        await persona_client(pipeline.settings, http).simulate_actions(
            inquiry_id, [{"type": "complete_inquiry"}], idempotency_key="handover-complete"
        )


async def test_a_new_worker_finishes_what_a_stopped_worker_was_following(
    pipeline: Pipeline,
) -> None:
    # The person never finishes on their own (their inquiry stays pending for a sandbox day,
    # longer than a test may run), so the first worker stops mid-chain however slowly it runs.
    job_id = await pipeline.create("person-1", note="sandbox-outcome=abandoned sandbox-after=0")
    # The first worker stops once a few status checks were made.
    async with pipeline.running():

        async def checked_twice() -> bool:
            [inquiry_id] = pipeline.inquiries_of("person-1") or [""]
            record = await pipeline.record(inquiry_id) if inquiry_id else None
            return record is not None and record.polls >= 2

        await pipeline.wait_until(checked_twice, "two status checks")
    [inquiry_id] = pipeline.inquiries_of("person-1")
    record = await pipeline.record(inquiry_id)
    assert record is not None
    assert list(record.followers) == [job_id], "still waiting for its result"
    assert await pipeline.events() == []

    await _complete(pipeline, inquiry_id)
    await pipeline.run()

    [result] = await pipeline.events()
    assert (result.event, result.data["request_id"]) == ("inquiry.completed", job_id)
    assert pipeline.calls("create-an-inquiry") == 1
