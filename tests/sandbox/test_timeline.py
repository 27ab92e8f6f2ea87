from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from persona_sandbox import Event, ManualClock, SandboxConfig, run_sandbox
from persona_sandbox.state import NewInquiry
from persona_sandbox.timeline import Outcome, choose_scenario
from tests.sandbox.conftest import MakeHarness
from tests.sandbox.support import Harness

# With sandbox-after=60 and the default decision_after_s=30, review_after_s=300.
TIMELINES: dict[str, list[tuple[float, str]]] = {
    "approved": [(19, "created"), (21, "pending"), (59, "pending"), (61, "completed"),
                 (89, "completed"), (91, "approved")],
    "declined": [(21, "pending"), (61, "completed"), (91, "declined")],
    "completed": [(21, "pending"), (61, "completed"), (10_000, "completed")],
    "failed": [(21, "pending"), (61, "failed"), (10_000, "failed")],
    "needs_review": [(61, "completed"), (91, "needs_review"), (10_000, "needs_review")],
    "review_approved": [(61, "completed"), (91, "needs_review"), (389, "needs_review"),
                        (391, "approved")],
    "review_declined": [(91, "needs_review"), (391, "declined")],
    "expired": [(59, "created"), (61, "expired")],
    "abandoned": [(21, "pending"), (86_399, "pending"), (86_401, "expired")],
}  # fmt: skip


@pytest.mark.parametrize("outcome", sorted(TIMELINES))
async def test_scenario_follows_its_timeline(harness: Harness, outcome: str) -> None:
    inquiry_id = await harness.create_id(note=f"sandbox-outcome={outcome} sandbox-after=60")
    elapsed = 0.0
    seen = []
    for at, _ in TIMELINES[outcome]:
        harness.clock.advance(at - elapsed)
        elapsed = at
        seen.append((at, await harness.status(inquiry_id)))

    assert seen == TIMELINES[outcome]


async def _finished(harness: Harness, outcome: str) -> dict[str, object]:
    inquiry_id = await harness.create_id(note=f"sandbox-outcome={outcome} sandbox-after=60")
    harness.clock.advance(61)
    return await harness.inquiry(inquiry_id, include="verifications")


def _checks(document: dict[str, object], kind: str) -> list[dict[str, object]]:
    included = document["included"]
    assert isinstance(included, list)
    (verification,) = [item for item in included if item["type"] == kind]
    checks: list[dict[str, object]] = verification["attributes"]["checks"]
    return checks


async def test_completed_inquiry_has_passed_id_and_selfie(harness: Harness) -> None:
    document = await _finished(harness, "approved")

    statuses = {item["type"]: item["attributes"]["status"] for item in document["included"]}  # type: ignore[attr-defined]
    assert statuses == {"verification/government-id": "passed", "verification/selfie": "passed"}


async def test_declined_inquiry_has_a_failed_required_check(harness: Harness) -> None:
    document = await _finished(harness, "declined")

    failed = [c for c in _checks(document, "verification/selfie") if c["status"] == "failed"]
    assert [(c["name"], c["requirement"]) for c in failed] == [("selfie_id_comparison", "required")]


async def test_failed_inquiry_has_a_failed_required_id_check(harness: Harness) -> None:
    document = await _finished(harness, "failed")

    failed = [c for c in _checks(document, "verification/government-id") if c["status"] == "failed"]
    assert [(c["name"], c["requirement"], c["reasons"]) for c in failed] == [
        ("id_expired_detection", "required", ["expired"])
    ]


async def test_review_outcome_fails_only_an_optional_check(harness: Harness) -> None:
    document = await _finished(harness, "needs_review")

    checks = _checks(document, "verification/government-id")
    failed = [c for c in checks if c["status"] == "failed"]
    assert [c["requirement"] for c in failed] == ["not_required"]


async def test_expired_outcome_shows_its_expiry_in_expires_at(harness: Harness) -> None:
    response = await harness.create(note="sandbox-outcome=expired sandbox-after=90")

    attributes = response.json()["data"]["attributes"]
    created = datetime.fromisoformat(attributes["created-at"])
    expires = datetime.fromisoformat(attributes["expires-at"])
    assert (expires - created).total_seconds() == 90


async def test_expiry_cancels_an_initiated_verification(harness: Harness) -> None:
    inquiry_id = await harness.create_id(note="sandbox-outcome=abandoned sandbox-after=60")
    harness.clock.advance(86_401)

    document = await harness.inquiry(inquiry_id, include="verifications")

    assert [item["attributes"]["status"] for item in document["included"]] == ["canceled"]
    assert "verification.canceled" in harness.event_names(inquiry_id)


async def test_created_inquiry_expires_at_its_custom_expiry(harness: Harness) -> None:
    inquiry_id = await harness.create_id(
        note="sandbox-outcome=approved sandbox-after=7200",
        meta={"expiration-after-create-interval-seconds": 600},
    )
    harness.clock.advance(601)

    attributes = (await harness.inquiry(inquiry_id))["data"]["attributes"]

    assert attributes["status"] == "expired"
    assert attributes["expired-at"] == attributes["expires-at"]


async def test_events_are_stamped_when_due_not_when_read(harness: Harness) -> None:
    inquiry_id = await harness.create_id(note="sandbox-outcome=approved sandbox-after=60")
    created = harness.clock.now()
    harness.clock.advance(5_000)

    await harness.status(inquiry_id)

    events = harness.sandbox.events.events(inquiry_id=inquiry_id, name="inquiry.completed")
    assert [(event.created_at - created).total_seconds() for event in events] == [60.0]


async def test_timeline_records_every_change_in_order(harness: Harness) -> None:
    inquiry_id = await harness.create_id(note="sandbox-outcome=review_approved sandbox-after=60")
    harness.clock.advance(1_000)

    await harness.status(inquiry_id)

    assert harness.event_names(inquiry_id) == [
        "inquiry.created",
        "verification.created",
        "inquiry.started",
        "verification.submitted",
        "verification.passed",
        "verification.created",
        "verification.submitted",
        "verification.passed",
        "inquiry.completed",
        "inquiry.marked-for-review",
        "inquiry.approved",
    ]


async def test_event_payload_is_the_object_after_the_change(harness: Harness) -> None:
    inquiry_id = await harness.create_id(note="sandbox-outcome=approved sandbox-after=60")
    harness.clock.advance(61)
    await harness.status(inquiry_id)

    (event,) = harness.sandbox.events.events(inquiry_id=inquiry_id, name="inquiry.completed")

    resource = event.to_resource()
    assert resource["id"].startswith("evt_")
    assert resource["attributes"]["payload"]["data"]["attributes"]["status"] == "completed"
    assert resource["attributes"]["payload"]["included"] == []


async def test_event_subscribers_hear_each_event(harness: Harness) -> None:
    heard: list[str] = []
    harness.sandbox.events.subscribe(lambda event: heard.append(event.name))

    await harness.create_id(note="sandbox-outcome=approved sandbox-after=60")

    assert heard == ["inquiry.created"]


async def test_a_failing_subscriber_does_not_break_the_request(harness: Harness) -> None:
    def explode(event: Event) -> None:
        raise RuntimeError("subscriber bug")

    harness.sandbox.events.subscribe(explode)

    response = await harness.create()

    assert response.status_code == 201


async def test_unknown_sandbox_outcome_is_422(harness: Harness) -> None:
    response = await harness.create(note="sandbox-outcome=teleported")

    assert response.status_code == 422
    assert response.json()["errors"][0]["source"] == {"pointer": "/data/attributes/note"}


async def test_outcome_mix_decides_unscripted_inquiries(make_harness: MakeHarness) -> None:
    config = SandboxConfig(
        rate_limit_per_minute=0, outcome_mix={"failed": 1.0}, delay_range_s=(10, 10)
    )
    harness = await make_harness(config)
    inquiry_id = await harness.create_id()
    harness.clock.advance(11)

    assert await harness.status(inquiry_id) == "failed"


def test_default_mix_is_deterministic_per_inquiry_id() -> None:
    mix = {"approved": 0.6, "declined": 0.2, "needs_review": 0.1, "failed": 0.1}

    first = choose_scenario("inq_Same", None, mix=mix, delay_range_s=(5, 120))
    again = choose_scenario("inq_Same", None, mix=mix, delay_range_s=(5, 120))

    assert first == again
    assert 5 <= first.delay_s <= 120
    assert first.source == "mix"


def test_default_mix_follows_its_weights() -> None:
    mix = {"approved": 0.6, "declined": 0.2, "needs_review": 0.1, "failed": 0.1}

    drawn = [
        choose_scenario(f"inq_{n}", None, mix=mix, delay_range_s=(5, 120)).outcome
        for n in range(2_000)
    ]

    assert 0.55 < drawn.count(Outcome.approved) / len(drawn) < 0.65
    assert 0.07 < drawn.count(Outcome.failed) / len(drawn) < 0.13


async def test_resumed_expired_inquiry_carries_on_with_its_scenario(harness: Harness) -> None:
    inquiry_id = await harness.create_id(
        note="sandbox-outcome=approved sandbox-after=90",
        meta={"expiration-after-create-interval-seconds": 45},
    )
    harness.clock.advance(46)
    assert await harness.status(inquiry_id) == "expired"

    await harness.post(f"/inquiries/{inquiry_id}/resume")
    harness.clock.advance(61)

    assert await harness.status(inquiry_id) == "completed"


async def test_background_advance_fires_events_without_requests() -> None:
    clock = ManualClock()
    config = SandboxConfig(rate_limit_per_minute=0, advance_interval_s=0.02)
    async with run_sandbox(config, clock=clock) as sandbox:
        completed = asyncio.Event()
        sandbox.state.events.subscribe(
            lambda event: completed.set() if event.name == "inquiry.completed" else None
        )
        note = "sandbox-outcome=completed sandbox-after=30"
        spec = NewInquiry(inquiry_template_id="itmpl_Background", note=note)
        sandbox.state.create_inquiry(spec, clock.now())
        clock.advance(31)

        await asyncio.wait_for(completed.wait(), timeout=60)  # only catches a hang

    assert completed.is_set()


async def test_event_log_keeps_the_newest_events(make_harness: MakeHarness) -> None:
    harness = await make_harness(SandboxConfig(rate_limit_per_minute=0, max_events=2))
    ids = [await harness.create_id() for _ in range(3)]

    kept = [event.inquiry_id for event in harness.sandbox.events]

    assert kept == ids[1:]
