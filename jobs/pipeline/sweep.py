"""The cron sweep: the safety net under every arq loss mode.

arq can lose or strand a job (a killed worker's job waits for its in-progress key to expire, a
job key can expire, an enqueue can fail after a crash, a job can exhaust its tries). Every
followed inquiry has a due time in `persona:inflight`; the sweep re-enqueues the owner job of
any inquiry overdue by more than a little slack and missing from arq, and ends create requests
whose job vanished without an answer with `job.failed`, so every request still ends in one
event. Several workers run the cron (arq #196), so a short Redis lock lets one sweep at a time,
and everything it enqueues has a deterministic id, so even two sweeps cannot double a job.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, Final

from jobs.context import JobContext
from jobs.contract import CREATE_INQUIRY
from jobs.documents import SweepResult
from jobs.errors import WorkerError
from jobs.pipeline.scheduling import enqueue_poll
from jobs.state import keys
from jobs.state.redis_typing import resolved

__all__ = ["SWEEP_INTERVAL_S", "sweep"]

logger = logging.getLogger(__name__)

#: How often the sweep runs; the cron schedule in `worker.arq_settings` follows it.
SWEEP_INTERVAL_S: Final = 10
#: How late a due inquiry may be before the sweep looks at its job.
OVERDUE_SLACK_S: Final = 10.0
#: How old an unanswered create request must be before the sweep checks on its job.
CREATE_STALE_S: Final = 300.0
#: Most inquiries handled per sweep; the rest wait for the next one.
BATCH: Final = 500


class CreateRequestLostError(WorkerError):
    """The create job disappeared from the queue before it answered its request."""


async def _missing_jobs(ctx: JobContext, job_ids: list[str]) -> set[str]:
    async with ctx.redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.exists(keys.ARQ_JOB_PREFIX + job_id)
        found = await pipe.execute()
    return {job_id for job_id, exists in zip(job_ids, found, strict=True) if not exists}


async def _repair_polls(ctx: JobContext, now: float) -> int:
    overdue = await ctx.store.overdue(now - OVERDUE_SLACK_S, limit=BATCH)
    records = [await ctx.store.get(inquiry_id) for inquiry_id in overdue]
    owners: dict[str, str] = {}
    for inquiry_id, record in zip(overdue, records, strict=True):
        if record is None or record.published:
            await ctx.redis.zrem(keys.INFLIGHT, inquiry_id)
            continue
        owners[inquiry_id] = record.poll_job or keys.poll_job_id(inquiry_id, record.polls)
    missing = await _missing_jobs(ctx, list(owners.values()))
    repaired = 0
    for inquiry_id, owner in owners.items():
        if owner in missing and await enqueue_poll(ctx, inquiry_id, owner, 0):
            repaired += 1
    return repaired


async def _close_lost_creates(ctx: JobContext, now: float) -> int:
    stale = await ctx.store.stale_creates(now - CREATE_STALE_S, limit=BATCH)
    missing = await _missing_jobs(ctx, stale)
    closed = 0
    for job_id in missing:
        state = await resolved(ctx.redis.hgetall(keys.create_key(job_id)))
        if state.get("inquiry_id") or state.get("done") == "1":
            await ctx.store.finish_create(job_id, state.get("inquiry_id") or None)
            continue
        await ctx.publisher.publish_failure(
            dedupe_id=f"job:{job_id}",
            job=CREATE_INQUIRY,
            job_id=job_id,
            error=CreateRequestLostError("the create job left the queue without an answer"),
            now=now,
            reference_id=state.get("reference_id") or None,
        )
        await ctx.store.finish_create(job_id, None)
        closed += 1
    return closed


async def sweep(ctx: dict[str, Any]) -> SweepResult:
    """Re-enqueue lost polls and close lost create requests; one worker at a time."""
    context = JobContext.from_ctx(ctx)
    token = secrets.token_hex(8)
    locked = await context.redis.set(
        keys.SWEEP_LOCK, token, nx=True, px=int(SWEEP_INTERVAL_S * 900)
    )
    if not locked:
        return {"skipped": "another worker is sweeping"}
    now = context.clock()
    repaired = await _repair_polls(context, now)
    closed = await _close_lost_creates(context, now)
    if repaired or closed:
        logger.warning("sweep re-enqueued %d polls and closed %d lost creates", repaired, closed)
    return {"repaired_polls": repaired, "closed_creates": closed}
