"""The request ledger on a real Redis: one answer per request, atomic follows, no lost state."""

from __future__ import annotations

import asyncio
import json

import pytest

from jobs.context import JobContext
from jobs.state.keys import KeySpace
from jobs.state.ledger import FOLLOWING_AUDIT_S, Check, Ledger
from jobs.state.redis_typing import resolved

pytestmark = pytest.mark.redis

NOW = 1_800_000_000.0
#: A result built with a field value, and redaction reaching its inquiry before it is published
#: (its value nulled) or not at all (kept).
REDACTED_OR_NOT = pytest.mark.parametrize(
    ("redacted_after_the_read", "published_fields"),
    [(True, {"name-first": None}), (False, {"name-first": "Jane"})],
)


def _data(request_id: str, n: int = 0) -> dict[str, object]:
    return {"event": "case.status-set", "request_id": request_id, "n": n}


async def _stream(context: JobContext) -> list[dict[str, str]]:
    return [fields for _, fields in await context.redis.xrange(context.settings.results_stream)]


async def test_concurrent_answers_to_one_request_produce_one_entry(context: JobContext) -> None:
    ledger = context.ledger
    await ledger.open("req-1", "set_case_status", NOW)

    answers = await asyncio.gather(
        *(
            ledger.answer("req-1", event="case.status-set", data=_data("req-1", n))
            for n in range(20)
        )
    )

    assert len(await _stream(context)) == 1
    assert sum(answer.new for answer in answers) == 1
    assert len({answer.entry_id for answer in answers}) == 1


async def test_an_open_request_never_expires_and_an_answered_one_does(context: JobContext) -> None:
    ledger = context.ledger
    await ledger.open("req-1", "create_inquiry", NOW, reference_id="person-1")
    key = context.keys.request("req-1")
    assert await context.redis.ttl(key) == -1
    assert await context.redis.zscore(context.keys.open_requests, "req-1") is not None

    await ledger.answer("req-1", event="job.failed", data=_data("req-1"))

    assert 0 < await context.redis.ttl(key) <= context.settings.record_ttl_s
    assert await context.redis.zscore(context.keys.open_requests, "req-1") is None
    record = await ledger.request("req-1")
    assert record is not None
    assert record.answered
    assert record.reference_id is None, "the answered record keeps no reference id"


async def test_reopening_an_answered_request_keeps_its_answer(context: JobContext) -> None:
    ledger = context.ledger
    await ledger.open("req-1", "create_inquiry", NOW)
    first = await ledger.answer("req-1", event="job.failed", data=_data("req-1"))

    again = await ledger.open("req-1", "create_inquiry", NOW + 60)

    assert again.entry == first.entry_id
    assert await context.redis.zscore(context.keys.open_requests, "req-1") is None


async def test_follow_binds_the_request_and_schedules_the_inquiry_in_one_step(
    context: JobContext,
) -> None:
    ledger = context.ledger
    await ledger.open("req-1", "create_inquiry", NOW, reference_id="person-1")

    outcome = await ledger.follow(
        "inq_1", "req-1", reference_id="person-1", status="created", now=NOW, first_due=NOW + 5
    )

    assert (outcome.following, outcome.first) == (True, True)
    record = await ledger.inquiry("inq_1")
    request = await ledger.request("req-1")
    assert record is not None
    assert request is not None
    assert record.followers == {"req-1": "person-1"}
    assert request.inquiry_id == "inq_1"
    assert await context.redis.zscore(context.keys.due, "inq_1") == (NOW + 5) * 1000
    assert await context.redis.ttl(context.keys.inquiry("inq_1")) == -1
    # A following request is looked at by the sweep only rarely.
    audit = await context.redis.zscore(context.keys.open_requests, "req-1")
    assert audit == pytest.approx((NOW + FOLLOWING_AUDIT_S) * 1000)


async def test_an_answered_request_cannot_start_following(context: JobContext) -> None:
    ledger = context.ledger
    await ledger.open("req-1", "poll_inquiry", NOW)
    await ledger.answer("req-1", event="job.failed", data=_data("req-1"))

    outcome = await ledger.follow(
        "inq_1", "req-1", reference_id=None, status="unknown", now=NOW, first_due=NOW
    )

    assert not outcome.following
    assert await ledger.inquiry("inq_1") is None
    assert await context.redis.zcard(context.keys.due) == 0


async def test_only_one_create_request_may_claim_an_inquiry(context: JobContext) -> None:
    ledger = context.ledger
    for request_id in ("create-a", "create-b"):
        await ledger.open(request_id, "create_inquiry", NOW)

    first = await ledger.follow(
        "inq_1",
        "create-a",
        reference_id="a",
        status="created",
        now=NOW,
        first_due=NOW,
        creator=True,
    )
    second = await ledger.follow(
        "inq_1",
        "create-b",
        reference_id="b",
        status="created",
        now=NOW,
        first_due=NOW,
        creator=True,
    )

    assert first.following
    assert not second.following
    assert second.claimed_by_other
    record = await ledger.inquiry("inq_1")
    assert record is not None
    assert list(record.followers) == ["create-a"]


async def _follower(ledger: Ledger, inquiry_id: str, request_id: str) -> None:
    await ledger.open(request_id, "poll_inquiry", NOW)
    await ledger.follow(
        inquiry_id, request_id, reference_id=None, status="pending", now=NOW, first_due=NOW
    )


async def test_answering_the_followers_answers_each_once_and_stops_following(
    context: JobContext,
) -> None:
    ledger = context.ledger
    for request_id in ("req-a", "req-b"):
        await _follower(ledger, "inq_1", request_id)
    record = await ledger.inquiry("inq_1")
    assert record is not None
    data = {request_id: _data(request_id) for request_id in record.followers}

    answered = await asyncio.gather(
        *(
            ledger.answer_followers(
                record, event="inquiry.approved", status="approved", data_for=data, now=NOW
            )
            for _ in range(5)
        )
    )

    assert sum(answered) == 2
    assert len(await _stream(context)) == 2
    settled = await ledger.inquiry("inq_1")
    assert settled is not None
    assert (settled.done, settled.followers, settled.status) == (True, {}, "approved")
    assert await context.redis.zscore(context.keys.due, "inq_1") is None
    assert await context.redis.ttl(context.keys.inquiry("inq_1")) > 0
    assert await ledger.open_count() == 0


async def test_a_request_that_follows_after_the_read_keeps_the_inquiry_followed(
    context: JobContext,
) -> None:
    ledger = context.ledger
    await _follower(ledger, "inq_1", "req-a")
    record = await ledger.inquiry("inq_1")
    assert record is not None
    await _follower(ledger, "inq_1", "req-late")

    await ledger.answer_followers(
        record,
        event="inquiry.approved",
        status="approved",
        data_for={"req-a": _data("req-a")},
        now=NOW,
    )

    still = await ledger.inquiry("inq_1")
    assert still is not None
    assert (still.done, list(still.followers)) == (False, ["req-late"])
    assert await context.redis.zscore(context.keys.due, "inq_1") is not None
    assert still.round == 1, "the next fetch runs under a job id of its own"


async def test_a_request_following_a_settled_inquiry_follows_it_again(context: JobContext) -> None:
    ledger = context.ledger
    await _follower(ledger, "inq_1", "req-a")
    record = await ledger.inquiry("inq_1")
    assert record is not None
    await ledger.answer_followers(
        record, event="inquiry.approved", status="approved", data_for={"req-a": {}}, now=NOW
    )

    await _follower(ledger, "inq_1", "req-b")

    again = await ledger.inquiry("inq_1")
    assert again is not None
    assert (again.done, list(again.followers)) == (False, ["req-b"])
    assert await context.redis.ttl(context.keys.inquiry("inq_1")) == -1
    assert await context.redis.zscore(context.keys.due, "inq_1") == NOW * 1000


async def test_a_failure_leaves_a_following_request_to_its_inquiry(context: JobContext) -> None:
    ledger = context.ledger
    await _follower(ledger, "inq_1", "req-a")

    answer = await ledger.answer(
        "req-a", event="job.failed", data=_data("req-a"), unless_following=True
    )

    assert answer.entry_id is None
    assert not answer.new
    assert await _stream(context) == []
    record = await ledger.inquiry("inq_1")
    assert record is not None
    assert list(record.followers) == ["req-a"]


async def test_a_follower_answered_on_its_own_stops_following(context: JobContext) -> None:
    ledger = context.ledger
    await _follower(ledger, "inq_1", "req-a")

    await ledger.answer("req-a", event="job.failed", data=_data("req-a"))

    record = await ledger.inquiry("inq_1")
    assert record is not None
    assert (record.followers, record.done) == ({}, True)
    assert await context.redis.zscore(context.keys.due, "inq_1") is None


async def test_claimed_inquiries_are_held_until_the_hold_ends(context: JobContext) -> None:
    ledger = context.ledger
    await _follower(ledger, "inq_1", "req-a")

    first = await ledger.claim_due(NOW, limit=10, hold_s=30)
    during = await ledger.claim_due(NOW + 29, limit=10, hold_s=30)
    after = await ledger.claim_due(NOW + 31, limit=10, hold_s=30)

    assert (first, during, after) == (["inq_1"], [], ["inq_1"])


async def test_a_check_of_an_inquiry_nobody_follows_writes_nothing(context: JobContext) -> None:
    recorded = await context.ledger.record_check(
        "inq_gone", status="pending", now=NOW, next_due=NOW + 5, deadline=None
    )

    assert not recorded
    assert not await context.redis.exists(context.keys.inquiry("inq_gone"))
    assert await context.redis.zcard(context.keys.due) == 0


async def test_redaction_blanks_every_reference_id_the_ledger_keeps(context: JobContext) -> None:
    ledger = context.ledger
    await ledger.open("create-1", "create_inquiry", NOW, reference_id="person-1")
    await ledger.follow(
        "inq_1",
        "create-1",
        reference_id="person-1",
        status="created",
        now=NOW,
        first_due=NOW,
        creator=True,
    )

    records, requests = await ledger.forget_references("inq_1")

    assert (records, requests) == (1, 1)
    record = await ledger.inquiry("inq_1")
    request = await ledger.request("create-1")
    assert record is not None
    assert request is not None
    assert record.followers == {"create-1": None}
    assert request.reference_id is None
    raw = await resolved(context.redis.hgetall(context.keys.request("create-1")))
    assert "person-1" not in raw.values()


@REDACTED_OR_NOT
async def test_a_result_read_before_a_redaction_is_published_redacted(
    context: JobContext, redacted_after_the_read: bool, published_fields: dict[str, object]
) -> None:
    ledger = context.ledger
    await _follower(ledger, "inq_1", "req-a")
    record = await ledger.inquiry("inq_1")
    assert record is not None
    read = {"event": "inquiry.approved", "fields": {"name-first": "Jane"}}

    if redacted_after_the_read:
        await ledger.forget_references("inq_1")
    answered = await ledger.answer_followers(
        record, event="inquiry.approved", status="approved", data_for={"req-a": read}, now=NOW
    )

    assert answered == 1
    [entry] = await _stream(context)
    assert json.loads(entry["data"])["fields"] == published_fields


@REDACTED_OR_NOT
async def test_a_single_answer_about_a_redacted_inquiry_is_published_redacted(
    context: JobContext, redacted_after_the_read: bool, published_fields: dict[str, object]
) -> None:
    ledger = context.ledger
    await _follower(ledger, "inq_1", "req-a")
    await ledger.open("report-1", "create_inquiry", NOW)
    # A screening's answer carries the inquiry's result, built before the redaction.
    built = {"event": "inquiry.approved", "fields": {"name-first": "Jane"}, "reports": []}

    if redacted_after_the_read:
        await ledger.forget_references("inq_1")
    answer = await ledger.answer(
        "report-1", event="inquiry.approved", data=built, inquiry_id="inq_1"
    )

    assert answer.new
    [entry] = await _stream(context)
    assert json.loads(entry["data"])["fields"] == published_fields


async def test_the_same_request_id_under_two_prefixes_is_two_requests(
    context: JobContext,
) -> None:
    other = Ledger(
        context.redis,
        KeySpace("other:"),
        stream="other:results",
        maxlen=100,
        answered_ttl_s=60,
    )
    await context.ledger.open("req-1", "create_inquiry", NOW)
    await other.open("req-1", "create_inquiry", NOW)
    await other.answer("req-1", event="job.failed", data=_data("req-1"))

    mine = await context.ledger.request("req-1")
    assert mine is not None
    assert not mine.answered
    assert await context.ledger.open_count() == 1
    assert await context.redis.xlen(context.settings.results_stream) == 0


async def test_many_checks_are_stored_together_and_only_where_followed(
    context: JobContext,
) -> None:
    ledger = context.ledger
    await _follower(ledger, "inq_1", "req-a")

    recorded = await ledger.record_checks(
        [
            Check("inq_1", "pending", NOW, NOW + 5, NOW + 900),
            Check("inq_gone", "pending", NOW, NOW + 5, None),
        ]
    )

    assert recorded == [True, False]
    record = await ledger.inquiry("inq_1")
    assert record is not None
    assert (record.status, record.polls, record.deadline) == ("pending", 1, NOW + 900)
    assert await context.redis.zscore(context.keys.due, "inq_1") == (NOW + 5) * 1000
    assert not await context.redis.exists(context.keys.inquiry("inq_gone"))


async def _follow(context: JobContext, inquiry_id: str, request_id: str, status: str) -> None:
    await context.ledger.open(request_id, "poll_inquiry", NOW)
    await context.ledger.follow(
        inquiry_id, request_id, reference_id=None, status=status, now=NOW, first_due=NOW
    )


async def test_status_counts_follow_every_change_of_status_and_of_the_due_set(
    context: JobContext,
) -> None:
    ledger = context.ledger
    await _follow(context, "inq_a", "req-a", "created")
    await _follow(context, "inq_b", "req-b", "created")
    await _follow(context, "inq_b", "req-b2", "created")
    assert await ledger.status_counts() == {"created": 2}

    await ledger.record_checks(
        [Check("inq_a", "pending", NOW, NOW + 5, None), Check("inq_b", "created", NOW, NOW, None)]
    )
    assert await ledger.status_counts() == {"created": 1, "pending": 1}

    await ledger.note_status("inq_a", "completed", NOW)
    assert await ledger.status_counts() == {"created": 1, "completed": 1}

    record = await ledger.inquiry("inq_a")
    assert record is not None
    await ledger.answer_followers(
        record, event="inquiry.approved", status="approved", data_for={"req-a": {}}, now=NOW
    )
    assert await ledger.status_counts() == {"created": 1}

    await ledger.answer("req-b", event="job.failed", data=_data("req-b"))
    assert await ledger.status_counts() == {"created": 1}, "req-b2 still follows inq_b"
    await ledger.drop_due(["inq_b"])
    assert await ledger.status_counts() == {}


async def test_a_settled_inquiry_followed_again_is_counted_again(context: JobContext) -> None:
    ledger = context.ledger
    await _follow(context, "inq_a", "req-a", "created")
    record = await ledger.inquiry("inq_a")
    assert record is not None
    await ledger.answer_followers(
        record, event="inquiry.declined", status="declined", data_for={"req-a": {}}, now=NOW
    )
    assert await ledger.status_counts() == {}

    await _follow(context, "inq_a", "req-late", "created")

    assert await ledger.status_counts() == {"declined": 1}


async def test_recount_rebuilds_counts_lost_or_never_written(context: JobContext) -> None:
    ledger = context.ledger
    for n in range(3):
        await _follow(context, f"inq_{n}", f"req-{n}", "pending")
    await ledger.note_status("inq_0", "needs_review", NOW)
    await context.redis.delete(context.keys.status_counts)
    for n in range(3):
        await resolved(context.redis.hdel(context.keys.inquiry(f"inq_{n}"), "c"))

    assert await ledger.recount() == 3

    assert await ledger.status_counts() == {"pending": 2, "needs_review": 1}
    await ledger.note_status("inq_1", "completed", NOW)
    assert await ledger.status_counts() == {"pending": 1, "needs_review": 1, "completed": 1}


async def test_status_counts_cost_one_command_whatever_the_number_followed(
    context: JobContext,
) -> None:
    ledger = context.ledger
    for n in range(200):
        await _follow(context, f"inq_{n}", f"req-{n}", "pending")
    before = await context.redis.info("commandstats")

    counts = await ledger.status_counts()

    after = await context.redis.info("commandstats")
    assert counts == {"pending": 200}
    calls = sum(
        after[name]["calls"] - before.get(name, {"calls": 0})["calls"]
        for name in after
        if name != "cmdstat_info"
    )
    assert calls == 1


async def test_a_deferred_check_moves_only_later_and_only_in_the_same_round(
    context: JobContext,
) -> None:
    ledger = context.ledger
    await _follow(context, "inq_a", "req-a", "pending")
    await _follow(context, "inq_b", "req-b", "pending")

    moved = await ledger.defer_checks(
        [("inq_a", 0, NOW + 600), ("inq_b", 1, NOW + 600), ("inq_a", 0, NOW - 60)]
    )

    assert moved == 1, "inq_b is in round 0, and an earlier time never moves a check"
    assert await context.redis.zscore(context.keys.due, "inq_a") == (NOW + 600) * 1000
    assert await context.redis.zscore(context.keys.due, "inq_b") == NOW * 1000


async def test_catching_up_makes_every_followed_inquiry_due_now(context: JobContext) -> None:
    ledger = context.ledger
    await _follow(context, "inq_a", "req-a", "pending")
    await _follow(context, "inq_b", "req-b", "pending")
    await ledger.defer_checks([("inq_a", 0, NOW + 600), ("inq_b", 0, NOW + 900)])

    assert await ledger.catch_up(NOW + 10) == 2

    assert await ledger.claim_due(NOW + 10, limit=10, hold_s=1) == ["inq_a", "inq_b"]
