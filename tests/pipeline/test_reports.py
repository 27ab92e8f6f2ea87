"""Reports end to end: `run_report` and screening after verification, one answer per request.

The sandbox ends a report `report_after_s` (10 sandbox seconds, a sixtieth of a real second
here) after its creation; `Sanctioned`, `Exposed` or `Newsworthy` in the query's names make the
watchlist, PEP or adverse-media report match, `Unscreenable` makes any report error
(`persona_sandbox.report_rules`).
"""

from __future__ import annotations

from typing import Any

import pytest

from jobs.contract import RUN_REPORT
from jobs.state.keys import ARQ_JOB_PREFIX
from persona_sandbox import FaultSettings
from tests.pipeline.conftest import Pipeline

PLAIN = {"name-first": "Ada", "name-last": "Lovelace", "birthdate": "1815-12-10"}
QUERIES: dict[str, dict[str, Any]] = {
    "watchlist": {**PLAIN, "address-country-code": "GB"},
    "politically-exposed-person": {**PLAIN, "country-code": "GB"},
    "adverse-media": {"term": "Ada Lovelace", "country-code": "GB"},
}
PERSON = {"name-first": "Grace", "name-last": "Hopper", "birthdate": "1906-12-09"}


async def run_report(pipeline: Pipeline, job_id: str, **arguments: Any) -> str:
    arguments.setdefault("reference_id", "person-1")
    return await pipeline.enqueue(RUN_REPORT, job_id=job_id, **arguments)


@pytest.mark.parametrize("report_type", list(QUERIES))
async def test_each_report_type_ends_in_one_report_ready(
    pipeline: Pipeline, report_type: str
) -> None:
    job_id = await run_report(
        pipeline, "report-1", report_type=report_type, query=QUERIES[report_type]
    )

    await pipeline.run()

    [event] = await pipeline.events()
    assert event.event == "report.ready"
    assert event.data["request_id"] == job_id
    assert event.data["report_type"] == report_type
    assert (event.data["status"], event.data["has_match"]) == ("ready", False)
    assert (event.data["match_count"], event.data["matched_lists"]) == (0, [])
    assert event.data["report_id"] in pipeline.sandbox.state.reports
    assert event.data["query"] == {}, "no query value is published by default"


async def test_a_person_on_a_watchlist_is_reported_with_the_list_and_count(
    pipeline: Pipeline,
) -> None:
    await run_report(
        pipeline, "report-2", report_type="watchlist", query={"name-last": "Sanctioned"}
    )

    await pipeline.run()

    [event] = await pipeline.events()
    assert event.data["has_match"] is True
    assert event.data["match_count"] == 1
    assert event.data["matched_lists"] == [{"name": "Sandbox Sanctions List", "matches": 1}]


async def test_an_errored_report_ends_in_one_job_failed(pipeline: Pipeline) -> None:
    job_id = await run_report(
        pipeline, "report-3", report_type="adverse-media", query={"term": "Unscreenable"}
    )

    await pipeline.run()

    [event] = await pipeline.events()
    assert event.event == "job.failed"
    assert event.data["job"] == RUN_REPORT
    assert event.data["request_id"] == job_id
    assert event.data["error"]["type"] == "ReportErroredError"
    assert await pipeline.redis.zcard(pipeline.keys.report_due) == 0


async def test_a_bad_query_ends_in_one_job_failed_naming_the_field(pipeline: Pipeline) -> None:
    await run_report(
        pipeline,
        "report-4",
        report_type="watchlist",
        query={"name-last": "Lovelace", "birthdate": "10/12/1815"},
    )

    await pipeline.run()

    [event] = await pipeline.events()
    assert event.event == "job.failed"
    assert event.data["error"]["type"] == "JobArgumentsError"
    assert "query: birthdate" in event.data["error"]["message"]
    assert "10/12/1815" not in event.data["error"]["message"]
    assert pipeline.calls("create-a-report") == 0


async def test_a_query_key_of_another_report_type_is_refused(pipeline: Pipeline) -> None:
    await run_report(
        pipeline, "report-5", report_type="watchlist", query={**PLAIN, "country-code": "GB"}
    )

    await pipeline.run()

    [event] = await pipeline.events()
    assert "query: country-code" in event.data["error"]["message"]


@pytest.mark.sandbox(report_after_s=600.0)
async def test_the_same_job_run_twice_makes_one_report(pipeline: Pipeline) -> None:
    async with pipeline.running():
        job_id = await run_report(
            pipeline, "report-6", report_type="watchlist", query=QUERIES["watchlist"]
        )

        async def followed_and_job_done() -> bool:
            # A job id enqueued while its job still runs is dropped with it when it finishes:
            # the second run must come after the first one's job is gone.
            due = await pipeline.redis.zscore(pipeline.keys.report_due, job_id)
            return due is not None and not await pipeline.redis.exists(ARQ_JOB_PREFIX + job_id)

        await pipeline.wait_until(followed_and_job_done, "the report followed, its job done")
        await run_report(pipeline, job_id, report_type="watchlist", query=QUERIES["watchlist"])
        await pipeline.wait_for_events(1)
    await pipeline.run()

    assert [event.event for event in await pipeline.events()] == ["report.ready"]
    assert pipeline.calls("create-a-report") == 2, "the second run asked again, same key"
    assert len(pipeline.sandbox.state.reports) == 1


@pytest.mark.settings(poll_wait_for_decision=True)
async def test_reports_run_after_an_approved_inquiry_and_its_one_answer_carries_them(
    pipeline: Pipeline,
) -> None:
    job_id = await pipeline.create(
        "person-2",
        note="sandbox-outcome=approved sandbox-after=30",
        fields={**PERSON, "name-last": "Exposed"},
        reports=["watchlist", "politically-exposed-person"],
    )

    await pipeline.run()

    [event] = await pipeline.events()
    assert (event.event, event.data["request_id"]) == ("inquiry.approved", job_id)
    outcomes = {item["report_type"]: item for item in event.data["reports"]}
    assert set(outcomes) == {"watchlist", "politically-exposed-person"}
    assert outcomes["watchlist"]["has_match"] is False
    assert outcomes["politically-exposed-person"]["has_match"] is True
    assert outcomes["politically-exposed-person"]["matched_lists"] == [
        {"name": "Sandbox PEP List", "matches": 1}
    ]
    assert {report.report_type for report in pipeline.sandbox.state.reports.values()} == set(
        outcomes
    )
    record = await pipeline.record(event.inquiry_id)
    assert record is not None
    assert record.done
    assert record.followers == {}


async def test_screening_queries_are_built_from_the_inquirys_fields(pipeline: Pipeline) -> None:
    await pipeline.create(
        "person-3",
        note="sandbox-outcome=completed sandbox-after=30",
        fields={**PERSON, "address-country-code": "US"},
        reports=["watchlist"],
    )

    await pipeline.run()

    [report] = pipeline.sandbox.state.reports.values()
    assert report.query == {**PERSON, "address-country-code": "US"}


@pytest.mark.settings(poll_wait_for_decision=True)
async def test_no_report_runs_after_a_declined_inquiry(pipeline: Pipeline) -> None:
    await pipeline.create(
        "person-4",
        note="sandbox-outcome=declined sandbox-after=30",
        fields=PERSON,
        reports=["watchlist"],
    )

    await pipeline.run()

    [event] = await pipeline.events()
    assert (event.event, event.data["reports"]) == ("inquiry.declined", [])
    assert pipeline.calls("create-a-report") == 0


async def test_a_create_without_reports_has_no_reports_key(pipeline: Pipeline) -> None:
    await pipeline.create("person-5", note="sandbox-outcome=completed sandbox-after=30")

    await pipeline.run()

    [event] = await pipeline.events()
    assert "reports" not in event.data
    assert pipeline.calls("create-a-report") == 0


def _failing(operation: str) -> FaultSettings:
    return FaultSettings(error_rate=1.0, operations=frozenset({operation}))


@pytest.mark.sandbox(report_after_s=0.0)
async def test_a_report_read_that_keeps_failing_for_a_while_still_ends_in_one_answer(
    pipeline: Pipeline,
) -> None:
    faults = pipeline.sandbox.sandbox.faults
    async with pipeline.running():
        faults.configure(_failing("create-a-report"))
        await pipeline.create(
            "person-6",
            note="sandbox-outcome=completed sandbox-after=30",
            fields=PERSON,
            reports=["watchlist", "adverse-media"],
        )
        await pipeline.wait_until(
            lambda: pipeline.calls("create-a-report") >= 3, "the tick to retry the creates"
        )
        faults.configure(FaultSettings())
        await pipeline.wait_for_events(1)
    await pipeline.run()

    [event] = await pipeline.events()
    assert [item["status"] for item in event.data["reports"]] == ["ready", "ready"]
    assert len(pipeline.sandbox.state.reports) == 2


async def test_a_pending_report_outlasts_failing_reads(pipeline: Pipeline) -> None:
    faults = pipeline.sandbox.sandbox.faults
    async with pipeline.running():
        faults.configure(_failing("retrieve-a-report"))
        await run_report(pipeline, "report-7", report_type="watchlist", query=QUERIES["watchlist"])
        await pipeline.wait_until(
            lambda: pipeline.calls("retrieve-a-report") >= 3, "the tick to retry the read"
        )
        faults.configure(FaultSettings())
        await pipeline.wait_for_events(1)
    await pipeline.run()

    assert [event.event for event in await pipeline.events()] == ["report.ready"]


async def test_a_screening_of_an_inquiry_without_a_name_fails_its_reports_not_its_answer(
    pipeline: Pipeline,
) -> None:
    await pipeline.create(
        "person-8", note="sandbox-outcome=completed sandbox-after=30", reports=["watchlist"]
    )

    await pipeline.run()

    [event] = await pipeline.events()
    assert event.event == "inquiry.completed"
    [outcome] = event.data["reports"]
    assert (outcome["status"], outcome["error"]["type"]) == ("failed", "NoQueryError")
    assert pipeline.calls("create-a-report") == 0
