"""SIGTERM: running jobs finish (or go back to the queue at once), and nothing is lost.

A deploy or a scale-down SIGTERMs workers in the middle of their work. The worker stops taking
jobs, lets running ones finish within `job_completion_wait`, and cancels what is still running
after it; arq puts a cancelled job back on the queue, due at once, so the next worker runs it
without waiting for the in-progress key to expire (as it must after a SIGKILL).
"""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
from redis.asyncio import Redis

from bench.stack import Stack
from persona_sandbox import FaultSettings, run_sandbox
from tests.chaos.conftest import (
    QUEUE,
    answered,
    enqueue_creates,
    results,
    running_jobs,
    sandbox_config,
    wait_for,
)
from worker.arq_settings import build_worker_settings
from worker.embedded_redis import RedisServer
from worker.run import Supervisor

pytestmark = [pytest.mark.slow, pytest.mark.redis]


async def _all_answered_once(client: Redis, requests: list[str]) -> dict[str, int]:
    events = await results(client)
    return {request: len(answered(events, request)) for request in requests}


@pytest.mark.timeout(120)
async def test_sigterm_mid_run_lets_jobs_finish_and_the_next_worker_loses_nothing(
    stack: Stack, own_redis: RedisServer, own_client: Redis
) -> None:
    async with run_sandbox(sandbox_config(latency_ms=300)) as sandbox:
        settings = stack.settings(own_redis.url, persona_api_url=sandbox.url, worker_max_jobs=10)
        first = stack.spawn_worker(settings)
        requests = await enqueue_creates(own_redis.url, 40, "term", after_s=120)
        await wait_for(lambda: len(sandbox.state.order) >= 8, 30, "creates under way")
        await wait_for(lambda: running_jobs(own_client), 30, "jobs running when the signal arrives")

        signalled = time.monotonic()
        [code] = await stack.stop([first])
        took = time.monotonic() - signalled

        assert code == 0, first.log_tail()
        # JOB_TIMEOUT_S (8 s) is the completion wait; the margin covers a process's shutdown on
        # a loaded machine.
        assert took < 8 + 12, "it stopped within job_completion_wait and a margin"
        assert "shutdown on SIGTERM" in first.output()
        assert await running_jobs(own_client) == [], "no job stranded until its key expires"
        before = await _all_answered_once(own_client, requests)
        assert set(before.values()) <= {0, 1}
        assert 0 in before.values(), "work was left for the next worker"

        second = stack.spawn_worker(settings)

        async def done() -> bool:
            return all((await _all_answered_once(own_client, requests)).values())

        await wait_for(done, 60, "an event for every request")
        assert await _all_answered_once(own_client, requests) == dict.fromkeys(requests, 1)
        assert sorted(str(inquiry.reference_id) for inquiry in sandbox.state.order) == sorted(
            f"term-person-{index}" for index in range(40)
        ), "one inquiry per request"
        assert await stack.stop([second]) == [0]


@pytest.mark.timeout(60)
async def test_jobs_still_running_after_the_grace_go_back_to_the_queue_due_at_once(
    stack: Stack, own_redis: RedisServer, own_client: Redis
) -> None:
    # Every create is carried out and its answer held far past the grace.
    held = sandbox_config(hang_rate=1.0, hang_s=60, operations=frozenset({"create-an-inquiry"}))
    async with run_sandbox(held) as sandbox:
        settings = stack.settings(
            own_redis.url, persona_api_url=sandbox.url, http_timeout_s=30.0, job_timeout_s=40.0
        )
        short_grace = build_worker_settings(settings, job_completion_wait=1, poll_delay=0.05)
        supervisor = Supervisor(settings, worker_settings=short_grace, startup_wait_s=5)
        running = asyncio.create_task(supervisor.run())
        requests = await enqueue_creates(own_redis.url, 3, "grace", after_s=120)
        await wait_for(lambda: len(sandbox.state.order) == 3, 20, "three creates carried out")

        supervisor.stop(signal.SIGTERM)
        assert await asyncio.wait_for(running, 15) == 0

        assert await running_jobs(own_client) == [], "cancelled jobs released their claim"
        queued = dict(await own_client.zrange(QUEUE, 0, -1, withscores=True))
        now_ms = time.time() * 1000
        assert {request for request in requests if queued.get(request, now_ms + 1) <= now_ms} == (
            set(requests)
        ), "each create is back on the queue, due now"

        sandbox.sandbox.faults.configure(FaultSettings())
        sandbox.sandbox.faults.release_all()
        again = Supervisor(settings, worker_settings=build_worker_settings(settings), rng=None)
        rerun = asyncio.create_task(again.run())
        try:

            async def done() -> bool:
                return all((await _all_answered_once(own_client, requests)).values())

            await wait_for(done, 30, "an event for every request")
        finally:
            again.stop()
            assert await asyncio.wait_for(rerun, 30) == 0
        assert await _all_answered_once(own_client, requests) == dict.fromkeys(requests, 1)
        assert len(sandbox.state.order) == 3, "the re-run replayed each create, made none new"
