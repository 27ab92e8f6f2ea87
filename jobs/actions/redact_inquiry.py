"""`redact_inquiry(inquiry_id)`: erase an inquiry's personal data at Persona and here.

Irreversible. `DELETE /inquiries/{id}` makes Persona erase the inquiry's PII (fields,
verification data). It carries the job's Idempotency-Key (`redact_inquiry:{job_id}`, see
`jobs.idempotency`), which the operation declares; Persona documents keys as without effect on
DELETE, so a retry after a lost answer may also see a 409 "Inquiry already redacted", which the
job confirms with a read and treats as done: the caller's goal, no personal data left, is met
either way. Then `jobs.state.forget` drops our own copies: the reference ids the ledger keeps for
the requests waiting for the inquiry and for the request that created it, arq's result of the
create job (its arguments and link), arq's results of `refresh_link` jobs (their links), and
result events carrying field values or a link.

Outcome event `inquiry.redacted`, data: `inquiry_id`, `status` (redaction keeps it),
`redacted_at`, `already_redacted` (Persona had redacted it before this job) and `dropped`
(counts of our copies removed: `inquiry_records`, the ledger's records of the inquiry;
`create_requests`, requests whose reference id was blanked, none once every request was
answered, since an answer drops it; `job_results`; `stream_events`; `screenings`, waiting
screenings whose result dropped its field values). An unknown inquiry, or any
other refusal, ends with `job.failed`.

A followed inquiry stays followed: the requests waiting for it are answered with its result,
whose field values Persona has erased.
"""

from __future__ import annotations

from jobs.actions.base import ActionRun, Outcome, action_job
from jobs.contract import REDACT_INQUIRY, InquiryArgs
from jobs.documents import DroppedCopies, InquiryRedacted, iso
from jobs.errors import ConflictError
from jobs.reports.screening import forget_screening
from jobs.state.forget import forget_inquiry

__all__ = ["redact_inquiry"]


async def _perform(run: ActionRun, args: InquiryArgs) -> Outcome:
    persona = run.context.persona
    already = False
    try:
        key = run.idempotency_key()
        inquiry = (await persona.redact_inquiry(args.inquiry_id, idempotency_key=key)).data
    except ConflictError:
        inquiry = (await persona.retrieve_inquiry(args.inquiry_id)).data
        if inquiry.attributes.redacted_at is None:
            raise
        already = True
    record = await run.context.ledger.inquiry(inquiry.id)
    dropped = DroppedCopies(
        **await forget_inquiry(run.context, inquiry.id),
        screenings=await forget_screening(
            run.context, inquiry.id, record.creator if record else None
        ),
    )
    return Outcome(
        "inquiry.redacted",
        InquiryRedacted(
            inquiry_id=inquiry.id,
            status=inquiry.status,
            redacted_at=iso(inquiry.attributes.redacted_at),
            already_redacted=already,
            dropped=dropped,
        ),
        inquiry_id=inquiry.id,
    )


redact_inquiry = action_job(
    REDACT_INQUIRY,
    InquiryArgs,
    _perform,
    doc="Redact one inquiry at Persona and drop our own copies of its personal data.",
)
