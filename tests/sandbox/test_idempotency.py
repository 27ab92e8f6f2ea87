from __future__ import annotations

import asyncio

from persona_sandbox import SandboxConfig
from persona_sandbox.idempotency import fingerprint
from tests.sandbox.conftest import MakeHarness
from tests.sandbox.support import Harness, create_body


async def test_replay_returns_the_stored_answer_and_creates_nothing(harness: Harness) -> None:
    first = await harness.create(key="job-1")

    replay = await harness.create(key="job-1")

    assert replay.status_code == 201
    assert replay.json() == first.json()
    assert len(harness.sandbox.state.inquiries) == 1
    assert harness.sandbox.counters.creates_by_key["job-1"] == 1


async def test_replay_gets_fresh_request_id_and_rate_headers(harness: Harness) -> None:
    first = await harness.create(key="job-2")

    replay = await harness.create(key="job-2")

    assert replay.headers["Request-Id"] != first.headers["Request-Id"]


async def test_same_key_with_another_body_is_an_idempotency_error(harness: Harness) -> None:
    await harness.create(key="abc_123")

    response = await harness.create(key="abc_123", note="different")

    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "title": "Idempotency error",
                "details": "Keys for idempotent requests can only be used with the same "
                "parameters they were first used with. Try using a key other than 'abc_123' if "
                "you meant to execute a different request.",
            }
        ]
    }
    assert len(harness.sandbox.state.inquiries) == 1


async def test_same_key_on_another_path_is_an_idempotency_error(harness: Harness) -> None:
    inquiry_id = await harness.create_id(key="shared-key")

    response = await harness.post(f"/inquiries/{inquiry_id}/approve", key="shared-key")

    assert response.status_code == 400
    assert response.json()["errors"][0]["title"] == "Idempotency error"
    assert await harness.status(inquiry_id) == "created"


async def test_4xx_answers_are_replayed(harness: Harness) -> None:
    body = create_body(template_id="itmpl_bad id")
    first = await harness.post("/inquiries", body, key="bad-1")

    replay = await harness.post("/inquiries", body, key="bad-1")

    assert first.status_code == 422
    assert replay.status_code == 422
    assert replay.json() == first.json()


async def test_replayed_action_has_no_second_side_effect(harness: Harness) -> None:
    inquiry_id = await harness.create_id()
    first = await harness.post(f"/inquiries/{inquiry_id}/approve", key="approve-1")

    replay = await harness.post(f"/inquiries/{inquiry_id}/approve", key="approve-1")

    assert first.status_code == replay.status_code == 200
    assert harness.event_names(inquiry_id).count("inquiry.approved") == 1


async def test_401_is_not_stored_under_the_key(harness: Harness) -> None:
    bad = {"Authorization": "Bearer wrong", "Idempotency-Key": "k-401"}
    refused = await harness.client.post("/inquiries", json=create_body(), headers=bad)

    accepted = await harness.create(key="k-401")

    assert refused.status_code == 401
    assert accepted.status_code == 201


async def test_429_is_not_stored_under_the_key(make_harness: MakeHarness) -> None:
    harness = await make_harness(SandboxConfig(rate_limit_per_minute=1))
    await harness.client.get("/inquiries")
    limited = await harness.create(key="k-429")
    harness.clock.advance(60)

    accepted = await harness.create(key="k-429")

    assert limited.status_code == 429
    assert accepted.status_code == 201


async def test_concurrent_requests_with_one_key_create_once(harness: Harness) -> None:
    responses = await asyncio.gather(*(harness.create(key="race") for _ in range(20)))

    assert {response.status_code for response in responses} == {201}
    assert len({response.json()["data"]["id"] for response in responses}) == 1
    assert len(harness.sandbox.state.inquiries) == 1


async def test_keys_are_forgotten_after_24_hours(harness: Harness) -> None:
    first = await harness.create(key="old-key")
    harness.clock.advance(86_400)

    second = await harness.create(key="old-key")

    assert second.status_code == 201
    assert second.json()["data"]["id"] != first.json()["data"]["id"]


async def test_get_ignores_idempotency_keys(harness: Harness) -> None:
    inquiry_id = await harness.create_id()
    headers = {"Idempotency-Key": "get-key"}
    await harness.client.get(f"/inquiries/{inquiry_id}", headers=headers)
    harness.clock.advance(10_000)

    later = await harness.client.get(f"/inquiries/{inquiry_id}", headers=headers)

    assert later.json()["data"]["attributes"]["status"] != "created"


def test_fingerprint_ignores_json_key_order_and_spacing() -> None:
    one = fingerprint("POST", "/api/v1/inquiries", b'{"a": 1, "b": [1, 2]}')
    other = fingerprint("POST", "/api/v1/inquiries", b'{"b":[1,2],"a":1}')

    assert one == other


def test_fingerprint_tells_different_bodies_apart() -> None:
    one = fingerprint("POST", "/api/v1/inquiries", b'{"a": 1}')
    other = fingerprint("POST", "/api/v1/inquiries", b'{"a": 2}')

    assert one != other
