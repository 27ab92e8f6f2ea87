"""The one reader of the results stream: decoding, ranges, reads after an id, waits."""

from __future__ import annotations

import asyncio
import json

import pytest
from redis.asyncio import Redis

from jobs.contract import POLL_INQUIRY
from jobs.errors import AuthenticationError
from jobs.state.keys import KeySpace
from jobs.state.ledger import Ledger
from jobs.state.results import (
    ResultEvent,
    decode_entry,
    events_about,
    follow,
    read_after,
    read_range,
    wait_for,
    wait_for_length,
)

pytestmark = pytest.mark.redis

STREAM = "test:results"


@pytest.fixture
def ledger(decoded_redis: Redis) -> Ledger:
    return Ledger(decoded_redis, KeySpace("test:"), stream=STREAM, maxlen=10_000, answered_ttl_s=60)


async def _publish(ledger: Ledger, index: int, inquiry_id: str = "inq_1") -> str:
    """Answer request `req-{index}` with an approval; the stream entry's id."""
    answer = await ledger.answer(
        f"req-{index}",
        event="inquiry.approved",
        data={"request_id": f"req-{index}", "n": index},
        inquiry_id=inquiry_id,
    )
    assert answer.new
    assert answer.entry_id is not None
    return answer.entry_id


async def test_what_the_ledger_writes_reads_back_as_one_typed_event(
    ledger: Ledger, redis: Redis
) -> None:
    entry_id = await _publish(ledger, 1)
    # A failure that names its job only (no request id), about no inquiry.
    failure = await ledger.answer(
        "poll-2",
        event="job.failed",
        data={"job": POLL_INQUIRY, "job_id": "poll-2", "error": AuthenticationError("x").to_dict()},
    )
    # Answering a request again writes nothing: it reads back once.
    again = await ledger.answer("req-1", event="inquiry.declined", data={"request_id": "req-1"})

    # A client that does not decode answers gets the same events.
    approved, failed = await read_range(redis, STREAM)

    assert (again.entry_id, again.new) == (entry_id, False)
    assert approved == ResultEvent(
        entry_id, "inquiry.approved", "inq_1", {"request_id": "req-1", "n": 1}
    )
    assert approved.added_ms == int(entry_id.split("-")[0])
    assert (approved.request, approved.answers("req-1")) == ("req-1", True)
    assert (failed.entry_id, failed.event, failed.inquiry_id) == (
        failure.entry_id,
        "job.failed",
        "",
    )
    assert failed.data["error"]["type"] == "AuthenticationError"
    assert failed.answers("poll-2")
    assert failed.request == "poll-2"
    assert json.loads(json.dumps(approved.to_json()))["entry_id"] == entry_id


@pytest.mark.parametrize(
    ("fields", "event", "data"),
    [
        ({"event": "x", "data": "not json"}, "x", {"unreadable": True}),
        ({"event": "x", "data": "[1, 2]"}, "x", {"value": [1, 2]}),
        ({b"data": b'{"a": 1}'}, "", {"a": 1}),
    ],
)
def test_odd_entries_decode_without_raising(
    fields: dict[str | bytes, str | bytes], event: str, data: dict[str, object]
) -> None:
    decoded = decode_entry(b"1-0", fields)
    assert (decoded.entry_id, decoded.event, decoded.inquiry_id, decoded.data) == (
        "1-0",
        event,
        "",
        data,
    )


async def test_a_range_is_read_whole_across_pages_or_bounded(
    ledger: Ledger, decoded_redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("jobs.state.results._PAGE", 3)
    ids = [await _publish(ledger, index) for index in range(7)]

    assert [event.entry_id for event in await read_range(decoded_redis, STREAM)] == ids
    tail = await read_range(decoded_redis, STREAM, start="(" + ids[4])
    assert [event.entry_id for event in tail] == ids[5:]
    assert len(await read_range(decoded_redis, STREAM, count=2)) == 2
    assert await read_range(decoded_redis, "test:nothing") == []


async def test_reading_after_an_id_answers_at_once_or_blocks_for_the_next_entry(
    ledger: Ledger, decoded_redis: Redis
) -> None:
    first = await _publish(ledger, 1)
    assert [event.entry_id for event in await read_after(decoded_redis, STREAM)] == [first]
    assert await read_after(decoded_redis, STREAM, first) == []

    waiting = asyncio.create_task(read_after(decoded_redis, STREAM, first, block_ms=10_000))
    second = await _publish(ledger, 2)

    assert [event.entry_id for event in await asyncio.wait_for(waiting, 10)] == [second]


async def test_follow_stops_at_the_end_unless_told_to_wait(
    ledger: Ledger, decoded_redis: Redis
) -> None:
    ids = [await _publish(ledger, index) for index in range(3)]

    read = [event.entry_id async for event in follow(decoded_redis, STREAM, after=ids[0])]
    assert read == ids[1:]

    async def next_new() -> ResultEvent:
        async for event in follow(decoded_redis, STREAM, after=ids[-1], wait=True, block_ms=50):
            return event
        raise AssertionError("follow ended")

    waiting = asyncio.create_task(next_new())
    later = await _publish(ledger, 3)
    assert (await asyncio.wait_for(waiting, 10)).entry_id == later


async def test_waits_end_on_the_entry_they_wait_for_or_time_out(
    ledger: Ledger, decoded_redis: Redis
) -> None:
    await _publish(ledger, 1)
    matching = asyncio.create_task(
        wait_for(decoded_redis, STREAM, lambda e: e.data["n"] == 3, timeout_s=10)
    )
    counted = asyncio.create_task(wait_for_length(decoded_redis, STREAM, 3, timeout_s=10))
    await _publish(ledger, 2)
    await _publish(ledger, 3)

    assert (await asyncio.wait_for(matching, 10)).data["n"] == 3
    assert await asyncio.wait_for(counted, 10) == 3
    with pytest.raises(TimeoutError, match="3 of 4 results"):
        await wait_for_length(decoded_redis, STREAM, 4, timeout_s=0.2, every_ms=50)
    with pytest.raises(TimeoutError, match="no matching event"):
        await wait_for(decoded_redis, STREAM, lambda e: False, timeout_s=0.2)


async def test_the_events_about_one_inquiry_come_oldest_first_with_progress(
    ledger: Ledger, decoded_redis: Redis
) -> None:
    ids = [await _publish(ledger, i, "inq_a" if i % 3 == 0 else "inq_b") for i in range(7)]
    seen: list[tuple[int, int]] = []

    found = await events_about(
        decoded_redis, STREAM, "inq_a", batch=2, progress=lambda *done: seen.append(done)
    )

    assert [event.entry_id for event in found] == [ids[0], ids[3], ids[6]]
    assert seen == [(2, 7), (4, 7), (6, 7), (7, 7)]
