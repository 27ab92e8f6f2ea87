"""The documents the worker publishes and returns, typed, and the one time stamp they carry.

Events on the results stream (each entry's `data`, JSON):

- `ResultEvent`: an inquiry's result (`inquiry.approved`, `inquiry.failed`, ...), built by
  `jobs.pipeline.result`;
- `FailedEvent`: `job.failed`, the end of a request that cannot succeed, built by
  `failed_event` wherever that is found (a job, the tick or fetch, the sweep);
- action events: `event`, `job` and `job_id`, then one action's own data (`ActionData`:
  `DecisionRecorded`, `LinkRefreshed`, `InquiryRedacted`, `CaseStatusSet`, `RelationsListed`),
  then `published_at`, put together by `jobs.actions.base.run_action` for every action.

Job results (what arq stores as a job's return value, JSON as well): `CreateResult` of
`create_inquiry`, `FollowingResult` of `poll_inquiry`, `FetchResult` of the fetches,
`ActionResult` of the action jobs, `TickResult` of the polling tick and `SweepResult` of the
sweep.

These are `TypedDict`s, so the documents stay plain dicts and their JSON is what it was; the
types only say which keys each one has. Key order on the wire follows construction, which puts
`published_at` last.

Every event's `published_at` is when the worker published it, read from the job's injected
clock (`JobContext.clock`) like every other time the pipeline acts on, so a test that moves
the clock moves the stamps too; `published_at` is the one place that turns such a reading into
the stamp.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Literal, TypedDict

from jobs.contract import Decision
from jobs.persona.errors import DescribedError, ErrorDescription

__all__ = [
    "ActionData",
    "ActionResult",
    "AnsweredResult",
    "CaseStatusSet",
    "CreateResult",
    "DecisionRecorded",
    "DeferredResult",
    "DroppedCopies",
    "ErrorDescription",
    "FailedEvent",
    "FailedResult",
    "FetchResult",
    "FollowingResult",
    "InquiryRedacted",
    "KeptCopies",
    "LinkRefreshed",
    "MatchedList",
    "OpenResult",
    "Relation",
    "RelationsListed",
    "ReportOutcome",
    "ReportReadyEvent",
    "ResultCheck",
    "ResultEvent",
    "ResultTimestamps",
    "ResultVerification",
    "ScreenedResultEvent",
    "Skipped",
    "SkippedResult",
    "SweepReport",
    "SweepResult",
    "TickReport",
    "TickResult",
    "failed_event",
    "iso",
    "published_at",
]


def published_at(now: float) -> str:
    """The `published_at` of an event published at `now` (unix seconds): UTC, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


def iso(value: datetime | None) -> str | None:
    """One of Persona's moments as ISO 8601 text, as documents carry them; None stays None."""
    return value.isoformat() if value is not None else None


# --- inquiry results ---------------------------------------------------------------------------


class ResultCheck(TypedDict):
    """One check of a verification, as a result event reports it."""

    name: str
    status: str
    requirement: str | None
    reasons: list[str]


class ResultVerification(TypedDict):
    """One verification of the inquiry: its status and checks, no personal data."""

    id: str
    type: str
    status: str
    created_at: str | None
    completed_at: str | None
    checks: list[ResultCheck]


class ResultTimestamps(TypedDict):
    """The inquiry's own moments (ISO 8601), None where Persona set none."""

    created_at: str | None
    started_at: str | None
    completed_at: str | None
    failed_at: str | None
    expired_at: str | None
    marked_for_review_at: str | None
    decisioned_at: str | None
    expires_at: str | None
    redacted_at: str | None


class ResultEvent(TypedDict):
    """An inquiry's result: the `data` of `inquiry.{status}` (`jobs.pipeline.result`)."""

    event: str
    request_id: str
    inquiry_id: str
    reference_id: str | None
    status: str
    final: bool
    verifications: list[ResultVerification]
    timestamps: ResultTimestamps
    fields: dict[str, Any]
    """Only the keys `PUBLISH_FIELDS` allows; the values are Persona's, any JSON."""
    published_at: str


class ScreenedResultEvent(ResultEvent, total=False):
    """The result answering a create request that asked for reports (`jobs.reports`)."""

    reports: list[ReportOutcome]
    """One outcome per report; empty when the inquiry ended other than approved or completed."""


# --- reports -----------------------------------------------------------------------------------


class MatchedList(TypedDict):
    """One list (or source) that matched a report's query, and how many matches it holds."""

    name: str
    matches: int


class ReportOutcome(TypedDict):
    """One report of a screening: `ready`, `errored`, or `failed` (never ran, `error` says why).

    Matched people's details never enter it: only list names and counts.
    """

    report_type: str
    report_id: str | None
    status: str
    has_match: bool | None
    match_count: int
    matched_lists: list[MatchedList]
    error: ErrorDescription | None


class ReportReadyEvent(TypedDict):
    """`report.ready`: the answer of a `run_report` request (`jobs.reports.summary`)."""

    event: Literal["report.ready"]
    request_id: str
    report_id: str
    report_type: str
    reference_id: str | None
    account_id: str | None
    status: str
    has_match: bool
    match_count: int
    matched_lists: list[MatchedList]
    query: dict[str, Any]
    """Only the echoed query keys `PUBLISH_FIELDS` allows."""
    published_at: str


# --- failures ----------------------------------------------------------------------------------


class FailedEvent(TypedDict):
    """`job.failed`: a request that cannot succeed, and why (`failed_event`)."""

    event: Literal["job.failed"]
    request_id: str
    job: str
    job_id: str
    inquiry_id: str | None
    reference_id: str | None
    final: Literal[True]
    error: ErrorDescription
    published_at: str


def failed_event(
    request_id: str,
    *,
    job: str,
    error: DescribedError,
    now: float,
    inquiry_id: str | None = None,
    reference_id: str | None = None,
) -> FailedEvent:
    """The `job.failed` answering a request, whoever finds it cannot succeed.

    Args:
        job: the step that failed (the request's own job, or the tick or fetch following it).
        error: what it failed with, as the event describes it (`DescribedError.to_dict`).
        now: the moment of publication (`JobContext.clock`).
    """
    return {
        "event": "job.failed",
        "request_id": request_id,
        "job": job,
        "job_id": request_id,
        "inquiry_id": inquiry_id,
        "reference_id": reference_id,
        "final": True,
        "error": error.to_dict(),
        "published_at": published_at(now),
    }


# --- actions -----------------------------------------------------------------------------------


class DecisionRecorded(TypedDict):
    """`inquiry.decision-recorded` (`decide_inquiry`)."""

    inquiry_id: str
    decision: Decision
    status: str
    final: bool
    decisioned_at: str | None
    marked_for_review_at: str | None
    following: bool


class LinkRefreshed(TypedDict):
    """`inquiry.link-refreshed` (`refresh_link`)."""

    inquiry_id: str
    status: str
    resumed: bool
    one_time_link: str | None
    one_time_link_short: str | None
    expires_in_seconds: int | None
    following: bool


class KeptCopies(TypedDict):
    """How many of the copies the pipeline's state keeps of an inquiry's personal data were
    dropped (`jobs.state.forget`)."""

    inquiry_records: int
    create_requests: int
    job_results: int
    stream_events: int


class DroppedCopies(KeptCopies):
    """Every copy of an inquiry's personal data dropped by `redact_inquiry`."""

    screenings: int
    """Screenings still waiting whose inquiry result dropped its field values."""


class InquiryRedacted(TypedDict):
    """`inquiry.redacted` (`redact_inquiry`)."""

    inquiry_id: str
    status: str
    redacted_at: str | None
    already_redacted: bool
    dropped: DroppedCopies


class CaseStatusSet(TypedDict):
    """`case.status-set` (`set_case_status`)."""

    case_id: str
    status: str | None
    resolution: str | None
    resolved_at: str | None
    updated_at: str | None


class Relation(TypedDict):
    """One object related to an account: its type and id, never its attributes."""

    type: str
    id: str


class RelationsListed(TypedDict):
    """`account.relations-listed` (`account_relations`)."""

    account_id: str
    key: str
    relations: list[Relation]
    count: int
    more: bool


#: The data one action adds to its event.
ActionData = DecisionRecorded | LinkRefreshed | InquiryRedacted | CaseStatusSet | RelationsListed

#: What an action job returns: its event (`ActionData` with the keys every action event has)
#: plus `entry_id` and `published`. A re-run returns the earlier event as the stream holds it,
#: which is why this stays a plain mapping of JSON values.
ActionResult = dict[str, object]


# --- job results -------------------------------------------------------------------------------


class CreateResult(TypedDict):
    """What `create_inquiry` returns: the inquiry, and the link that opens the person's flow."""

    inquiry_id: str
    reference_id: str
    status: str
    one_time_link: str | None
    one_time_link_short: str | None
    session_token: str | None


class FollowingResult(TypedDict):
    """What `poll_inquiry` returns: its request now waits for the inquiry's result."""

    inquiry_id: str
    following: bool


class AnsweredResult(TypedDict):
    """A fetch that answered the requests following a terminal inquiry."""

    inquiry_id: str
    status: str
    event: str
    answered: int
    source: Literal["read", "payload"]
    """Where the result came from: an API read, or a webhook's payload (no read)."""


class FailedResult(TypedDict):
    """A fetch that ended the followers' requests with `job.failed`."""

    inquiry_id: str
    failed: ErrorDescription
    answered: int


class SkippedResult(TypedDict):
    """A fetch that had nothing to do, and why."""

    inquiry_id: str
    skipped: str


class DeferredResult(TypedDict):
    """A fetch that gave up on transient errors and left the inquiry to the polling tick."""

    inquiry_id: str
    deferred_to_polling: str


class OpenResult(TypedDict):
    """A fetch that found the inquiry not terminal yet; the tick checks it again soon."""

    inquiry_id: str
    status: str


#: What `fetch_verification` returns.
FetchResult = AnsweredResult | FailedResult | SkippedResult | DeferredResult | OpenResult


class TickReport(TypedDict):
    """A polling tick that ran: how many inquiries it checked, in how many calls, and what
    it found (`waiting`, `fetch` enqueued, past the `deadline`, list call `failed`); how many
    due checks waited for the safety net (`deferred`), and its `mode`."""

    checked: int
    calls: int
    waiting: int
    fetch: int
    deadline: int
    failed: int
    deferred: int
    mode: str


class Skipped(TypedDict):
    """A cron run that left the work to another worker's."""

    skipped: str


#: What the polling tick returns.
TickResult = TickReport | Skipped


class SweepReport(TypedDict):
    """A sweep that ran: the open requests it looked at, and those it found lost and closed."""

    looked_at: int
    closed: int


#: What the sweep returns.
SweepResult = SweepReport | Skipped
