"""`poll_inquiry(inquiry_id)`: follow an inquiry to a terminal status.

Enqueued by `create_inquiry` for the inquiries it creates (job ids `poll:{id}:{hop}`), and by
producers for inquiries created elsewhere (any job id): such a request starts following the
inquiry and its result answers that request. A poll job for an inquiry whose chain is owned by
another live job, or whose result is published, does nothing, so duplicates are harmless.
"""

from __future__ import annotations

import logging
from typing import Any

from jobs.contract import POLL_INQUIRY
from jobs.documents import PollResult
from jobs.pipeline.follow import check_inquiry, open_request

__all__ = ["poll_inquiry"]

logger = logging.getLogger(__name__)

_SKIPPED = {0: "another job owns the polling chain", -1: "not followed", -2: "already published"}


async def poll_inquiry(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> PollResult:
    """Check one inquiry's status once and schedule what comes next."""
    request = await open_request(ctx, POLL_INQUIRY, args, kwargs, owns_chain=True)
    context, job_id, inquiry_id = request.context, request.job_id, request.inquiry_id
    claim = await context.store.claim_poll(inquiry_id, job_id)
    if claim != 1:
        logger.debug("poll of %s skipped: %s", inquiry_id, _SKIPPED[claim])
        return {"inquiry_id": inquiry_id, "skipped": _SKIPPED[claim]}
    record = await context.store.get(inquiry_id)
    if record is None:
        return {"inquiry_id": inquiry_id, "skipped": _SKIPPED[-1]}
    return await check_inquiry(context, record, job_id)
