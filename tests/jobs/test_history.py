"""The console's history on a real Redis: counters per minute that expire, a story stream that
stays within its cap, nothing written until a flush, and reads that sum and find what was kept."""

from __future__ import annotations

import time

import pytest
from redis.asyncio import Redis

from jobs.state.history import BUCKET_TTL_S, LAG_BOUNDS_S, History, beat, lag_bucket, minute_of
from jobs.state.history_reads import (
    Bin,
    known_limit,
    quantile,
    read_bins,
    read_steps,
    story_of,
    workers_alive,
)
from jobs.state.keys import KeySpace
from jobs.state.redis_typing import resolved

pytestmark = pytest.mark.redis

KEYS = KeySpace("hist-test:")


def _history(redis: Redis, *, stories: int = 1_000, at: float | None = None) -> History:
    clock = (lambda: at) if at is not None else time.time
    return History(redis, KEYS, stories=stories, clock=clock, flush_after_s=60.0)


async def test_nothing_reaches_redis_before_a_flush(decoded_redis: Redis) -> None:
    history = _history(decoded_redis)
    history.count("ev:inquiry.approved")
    history.step("run", "create_inquiry", request_id="req-1")
    assert await decoded_redis.dbsize() == 0
    await history.close()
    assert await decoded_redis.dbsize() == 2


async def test_a_flush_is_one_round_trip_whatever_was_buffered(decoded_redis: Redis) -> None:
    history = _history(decoded_redis)
    for n in range(500):
        history.count("api:all")
        history.step("api", "retrieve-an-inquiry", inquiry_id=f"inq_{n}", code=200)
    before = (await decoded_redis.info("stats"))["total_commands_processed"]
    await history.flush()
    after = (await decoded_redis.info("stats"))["total_commands_processed"]
    # 500 XADD, one HINCRBY, one EXPIREAT, the INFO itself: one pipeline, no reads.
    assert after - before == 503


async def test_minute_buckets_expire_a_day_and_an_hour_after_their_minute(
    decoded_redis: Redis,
) -> None:
    at = time.time()
    history = _history(decoded_redis, at=at)
    history.count("ev:inquiry.approved")
    await history.flush()
    ttl = await decoded_redis.ttl(KEYS.history_minute(minute_of(at)))
    assert BUCKET_TTL_S - 60 <= ttl <= BUCKET_TTL_S + 60


async def test_counters_of_unbounded_names_fall_into_other(decoded_redis: Redis) -> None:
    at = time.time()
    history = _history(decoded_redis, at=at)
    history.count("err:" + "x" * 200)
    history.count("err:has spaces")
    await history.flush()
    fields = await resolved(decoded_redis.hgetall(KEYS.history_minute(minute_of(at))))
    assert fields == {"err:other": "2"}


async def test_the_story_stream_stays_near_its_cap(decoded_redis: Redis) -> None:
    history = _history(decoded_redis, stories=1_000)
    for n in range(5_000):
        history.step("check", "pending", inquiry_id=f"inq_{n}")
        if n % 1_000 == 999:
            await history.flush()
    length = await decoded_redis.xlen(KEYS.history_stories)
    # XADD MAXLEN ~ trims whole nodes: the stream keeps at most one node (100 entries) more.
    assert 1_000 <= length <= 1_100


async def test_a_step_about_nobody_is_not_kept(decoded_redis: Redis) -> None:
    history = _history(decoded_redis)
    history.step("api", "list-all-inquiries", code=200)
    await history.flush()
    assert await decoded_redis.xlen(KEYS.history_stories) == 0


async def test_a_result_counts_outcome_error_type_and_latency(decoded_redis: Redis) -> None:
    at = time.time()
    history = _history(decoded_redis, at=at)
    history.result("inquiry.approved", 2, lag_s=3.0, inquiry_id="inq_1", request_ids=["a", "c"])
    history.result("job.failed", 1, error_type="ApiTimeoutError", request_ids=["b"])
    await history.flush()
    [bin_] = await read_bins(decoded_redis, KEYS, now=at, minutes=1)
    assert bin_.kind("ev") == {"inquiry.approved": 2, "job.failed": 1}
    assert bin_.kind("err") == {"ApiTimeoutError": 1}
    assert bin_.lag(0.5) == 5.0  # 3 s falls in the bucket up to 5 s


async def test_bins_sum_their_minutes_oldest_first(decoded_redis: Redis) -> None:
    now = time.time()
    history = _history(decoded_redis)
    for minutes_ago in (0, 1, 2, 15):
        history.count("api:all", minutes_ago + 1, at=now - minutes_ago * 60)
    await history.flush()
    bins = await read_bins(decoded_redis, KEYS, now=now, minutes=20, per_bin=10)
    assert [b.counts.get("api:all", 0) for b in bins] == [16, 1 + 2 + 3]
    assert bins[1].per_minute("api:all") == pytest.approx(0.6)


def test_quantiles_read_the_bucket_bounds() -> None:
    buckets = {lag_bucket(0.2): 98, lag_bucket(100.0): 2}
    assert quantile(buckets, 0.5) == 0.5
    assert quantile(buckets, 0.99) == 120.0
    assert quantile({len(LAG_BOUNDS_S): 1}, 0.5) == LAG_BOUNDS_S[-1] * 2
    assert quantile({}, 0.5) is None
    assert Bin(start=0, minutes=1).lag(0.5) is None


async def test_a_story_joins_a_request_to_its_inquiry(decoded_redis: Redis) -> None:
    history = _history(decoded_redis)
    history.step("run", "create_inquiry", request_id="create-1")
    history.step("api", "create-an-inquiry", request_id="create-1", code=201)
    history.step("following", "created", inquiry_id="inq_1", request_id="create-1")
    history.step("check", "completed", inquiry_id="inq_1")
    history.step("check", "pending", inquiry_id="inq_2")
    await history.flush()
    steps = await read_steps(decoded_redis, KEYS)
    for query in ("create-1", "inq_1"):
        found = story_of(steps, ids=[query])
        assert [s.kind for s in found] == ["run", "api", "following", "check"], query
    assert found[1].code == 201


async def test_workers_that_stopped_beating_are_not_counted(decoded_redis: Redis) -> None:
    now = time.time()
    await beat(decoded_redis, KEYS, "host:3", now - 7_200)
    await beat(decoded_redis, KEYS, "host:2", now - 300)
    await beat(decoded_redis, KEYS, "host:1", now)
    assert await workers_alive(decoded_redis, KEYS, now=now) == 1
    assert await decoded_redis.zcard(KEYS.history_workers) == 2  # the oldest was pruned


async def test_the_limit_the_workers_run_with_is_known_after_a_beat(decoded_redis: Redis) -> None:
    assert await known_limit(decoded_redis, KEYS) is None
    await beat(decoded_redis, KEYS, "host:1", time.time(), per_minute=240)
    assert await known_limit(decoded_redis, KEYS) == 240
