"""Redis restarts under running workers: no request is lost, and the workers stay up.

arq's worker leaves its loop at the first Redis connection error, and inside a job such an
error is an ordinary exception that arq turns into a failed (and deleted) job. The Procfile's
worker (`python -m worker.run`) restarts its arq worker when Redis comes back, and jobs whose
Redis connection broke run again. Redis runs with AOF (`appendfsync always`) and is SIGKILLed,
so nothing it acknowledged is lost.
"""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from bench.stack import Stack
from bench.waiting import idle
from jobs.state.results import ResultEvent
from persona_sandbox import run_sandbox
from tests.chaos.conftest import (
    KEYS,
    QUEUE,
    answered,
    enqueue_creates,
    results,
    sandbox_config,
    wait_for,
)
from worker.embedded_redis import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.redis]


@pytest.mark.timeout(90)
async def test_a_job_whose_redis_connection_breaks_mid_way_runs_again_instead_of_being_dropped(
    stack: Stack, own_redis: RedisServer, own_client: Redis
) -> None:
    # Regression: the create's first Redis command after the restart failed on a stale pooled
    # connection; arq failed the job for it and deleted it, so the request had no event (until
    # the sweep gave up on it five minutes later) and its inquiry was orphaned.
    held = sandbox_config(hang_rate=1.0, hang_s=1.5, operations=frozenset({"create-an-inquiry"}))
    async with run_sandbox(held) as sandbox:
        worker = stack.spawn_worker(stack.settings(own_redis.url, persona_api_url=sandbox.url))
        [request] = await enqueue_creates(own_redis.url, 1, "outage", after_s=60)
        # The create is carried out at Persona; its answer is held while Redis restarts.
        await wait_for(lambda: sandbox.state.order, 30, "the create to reach the sandbox")
        own_redis.stop(kill=True)
        own_redis.start()

        async def event_for_request() -> list[ResultEvent]:
            return answered(await results(own_client), request)

        [event] = await wait_for(event_for_request, 60, "the request's one event")
        assert event.event == "inquiry.completed"
        assert len(sandbox.state.order) == 1, "one inquiry for the request"
        assert worker.alive(), worker.log_tail()
        # Once nothing is open, queued or running, nothing else can arrive for it.
        await wait_for(lambda: idle(own_client, QUEUE, keys=KEYS), 30, "the pipeline to go idle")
        assert len(answered(await results(own_client), request)) == 1


@pytest.mark.timeout(120)
async def test_every_request_ends_once_across_a_redis_outage_and_the_worker_stays_up(
    stack: Stack, own_redis: RedisServer, own_client: Redis
) -> None:
    slow = sandbox_config(latency_ms=200)
    async with run_sandbox(slow) as sandbox:
        worker = stack.spawn_worker(stack.settings(own_redis.url, persona_api_url=sandbox.url))
        requests = await enqueue_creates(own_redis.url, 30, "many", after_s=60)
        await wait_for(lambda: len(sandbox.state.order) >= 10, 30, "creates under way")
        own_redis.stop(kill=True)
        await asyncio.sleep(2.0)  # the outage itself: two seconds without Redis
        own_redis.start()

        async def all_answered() -> bool:
            events = await results(own_client)
            return all(answered(events, request) for request in requests)

        await wait_for(all_answered, 60, "an event for every request")
        await wait_for(lambda: idle(own_client, QUEUE, keys=KEYS), 30, "the pipeline to go idle")
        events = await results(own_client)
        assert {request: len(answered(events, request)) for request in requests} == {
            request: 1 for request in requests
        }
        assert {event.event for event in events} == {"inquiry.completed"}
        per_reference = [str(inquiry.reference_id) for inquiry in sandbox.state.order]
        assert sorted(per_reference) == sorted(f"many-person-{i}" for i in range(30))
        assert worker.alive(), "the worker rode out the outage"
        assert "lost Redis" in worker.output()
    assert await stack.stop([worker]) == [0]
