"""The wrapper around every job: log context in, metrics out, nothing else changed.

`build_worker_settings` passes its arq settings through `instrument_settings`, which wraps the
coroutine of each registered function and cron job. Names, timeouts and try limits stay as
they were, so arq (and producers) see the same job names; the wrapper only

- opens a `jobs.log_context` scope with the job's name, arq's `job_id` and `job_try`, and the
  `inquiry_id` / `reference_id` arguments when the job has them, so every line the job logs
  says which request it belongs to;
- counts the attempt in `persona_worker_jobs_total{job, outcome}` and its wall time in
  `persona_worker_job_duration_seconds{job}`.

Outcomes: `success`; `retry` when the job raised arq's `Retry` (backoff, not a failure);
`cancelled` when the task was cancelled, which is both arq's job timeout and a shutdown (the
task cannot tell them apart; arq's own log line says which); `failed` for anything else.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from typing import Any

from arq import Retry
from arq.cron import CronJob
from arq.typing import WorkerCoroutine
from arq.worker import Function

from jobs import log_context
from jobs.metrics import JOB_OUTCOMES, JobOutcome, metrics, observe_job
from jobs.pipeline.requests import as_worker_coroutine

__all__ = ["instrument", "instrument_settings"]

logger = logging.getLogger(__name__)


def _argument(kwargs: dict[str, Any], name: str) -> str | None:
    value = kwargs.get(name)
    return value if isinstance(value, str) else None


def instrument(name: str, coroutine: WorkerCoroutine) -> WorkerCoroutine:
    """Wrap one job coroutine; `functools.wraps` keeps its name and qualname for arq."""
    for outcome in JOB_OUTCOMES:
        # Start every series at zero, so a rate() over a fresh process has something to read.
        metrics().jobs.labels(name, outcome)

    @functools.wraps(coroutine)
    async def run(ctx: dict[Any, Any], /, *args: Any, **kwargs: Any) -> Any:
        outcome: JobOutcome = "failed"
        started = time.perf_counter()
        with log_context.scope(
            job=name,
            job_id=ctx.get("job_id"),
            job_try=ctx.get("job_try"),
            inquiry_id=_argument(kwargs, "inquiry_id"),
            reference_id=_argument(kwargs, "reference_id"),
        ):
            try:
                result = await coroutine(ctx, *args, **kwargs)
            except Retry:
                outcome = "retry"
                raise
            except asyncio.CancelledError:
                outcome = "cancelled"
                raise
            else:
                outcome = "success"
                return result
            finally:
                elapsed = time.perf_counter() - started
                observe_job(name, outcome, elapsed)
                # arq logs the end of each job too, but outside the job's task: this line is
                # the one that carries every id the job learnt (e.g. the inquiry it created).
                logger.debug("%s %s in %.3fs", name, outcome, elapsed)

    return as_worker_coroutine(run)


def _wrapped(entry: Any) -> Any:
    if isinstance(entry, CronJob):
        # A cron's name carries the deployment's key prefix (`KeySpace.cron_name`); metrics
        # and logs name the job by its function, the same in every deployment.
        name = entry.coroutine.__qualname__
        return dataclasses.replace(entry, coroutine=instrument(name, entry.coroutine))
    if isinstance(entry, Function):
        return dataclasses.replace(entry, coroutine=instrument(entry.name, entry.coroutine))
    if callable(entry):
        # A bare coroutine: arq registers it under its qualname, which wraps() keeps.
        return instrument(entry.__qualname__, entry)
    return entry


def instrument_settings(attributes: dict[str, Any]) -> dict[str, Any]:
    """The arq settings with every function and cron job wrapped (a new dict)."""
    instrumented = dict(attributes)
    for key in ("functions", "cron_jobs"):
        entries = attributes.get(key)
        if entries:
            instrumented[key] = [_wrapped(entry) for entry in entries]
    return instrumented
