"""`fetch_verification(inquiry_id)`: read an inquiry with its verifications and publish it.

The fast path after a webhook and the sweep's repair for terminal inquiries whose result is
not published. One `GET /inquiries/{id}?include=verifications` gives the whole result. If the
inquiry turns out not to be terminal (a webhook for an intermediate event, or a setting that
waits for a decision), nothing is published and the next status check is pulled forward.

Transient failures are retried with backoff; after `FETCH_MAX_FAILURES` of them, or an hour after
the fetch first ran, it leaves the inquiry to the polling chain. Rate-limit waits are no failures
(`jobs.state.attempts`).
"""

from __future__ import annotations

import logging
from typing import Any

from arq import Retry

from jobs.contract import FETCH_VERIFICATION
from jobs.documents import FetchResult
from jobs.errors import PermanentApiError, TransientApiError
from jobs.pipeline.follow import fail_request, open_request, publish_document
from jobs.pipeline.scheduling import pull_forward
from jobs.policy.backoff import RetryBudget
from jobs.policy.status import is_terminal

__all__ = ["FETCH_MAX_FAILURES", "FETCH_RETRY", "fetch_verification"]

logger = logging.getLogger(__name__)

#: Transient failures tolerated before the fetch gives up; the polling chain remains the net.
FETCH_MAX_FAILURES = 6
#: Backoff from 1 s to 30 s; the fetch gives up after its failures or an hour, whichever first.
FETCH_RETRY = RetryBudget(base_s=1, cap_s=30, deadline_s=3_600, max_failures=FETCH_MAX_FAILURES)


async def fetch_verification(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> FetchResult:
    """Fetch one inquiry's result and publish it if its status is terminal."""
    request = await open_request(ctx, FETCH_VERIFICATION, args, kwargs, owns_chain=False)
    context, inquiry_id, now = request.context, request.inquiry_id, request.now
    record = await context.store.get(inquiry_id)
    if record is None or record.published:
        return {"inquiry_id": inquiry_id, "skipped": "already published"}
    attempts = await context.attempts.begin(request.job_id, now)
    try:
        document = await context.persona.retrieve_inquiry(inquiry_id, include=("verifications",))
    except PermanentApiError as exc:
        await context.attempts.clear(request.job_id)
        return await fail_request(context, record, request.job_id, exc)
    except TransientApiError as exc:
        delay = await context.attempts.next_try(
            request.job_id, attempts, exc, FETCH_RETRY, now=context.clock(), rng=context.rng
        )
        if delay is not None:
            raise Retry(defer=delay) from exc
        logger.warning("fetch of %s gave up; polling will pick it up", inquiry_id)
        await context.attempts.clear(request.job_id)
        await pull_forward(context, record, now)
        return {"inquiry_id": inquiry_id, "deferred_to_polling": type(exc).__name__}
    await context.attempts.clear(request.job_id)

    if is_terminal(document.data.attributes.status, context.settings.terminal_statuses):
        return await publish_document(context, record, document)
    # Not terminal yet: let the polling chain check again soon rather than at its backoff.
    await pull_forward(context, record, now + context.settings.poll_min_interval_s)
    return {"inquiry_id": inquiry_id, "status": document.data.attributes.status}
