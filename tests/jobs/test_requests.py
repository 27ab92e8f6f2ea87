"""`request_job`: how every request job ends, with a job function called as arq calls it.

Each test wraps its own `perform` and calls the job with arq's ctx (the job context and the
job id) on a real Redis: what the ledger and the results stream hold afterwards is the outcome.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from arq import Retry
from redis.exceptions import ConnectionError as RedisConnectionError

from jobs.context import CTX_KEY, JobContext
from jobs.errors import JobArgumentsError
from jobs.pipeline.requests import RequestRun, job_deadline_s, request_job
from jobs.state.ledger import RequestRecord
from settings import Settings
from tests.loop_clock import loop_clock

pytestmark = pytest.mark.redis

JOB = "probe"
REQUEST = "req-1"


class Calls:
    """A `perform` that records each call, then does what the test gave it."""

    def __init__(self, then: Callable[[RequestRun], Any]) -> None:
        self.then = then
        self.seen: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self.started = asyncio.Event()

    async def __call__(self, run: RequestRun, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self.seen.append((args, kwargs))
        self.started.set()
        return await self.then(run)


def _job(perform: Calls) -> Callable[..., Any]:
    return request_job(JOB, perform, doc="A job of the tests.")


def _ctx(context: JobContext) -> dict[str, Any]:
    return {CTX_KEY: context, "job_id": REQUEST, "job_try": 1}


async def _events(context: JobContext) -> list[tuple[str, dict[str, Any]]]:
    entries = await context.redis.xrange(context.settings.results_stream)
    return [(fields["event"], json.loads(fields["data"])) for _, fields in entries]


async def _request(context: JobContext) -> RequestRecord:
    record = await context.ledger.request(REQUEST)
    assert record is not None
    return record


async def _is_open(context: JobContext) -> bool:
    return await context.redis.zscore(context.keys.open_requests, REQUEST) is not None


def _raising(exc: BaseException) -> Calls:
    async def then(run: RequestRun) -> Any:
        raise exc

    return Calls(then)


@pytest.mark.parametrize(
    ("exc", "described"),
    [
        (KeyError("inquiry_id"), ("UnexpectedJobError", "unexpected KeyError")),
        (
            JobArgumentsError("inquiry_id: field required"),
            ("JobArgumentsError", "inquiry_id: field required"),
        ),
    ],
    ids=["foreign", "ours"],
)
async def test_any_exception_answers_job_failed_once_and_is_raised(
    context: JobContext, exc: Exception, described: tuple[str, str]
) -> None:
    perform = _raising(exc)
    job = _job(perform)

    with pytest.raises(type(exc)) as raised:
        await job(_ctx(context), inquiry_id="inq_1", reference_id="person-1")
    again = await job(_ctx(context), inquiry_id="inq_1", reference_id="person-1")

    assert raised.value is exc
    [(event, data)] = await _events(context)
    assert event == "job.failed"
    assert (data["request_id"], data["job"], data["job_id"]) == (REQUEST, JOB, REQUEST)
    assert (data["inquiry_id"], data["reference_id"], data["final"]) == ("inq_1", "person-1", True)
    assert (data["error"]["type"], data["error"]["message"]) == described
    assert len(perform.seen) == 1, "the second run found the answer"
    assert (again["event"], again["error"], again["published"]) == (
        "job.failed",
        data["error"],
        False,
    )
    assert (await _request(context)).event == "job.failed"
    assert not await _is_open(context)


async def test_a_foreign_exception_names_only_its_type(context: JobContext) -> None:
    job = _job(_raising(ValueError("jane.doe@example.com has ssn 123-45-6789")))

    with pytest.raises(ValueError, match=r"jane\.doe"):
        await job(_ctx(context))

    [(_, fields)] = await context.redis.xrange(context.settings.results_stream)
    assert "jane" not in json.dumps(fields)
    assert "123-45" not in json.dumps(fields)
    error = json.loads(fields["data"])["error"]
    assert (error["type"], error["message"]) == ("UnexpectedJobError", "unexpected ValueError")


async def test_a_second_run_of_an_answered_request_returns_the_earlier_answer(
    context: JobContext,
) -> None:
    async def answer(run: RequestRun) -> dict[str, Any]:
        data = {"event": "probe.done", "request_id": run.request_id, "n": 1}
        await run.context.ledger.answer(run.request_id, event="probe.done", data=data)
        return {**data, "published": True}

    perform = Calls(answer)
    job = _job(perform)

    first = await job(_ctx(context))
    second = await job(_ctx(context))
    await context.redis.delete(context.settings.results_stream)  # trimmed away since
    third = await job(_ctx(context))

    entry = (await _request(context)).entry
    assert first == {"event": "probe.done", "request_id": REQUEST, "n": 1, "published": True}
    assert second == {**first, "entry_id": entry, "published": False}
    assert third == {
        "request_id": REQUEST,
        "event": "probe.done",
        "entry_id": entry,
        "published": False,
    }
    assert len(perform.seen) == 1


async def test_a_perform_that_outlives_the_job_deadline_is_retried_unanswered(
    context: JobContext, make_settings: Callable[..., Settings]
) -> None:
    short: Settings = make_settings(redis_url=context.settings.redis_url, job_timeout_s=2)
    assert job_deadline_s(short.job_timeout_s) == pytest.approx(1.6)

    async def never(run: RequestRun) -> None:
        await asyncio.Event().wait()

    perform = Calls(never)
    job = _job(perform)
    with loop_clock() as clock:
        running = asyncio.create_task(job(_ctx(dataclasses.replace(context, settings=short))))
        await perform.started.wait()
        await clock.advance(1.59)
        assert not running.done(), "still inside its deadline"
        await clock.advance(0.01)
        with pytest.raises(Retry) as raised:
            await running

    assert raised.value.defer_score is not None
    assert 1_000 <= raised.value.defer_score <= 3_000
    assert await _events(context) == []
    assert not (await _request(context)).answered
    assert await _is_open(context)


async def test_a_timeout_of_the_perform_itself_is_a_failure(context: JobContext) -> None:
    job = _job(_raising(TimeoutError("the perform's own")))

    with pytest.raises(TimeoutError):
        await job(_ctx(context))

    [(event, data)] = await _events(context)
    assert (event, data["error"]["message"]) == ("job.failed", "unexpected TimeoutError")


@pytest.mark.parametrize(
    "exc", [Retry(defer=1), RedisConnectionError("Connection closed by server.")]
)
async def test_a_retry_or_a_redis_error_answers_nothing(
    context: JobContext, exc: Exception
) -> None:
    job = _job(_raising(exc))

    with pytest.raises(type(exc)):
        await job(_ctx(context))

    assert await _events(context) == []
    assert await _is_open(context)


async def test_an_exception_after_following_an_inquiry_leaves_the_request_open(
    context: JobContext,
) -> None:
    async def follow_then_fail(run: RequestRun) -> None:
        now = run.context.clock()
        await run.context.ledger.follow(
            "inq_1", run.request_id, reference_id=None, status="pending", now=now, first_due=now
        )
        raise RuntimeError("after the follow")

    job = _job(Calls(follow_then_fail))

    with pytest.raises(RuntimeError):
        await job(_ctx(context), inquiry_id="inq_1")

    assert await _events(context) == [], "the inquiry's result answers it"
    assert not (await _request(context)).answered
    assert await _is_open(context)
    record = await context.ledger.inquiry("inq_1")
    assert record is not None
    assert list(record.followers) == [REQUEST]


async def test_a_keyword_named_ctx_reaches_perform(context: JobContext) -> None:
    async def done(run: RequestRun) -> str:
        return "done"

    perform = Calls(done)
    job = _job(perform)

    assert (
        await job(_ctx(context), "positional", ctx="the producer's", inquiry_id="inq_1") == "done"
    )

    assert perform.seen == [(("positional",), {"ctx": "the producer's", "inquiry_id": "inq_1"})]
