"""Harness for the action jobs: real Redis, the sandbox in-process, arq workers in the test loop.

Jobs are enqueued the way a producer in any language would: `SET arq:job:{id}` to the JSON
wire document and `ZADD` the queue with the enqueue time as score. The sandbox runs on a manual
clock, so an inquiry stays where a test put it (with simulate actions) until a job moves it.

The workers and the waits are the shared harness's (`tests.harness`): `run()` serves until
every request has its answer; `running()` keeps a worker serving while a test waits for
specific events on the results stream (a blocking read), job results or the ledger's records,
for flows whose polling only ends when an action ends it. This package adds what setting a
scene takes and the checks every action repeats. A test changes settings with
`@pytest.mark.settings(...)`, a module by overriding `action_overrides`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from jobs.context import persona_client
from jobs.persona.client import PersonaClient
from jobs.persona.models import Inquiry
from jobs.state.ledger import InquiryRecord, RequestRecord
from jobs.state.results import ResultEvent
from persona_sandbox import ManualClock, SandboxConfig
from settings import Settings
from tests.conftest import TEST_API_KEY, TEST_TEMPLATE_ID
from tests.harness import Harness, marked, sandbox_and_settings
from worker.embedded_redis import RedisServer

pytestmark = pytest.mark.redis

#: Longest any run or wait may take before the test fails instead of hanging.
WAIT_S = 60.0
#: Status checks so rare that none runs during a test (but the ones an action asks for).
NO_STATUS_CHECKS = pytest.mark.settings(
    poll_min_interval_s=600.0, poll_max_interval_s=1_200.0, poll_review_interval_s=600.0
)


def refusals(cases: list[tuple[str, dict[str, Any]]]) -> pytest.MarkDecorator:
    """Parametrize a test's `kwargs` with named bad arguments."""
    return pytest.mark.parametrize("kwargs", [pytest.param(k, id=name) for name, k in cases])


@dataclass
class Actions(Harness):
    """What an action test drives: the shared harness, the sandbox's clock, a setup client."""

    clock: ManualClock
    persona: PersonaClient
    """A client for setting the scene at the sandbox (its calls count like any other)."""

    # --- one job and its outcome --------------------------------------------------------------

    async def outcome(self, function: str, **kwargs: Any) -> tuple[str, ResultEvent]:
        """Enqueue one job, run the queue empty; the job's id and its one event."""
        job_id = await self.enqueue(function, **kwargs)
        await self.run()
        [event] = await self.events_for(job_id)
        return job_id, event

    async def assert_failed_once(self, job_id: str, error: str) -> ResultEvent:
        """The job published one `job.failed` with this error type, after one try."""
        [event] = await self.events_for(job_id)
        assert event.event == "job.failed"
        assert event.data["error"]["type"] == error
        result = await self.job_result(job_id)
        assert (result["s"], result["t"]) == (False, 1)
        return event

    async def assert_refused_once(
        self, function: str, kwargs: dict[str, Any], args: list[Any] | None = None
    ) -> None:
        """Bad arguments, enqueued twice under one id: one `job.failed` after one try, which
        the second run returns again; no call."""
        job_id = await self.enqueue(function, args=args or (), **kwargs)
        await self.run()
        event = await self.assert_failed_once(job_id, "JobArgumentsError")
        assert event.data["job"] == function

        await self.enqueue(function, job_id=job_id, args=args or (), **kwargs)
        await self.run()

        assert await self.events_for(job_id) == [event]
        replayed = (await self.job_result(job_id))["r"]
        assert (replayed["event"], replayed["published"]) == ("job.failed", False)
        assert replayed["entry_id"] == event.entry_id
        assert self.counters()["requests"] == 0

    async def assert_rerun_changes_nothing(
        self, function: str, **kwargs: Any
    ) -> tuple[str, ResultEvent]:
        """Run a job, then the same job id again: no call, no new event; its id and event."""
        job_id = await self.enqueue(function, **kwargs)
        await self.run()
        before = self.counters()
        [first] = await self.events()

        await self.enqueue(function, job_id=job_id, **kwargs)
        await self.run()

        assert self.counters() == before
        assert await self.events() == [first]
        return job_id, first

    # --- followed inquiries -----------------------------------------------------------------

    async def followed(self, reference_id: str, **kwargs: Any) -> tuple[str, str]:
        """Enqueue a create request and wait until it follows its inquiry (a worker must be
        serving); the request's id and the inquiry's."""
        create_id = await self.enqueue("create_inquiry", reference_id=reference_id, **kwargs)
        inquiry_id = (await self.job_result(create_id))["r"]["inquiry_id"]
        return create_id, str(inquiry_id)

    async def wait_for_checks(self, inquiry_id: str, count: int = 1) -> InquiryRecord:
        """Wait until the polling tick checked a followed inquiry `count` times; its record."""

        async def checked() -> InquiryRecord | None:
            record = await self.record(inquiry_id)
            return record if record is not None and record.polls >= count else None

        found: InquiryRecord = await self.wait_until(checked, f"{count} check(s) of {inquiry_id}")
        return found

    async def answered(self, request_id: str) -> RequestRecord:
        """The ledger's record of a request, which must exist."""
        request = await self.request(request_id)
        assert request is not None, f"no record of request {request_id}"
        return request

    async def retries_pending(self, job_id: str) -> bool:
        """Whether arq still counts tries for the job (it would run it again)."""
        return bool(await self.redis.exists(f"arq:retry:{job_id}"))

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
def action_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings a test changes (`@pytest.mark.settings(...)`); a module overrides the fixture."""
    return marked(request, "settings")


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
    async with (
        sandbox_and_settings(
            config, make_settings, redis_server.url, action_overrides, clock=clock
        ) as (sandbox, settings),
        httpx.AsyncClient(base_url=sandbox.url) as http,
    ):
        persona = persona_client(settings, http)
        yield Actions(settings, sandbox, decoded_redis, clock=clock, persona=persona, wait_s=WAIT_S)
