"""`fetch_verification(inquiry_id)`: the one publisher of results.

Status checks (the polling tick), webhooks, decisions and the sweep all enqueue it under the
inquiry's deterministic fetch id (`KeySpace.fetch_job_id`: one per answer round, so duplicates
enqueue nothing). One `GET /inquiries/{id}?include=verifications` gives the whole result, and
every request following the inquiry is answered with it, each exactly once
(`jobs.pipeline.answers`). When a signed terminal event brought the inquiry with all its
verifications (`jobs.state.payloads`) and the record's status is still that payload's, the
result is published from the payload instead, without a read: the same document, built by the
same code. Either way the time of the published result is remembered, so an older payload
arriving later changes nothing. If the inquiry turns out not to be terminal (a webhook for an
intermediate status, a setting that waits for a decision), its status is recorded and the tick
checks it again soon. A read Persona refuses (a 404: an id unknown to this environment) ends
the followers' requests with `job.failed`.

Transient failures are retried with backoff; after `FETCH_MAX_FAILURES` of them, or an hour after
its first failure, it leaves the inquiry to the tick, which enqueues a new fetch when it next
finds it terminal. Rate-limit waits are no failures (`jobs.state.attempts`).

A producer may enqueue `fetch_verification` itself under a job id of its own: that is a request
like `poll_inquiry`, which follows the inquiry (checked at once) and is answered with its result.
"""

from __future__ import annotations

import logging
from typing import Any, Final, Literal

from arq import Retry
from pydantic import ValidationError

from jobs.context import JobContext
from jobs.contract import FETCH_VERIFICATION, InquiryArgs, parse_args
from jobs.documents import FetchResult
from jobs.errors import PermanentApiError, TransientApiError
from jobs.persona.models import InquiryDocument
from jobs.pipeline.answers import fail_followers, publish_result
from jobs.pipeline.poll_inquiry import follow_inquiry
from jobs.pipeline.requests import request_job, within_deadline
from jobs.policy.backoff import RetryBudget
from jobs.policy.status import is_terminal
from jobs.reports.screening import needs_fields
from jobs.state.ledger import InquiryRecord

__all__ = ["FETCH_MAX_FAILURES", "FETCH_RETRY", "fetch_verification"]

logger = logging.getLogger(__name__)

#: Transient failures tolerated before the fetch gives up; the tick remains the net.
FETCH_MAX_FAILURES: Final = 6
#: Backoff from 1 s to 30 s; the fetch gives up after its failures or an hour, whichever first.
FETCH_RETRY: Final = RetryBudget(
    base_s=1, cap_s=30, deadline_s=3_600, max_failures=FETCH_MAX_FAILURES
)

#: The fetch enqueued by a producer under its own job id: a request that follows the inquiry.
_requested_fetch = request_job(
    FETCH_VERIFICATION,
    follow_inquiry,
    doc="Follow an inquiry (checked at once) and answer this request with its result.",
)


async def _from_payload(context: JobContext, record: InquiryRecord) -> InquiryDocument | None:
    """The inquiry as a webhook's payload brought it, when that is still the news: a payload
    whose status the record no longer shows (a status check saw another) is left unused."""
    stored = await context.payloads.take(record.inquiry_id)
    if stored is None or stored.status != record.status:
        return None
    if not is_terminal(stored.status, context.settings.terminal_statuses):
        return None
    try:
        return InquiryDocument.model_validate(stored.document)
    except ValidationError:
        logger.warning("stored payload of %s is unreadable; reading it", record.inquiry_id)
        return None


async def _publish(
    context: JobContext,
    record: InquiryRecord,
    document: InquiryDocument,
    source: Literal["read", "payload"],
) -> FetchResult:
    """Answer the followers with a terminal inquiry; remember the result's time."""
    attributes = document.data.attributes
    event, answered = await publish_result(context, record, document)
    if attributes.updated_at is not None:
        await context.payloads.published(record.inquiry_id, attributes.updated_at.timestamp())
    return {
        "inquiry_id": record.inquiry_id,
        "status": attributes.status,
        "event": event,
        "answered": answered,
        "source": source,
    }


async def _fetch(context: JobContext, job_id: str, job_try: int, inquiry_id: str) -> FetchResult:
    """One fetch. Its failed attempts are counted from its first failure on, so a fetch that
    reads at once (nearly all of them) costs no round trip for them (`jobs.state.attempts`)."""
    record = await context.ledger.inquiry(inquiry_id)
    if record is None or not record.followers:
        return {"inquiry_id": inquiry_id, "skipped": "no request waits for it"}
    carried = None if await needs_fields(context, record) else await _from_payload(context, record)
    if carried is not None:
        return await _publish(context, record, carried, "payload")
    now = context.clock()
    # Only a run after another (a retry) can find a count to drop.
    counted = job_try > 1
    try:
        document = await context.persona.retrieve_inquiry(inquiry_id, include=("verifications",))
    except PermanentApiError as exc:
        if counted:
            await context.attempts.clear(job_id)
        answered = await fail_followers(context, record, FETCH_VERIFICATION, exc)
        return {"inquiry_id": inquiry_id, "failed": exc.to_dict(), "answered": answered}
    except TransientApiError as exc:
        attempts = await context.attempts.begin(job_id, now)
        delay = await context.attempts.next_try(
            job_id, attempts, exc, FETCH_RETRY, now=context.clock(), rng=context.rng
        )
        if delay is not None:
            raise Retry(defer=delay) from exc
        logger.warning("fetch of %s gave up; the polling tick will pick it up", inquiry_id)
        await context.attempts.clear(job_id)
        await context.ledger.pull_forward(inquiry_id, now + context.settings.poll_min_interval_s)
        return {"inquiry_id": inquiry_id, "deferred_to_polling": type(exc).__name__}
    if counted:
        await context.attempts.clear(job_id)

    attributes = document.data.attributes
    if is_terminal(attributes.status, context.settings.terminal_statuses):
        return await _publish(context, record, document, "read")
    # Not terminal yet: the tick checks it again soon rather than at its backoff.
    now = context.clock()
    await context.ledger.record_check(
        inquiry_id,
        status=attributes.status,
        now=now,
        next_due=now + context.settings.poll_min_interval_s,
        deadline=record.deadline,
    )
    return {"inquiry_id": inquiry_id, "status": attributes.status}


async def fetch_verification(ctx: dict[str, Any], /, *args: Any, **kwargs: Any) -> Any:
    """Read one inquiry with its verifications and answer every request waiting for it."""
    context = JobContext.from_ctx(ctx)
    job_id = str(ctx["job_id"])
    if not context.keys.is_fetch_job_id(job_id):
        return await _requested_fetch(ctx, *args, **kwargs)
    # Our own job: its arguments are ours, but checked all the same.
    inquiry_id = parse_args(InquiryArgs, args, kwargs).inquiry_id
    async with within_deadline(context.settings, FETCH_VERIFICATION, job_id):
        return await _fetch(context, job_id, int(ctx.get("job_try") or 1), inquiry_id)
