"""End-to-end harness: a real redis-server, the sandbox in-process, arq workers in the test loop.

The sandbox runs on a fast clock (one sandbox minute in 0.1 real seconds), so a person's whole
inquiry plays out in a fraction of a second, and the worker polls on matching short intervals.
Burst workers stop by themselves once arq's queue is empty, so "run the worker" is also "wait
until every chain has ended": no sleeps stand in for synchronisation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from arq.connections import ArqRedis
from arq.worker import Worker
from redis.asyncio import Redis
from starlette.applications import Starlette

from jobs.producer import connect, enqueue_create
from jobs.state.results import ResultEvent as Event
from persona_sandbox import SandboxConfig, run_sandbox
from persona_sandbox.server import SandboxHandle, bind_socket, uvicorn_config
from settings import Settings
from tests.conftest import TEST_API_KEY
from worker.arq_settings import build_worker_settings
from worker.embedded_redis import RedisServer

#: Sandbox seconds per real second: a 60 s person takes 0.1 s.
TIME_SCALE = 600.0
#: Longest a burst run may take before a test fails instead of hanging.
RUN_TIMEOUT_S = 30.0


@dataclass
class Pipeline:
    """What a pipeline test drives: settings, the sandbox, our Redis and an arq pool."""

    settings: Settings
    sandbox: SandboxHandle
    redis: Redis
    pool: ArqRedis

    def worker(self, **overrides: Any) -> Worker:
        """A burst worker for these settings, built in the running loop."""
        options: dict[str, Any] = {
            "burst": True,
            "handle_signals": False,
            "poll_delay": 0.01,
            "job_completion_wait": 0,
        }
        options.update(overrides)
        worker_settings = build_worker_settings(self.settings, **options)
        return Worker(**{k: v for k, v in vars(worker_settings).items() if not k.startswith("_")})

    async def run(self, timeout_s: float = RUN_TIMEOUT_S, **overrides: Any) -> Worker:
        """Run one burst worker until arq's queue is empty (every chain ended)."""
        worker = self.worker(**overrides)
        try:
            await asyncio.wait_for(worker.main(), timeout_s)
        finally:
            await worker.close()
        return worker

    async def create(self, reference_id: str, note: str | None = None, **options: Any) -> str:
        """Enqueue `create_inquiry` through the producer helper; return its job id."""
        job_id = options.pop("job_id", None) or f"create-{reference_id}"
        await enqueue_create(
            self.pool, reference_id=reference_id, note=note, job_id=job_id, **options
        )
        return str(job_id)

    async def events(self) -> list[Event]:
        """Every entry on the results stream, oldest first."""
        entries = await self.redis.xrange(self.settings.results_stream)
        return [
            Event(
                entry_id=entry_id,
                event=fields["event"],
                inquiry_id=fields.get("inquiry_id", ""),
                data=json.loads(fields["data"]),
            )
            for entry_id, fields in entries
        ]

    async def events_for(self, request_id: str) -> list[Event]:
        """The entries answering one request (a create job id or a poll request)."""
        return [
            event
            for event in await self.events()
            if request_id in (event.data.get("request_id"), event.data.get("job_id"))
        ]

    def inquiries_of(self, reference_id: str) -> list[str]:
        """Ids of the sandbox inquiries created for a reference id."""
        return [
            inquiry.id
            for inquiry in self.sandbox.state.order
            if inquiry.reference_id == reference_id
        ]

    def calls(self, operation: str) -> int:
        """How many times the sandbox answered one operation (any status)."""
        statuses = self.sandbox.counters_json()["operations"].get(operation, {})
        return sum(statuses.values())


def _marked(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    marker = request.node.get_closest_marker(name)
    return dict(marker.kwargs) if marker is not None else {}


@pytest.fixture
def sandbox_config(request: pytest.FixtureRequest) -> SandboxConfig:
    """The test's sandbox: fast defaults, changed per test with `@pytest.mark.sandbox(...)`."""
    values: dict[str, Any] = {
        "api_key": TEST_API_KEY,
        "rate_limit_per_minute": 0,
        "time_scale": TIME_SCALE,
        "decision_after_s": 30.0,
        "review_after_s": 60.0,
    }
    values.update(_marked(request, "sandbox"))
    return SandboxConfig(**values)


@pytest.fixture
def pipeline_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings changed per test (`@pytest.mark.settings(...)`) or per module (override)."""
    return _marked(request, "settings")


@pytest.fixture
async def pipeline(
    redis_server: RedisServer,
    decoded_redis: Redis,
    make_settings: Callable[..., Settings],
    sandbox_config: SandboxConfig,
    pipeline_overrides: dict[str, Any],
) -> AsyncIterator[Pipeline]:
    """The sandbox on a free loopback port, our settings pointing at it, a clean Redis."""
    async with run_sandbox(sandbox_config) as sandbox:
        values: dict[str, Any] = {
            "persona_api_url": sandbox.url,
            "redis_url": redis_server.url,
            "poll_min_interval_s": 0.02,
            "poll_max_interval_s": 0.1,
            "poll_review_interval_s": 0.1,
            "http_timeout_s": 2.0,
            "job_timeout_s": 10.0,
            # The shared limiter has its own tests; here it must not slow the pipeline down.
            "rate_limit_per_minute": 60_000,
            "poll_align_s": 0.05,
        }
        values.update(pipeline_overrides)
        settings = make_settings(**values)
        pool = await connect(redis_server.url, queue_name=settings.queue_name)
        try:
            yield Pipeline(settings=settings, sandbox=sandbox, redis=decoded_redis, pool=pool)
        finally:
            await pool.aclose()


@contextlib.asynccontextmanager
async def serve(app: Starlette) -> AsyncIterator[str]:
    """Serve an ASGI app (with its lifespan) on a free loopback port; yield its root URL."""
    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn_config(app))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    raise RuntimeError("the server stopped during start-up")
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[Worker]:
    """Run a (non-burst) worker in the background; stop it, letting running jobs finish."""
    task = asyncio.create_task(worker.main())
    try:
        yield worker
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
        await worker.close()
