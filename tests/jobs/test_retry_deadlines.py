"""Waits do not count as failures, and every retrying job still ends by its deadline.

The jobs are called directly, as arq would call them, with a Persona behind `httpx.MockTransport`
that never recovers and a clock the test moves by each `Retry`'s deferral: an hour of retries
takes milliseconds, and nothing sleeps.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from arq import Retry
from pydantic import SecretStr

from jobs.actions.base import ACTION_DEADLINE_S, ACTION_MAX_FAILURES, ActionDeadlineError
from jobs.actions.decide_inquiry import decide_inquiry
from jobs.context import CTX_KEY, JobContext
from jobs.errors import RateLimitedError, ServerError
from jobs.persona.client import PersonaClient
from jobs.pipeline.create_inquiry import CREATE_DEADLINE_S, CreateDeadlineError, create_inquiry
from jobs.state.redis_typing import resolved
from tests.conftest import TEST_API_KEY

pytestmark = pytest.mark.redis

START = 1_700_000_000.0


class Clock:
    """The job context's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def _answer(status: int, title: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"errors": [{"title": title}]}, headers=headers)


def _persona(answer: Callable[[httpx.Request], httpx.Response], calls: list[str]) -> PersonaClient:
    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        if request.method == "GET" and request.url.path.endswith("/inquiries"):
            # The look for an earlier attempt's inquiry finds nothing.
            return httpx.Response(200, json={"data": [], "links": {"prev": None, "next": None}})
        return answer(request)

    http = httpx.AsyncClient(
        base_url="http://persona.test/api/v1", transport=httpx.MockTransport(handle)
    )
    return PersonaClient(http, api_key=SecretStr(TEST_API_KEY))


def _down(request: httpx.Request) -> httpx.Response:
    return _answer(503, "Service unavailable")


def _rate_limited(request: httpx.Request) -> httpx.Response:
    return _answer(429, "Rate limit exceeded", {"RateLimit-Reset": "60"})


@dataclasses.dataclass
class Run:
    """One job driven through its retries the way arq would."""

    context: JobContext
    clock: Clock
    calls: list[str]
    deferrals: list[float] = dataclasses.field(default_factory=list)

    async def until_done(
        self, job: Callable[..., Any], job_id: str, **kwargs: Any
    ) -> BaseException:
        """Re-run the job after each `Retry`, the clock moved on; the error it ended with."""
        for job_try in range(1, 10_000):
            ctx = {CTX_KEY: self.context, "job_id": job_id, "job_try": job_try}
            try:
                await job(ctx, **kwargs)
            except Retry as retry:
                delay_s = (retry.defer_score or 0) / 1000
                self.deferrals.append(delay_s)
                self.clock.now += delay_s
            except Exception as exc:
                return exc
            else:
                raise AssertionError("the job succeeded against a Persona that never answers")
        raise AssertionError("the job never ended")

    async def failures(self) -> list[dict[str, Any]]:
        entries = await self.context.redis.xrange(self.context.settings.results_stream)
        return [json.loads(fields["data"]) for _, fields in entries]


@pytest.fixture
def run_with(context: JobContext) -> Callable[[Callable[[httpx.Request], httpx.Response]], Run]:
    def build(answer: Callable[[httpx.Request], httpx.Response]) -> Run:
        clock, calls = Clock(), list[str]()
        persona = _persona(answer, calls)
        return Run(dataclasses.replace(context, persona=persona, clock=clock), clock, calls)

    return build


#: Each retrying job: its function, a job id, its arguments, its deadline and deadline error.
JOBS: dict[str, tuple[Callable[..., Any], str, dict[str, Any], float, type[Exception]]] = {
    "create": (
        create_inquiry,
        "req-1",
        {"reference_id": "person-1"},
        CREATE_DEADLINE_S,
        CreateDeadlineError,
    ),
    "action": (
        decide_inquiry,
        "decide-1",
        {"inquiry_id": "inq_1", "decision": "approve"},
        ACTION_DEADLINE_S,
        ActionDeadlineError,
    ),
}
#: A Persona that never recovers, and the error the job then ends with.
ANSWERS = {"5xx": (_down, ServerError), "429": (_rate_limited, RateLimitedError)}


@pytest.mark.parametrize("answer_name", list(ANSWERS))
@pytest.mark.parametrize("job_name", list(JOBS))
async def test_a_job_retries_until_its_deadline_or_budget_then_fails_once(
    run_with: Callable[..., Run], job_name: str, answer_name: str
) -> None:
    job, job_id, kwargs, deadline_s, _ = JOBS[job_name]
    answer, error = ANSWERS[answer_name]
    run = run_with(answer)

    ended = await run.until_done(job, job_id, **kwargs)

    assert isinstance(ended, error)
    if (job_name, answer_name) == ("action", "5xx"):
        assert len(run.deferrals) == ACTION_MAX_FAILURES - 1, "its failures end an action"
    else:
        # Waits, and a create's failures, use up no budget: only the deadline ends them.
        assert len(run.deferrals) > 8, "more tries than the old budget of 8"
        deadline = START + deadline_s
        assert deadline - 121 <= run.clock.now < deadline, "tried until close to it, not past"
    if answer_name == "429":
        assert all(60 <= delay_s <= 61 for delay_s in run.deferrals), "each waits one window"
        state = await resolved(run.context.redis.hgetall(run.context.keys.request(job_id)))
        assert "failures" not in state, "a wait is no failure"
    [failed] = await run.failures()
    assert (failed["event"], failed["job_id"]) == ("job.failed", job_id)
    assert failed["error"]["type"] == error.__name__
    assert not await run.context.redis.exists(run.context.keys.attempts(job_id)), "record dropped"


@pytest.mark.parametrize("job_name", list(JOBS))
async def test_a_run_past_the_deadline_fails_at_once_without_calls(
    run_with: Callable[..., Run], job_name: str
) -> None:
    job, job_id, kwargs, deadline_s, expected = JOBS[job_name]
    # The first run is cut short (a worker killed mid-call, say) and every re-run too.
    run = run_with(_down)
    with pytest.raises(Retry):
        await job({CTX_KEY: run.context, "job_id": job_id, "job_try": 1}, **kwargs)
    calls_before = len(run.calls)
    run.clock.now += deadline_s

    with pytest.raises(expected):
        await job({CTX_KEY: run.context, "job_id": job_id, "job_try": 57}, **kwargs)

    assert len(run.calls) == calls_before
    [failed] = await run.failures()
    assert failed["error"]["type"] == expected.__name__
