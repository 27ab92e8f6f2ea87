"""`run_report(report_type, query, reference_id | account_id, report_template_id)`: one report.

The job validates the query against its type's request schema (`jobs.reports.queries`), creates
the report (`POST /reports`, `Idempotency-Key` `report:{job id}:{type}`: however often the job
runs, one report), then leaves it to the report tick, which reads it until `ready` or `errored`
and answers the request once: `report.ready`, or `job.failed`. A report Persona answers `ready`
at once is answered by the job itself. Creating retries transient failures like an action
(`jobs.actions.base.within_budget`); a refusal (4xx) ends the request with `job.failed`.

The job's result is `report_id`, `report_type`, `status` and `following`; the query (personal
data) is not kept in it, nor anywhere once the report is created.
"""

from __future__ import annotations

from typing import Any, TypedDict

from jobs.actions.base import within_budget
from jobs.contract import RUN_REPORT, RunReportArgs, parse_args
from jobs.pipeline.requests import RequestRun, request_job
from jobs.reports.follow import REPORT_DEADLINE_S, answer_wait, create_report, note_report
from jobs.state.report_waits import ReportEntry, ReportWait

__all__ = ["RunReportResult", "run_report"]


class RunReportResult(TypedDict):
    """What `run_report` returns: the report, and whether the tick follows it now."""

    report_id: str
    report_type: str
    status: str
    following: bool


async def _run(run: RequestRun, args: tuple[Any, ...], kwargs: dict[str, Any]) -> RunReportResult:
    """Create the request's report (once) and have the report tick follow it."""
    context = run.context
    parsed = parse_args(RunReportArgs, args, kwargs)
    entry = ReportEntry(
        report_type=parsed.report_type,
        query=parsed.persona_query,
        template_id=parsed.report_template_id,
    )
    document = await within_budget(
        context,
        run.request_id,
        lambda: create_report(
            context,
            run.request_id,
            entry,
            reference_id=parsed.reference_id,
            account_id=parsed.account_id,
        ),
    )
    note_report(entry, document.data)
    now = context.clock()
    wait = ReportWait(
        request_id=run.request_id,
        kind="run_report",
        since=now,
        deadline=now + REPORT_DEADLINE_S,
        reports=[entry],
        reference_id=parsed.reference_id,
        account_id=parsed.account_id,
    )
    following = False
    if entry.done:
        await answer_wait(context, wait, report=document.data)
    else:
        first_due = now + context.policy.next_delay(0, entry.status, context.rng)
        following = await context.report_waits.start(wait, due=first_due) >= 0
    return {
        "report_id": document.data.id,
        "report_type": parsed.report_type,
        "status": entry.status,
        "following": following,
    }


run_report = request_job(
    RUN_REPORT,
    _run,
    doc="Create one report (once) and answer this request when it is ready or errored.",
)
