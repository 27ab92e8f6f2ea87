"""Requests waiting for reports, on a real Redis: the sweep counts them as followed, a wait
starts once, a handed-over follower leaves its inquiry settled."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import pytest

from jobs.context import CTX_KEY, JobContext
from jobs.contract import CREATE_INQUIRY, RUN_REPORT
from jobs.pipeline.result import build_result
from jobs.pipeline.sweep import sweep
from jobs.reports.screening import forget_screening, hand_over
from jobs.reports.tick import report_tick
from jobs.state.keys import KeySpace
from jobs.state.ledger import FOLLOWING_AUDIT_S
from jobs.state.report_waits import ReportEntry, ReportWait
from tests.jobs.test_documents import DOCUMENT

pytestmark = pytest.mark.redis


def _wait(request_id: str, now: float) -> ReportWait:
    return ReportWait(
        request_id=request_id,
        kind="run_report",
        since=now,
        deadline=now + 3_600,
        reports=[ReportEntry("watchlist", status="pending", report_id="rep_1")],
        reference_id="person-1",
    )


async def _sweep_at(context: JobContext, moment: float) -> dict[str, Any]:
    await context.redis.delete(context.keys.sweep_lock)
    later = dataclasses.replace(context, clock=lambda: moment)
    result = await sweep({CTX_KEY: later, "job_id": "persona:sweep:1"})
    return dict(result)


async def _waiting(context: JobContext, request_id: str, now: float) -> None:
    """An open run_report request whose report the tick follows (its job is done)."""
    await context.ledger.open(request_id, RUN_REPORT, now)
    assert await context.report_waits.start(_wait(request_id, now), due=now) == 1


async def test_the_sweep_leaves_a_request_waiting_for_its_reports_open(
    context: JobContext,
) -> None:
    now = time.time()
    await _waiting(context, "report-1", now)

    result = await _sweep_at(context, now + FOLLOWING_AUDIT_S + 1)

    assert result == {"looked_at": 1, "closed": 0}
    assert await context.redis.xlen(context.settings.results_stream) == 0
    score = await context.redis.zscore(context.keys.open_requests, "report-1")
    assert score is not None
    assert score / 1000 > now + FOLLOWING_AUDIT_S


async def test_the_sweep_closes_a_request_whose_wait_is_gone(context: JobContext) -> None:
    now = time.time()
    await _waiting(context, "report-2", now)
    await context.report_waits.finish(["report-2"])

    result = await _sweep_at(context, now + FOLLOWING_AUDIT_S + 1)

    assert result == {"looked_at": 1, "closed": 1}


async def test_a_wait_starts_once_and_never_for_an_answered_request(
    context: JobContext,
) -> None:
    now = time.time()
    await _waiting(context, "report-3", now)
    assert await context.report_waits.start(_wait("report-3", now), due=now) == 0
    await context.ledger.answer("report-3", event="report.ready", data={})
    await context.report_waits.finish(["report-3"])
    assert await context.report_waits.start(_wait("report-3", now), due=now) == -1
    assert await context.report_waits.due_count() == 0


async def test_a_released_follower_leaves_its_inquiry_settled(context: JobContext) -> None:
    now = time.time()
    await context.ledger.open("create-1", CREATE_INQUIRY, now)
    await context.ledger.follow(
        "inq_1", "create-1", reference_id="p", status="approved", now=now, first_due=now
    )

    assert await context.ledger.release_follower("inq_1", "create-1") is True

    record = await context.ledger.inquiry("inq_1")
    assert record is not None
    assert record.done
    assert record.followers == {}
    assert await context.ledger.due_count() == 0
    assert await context.ledger.release_follower("inq_1", "create-1") is False


def test_the_audit_script_names_the_report_due_set_as_the_key_space_does() -> None:
    keys = KeySpace("tenant-a:")
    assert keys.report_due == keys.prefix + "report-due"


def test_a_wait_reads_back_as_it_was_stored() -> None:
    wait = _wait("report-4", 1_000.0)
    assert ReportWait.from_json(wait.to_json()) == wait
    assert json.loads(wait.to_json())["reports"][0]["report_type"] == "watchlist"


async def test_a_tick_past_its_time_budget_puts_the_waits_it_took_back_due(
    context: JobContext,
) -> None:
    now = time.time()
    await _waiting(context, "report-5", now)
    await _waiting(context, "report-6", now)
    readings = iter([now])
    late = dataclasses.replace(context, clock=lambda: next(readings, now + 1_000))

    result = await report_tick({CTX_KEY: late, "job_id": "persona:report-tick:1"})

    assert result == {"checked": 0, "answered": 0, "waiting": 0, "deferred": 0, "left": 2}
    due = await context.redis.zrange(context.keys.report_due, 0, -1, withscores=True)
    assert {member for member, _ in due} == {"report-5", "report-6"}
    assert all(score / 1000 > now + 999 for _, score in due), "due at the late clock"


async def test_redaction_strips_a_waiting_screening_of_field_values_and_unasked_queries(
    context: JobContext,
) -> None:
    now = time.time()
    await context.ledger.open("create-9", CREATE_INQUIRY, now)
    wait = ReportWait(
        request_id="create-9",
        kind="screening",
        since=now,
        deadline=now + 3_600,
        reports=[
            ReportEntry("watchlist", status="pending", report_id="rep_1"),
            ReportEntry("politically-exposed-person", query={"name-first": "Alexander"}),
        ],
        inquiry_id="inq_9",
        event="inquiry.approved",
        result={"event": "inquiry.approved", "fields": {"name-first": "Alexander"}},
    )
    assert await context.report_waits.start(wait, due=now) == 1

    assert await forget_screening(context, "inq_9", "create-9") == 1

    [kept] = (await context.report_waits.load(["create-9"])).values()
    assert kept is not None
    assert kept.result == {"event": "inquiry.approved", "fields": {"name-first": None}}
    watchlist, pep = kept.reports
    assert (watchlist.status, watchlist.report_id) == ("pending", "rep_1"), "Persona's own report"
    assert (pep.status, pep.query) == ("failed", None)
    assert pep.outcome is not None
    assert pep.outcome["error"] is not None
    assert pep.outcome["error"]["type"] == "InquiryRedactedError"
    assert "Alexander" not in (await context.redis.get(context.keys.report_wait("create-9")) or "")


async def test_redaction_leaves_a_screening_of_another_inquiry_alone(context: JobContext) -> None:
    now = time.time()
    wait = dataclasses.replace(_wait("create-10", now), kind="screening", inquiry_id="inq_other")
    await context.ledger.open("create-10", CREATE_INQUIRY, now)
    assert await context.report_waits.start(wait, due=now) == 1

    assert await forget_screening(context, "inq_9", "create-10") == 0


async def test_a_screening_started_after_a_redaction_keeps_no_personal_data(
    context: JobContext,
) -> None:
    now = time.time()
    await context.ledger.open("create-8", CREATE_INQUIRY, now)
    await context.report_waits.set_plan("create-8", ["watchlist"])
    await context.ledger.follow(
        "inq_1",
        "create-8",
        reference_id="p",
        status="approved",
        now=now,
        first_due=now,
        creator=True,
    )
    # The fetch read the record and the inquiry; then redaction marked the record and found no
    # screening to forget; then the fetch hands the creator over to its screening.
    record = await context.ledger.inquiry("inq_1")
    assert record is not None
    await context.ledger.forget_references("inq_1")
    event = build_result(
        DOCUMENT, request_id="create-8", reference_id="p", publish_fields=["name-first"], now=now
    )

    left = await hand_over(context, record, DOCUMENT, {"create-8": event})

    assert left == {}, "the creator waits for its screening"
    wait = (await context.report_waits.load(["create-8"]))["create-8"]
    assert wait is not None
    assert wait.result is not None
    assert wait.result["fields"] == {"name-first": None}
    [watchlist] = wait.reports
    assert (watchlist.status, watchlist.query) == ("failed", None)
    assert "Jane" not in wait.to_json()
