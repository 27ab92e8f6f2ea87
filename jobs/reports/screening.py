"""Screening after verification: a create request's reports, run once its inquiry passes.

`create_inquiry` takes `reports` (e.g. `["watchlist", "politically-exposed-person"]`); the plan
is kept beside the request (`ReportWaits.set_plan`). When the inquiry's result is published
(`jobs.pipeline.answers.publish_result`), its creator's request is handed over here instead of
being answered:

- the inquiry is `approved` or `completed`: each report's query is built from the inquiry's
  fields as that same read returned them (`query_from_fields`: names, birthdate, country), the
  request stops following the inquiry and waits for its reports (`jobs.state.report_waits`),
  and the report tick creates and follows them; the request's one answer is the inquiry's
  result event with `reports` added, one outcome per report, published when every report is
  done. A report whose query cannot be built (the inquiry names nobody) is `failed` at once;
- any other status (`declined`, `failed`, `expired`...): no report runs; the request is
  answered now, its result carrying `reports: []`.

Only the creator of an inquiry can hold a plan, so publication reads at most one plan.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from jobs.context import JobContext
from jobs.documents import ResultEvent, ScreenedResultEvent
from jobs.errors import WorkerError
from jobs.persona.models import InquiryDocument
from jobs.personal_data import without_personal_data
from jobs.reports.follow import REPORT_DEADLINE_S
from jobs.reports.queries import query_from_fields
from jobs.reports.summary import failed_outcome
from jobs.state.ledger import InquiryRecord
from jobs.state.report_waits import ReportEntry, ReportWait

__all__ = [
    "SCREENED_STATUSES",
    "InquiryRedactedError",
    "NoQueryError",
    "forget_screening",
    "hand_over",
    "needs_fields",
]

logger = logging.getLogger(__name__)

#: Inquiry statuses after which a create request's reports run.
SCREENED_STATUSES: Final = frozenset({"approved", "completed"})


class NoQueryError(WorkerError):
    """The inquiry's fields name nobody (no name part), so the report cannot be asked for."""


class InquiryRedactedError(WorkerError):
    """The inquiry was redacted before its report was asked for: nobody is left to screen."""


async def needs_fields(ctx: JobContext, record: InquiryRecord) -> bool:
    """Whether publishing the inquiry's result needs its fields beyond `PUBLISH_FIELDS`: its
    creator asked for a screening, whose queries are the person's names. A webhook's payload
    keeps only the allowed fields, so such a result comes from a read."""
    return record.creator is not None and bool(await ctx.report_waits.plan(record.creator))


async def forget_screening(ctx: JobContext, inquiry_id: str, creator: str | None) -> int:
    """Redaction's part in a screening that still waits: the inquiry result it will publish
    keeps no field values, and reports not yet asked for are not asked for (their queries are
    the person's names); 1 when a waiting screening was changed.

    A report already created is Persona's own object and runs on.
    """
    if creator is None:
        return 0
    wait = (await ctx.report_waits.load([creator])).get(creator)
    if wait is None or wait.kind != "screening" or wait.inquiry_id != inquiry_id:
        return 0
    if wait.result is not None:
        wait.result = without_personal_data(wait.result) or wait.result
    for entry in wait.reports:
        if entry.query is not None:
            entry.query = None
            entry.status = "failed"
            entry.outcome = failed_outcome(
                entry.report_type,
                entry.report_id,
                InquiryRedactedError("the inquiry was redacted before this report was asked for"),
            )
    return int(await ctx.report_waits.replace(wait))


def _entries(report_types: list[str], fields: Mapping[str, Any]) -> list[ReportEntry]:
    entries = []
    for report_type in report_types:
        query = query_from_fields(report_type, fields)
        entry = ReportEntry(report_type=report_type, query=query)
        if query is None:
            entry.status = "failed"
            entry.outcome = failed_outcome(
                report_type, None, NoQueryError("the inquiry's fields hold no name to screen")
            )
        entries.append(entry)
    return entries


async def hand_over(
    ctx: JobContext,
    record: InquiryRecord,
    document: InquiryDocument,
    events: dict[str, ResultEvent],
) -> dict[str, ResultEvent]:
    """The events to publish now: all of them, but for a creator whose reports now run.

    Args:
        record: the inquiry's record as the fetch read it.
        document: the inquiry as read, with its fields.
        events: the result event of each request following the inquiry.
    """
    creator = record.creator
    if creator is None or creator not in events:
        return events
    waits = ctx.report_waits
    plan = await waits.plan(creator)
    if not plan:
        return events
    inquiry = document.data
    if inquiry.status not in SCREENED_STATUSES:
        screened: ScreenedResultEvent = {**events[creator], "reports": []}
        return {**events, creator: screened}
    fields = {key: field.value for key, field in inquiry.attributes.fields.items()}
    now = ctx.clock()
    wait = ReportWait(
        request_id=creator,
        kind="screening",
        since=now,
        deadline=now + REPORT_DEADLINE_S,
        reports=_entries(plan, fields),
        reference_id=record.followers.get(creator),
        account_id=inquiry.account_id,
        inquiry_id=inquiry.id,
        event=events[creator]["event"],
        result=dict(events[creator]),
    )
    if await waits.start(wait, due=now) < 0:
        return events
    # Redaction marks the record before it looks for a waiting screening: a screening started
    # after that look sees the mark here, and forgets its own copies the same way.
    latest = await ctx.ledger.inquiry(inquiry.id)
    if latest is not None and latest.redacted:
        await forget_screening(ctx, inquiry.id, creator)
    await ctx.ledger.release_follower(inquiry.id, creator)
    logger.info("request %s: screening %s after %s", creator, ", ".join(plan), inquiry.status)
    return {request_id: event for request_id, event in events.items() if request_id != creator}
