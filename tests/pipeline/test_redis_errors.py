"""A Redis command that fails inside a job makes the job run again, never drops the request.

Regression: arq treats such an error like any other exception, stores a failure and deletes
the job. With Redis back a moment later (a fast restart, a failover) the create request had
no event until the sweep gave up on it, and its inquiry was orphaned. The same held for a
Redis that refuses writes for a while (out of memory, a read-only replica, failing snapshots),
which a real redis-server reproduces here.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jobs.state.ledger import Ledger
from tests.pipeline.conftest import Pipeline
from worker.embedded_redis import RedisServer, free_port
from worker.redis_retry import is_passing


@pytest.mark.parametrize("error", [RedisConnectionError, RedisTimeoutError])
async def test_a_create_whose_redis_command_fails_once_still_ends_in_one_result(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    follow = Ledger.follow
    failures: list[str] = []

    async def flaky_follow(self: Ledger, inquiry_id: str, request_id: str, **kwargs: Any) -> Any:
        # After Persona created the inquiry: the worst moment for the connection to break.
        if not failures:
            failures.append(inquiry_id)
            raise error("Connection closed by server.")
        return await follow(self, inquiry_id, request_id, **kwargs)

    monkeypatch.setattr(Ledger, "follow", flaky_follow)

    await _ends_in_one_result_from_one_inquiry(pipeline)

    assert pipeline.inquiries_of("person-1") == failures, "the inquiry of the failed claim"


async def _ends_in_one_result_from_one_inquiry(pipeline: Pipeline) -> None:
    """Run a create whose follow of its inquiry fails once: one result, one inquiry."""
    job_id = await pipeline.create("person-1", note="sandbox-outcome=completed sandbox-after=30")

    await pipeline.run()

    [result] = await pipeline.events()
    assert (result.event, result.data["request_id"]) == ("inquiry.completed", job_id)
    assert len(pipeline.inquiries_of("person-1")) == 1, "the same, single inquiry"
    assert pipeline.calls("create-an-inquiry") == 2, "the retry replayed the create"


async def _snapshot_failed(admin: Redis) -> None:
    """Wait (bounded) for the background save to end; it must have failed."""
    for _ in range(500):
        info = await admin.info("persistence")
        if not info["rdb_bgsave_in_progress"]:
            assert info["rdb_last_bgsave_status"] == "err"
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the background save did not end")


@contextlib.asynccontextmanager
async def _writes_refused(admin: Redis, server: RedisServer, how: str) -> AsyncIterator[None]:
    """For the body, the real server refuses every write, the way `how` names."""
    if how == "OOM":
        await admin.config_set("maxmemory-policy", "noeviction")
        await admin.config_set("maxmemory", 1)
    elif how == "READONLY":
        await admin.replicaof("127.0.0.1", free_port())
    else:  # MISCONF: a snapshot that fails, with snapshots configured
        await admin.config_set("save", "3600 1")
        shutil.rmtree(server.dir)
        await admin.bgsave()
        await _snapshot_failed(admin)
    try:
        yield
    finally:
        if how == "OOM":
            await admin.config_set("maxmemory", 0)
        elif how == "READONLY":
            await admin.replicaof("NO", "ONE")
        else:
            server.dir.mkdir()
            await admin.config_set("save", "")


@pytest.mark.parametrize("how", ["OOM", "READONLY", "MISCONF"])
async def test_a_create_whose_write_redis_refuses_for_a_while_still_ends_in_one_result(
    pipeline: Pipeline, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    follow = Ledger.follow
    refused: list[str] = []

    async def follow_while_refused(
        self: Ledger, inquiry_id: str, request_id: str, **kwargs: Any
    ) -> Any:
        # After Persona created the inquiry, the server refuses writes; it takes them again
        # before the job's attempt ends (when an operator freed memory, a failover finished).
        if refused:
            return await follow(self, inquiry_id, request_id, **kwargs)
        try:
            async with _writes_refused(pipeline.redis, redis_server, how):
                return await follow(self, inquiry_id, request_id, **kwargs)
        except RedisError as exc:
            refused.append(type(exc).__name__)
            raise

    monkeypatch.setattr(Ledger, "follow", follow_while_refused)

    await _ends_in_one_result_from_one_inquiry(pipeline)

    assert refused, "the real server refused the write"


@pytest.mark.parametrize(
    ("error", "passing"),
    [
        (RedisTimeoutError("Timeout reading from socket"), True),
        (ResponseError("MISCONF Redis is configured to save RDB snapshots, but ..."), True),
        (ResponseError("""Command # 1 (HSET) of pipeline caused error: ("MISCONF x",)"""), True),
        (ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"), False),
        (ResponseError("ERR Error running script: OOM in a name is no refusal"), False),
    ],
    ids=["timeout", "misconf", "misconf-in-pipeline", "wrongtype", "not-at-the-start"],
)
def test_only_errors_that_pass_run_the_job_again(error: RedisError, passing: bool) -> None:
    assert is_passing(error) is passing
