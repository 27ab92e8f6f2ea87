"""Each outcome a person can reach, end to end: one create job in, one result event out.

Under the default terminal set the pipeline stops at the person's own end (`completed`,
`failed`, `expired`); the sandbox's decisions come a sandbox week later here (over a quarter of
an hour of real time at the pipeline's time scale, past any test's ceiling), so a decision
never races the first status check that sees `completed`, however late a loaded machine runs it.
"""

from __future__ import annotations

import pytest

from tests.pipeline.conftest import Pipeline

pytestmark = pytest.mark.sandbox(decision_after_s=7 * 86_400.0)

# (sandbox scenario, event, status, final, verification statuses)
OUTCOMES = [
    ("completed", "inquiry.completed", "completed", {"passed"}),
    ("approved", "inquiry.completed", "completed", {"passed"}),
    ("declined", "inquiry.completed", "completed", {"passed", "failed"}),
    ("needs_review", "inquiry.completed", "completed", {"passed"}),
    ("failed", "inquiry.failed", "failed", {"failed", "passed"}),
    ("expired", "inquiry.expired", "expired", set()),
]


@pytest.mark.parametrize(("scenario", "event", "status", "verification_statuses"), OUTCOMES)
async def test_each_outcome_publishes_one_event_with_its_verifications(
    pipeline: Pipeline, scenario: str, event: str, status: str, verification_statuses: set[str]
) -> None:
    job_id = await pipeline.create("person-1", note=f"sandbox-outcome={scenario} sandbox-after=30")

    await pipeline.run()

    [result] = await pipeline.events()
    assert (result.event, result.data["status"]) == (event, status)
    assert result.data["final"] is False
    assert result.data["request_id"] == job_id
    assert result.data["reference_id"] == "person-1"
    assert result.inquiry_id == pipeline.inquiries_of("person-1")[0]
    assert {item["status"] for item in result.data["verifications"]} == verification_statuses
    for verification in result.data["verifications"]:
        assert verification["checks"], "each verification carries its checks"


async def test_the_published_inquirys_record_shows_its_final_status(pipeline: Pipeline) -> None:
    await pipeline.create("person-1", note="sandbox-outcome=completed sandbox-after=30")

    await pipeline.run()

    [result] = await pipeline.events()
    record = await pipeline.record(result.inquiry_id)
    assert record is not None
    assert (record.done, record.status, record.event) == (True, "completed", result.event)
    assert record.followers == {}


async def test_a_result_costs_one_create_and_one_read_per_status_check(pipeline: Pipeline) -> None:
    await pipeline.create("person-1", note="sandbox-outcome=completed sandbox-after=0")

    await pipeline.run()

    assert len(await pipeline.events()) == 1
    assert pipeline.calls("create-an-inquiry") == 1
    assert pipeline.calls("retrieve-a-verification") == 0
    assert pipeline.calls("retrieve-an-inquiry") >= 1
