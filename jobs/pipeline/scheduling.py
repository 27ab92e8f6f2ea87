"""Enqueueing follow-up jobs under deterministic ids, so a re-run never doubles them."""

from __future__ import annotations

from jobs.context import JobContext
from jobs.contract import FETCH_VERIFICATION, POLL_INQUIRY
from jobs.state import keys
from jobs.state.store import InquiryRecord

__all__ = ["enqueue_fetch", "enqueue_poll", "pull_forward"]


async def enqueue_poll(ctx: JobContext, inquiry_id: str, job_id: str, delay_s: float) -> bool:
    """Schedule a status check; False when that exact job is already queued."""
    job = await ctx.queue.enqueue_job(
        POLL_INQUIRY,
        inquiry_id=inquiry_id,
        _job_id=job_id,
        _defer_by=max(delay_s, 0.0),
        _queue_name=ctx.settings.queue_name,
    )
    return job is not None


async def enqueue_fetch(ctx: JobContext, inquiry_id: str, cycle: int, delay_s: float = 0) -> bool:
    """Schedule the fetch that publishes an inquiry's result; False when already queued."""
    job = await ctx.queue.enqueue_job(
        FETCH_VERIFICATION,
        inquiry_id=inquiry_id,
        _job_id=keys.fetch_job_id(inquiry_id, cycle),
        _defer_by=max(delay_s, 0.0),
        _queue_name=ctx.settings.queue_name,
    )
    return job is not None


async def pull_forward(ctx: JobContext, record: InquiryRecord, due: float) -> None:
    """Bring an inquiry's next status check forward to `due` (never later than planned).

    Moves both our index and, when the owner's job is waiting in arq's queue, that job's score:
    arq's queue is a sorted set of job ids by due time, so a lower score runs it sooner.
    """
    due_ms = int(due * 1000)
    async with ctx.redis.pipeline(transaction=True) as pipe:
        pipe.zadd(keys.INFLIGHT, {record.inquiry_id: due_ms}, xx=True, lt=True)
        if record.poll_job:
            pipe.zadd(ctx.settings.queue_name, {record.poll_job: due_ms}, xx=True, lt=True)
        await pipe.execute()
