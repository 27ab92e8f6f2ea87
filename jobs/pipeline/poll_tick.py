"""The polling tick: every `POLL_TICK_S`, one worker checks every due inquiry in shared calls.

The inquiries being followed sit in one sorted set by their next check time (`KeySpace.due`).
An arq cron job runs each tick (`worker.arq_settings`; its job id names the tick, so arq runs
it once, and a short lease keeps a second worker out of a tick whose job ran twice). It takes
the due inquiries, each moved ahead by the job's timeout as it is taken (`Ledger.claim_due`),
so a worker that dies mid-tick loses nothing (they fall due again) and two ticks never check
the same inquiry. They are checked at most `POLL_BATCH_SIZE` (Persona's limit: 100) per
`GET /inquiries?filter[inquiry-id]=...`, so batching spans every worker, however many run.

For each inquiry checked:

- terminal: `fetch_verification` is enqueued under the inquiry's deterministic fetch id, and
  the next check is set `FETCH_GRACE_S` later, the net under a fetch that is lost;
- not terminal: the next check by the polling policy (backoff with full jitter, the review
  cadence while `needs_review`), until the deadline, where its requests end with `job.failed`;
- missing from the list answer (an id unknown to this environment, say): `fetch_verification`,
  whose read on its own names the reason.

A list call that fails transiently leaves its inquiries due after a backoff (a 429's window);
one Persona refuses sends each of them to `fetch_verification`, which reads them one by one.
No arq job waits for an inquiry between checks.

While signed webhooks announce the changes, the tick works in `webhooks` mode
(`jobs.pipeline.cadence`): the due inquiries whose status we know wait for the safety net
(`POLL_SAFETY_NET_S`) without a call. A check that sees a change no webhook announced is noted,
and puts the next tick back in `polling` mode.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from jobs.context import JobContext
from jobs.contract import FETCH_VERIFICATION, POLL_INQUIRY
from jobs.documents import TickResult
from jobs.errors import KnownError, PermanentApiError, TransientApiError, WorkerError
from jobs.persona.models import Inquiry
from jobs.pipeline.answers import fail_followers
from jobs.pipeline.cadence import known_to_us, tick_mode, waiting_checks
from jobs.policy.cadence import Mode, uncovered_change
from jobs.policy.status import is_terminal
from jobs.state.ledger import Check, InquiryRecord

__all__ = [
    "FETCH_GRACE_S",
    "FETCH_HEAD_START_S",
    "PollingDeadlineError",
    "enqueue_fetch",
    "poll_tick",
    "take_tick_lease",
]

logger = logging.getLogger(__name__)

#: After a terminal check, when the inquiry is checked again if its fetch has not answered.
FETCH_GRACE_S: Final = 60.0
#: A fetch is queued as if enqueued this long ago. arq reads its queue in score order and
#: keeps running jobs there, looking at each again on every poll (a few round trips each):
#: while creates wait inside their jobs for the rate limit, a fetch queued behind them waited
#: for those looks on every worker. It finishes work a person waits on, so it goes first, as
#: the limiter lets it go first.
FETCH_HEAD_START_S: Final = 600.0


class PollingDeadlineError(WorkerError):
    """The inquiry did not reach a terminal status before the polling deadline."""


async def enqueue_fetch(ctx: JobContext, record: InquiryRecord) -> bool:
    """Enqueue the fetch that answers the inquiry's followers; False when already queued.

    The job id holds the inquiry's answer round, so a request that starts following after a
    fetch answered the others gets a fetch of its own.
    """
    job = await ctx.queue.enqueue_job(
        FETCH_VERIFICATION,
        inquiry_id=record.inquiry_id,
        _job_id=ctx.keys.fetch_job_id(record.inquiry_id, record.round),
        _queue_name=ctx.settings.queue_name,
        _defer_by=-FETCH_HEAD_START_S,
    )
    return job is not None


@dataclass(frozen=True, slots=True)
class _Next:
    """What follows one inquiry's check: the check to store and whether to fetch, or, past the
    polling deadline, the error that ends its requests."""

    outcome: str
    """`waiting`, `fetch`, `deadline` or `failed` (the tick's counts)."""
    check: Check | None = None
    error: KnownError | None = None


def _after_check(
    ctx: JobContext, record: InquiryRecord, inquiry: Inquiry | None, now: float
) -> _Next:
    """What one inquiry's checked status (None: missing from the answer) means."""
    if inquiry is None or is_terminal(inquiry.status, ctx.settings.terminal_statuses):
        status = inquiry.status if inquiry is not None else record.status
        check = Check(record.inquiry_id, status, now, now + FETCH_GRACE_S, record.deadline)
        return _Next("fetch", check)
    attributes = inquiry.attributes
    deadline = ctx.policy.deadline(
        attributes.status,
        expires_at=attributes.expires_at,
        created_at=attributes.created_at,
        followed_since=datetime.fromtimestamp(record.followed_since, tz=UTC),
    ).timestamp()
    if now >= deadline:
        message = f"inquiry still {attributes.status!r} at the polling deadline; giving up"
        return _Next("deadline", error=PollingDeadlineError(message))
    delay = ctx.policy.next_delay(record.polls, attributes.status, ctx.rng)
    return _Next("waiting", Check(record.inquiry_id, attributes.status, now, now + delay, deadline))


def _after_failure(
    ctx: JobContext, record: InquiryRecord, error: TransientApiError, now: float
) -> _Next:
    """What follows a list call that failed for a while: the next try, or, past the deadline,
    the end of the inquiry's requests with that failure."""
    if record.deadline is not None and now >= record.deadline:
        return _Next("failed", error=error)
    delay = ctx.policy.next_delay(record.polls, record.status, ctx.rng, error=error)
    check = Check(
        record.inquiry_id, record.status, now, now + delay, record.deadline, type(error).__name__
    )
    return _Next("failed", check)


async def _check_chunk(
    ctx: JobContext, records: Sequence[InquiryRecord], counts: dict[str, int]
) -> None:
    """One list call for up to 100 inquiries, then: their next checks stored in one round
    trip, the fetches enqueued, the requests past their deadline answered."""
    ids = [record.inquiry_id for record in records]
    found: dict[str, Inquiry] = {}
    failure: TransientApiError | None = None
    try:
        page = await ctx.persona.list_inquiries(inquiry_ids=ids, page_size=len(ids))
        found = {inquiry.id: inquiry for inquiry in page.data}
        counts["calls"] += 1
    except TransientApiError as exc:
        failure = exc
    except PermanentApiError as exc:
        # Each inquiry is then missing from the answer: its fetch reads it alone.
        logger.warning("a status list call was refused (%s); reading one by one", exc.message)
        counts["calls"] += 1
    now = ctx.clock()
    nexts = [
        _after_failure(ctx, record, failure, now)
        if failure is not None
        else _after_check(ctx, record, found.get(record.inquiry_id), now)
        for record in records
    ]
    await ctx.ledger.record_checks([step.check for step in nexts if step.check is not None])
    if any(
        known_to_us(record)
        and uncovered_change(
            now,
            known_status=record.status,
            seen_status=inquiry.status,
            changed_at=inquiry.attributes.updated_at,
        )
        for record in records
        if (inquiry := found.get(record.inquiry_id)) is not None
    ):
        await ctx.flow.change_uncovered(now)
    for record, step in zip(records, nexts, strict=True):
        # A check joins the story when it changed something: a new status, or a failure (the
        # inquiry's record counts every check and keeps the last one's time).
        if step.check is not None and (step.check.error or step.check.status != record.status):
            detail = step.check.error or step.check.status
            ctx.history.step("check", detail, inquiry_id=record.inquiry_id)
        counts[step.outcome] += 1
        if step.outcome == "fetch":
            await enqueue_fetch(ctx, record)
        elif step.error is not None:
            await fail_followers(ctx, record, POLL_INQUIRY, step.error)


async def take_tick_lease(context: JobContext, key: str) -> bool:
    """Whether this worker runs this tick: the lease lasts 90 % of `POLL_TICK_S`, so one
    worker per tick takes the due work, and the next tick is free again."""
    lease_ms = max(int(context.settings.poll_tick_s * 900), 10)
    return bool(await context.redis.set(key, secrets.token_hex(8), nx=True, px=lease_ms))


async def poll_tick(ctx: dict[str, Any]) -> TickResult:
    """Check every due inquiry (up to `POLL_TICK_MAX_CHECKS`) in shared list calls."""
    context = JobContext.from_ctx(ctx)
    settings = context.settings
    if not await take_tick_lease(context, context.keys.tick_lease):
        return {"skipped": "another worker has this tick"}
    now = context.clock()
    mode = await tick_mode(context, now)
    taken = await context.ledger.claim_due(
        now, limit=settings.poll_tick_max_checks, hold_s=settings.job_timeout_s + 10
    )
    records = await context.ledger.inquiries(taken)
    live = [record for record in records.values() if record is not None and record.followers]
    # A record that is gone, or that nobody follows, has nothing left to check; the requests
    # bound to a vanished record are the sweep's (`Ledger.audit`).
    checked = {record.inquiry_id for record in live}
    await context.ledger.drop_due(
        [inquiry_id for inquiry_id in records if inquiry_id not in checked]
    )
    deferred: set[str] = set()
    if mode is Mode.WEBHOOKS:
        deferred = await waiting_checks(context, live, now)
        live = [record for record in live if record.inquiry_id not in deferred]
    counts = {"calls": 0, "waiting": 0, "fetch": 0, "deadline": 0, "failed": 0}
    await asyncio.gather(
        *(
            _check_chunk(context, chunk, counts)
            for chunk in _chunks_of(live, settings.poll_batch_size)
        )
    )
    if live:
        logger.debug("tick checked %d inquiries in %d calls", len(live), counts["calls"])
    return {
        "checked": len(live),
        "calls": counts["calls"],
        "waiting": counts["waiting"],
        "fetch": counts["fetch"],
        "deadline": counts["deadline"],
        "failed": counts["failed"],
        "deferred": len(deferred),
        "mode": mode.value,
    }


def _chunks_of(records: list[InquiryRecord], size: int) -> list[list[InquiryRecord]]:
    return [records[start : start + size] for start in range(0, len(records), size)]
