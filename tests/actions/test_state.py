"""The state pieces the actions add: non-settling events, following again, argument models."""

from __future__ import annotations

from typing import Any

import pytest
from jobs.state.publisher import Publisher
from jobs.state.store import InquiryRecord, Store
from redis.asyncio import Redis

from jobs.contract import (
    AccountRelationsArgs,
    DecideInquiryArgs,
    RefreshLinkArgs,
    SetCaseStatusArgs,
    parse_args,
)
from jobs.errors import JobArgumentsError
from jobs.state import keys
from jobs.state.results import read_range

#: When the tests' events are published: after `_follow`, before the refollow.
NOW = 150.0


@pytest.fixture
def store(decoded_redis: Redis) -> Store:
    return Store(decoded_redis, record_ttl_s=600)


@pytest.fixture
def publisher(decoded_redis: Redis) -> Publisher:
    return Publisher(decoded_redis, stream="test:results", maxlen=1000, marker_ttl_s=60)


async def _follow(store: Store, inquiry_id: str = "inq_1") -> None:
    await store.follow(
        inquiry_id,
        request_id="create-1",
        reference_id="person-1",
        status="created",
        now=100.0,
        first_due=105.0,
        poll_job=keys.poll_job_id(inquiry_id, 0),
    )


async def _published(store: Store, publisher: Publisher) -> InquiryRecord:
    """A followed inquiry whose outcome (an expiry) was published: its record."""
    await _follow(store)
    await publisher.publish(
        dedupe_id="inq_1:0", event="inquiry.expired", inquiry_id="inq_1", data={}, now=NOW
    )
    record = await store.get("inq_1")
    assert record is not None
    return record


@pytest.mark.redis
async def test_an_action_event_does_not_settle_the_inquiry(
    store: Store, publisher: Publisher, decoded_redis: Redis
) -> None:
    await _follow(store)

    publication = await publisher.publish(
        dedupe_id="job:decide-1",
        event="inquiry.decision-recorded",
        inquiry_id="inq_1",
        data={},
        now=NOW,
        settles_inquiry=False,
    )

    assert publication.new
    record = await store.get("inq_1")
    assert record is not None
    assert not record.published
    assert await decoded_redis.zscore(keys.INFLIGHT, "inq_1") is not None
    [event] = await read_range(decoded_redis, "test:results")
    assert event.inquiry_id == "inq_1"


@pytest.mark.redis
async def test_a_failure_of_an_action_does_not_settle_the_inquiry(
    store: Store, publisher: Publisher
) -> None:
    await _follow(store)

    await publisher.publish_failure(
        dedupe_id="job:decide-1",
        job="decide_inquiry",
        job_id="decide-1",
        error=JobArgumentsError("decision: bad"),
        now=NOW,
        inquiry_id="inq_1",
        settles_inquiry=False,
    )

    record = await store.get("inq_1")
    assert record is not None
    assert not record.published


@pytest.mark.redis
async def test_refollow_starts_a_new_cycle_with_the_next_hop(
    store: Store, publisher: Publisher, decoded_redis: Redis
) -> None:
    published = await _published(store, publisher)

    poll_job = await store.refollow(published, status="pending", now=200.0, first_due=201.0)

    assert poll_job == keys.poll_job_id("inq_1", 1)
    record = await store.get("inq_1")
    assert record is not None
    assert (record.cycle, record.polls, record.published) == (1, 1, False)
    assert (record.status, record.poll_job, record.event) == ("pending", poll_job, None)
    assert record.deadline is None
    assert record.dedupe_id == "inq_1:1"
    assert record.request_id == "create-1"
    assert await decoded_redis.zscore(keys.INFLIGHT, "inq_1") == 201_000


@pytest.mark.redis
async def test_refollow_happens_once_for_one_published_outcome(
    store: Store, publisher: Publisher
) -> None:
    seen = await _published(store, publisher)

    first = await store.refollow(seen, status="pending", now=200.0, first_due=201.0)
    second = await store.refollow(seen, status="pending", now=200.0, first_due=201.0)

    assert first is not None
    assert second is None
    record = await store.get("inq_1")
    assert record is not None
    assert record.cycle == 1


@pytest.mark.redis
async def test_refollow_leaves_an_unpublished_record_alone(store: Store) -> None:
    await _follow(store)
    record = await store.get("inq_1")
    assert record is not None

    assert await store.refollow(record, status="pending", now=200.0, first_due=201.0) is None


@pytest.mark.parametrize(
    ("model", "kwargs"),
    [
        (DecideInquiryArgs, {"inquiry_id": "inq_1", "decision": "approve", "comment": "ok"}),
        (DecideInquiryArgs, {"inquiry_id": "inq_1", "decision": "mark_for_review"}),
        (RefreshLinkArgs, {"inquiry_id": "inq_1", "expires_in_seconds": 3600}),
        (RefreshLinkArgs, {"inquiry_id": "inq_1"}),
        (SetCaseStatusArgs, {"case_id": "case_1", "status": "Approved"}),
        (AccountRelationsArgs, {"account_id": "act_1", "key": "household"}),
    ],
)
def test_valid_arguments_parse(model: Any, kwargs: dict[str, Any]) -> None:
    assert parse_args(model, (), kwargs).model_dump(exclude_none=True) == kwargs


def test_argument_errors_do_not_echo_values() -> None:
    with pytest.raises(JobArgumentsError) as caught:
        parse_args(DecideInquiryArgs, (), {"inquiry_id": "inq_1", "decision": "Jane Doe"})
    assert "Jane" not in caught.value.message
    assert caught.value.message.startswith("decision:")
