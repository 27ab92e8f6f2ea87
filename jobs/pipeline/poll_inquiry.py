"""`poll_inquiry(inquiry_id)`: a request for an inquiry's result, also one created elsewhere.

The request starts following the inquiry (`Ledger.follow`), checked by the next polling tick,
and is answered with the inquiry's result by `fetch_verification`, or with `job.failed` when
there can be none (an unknown id, the polling deadline). Several requests may follow one
inquiry; each gets its own answer, including one that arrives after the others were answered
(the inquiry is then followed again and checked at once).
"""

from __future__ import annotations

from typing import Any

from jobs.contract import POLL_INQUIRY, InquiryArgs, parse_args
from jobs.documents import FollowingResult
from jobs.pipeline.requests import RequestRun, request_job
from jobs.policy.status import NOT_CHECKED

__all__ = ["follow_inquiry", "poll_inquiry"]


async def follow_inquiry(
    run: RequestRun, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> FollowingResult:
    """Make the request follow its inquiry, due for a check at once."""
    inquiry_id = parse_args(InquiryArgs, args, kwargs).inquiry_id
    now = run.context.clock()
    outcome = await run.context.ledger.follow(
        inquiry_id,
        run.request_id,
        reference_id=None,
        status=NOT_CHECKED,
        now=now,
        first_due=now,
    )
    if outcome.following:
        run.context.history.step(
            "following", NOT_CHECKED, inquiry_id=inquiry_id, request_id=run.request_id
        )
    return {"inquiry_id": inquiry_id, "following": outcome.following}


poll_inquiry = request_job(
    POLL_INQUIRY,
    follow_inquiry,
    doc="Follow an inquiry to a terminal status; this request is answered with its result.",
)
