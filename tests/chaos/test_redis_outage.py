"""Redis restarts under running workers: no request is lost, and the workers stay up.

arq's worker leaves its loop at the first Redis connection error, and inside a job such an
error is an ordinary exception that arq turns into a failed (and deleted) job. The Procfile's
worker (`python -m worker.run`) restarts its arq worker when Redis comes back, and jobs whose
Redis connection broke run again. Redis runs with AOF (`appendfsync always`) and is SIGKILLed,
so nothing it acknowledged is lost.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis

from jobs.producer import connect, enqueue_create
from persona_sandbox import FaultSettings, SandboxConfig, run_sandbox
from tests.chaos.conftest import (
    QUEUE,
    Workers,
    answered,
    idle,
    results,
    settings_env,
    wait_for,
)
from tests.conftest import TEST_API_KEY
from worker.embedded_redis import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.redis]


def _sandbox(**faults: object) -> SandboxConfig:
    return SandboxConfig(
        api_key=TEST_API_KEY,
        rate_limit_per_minute=0,
        time_scale=600,
        faults=FaultSettings(**faults),  # type: ignore[arg-type]
    )


async def _enqueue(redis_url: str, count: int, prefix: str) -> list[str]:
    pool = await connect(redis_url, queue_name=QUEUE)
    try:
        for index in range(count):
            await enqueue_create(
                pool,
                reference_id=f"{prefix}-person-{index}",
                note="sandbox-outcome=completed sandbox-after=60",
                job_id=f"{prefix}-{index}",
            )
    finally:
        await pool.aclose()
    return [f"{prefix}-{index}" for index in range(count)]


@pytest.mark.timeout(90)
async def test_a_job_whose_redis_connection_breaks_mid_way_runs_again_instead_of_being_dropped(
    own_redis: RedisServer, own_client: Redis, workers: Workers
) -> None:
    # Regression: the create's first Redis command after the restart failed on a stale pooled
    # connection; arq failed the job for it and deleted it, so the request had no event (until
    # the sweep gave up on it five minutes later) and its inquiry was orphaned.
    held = _sandbox(hang_rate=1.0, hang_s=1.5, operations=frozenset({"create-an-inquiry"}))
    async with run_sandbox(held) as sandbox:
        worker = workers.start(settings_env(own_redis.url, sandbox.url))
        [request] = await _enqueue(own_redis.url, 1, "outage")
        # The create is carried out at Persona; its answer is held while Redis restarts.
        await wait_for(lambda: sandbox.state.order, 30, "the create to reach the sandbox")
        own_redis.stop(kill=True)
        own_redis.start()

        async def event_for_request() -> list[dict[str, Any]]:
            return answered(await results(own_client), request)

        [event] = await wait_for(event_for_request, 10, "the request's one event")
        assert event["event"] == "inquiry.completed"
        assert len(sandbox.state.order) == 1, "one inquiry for the request"
        assert worker.poll() is None, workers.log(worker)[-2_000:]
        # Once nothing is queued or running, nothing else can arrive for it.
        await wait_for(lambda: idle(own_client), 30, "the pipeline to go idle")
        assert len(answered(await results(own_client), request)) == 1


@pytest.mark.timeout(120)
async def test_every_request_ends_once_across_a_redis_outage_and_the_worker_stays_up(
    own_redis: RedisServer, own_client: Redis, workers: Workers
) -> None:
    slow = _sandbox(latency_ms=200)
    async with run_sandbox(slow) as sandbox:
        worker = workers.start(settings_env(own_redis.url, sandbox.url))
        requests = await _enqueue(own_redis.url, 30, "many")
        await wait_for(lambda: len(sandbox.state.order) >= 10, 30, "creates under way")
        own_redis.stop(kill=True)
        await asyncio.sleep(2.0)  # the outage itself: two seconds without Redis
        own_redis.start()

        async def all_answered() -> bool:
            events = await results(own_client)
            return all(answered(events, request) for request in requests)

        await wait_for(all_answered, 60, "an event for every request")
        events = await results(own_client)
        assert {request: len(answered(events, request)) for request in requests} == {
            request: 1 for request in requests
        }
        assert {event["event"] for event in events} == {"inquiry.completed"}
        per_reference = [str(inquiry.reference_id) for inquiry in sandbox.state.order]
        assert sorted(per_reference) == sorted(f"many-person-{i}" for i in range(30))
        assert worker.poll() is None, "the worker rode out the outage"
        assert "lost Redis" in workers.log(worker)
    assert Workers.terminate(worker) == 0
