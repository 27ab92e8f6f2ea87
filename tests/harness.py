"""The in-process harness of the pipeline and action tests: sandbox, Redis, arq workers.

A real redis-server (the run's, flushed per test), the sandbox served in the test's own event
loop on a free loopback port, and arq workers built from the production settings and run in
that loop. `Harness` is what both test packages drive: `tests/pipeline` adds a producer pool
and a sandbox on a fast clock (`Pipeline`), `tests/actions` a sandbox on a manual clock and a
client for setting scenes (`Actions`).

Nothing here sleeps for synchronisation. `run()` serves the queue until every request is
answered and no job but the cron jobs is queued or running (the polling tick keeps arq's queue
busy for ever, so arq's burst mode cannot tell); `running()` keeps a worker serving while a test
waits for a specific result on the stream (a blocking read), a stored job result, or some other
condition, each under the harness's one generous bound (`wait_s`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pytest
import uvicorn
from arq.worker import Worker
from redis.asyncio import Redis
from starlette.applications import Starlette

from bench.harness import in_process_worker
from bench.waiting import until
from jobs.state import results as stream
from jobs.state.keys import ARQ_JOB_PREFIX, ARQ_RESULT_PREFIX, KeySpace, is_cron_job_id
from jobs.state.ledger import InquiryRecord, Ledger, RequestRecord
from jobs.state.results import ResultEvent
from persona_sandbox import Clock, SandboxConfig, run_sandbox
from persona_sandbox.server import SandboxHandle, bind_socket, uvicorn_config
from settings import Settings
from worker.embedded_worker import stop_embedded

__all__ = [
    "FAST_SETTINGS",
    "Harness",
    "marked",
    "sandbox_and_settings",
    "serve",
    "wire_job",
    "write_job",
]

#: Polling on intervals to match a sandbox whose people take a fraction of a second.
FAST_SETTINGS: Final[Mapping[str, Any]] = {
    "poll_min_interval_s": 0.02,
    "poll_max_interval_s": 0.1,
    "poll_review_interval_s": 0.1,
    "poll_tick_s": 0.02,
    # A test's synthetic webhook can switch the tick to the webhook cadence while the
    # sandbox sends none for the other inquiries: their safety net must stay short too.
    "poll_safety_net_s": 1.0,
    "http_timeout_s": 2.0,
    "job_timeout_s": 10.0,
}
#: How the tests' workers run: polling the queue every 10 ms.
WORKER_OPTIONS: Final[Mapping[str, Any]] = {"burst": False, "poll_delay": 0.01}


def wire_job(function: str, kwargs: Any, args: Sequence[Any] = ()) -> str:
    """A job in the README's JSON wire format, as a producer in any language writes it."""
    now_ms = int(time.time() * 1000)
    return json.dumps({"t": 1, "f": function, "a": list(args), "k": kwargs, "et": now_ms})


async def write_job(
    redis: Redis, queue: str, job_id: str, function: str, kwargs: Any, args: Sequence[Any] = ()
) -> None:
    """Enqueue a job the documented way: `SET arq:job:{id}` (NX) and `ZADD` the queue."""
    now_ms = int(time.time() * 1000)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(ARQ_JOB_PREFIX + job_id, wire_job(function, kwargs, args), px=86_400_000, nx=True)
        pipe.zadd(queue, {job_id: now_ms})
        await pipe.execute()


def marked(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    """The keyword arguments of the test's closest `@pytest.mark.<name>(...)`."""
    marker = request.node.get_closest_marker(name)
    return dict(marker.kwargs) if marker is not None else {}


@contextlib.asynccontextmanager
async def sandbox_and_settings(
    config: SandboxConfig,
    make_settings: Callable[..., Settings],
    redis_url: str,
    values: Mapping[str, Any],
    *,
    clock: Clock | None = None,
) -> AsyncIterator[tuple[SandboxHandle, Settings]]:
    """The sandbox on a free loopback port, and fast settings pointing at it and at Redis."""
    async with run_sandbox(config, clock=clock) as sandbox:
        merged = {**FAST_SETTINGS, "persona_api_url": sandbox.url, "redis_url": redis_url}
        yield sandbox, make_settings(**{**merged, **values})


@contextlib.asynccontextmanager
async def serve(app: Starlette) -> AsyncIterator[str]:
    """Serve an ASGI app (with its lifespan) on a free loopback port; yield its root URL."""
    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn_config(app))
    task = asyncio.create_task(server.serve(sockets=[sock]))

    def up() -> bool:
        return bool(server.started) or task.done()

    try:
        await until(up, timeout_s=10, what="the server to start", every_s=0.01)
        if task.done():
            raise RuntimeError("the server stopped during start-up")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class Harness:
    """Settings, the sandbox and our Redis, with workers to run and results to wait for."""

    settings: Settings
    sandbox: SandboxHandle
    redis: Redis
    """A client that decodes answers."""
    wait_s: float = field(default=30.0, kw_only=True)
    """The bound on every run and wait: a test fails instead of hanging."""

    # --- workers ----------------------------------------------------------------------------

    @property
    def keys(self) -> KeySpace:
        """The deployment's keys."""
        return KeySpace(self.settings.key_prefix)

    @property
    def ledger(self) -> Ledger:
        """The request ledger, over the harness's decoding client."""
        return Ledger(
            self.redis,
            self.keys,
            stream=self.settings.results_stream,
            maxlen=self.settings.results_stream_maxlen,
            answered_ttl_s=self.settings.record_ttl_s,
        )

    def worker(self, **overrides: Any) -> Worker:
        """A worker for these settings, built in the running loop."""
        return in_process_worker(self.settings, **{**WORKER_OPTIONS, **overrides})

    async def settled(self, worker: Worker) -> bool:
        """Every request answered, and no job but the crons queued or running."""
        if await self.redis.zcard(self.keys.open_requests):
            return False
        if any(not is_cron_job_id(str(job_id)) for job_id in worker.tasks):
            return False
        queued = await self.redis.zrange(self.settings.queue_name, 0, -1)
        return all(is_cron_job_id(str(job_id)) for job_id in queued)

    async def run(self, timeout_s: float | None = None, **overrides: Any) -> Worker:
        """Serve the queue until every request has its answer (`settled`), then stop."""
        async with self.running(**overrides) as worker:
            await until(
                lambda: self.settled(worker),
                timeout_s=timeout_s or self.wait_s,
                what="every request answered",
                every_s=0.01,
            )
        return worker

    @contextlib.asynccontextmanager
    async def running(self, **overrides: Any) -> AsyncIterator[Worker]:
        """A worker serving the queue in the background for the `async with` body."""
        worker = self.worker(**overrides)
        task = asyncio.create_task(worker.main())
        try:
            yield worker
        finally:
            await stop_embedded(worker, task, self.wait_s)

    async def enqueue(
        self,
        function: str,
        *,
        job_id: str | None = None,
        args: Sequence[Any] = (),
        **kwargs: Any,
    ) -> str:
        """Enqueue a job as raw JSON, exactly as the README's wire format says; its id."""
        job_id = job_id or f"{function}-{uuid.uuid4().hex[:12]}"
        await write_job(self.redis, self.settings.queue_name, job_id, function, kwargs, args)
        return job_id

    # --- outcomes ---------------------------------------------------------------------------

    async def events(self) -> list[ResultEvent]:
        """Every entry on the results stream, oldest first."""
        return await stream.read_range(self.redis, self.settings.results_stream)

    async def events_for(self, job_id: str) -> list[ResultEvent]:
        """The entries answering one request or published by one job."""
        return [event for event in await self.events() if event.answers(job_id)]

    async def wait_for_event(self, matches: Callable[[ResultEvent], bool]) -> ResultEvent:
        """Block on the stream until an entry matches."""
        return await stream.wait_for(
            self.redis, self.settings.results_stream, matches, timeout_s=self.wait_s
        )

    async def wait_for_events(self, count: int) -> None:
        """Block on the stream until it holds `count` entries."""
        await stream.wait_for_length(
            self.redis, self.settings.results_stream, count, timeout_s=self.wait_s
        )

    async def wait_until(self, check: Callable[[], Any], what: str) -> Any:
        """Wait for a condition with no event to block on (sync or async); its value."""
        return await until(check, timeout_s=self.wait_s, what=what, every_s=0.01)

    async def job_result(self, job_id: str) -> dict[str, Any]:
        """arq's stored result of a job (`s` success, `t` tries, `r` result), waiting for it."""
        raw = await self.wait_until(
            lambda: self.redis.get(ARQ_RESULT_PREFIX + job_id), f"the result of {job_id}"
        )
        result: dict[str, Any] = json.loads(raw)
        return result

    async def record(self, inquiry_id: str) -> InquiryRecord | None:
        """Our record of a followed inquiry."""
        return await self.ledger.inquiry(inquiry_id)

    async def request(self, request_id: str) -> RequestRecord | None:
        """The ledger's record of a request."""
        return await self.ledger.request(request_id)

    # --- the sandbox's side -------------------------------------------------------------------

    def counters(self) -> dict[str, Any]:
        """The sandbox's call counters."""
        return self.sandbox.counters_json()

    def calls(self, operation: str) -> int:
        """How many times the sandbox answered one operation (any status)."""
        statuses = self.counters()["operations"].get(operation, {})
        return sum(statuses.values())

    def inquiries_of(self, reference_id: str) -> list[str]:
        """Ids of the sandbox inquiries created for a reference id."""
        return [
            inquiry.id
            for inquiry in self.sandbox.state.order
            if inquiry.reference_id == reference_id
        ]
