"""`refresh_link(inquiry_id, expires_in_seconds=None)`: a new one-time link for a person.

Persona generates one-time links only for live inquiries (`created`, `pending`); an expired one
must be resumed first. So the job reads the inquiry's status, resumes it when it is `expired`
(Idempotency-Key `refresh_link:{job_id}:resume`), then generates the link (`refresh_link:{job_id}`,
with `expires_in_seconds` when given; Persona's default is 24 hours). A retry after a lost
answer reads the status again, so it never resumes twice, and Persona replays the link it
already made under the same key.

Outcome event `inquiry.link-refreshed`, data: `inquiry_id`, `status`, `resumed` (this run
resumed an expired inquiry), `one_time_link`, `one_time_link_short`, `expires_in_seconds` and
`following`. The same data is the job's result. The link opens the person's flow: it goes to
the stream and the job result, never to logs, and redacting the inquiry drops both. Inquiries
that are done (completed, decided, failed) or redacted cannot get a link: `job.failed` with
Persona's error.

If requests follow the inquiry, its next check is pulled forward to the next polling tick, so
the polling sees the resumed status (`following: true`). A request already answered (say with
`inquiry.expired`) keeps its one answer: to follow the resumed inquiry to a new result, enqueue
a new `poll_inquiry` request.
"""

from __future__ import annotations

from jobs.actions.base import ActionRun, Outcome, action_job, poll_soon
from jobs.contract import REFRESH_LINK, RefreshLinkArgs
from jobs.documents import LinkRefreshed
from jobs.policy.status import InquiryStatus

__all__ = ["refresh_link"]


async def _perform(run: ActionRun, args: RefreshLinkArgs) -> Outcome:
    persona = run.context.persona
    current = await persona.retrieve_inquiry(args.inquiry_id)
    resumed = current.data.status == InquiryStatus.expired
    if resumed:
        await persona.resume_inquiry(args.inquiry_id, idempotency_key=run.idempotency_key("resume"))
    document = await persona.generate_one_time_link(
        args.inquiry_id,
        idempotency_key=run.idempotency_key(),
        expires_in_s=args.expires_in_seconds,
    )
    inquiry = document.data
    following = await poll_soon(run.context, inquiry.id)
    meta = document.meta
    return Outcome(
        "inquiry.link-refreshed",
        LinkRefreshed(
            inquiry_id=inquiry.id,
            status=inquiry.status,
            resumed=resumed,
            one_time_link=meta.one_time_link if meta else None,
            one_time_link_short=meta.one_time_link_short if meta else None,
            expires_in_seconds=args.expires_in_seconds,
            following=following,
        ),
        inquiry_id=inquiry.id,
        personal=True,
    )


refresh_link = action_job(
    REFRESH_LINK,
    RefreshLinkArgs,
    _perform,
    doc="Resume an expired inquiry when needed and return a new one-time link (once).",
)
