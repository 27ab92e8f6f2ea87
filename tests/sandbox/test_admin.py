from __future__ import annotations

from persona_sandbox import ManualClock, SandboxConfig
from tests.sandbox.conftest import MakeHarness
from tests.sandbox.support import Harness


async def test_counters_count_calls_per_operation_and_status(harness: Harness) -> None:
    inquiry_id = await harness.create_id()
    await harness.client.get(f"/inquiries/{inquiry_id}")
    await harness.client.get("/inquiries/inq_Missing")

    counters = (await harness.admin("GET", "counters")).json()

    assert counters["operations"]["create-an-inquiry"] == {"201": 1}
    assert counters["operations"]["retrieve-an-inquiry"] == {"200": 1, "404": 1}
    assert counters["requests"] == 3


async def test_counters_count_calls_per_inquiry(harness: Harness) -> None:
    inquiry_id = await harness.create_id()
    for _ in range(3):
        await harness.client.get(f"/inquiries/{inquiry_id}")

    counters = (await harness.admin("GET", "counters")).json()

    assert counters["inquiries"][inquiry_id] == 4


async def test_counters_count_creations_per_idempotency_key(harness: Harness) -> None:
    await harness.create(key="job-a")
    await harness.create(key="job-a")
    await harness.create(key="job-b")

    counters = (await harness.admin("GET", "counters")).json()

    assert counters["creates_by_idempotency_key"] == {"job-a": 1, "job-b": 1}


async def test_counters_count_429s(make_harness: MakeHarness) -> None:
    harness = await make_harness(SandboxConfig(rate_limit_per_minute=1))
    for _ in range(3):
        await harness.client.get("/inquiries")

    counters = (await harness.admin("GET", "counters")).json()

    assert counters["rate_limited"] == 2


async def test_reset_clears_state_and_counters(harness: Harness) -> None:
    inquiry_id = await harness.create_id(key="before-reset")

    response = await harness.admin("POST", "reset")

    assert response.status_code == 200
    assert (await harness.client.get(f"/inquiries/{inquiry_id}")).status_code == 404
    counters = (await harness.admin("GET", "counters")).json()
    assert counters["requests"] == 1
    assert counters["creates_by_idempotency_key"] == {}
    assert (await harness.create(key="before-reset")).json()["data"]["id"] != inquiry_id


async def test_events_can_be_filtered_by_inquiry(harness: Harness) -> None:
    mine = await harness.create_id()
    await harness.create_id()

    response = await harness.admin("GET", f"events?inquiry-id={mine}")

    events = response.json()["data"]
    assert [event["attributes"]["name"] for event in events] == ["inquiry.created"]
    assert events[0]["attributes"]["payload"]["data"]["id"] == mine
    assert events[0]["type"] == "event"


async def test_events_can_be_filtered_by_name(harness: Harness) -> None:
    inquiry_id = await harness.create_id()
    await harness.post(f"/inquiries/{inquiry_id}/approve")

    response = await harness.admin("GET", "events?name=inquiry.approved")

    assert [event["attributes"]["name"] for event in response.json()["data"]] == [
        "inquiry.approved"
    ]


async def test_clock_fast_forward_moves_inquiries(harness: Harness) -> None:
    inquiry_id = await harness.create_id(note="sandbox-outcome=completed sandbox-after=60")

    response = await harness.admin("POST", "clock", {"advance_s": 61})

    assert response.status_code == 200
    assert await harness.status(inquiry_id) == "completed"


async def test_clock_refuses_a_non_number(harness: Harness) -> None:
    response = await harness.admin("POST", "clock", {"advance_s": "soon"})

    assert response.status_code == 400


async def test_advance_records_due_events(harness: Harness) -> None:
    inquiry_id = await harness.create_id(note="sandbox-outcome=completed sandbox-after=60")
    harness.clock.advance(61)

    await harness.admin("POST", "advance")

    assert "inquiry.completed" in harness.event_names(inquiry_id)


async def test_inquiry_view_shows_scenario_and_plan(harness: Harness) -> None:
    inquiry_id = await harness.create_id(note="sandbox-outcome=approved sandbox-after=60")

    view = (await harness.admin("GET", f"inquiries/{inquiry_id}")).json()

    assert view["scenario"] == {"outcome": "approved", "delay_s": 60.0, "source": "note"}
    assert [step["kind"] for step in view["plan"]] == ["start", "finish", "decide"]
    assert view["autonomous"] is True


async def test_inquiry_view_of_unknown_inquiry_is_404(harness: Harness) -> None:
    response = await harness.admin("GET", "inquiries/inq_Unknown")

    assert response.status_code == 404


async def test_counters_keep_the_most_requests_within_any_60_seconds(
    harness: Harness, clock: ManualClock
) -> None:
    for _ in range(3):
        await harness.client.get("/inquiries")
    clock.advance(30)
    for _ in range(2):
        await harness.client.get("/inquiries")
    clock.advance(30)  # the first three are now exactly 60 s old: out of the window
    await harness.client.get("/inquiries")

    counters = (await harness.admin("GET", "counters")).json()

    assert counters["requests"] == 6
    assert counters["peak_requests_per_60s"] == 5


async def test_the_peak_counts_refused_requests_and_restarts_after_a_reset(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness(SandboxConfig(rate_limit_per_minute=1))
    for _ in range(3):
        await harness.client.get("/inquiries")
    assert (await harness.admin("GET", "counters")).json()["peak_requests_per_60s"] == 3

    await harness.admin("POST", "reset")
    await harness.client.get("/inquiries")

    assert (await harness.admin("GET", "counters")).json()["peak_requests_per_60s"] == 1
