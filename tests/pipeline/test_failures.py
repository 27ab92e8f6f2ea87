"""Requests that cannot succeed end in one `job.failed` event, at once and without retry loops."""

from __future__ import annotations

from typing import Any

import pytest
from arq.jobs import Job

from jobs.contract import json_deserializer
from persona_sandbox.faults import FaultSettings
from tests.pipeline.conftest import Pipeline


async def _job_try(pipeline: Pipeline, job_id: str) -> int | None:
    info = await Job(job_id, pipeline.pool, _deserializer=json_deserializer).result_info()
    return info.job_try if info is not None else None


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ({}, "reference_id"),
        ({"reference_id": 42}, "reference_id"),
        ({"reference_id": "person-1", "surprise": True}, "surprise"),
        ({"reference_id": "person-1", "template_id": "not-a-template"}, "template_id"),
        ({"reference_id": "person-1", "fields": {"name-first": "x" * 5_000}}, "fields"),
        ({"reference_id": "person-1", "tags": "not-a-list"}, "tags"),
    ],
    ids=["missing", "wrong-type", "unknown-key", "bad-template", "huge-field", "tags-not-list"],
)
async def test_malformed_create_arguments_fail_once_with_a_clear_message(
    pipeline: Pipeline, arguments: dict[str, Any], complaint: str
) -> None:
    await pipeline.pool.enqueue_job("create_inquiry", _job_id="bad-1", **arguments)

    await pipeline.run()

    [result] = await pipeline.events()
    assert result.event == "job.failed"
    assert result.data["job_id"] == "bad-1"
    assert result.data["error"]["type"] == "JobArgumentsError"
    assert complaint in result.data["error"]["message"]
    assert "xxxxx" not in result.data["error"]["message"], "values are never echoed"
    assert await _job_try(pipeline, "bad-1") == 1
    assert pipeline.sandbox.counters_json()["requests"] == 0


async def test_positional_arguments_are_refused(pipeline: Pipeline) -> None:
    await pipeline.pool.enqueue_job("poll_inquiry", "inq_1", _job_id="bad-positional")

    await pipeline.run()

    [result] = await pipeline.events()
    assert result.event == "job.failed"
    assert result.data["error"]["type"] == "JobArgumentsError"


@pytest.mark.settings(persona_api_key="persona_sandbox_not0the0right0key")
async def test_a_wrong_api_key_fails_the_request_after_one_call(pipeline: Pipeline) -> None:
    job_id = await pipeline.create("person-1", note="sandbox-outcome=completed")

    await pipeline.run()

    [result] = await pipeline.events()
    assert result.event == "job.failed"
    assert result.data["error"]["type"] == "AuthenticationError"
    assert result.data["error"]["status_code"] == 401
    assert "not0the0right0key" not in str(result.data)
    assert pipeline.calls("create-an-inquiry") == 1
    assert await _job_try(pipeline, job_id) == 1


async def test_a_refused_template_fails_the_request_without_retrying(pipeline: Pipeline) -> None:
    await pipeline.create("person-1", note="sandbox-outcome=nonsense")

    await pipeline.run()

    [result] = await pipeline.events()
    assert result.event == "job.failed"
    assert result.data["error"]["status_code"] == 422
    assert pipeline.calls("create-an-inquiry") == 1


async def test_server_errors_on_status_checks_are_retried_until_the_result(
    pipeline: Pipeline,
) -> None:
    pipeline.sandbox.sandbox.faults.configure(
        FaultSettings(error_rate=0.5, operations=frozenset({"retrieve-an-inquiry"}), seed=4)
    )
    for index in range(5):
        await pipeline.create(f"person-{index}", note="sandbox-outcome=completed sandbox-after=30")

    await pipeline.run()

    events = await pipeline.events()
    assert sorted(event.data["reference_id"] for event in events) == [
        f"person-{index}" for index in range(5)
    ]
    assert {event.event for event in events} == {"inquiry.completed"}
    assert pipeline.sandbox.counters_json()["faults"]


@pytest.mark.settings(http_timeout_s=0.2)
async def test_timed_out_status_checks_are_retried_until_the_result(pipeline: Pipeline) -> None:
    pipeline.sandbox.sandbox.faults.configure(
        FaultSettings(
            hang_rate=0.5, hang_s=0.5, operations=frozenset({"retrieve-an-inquiry"}), seed=5
        )
    )
    for index in range(3):
        await pipeline.create(f"person-{index}", note="sandbox-outcome=completed sandbox-after=30")

    await pipeline.run()

    events = await pipeline.events()
    assert len(events) == 3
    assert {event.event for event in events} == {"inquiry.completed"}
