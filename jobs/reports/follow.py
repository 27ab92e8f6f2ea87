"""Following reports to their end and answering the request that waits for them.

Shared by `run_report` (which creates its report in the job) and the report tick (which
creates a screening's reports, then reads every pending report until it is `ready` or
`errored`). Each report is created once per request and type: its `Idempotency-Key` is
`report:{job id}:{type}` (`jobs.idempotency`), so a re-run, a retry after a timeout, or a tick
that ran twice gets Persona's first answer back.

A wait ends when each of its reports is done: `ready`, `errored`, or `failed` (Persona refused
to create it, or it was still pending `REPORT_DEADLINE_S` after the wait began). Then:

- a `run_report` request is answered with `report.ready` (`jobs.reports.summary`), or with
  `job.failed` (`ReportErroredError`, Persona's refusal, `ReportDeadlineError`);
- a screening request is answered with its inquiry's result event, plus `reports`: one
  outcome per report (`jobs.documents.ReportOutcome`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final

from jobs.context import JobContext
from jobs.contract import RUN_REPORT
from jobs.documents import failed_event, published_at
from jobs.errors import KnownError, PermanentApiError, TransientApiError, WorkerError
from jobs.idempotency import idempotency_key
from jobs.persona.models import Report, ReportDocument
from jobs.reports.summary import failed_outcome, outcome_of, ready_event
from jobs.state.ledger import Answer
from jobs.state.report_waits import PENDING, ReportEntry, ReportWait

__all__ = [
    "REPORT_DEADLINE_S",
    "ReportDeadlineError",
    "ReportErroredError",
    "advance",
    "answer_wait",
    "create_report",
    "note_report",
]

logger = logging.getLogger(__name__)

#: A report still pending this long after its request began waiting for it ends as `failed`.
REPORT_DEADLINE_S: Final = 3_600.0


class ReportErroredError(WorkerError):
    """Persona could not run the report (its status is `errored`)."""


class ReportDeadlineError(WorkerError):
    """The report was still pending at its deadline."""


async def create_report(
    ctx: JobContext,
    request_id: str,
    entry: ReportEntry,
    *,
    reference_id: str | None,
    account_id: str | None,
) -> ReportDocument:
    """Create one report of a request (once, whatever runs it: the key is the request's)."""
    if entry.query is None:
        raise ValueError("a report to create needs its query")
    return await ctx.persona.create_report(
        report_type=entry.report_type,
        query=entry.query,
        idempotency_key=idempotency_key("report", request_id, entry.report_type),
        reference_id=None if account_id is not None else reference_id,
        account_id=account_id,
        report_template_id=entry.template_id,
    )


def note_report(entry: ReportEntry, report: Report) -> None:
    """Record what Persona says of an entry's report; its query goes once it is created."""
    entry.report_id = report.id
    entry.query = None
    entry.status = report.status
    if entry.done:
        entry.outcome = outcome_of(report)


def _fail(entry: ReportEntry, error: KnownError) -> None:
    entry.status = "failed"
    entry.query = None
    entry.outcome = failed_outcome(entry.report_type, entry.report_id, error)


async def answer_wait(
    ctx: JobContext,
    wait: ReportWait,
    *,
    report: Report | None = None,
    errors: Mapping[str, KnownError] | None = None,
) -> bool:
    """Answer the waiting request (whose reports are all done); whether this call did.

    Args:
        report: the report as last read, for a `run_report` request's `report.ready`.
        errors: why a report failed, by type, for a `run_report` request's `job.failed`.
    """
    now = ctx.clock()
    if wait.kind == "screening":
        outcomes = [entry.outcome for entry in wait.reports if entry.outcome is not None]
        data = {**(wait.result or {}), "reports": outcomes, "published_at": published_at(now)}
        answer = await ctx.ledger.answer(
            wait.request_id, event=wait.event or "", data=data, inquiry_id=wait.inquiry_id
        )
        _note(ctx, wait, answer, wait.event or "")
    else:
        answer = await _answer_run(ctx, wait, report, errors or {}, now)
    await ctx.report_waits.finish([wait.request_id])
    return answer.new


async def _answer_run(
    ctx: JobContext,
    wait: ReportWait,
    report: Report | None,
    errors: Mapping[str, KnownError],
    now: float,
) -> Answer:
    [entry] = wait.reports
    if entry.status == "ready" and report is not None:
        data = ready_event(
            report,
            request_id=wait.request_id,
            reference_id=wait.reference_id,
            account_id=wait.account_id,
            publish_fields=ctx.settings.publish_fields,
            now=now,
        )
        logger.info("run_report request %s: %s report ready", wait.request_id, entry.report_type)
        answer = await ctx.ledger.answer(wait.request_id, event="report.ready", data=data)
        return _note(ctx, wait, answer, "report.ready")
    error = errors.get(entry.report_type) or ReportErroredError(
        f"the {entry.report_type} report {entry.report_id} errored at Persona"
    )
    failed = failed_event(
        wait.request_id, job=RUN_REPORT, error=error, now=now, reference_id=wait.reference_id
    )
    logger.warning("run_report request %s failed: %s", wait.request_id, error.message)
    answer = await ctx.ledger.answer(wait.request_id, event="job.failed", data=failed)
    return _note(ctx, wait, answer, "job.failed", error)


def _note(
    ctx: JobContext, wait: ReportWait, answer: Answer, event: str, error: KnownError | None = None
) -> Answer:
    """Count an answer given now in the console's history (`jobs.state.history`)."""
    if answer.new:
        ctx.history.result(
            event,
            1,
            error_type=None if error is None else type(error).__name__,
            inquiry_id=wait.inquiry_id,
            request_ids=[wait.request_id],
        )
    return answer


async def advance(ctx: JobContext, wait: ReportWait) -> str:
    """One check of a wait: create or read each report not done; answer when all are.

    Returns:
        What happened: `answered`, `waiting`, or `deferred` (a transient failure; the next
        check comes after a backoff).
    """
    errors: dict[str, KnownError] = {}
    last: Report | None = None
    transient: TransientApiError | None = None
    for entry in wait.reports:
        if entry.done:
            continue
        try:
            if entry.report_id is None:
                document = await create_report(
                    ctx,
                    wait.request_id,
                    entry,
                    reference_id=wait.reference_id,
                    account_id=wait.account_id,
                )
            else:
                document = await ctx.persona.retrieve_report(entry.report_id)
        except PermanentApiError as exc:
            _fail(entry, exc)
            errors[entry.report_type] = exc
            continue
        except TransientApiError as exc:
            transient = exc
            break
        last = document.data
        note_report(entry, last)
    now = ctx.clock()
    if not wait.done and now >= wait.deadline:
        for entry in wait.reports:
            if not entry.done:
                error = ReportDeadlineError(
                    f"the {entry.report_type} report was not ready within {REPORT_DEADLINE_S:g}s"
                )
                _fail(entry, error)
                errors[entry.report_type] = error
    if wait.done:
        await answer_wait(ctx, wait, report=last, errors=errors)
        return "answered"
    if transient is not None:
        wait.failures += 1
        delay = ctx.policy.next_delay(wait.failures, PENDING, ctx.rng, error=transient)
    else:
        wait.checks += 1
        delay = ctx.policy.next_delay(wait.checks, PENDING, ctx.rng)
    await ctx.report_waits.save(wait, next_due=now + delay)
    return "deferred" if transient is not None else "waiting"
