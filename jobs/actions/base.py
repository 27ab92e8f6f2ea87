"""Decision and lifecycle actions as jobs: the run loop they share, and their events.

Callers ask for actions on existing Persona objects through the same queue, with the same
guarantees as the pipeline: each is a request of the ledger (`jobs.pipeline.requests`), with
JSON arguments validated at the boundary, an `Idempotency-Key` derived from the job
(`{job}:{job_id}`, plus `:{step}` when one job sends two requests; see `jobs.idempotency`),
and exactly one answer on the results stream.

| job                 | arguments                                   | event                      |
| ------------------- | ------------------------------------------- | -------------------------- |
| `decide_inquiry`    | `inquiry_id, decision, comment=None`        | `inquiry.decision-recorded`|
| `refresh_link`      | `inquiry_id, expires_in_seconds=None`       | `inquiry.link-refreshed`   |
| `redact_inquiry`    | `inquiry_id`                                | `inquiry.redacted`         |
| `set_case_status`   | `case_id, status`                           | `case.status-set`          |
| `account_relations` | `account_id, key`                           | `account.relations-listed` |

Every event's `data` holds `event`, `job`, `job_id`, `published_at` and what the job's module
docstring lists; a request that cannot succeed ends with `job.failed` instead (bad arguments,
a 4xx from Persona, `ACTION_MAX_FAILURES` transient failures, or no answer by the deadline,
`ACTION_DEADLINE_S` after the job first ran). Waiting for a rate-limit window (a 429 or the
shared limiter deferring the job), re-running after a Redis error and re-running after a deploy
are not failures: they never use up the budget, only the deadline bounds them
(`jobs.state.attempts`). Event names are kebab-case
like the pipeline's own (`inquiry.marked-for-review`). Action events about an inquiry answer
only the action's own request: the requests following that inquiry wait for its result.

A re-run of a job id whose event is already published calls nothing at Persona and publishes
nothing: it returns the earlier event's data (with `published: false`), so a producer that
re-enqueues by accident gets the same answer, including a refreshed link (or the earlier
`job.failed` data, when that was the answer).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from arq import Retry

from jobs.context import JobContext
from jobs.contract import JobArgs, parse_args
from jobs.documents import ActionData, ActionResult, published_at
from jobs.errors import ConflictError, TransientApiError, WorkerError
from jobs.idempotency import idempotency_key
from jobs.pipeline.poll_tick import enqueue_fetch
from jobs.pipeline.requests import RequestRun, request_job
from jobs.policy.backoff import RetryBudget

__all__ = [
    "ACTION_DEADLINE_S",
    "ACTION_MAX_FAILURES",
    "ACTION_RETRY",
    "ActionDeadlineError",
    "ActionJob",
    "ActionRun",
    "InquiryAlreadyDecidedError",
    "Outcome",
    "action_job",
    "fetch_soon",
    "poll_soon",
    "run_action",
    "within_budget",
]

logger = logging.getLogger(__name__)

ArgsT = TypeVar("ArgsT", bound=JobArgs)
ResultT = TypeVar("ResultT")
#: An action job as arq runs it: arq's ctx and the job's arguments as enqueued.
ActionJob = Callable[..., Awaitable[Any]]

#: Failed attempts (transient errors from Persona) before an action ends with `job.failed`.
ACTION_MAX_FAILURES: Final = 8
#: An action without an answer this long after its first run ends with `job.failed`, whatever
#: it was waiting for; arq's `max_tries` for these jobs is never what ends one.
ACTION_DEADLINE_S: Final = 3_600.0
#: Backoff from 1 s to 60 s between failed attempts, within both limits above.
ACTION_RETRY: Final = RetryBudget(
    base_s=1, cap_s=60, deadline_s=ACTION_DEADLINE_S, max_failures=ACTION_MAX_FAILURES
)


class ActionDeadlineError(WorkerError):
    """The action was still without an answer at its deadline (it kept being re-run)."""


class InquiryAlreadyDecidedError(ConflictError):
    """409: the inquiry is already approved or declined, and a decision cannot be changed."""


@dataclass(frozen=True, slots=True)
class ActionRun:
    """One run of an action job: its context and identity."""

    context: JobContext
    job: str
    job_id: str

    def idempotency_key(self, step: str | None = None) -> str:
        """The key of this job's request (or of one `step` of a job that sends several)."""
        return idempotency_key(self.job, self.job_id, *(() if step is None else (step,)))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an action achieved: its event name and the event's specific data."""

    event: str
    data: ActionData
    inquiry_id: str | None = None
    """The inquiry the event is about (the stream entry's `inquiry_id` field)."""
    personal: bool = False
    """The event and the job's result hold personal data (a one-time link): redacting the
    inquiry drops both."""


async def poll_soon(ctx: JobContext, inquiry_id: str) -> bool:
    """Have a followed inquiry checked by the next polling tick; whether it is followed."""
    record = await ctx.ledger.inquiry(inquiry_id)
    if record is None or not record.followers:
        return False
    await ctx.ledger.pull_forward(inquiry_id, ctx.clock())
    return True


async def fetch_soon(ctx: JobContext, inquiry_id: str) -> bool:
    """Have a followed inquiry's result fetched now (after a decision); whether it is followed."""
    record = await ctx.ledger.inquiry(inquiry_id)
    if record is None or not record.followers:
        return False
    await enqueue_fetch(ctx, record)
    return True


async def run_action(
    run: RequestRun,
    *,
    model: type[ArgsT],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    perform: Callable[[ActionRun, ArgsT], Awaitable[Outcome]],
) -> ActionResult:
    """Run one action: validate, perform, answer its request with the action's event.

    Args:
        run: the request's run (`jobs.pipeline.requests`), which answers any failure.
        model: the arguments' model.
        args, kwargs: the job's arguments as enqueued.
        perform: the action itself; raises `jobs.errors` types on failure.

    Returns:
        The published event's data plus `entry_id` and `published`.

    Raises:
        JobArgumentsError, PermanentApiError, ActionDeadlineError, TransientApiError (once
            the failure budget or the deadline is spent): the request ends with them.
        Retry: a transient failure or a rate-limit wait, with budget and time left.
    """
    context = run.context
    action = ActionRun(context, run.job, run.request_id)
    parsed = parse_args(model, args, kwargs)
    outcome = await within_budget(context, run.request_id, lambda: perform(action, parsed))
    if outcome.personal and outcome.inquiry_id is not None:
        await context.ledger.note_personal_result(outcome.inquiry_id, run.request_id)
    now = context.clock()
    data: dict[str, object] = {
        "event": outcome.event,
        "job": run.job,
        "job_id": run.request_id,
        **outcome.data,
        "published_at": published_at(now),
    }
    answer = await context.ledger.answer(
        run.request_id, event=outcome.event, data=data, inquiry_id=outcome.inquiry_id
    )
    logger.info("%s job %s: published %s", run.job, run.request_id, outcome.event)
    if answer.new:
        context.history.result(
            outcome.event,
            1,
            inquiry_id=outcome.inquiry_id,
            request_ids=[run.request_id],
        )
    return {**data, "entry_id": answer.entry_id, "published": answer.new}


async def within_budget(
    context: JobContext, request_id: str, attempt: Callable[[], Awaitable[ResultT]]
) -> ResultT:
    """Run one attempt of a request's call to Persona within the actions' failure budget.

    A transient failure runs the job again after its backoff (`ACTION_RETRY`, or a 429's
    window), until `ACTION_MAX_FAILURES` failures or `ACTION_DEADLINE_S` after the first run;
    then, like any other error, it ends the request (`jobs.pipeline.requests`).

    Raises:
        ActionDeadlineError: the request is past its deadline.
        Retry: a transient failure or a rate-limit wait, with budget and time left.
    """
    attempts = await context.attempts.begin(request_id, context.clock())
    if attempts.past(ACTION_DEADLINE_S, context.clock()):
        await context.attempts.clear(request_id)
        raise ActionDeadlineError(f"no answer within {ACTION_DEADLINE_S:g}s of the first run")
    try:
        result = await attempt()
    except TransientApiError as exc:
        delay = await context.attempts.next_try(
            request_id, attempts, exc, ACTION_RETRY, now=context.clock(), rng=context.rng
        )
        if delay is None:
            await context.attempts.clear(request_id)
            raise
        raise Retry(defer=delay) from exc
    except Retry:
        raise
    except Exception:
        # The request ends with this error (`jobs.pipeline.requests`): its count goes too.
        await context.attempts.clear(request_id)
        raise
    await context.attempts.clear(request_id)
    return result


def action_job(
    job: str,
    model: type[ArgsT],
    perform: Callable[[ActionRun, ArgsT], Awaitable[Outcome]],
    *,
    doc: str,
) -> ActionJob:
    """The job function of one action: `run_action` with its name, argument model and `perform`.

    Args:
        job: the job's name (`jobs.contract`), also its function's name.
        model: the arguments' model.
        perform: the action itself.
        doc: what the job does, as its docstring.
    """

    async def action(
        run: RequestRun, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> ActionResult:
        return await run_action(run, model=model, args=args, kwargs=kwargs, perform=perform)

    return request_job(job, action, doc=doc)
