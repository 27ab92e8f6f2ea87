"""One inquiry per request however often its job runs: duplicates, re-runs, lost answers."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq import Retry
from arq.constants import result_key_prefix
from arq.jobs import Job

from jobs.context import CTX_KEY, JobContext, persona_client, persona_http
from jobs.contract import json_deserializer
from jobs.documents import CreateResult
from jobs.pipeline.create_inquiry import LINK_RETRY, create_inquiry
from jobs.state.redis_typing import resolved
from persona_sandbox.faults import FaultSettings
from tests.pipeline.conftest import RUN_TIMEOUT_S, Pipeline


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
    "job_id", ["créer-ünïcødé-✓", "申请-" + "x" * 300], ids=["non-ascii", "very-long"]
)
async def test_any_job_id_makes_one_inquiry_and_one_result(pipeline: Pipeline, job_id: str) -> None:
    # Regression: the Idempotency-Key carried the job id as it was, and a header cannot carry
    # it, so the job failed before its first request and the request never got an answer.
    await pipeline.create(
        "person-1", note="sandbox-outcome=completed sandbox-after=30", job_id=job_id
    )

    await pipeline.run()

    [result] = await pipeline.events()
    assert (result.event, result.data["request_id"]) == ("inquiry.completed", job_id)
    assert len(pipeline.inquiries_of("person-1")) == 1
    [(key, creates)] = pipeline.sandbox.counters_json()["creates_by_idempotency_key"].items()
    assert key.startswith("create:sha256:")
    assert creates == 1


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


# --- re-runs of an answered request: the result again, with a new link while it can help ----

#: The link fields of a create job's result; never kept in the request's state.
LINK_FIELDS = ("one_time_link", "one_time_link_short", "session_token")
#: The person starts at once and never finishes: the inquiry stays `pending` for 24 sandbox
#: hours (over two real minutes), longer than any of these tests runs.
STAYS_PENDING = "sandbox-outcome=abandoned sandbox-after=0"


async def _result(pipeline: Pipeline, job_id: str) -> dict[str, Any]:
    """The create job's result, waiting (bounded) until a worker stored it."""
    job = Job(
        job_id,
        pipeline.pool,
        _queue_name=pipeline.settings.queue_name,
        _deserializer=json_deserializer,
    )
    result: dict[str, Any] = await job.result(timeout=RUN_TIMEOUT_S, poll_delay=0.01)
    return result


async def _status_becomes(pipeline: Pipeline, inquiry_id: str, status: str) -> None:
    """Wait (bounded) until a status check recorded `status` for the inquiry."""

    async def recorded() -> bool:
        record = await pipeline.record(inquiry_id)
        return record is not None and record.status == status

    await pipeline.wait_until(recorded, f"{inquiry_id} to be {status}")


async def _enqueue_again(pipeline: Pipeline, job_id: str, note: str) -> None:
    """The same request once more, after arq's result key expired (the producer's window)."""
    await pipeline.redis.delete(result_key_prefix + job_id)
    await pipeline.create("person-1", note=note, job_id=job_id)


async def test_a_create_request_keeps_no_link_in_its_state(pipeline: Pipeline) -> None:
    job_id = await pipeline.create("person-1", note="sandbox-outcome=completed", job_id="req-1")

    await pipeline.run()

    result = await _result(pipeline, job_id)
    assert result["one_time_link"].startswith("https://"), "the first run returns the link"
    state = await resolved(pipeline.redis.hgetall(pipeline.keys.request(job_id)))
    assert state["inquiry"] == result["inquiry_id"]
    assert not set(LINK_FIELDS) & set(state)
    assert result["one_time_link"] not in state.values()
    assert result["one_time_link_short"] not in state.values()


async def test_rerunning_a_create_job_whose_inquiry_is_pending_returns_a_new_link(
    pipeline: Pipeline,
) -> None:
    job_id = await pipeline.create("person-1", note=STAYS_PENDING, job_id="req-1")
    async with pipeline.running():
        first = await _result(pipeline, job_id)
        await _status_becomes(pipeline, first["inquiry_id"], "pending")
    assert pipeline.calls("generate-a-one-time-link") == 0

    await _enqueue_again(pipeline, job_id, STAYS_PENDING)
    async with pipeline.running():
        again = await _result(pipeline, job_id)

    assert set(again) == {"inquiry_id", "reference_id", "status", *LINK_FIELDS}
    assert (again["inquiry_id"], again["reference_id"], again["status"]) == (
        first["inquiry_id"],
        "person-1",
        "pending",
    )
    assert (again["one_time_link"] or "").startswith("https://")
    assert again["one_time_link_short"].startswith("https://")
    assert again["one_time_link"] != first["one_time_link"], "a fresh link, not a stored one"
    assert pipeline.calls("generate-a-one-time-link") == 1
    assert pipeline.calls("create-an-inquiry") == 1
    assert pipeline.inquiries_of("person-1") == [first["inquiry_id"]]
    assert await pipeline.events() == []
    state = await resolved(pipeline.redis.hgetall(pipeline.keys.request(job_id)))
    assert not set(LINK_FIELDS) & set(state)


async def test_rerunning_an_answered_create_job_calls_nothing_and_returns_its_answer(
    pipeline: Pipeline,
) -> None:
    job_id = await pipeline.create("person-1", note="sandbox-outcome=completed", job_id="req-1")
    await pipeline.run()
    [event] = await pipeline.events()

    await _enqueue_again(pipeline, job_id, "sandbox-outcome=completed")
    await pipeline.run()

    assert await _result(pipeline, job_id) == {
        **event.data,
        "entry_id": event.entry_id,
        "published": False,
    }
    assert pipeline.calls("generate-a-one-time-link") == 0
    assert pipeline.calls("create-an-inquiry") == 1
    assert await pipeline.events() == [event]


# The error paths of that link call, with the job function called directly: no worker runs the
# polling chain, so the record keeps the status the create wrote (`created`).


@contextlib.asynccontextmanager
async def _job_context(pipeline: Pipeline) -> AsyncIterator[JobContext]:
    async with persona_http(pipeline.settings) as http:
        persona = persona_client(pipeline.settings, http)
        yield JobContext.build(
            pipeline.settings, persona=persona, redis=pipeline.redis, queue=pipeline.pool
        )


async def _run_create(context: JobContext) -> CreateResult:
    ctx = {CTX_KEY: context, "job_id": "req-1", "job_try": 1}
    result: CreateResult = await create_inquiry(ctx, reference_id="person-1", note=STAYS_PENDING)
    return result


async def test_a_refused_link_still_answers_a_rerun_without_a_link(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    async with _job_context(pipeline) as context:
        first = await _run_create(context)
        # Expired at Persona before any status check saw it: the record still says created.
        await context.persona.expire_inquiry(first["inquiry_id"], idempotency_key="test-expire")

        with caplog.at_level(logging.WARNING, logger="jobs.pipeline.create_inquiry"):
            again = await _run_create(context)

    assert again == {**first, **dict.fromkeys(LINK_FIELDS)}
    refused = pipeline.sandbox.counters_json()["operations"]["generate-a-one-time-link"]
    assert refused == {"409": 1}
    [warning] = [r for r in caplog.records if r.name == "jobs.pipeline.create_inquiry"]
    assert "no new one-time link" in warning.getMessage()
    assert "https://" not in warning.getMessage()
    assert await pipeline.events() == []


async def test_a_link_call_that_fails_transiently_is_retried_under_one_key(
    pipeline: Pipeline,
) -> None:
    async with _job_context(pipeline) as context:
        first = await _run_create(context)
        link_only = frozenset({"generate-a-one-time-link"})
        pipeline.sandbox.sandbox.faults.configure(
            FaultSettings(error_rate=1.0, operations=link_only)
        )

        assert LINK_RETRY.max_failures is not None
        for _ in range(LINK_RETRY.max_failures - 1):
            with pytest.raises(Retry) as retry:
                await _run_create(context)
            assert (retry.value.defer_score or 0) > 0
        # The link's failure budget bounds the retries: then the answer comes without a link.
        given_up = await _run_create(context)
        assert given_up == {**first, **dict.fromkeys(LINK_FIELDS)}

        pipeline.sandbox.sandbox.faults.configure(FaultSettings())
        again = await _run_create(context)
        # A re-run of the re-run (its result lost) gets the same link back, not a second one.
        once_more = await _run_create(context)

    assert (again["one_time_link"] or "").startswith("https://")
    assert again["one_time_link"] != first["one_time_link"]
    assert once_more == again
    state = await resolved(pipeline.redis.hgetall(pipeline.keys.request("req-1")))
    assert "failures" not in state, "a link failure is not a failed create attempt"
    assert pipeline.calls("create-an-inquiry") == 1
    assert await pipeline.events() == []
