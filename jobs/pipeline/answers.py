"""Answering the requests that follow an inquiry: its result, or why there is none.

`publish_result` is called by `fetch_verification` only (the one publisher of results); the
failures come from the places that find an inquiry cannot have a result: the tick at the
polling deadline, the fetch when Persona refuses the read. Each builds one event per waiting
request (its own `request_id` and `reference_id`) and hands them to the ledger, which answers
each request once and stops following the inquiry when nobody waits any more.
"""

from __future__ import annotations

import logging

from jobs import log_context
from jobs.context import JobContext
from jobs.documents import failed_event
from jobs.errors import KnownError
from jobs.metrics import decided_at, observe_publish_lag
from jobs.persona.models import InquiryDocument
from jobs.pipeline.result import build_result
from jobs.policy.status import event_name
from jobs.reports.screening import hand_over
from jobs.state.ledger import InquiryRecord

__all__ = ["fail_followers", "publish_result"]

logger = logging.getLogger(__name__)


async def publish_result(
    ctx: JobContext, record: InquiryRecord, document: InquiryDocument
) -> tuple[str, int]:
    """Answer every request waiting for a terminal inquiry with its result.

    Returns:
        The event's name and how many requests it answered now.
    """
    log_context.bind(inquiry_id=record.inquiry_id, reference_id=record.reference_id)
    now = ctx.clock()
    events = {
        request_id: build_result(
            document,
            request_id=request_id,
            reference_id=reference_id,
            publish_fields=ctx.settings.publish_fields,
            now=now,
        )
        for request_id, reference_id in record.followers.items()
    }
    # A creator that asked for reports may wait for them instead (`jobs.reports.screening`).
    events = await hand_over(ctx, record, document, events)
    attributes = document.data.attributes
    event = event_name(attributes.status)
    answered = await ctx.ledger.answer_followers(
        record, event=event, status=attributes.status, data_for=events, now=now
    )
    if answered:
        observe_publish_lag(attributes, now)
    decided = decided_at(attributes)
    ctx.history.result(
        event,
        answered,
        lag_s=None if decided is None else now - decided.timestamp(),
        inquiry_id=record.inquiry_id,
        request_ids=record.followers,
    )
    logger.info("published %s for %s to %d request(s)", event, record.inquiry_id, answered)
    return event, answered


async def fail_followers(
    ctx: JobContext, record: InquiryRecord, job: str, error: KnownError
) -> int:
    """Answer every request waiting for an inquiry with `job.failed`; how many now."""
    now = ctx.clock()
    events = {
        request_id: failed_event(
            request_id,
            job=job,
            error=error,
            now=now,
            inquiry_id=record.inquiry_id,
            reference_id=reference_id,
        )
        for request_id, reference_id in record.followers.items()
    }
    answered = await ctx.ledger.answer_followers(
        record, event="job.failed", status=record.status, data_for=events, now=now
    )
    ctx.history.result(
        "job.failed",
        answered,
        error_type=type(error).__name__,
        inquiry_id=record.inquiry_id,
        request_ids=record.followers,
    )
    logger.warning(
        "requests for %s failed (%d now): %s", record.inquiry_id, answered, error.message
    )
    return answered
