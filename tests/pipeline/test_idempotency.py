"""One inquiry per request however often its job runs: duplicates, re-runs, lost answers."""

from __future__ import annotations

import pytest
from arq.constants import result_key_prefix

from tests.pipeline.conftest import Pipeline
from worker.sandbox.faults import FaultSettings


async def test_a_duplicate_enqueue_is_one_request(pipeline: Pipeline) -> None:
    first = await pipeline.create("person-1", note="sandbox-outcome=completed", job_id="req-1")
    second = await pipeline.create("person-1", note="sandbox-outcome=completed", job_id="req-1")

    await pipeline.run()

    assert first == second
    assert len(pipeline.inquiries_of("person-1")) == 1
    assert len(await pipeline.events()) == 1


async def test_rerunning_a_finished_create_job_creates_and_publishes_nothing(
    pipeline: Pipeline,
) -> None:
    await pipeline.create("person-1", note="sandbox-outcome=completed", job_id="req-1")
    await pipeline.run()
    # The producer's dedupe window is over (arq's result key is gone); the job comes again.
    await pipeline.redis.delete(result_key_prefix + "req-1")
    await pipeline.create("person-1", note="sandbox-outcome=completed", job_id="req-1")

    await pipeline.run()

    assert pipeline.calls("create-an-inquiry") == 1
    assert len(pipeline.inquiries_of("person-1")) == 1
    assert len(await pipeline.events()) == 1


async def test_distinct_requests_for_one_person_get_distinct_inquiries(pipeline: Pipeline) -> None:
    await pipeline.create("person-1", note="sandbox-outcome=completed", job_id="req-1")
    await pipeline.create("person-1", note="sandbox-outcome=completed", job_id="req-2")

    await pipeline.run()

    assert len(pipeline.inquiries_of("person-1")) == 2
    assert {event.data["request_id"] for event in await pipeline.events()} == {"req-1", "req-2"}


@pytest.mark.parametrize(
    "faults",
    [
        # Persona created the inquiry, then the answer was a 500: the lookup adopts it.
        FaultSettings(error_after_rate=1.0, operations=frozenset({"create-an-inquiry"}), seed=1),
        # Persona answered 5xx before doing anything, and cached that answer under the key.
        FaultSettings(
            error_rate=0.6, operations=frozenset({"create-an-inquiry"}), cache_errors=True, seed=2
        ),
        # The answer never came back in time: the same key is retried after a lookup.
        FaultSettings(
            hang_rate=1.0, hang_s=1.0, operations=frozenset({"create-an-inquiry"}), seed=3
        ),
    ],
    ids=["created-then-500", "cached-5xx", "timeout"],
)
@pytest.mark.settings(http_timeout_s=0.3)
async def test_lost_or_failed_create_answers_still_make_exactly_one_inquiry(
    pipeline: Pipeline, faults: FaultSettings
) -> None:
    pipeline.sandbox.sandbox.faults.configure(faults)
    for index in range(3):
        await pipeline.create(f"person-{index}", note="sandbox-outcome=completed")

    await pipeline.run(timeout_s=60)

    for index in range(3):
        assert len(pipeline.inquiries_of(f"person-{index}")) == 1
        [result] = await pipeline.events_for(f"create-person-{index}")
        assert result.event == "inquiry.completed"
    assert pipeline.sandbox.counters_json()["faults"], "the faults were really injected"
