"""`create_inquiry(reference_id, ...)`: create one Persona inquiry per request, then follow it.

However often the job runs (arq retries, a crash and re-run, a duplicate enqueue), it creates
at most one inquiry: the `Idempotency-Key` is derived from the job id, and after an attempt
whose outcome is unknown (a timeout, a 5xx) the next attempt first looks for an inquiry that
attempt may have created (same reference id, created since the first attempt, same template
and note, not claimed by another request). A 5xx may be cached by Persona under its key, so
the attempt after one uses the next key generation; a timeout retries with the same key, as
Persona advises. The job's result holds the inquiry id, its status and the one-time link; the
request's answer on the results stream is the inquiry's result
(`jobs.pipeline.fetch_verification`), or a `job.failed` (`jobs.pipeline.requests`).

Transient failures (5xx, timeouts, lost connections, 409s) and rate-limit waits are retried,
however many there are, until `CREATE_DEADLINE_S` after the request's first attempt: a Persona
outage shorter than that fails nothing, and a request still without an inquiry then ends with
one `job.failed`. Failures are counted in the request's own state, never in arq's `job_try`
(which also counts waits and re-runs), and only set the backoff (2 s doubling up to 120 s).

A re-run of a request that already has its inquiry (a crash before arq stored the result, or a
re-enqueue after the result expired) creates nothing and returns the same fields: a new
one-time link (Idempotency-Key `create:{job_id}:link`) while the inquiry is `created` or
`pending`, no link for any other status, when Persona refuses one or after `LINK_RETRY` is
spent. The ledger never keeps a link. A re-run of an answered request does nothing at all
(`jobs.pipeline.requests`). Keys derive from the job id as `jobs.idempotency` says.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from arq import Retry

from jobs import log_context
from jobs.context import JobContext
from jobs.contract import CREATE_INQUIRY, CreateInquiryArgs, parse_args
from jobs.documents import CreateResult
from jobs.errors import (
    ApiError,
    ConflictError,
    JobArgumentsError,
    PermanentApiError,
    ServerError,
    TransientApiError,
    WorkerError,
)
from jobs.idempotency import idempotency_key
from jobs.persona.models import Inquiry, InquiryDocument, InquiryMeta
from jobs.persona.templates import TEMPLATE_RELATIONSHIPS
from jobs.pipeline.requests import RequestRun, request_job
from jobs.policy.backoff import RetryBudget, counts_as_failure
from jobs.policy.status import PERSON_ACTIVE
from jobs.state.ledger import RequestRecord

__all__ = [
    "CREATE_DEADLINE_S",
    "CREATE_RETRY",
    "LINK_RETRY",
    "CreateDeadlineError",
    "create_inquiry",
]

logger = logging.getLogger(__name__)

#: A create request still without an inquiry this long after its first attempt ends with
#: `job.failed`; until then every transient failure and rate-limit wait is retried.
CREATE_DEADLINE_S: Final = 3_600.0
#: Backoff from 2 s to 120 s between failed create attempts, up to the deadline.
CREATE_RETRY: Final = RetryBudget(base_s=2, cap_s=120, deadline_s=CREATE_DEADLINE_S)
#: A re-run's new one-time link: after this budget the re-run answers without a link.
LINK_RETRY: Final = RetryBudget(base_s=2, cap_s=120, deadline_s=600, max_failures=8)
#: Clock skew tolerated between us and Persona when matching `created-at`.
_SKEW_S = 120.0


class CreateDeadlineError(WorkerError):
    """The create request had no inquiry at its deadline (its job kept being re-run)."""


def _template_matches(inquiry: Inquiry, template_id: str) -> bool:
    related = [
        ident
        for name in TEMPLATE_RELATIONSHIPS
        if (relationship := inquiry.relationships.get(name)) is not None
        for ident in relationship.ids()
    ]
    return not related or template_id in related


async def _follow(ctx: JobContext, request_id: str, inquiry: Inquiry, reference_id: str) -> bool:
    """Make the create request follow the inquiry it made; False if another request made it."""
    log_context.bind(inquiry_id=inquiry.id)
    now = ctx.clock()
    outcome = await ctx.ledger.follow(
        inquiry.id,
        request_id,
        reference_id=reference_id,
        status=inquiry.status,
        now=now,
        first_due=now + ctx.policy.next_delay(0, inquiry.status, ctx.rng),
        creator=True,
    )
    if outcome.following:
        ctx.history.step("following", inquiry.status, inquiry_id=inquiry.id, request_id=request_id)
    return outcome.following


async def _find_created(
    ctx: JobContext, request: RequestRecord, args: CreateInquiryArgs, template_id: str
) -> Inquiry | None:
    """An inquiry an earlier attempt of this request created, now followed by this request."""
    page = await ctx.persona.list_inquiries(reference_id=args.reference_id, page_size=100)
    since = request.first_run_at - _SKEW_S
    for inquiry in reversed(page.data):  # oldest first: earlier attempts created earlier
        created = inquiry.attributes.created_at
        if created is not None and created.timestamp() < since:
            continue
        if not _template_matches(inquiry, template_id):
            continue
        if (inquiry.attributes.note or None) != args.note:
            continue
        if await _follow(ctx, request.request_id, inquiry, args.reference_id):
            return inquiry
    return None


def _result(
    inquiry_id: str, status: str, reference_id: str, meta: InquiryMeta | None
) -> CreateResult:
    return {
        "inquiry_id": inquiry_id,
        "reference_id": reference_id,
        "status": status,
        "one_time_link": meta.one_time_link if meta else None,
        "one_time_link_short": meta.one_time_link_short if meta else None,
        "session_token": meta.session_token if meta else None,
    }


def _summary(inquiry: Inquiry, document: InquiryDocument | None, reference_id: str) -> CreateResult:
    meta = document.meta if document is not None else None
    return _result(inquiry.id, inquiry.status, reference_id, meta)


async def _new_link(ctx: JobContext, request_id: str, inquiry_id: str) -> InquiryMeta | None:
    """A new one-time link for a re-run; None when Persona refuses one (or keeps failing).

    The link's failures are counted apart from the create's (`jobs.state.attempts`); a 429 is
    no failure: it waits for its window however often it comes, within `LINK_RETRY`'s time.
    """
    attempts = await ctx.attempts.begin(request_id, ctx.clock())
    failure: ApiError | None = None
    try:
        document = await ctx.persona.generate_one_time_link(
            inquiry_id, idempotency_key=idempotency_key("create", request_id, "link")
        )
    except TransientApiError as exc:
        delay = await ctx.attempts.next_try(
            request_id, attempts, exc, LINK_RETRY, now=ctx.clock(), rng=ctx.rng
        )
        if delay is not None:
            raise Retry(defer=delay) from exc
        failure = exc
    except PermanentApiError as exc:
        failure = exc
    await ctx.attempts.clear(request_id)
    if failure is not None:
        logger.warning("create request %s: no new one-time link: %s", request_id, failure.message)
        return None
    return document.meta


async def _answer_again(
    ctx: JobContext, request_id: str, inquiry_id: str, reference_id: str
) -> CreateResult:
    """The result of a re-run of a request that has its inquiry: a new link while it helps."""
    log_context.bind(inquiry_id=inquiry_id)
    record = await ctx.ledger.inquiry(inquiry_id)
    status = record.status if record is not None else "created"
    meta = None
    if status in PERSON_ACTIVE:
        meta = await _new_link(ctx, request_id, inquiry_id)
    return _result(inquiry_id, status, reference_id, meta)


async def _attempt(
    ctx: JobContext, request: RequestRecord, args: CreateInquiryArgs, template_id: str
) -> CreateResult:
    if request.outcome_unknown:
        found = await _find_created(ctx, request, args, template_id)
        if found is not None:
            logger.info(
                "create request %s: adopted %s from an earlier attempt",
                request.request_id,
                found.id,
            )
            return _summary(found, None, args.reference_id)
    document = await ctx.persona.create_inquiry(
        template_id=template_id,
        idempotency_key=request.create_idempotency_key,
        reference_id=args.reference_id,
        fields=args.fields,
        account_id=args.account_id,
        note=args.note,
        tags=args.tags,
        redirect_uri=args.redirect_uri,
        one_time_link=True,
    )
    inquiry = document.data
    if not await _follow(ctx, request.request_id, inquiry, args.reference_id):
        # A concurrent request with a lost answer adopted this inquiry; look again and, if
        # nothing else is ours, create anew under the next key.
        await ctx.ledger.note_create_failure(
            request.request_id, outcome_unknown=True, new_generation=True, counts=True
        )
        raise Retry(defer=0)
    return _summary(inquiry, document, args.reference_id)


async def _retry_or_raise(ctx: JobContext, request: RequestRecord, exc: ApiError) -> None:
    """Run the job again after its backoff (or a 429's window); past the deadline, return and
    let the caller raise `exc` (the request then ends with it)."""
    failures = request.failures  # the failed attempts of this request, this one included below
    if counts_as_failure(exc):
        # A 429 is not cached by Persona and no failure: it waits for its window, same key.
        await ctx.ledger.note_create_failure(
            request.request_id,
            outcome_unknown=exc.outcome_unknown or isinstance(exc, ConflictError),
            new_generation=isinstance(exc, ServerError | ConflictError),
            counts=True,
        )
        failures += 1
    delay = CREATE_RETRY.next_try(
        failures, exc, first_run_at=request.first_run_at, now=ctx.clock(), rng=ctx.rng
    )
    if delay is not None:
        raise Retry(defer=delay) from exc


async def _create(run: RequestRun, args: tuple[Any, ...], kwargs: dict[str, Any]) -> CreateResult:
    """Create the inquiry of one request (once) and follow it; its link is the job's result."""
    context, request = run.context, run.record
    parsed = parse_args(CreateInquiryArgs, args, kwargs)
    template_id = parsed.template_id or context.settings.persona_template_id
    if template_id is None:
        raise JobArgumentsError("template_id: required when PERSONA_TEMPLATE_ID is not set")
    if parsed.reports:
        await context.report_waits.set_plan(run.request_id, parsed.reports)
    if request.inquiry_id is not None:
        return await _answer_again(context, run.request_id, request.inquiry_id, parsed.reference_id)
    if context.clock() >= request.first_run_at + CREATE_DEADLINE_S:
        raise CreateDeadlineError(f"no inquiry within {CREATE_DEADLINE_S:g}s of the first attempt")
    try:
        return await _attempt(context, request, parsed, template_id)
    except (TransientApiError, ConflictError) as exc:
        # A 409 may be another attempt of this request at work: look again, as after a 5xx.
        await _retry_or_raise(context, request, exc)
        raise


create_inquiry = request_job(
    CREATE_INQUIRY,
    _create,
    doc="Create the inquiry of one request (once), follow it, and return its one-time link.",
)
