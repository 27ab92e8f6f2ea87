"""Decision and lifecycle actions as jobs: the run loop they share, and their events.

Callers ask for actions on existing Persona objects through the same queue, with the same
guarantees as the pipeline: JSON arguments validated at the boundary, an `Idempotency-Key`
derived from the job (`{job}:{job_id}`, plus `:{step}` when one job sends two requests; see
`jobs.idempotency`), and exactly one outcome event on the results stream under the dedupe id
`job:{job_id}`.

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
like the pipeline's own (`inquiry.marked-for-review`). Action events about an inquiry do not
settle it: if we follow that inquiry, it stays followed until its own result is published.

A re-run of a job id whose event is already published calls nothing at Persona and publishes
nothing: it returns the earlier event's data (with `published: false`), so a producer that
re-enqueues by accident gets the same answer, including a refreshed link (or the earlier
`job.failed` data, when that was the answer). Arguments are checked first, so a re-run with bad
arguments fails again, without a second event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from arq import Retry

from jobs.context import JobContext
from jobs.contract import InquiryArgs, JobArgs, parse_args
from jobs.documents import ActionData, ActionResult, published_at
from jobs.errors import (
    ConflictError,
    JobArgumentsError,
    KnownError,
    PermanentApiError,
    TransientApiError,
    WorkerError,
)
from jobs.idempotency import idempotency_key
from jobs.pipeline.scheduling import enqueue_poll, pull_forward
from jobs.policy.backoff import RetryBudget
from jobs.state.store import InquiryRecord

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
    "poll_soon",
    "run_action",
]

logger = logging.getLogger(__name__)

ArgsT = TypeVar("ArgsT", bound=JobArgs)
#: An action job as arq runs it: arq's ctx and the job's arguments as enqueued.
ActionJob = Callable[..., Coroutine[Any, Any, ActionResult]]

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


async def poll_soon(ctx: JobContext, record: InquiryRecord) -> None:
    """Have a followed inquiry checked now: its owner job pulled forward, or re-enqueued.

    The owner job can be missing (lost with a killed worker); enqueueing its deterministic id
    again is harmless when it exists, and repairs the chain at once instead of at the sweep.
    """
    now = ctx.clock()
    await pull_forward(ctx, record, now)
    if record.poll_job:
        await enqueue_poll(ctx, record.inquiry_id, record.poll_job, 0)


async def _replay(ctx: JobContext, job_id: str, entry_id: str) -> ActionResult:
    """The data of the event an earlier run published (when the stream still holds it)."""
    entries = await ctx.redis.xrange(ctx.settings.results_stream, entry_id, entry_id)
    data: dict[str, object] = {"job_id": job_id}
    if entries:
        _, fields = entries[0]
        data = json.loads(fields["data"])
    return {**data, "entry_id": entry_id, "published": False}


async def _fail(run: ActionRun, error: KnownError, inquiry_id: str | None) -> None:
    await run.context.attempts.clear(run.job_id)
    await run.context.publisher.publish_failure(
        dedupe_id=f"job:{run.job_id}",
        job=run.job,
        job_id=run.job_id,
        error=error,
        now=run.context.clock(),
        inquiry_id=inquiry_id,
        settles_inquiry=False,
    )
    logger.warning("%s job %s failed: %s", run.job, run.job_id, error.message)


async def run_action(
    ctx: dict[str, Any],
    *,
    job: str,
    model: type[ArgsT],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    perform: Callable[[ActionRun, ArgsT], Awaitable[Outcome]],
) -> ActionResult:
    """Run one action job: validate, skip if answered, perform, publish its one event.

    Args:
        ctx: arq's job context.
        job: the job's name (also the first part of its Idempotency-Key).
        model: the arguments' model.
        args, kwargs: the job's arguments as enqueued.
        perform: the action itself; raises `jobs.errors` types on failure.

    Returns:
        The published event's data plus `entry_id` and `published` (False on a re-run).

    Raises:
        JobArgumentsError, PermanentApiError: after publishing `job.failed`; never retried.
        TransientApiError: after publishing `job.failed`, once the failure budget or the
            deadline is spent.
        ActionDeadlineError: after publishing `job.failed`, for a run past the deadline.
        Retry: a transient failure or a rate-limit wait, with budget and time left.
    """
    context = JobContext.from_ctx(ctx)
    run = ActionRun(context, job, str(ctx["job_id"]))
    try:
        parsed = parse_args(model, args, kwargs)
    except JobArgumentsError as exc:
        await _fail(run, exc, None)
        raise
    dedupe_id = f"job:{run.job_id}"
    earlier = await context.publisher.published_entry(dedupe_id)
    if earlier is not None:
        logger.info("%s job %s already answered; nothing to do", job, run.job_id)
        return await _replay(context, run.job_id, earlier)
    # The inquiry the job acts on, if any, is named in its `job.failed`.
    inquiry_id = parsed.inquiry_id if isinstance(parsed, InquiryArgs) else None
    attempts = await context.attempts.begin(run.job_id, context.clock())
    if attempts.past(ACTION_DEADLINE_S, context.clock()):
        late = ActionDeadlineError(f"no answer within {ACTION_DEADLINE_S:g}s of the first run")
        await _fail(run, late, inquiry_id)
        raise late
    try:
        outcome = await perform(run, parsed)
    except PermanentApiError as exc:
        await _fail(run, exc, inquiry_id)
        raise
    except TransientApiError as exc:
        delay = await context.attempts.next_try(
            run.job_id, attempts, exc, ACTION_RETRY, now=context.clock(), rng=context.rng
        )
        if delay is None:
            await _fail(run, exc, inquiry_id)
            raise
        raise Retry(defer=delay) from exc
    await context.attempts.clear(run.job_id)
    if outcome.personal and outcome.inquiry_id is not None:
        await context.store.note_personal_result(outcome.inquiry_id, run.job_id)
    now = context.clock()
    data: dict[str, object] = {
        "event": outcome.event,
        "job": job,
        "job_id": run.job_id,
        **outcome.data,
        "published_at": published_at(now),
    }
    publication = await context.publisher.publish(
        dedupe_id=dedupe_id,
        event=outcome.event,
        inquiry_id=outcome.inquiry_id,
        data=data,
        now=now,
        settles_inquiry=False,
    )
    logger.info("%s job %s: published %s", job, run.job_id, outcome.event)
    return {**data, "entry_id": publication.entry_id, "published": publication.new}


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

    async def action(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> ActionResult:
        return await run_action(
            ctx, job=job, model=model, args=args, kwargs=kwargs, perform=perform
        )

    action.__name__ = action.__qualname__ = job
    action.__doc__ = doc
    return action
