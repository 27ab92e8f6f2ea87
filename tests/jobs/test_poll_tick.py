"""The polling tick on a real Redis, with an in-memory Persona behind `httpx.MockTransport`.

Each tick is called directly with a context whose clock is set to the tick's moment, so "due"
and "later" need no waiting. The lease of a tick lives in Redis's own time; a test that runs
ticks one after another stands for ticks of different moments and lets each take it anew.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from arq import Retry
from arq.jobs import Job

from jobs.context import CTX_KEY, JobContext, persona_client, persona_http
from jobs.contract import CREATE_INQUIRY, FETCH_VERIFICATION, POLL_INQUIRY, json_deserializer
from jobs.documents import TickReport
from jobs.pipeline.fetch_verification import fetch_verification
from jobs.pipeline.poll_tick import FETCH_GRACE_S, enqueue_fetch, poll_tick
from jobs.policy.cadence import WEBHOOK_SILENCE_S, Mode
from jobs.policy.status import NOT_CHECKED
from jobs.state.ledger import InquiryRecord
from jobs.state.redis_typing import resolved
from tests.client.fakes import FakePersona, error_response, inquiry_resource

pytestmark = pytest.mark.redis

#: The tests' moment: two hours after the fake's inquiries were created, before they expire.
NOW = datetime(2025, 12, 8, 12, tzinfo=UTC).timestamp()
SEED = 7


class Persona(FakePersona):
    """The fake, with list calls that can be held until a test lets them answer."""

    def __init__(self) -> None:
        super().__init__()
        self.hold: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def serve(self, request: httpx.Request) -> httpx.Response:
        self.entered.set()
        if self.hold is not None:
            await self.hold.wait()
        return self.handler(request)

    def checked(self) -> list[list[str]]:
        """The inquiry ids of each list call, in order."""
        return [
            request.url.params["filter[inquiry-id]"].split(",")
            for request in self.requests
            if request.url.path.endswith("/inquiries")
        ]


@pytest.fixture
def persona() -> Persona:
    return Persona()


@pytest.fixture
async def context(context: JobContext, persona: Persona) -> AsyncIterator[JobContext]:
    """The shared job context, with the fake Persona and a seeded random source."""
    transport = httpx.MockTransport(persona.serve)
    async with persona_http(context.settings, transport=transport) as http:
        yield dataclasses.replace(
            context,
            persona=persona_client(context.settings, http),
            rng=random.Random(SEED),
            clock=lambda: NOW,
        )


async def _tick(context: JobContext, at: float = NOW) -> TickReport:
    """One tick at `at` that no other tick holds the lease of."""
    await context.redis.delete(context.keys.tick_lease)
    result = await poll_tick(_ctx(context, at))
    assert "skipped" not in result
    return result


def _ctx(context: JobContext, at: float) -> dict[str, Any]:
    return {CTX_KEY: dataclasses.replace(context, clock=lambda: at), "job_id": "persona:tick:1"}


def _report(mode: str = "polling", **counts: int) -> TickReport:
    report: TickReport = {
        "checked": 0,
        "calls": 0,
        "waiting": 0,
        "fetch": 0,
        "deadline": 0,
        "failed": 0,
        "deferred": 0,
        "mode": mode,
    }
    for name, count in counts.items():
        report[name] = count  # type: ignore[literal-required]
    return report


async def _follow(
    context: JobContext,
    persona: Persona,
    inquiry_id: str,
    status: str = "pending",
    *,
    due: float = NOW,
    request_id: str | None = None,
) -> str:
    """A poll request following an inquiry, due at `due`, that Persona has with `status`."""
    request_id = request_id or f"poll-{inquiry_id}"
    await context.ledger.open(request_id, POLL_INQUIRY, NOW - 60)
    outcome = await context.ledger.follow(
        inquiry_id, request_id, reference_id=None, status=NOT_CHECKED, now=NOW - 60, first_due=due
    )
    assert outcome.following
    persona.add_inquiry(inquiry_resource(inquiry_id, status))
    return request_id


async def _due(context: JobContext, inquiry_id: str) -> float | None:
    """An inquiry's next check (unix seconds); None when it is not checked any more."""
    score = await context.redis.zscore(context.keys.due, inquiry_id)
    return None if score is None else score / 1000


async def _record(context: JobContext, inquiry_id: str) -> InquiryRecord:
    record = await context.ledger.inquiry(inquiry_id)
    assert record is not None
    return record


async def _events(context: JobContext) -> list[tuple[str, dict[str, Any]]]:
    entries = await context.redis.xrange(context.settings.results_stream)
    return [(fields["event"], json.loads(fields["data"])) for _, fields in entries]


async def test_due_inquiries_are_checked_a_hundred_per_list_call(
    context: JobContext, persona: Persona
) -> None:
    ids = [f"inq_{index:03d}" for index in range(250)]
    for inquiry_id in ids:
        await _follow(context, persona, inquiry_id)

    result = await _tick(context)

    assert result == _report(checked=250, calls=3, waiting=250)
    calls = persona.checked()
    assert len(calls) == 3
    assert all(len(call) <= 100 for call in calls)
    assert sorted(inquiry_id for call in calls for inquiry_id in call) == ids, "each once"


async def test_an_inquiry_not_yet_due_is_not_checked(context: JobContext, persona: Persona) -> None:
    await _follow(context, persona, "inq_now", due=NOW - 1)
    await _follow(context, persona, "inq_later", due=NOW + 3)

    first = await _tick(context)

    assert first == _report(checked=1, calls=1, waiting=1)
    assert persona.checked() == [["inq_now"]]
    assert await _due(context, "inq_later") == NOW + 3
    assert (await _record(context, "inq_later")).polls == 0

    later = await _tick(context, NOW + 3)

    assert later == _report(checked=1, calls=1, waiting=1)
    assert persona.checked()[1] == ["inq_later"]


async def _queued_fetch(context: JobContext, inquiry_id: str, round_: int) -> dict[str, Any]:
    """The fetch job queued for an inquiry's round: its function and keyword arguments."""
    job_id = context.keys.fetch_job_id(inquiry_id, round_)
    queued = await context.redis.zrange(context.settings.queue_name, 0, -1)
    assert job_id in queued
    job = Job(
        job_id,
        context.queue,
        _queue_name=context.settings.queue_name,
        _deserializer=json_deserializer,
    )
    info = await job.info()
    assert info is not None
    return {"function": info.function, **info.kwargs}


async def test_a_terminal_inquiry_gets_its_fetch_and_a_check_after_the_grace(
    context: JobContext, persona: Persona
) -> None:
    await _follow(context, persona, "inq_1", "completed")

    result = await _tick(context)

    assert result == _report(checked=1, calls=1, fetch=1)
    assert await _queued_fetch(context, "inq_1", 0) == {
        "function": FETCH_VERIFICATION,
        "inquiry_id": "inq_1",
    }
    assert await _due(context, "inq_1") == NOW + FETCH_GRACE_S
    record = await _record(context, "inq_1")
    assert (record.status, record.polls, list(record.followers)) == ("completed", 1, ["poll-inq_1"])
    assert await _events(context) == [], "the fetch publishes the result, not the tick"


async def test_an_inquiry_the_list_does_not_name_is_fetched_on_its_own(
    context: JobContext, persona: Persona
) -> None:
    await _follow(context, persona, "inq_1")
    del persona.inquiries["inq_1"]  # unknown to this environment, say

    result = await _tick(context)

    assert result == _report(checked=1, calls=1, fetch=1)
    assert (await _queued_fetch(context, "inq_1", 0))["inquiry_id"] == "inq_1"
    assert await _due(context, "inq_1") == NOW + FETCH_GRACE_S


async def test_a_waiting_inquiry_is_due_again_by_the_policy(
    context: JobContext, persona: Persona
) -> None:
    await _follow(context, persona, "inq_1", "pending")
    delay = context.policy.next_delay(0, "pending", random.Random(SEED))
    expires = datetime(2025, 12, 9, 10, tzinfo=UTC).timestamp()  # the fake's `expires-at`

    result = await _tick(context)

    assert result == _report(checked=1, calls=1, waiting=1)
    assert await _due(context, "inq_1") == pytest.approx(NOW + delay, abs=0.001)
    record = await _record(context, "inq_1")
    assert (record.status, record.polls, record.updated_at, record.last_error) == (
        "pending",
        1,
        NOW,
        None,
    )
    assert record.deadline == expires + context.settings.poll_deadline_grace_s
    assert await context.redis.zcard(context.settings.queue_name) == 0
    assert await _events(context) == []

    await _tick(context, NOW + delay)

    assert (await _record(context, "inq_1")).polls == 2


async def test_an_inquiry_past_its_deadline_ends_its_followers(
    context: JobContext, persona: Persona
) -> None:
    await _follow(context, persona, "inq_1", request_id="poll-1")
    await context.ledger.open("create-1", CREATE_INQUIRY, NOW - 60, reference_id="person-1")
    await context.ledger.follow(
        "inq_1",
        "create-1",
        reference_id="person-1",
        status=NOT_CHECKED,
        now=NOW - 60,
        first_due=NOW,
        creator=True,
    )
    # Still `pending` an hour (the grace) after it should have expired.
    grace = context.settings.poll_deadline_grace_s
    persona.inquiries["inq_1"]["attributes"]["expires-at"] = datetime.fromtimestamp(
        NOW - grace - 1, tz=UTC
    ).isoformat()

    result = await _tick(context)

    assert result == _report(checked=1, calls=1, deadline=1)
    events = sorted(await _events(context), key=lambda event: event[1]["request_id"])
    assert [(name, data["request_id"], data["reference_id"]) for name, data in events] == [
        ("job.failed", "create-1", "person-1"),
        ("job.failed", "poll-1", None),
    ]
    assert {data["error"]["type"] for _, data in events} == {"PollingDeadlineError"}
    assert {data["inquiry_id"] for _, data in events} == {"inq_1"}
    assert await _due(context, "inq_1") is None
    assert (await _record(context, "inq_1")).done
    assert await context.ledger.open_count() == 0


async def test_a_transient_list_failure_leaves_them_due_later(
    context: JobContext, persona: Persona
) -> None:
    await _follow(context, persona, "inq_1")
    await _follow(context, persona, "inq_2")
    persona.script(error_response(503, "Service Unavailable"))

    result = await _tick(context)

    assert result == _report(checked=2, failed=2)
    assert len(persona.checked()) == 1
    assert await _events(context) == []
    rng = random.Random(SEED)
    later = []
    for inquiry_id in ("inq_1", "inq_2"):
        record = await _record(context, inquiry_id)
        assert (record.status, record.polls, record.last_error) == (NOT_CHECKED, 1, "ServerError")
        due = await _due(context, inquiry_id)
        assert due is not None
        later.append(due)
    delays = sorted(context.policy.next_delay(0, NOT_CHECKED, rng) for _ in range(2))
    assert sorted(later) == pytest.approx([NOW + delay for delay in delays], abs=0.001)

    again = await _tick(context, max(later))

    assert again == _report(checked=2, calls=1, waiting=2)
    assert (await _record(context, "inq_1")).last_error is None


async def test_two_ticks_at_once_check_each_inquiry_once(
    context: JobContext, persona: Persona
) -> None:
    for index in range(3):
        await _follow(context, persona, f"inq_{index}")

    results = await asyncio.gather(*(poll_tick(_ctx(context, NOW)) for _ in range(2)))

    assert sorted(results, key=str) == sorted(
        [{"skipped": "another worker has this tick"}, _report(checked=3, calls=1, waiting=3)],
        key=str,
    )
    assert persona.checked() == [["inq_0", "inq_1", "inq_2"]]


async def test_a_tick_past_the_lease_does_not_check_what_a_running_one_holds(
    context: JobContext, persona: Persona
) -> None:
    for index in range(3):
        await _follow(context, persona, f"inq_{index}")
    persona.hold = asyncio.Event()
    first = asyncio.create_task(poll_tick(_ctx(context, NOW)))
    await persona.entered.wait()

    second = await _tick(context, NOW + 1)  # the first tick outlived its lease
    persona.hold.set()

    assert second == _report()
    assert await first == _report(checked=3, calls=1, waiting=3)
    assert len(persona.checked()) == 1


async def test_an_inquiry_a_dead_tick_claimed_is_due_again_after_the_hold(
    context: JobContext, persona: Persona
) -> None:
    await _follow(context, persona, "inq_1")
    persona.hold = asyncio.Event()
    dying = asyncio.create_task(poll_tick(_ctx(context, NOW)))
    await persona.entered.wait()
    dying.cancel()  # the worker died mid-call: claimed, never recorded
    with pytest.raises(asyncio.CancelledError):
        await dying
    persona.hold = None
    held = await _due(context, "inq_1")
    assert held is not None
    # Held past any tick still running (arq cancels a job at its timeout), not for ever.
    assert NOW + context.settings.job_timeout_s < held <= NOW + context.settings.job_timeout_s + 60

    before = await _tick(context, held - 1)
    after = await _tick(context, held)

    assert before == _report()
    assert after == _report(checked=1, calls=1, waiting=1)
    assert (await _record(context, "inq_1")).polls == 1


async def test_a_vanished_record_is_dropped_from_the_due_set(
    context: JobContext, persona: Persona
) -> None:
    await _follow(context, persona, "inq_gone")
    await _follow(context, persona, "inq_kept")
    await context.redis.delete(context.keys.inquiry("inq_gone"))

    result = await _tick(context)

    assert result == _report(checked=1, calls=1, waiting=1)
    assert persona.checked() == [["inq_kept"]]
    assert await _due(context, "inq_gone") is None
    assert await _due(context, "inq_kept") is not None


# --- the fetch the tick enqueues ------------------------------------------------------------


async def _fetch(context: JobContext, inquiry_id: str, job_try: int) -> Any:
    ctx = {
        CTX_KEY: context,
        "job_id": context.keys.fetch_job_id(inquiry_id, 0),
        "job_try": job_try,
    }
    return await fetch_verification(ctx, inquiry_id=inquiry_id)


async def test_a_fetch_that_reads_at_once_keeps_no_count_of_failures(
    context: JobContext, persona: Persona
) -> None:
    await _follow(context, persona, "inq_done", "approved")

    result = await _fetch(context, "inq_done", job_try=1)

    assert (result["event"], result["answered"]) == ("inquiry.approved", 1)
    job_id = context.keys.fetch_job_id("inq_done", 0)
    assert not await context.redis.exists(context.keys.attempts(job_id))


async def test_a_fetch_counts_failures_from_its_first_and_drops_them_once_it_reads(
    context: JobContext, persona: Persona
) -> None:
    await _follow(context, persona, "inq_done", "approved")
    persona.script(error_response(503, "Service Unavailable"))
    job_id = context.keys.fetch_job_id("inq_done", 0)

    with pytest.raises(Retry):
        await _fetch(context, "inq_done", job_try=1)
    counted = await resolved(context.redis.hgetall(context.keys.attempts(job_id)))
    result = await _fetch(context, "inq_done", job_try=2)

    assert counted["failures"] == "1"
    assert float(counted["first_run_at"]) == NOW
    assert result["answered"] == 1
    assert not await context.redis.exists(context.keys.attempts(job_id))


async def test_a_fetch_is_queued_ahead_of_the_jobs_already_waiting(
    context: JobContext, persona: Persona
) -> None:
    await context.queue.enqueue_job(
        CREATE_INQUIRY,
        reference_id="person-1",
        _job_id="create-early",
        _queue_name=context.settings.queue_name,
    )
    await _follow(context, persona, "inq_1")
    record = await _record(context, "inq_1")

    assert await enqueue_fetch(context, record)

    queued = await context.redis.zrange(context.settings.queue_name, 0, -1)
    assert queued == [context.keys.fetch_job_id("inq_1", 0), "create-early"]


# --- the cadence while signed webhooks flow --------------------------------------------------


async def _created_by_us(
    context: JobContext, persona: Persona, inquiry_id: str, *, changed: datetime | None = None
) -> None:
    """A create request following the `pending` inquiry it made, due now; Persona's copy is
    `pending` too, or `completed` at `changed`."""
    request_id = f"create-{inquiry_id}"
    await context.ledger.open(request_id, CREATE_INQUIRY, NOW - 60)
    outcome = await context.ledger.follow(
        inquiry_id,
        request_id,
        reference_id=None,
        status="pending",
        now=NOW - 60,
        first_due=NOW,
        creator=True,
    )
    assert outcome.following
    resource = inquiry_resource(inquiry_id, "pending" if changed is None else "completed")
    if changed is not None:
        resource["attributes"]["updated-at"] = changed.isoformat()
    persona.add_inquiry(resource)


async def test_while_signed_webhooks_arrive_known_checks_wait_for_the_safety_net(
    context: JobContext, persona: Persona
) -> None:
    await _created_by_us(context, persona, "inq_1")
    await context.flow.webhook_accepted(NOW - 5)

    result = await _tick(context)

    assert result == _report(deferred=1, mode="webhooks")
    assert persona.checked() == []
    assert await _due(context, "inq_1") == NOW - 60 + context.settings.poll_safety_net_s


async def test_an_inquiry_nobody_has_seen_is_checked_at_once_while_webhooks_flow(
    context: JobContext, persona: Persona
) -> None:
    await _follow(context, persona, "inq_1")
    await context.flow.webhook_accepted(NOW - 5)

    result = await _tick(context)

    assert result == _report(checked=1, calls=1, waiting=1, mode="webhooks")


async def test_polling_returns_to_its_cadence_in_the_tick_that_notices_the_gap(
    context: JobContext, persona: Persona, caplog: pytest.LogCaptureFixture
) -> None:
    await _created_by_us(context, persona, "inq_1")
    await context.flow.webhook_accepted(NOW - 5)
    await _tick(context)
    gap_noticed = NOW - 5 + WEBHOOK_SILENCE_S + 1

    with caplog.at_level(logging.INFO, logger="jobs.pipeline.cadence"):
        result = await _tick(context, gap_noticed)

    assert result == _report(checked=1, calls=1, waiting=1, mode="polling")
    state = await context.flow.state()
    assert (state.mode, state.since) == (Mode.POLLING, gap_noticed)
    assert "no signed webhook" in state.reason
    assert [record.message for record in caplog.records if "cadence" in record.message] == [
        "status checks back to the normal cadence (no signed webhook for 121 s); "
        "1 followed inquiries due now"
    ]


async def test_webhooks_that_come_back_put_known_checks_back_on_the_safety_net(
    context: JobContext, persona: Persona
) -> None:
    await _created_by_us(context, persona, "inq_1")
    polled = await _tick(context)
    next_check = await _due(context, "inq_1")
    assert next_check is not None
    await context.flow.webhook_accepted(next_check - 1)

    result = await _tick(context, next_check)

    assert polled == _report(checked=1, calls=1, waiting=1)
    assert result == _report(deferred=1, mode="webhooks")
    assert await _due(context, "inq_1") == NOW + context.settings.poll_safety_net_s


async def test_a_change_no_webhook_announced_puts_the_next_tick_back_to_polling(
    context: JobContext, persona: Persona
) -> None:
    safety_net = context.settings.poll_safety_net_s
    changed = datetime.fromtimestamp(NOW, tz=UTC)
    await _created_by_us(context, persona, "inq_1", changed=changed)
    await context.flow.webhook_accepted(NOW + safety_net - 10)
    checked = await _tick(context, NOW + safety_net)

    result = await _tick(context, NOW + safety_net + 1)

    assert checked == _report(checked=1, calls=1, fetch=1, mode="webhooks")
    assert result["mode"] == "polling"
    state = await context.flow.state()
    assert state.reason == "a status check saw a change no webhook announced"
