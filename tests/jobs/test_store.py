from __future__ import annotations

import pytest
from jobs.state.store import Store
from redis.asyncio import Redis

from jobs.state import keys
from jobs.state.redis_typing import resolved

pytestmark = pytest.mark.redis


@pytest.fixture
def store(decoded_redis: Redis) -> Store:
    return Store(decoded_redis, record_ttl_s=600)


async def _follow(store: Store, inquiry_id: str = "inq_1", poll_job: str = "poll:inq_1:0") -> bool:
    return await store.follow(
        inquiry_id,
        request_id="job-1",
        reference_id="user-1",
        status="created",
        now=1000.0,
        first_due=1005.0,
        poll_job=poll_job,
    )


async def test_follow_creates_the_record_once(store: Store) -> None:
    assert await _follow(store)
    assert not await _follow(store, poll_job="other")
    record = await store.get("inq_1")
    assert record is not None
    assert record.request_id == "job-1"
    assert record.poll_job == "poll:inq_1:0"
    assert record.next_due == 1005.0
    assert record.dedupe_id == "inq_1:0"


async def test_record_has_a_ttl(store: Store, decoded_redis: Redis) -> None:
    await _follow(store)
    assert 0 < await decoded_redis.ttl(keys.inquiry_key("inq_1")) <= 600


async def test_owner_may_poll(store: Store) -> None:
    await _follow(store)
    assert await store.claim_poll("inq_1", "poll:inq_1:0") == 1


async def test_stale_job_may_not_poll_while_the_owner_job_exists(
    store: Store, decoded_redis: Redis
) -> None:
    await _follow(store, poll_job="poll:inq_1:3")
    await decoded_redis.set(keys.ARQ_JOB_PREFIX + "poll:inq_1:3", "{}")
    assert await store.claim_poll("inq_1", "poll:inq_1:2") == 0


async def test_job_takes_over_when_the_owner_job_is_gone(store: Store) -> None:
    await _follow(store, poll_job="poll:inq_1:3")
    assert await store.claim_poll("inq_1", "producer-job") == 1
    record = await store.get("inq_1")
    assert record is not None
    assert record.poll_job == "producer-job"


async def test_claim_reports_unfollowed_and_published(store: Store, decoded_redis: Redis) -> None:
    assert await store.claim_poll("inq_404", "j") == -1
    await _follow(store)
    await resolved(decoded_redis.hset(keys.inquiry_key("inq_1"), "published", "1"))
    assert await store.claim_poll("inq_1", "poll:inq_1:0") == -2


async def test_record_check_hands_the_chain_to_the_next_job(store: Store) -> None:
    await _follow(store)
    await store.record_check(
        "inq_1",
        status="pending",
        now=1010.0,
        next_due=1020.0,
        deadline=9000.0,
        next_job="poll:inq_1:1",
    )
    record = await store.get("inq_1")
    assert record is not None
    assert (record.status, record.polls, record.poll_job) == ("pending", 1, "poll:inq_1:1")
    assert await store.overdue(1019.0, limit=10) == []
    assert await store.overdue(1021.0, limit=10) == ["inq_1"]


async def test_an_inquiry_is_claimed_by_one_request(store: Store) -> None:
    assert await store.claim_inquiry("inq_7", "job-a")
    assert await store.claim_inquiry("inq_7", "job-a")
    assert not await store.claim_inquiry("inq_7", "job-b")


async def test_create_state_survives_reruns(store: Store) -> None:
    first = await store.begin_create("job-x", 100.0, reference_id="u")
    assert (first.generation, first.outcome_unknown, first.inquiry_id) == (0, False, None)
    await store.note_create_failure("job-x", outcome_unknown=True, new_generation=True, counts=True)
    again = await store.begin_create("job-x", 200.0)
    assert again.first_attempt_at == 100.0
    assert again.generation == 1
    assert again.outcome_unknown
    assert again.failures == 1
    assert again.idempotency_key == "create:job-x:1"


async def test_finished_create_leaves_the_stale_index(store: Store) -> None:
    await store.begin_create("job-y", 100.0)
    assert await store.stale_creates(101.0, limit=5) == ["job-y"]
    await store.finish_create("job-y", "inq_y")
    assert await store.stale_creates(101.0, limit=5) == []
    state = await store.begin_create("job-y", 300.0)
    assert state.inquiry_id == "inq_y"
    assert await store.stale_creates(400.0, limit=5) == []
