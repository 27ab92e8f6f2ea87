"""Harness for the action jobs: real Redis, the sandbox in-process, arq workers in the test loop.

Jobs are enqueued the way a producer in any language would: `SET arq:job:{id}` to the JSON
wire document and `ZADD` the queue with the enqueue time as score. The sandbox runs on a manual
clock, so an inquiry stays where a test put it (with simulate actions) until a job moves it.

Two ways to run the worker, both with bounded waits and no sleeps standing in for
synchronisation: `run()` is a burst worker that returns once arq's queue is empty (every job
and every follow-up it scheduled has finished); `running()` keeps a worker serving while a
test waits for specific events on the results stream (XREAD BLOCK) or job results, for flows
whose polling only ends when an action ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from arq.worker import Worker
from redis.asyncio import Redis

from jobs.context import persona_client
from jobs.persona.client import PersonaClient
from jobs.persona.models import Inquiry
from jobs.state import keys
from jobs.state.results import ResultEvent as Event
from jobs.state.store import InquiryRecord, Store
from persona_sandbox import ManualClock, SandboxConfig, run_sandbox
from persona_sandbox.server import SandboxHandle
from settings import Settings
from tests.conftest import TEST_API_KEY, TEST_TEMPLATE_ID
from worker.arq_settings import build_worker_settings
from worker.embedded_redis import RedisServer

pytestmark = pytest.mark.redis

#: Longest any run or wait may take before the test fails instead of hanging.
WAIT_S = 20.0


def _event(entry_id: str, fields: dict[str, str]) -> Event:
    return Event(
        entry_id, fields["event"], fields.get("inquiry_id", ""), json.loads(fields["data"])
    )


@dataclass
class Actions:
    """What an action test drives: settings, the sandbox, our Redis, a setup client."""

    settings: Settings
    sandbox: SandboxHandle
    clock: ManualClock
    redis: Redis
    persona: PersonaClient
    """A client for setting the scene at the sandbox (its calls count like any other)."""

    # --- enqueueing in the wire format ----------------------------------------------------

    async def enqueue(
        self,
        function: str,
        *,
        job_id: str | None = None,
        args: list[Any] | None = None,
        **kwargs: Any,
    ) -> str:
        """Enqueue a job as raw JSON, exactly as the README's wire format says; its id."""
        job_id = job_id or f"{function}-{uuid.uuid4().hex[:12]}"
        now_ms = int(time.time() * 1000)
        document = {"t": 1, "f": function, "a": args or [], "k": kwargs, "et": now_ms}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.ARQ_JOB_PREFIX + job_id, json.dumps(document), px=86_400_000, nx=True)
            pipe.zadd(self.settings.queue_name, {job_id: now_ms})
            await pipe.execute()
        return job_id

    async def assert_refused_once(
        self, function: str, kwargs: dict[str, Any], args: list[Any] | None = None
    ) -> None:
        """Bad arguments, enqueued twice under one id: one `job.failed`, one try, no call."""
        job_id = await self.enqueue(function, args=args, **kwargs)
        await self.run()
        await self.enqueue(function, job_id=job_id, args=args, **kwargs)
        await self.run()

        [event] = await self.events_of(job_id)
        assert event.event == "job.failed"
        assert event.data["job"] == function
        assert event.data["error"]["type"] == "JobArgumentsError"
        result = await self.job_result(job_id)
        assert (result["s"], result["t"]) == (False, 1)
        assert self.counters()["requests"] == 0

    # --- running workers --------------------------------------------------------------------

    def worker(self, **overrides: Any) -> Worker:
        """A worker for these settings, built in the running loop."""
        options: dict[str, Any] = {
            "burst": True,
            "handle_signals": False,
            "poll_delay": 0.01,
            "job_completion_wait": 0,
        }
        options.update(overrides)
        worker_settings = build_worker_settings(self.settings, **options)
        return Worker(**{k: v for k, v in vars(worker_settings).items() if not k.startswith("_")})

    async def run(self) -> Worker:
        """Run a burst worker until arq's queue is empty."""
        worker = self.worker()
        try:
            await asyncio.wait_for(worker.main(), WAIT_S)
        finally:
            await worker.close()
        return worker

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Worker]:
        """A worker serving the queue in the background for the `async with` body."""
        worker = self.worker(burst=False)
        task = asyncio.create_task(worker.main())
        try:
            yield worker
        finally:
            # Turn the worker into a burst worker whose budget is spent: it starts no more
            # jobs, waits for the ones in flight and returns from main() by itself. Cancelling
            # it instead could cut a Redis call in half, and arq's close() cancels running jobs
            # and then raises before on_shutdown, leaking the worker's connections.
            worker.burst = True
            worker.max_burst_jobs = 0
            try:
                await asyncio.wait_for(task, WAIT_S)
            finally:
                await worker.close()

    # --- reading outcomes -------------------------------------------------------------------

    async def events(self) -> list[Event]:
        """Every entry on the results stream, oldest first."""
        entries = await self.redis.xrange(self.settings.results_stream)
        return [_event(entry_id, fields) for entry_id, fields in entries]

    async def events_of(self, job_id: str) -> list[Event]:
        """The entries a job published (its outcome event or job.failed)."""
        return [event for event in await self.events() if event.data.get("job_id") == job_id]

    async def wait_for_event(self, matches: Callable[[Event], bool]) -> Event:
        """Block on the stream until an entry matches (bounded by `WAIT_S`)."""
        cursor = "0-0"
        deadline = time.monotonic() + WAIT_S
        while (left := deadline - time.monotonic()) > 0:
            answer = await self.redis.xread(
                {self.settings.results_stream: cursor}, block=max(1, int(left * 1000)), count=100
            )
            for _, entries in answer:
                for entry_id, fields in entries:
                    cursor = entry_id
                    event = _event(entry_id, fields)
                    if matches(event):
                        return event
        raise AssertionError("no matching event on the results stream in time")

    async def wait_until(self, check: Callable[[], bool], what: str) -> None:
        """Wait for a condition on in-process state (the sandbox's), bounded by `WAIT_S`."""
        deadline = time.monotonic() + WAIT_S
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.01)

    async def job_result(self, job_id: str) -> dict[str, Any]:
        """arq's stored result of a job (`s` success, `t` tries, `r` result), waiting for it."""
        key = keys.ARQ_RESULT_PREFIX + job_id
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            raw = await self.redis.get(key)
            if raw is not None:
                result: dict[str, Any] = json.loads(raw)
                return result
            await asyncio.sleep(0.01)
        raise AssertionError(f"job {job_id} left no result in time")

    async def retries_pending(self, job_id: str) -> bool:
        """Whether arq still counts tries for the job (it would run it again)."""
        return bool(await self.redis.exists(f"arq:retry:{job_id}"))

    async def record(self, inquiry_id: str) -> InquiryRecord | None:
        """Our record of a followed inquiry."""
        return await Store(self.redis, record_ttl_s=60).get(inquiry_id)

    def counters(self) -> dict[str, Any]:
        """The sandbox's call counters."""
        return self.sandbox.counters_json()

    def calls(self, operation: str) -> int:
        """How many times the sandbox answered one operation (any status)."""
        statuses = self.counters()["operations"].get(operation, {})
        return sum(statuses.values())

    # --- setting the scene at the sandbox ---------------------------------------------------

    async def new_inquiry(self, *, reference_id: str = "person-1", **options: Any) -> Inquiry:
        """Create an inquiry directly at the sandbox (not through our jobs)."""
        document = await self.persona.create_inquiry(
            template_id=TEST_TEMPLATE_ID,
            idempotency_key=uuid.uuid4().hex,
            reference_id=reference_id,
            **options,
        )
        return document.data

    async def simulate(self, inquiry_id: str, *actions: str) -> str:
        """Run sandbox simulate actions in order; the inquiry's status afterwards."""
        document = await self.persona.simulate_actions(
            inquiry_id, [{"type": action} for action in actions], idempotency_key=uuid.uuid4().hex
        )
        return document.data.status

    async def status(self, inquiry_id: str) -> str:
        """The inquiry's status at the sandbox, read without counting a call."""
        return self.sandbox.state.inquiry(inquiry_id).status


@pytest.fixture
def action_overrides() -> dict[str, Any]:
    """Settings a test module changes (override the fixture)."""
    return {}


@pytest.fixture
async def actions(
    redis_server: RedisServer,
    decoded_redis: Redis,
    make_settings: Callable[..., Settings],
    action_overrides: dict[str, Any],
) -> AsyncIterator[Actions]:
    """The sandbox on a free loopback port, our settings pointing at it, a clean Redis."""
    clock = ManualClock(datetime.now(UTC))
    config = SandboxConfig(api_key=TEST_API_KEY, rate_limit_per_minute=0)
    async with run_sandbox(config, clock=clock) as sandbox:
        values: dict[str, Any] = {
            "persona_api_url": sandbox.url,
            "redis_url": redis_server.url,
            "poll_min_interval_s": 0.02,
            "poll_max_interval_s": 0.1,
            "poll_review_interval_s": 0.1,
            "http_timeout_s": 2.0,
            "job_timeout_s": 10.0,
        }
        values.update(action_overrides)
        settings = make_settings(**values)
        async with httpx.AsyncClient(base_url=sandbox.url) as http:
            persona = persona_client(settings, http)
            yield Actions(settings, sandbox, clock, decoded_redis, persona)
