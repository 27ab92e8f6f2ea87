"""Requests that used to get two answers or none, each on a real redis-server.

Each test reproduces one case that broke "exactly one answer per request": a create that
outlived its job's time, odd job ids and arguments that ended without an answer, a job id
enqueued again after its answer, and two deployments sharing one Redis.
"""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
from arq.constants import job_key_prefix, result_key_prefix

from jobs.state.keys import KeySpace
from persona_sandbox.faults import FaultSettings
from tests.harness import wire_job
from tests.pipeline.conftest import Pipeline


@pytest.mark.settings(job_timeout_s=3.0, http_timeout_s=30.0)
async def test_a_create_whose_answer_outlives_the_job_timeout_ends_in_one_result(
    pipeline: Pipeline,
) -> None:
    # Persona creates the inquiry, then holds the answer longer than the job may run: arq would
    # cancel the job and delete it. The job's own deadline (inside JOB_TIMEOUT_S) retries it.
    pipeline.sandbox.sandbox.faults.configure(
        FaultSettings(hang_rate=1.0, hang_s=4.0, operations=frozenset({"create-an-inquiry"}))
    )
    job_id = await pipeline.create("person-1", note="sandbox-outcome=completed sandbox-after=30")

    async with pipeline.running():
        await pipeline.wait_until(lambda: pipeline.calls("create-an-inquiry") >= 1, "a create")
        pipeline.sandbox.sandbox.faults.configure(FaultSettings())
        await pipeline.wait_for_events(1)
    await pipeline.run()

    [result] = await pipeline.events()
    assert (result.event, result.data["request_id"]) == ("inquiry.completed", job_id)
    assert len(pipeline.inquiries_of("person-1")) == 1, "the retry replayed the same create"


async def test_a_job_id_that_is_not_ascii_gets_its_one_answer(pipeline: Pipeline) -> None:
    job_id = await pipeline.create("person-1", note="sandbox-outcome=completed", job_id="créer-ü-1")

    await pipeline.run()

    [result] = await pipeline.events()
    assert (result.event, result.data["request_id"]) == ("inquiry.completed", job_id)


async def test_a_keyword_named_ctx_fails_its_request_once_naming_it(pipeline: Pipeline) -> None:
    await pipeline.enqueue(
        "create_inquiry", job_id="odd-ctx", reference_id="person-1", ctx={"job_id": "x"}
    )

    await pipeline.run()

    [failed] = await pipeline.events()
    assert (failed.event, failed.data["request_id"]) == ("job.failed", "odd-ctx")
    assert failed.data["error"]["type"] == "JobArgumentsError"
    assert "ctx" in failed.data["error"]["message"]
    assert pipeline.calls("create-an-inquiry") == 0


async def test_an_integer_too_long_to_read_fails_its_request_once_naming_the_field(
    pipeline: Pipeline,
) -> None:
    payload = json.loads(wire_job("create_inquiry", {"reference_id": "person-1", "fields": {}}))
    raw = json.dumps(payload).replace('"fields": {}', '"fields": {"age": ' + "7" * 5_000 + "}")
    await pipeline.redis.set(job_key_prefix + "huge-int", raw)
    await pipeline.redis.zadd(pipeline.settings.queue_name, {"huge-int": int(time.time() * 1000)})

    await pipeline.run()

    [failed] = await pipeline.events()
    assert (failed.event, failed.data["request_id"]) == ("job.failed", "huge-int")
    assert "fields.age" in failed.data["error"]["message"]
    assert "7777" not in json.dumps(failed.data)
    assert pipeline.calls("create-an-inquiry") == 0


async def test_a_job_id_enqueued_again_after_its_answer_gets_no_second_answer(
    pipeline: Pipeline,
) -> None:
    job_id = await pipeline.create("person-1", note="sandbox-outcome=completed", job_id="late-1")
    await pipeline.run()
    # A producer's late retry, after arq forgot the job (its result key expired).
    await pipeline.redis.delete(result_key_prefix + job_id)

    await pipeline.create("person-1", note="sandbox-outcome=completed", job_id=job_id)
    await pipeline.run()

    [result] = await pipeline.events()
    assert result.data["request_id"] == job_id
    assert pipeline.calls("create-an-inquiry") == 1
    assert len(pipeline.inquiries_of("person-1")) == 1


async def test_two_deployments_on_one_redis_share_no_key(pipeline: Pipeline) -> None:
    other = dataclasses.replace(
        pipeline,
        settings=pipeline.settings.model_copy(
            update={
                "key_prefix": "staging:",
                "queue_name": "staging:queue",
                "results_stream": "staging:results",
            }
        ),
    )
    await pipeline.create("person-1", note="sandbox-outcome=completed", job_id="prod-1")
    await other.enqueue(
        "create_inquiry",
        job_id="staging-1",
        reference_id="person-2",
        note="sandbox-outcome=completed",
    )

    async with pipeline.running(), other.running():
        await pipeline.wait_for_events(1)
        await other.wait_for_events(1)
    await pipeline.run()
    await other.run()

    assert [event.data["request_id"] for event in await pipeline.events()] == ["prod-1"]
    assert [event.data["request_id"] for event in await other.events()] == ["staging-1"]
    staging = KeySpace("staging:")
    producer_jobs = (job_key_prefix, result_key_prefix)
    for key in await pipeline.redis.keys("*"):
        owner = pipeline.keys.prefix if key.startswith(pipeline.keys.prefix) else None
        owner = owner or (staging.prefix if key.startswith(staging.prefix) else None)
        assert owner or key.startswith(producer_jobs) or key.startswith("arq:"), key
        if key.startswith(("arq:job:", "arq:result:", "arq:in-progress:", "arq:retry:")):
            job_id = key.split(":", 2)[2]
            assert job_id in {"prod-1", "staging-1"} or job_id.startswith(
                (pipeline.keys.prefix, staging.prefix)
            ), key
