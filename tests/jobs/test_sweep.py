"""The sweep on a real Redis: which open requests it answers, which it leaves open, one at once.

The sweep is called directly with a context whose clock runs ahead, so "lost" needs no waiting.
The context's clock stands still at the test's start: what a test writes and when its sweep
runs are exact offsets of that instant, however long the calls in between take.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from jobs.context import CTX_KEY, JobContext
from jobs.contract import CREATE_INQUIRY, POLL_INQUIRY
from jobs.documents import SweepReport
from jobs.pipeline.sweep import sweep
from jobs.state.keys import ARQ_IN_PROGRESS_PREFIX
from jobs.state.ledger import FOLLOWING_AUDIT_S, OPEN_AUDIT_S, AuditOutcome
from jobs.state.redis_typing import resolved

pytestmark = pytest.mark.redis


@pytest.fixture
def context(context: JobContext) -> JobContext:
    """The shared job context, its clock standing still at the test's start."""
    started = time.time()
    return dataclasses.replace(context, clock=lambda: started)


def _later(context: JobContext, seconds: float) -> dict[str, Any]:
    """arq's ctx for a sweep that runs `seconds` after the test's start."""
    ahead = dataclasses.replace(context, clock=lambda: context.clock() + seconds)
    return {CTX_KEY: ahead, "job_id": "persona:sweep:1"}


async def _sweep_later(context: JobContext, seconds: float) -> SweepReport:
    """Run the sweep `seconds` after the test's start; no other sweep holds the lock."""
    await context.redis.delete(context.keys.sweep_lock)
    result = await sweep(_later(context, seconds))
    assert "skipped" not in result
    return result


async def _open(context: JobContext, request_id: str, job: str = CREATE_INQUIRY) -> None:
    await context.ledger.open(request_id, job, context.clock(), reference_id="person-9")


async def _follow(context: JobContext, request_id: str, inquiry_id: str) -> None:
    """A poll request that follows an inquiry (its job returned, so arq has no key for it)."""
    await _open(context, request_id, POLL_INQUIRY)
    now = context.clock()
    outcome = await context.ledger.follow(
        inquiry_id, request_id, reference_id="person-9", status="pending", now=now, first_due=now
    )
    assert outcome.following


async def _events(context: JobContext) -> list[tuple[str, dict[str, Any]]]:
    entries = await context.redis.xrange(context.settings.results_stream)
    return [(fields["event"], json.loads(fields["data"])) for _, fields in entries]


async def _audit_at(context: JobContext, request_id: str) -> float | None:
    """When the sweep looks at an open request next (unix seconds); None when not open."""
    score = await context.redis.zscore(context.keys.open_requests, request_id)
    return None if score is None else score / 1000


async def _only_lost(context: JobContext, request_id: str) -> dict[str, Any]:
    """The one event: `request_id` lost, answered and out of the open set; its data."""
    [(event, data)] = await _events(context)
    assert (event, data["request_id"], data["job_id"]) == ("job.failed", request_id, request_id)
    assert data["error"]["type"] == "RequestLostError"
    assert await _audit_at(context, request_id) is None
    request = await context.ledger.request(request_id)
    assert request is not None
    assert (request.answered, request.event) == (True, "job.failed")
    return data


async def _left_open(context: JobContext, request_id: str, *, next_look: float) -> None:
    """No event; `request_id` is open, and the sweep looks at it again `next_look` after the
    test's start."""
    assert await _events(context) == []
    assert await _audit_at(context, request_id) == pytest.approx(
        context.clock() + next_look, abs=0.001
    )
    request = await context.ledger.request(request_id)
    assert request is not None
    assert not request.answered


async def test_a_request_whose_job_is_gone_ends_in_one_job_failed(context: JobContext) -> None:
    await _open(context, "create-9")  # its job was never enqueued, or arq lost it

    early = await _sweep_later(context, OPEN_AUDIT_S - 1)
    first = await _sweep_later(context, OPEN_AUDIT_S + 1)
    second = await _sweep_later(context, OPEN_AUDIT_S + 2)

    assert early == {"looked_at": 0, "closed": 0}
    assert first == {"looked_at": 1, "closed": 1}
    assert second == {"looked_at": 0, "closed": 0}
    data = await _only_lost(context, "create-9")
    assert (data["job"], data["reference_id"]) == (CREATE_INQUIRY, "person-9")


async def _enqueued(context: JobContext, request_id: str) -> None:
    job = await context.queue.enqueue_job(
        CREATE_INQUIRY, reference_id="person-9", _job_id=request_id
    )
    assert job is not None


async def _running(context: JobContext, request_id: str) -> None:
    await context.redis.set(ARQ_IN_PROGRESS_PREFIX + request_id, "1")


@pytest.mark.parametrize("alive", [_enqueued, _running], ids=["queued", "in-progress"])
async def test_a_request_whose_job_lives_is_left_open_and_looked_at_later(
    context: JobContext, alive: Callable[[JobContext, str], Awaitable[None]]
) -> None:
    await _open(context, "create-9")
    await alive(context, "create-9")

    result = await _sweep_later(context, OPEN_AUDIT_S + 1)

    assert result == {"looked_at": 1, "closed": 0}
    await _left_open(context, "create-9", next_look=2 * OPEN_AUDIT_S + 1)


async def test_a_request_that_follows_an_inquiry_is_left_open(context: JobContext) -> None:
    await _follow(context, "poll-1", "inq_1")

    soon = await _sweep_later(context, OPEN_AUDIT_S + 1)
    hourly = await _sweep_later(context, FOLLOWING_AUDIT_S + 1)

    assert soon == {"looked_at": 0, "closed": 0}, "the polling tick is its net, not arq"
    assert hourly == {"looked_at": 1, "closed": 0}
    await _left_open(context, "poll-1", next_look=2 * FOLLOWING_AUDIT_S + 1)
    record = await context.ledger.inquiry("inq_1")
    assert record is not None
    assert list(record.followers) == ["poll-1"]


async def test_a_request_whose_inquiry_record_vanished_ends_in_job_failed(
    context: JobContext,
) -> None:
    await _follow(context, "poll-1", "inq_1")
    await context.redis.delete(context.keys.inquiry("inq_1"))

    result = await _sweep_later(context, FOLLOWING_AUDIT_S + 1)

    assert result == {"looked_at": 1, "closed": 1}
    data = await _only_lost(context, "poll-1")
    assert (data["job"], data["inquiry_id"]) == (POLL_INQUIRY, "inq_1")
    assert await context.redis.zscore(context.keys.due, "inq_1") is None, "not checked any more"


async def test_an_answered_request_leaves_the_open_set(context: JobContext) -> None:
    await _open(context, "create-9")
    answer = await context.ledger.answer(
        "create-9", event="inquiry.completed", data={"request_id": "create-9"}
    )
    assert answer.new
    assert await _audit_at(context, "create-9") is None
    # Left behind in the open set all the same (a hand-made state): the sweep drops it.
    await context.redis.zadd(context.keys.open_requests, {"create-9": 0})

    result = await _sweep_later(context, OPEN_AUDIT_S + 1)

    assert result == {"looked_at": 1, "closed": 0}
    assert await _audit_at(context, "create-9") is None
    assert [event for event, _ in await _events(context)] == ["inquiry.completed"]


async def test_concurrent_sweeps_answer_each_request_once(context: JobContext) -> None:
    for index in range(20):
        await _open(context, f"create-{index}")

    results = await asyncio.gather(*(sweep(_later(context, 60)) for _ in range(4)))

    reports = [result for result in results if "skipped" not in result]
    assert reports == [{"looked_at": 20, "closed": 20}], "the lock lets one sweep run"
    events = await _events(context)
    assert sorted(data["request_id"] for _, data in events) == sorted(
        f"create-{index}" for index in range(20)
    )


async def test_two_audits_of_one_request_answer_it_once(context: JobContext) -> None:
    # Past the lock (a sweep that outlived it): the script still answers once.
    await _open(context, "create-9")
    request = await context.ledger.request("create-9")
    assert request is not None
    later = context.clock() + OPEN_AUDIT_S + 1

    outcomes = await asyncio.gather(
        *(context.ledger.audit(request, lost={"n": n}, now=later) for n in range(2))
    )

    assert sorted(outcomes) == [AuditOutcome.ANSWERED_BEFORE, AuditOutcome.ANSWERED_LOST]
    assert len(await _events(context)) == 1


async def test_a_request_whose_record_vanished_is_answered_too(context: JobContext) -> None:
    await _open(context, "create-9")
    await context.redis.delete(context.keys.request("create-9"))

    result = await _sweep_later(context, OPEN_AUDIT_S + 1)

    assert result == {"looked_at": 1, "closed": 1}
    assert (await _only_lost(context, "create-9"))["job"] == "unknown"
    assert await resolved(context.redis.ttl(context.keys.request("create-9"))) > 0
