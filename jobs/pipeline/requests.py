"""Every request job runs inside `request_job`: recorded first, answered once, never dropped.

A request is a job a producer enqueued (`create_inquiry`, `poll_inquiry`, an action), keyed by
its job id in the ledger (`jobs.state.ledger`). The wrapper is the one place that decides how a
request job ends, so no job can forget a case:

- before anything else the request is recorded (`Ledger.open`); a request that already has its
  answer (a producer's late retry of the same job id, a re-run after a crash) does nothing and
  returns the earlier answer;
- the job runs under its own deadline, a little inside `JOB_TIMEOUT_S`: one that runs out of
  time is retried (arq would otherwise cancel it at its timeout and delete it with no answer);
- any exception other than arq's `Retry` answers the request with `job.failed`, whatever its
  type: a `jobs.errors` error as it describes itself, anything else by its type alone (the
  message of a foreign exception may quote personal data). A request that already follows an
  inquiry stays open instead: that inquiry's result answers it.

The arq context is the first positional-only parameter, so a producer's keyword named `ctx`
reaches argument validation (and fails it) instead of breaking the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

from arq import Retry
from arq.typing import WorkerCoroutine
from redis.exceptions import RedisError

from jobs.context import JobContext
from jobs.contract import valid_reference_id
from jobs.documents import failed_event
from jobs.errors import KNOWN_ERRORS, KnownError, WorkerError
from jobs.state.ledger import Answer, RequestRecord
from settings import Settings

__all__ = [
    "DEADLINE_RETRY_S",
    "JobDeadlineError",
    "RequestRun",
    "UnexpectedJobError",
    "as_worker_coroutine",
    "fail_request",
    "job_deadline_s",
    "request_job",
    "within_deadline",
]

logger = logging.getLogger(__name__)

#: Mean pause before a job that ran out of its own time runs again (jittered ±50 %).
DEADLINE_RETRY_S: Final = 2.0
_RNG: Final = random.Random()
_INQUIRY_ID: Final = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")


class UnexpectedJobError(WorkerError):
    """The job failed in a way it does not describe (a bug); the message names the type only."""


class JobDeadlineError(WorkerError):
    """The job ran out of its own time (it is retried; this never reaches an event)."""


def job_deadline_s(job_timeout_s: float) -> float:
    """A job's own deadline: inside arq's timeout, with time left to record a retry."""
    return job_timeout_s - min(5.0, job_timeout_s * 0.2)


@dataclass(frozen=True, slots=True)
class RequestRun:
    """One run of a request job."""

    context: JobContext
    job: str
    request_id: str
    record: RequestRecord
    """The request as the ledger had it when this run started."""


def _inquiry_of(kwargs: Mapping[str, Any]) -> str | None:
    value = kwargs.get("inquiry_id")
    return value if isinstance(value, str) and _INQUIRY_ID.match(value) else None


def _described(exc: BaseException) -> KnownError:
    if isinstance(exc, KNOWN_ERRORS):
        return exc
    return UnexpectedJobError(f"unexpected {type(exc).__name__}")


async def fail_request(
    ctx: JobContext,
    request_id: str,
    job: str,
    error: KnownError,
    *,
    inquiry_id: str | None = None,
    reference_id: str | None = None,
    unless_following: bool = False,
) -> Answer:
    """Answer a request with `job.failed` (unless it has its answer already)."""
    data = failed_event(
        request_id,
        job=job,
        error=error,
        now=ctx.clock(),
        inquiry_id=inquiry_id,
        reference_id=reference_id,
    )
    answer = await ctx.ledger.answer(
        request_id,
        event="job.failed",
        data=data,
        inquiry_id=inquiry_id,
        unless_following=unless_following,
    )
    if answer.new:
        logger.warning("%s request %s failed: %s", job, request_id, error.message)
        ctx.history.result(
            "job.failed",
            1,
            error_type=type(error).__name__,
            inquiry_id=inquiry_id,
            request_ids=[request_id],
        )
    return answer


async def _replay(ctx: JobContext, record: RequestRecord) -> dict[str, Any]:
    """What a request answered before: its event's data, while the stream still holds it."""
    entry_id = record.entry or ""
    entries = await ctx.redis.xrange(ctx.settings.results_stream, entry_id, entry_id)
    data: dict[str, Any] = {"request_id": record.request_id, "event": record.event}
    if entries:
        _, fields = entries[0]
        data = json.loads(fields["data"])
    return {**data, "entry_id": entry_id, "published": False}


Perform = Callable[[RequestRun, tuple[Any, ...], dict[str, Any]], Awaitable[Any]]


@contextlib.asynccontextmanager
async def within_deadline(settings: Settings, job: str, job_id: str) -> AsyncIterator[None]:
    """Run a job's body under its own deadline (`job_deadline_s`); running out is arq's `Retry`.

    Only this deadline becomes a retry: a `TimeoutError` the body raises itself goes on as it
    is (for a request job, it then answers `job.failed` like any other exception).
    """
    deadline = job_deadline_s(settings.job_timeout_s)
    try:
        async with asyncio.timeout(deadline) as scope:
            yield
    except TimeoutError:
        if not scope.expired():
            raise
        defer = DEADLINE_RETRY_S * _RNG.uniform(0.5, 1.5)
        logger.warning(
            "%s job %s ran out of its %.1fs; it runs again in %.1fs", job, job_id, deadline, defer
        )
        raise Retry(defer=defer) from JobDeadlineError(f"no answer within {deadline:g}s")


def as_worker_coroutine(function: Callable[..., Awaitable[Any]]) -> WorkerCoroutine:
    """A job function whose arq context is positional-only, typed as arq's `WorkerCoroutine`.

    arq calls every job as `coroutine(ctx, *args, **kwargs)`, so a positional-only `ctx` is
    what it needs; arq's protocol names the parameter, which the type checker cannot match.
    """
    return cast(WorkerCoroutine, function)


def request_job(job: str, perform: Perform, *, doc: str) -> WorkerCoroutine:
    """The arq function of a request job: `perform` inside the ledger's rules (module doc).

    Args:
        job: the job's name (`jobs.contract`), also the function's name.
        perform: the job's own work, given the run and the arguments as enqueued; it answers
            its request through the ledger when it succeeds, or leaves it following an inquiry.
        doc: what the job does, as its docstring.
    """

    async def run(ctx: dict[str, Any], /, *args: Any, **kwargs: Any) -> Any:
        context = JobContext.from_ctx(ctx)
        request_id = str(ctx["job_id"])
        record = await context.ledger.open(
            request_id,
            job,
            context.clock(),
            reference_id=valid_reference_id(kwargs.get("reference_id")),
        )
        if record.answered:
            logger.info("%s request %s already answered; nothing to do", job, request_id)
            return await _replay(context, record)
        context.history.step("run", job, request_id=request_id)
        try:
            async with within_deadline(context.settings, job, request_id):
                return await perform(RequestRun(context, job, request_id, record), args, kwargs)
        except (Retry, RedisError):
            # A Redis error is retried by `worker.redis_retry` (or fails the job when it is a
            # bug), and answering would need Redis anyway.
            raise
        except Exception as exc:
            await _fail(context, request_id, job, exc, kwargs)
            raise

    run.__name__ = run.__qualname__ = job
    run.__doc__ = doc
    return as_worker_coroutine(run)


async def _fail(
    ctx: JobContext, request_id: str, job: str, exc: BaseException, kwargs: Mapping[str, Any]
) -> None:
    await fail_request(
        ctx,
        request_id,
        job,
        _described(exc),
        inquiry_id=_inquiry_of(kwargs),
        reference_id=valid_reference_id(kwargs.get("reference_id")),
        unless_following=True,
    )
