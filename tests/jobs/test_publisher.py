from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from jobs.state.publisher import Publisher
from redis.asyncio import Redis

from jobs.documents import FailedEvent
from jobs.errors import AuthenticationError
from jobs.state import keys
from jobs.state.redis_typing import resolved

pytestmark = pytest.mark.redis

#: When the tests publish (2023-11-14T22:13:20Z).
NOW = 1_700_000_000.0


@pytest.fixture
def decoded(decoded_redis: Redis) -> Redis:
    return decoded_redis


@pytest.fixture
def publisher(decoded: Redis) -> Publisher:
    return Publisher(decoded, stream="test:results", maxlen=1000, marker_ttl_s=60)


async def test_publishes_an_entry_with_event_inquiry_and_json_data(
    publisher: Publisher, decoded: Redis
) -> None:
    publication = await publisher.publish(
        dedupe_id="inq_1:0",
        event="inquiry.approved",
        inquiry_id="inq_1",
        data={"status": "ok"},
        now=NOW,
    )
    assert publication.new
    entries = await decoded.xrange("test:results")
    assert entries == [
        (
            publication.entry_id,
            {"event": "inquiry.approved", "inquiry_id": "inq_1", "data": '{"status":"ok"}'},
        )
    ]


async def test_second_publication_of_the_same_outcome_writes_nothing(
    publisher: Publisher, decoded: Redis
) -> None:
    first = await publisher.publish(dedupe_id="d", event="e", inquiry_id="inq_1", data={}, now=NOW)
    second = await publisher.publish(
        dedupe_id="d", event="e", inquiry_id="inq_1", data={"x": 1}, now=NOW
    )
    assert not second.new
    assert second.entry_id == first.entry_id
    assert await decoded.xlen("test:results") == 1


async def test_concurrent_publications_produce_one_entry(
    publisher: Publisher, decoded: Redis
) -> None:
    results = await asyncio.gather(
        *(
            publisher.publish(dedupe_id="same", event="e", inquiry_id="i", data={}, now=NOW)
            for _ in range(50)
        )
    )
    assert sum(result.new for result in results) == 1
    assert await decoded.xlen("test:results") == 1


async def test_publication_marks_the_record_and_leaves_the_inflight_index(
    publisher: Publisher, decoded: Redis
) -> None:
    await resolved(
        decoded.hset(keys.inquiry_key("inq_9"), mapping={"followed_since": "1", "status": "x"})
    )
    await decoded.zadd(keys.INFLIGHT, {"inq_9": 1})
    await publisher.publish(
        dedupe_id="inq_9:0", event="inquiry.declined", inquiry_id="inq_9", data={}, now=NOW
    )
    assert await decoded.zscore(keys.INFLIGHT, "inq_9") is None
    assert await resolved(decoded.hget(keys.inquiry_key("inq_9"), "published")) == "1"
    assert await resolved(decoded.hget(keys.inquiry_key("inq_9"), "published_at")) == repr(NOW)


async def test_publication_records_the_status_its_outcome_reports(
    publisher: Publisher, decoded: Redis
) -> None:
    key = keys.inquiry_key("inq_8")
    await resolved(decoded.hset(key, mapping={"followed_since": "1", "status": "pending"}))
    await publisher.publish(
        dedupe_id="inq_8:0",
        event="inquiry.approved",
        inquiry_id="inq_8",
        data={},
        now=NOW,
        status="approved",
    )
    assert await resolved(decoded.hget(key, "status")) == "approved"


async def test_publication_without_a_status_leaves_the_records_status(
    publisher: Publisher, decoded: Redis
) -> None:
    key = keys.inquiry_key("inq_7")
    await resolved(decoded.hset(key, mapping={"followed_since": "1", "status": "pending"}))
    await publisher.publish(
        dedupe_id="inq_7:0", event="job.failed", inquiry_id="inq_7", data={}, now=NOW
    )
    assert await resolved(decoded.hget(key, "status")) == "pending"


async def test_stream_is_trimmed_approximately(decoded: Redis) -> None:
    small = Publisher(decoded, stream="test:small", maxlen=10, marker_ttl_s=60)
    for index in range(500):
        await small.publish(dedupe_id=f"d{index}", event="e", inquiry_id="", data={}, now=NOW)
    assert await decoded.xlen("test:small") < 200


async def _failure(publisher: Publisher, decoded: Redis, **request: Any) -> dict[str, Any]:
    """Publish `job.failed` for a refused API key; the event's data as the stream holds it."""
    await publisher.publish_failure(
        error=AuthenticationError("Persona refused the API key", status_code=401),
        now=NOW,
        **request,
    )
    ((_, fields),) = await decoded.xrange("test:results")
    assert fields["event"] == "job.failed"
    data: dict[str, Any] = json.loads(fields["data"])
    return data


async def test_failure_event_carries_the_error_description(
    publisher: Publisher, decoded: Redis
) -> None:
    data = await _failure(
        publisher,
        decoded,
        dedupe_id="job:j1",
        job="create_inquiry",
        job_id="j1",
        reference_id="user-1",
    )
    assert data["error"]["type"] == "AuthenticationError"
    assert data["error"]["status_code"] == 401
    assert data["reference_id"] == "user-1"
    assert data["request_id"] == "j1", "a failing job answers its own request by default"
    assert data["published_at"] == "2023-11-14T22:13:20Z"
    assert list(data) == list(FailedEvent.__annotations__), "the type names every key, in order"


async def test_a_failed_status_check_names_the_request_it_answers(
    publisher: Publisher, decoded: Redis
) -> None:
    data = await _failure(
        publisher,
        decoded,
        dedupe_id="inq_1:0",
        job="poll_inquiry",
        job_id="poll:inq_1:4",
        inquiry_id="inq_1",
        request_id="create-42",
    )
    assert (data["request_id"], data["job_id"]) == ("create-42", "poll:inq_1:4")
