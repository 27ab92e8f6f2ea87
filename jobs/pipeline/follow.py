"""Following one inquiry: check it, then publish its result or schedule the next check.

A status check is `GET /inquiries/{id}?include=verifications`: when the status is terminal the
same answer already holds the verifications, so the result is published without another call
(create plus one read is the floor of two calls per result). Otherwise the next check is
scheduled under the next deterministic job id, after the backoff of `jobs.policy.backoff`, until the
deadline, where a `job.failed` event ends the request instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jobs import log_context
from jobs.context import JobContext
from jobs.contract import POLL_INQUIRY, InquiryArgs, parse_args
from jobs.documents import FailedResult, PollResult, PublishedResult, ScheduledResult
from jobs.errors import (
    JobArgumentsError,
    KnownError,
    PermanentApiError,
    TransientApiError,
    WorkerError,
)
from jobs.metrics import observe_publish_lag
from jobs.persona.models import InquiryDocument
from jobs.pipeline.result import build_result
from jobs.pipeline.scheduling import enqueue_poll
from jobs.policy.backoff import align_delay
from jobs.policy.status import NOT_CHECKED, is_terminal
from jobs.state import keys
from jobs.state.store import InquiryRecord

__all__ = [
    "InquiryRequest",
    "PollingDeadlineError",
    "check_inquiry",
    "fail_request",
    "open_request",
    "publish_document",
]

logger = logging.getLogger(__name__)


class PollingDeadlineError(WorkerError):
    """The inquiry did not reach a terminal status before the polling deadline."""


async def publish_document(
    ctx: JobContext, record: InquiryRecord, document: InquiryDocument
) -> PublishedResult:
    """Publish the result of a terminal inquiry once; return a short summary for the job."""
    log_context.bind(inquiry_id=record.inquiry_id, reference_id=record.reference_id)
    now = ctx.clock()
    data = build_result(
        document,
        request_id=record.request_id,
        reference_id=record.reference_id,
        publish_fields=ctx.settings.publish_fields,
        now=now,
    )
    publication = await ctx.publisher.publish(
        dedupe_id=record.dedupe_id,
        event=data["event"],
        inquiry_id=record.inquiry_id,
        data=data,
        now=now,
        status=data["status"],
    )
    if publication.new:
        observe_publish_lag(document.data.attributes, now)
    logger.info(
        "published %s for %s (%s)",
        data["event"],
        record.inquiry_id,
        "new" if publication.new else "already published",
    )
    return {
        "inquiry_id": record.inquiry_id,
        "status": data["status"],
        "event": data["event"],
        "entry_id": publication.entry_id,
        "published": publication.new,
    }


@dataclass(frozen=True, slots=True)
class InquiryRequest:
    """A poll or fetch job about to look at its inquiry."""

    context: JobContext
    job_id: str
    inquiry_id: str
    now: float
    """When the job started, by the context's clock."""


async def open_request(
    ctx: Mapping[str, Any],
    job: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    owns_chain: bool,
) -> InquiryRequest:
    """Validate a poll or fetch job's `inquiry_id` and follow that inquiry unless it already is.

    An inquiry created elsewhere becomes this job's request: its result answers the job's id.
    One already followed keeps the request and polling chain it has. The chain of a newly
    followed inquiry belongs to this job when it is a status check (`owns_chain`: due now, as
    it runs), else to the chain's first hop, due `POLL_MIN_INTERVAL_S` later: the net under a
    fetch that fails, which the sweep enqueues when it falls due and nothing has.

    Raises:
        JobArgumentsError: after publishing `job.failed`, so arq records it and never retries.
    """
    context = JobContext.from_ctx(ctx)
    job_id: str = ctx["job_id"]
    try:
        inquiry_id = parse_args(InquiryArgs, args, kwargs).inquiry_id
    except JobArgumentsError as exc:
        await context.publisher.publish_failure(
            dedupe_id=f"job:{job_id}", job=job, job_id=job_id, error=exc, now=context.clock()
        )
        raise
    now = context.clock()
    await context.store.follow(
        inquiry_id,
        request_id=job_id,
        reference_id=None,
        status=NOT_CHECKED,
        now=now,
        first_due=now if owns_chain else now + context.settings.poll_min_interval_s,
        poll_job=job_id if owns_chain else keys.poll_job_id(inquiry_id, 0),
    )
    return InquiryRequest(context, job_id, inquiry_id, now)


async def fail_request(
    ctx: JobContext, record: InquiryRecord, job_id: str, error: KnownError
) -> FailedResult:
    """End the inquiry's request with `job.failed`."""
    publication = await ctx.publisher.publish_failure(
        dedupe_id=record.dedupe_id,
        job=POLL_INQUIRY,
        job_id=job_id,
        error=error,
        now=ctx.clock(),
        inquiry_id=record.inquiry_id,
        reference_id=record.reference_id,
        request_id=record.request_id,
    )
    logger.warning("request for %s failed: %s", record.inquiry_id, error.message)
    return {
        "inquiry_id": record.inquiry_id,
        "failed": error.to_dict(),
        "published": publication.new,
    }


async def _schedule_next(
    ctx: JobContext,
    record: InquiryRecord,
    *,
    status: str,
    delay_s: float,
    deadline: float,
    error: str | None = None,
) -> ScheduledResult:
    now = ctx.clock()
    delay_s = align_delay(now, delay_s, ctx.settings.poll_align_s)
    next_job = keys.poll_job_id(record.inquiry_id, record.polls + 1)
    await ctx.store.record_check(
        record.inquiry_id,
        status=status,
        now=now,
        next_due=now + delay_s,
        deadline=deadline,
        next_job=next_job,
        error=error,
    )
    await enqueue_poll(ctx, record.inquiry_id, next_job, delay_s)
    return {"inquiry_id": record.inquiry_id, "status": status, "next_check_in_s": round(delay_s, 3)}


async def check_inquiry(ctx: JobContext, record: InquiryRecord, job_id: str) -> PollResult:
    """One status check of a followed inquiry, by the job that owns its polling chain."""
    log_context.bind(inquiry_id=record.inquiry_id, reference_id=record.reference_id)
    now = ctx.clock()
    deadline = record.deadline
    try:
        checked = await ctx.batcher.check(record.inquiry_id)
        if checked.inquiry is None:
            # Not in the shared list answer: read it alone, which names the reason (e.g. 404).
            document = await ctx.persona.retrieve_inquiry(
                record.inquiry_id, include=("verifications",)
            )
        elif checked.document is None and is_terminal(
            checked.inquiry.attributes.status, ctx.settings.terminal_statuses
        ):
            # Terminal: the list answer has no verifications, one read with them follows.
            document = await ctx.persona.retrieve_inquiry(
                record.inquiry_id, include=("verifications",)
            )
        else:
            document = checked.document or InquiryDocument(data=checked.inquiry)
    except PermanentApiError as exc:
        return await fail_request(ctx, record, job_id, exc)
    except TransientApiError as exc:
        if deadline is not None and now >= deadline:
            return await fail_request(ctx, record, job_id, exc)
        delay = ctx.policy.next_delay(record.polls, record.status, ctx.rng, error=exc)
        fallback_deadline = deadline if deadline is not None else now + ctx.policy.review_horizon_s
        return await _schedule_next(
            ctx,
            record,
            status=record.status,
            delay_s=delay,
            deadline=fallback_deadline,
            error=type(exc).__name__,
        )

    attributes = document.data.attributes
    if is_terminal(attributes.status, ctx.settings.terminal_statuses):
        return await publish_document(ctx, record, document)

    deadline = ctx.policy.deadline(
        attributes.status,
        expires_at=attributes.expires_at,
        created_at=attributes.created_at,
        followed_since=datetime.fromtimestamp(record.followed_since, tz=UTC),
    ).timestamp()
    if now >= deadline:
        return await fail_request(
            ctx,
            record,
            job_id,
            PollingDeadlineError(
                f"inquiry still {attributes.status!r} at the polling deadline; giving up"
            ),
        )
    delay = ctx.policy.next_delay(record.polls, attributes.status, ctx.rng)
    return await _schedule_next(
        ctx, record, status=attributes.status, delay_s=delay, deadline=deadline
    )
