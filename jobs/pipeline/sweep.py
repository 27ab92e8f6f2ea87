"""The cron sweep: closes the requests whose job was lost, so every request gets its answer.

arq can lose a job: a job key that expires, a job that ended past its `max_tries`, a payload
arq could not run, a function name it does not know. A request whose job is gone and that
follows no inquiry would then wait for ever. Every open request has a time at which the sweep
looks at it (`Ledger.audit_due`): `OPEN_AUDIT_S` after its job first ran, then again every
`OPEN_AUDIT_S` while that job lives, and hourly while it follows an inquiry (whose polling tick
is its net, not arq). At that time `Ledger.audit`,
one script, answers it with `job.failed` (`RequestLostError`) unless it was answered, follows
an inquiry whose record still lists it, or has an arq job that exists or runs; a request whose
inquiry record vanished is answered too, never dropped.

Several workers run the cron (arq #196), so a short Redis lock lets one sweep at a time; the
script makes even two sweeps answer a request once.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, Final

from jobs.context import JobContext
from jobs.documents import SweepResult, failed_event
from jobs.errors import WorkerError
from jobs.state.ledger import AuditOutcome, RequestRecord

__all__ = ["BATCH", "SWEEP_INTERVAL_S", "RequestLostError", "sweep"]

logger = logging.getLogger(__name__)

#: How often the sweep runs; the cron schedule in `worker.arq_settings` follows it.
SWEEP_INTERVAL_S: Final = 10
#: Most requests looked at per sweep; the rest wait for the next one.
BATCH: Final = 500


class RequestLostError(WorkerError):
    """The request's job left the queue (or its inquiry's record vanished) without an answer."""


async def sweep(ctx: dict[str, Any]) -> SweepResult:
    """Answer the open requests whose job is gone; one worker at a time."""
    context = JobContext.from_ctx(ctx)
    locked = await context.redis.set(
        context.keys.sweep_lock, secrets.token_hex(8), nx=True, px=int(SWEEP_INTERVAL_S * 900)
    )
    if not locked:
        return {"skipped": "another worker is sweeping"}
    now = context.clock()
    due = await context.ledger.audit_due(now, limit=BATCH)
    closed = 0
    for request_id in due:
        found = await context.ledger.request(request_id)
        # A record that vanished (an operator's hand) still gets its answer, from what is left.
        request = found or RequestRecord.from_hash(request_id, {})
        if found is None:
            error = RequestLostError("the request's record vanished")
        elif request.inquiry_id:
            error = RequestLostError("the request's inquiry record vanished")
        else:
            error = RequestLostError("the job left the queue without an answer")
        lost = failed_event(
            request_id,
            job=request.job or "unknown",
            error=error,
            now=now,
            inquiry_id=request.inquiry_id,
            reference_id=request.reference_id,
        )
        if await context.ledger.audit(request, lost=lost, now=now) is AuditOutcome.ANSWERED_LOST:
            closed += 1
            logger.warning("sweep closed lost %s request %s", request.job, request_id)
            context.history.result(
                "job.failed",
                1,
                error_type=type(error).__name__,
                inquiry_id=request.inquiry_id,
                request_ids=[request_id],
            )
    return {"looked_at": len(due), "closed": closed}
