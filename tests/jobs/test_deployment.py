"""One `KEY_PREFIX`, one deployment: a second queue or stream under it is refused at start."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from jobs.errors import ConfigError
from jobs.state.deployment import claim_prefix
from jobs.state.keys import KeySpace
from jobs.state.redis_typing import resolved

pytestmark = pytest.mark.redis

KEYS = KeySpace("tenant-a:")


async def test_the_first_process_records_its_queue_and_stream(decoded_redis: Redis) -> None:
    await claim_prefix(decoded_redis, KEYS, queue_name="tenant-a:queue", stream="tenant-a:results")

    recorded = await resolved(decoded_redis.hgetall(KEYS.deployment))
    assert recorded == {"queue": "tenant-a:queue", "stream": "tenant-a:results"}
    assert await decoded_redis.ttl(KEYS.deployment) == -1, "kept for as long as the prefix lives"


async def test_every_process_of_the_same_deployment_starts(decoded_redis: Redis) -> None:
    for _ in range(3):
        await claim_prefix(decoded_redis, KEYS, queue_name="q", stream="s")


@pytest.mark.parametrize(
    ("queue_name", "stream"), [("other-queue", "s"), ("q", "other-stream")], ids=["queue", "stream"]
)
async def test_another_queue_or_stream_under_the_prefix_is_refused(
    decoded_redis: Redis, queue_name: str, stream: str
) -> None:
    await claim_prefix(decoded_redis, KEYS, queue_name="q", stream="s")

    with pytest.raises(ConfigError) as refused:
        await claim_prefix(decoded_redis, KEYS, queue_name=queue_name, stream=stream)

    message = str(refused.value)
    assert "KEY_PREFIX 'tenant-a:' belongs to the deployment whose QUEUE_NAME is 'q'" in message
    assert "give each deployment its own KEY_PREFIX" in message
    assert "delete 'tenant-a:deployment'" in message
    recorded = await resolved(decoded_redis.hgetall(KEYS.deployment))
    assert recorded == {"queue": "q", "stream": "s"}, "the owner's record is unchanged"


async def test_two_prefixes_on_one_redis_are_two_deployments(decoded_redis: Redis) -> None:
    await claim_prefix(decoded_redis, KEYS, queue_name="q", stream="s")

    await claim_prefix(decoded_redis, KeySpace("tenant-b:"), queue_name="q2", stream="s2")
