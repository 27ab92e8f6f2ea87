"""The report tick: every `POLL_TICK_S`, one worker checks every request waiting for reports.

The same cron-style tick as the inquiries' (`jobs.pipeline.poll_tick`), on its own due set
(`KeySpace.report_due`) and lease: it takes the due waits, each moved ahead by the job's timeout
as it is taken, so a worker that dies mid-tick loses nothing and two ticks never check the same
wait. Persona has no list call for reports, so each pending report is one
`GET /reports/{id}`; a screening's reports not created yet are created here
(`jobs.reports.follow.advance`). Checks follow the polling cadence (`POLL_MIN_INTERVAL_S`
doubling up to `POLL_MAX_INTERVAL_S`, with jitter); a transient failure backs off the same way,
a 429 waits its window. No arq job waits for a report between checks.

Every report check is a call of its own under the shared rate limit, so one tick takes at most
`MAX_WAITS_PER_TICK` waits and starts no new check after `_BUDGET_SHARE` of the job's own
deadline: the waits it took but did not check are due again at once, for the next tick.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any, Final

from jobs.context import JobContext
from jobs.documents import Skipped
from jobs.pipeline.poll_tick import take_tick_lease
from jobs.pipeline.requests import job_deadline_s
from jobs.reports.follow import advance

__all__ = ["CONCURRENT_CHECKS", "MAX_WAITS_PER_TICK", "report_tick"]

logger = logging.getLogger(__name__)

#: Waits one tick checks at once (each is one or a few calls, all under the shared limiter).
CONCURRENT_CHECKS: Final = 20
#: Most waits one tick takes (fewer when `POLL_TICK_MAX_CHECKS` is lower).
MAX_WAITS_PER_TICK: Final = 200
#: Share of the job's own deadline after which a tick starts no new check.
_BUDGET_SHARE: Final = 0.5


async def report_tick(ctx: dict[str, Any]) -> dict[str, int] | Skipped:
    """Check every due wait (up to `POLL_TICK_MAX_CHECKS`): create, read, answer."""
    context = JobContext.from_ctx(ctx)
    settings = context.settings
    if not await take_tick_lease(context, context.keys.report_tick_lease):
        return {"skipped": "another worker has this tick"}
    waits = context.report_waits
    started = context.clock()
    stop_at = started + job_deadline_s(settings.job_timeout_s) * _BUDGET_SHARE
    taken = await waits.claim_due(
        started,
        limit=min(settings.poll_tick_max_checks, MAX_WAITS_PER_TICK),
        hold_s=settings.job_timeout_s + 10,
    )
    loaded = await waits.load(taken)
    # A wait whose state is gone has nothing left to check; its request is the sweep's.
    await waits.finish([request_id for request_id, wait in loaded.items() if wait is None])
    counts: Counter[str] = Counter()
    gate = asyncio.Semaphore(CONCURRENT_CHECKS)
    left: list[str] = []

    async def check(request_id: str) -> None:
        wait = loaded[request_id]
        if wait is None:
            return
        async with gate:
            if context.clock() >= stop_at:
                left.append(request_id)
                return
            counts[await advance(context, wait)] += 1

    await asyncio.gather(*(check(request_id) for request_id in loaded))
    await waits.due_again(left, context.clock())
    if loaded:
        logger.debug("report tick checked %d waits: %s", len(loaded), dict(counts))
    return {
        "checked": sum(counts.values()),
        "answered": counts["answered"],
        "waiting": counts["waiting"],
        "deferred": counts["deferred"],
        "left": len(left),
    }
