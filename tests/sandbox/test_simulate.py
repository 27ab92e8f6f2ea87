from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox.support import Harness

GOVERNMENT_ID_TEMPLATE = "vtmpl_GovernmentId000000000000"
SELFIE_TEMPLATE = "vtmpl_selfie00000000000000000"


def _action(kind: str, template: str | None = None) -> dict[str, Any]:
    if template is None:
        return {"type": kind}
    return {"type": kind, "data": {"verification-template-id": template}}


# (setup actions, the action under test, expected status, expected event)
STATUS_ACTIONS = [
    ([], "start_inquiry", "pending", "inquiry.started"),
    (["start_inquiry"], "complete_inquiry", "completed", "inquiry.completed"),
    (["start_inquiry"], "fail_inquiry", "failed", "inquiry.failed"),
    ([], "expire_inquiry", "expired", "inquiry.expired"),
    (["start_inquiry", "complete_inquiry"], "mark_for_review_inquiry", "needs_review",
     "inquiry.marked-for-review"),
    (["start_inquiry", "complete_inquiry"], "approve_inquiry", "approved", "inquiry.approved"),
    (["start_inquiry", "fail_inquiry"], "decline_inquiry", "declined", "inquiry.declined"),
]  # fmt: skip


@pytest.mark.parametrize(("setup", "action", "status", "event"), STATUS_ACTIONS)
async def test_status_action_sets_status_and_records_event(
    harness: Harness, setup: list[str], action: str, status: str, event: str
) -> None:
    inquiry_id = await harness.create_id()
    if setup:
        assert (await harness.simulate(inquiry_id, *map(_action, setup))).status_code == 200

    response = await harness.simulate(inquiry_id, _action(action))

    assert response.status_code == 200
    assert response.json()["data"]["attributes"]["status"] == status
    assert harness.event_names(inquiry_id)[-1] == event


async def test_create_passed_verification_adds_a_passed_verification(harness: Harness) -> None:
    inquiry_id = await harness.create_id()

    await harness.simulate(
        inquiry_id, _action("create_passed_verification", GOVERNMENT_ID_TEMPLATE)
    )

    document = await harness.inquiry(inquiry_id, include="verifications")
    (verification,) = document["included"]
    assert verification["type"] == "verification/government-id"
    assert verification["attributes"]["status"] == "passed"
    assert {check["status"] for check in verification["attributes"]["checks"]} == {"passed"}
    template = verification["relationships"]["verification-template"]["data"]["id"]
    assert template == GOVERNMENT_ID_TEMPLATE


async def test_create_failed_verification_fails_a_required_check(harness: Harness) -> None:
    inquiry_id = await harness.create_id()

    await harness.simulate(
        inquiry_id, _action("create_failed_verification", GOVERNMENT_ID_TEMPLATE)
    )

    (verification,) = (await harness.inquiry(inquiry_id, include="verifications"))["included"]
    assert verification["attributes"]["status"] == "failed"
    failed = [c for c in verification["attributes"]["checks"] if c["status"] == "failed"]
    assert [c["requirement"] for c in failed] == ["required"]


async def test_verification_events_follow_persona_order(harness: Harness) -> None:
    inquiry_id = await harness.create_id()
    await harness.simulate(inquiry_id, _action("start_inquiry"))

    await harness.simulate(
        inquiry_id, _action("create_failed_verification", GOVERNMENT_ID_TEMPLATE)
    )

    assert harness.event_names(inquiry_id)[-3:] == [
        "verification.created",
        "verification.submitted",
        "verification.failed",
    ]


async def test_first_verification_starts_a_created_inquiry(harness: Harness) -> None:
    inquiry_id = await harness.create_id()

    response = await harness.simulate(
        inquiry_id, _action("create_passed_verification", GOVERNMENT_ID_TEMPLATE)
    )

    assert response.json()["data"]["attributes"]["status"] == "pending"
    assert "inquiry.started" in harness.event_names(inquiry_id)


async def test_selfie_template_creates_a_selfie_verification(harness: Harness) -> None:
    inquiry_id = await harness.create_id()

    await harness.simulate(inquiry_id, _action("create_passed_verification", SELFIE_TEMPLATE))

    (verification,) = (await harness.inquiry(inquiry_id, include="verifications"))["included"]
    assert verification["type"] == "verification/selfie"


async def test_actions_apply_in_order(harness: Harness) -> None:
    inquiry_id = await harness.create_id()

    response = await harness.simulate(
        inquiry_id,
        _action("start_inquiry"),
        _action("create_failed_verification", GOVERNMENT_ID_TEMPLATE),
        _action("create_passed_verification", GOVERNMENT_ID_TEMPLATE),
        _action("complete_inquiry"),
        _action("approve_inquiry"),
    )

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["attributes"]["status"] == "approved"
    assert len(data["relationships"]["verifications"]["data"]) == 2
    names = [n for n in harness.event_names(inquiry_id) if n.startswith("inquiry.")]
    assert names == [
        "inquiry.created",
        "inquiry.started",
        "inquiry.completed",
        "inquiry.approved",
    ]


async def test_refused_sequence_is_409_and_changes_nothing(harness: Harness) -> None:
    inquiry_id = await harness.create_id()

    response = await harness.simulate(
        inquiry_id, _action("approve_inquiry"), _action("complete_inquiry")
    )

    assert response.status_code == 409
    assert "meta.simulate-actions[1] complete_inquiry" in response.json()["errors"][0]["details"]
    assert await harness.status(inquiry_id) == "created"
    assert harness.event_names(inquiry_id) == ["inquiry.created"]


async def test_create_verification_without_template_is_400(harness: Harness) -> None:
    inquiry_id = await harness.create_id()

    response = await harness.simulate(inquiry_id, {"type": "create_passed_verification"})

    assert response.status_code == 400
    assert "meta.simulate-actions[0].data" in response.json()["errors"][0]["details"]


async def test_unknown_action_type_is_400(harness: Harness) -> None:
    inquiry_id = await harness.create_id()

    response = await harness.simulate(inquiry_id, {"type": "teleport_inquiry"})

    assert response.status_code == 400


async def test_missing_simulate_actions_is_400(harness: Harness) -> None:
    inquiry_id = await harness.create_id()

    response = await harness.post(f"/inquiries/{inquiry_id}/perform-simulate-actions", {})

    assert response.status_code == 400
    assert response.json()["errors"][0]["details"] == "meta is missing"


async def test_verification_template_must_be_a_vtmpl_id(harness: Harness) -> None:
    inquiry_id = await harness.create_id()

    response = await harness.simulate(inquiry_id, _action("create_passed_verification", "itmpl_X"))

    assert response.status_code == 422
    assert response.json()["errors"][0]["source"]["pointer"] == (
        "/meta/simulate-actions/0/data/verification-template-id"
    )


async def test_simulated_inquiry_no_longer_follows_its_scenario(harness: Harness) -> None:
    inquiry_id = await harness.create_id(note="sandbox-outcome=approved sandbox-after=60")
    await harness.simulate(inquiry_id, _action("start_inquiry"))
    harness.clock.advance(3_600)

    assert await harness.status(inquiry_id) == "pending"


async def test_simulated_pending_inquiry_still_expires(harness: Harness) -> None:
    inquiry_id = await harness.create_id(note="sandbox-outcome=approved sandbox-after=60")
    await harness.simulate(inquiry_id, _action("start_inquiry"))
    harness.clock.advance(86_401)

    assert await harness.status(inquiry_id) == "expired"
