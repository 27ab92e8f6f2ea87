from __future__ import annotations

from persona_sandbox import ManualClock, SandboxConfig
from persona_sandbox.ratelimit import UNLIMITED, FixedWindowLimiter
from tests.sandbox.conftest import MakeHarness
from tests.sandbox.support import Harness


async def _limited(make_harness: MakeHarness, limit: int = 3) -> Harness:
    return await make_harness(SandboxConfig(rate_limit_per_minute=limit))


async def test_requests_past_the_limit_get_429_with_headers(make_harness: MakeHarness) -> None:
    harness = await _limited(make_harness)
    for _ in range(3):
        assert (await harness.client.get("/inquiries")).status_code == 200

    response = await harness.client.get("/inquiries")

    assert response.status_code == 429
    assert response.json() == {
        "errors": [
            {
                "title": "Rate limit exceeded",
                "details": "You have hit your rate limit of 3 requests / min. Please reach out "
                "to support@withpersona.com if you need this changed.",
            }
        ]
    }
    assert response.headers["RateLimit-Limit"] == "3"
    assert response.headers["RateLimit-Remaining"] == "0"
    assert response.headers["RateLimit-Reset"] == "60"
    assert response.headers["Request-Id"].startswith("req_")


async def test_remaining_counts_down_within_a_window(make_harness: MakeHarness) -> None:
    harness = await _limited(make_harness)

    remaining = [(await harness.client.get("/inquiries")).headers["RateLimit-Remaining"]]
    remaining.append((await harness.client.get("/inquiries")).headers["RateLimit-Remaining"])

    assert remaining == ["2", "1"]


async def test_reset_counts_the_seconds_left_in_the_window(make_harness: MakeHarness) -> None:
    harness = await _limited(make_harness)
    await harness.client.get("/inquiries")
    harness.clock.advance(42.5)

    response = await harness.client.get("/inquiries")

    assert response.headers["RateLimit-Reset"] == "18"


async def test_window_resets_after_60_seconds(make_harness: MakeHarness) -> None:
    harness = await _limited(make_harness, limit=1)
    await harness.client.get("/inquiries")
    assert (await harness.client.get("/inquiries")).status_code == 429
    harness.clock.advance(60)

    response = await harness.client.get("/inquiries")

    assert response.status_code == 200
    assert response.headers["RateLimit-Remaining"] == "0"


async def test_admin_endpoints_do_not_count(make_harness: MakeHarness) -> None:
    harness = await _limited(make_harness, limit=1)
    for _ in range(5):
        await harness.admin("GET", "counters")

    response = await harness.client.get("/inquiries")

    assert response.status_code == 200


async def test_unauthenticated_requests_do_not_count(make_harness: MakeHarness) -> None:
    harness = await _limited(make_harness, limit=1)
    for _ in range(3):
        await harness.client.get("/inquiries", headers={"Authorization": "Bearer nope"})

    response = await harness.client.get("/inquiries")

    assert response.status_code == 200


async def test_limit_zero_turns_the_limit_off(make_harness: MakeHarness) -> None:
    harness = await make_harness(SandboxConfig(rate_limit_per_minute=0))
    statuses = {(await harness.client.get("/inquiries")).status_code for _ in range(50)}

    assert statuses == {200}


def test_off_limiter_reports_a_large_limit() -> None:
    clock = ManualClock()
    limiter = FixedWindowLimiter(0, clock.real)

    decision = limiter.hit()

    assert decision.allowed
    assert decision.limit == UNLIMITED


async def test_a_shorter_window_admits_its_share_and_resets_sooner(
    make_harness: MakeHarness,
) -> None:
    # 600 a minute in 2-second windows: 20 a window, so a burst of 429s lasts seconds.
    harness = await make_harness(SandboxConfig(rate_limit_per_minute=600, rate_limit_window_s=2))
    statuses = [(await harness.client.get("/inquiries")).status_code for _ in range(21)]
    assert statuses == [200] * 20 + [429]
    refused = await harness.client.get("/inquiries")
    assert (refused.headers["RateLimit-Limit"], refused.headers["RateLimit-Reset"]) == ("20", "2")

    harness.clock.advance(2)

    assert (await harness.client.get("/inquiries")).status_code == 200
