"""The deployed shape: `persona-sandbox` and `arq worker.WorkerSettings` as real processes.

A service that is not ours writes a `create_inquiry` job in the documented JSON wire format and
reads its one result from the stream; the processes are ended by their own ids afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bench.processes import ChildProcess
from bench.stack import Stack
from jobs.state.results import read_after
from tests.harness import write_job
from worker.embedded_redis import RedisServer

pytestmark = pytest.mark.slow

STREAM = "persona:results"


@pytest.fixture
async def worker_process(
    stack: Stack, redis_server: RedisServer, redis: Redis
) -> AsyncIterator[ChildProcess]:
    """One arq worker process against a sandbox process; it must stop cleanly afterwards.

    It asks for `redis` so the run's server is flushed before the worker starts: otherwise the
    worker could take up a job an earlier test left on the queue before the flush.
    """
    # The automatic decision a sandbox week after completion (over a quarter of an hour of
    # real time at this time scale, past the test's ceiling): the worker sees `completed`,
    # however long a loaded machine takes to start it and poll.
    sandbox = await stack.start_sandbox(
        "sandbox", "--rate-limit", "0", "--decision-after", str(7 * 86_400), time_scale=600
    )
    settings = stack.settings(redis_server.url, persona_api_url=sandbox.api_url)
    [worker] = await stack.start_workers("worker", settings, 1)
    yield worker
    [code] = await stack.stop([worker])
    assert code == 0, worker.log_tail()


async def test_a_job_written_by_another_service_gets_one_result_from_the_real_processes(
    worker_process: ChildProcess, decoded_redis: Redis
) -> None:
    note = "sandbox-outcome=declined sandbox-after=30"
    await write_job(
        decoded_redis,
        "persona:queue",
        "svc-7",
        "create_inquiry",
        {"reference_id": "user-7", "note": note},
    )

    # Bounded only to catch a hang: a loaded machine may take long to start the worker.
    answer = await read_after(decoded_redis, STREAM, count=10, block_ms=60_000)
    assert answer, "no result within 60 s"
    [event] = answer
    assert (event.event, event.data["request_id"], event.data["reference_id"]) == (
        "inquiry.completed",
        "svc-7",
        "user-7",
    )
    assert {item["status"] for item in event.data["verifications"]} == {"passed", "failed"}
    assert worker_process.alive(), "the worker is still running"
    # A short wait for a second (wrong) event: there must be none.
    assert await read_after(decoded_redis, STREAM, event.entry_id, block_ms=500) == []
