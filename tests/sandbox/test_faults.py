from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from persona_sandbox import FaultSettings, SandboxConfig, run_sandbox
from tests.loop_clock import loop_clock
from tests.sandbox.conftest import MakeHarness
from tests.sandbox.support import HEADERS, Harness, create_body


async def _faulty(make_harness: MakeHarness, **faults: Any) -> Harness:
    settings = FaultSettings(seed=1, **faults)
    return await make_harness(SandboxConfig(rate_limit_per_minute=0, faults=settings))


async def test_error_rate_one_answers_5xx_and_does_nothing(make_harness: MakeHarness) -> None:
    harness = await _faulty(make_harness, error_rate=1.0)

    responses = [await harness.create() for _ in range(10)]

    assert {r.status_code for r in responses} <= {500, 502, 503}
    assert harness.sandbox.state.inquiries == {}
    assert responses[0].json()["errors"][0]["title"]


async def test_error_statuses_choose_the_5xx(make_harness: MakeHarness) -> None:
    harness = await _faulty(make_harness, error_rate=1.0, error_statuses=(503,))

    response = await harness.client.get("/inquiries")

    assert response.status_code == 503
    assert response.headers["Request-Id"].startswith("req_")


async def test_retry_with_same_key_succeeds_after_an_injected_error(
    make_harness: MakeHarness,
) -> None:
    harness = await _faulty(make_harness, error_rate=1.0)
    failed = await harness.create(key="retry-me")
    harness.sandbox.faults.configure(FaultSettings())

    retried = await harness.create(key="retry-me")

    assert failed.status_code >= 500
    assert retried.status_code == 201


async def test_cached_errors_are_replayed_under_the_same_key(make_harness: MakeHarness) -> None:
    harness = await _faulty(make_harness, error_rate=1.0, cache_errors=True)
    failed = await harness.create(key="sticky")
    harness.sandbox.faults.configure(FaultSettings())

    retried = await harness.create(key="sticky")

    assert retried.status_code == failed.status_code >= 500
    assert harness.sandbox.state.inquiries == {}


async def test_error_after_rate_carries_out_the_request(make_harness: MakeHarness) -> None:
    harness = await _faulty(make_harness, error_after_rate=1.0)

    response = await harness.create(key="lost-response")

    assert response.status_code == 500
    assert len(harness.sandbox.state.inquiries) == 1


async def test_lost_response_is_recovered_by_retrying_the_key(make_harness: MakeHarness) -> None:
    harness = await _faulty(make_harness, error_after_rate=1.0)
    await harness.create(key="lost-response")
    harness.sandbox.faults.configure(FaultSettings())

    retried = await harness.create(key="lost-response")

    assert retried.status_code == 201
    assert retried.json()["data"]["id"] in harness.sandbox.state.inquiries
    assert len(harness.sandbox.state.inquiries) == 1


async def test_faults_can_be_limited_to_operations(make_harness: MakeHarness) -> None:
    harness = await _faulty(
        make_harness, error_rate=1.0, operations=frozenset({"create-an-inquiry"})
    )

    listed = await harness.client.get("/inquiries")
    created = await harness.create()

    assert listed.status_code == 200
    assert created.status_code >= 500


async def test_latency_is_added_to_each_request(make_harness: MakeHarness) -> None:
    harness = await _faulty(make_harness, latency_ms=150)

    # Timed on the loop's own clock, moved a millisecond at a time: however slowly the machine
    # runs the request, each answer takes 150 ms of that clock (plus a step or two).
    with loop_clock() as clock:
        for _ in range(2):
            started = clock.time()
            answer = asyncio.create_task(harness.client.get("/inquiries"))
            while not answer.done():
                await clock.advance(0.001)
            assert answer.result().status_code == 200
            assert 0.15 <= clock.time() - started < 0.16


async def test_faults_are_set_and_read_through_admin(harness: Harness) -> None:
    changed = await harness.admin(
        "POST", "faults", {"error_rate": 1.0, "operations": ["retrieve-an-inquiry"]}
    )
    read = await harness.admin("GET", "faults")

    assert changed.status_code == 200
    assert read.json()["error_rate"] == 1.0
    assert read.json()["operations"] == ["retrieve-an-inquiry"]
    assert (await harness.client.get("/inquiries/inq_X")).status_code >= 500


async def test_faults_are_cleared_through_admin(make_harness: MakeHarness) -> None:
    harness = await _faulty(make_harness, error_rate=1.0)

    await harness.admin("DELETE", "faults")

    assert (await harness.client.get("/inquiries")).status_code == 200


@pytest.mark.parametrize("change", [{"error_rate": 2}, {"colour": 1}, {"hang_s": "long"}])
async def test_invalid_fault_settings_are_refused(harness: Harness, change: object) -> None:
    response = await harness.admin("POST", "faults", change)

    assert response.status_code == 400
    assert (await harness.admin("GET", "faults")).json()["error_rate"] == 0.0


async def test_injected_faults_are_counted(make_harness: MakeHarness) -> None:
    harness = await _faulty(make_harness, error_after_rate=1.0)
    await harness.create()

    counters = (await harness.admin("GET", "counters")).json()

    assert counters["faults"] == {"error_after": 1}


async def test_hang_holds_the_answer_past_the_client_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    faults = FaultSettings(hang_rate=1.0, hang_s=30, operations=frozenset({"create-an-inquiry"}))
    config = SandboxConfig(rate_limit_per_minute=0, faults=faults)
    uvicorn_log = logging.getLogger("uvicorn.error")
    try:
        async with run_sandbox(config) as sandbox:
            # uvicorn sets up its loggers when the server is built: listen from here on.
            uvicorn_log.addHandler(caplog.handler)
            async with httpx.AsyncClient(
                base_url=sandbox.url, headers=HEADERS, timeout=httpx.Timeout(0.3)
            ) as client:
                with pytest.raises(httpx.ReadTimeout):
                    await client.post("/inquiries", json=create_body())
                listed = await client.get("/inquiries")

            assert len(listed.json()["data"]) == 1
            assert len(sandbox.state.inquiries) == 1
    finally:
        uvicorn_log.removeHandler(caplog.handler)
    # The held answer is released at once on exit: uvicorn never waits out its grace period
    # to cancel it (measured by what uvicorn did, not by a clock a busy machine stretches).
    assert "graceful shutdown exceeded" not in caplog.text
