"""A Persona outage shorter than the create deadline fails no create request.

Regression: a create request ended with `job.failed` after eight failed attempts (about six
minutes of 5xx with its backoff), so any longer outage failed every request in flight. Now
transient failures are retried until the request's deadline (`CREATE_DEADLINE_S`, an hour
after its first attempt). Here Persona answers 5xx to more attempts than the old budget
allowed, then recovers; the backoff's waits pass at once (`tests.waits`).
"""

from __future__ import annotations

import asyncio

from persona_sandbox.faults import FaultSettings
from tests.pipeline.conftest import Pipeline
from tests.waits import waits_pass_at_once

#: Failed create attempts before Persona recovers: more than the old budget of 8.
OUTAGE_ATTEMPTS = 12


async def test_a_create_outlasts_an_outage_of_many_failed_attempts(pipeline: Pipeline) -> None:
    faults = pipeline.sandbox.sandbox.faults
    creates = frozenset({"create-an-inquiry"})
    faults.configure(FaultSettings(error_rate=1.0, error_statuses=(502, 503), operations=creates))
    job_id = await pipeline.create("person-1", note="sandbox-outcome=completed sandbox-after=30")

    def refused() -> int:
        statuses = pipeline.sandbox.counters_json()["operations"].get("create-an-inquiry", {})
        return int(statuses.get("502", 0)) + int(statuses.get("503", 0))

    async with waits_pass_at_once(pipeline.redis, pipeline.settings.queue_name):
        worker = asyncio.create_task(pipeline.run())
        # Until the failed attempts are many, or the request gave up (the worker then stopped).
        await pipeline.wait_until(
            lambda: refused() >= OUTAGE_ATTEMPTS or worker.done(), what="the outage"
        )
        recovered = refused() >= OUTAGE_ATTEMPTS
        faults.configure(FaultSettings())  # Persona is back
        await worker

    assert recovered, f"the request ended after {refused()} failed attempts"
    [result] = await pipeline.events()
    assert (result.event, result.data["request_id"]) == ("inquiry.completed", job_id)
    assert len(pipeline.inquiries_of("person-1")) == 1
