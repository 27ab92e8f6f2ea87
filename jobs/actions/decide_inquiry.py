"""`decide_inquiry(inquiry_id, decision, comment=None)`: approve, decline or mark for review.

`decision` is `approve`, `decline` or `mark_for_review`; `comment` (approve and decline only)
goes to Persona as the reviewer comment and is never echoed into events or logs. One POST under
the Idempotency-Key `decide_inquiry:{job_id}`, so a retry after a lost answer gets Persona's
first answer back instead of a second decision.

Outcome event `inquiry.decision-recorded`, data: `inquiry_id`, `decision`, `status` (after the
decision), `final` (whether that status is a decision that will not change), `decisioned_at`,
`marked_for_review_at` and `following` (requests were waiting for the inquiry's result after
the decision was recorded, so their answers come, read after the decision).

A decision on an inquiry that is already approved or declined ends with `job.failed` carrying
`InquiryAlreadyDecidedError` (Persona answers 409, and the same request would be refused
forever, so it is not retried). Other refusals (e.g. marking an inquiry for review twice, a
redacted inquiry) end with `job.failed` carrying Persona's own error.

If requests follow the inquiry, the decision leads to their answer: a status that ends polling
gets its fetch enqueued at once (the same deterministic id a webhook or the tick would use),
any other status (`needs_review`) has the inquiry checked by the next polling tick. A request
already answered keeps its one answer: to follow the decided inquiry to a new result, enqueue a
new `poll_inquiry` request.
"""

from __future__ import annotations

from jobs.actions.base import (
    ActionRun,
    InquiryAlreadyDecidedError,
    Outcome,
    action_job,
    fetch_soon,
    poll_soon,
)
from jobs.contract import DECIDE_INQUIRY, DecideInquiryArgs
from jobs.documents import DecisionRecorded, iso
from jobs.errors import ConflictError
from jobs.persona.models import Inquiry, InquiryDocument
from jobs.policy.status import is_final, is_terminal

__all__ = ["decide_inquiry"]


async def _send(run: ActionRun, args: DecideInquiryArgs) -> InquiryDocument:
    persona, key = run.context.persona, run.idempotency_key()
    if args.decision == "approve":
        return await persona.approve_inquiry(
            args.inquiry_id, idempotency_key=key, comment=args.comment
        )
    if args.decision == "decline":
        return await persona.decline_inquiry(
            args.inquiry_id, idempotency_key=key, comment=args.comment
        )
    return await persona.mark_for_review(args.inquiry_id, idempotency_key=key)


def _already_decided(args: DecideInquiryArgs, status: str, exc: ConflictError) -> ConflictError:
    return InquiryAlreadyDecidedError(
        f"inquiry is already {status}; {args.decision} is refused because a decision "
        "cannot be changed",
        status_code=exc.status_code,
        title=exc.title,
        details=exc.details,
        request_id=exc.request_id,
        method=exc.method,
        path=exc.path,
    )


async def _follow_up(run: ActionRun, inquiry: Inquiry) -> bool:
    """Lead a followed inquiry to the answers of the requests that wait for it; whether any
    request waits."""
    context = run.context
    if is_terminal(inquiry.status, context.settings.terminal_statuses):
        return await fetch_soon(context, inquiry.id)
    return await poll_soon(context, inquiry.id)


async def _perform(run: ActionRun, args: DecideInquiryArgs) -> Outcome:
    try:
        document = await _send(run, args)
    except ConflictError as exc:
        # Persona's 409 covers several causes; name the one callers must act on.
        current = await run.context.persona.retrieve_inquiry(args.inquiry_id)
        if not is_final(current.data.status):
            raise
        raise _already_decided(args, current.data.status, exc) from exc
    inquiry = document.data
    following = await _follow_up(run, inquiry)
    attributes = inquiry.attributes
    return Outcome(
        "inquiry.decision-recorded",
        DecisionRecorded(
            inquiry_id=inquiry.id,
            decision=args.decision,
            status=inquiry.status,
            final=is_final(inquiry.status),
            decisioned_at=iso(attributes.decisioned_at),
            marked_for_review_at=iso(attributes.marked_for_review_at),
            following=following,
        ),
        inquiry_id=inquiry.id,
    )


decide_inquiry = action_job(
    DECIDE_INQUIRY,
    DecideInquiryArgs,
    _perform,
    doc="Record a reviewer's decision on one inquiry (once) and publish it.",
)
