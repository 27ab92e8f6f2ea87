"""The sweep on a real Redis: what it repairs, what it leaves alone, and that one runs at once.

The sweep is called directly with a context whose clock runs ahead, so "overdue" and "stale"
need no waiting. The context's clock stands still at the test's start: what a test writes and
when its sweep runs are exact offsets of that instant, however long the calls in between take.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Any

import pytest

from jobs.context import CTX_KEY, JobContext
from jobs.documents import SweepReport
from jobs.pipeline.sweep import CREATE_STALE_S, OVERDUE_SLACK_S, sweep
from jobs.state import keys
from jobs.state.redis_typing import resolved


@pytest.fixture
def context(context: JobContext) -> JobContext:
    """The shared job context, its clock standing still at the test's start."""
    started = time.time()
    return dataclasses.replace(context, clock=lambda: started)


def _later(context: JobContext, seconds: float) -> dict[str, Any]:
    """arq's ctx for a sweep that runs `seconds` after the test's start."""
    ahead = dataclasses.replace(context, clock=lambda: context.clock() + seconds)
    return {CTX_KEY: ahead, "job_id": "sweep:1"}


async def _sweep_later(context: JobContext, seconds: float) -> SweepReport:
    """Run the sweep `seconds` after the test's start; no other sweep holds the lock."""
    result = await sweep(_later(context, seconds))
    assert "skipped" not in result
    return result


async def _follow(context: JobContext, inquiry_id: str, *, due_in: float = 5.0) -> str:
    now = context.clock()
    owner = keys.poll_job_id(inquiry_id, 0)
    await context.store.follow(
        inquiry_id,
        request_id=f"create-{inquiry_id}",
        reference_id="person-1",
        status="pending",
        now=now,
        first_due=now + due_in,
        poll_job=owner,
    )
    return owner


async def _queued(context: JobContext) -> list[str]:
    return [str(job) for job in await context.redis.zrange(context.settings.queue_name, 0, -1)]


async def test_a_lost_polling_job_is_enqueued_again_under_its_own_id(context: JobContext) -> None:
    owner = await _follow(context, "inq_1")  # its job was never enqueued: lost

    result = await _sweep_later(context, 5 + OVERDUE_SLACK_S + 1)

    assert result == {"repaired_polls": 1, "closed_creates": 0}
    assert await _queued(context) == [owner]


async def test_a_chain_whose_job_is_queued_is_left_alone(context: JobContext) -> None:
    owner = await _follow(context, "inq_1")
    await context.queue.enqueue_job("poll_inquiry", inquiry_id="inq_1", _job_id=owner)

    result = await _sweep_later(context, 5 + OVERDUE_SLACK_S + 1)

    assert result["repaired_polls"] == 0
    assert await _queued(context) == [owner]


async def test_a_chain_within_its_slack_is_left_alone(context: JobContext) -> None:
    await _follow(context, "inq_1")

    result = await _sweep_later(context, 5 + OVERDUE_SLACK_S - 2)

    assert result["repaired_polls"] == 0
    assert await _queued(context) == []


async def test_a_published_inquiry_leaves_the_inflight_index(context: JobContext) -> None:
    await _follow(context, "inq_1")
    await resolved(context.redis.hset(keys.inquiry_key("inq_1"), "published", "1"))

    await _sweep_later(context, 3_600)

    assert await context.redis.zscore(keys.INFLIGHT, "inq_1") is None
    assert await _queued(context) == []


async def test_a_create_request_whose_job_vanished_ends_in_one_job_failed(
    context: JobContext,
) -> None:
    await context.store.begin_create("create-9", context.clock(), reference_id="person-9")

    first = await _sweep_later(context, CREATE_STALE_S + 1)
    await context.redis.delete(keys.SWEEP_LOCK)
    second = await _sweep_later(context, CREATE_STALE_S + 2)

    assert (first["closed_creates"], second["closed_creates"]) == (1, 0)
    [(_, fields)] = await context.redis.xrange(context.settings.results_stream)
    data = json.loads(fields["data"])
    assert (fields["event"], data["request_id"], data["reference_id"]) == (
        "job.failed",
        "create-9",
        "person-9",
    )
    assert data["error"]["type"] == "CreateRequestLostError"


async def test_a_create_request_whose_job_still_waits_is_left_alone(context: JobContext) -> None:
    await context.store.begin_create("create-9", context.clock(), reference_id="person-9")
    await context.queue.enqueue_job("create_inquiry", reference_id="person-9", _job_id="create-9")

    result = await _sweep_later(context, CREATE_STALE_S + 1)

    assert result["closed_creates"] == 0
    assert await context.redis.xlen(context.settings.results_stream) == 0


async def test_concurrent_sweeps_do_the_work_once(context: JobContext) -> None:
    for index in range(20):
        await _follow(context, f"inq_{index}")

    results = await asyncio.gather(*(sweep(_later(context, 60)) for _ in range(4)))

    reports = [result for result in results if "skipped" not in result]
    assert len(reports) == 1
    assert reports[0]["repaired_polls"] == 20
    assert len(await _queued(context)) == 20
