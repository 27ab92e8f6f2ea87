"""Helpers for Python producers: enqueue jobs with typed, validated arguments.

Other languages write the same two Redis keys themselves (README, "Job wire format"); these
helpers are a convenience, not a requirement. Arguments are validated before anything is
written, so a bad request fails in the producer instead of as a `job.failed` event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from arq.connections import ArqRedis
from arq.jobs import Job

from jobs.contract import (
    CREATE_INQUIRY,
    POLL_INQUIRY,
    RUN_REPORT,
    CreateInquiryArgs,
    InquiryArgs,
    JobArgs,
    RunReportArgs,
    parse_args,
)
from jobs.state.connections import RedisTimeouts, arq_pool

__all__ = ["connect", "enqueue", "enqueue_create", "enqueue_poll", "enqueue_report"]


async def connect(
    redis_url: str, *, queue_name: str, timeouts: RedisTimeouts | None = None
) -> ArqRedis:
    """An arq pool that speaks the worker's JSON wire format on its queue, checked with PING.

    Args:
        redis_url: the Redis to enqueue on.
        queue_name: the worker's `QUEUE_NAME`.
        timeouts: how long Redis may take to answer; by default the settings' defaults.

    Raises:
        redis.exceptions.ConnectionError, redis.exceptions.TimeoutError: Redis did not answer.
    """
    pool = arq_pool(redis_url, timeouts or RedisTimeouts.defaults(), queue_name=queue_name)
    try:
        await pool.ping()
    except BaseException:
        await pool.aclose(close_connection_pool=True)
        raise
    return pool


async def enqueue(
    pool: ArqRedis,
    job: str,
    model: type[JobArgs],
    arguments: Mapping[str, Any],
    *,
    job_id: str | None = None,
) -> Job | None:
    """Validate `arguments` against `model` and enqueue `job`; None if `job_id` is taken.

    Arguments that are None are left out of the job, as if not given.
    """
    parsed = parse_args(model, (), dict(arguments))
    return await pool.enqueue_job(job, _job_id=job_id, **parsed.model_dump(exclude_none=True))


async def enqueue_create(
    pool: ArqRedis,
    *,
    reference_id: str,
    template_id: str | None = None,
    fields: Mapping[str, str | int | float | bool | None] | None = None,
    account_id: str | None = None,
    note: str | None = None,
    tags: Sequence[str] | None = None,
    redirect_uri: str | None = None,
    job_id: str | None = None,
    reports: Sequence[str] | None = None,
) -> Job | None:
    """Ask for one inquiry for `reference_id`; pass `job_id` to make repeated calls one request."""
    arguments: dict[str, Any] = {
        "reference_id": reference_id,
        "template_id": template_id,
        "fields": dict(fields) if fields is not None else None,
        "account_id": account_id,
        "note": note,
        "tags": list(tags) if tags is not None else None,
        "redirect_uri": redirect_uri,
        "reports": list(reports) if reports is not None else None,
    }
    return await enqueue(pool, CREATE_INQUIRY, CreateInquiryArgs, arguments, job_id=job_id)


async def enqueue_poll(pool: ArqRedis, inquiry_id: str, *, job_id: str | None = None) -> Job | None:
    """Ask to follow an inquiry created elsewhere until its result is published."""
    return await enqueue(pool, POLL_INQUIRY, InquiryArgs, {"inquiry_id": inquiry_id}, job_id=job_id)


async def enqueue_report(
    pool: ArqRedis,
    *,
    report_type: str,
    query: Mapping[str, Any],
    reference_id: str | None = None,
    account_id: str | None = None,
    report_template_id: str | None = None,
    job_id: str | None = None,
) -> Job | None:
    """Ask for one report about a person, named by `reference_id` or `account_id`."""
    arguments: dict[str, Any] = {
        "report_type": report_type,
        "query": dict(query),
        "reference_id": reference_id,
        "account_id": account_id,
        "report_template_id": report_template_id,
    }
    return await enqueue(pool, RUN_REPORT, RunReportArgs, arguments, job_id=job_id)
