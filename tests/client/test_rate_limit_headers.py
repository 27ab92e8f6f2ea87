from __future__ import annotations

import logging

import httpx
import pytest
from pydantic import SecretStr

from jobs import errors
from jobs.persona.client import ApiCall, PersonaClient, RateLimitInfo
from tests.client.fakes import API_KEY, FakePersona, inquiry_resource
from tests.client.operations import INQUIRY_ID, OPERATIONS, Operation, op_id, seed

KEY = "job-1:attempt-1"


def ok(headers: dict[str, str]) -> httpx.Response:
    return httpx.Response(200, json={"data": inquiry_resource(INQUIRY_ID)}, headers=headers)


class RecordingGate:
    """A `RequestGate` that logs what it is told, next to the requests the fake sees."""

    def __init__(self, fake: FakePersona, log: list[str]) -> None:
        self.fake = fake
        self.log = log
        self.calls: list[ApiCall] = []

    async def acquire(self, operation: str) -> None:
        self.log.append(f"acquire {operation} after {len(self.fake.requests)} requests")

    async def observe(self, call: ApiCall) -> None:
        self.log.append(f"observe {call.operation} after {len(self.fake.requests)} requests")
        self.calls.append(call)


@pytest.fixture
def gated(http: httpx.AsyncClient, fake: FakePersona) -> tuple[PersonaClient, RecordingGate]:
    gate = RecordingGate(fake, [])
    return PersonaClient(http, api_key=SecretStr(API_KEY), gate=gate), gate


# --- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "names",
    [
        ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"),
        ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"),
        ("RATELIMIT-LIMIT", "Ratelimit-Remaining", "rateLimit-reset"),
    ],
)
async def test_rate_limit_headers_are_read_whatever_their_case(
    client: PersonaClient, fake: FakePersona, names: tuple[str, str, str]
) -> None:
    fake.script(ok(dict(zip(names, ("300", "280", "53"), strict=True))))
    await client.retrieve_inquiry(INQUIRY_ID)
    assert client.last_rate_limit == RateLimitInfo(limit=300, remaining=280, reset_s=53.0)


async def test_missing_headers_read_as_none(client: PersonaClient, fake: FakePersona) -> None:
    calls: list[ApiCall] = []
    client.observers.append(calls.append)
    fake.script(ok({"RateLimit-Remaining": "12"}))
    await client.retrieve_inquiry(INQUIRY_ID)
    assert calls[0].rate_limit == RateLimitInfo(limit=None, remaining=12, reset_s=None)


@pytest.mark.parametrize(
    ("value", "limit", "reset_s"),
    [
        ("abc", None, None),
        ("-1", None, None),
        ("", None, None),
        ("1.5", None, 1.5),
        ("nan", None, None),
        ("inf", None, None),
        (" 7 ", 7, 7.0),
    ],
)
async def test_garbage_rate_limit_values_are_ignored(
    client: PersonaClient, fake: FakePersona, value: str, limit: int | None, reset_s: float | None
) -> None:
    calls: list[ApiCall] = []
    client.observers.append(calls.append)
    fake.script(ok({"RateLimit-Limit": value, "RateLimit-Reset": value}))
    await client.retrieve_inquiry(INQUIRY_ID)
    assert calls[0].rate_limit == RateLimitInfo(limit=limit, remaining=None, reset_s=reset_s)


async def test_last_rate_limit_starts_unknown(client: PersonaClient) -> None:
    assert client.last_rate_limit == RateLimitInfo(None, None, None)


async def test_a_response_without_headers_keeps_the_last_known_rate_limit(
    client: PersonaClient, fake: FakePersona
) -> None:
    fake.script(
        ok({"RateLimit-Limit": "300", "RateLimit-Remaining": "5", "RateLimit-Reset": "9"}),
        httpx.Response(401, json={"errors": [{"title": "Token is invalid"}]}),
    )
    await client.retrieve_inquiry(INQUIRY_ID)
    with pytest.raises(errors.AuthenticationError):
        await client.retrieve_inquiry(INQUIRY_ID)
    assert client.last_rate_limit == RateLimitInfo(limit=300, remaining=5, reset_s=9.0)


async def test_error_responses_update_the_last_rate_limit(
    client: PersonaClient, fake: FakePersona
) -> None:
    headers = {"RateLimit-Limit": "300", "RateLimit-Remaining": "0", "RateLimit-Reset": "3"}
    fake.script(
        httpx.Response(429, json={"errors": [{"title": "Rate limit exceeded"}]}, headers=headers)
    )
    with pytest.raises(errors.RateLimitedError):
        await client.list_inquiries()
    assert client.last_rate_limit == RateLimitInfo(limit=300, remaining=0, reset_s=3.0)


# --- observers --------------------------------------------------------------------------------


@pytest.mark.parametrize("op", OPERATIONS, ids=op_id)
async def test_observers_get_one_api_call_per_exchange_named_by_operation_id(
    client: PersonaClient, fake: FakePersona, op: Operation
) -> None:
    seed(fake)
    calls: list[ApiCall] = []
    client.observers.append(calls.append)
    await op.call(client, KEY)
    assert [(call.operation, call.method) for call in calls] == [(op.operation_id, op.method)]


async def test_the_api_call_carries_status_timing_headers_and_request_id(
    client: PersonaClient, fake: FakePersona
) -> None:
    seed(fake)
    calls: list[ApiCall] = []
    client.observers.append(calls.append)
    await client.retrieve_inquiry(INQUIRY_ID)
    (call,) = calls
    assert call.status_code == 200
    assert call.elapsed_s >= 0
    assert call.rate_limit == RateLimitInfo(limit=300, remaining=299, reset_s=42.0)
    assert call.request_id == "req_fake0001"


async def test_observers_see_error_responses(client: PersonaClient, fake: FakePersona) -> None:
    calls: list[ApiCall] = []
    client.observers.append(calls.append)
    with pytest.raises(errors.NotFoundError):
        await client.retrieve_inquiry("inq_missing")
    assert [call.status_code for call in calls] == [404]


async def test_observers_see_exchanges_that_got_no_response(
    client: PersonaClient, fake: FakePersona
) -> None:
    calls: list[ApiCall] = []
    client.observers.append(calls.append)
    fake.script(httpx.ConnectError("refused"))
    with pytest.raises(errors.ApiConnectionError):
        await client.retrieve_inquiry(INQUIRY_ID)
    assert [(call.status_code, call.request_id) for call in calls] == [(None, None)]
    assert calls[0].rate_limit == RateLimitInfo(None, None, None)


async def test_a_failing_observer_does_not_mask_the_answer(
    client: PersonaClient, fake: FakePersona, caplog: pytest.LogCaptureFixture
) -> None:
    seed(fake)
    seen: list[ApiCall] = []

    def broken(call: ApiCall) -> None:
        raise RuntimeError("metrics backend down")

    client.observers.extend([broken, seen.append])
    with caplog.at_level(logging.ERROR, logger="jobs.persona.client"):
        document = await client.retrieve_inquiry(INQUIRY_ID)
    assert document.data.id == INQUIRY_ID
    assert len(seen) == 1
    assert "observer failed" in caplog.text


# --- the gate ---------------------------------------------------------------------------------


async def test_the_gate_admits_before_sending_and_observes_after(
    gated: tuple[PersonaClient, RecordingGate], fake: FakePersona
) -> None:
    client, gate = gated
    seed(fake)
    await client.retrieve_inquiry(INQUIRY_ID)
    assert gate.log == [
        "acquire retrieve-an-inquiry after 0 requests",
        "observe retrieve-an-inquiry after 1 requests",
    ]


async def test_the_gate_observes_the_rate_limit_headers(
    gated: tuple[PersonaClient, RecordingGate], fake: FakePersona
) -> None:
    client, gate = gated
    fake.script(ok({"RateLimit-Limit": "300", "RateLimit-Remaining": "44", "RateLimit-Reset": "8"}))
    await client.retrieve_inquiry(INQUIRY_ID)
    assert gate.calls[0].rate_limit == RateLimitInfo(limit=300, remaining=44, reset_s=8.0)


async def test_the_gate_observes_failed_exchanges(
    gated: tuple[PersonaClient, RecordingGate], fake: FakePersona
) -> None:
    client, gate = gated
    fake.script(httpx.ReadTimeout("slow"), httpx.Response(503, text="down"))
    for _ in range(2):
        with pytest.raises(errors.TransientApiError):
            await client.retrieve_inquiry(INQUIRY_ID)
    assert [call.status_code for call in gate.calls] == [None, 503]


async def test_invalid_arguments_never_reach_the_gate(
    gated: tuple[PersonaClient, RecordingGate], fake: FakePersona
) -> None:
    client, gate = gated
    with pytest.raises(ValueError, match="idempotency_key"):
        await client.resume_inquiry(INQUIRY_ID, idempotency_key="")
    assert gate.log == []


async def test_a_gate_that_refuses_stops_the_request(
    http: httpx.AsyncClient, fake: FakePersona
) -> None:
    class ClosedGate:
        async def acquire(self, operation: str) -> None:
            raise errors.RateLimitedError("budget spent", retry_after_s=5.0)

        async def observe(self, call: ApiCall) -> None:
            raise AssertionError("nothing was sent")

    client = PersonaClient(http, api_key=SecretStr(API_KEY), gate=ClosedGate())
    with pytest.raises(errors.RateLimitedError, match="budget spent"):
        await client.retrieve_inquiry(INQUIRY_ID)
    assert fake.requests == []


async def test_a_gate_that_fails_to_observe_does_not_mask_the_answer(
    http: httpx.AsyncClient, fake: FakePersona, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenGate:
        async def acquire(self, operation: str) -> None:
            return None

        async def observe(self, call: ApiCall) -> None:
            raise ConnectionError("redis down")

    seed(fake)
    client = PersonaClient(http, api_key=SecretStr(API_KEY), gate=BrokenGate())
    with caplog.at_level(logging.ERROR, logger="jobs.persona.client"):
        document = await client.retrieve_inquiry(INQUIRY_ID)
    assert document.data.id == INQUIRY_ID
    assert "gate failed to observe" in caplog.text
