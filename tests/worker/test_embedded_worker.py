"""Stopping an in-loop arq worker: its running job finishes, nothing new starts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from arq import create_pool, func
from arq.connections import RedisSettings
from arq.worker import Worker

from worker.embedded_redis import RedisServer
from worker.embedded_worker import stop_embedded

pytestmark = pytest.mark.redis

QUEUE = "test:embedded"


async def test_a_stopped_worker_finishes_its_running_job_and_starts_no_other(
    redis_server: RedisServer,
) -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    finished: list[str] = []

    async def job(ctx: dict[str, Any], name: str) -> None:
        started.set()
        await release.wait()
        finished.append(name)

    settings = RedisSettings.from_dsn(redis_server.url)
    pool = await create_pool(settings, default_queue_name=QUEUE)
    worker = Worker(
        functions=[func(job, name="job")],
        redis_settings=settings,
        queue_name=QUEUE,
        handle_signals=False,
        poll_delay=0.01,
        max_jobs=1,
    )
    try:
        await pool.enqueue_job("job", "first", _job_id="first")
        main = asyncio.create_task(worker.main())
        await asyncio.wait_for(started.wait(), 60)  # only catches a hang
        await pool.enqueue_job("job", "second", _job_id="second")

        stopping = asyncio.create_task(stop_embedded(worker, main, 60))
        await asyncio.sleep(0)
        release.set()
        await stopping

        assert finished == ["first"], "the running job finished, the queued one never started"
        assert main.done()
        assert not main.cancelled()
        assert await pool.zscore(QUEUE, "second") is not None
    finally:
        await pool.aclose()
